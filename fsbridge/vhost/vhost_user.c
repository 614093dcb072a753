/*
 * vhost_user: the device's life cycle: creation (queues, eventfds, the
 * listening socket), the accept loop that serves one front-end connection
 * at a time (hanging up at once on a peer vu_peer.c does not allow),
 * resetting the connection state when a front-end goes away, and stopping.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vhost/vhost_user.h"
#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"

static void
queue_init(struct vu_dev *dev, struct vu_queue *q, unsigned index)
{
	memset(q, 0, sizeof(*q));
	q->dev = dev;
	q->kick_fd = -1;
	q->err_fd = -1;
	q->wake_fd = -1;
	vq_init(&q->vq, index, &dev->mem);
	vu_queue_worker_init(q);
}

/* Ring fds closed, worker stopped, ring setup forgotten. */
static void
queue_reset(struct vu_queue *q)
{
	vu_queue_stop(q);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->err_fd >= 0)
		close(q->err_fd);
	q->kick_fd = -1;
	q->err_fd = -1;
	q->enabled = false;
	vq_reset(&q->vq);
}

int
vu_dev_create(unsigned request_queues, vu_handler_fn handler, void *ctx,
	      struct vu_dev **out)
{
	struct vu_dev *dev;

	if (request_queues == 0 || request_queues > VU_MAX_REQUEST_QUEUES || handler == NULL)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return -ENOMEM;
	dev->handler = handler;
	dev->ctx = ctx;
	dev->nqueues = 1 + request_queues;
	dev->listen_fd = -1;
	dev->conn_fd = -1;
	vu_mem_init(&dev->mem);
	dev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->queues = calloc(dev->nqueues, sizeof(*dev->queues));
	if (dev->stop_fd < 0 || dev->queues == NULL) {
		free(dev->queues);
		if (dev->stop_fd >= 0)
			close(dev->stop_fd);
		free(dev);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < dev->nqueues; i++)
		queue_init(dev, &dev->queues[i], i);
	for (unsigned i = 0; i < dev->nqueues; i++) {
		dev->queues[i].wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev->queues[i].wake_fd < 0) {
			vu_dev_destroy(dev);
			return -EMFILE;
		}
	}
	*out = dev;
	return 0;
}

void
vu_conn_reset(struct vu_dev *dev)
{
	for (unsigned i = 0; i < dev->nqueues; i++)
		queue_reset(&dev->queues[i]);
	vu_mem_clear(&dev->mem);
	dev->features = 0;
	dev->protocol_features = 0;
	dev->features_acked = false;
	dev->owner = false;
}

void
vu_dev_destroy(struct vu_dev *dev)
{
	if (dev == NULL)
		return;
	if (dev->queues != NULL) {
		vu_conn_reset(dev);
		for (unsigned i = 0; i < dev->nqueues; i++) {
			vu_queue_worker_fini(&dev->queues[i]);
			vq_destroy(&dev->queues[i].vq);
			if (dev->queues[i].wake_fd >= 0)
				close(dev->queues[i].wake_fd);
		}
	}
	free(dev->queues);
	free(dev->allow_uids);
	if (dev->stop_fd >= 0)
		close(dev->stop_fd);
	free(dev);
}

int
vu_dev_new(const char *socket_path, unsigned request_queues, vu_handler_fn handler,
	   void *ctx, struct vu_dev **out)
{
	struct vu_dev *dev;
	int rc;

	rc = vu_dev_create(request_queues, handler, ctx, &dev);
	if (rc < 0)
		return rc;
	dev->socket_path = strdup(socket_path);
	if (dev->socket_path == NULL) {
		vu_dev_destroy(dev);
		return -ENOMEM;
	}
	rc = vu_listen_unix(socket_path, &dev->listen_fd);
	if (rc < 0) {
		free(dev->socket_path);
		vu_dev_destroy(dev);
		return rc;
	}
	*out = dev;
	return 0;
}

/* Handle messages until the front-end leaves, errs, or we are stopped. */
static void
serve_connection(struct vu_dev *dev, int conn_fd)
{
	int fds[VU_MSG_MAX_FDS];
	int nfds, rc;

	dev->conn_fd = conn_fd;
	for (;;) {
		rc = vu_read_msg(conn_fd, dev->stop_fd, &dev->msg, fds, &nfds);
		if (rc == 0) {
			vu_log("front-end disconnected");
			break;
		}
		if (rc == -ECANCELED)
			break;
		if (rc < 0) {
			vu_log("reading a message failed (%s); dropping the connection",
			       rc == -EMSGSIZE ? "payload larger than the limit" :
			       rc == -EPROTO ? "too many fds" : strerror(-rc));
			break;
		}
		if (vu_handle_message(dev, &dev->msg, fds, nfds) < 0)
			break;
	}
	vu_conn_reset(dev);
	dev->conn_fd = -1;
	close(conn_fd);
}

static bool
accept_error_is_transient(int err)
{
	return err == EINTR || err == EAGAIN || err == ECONNABORTED || err == EPROTO ||
	       err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

int
vu_dev_serve(struct vu_dev *dev, bool once)
{
	int conn, rc;

	if (dev->listen_fd < 0)
		return -EINVAL;
	for (;;) {
		rc = vu_wait_readable(dev->listen_fd, dev->stop_fd);
		if (rc == -ECANCELED)
			return 0;
		if (rc < 0)
			return rc;
		conn = accept4(dev->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (!accept_error_is_transient(errno))
				return -errno;
			if (errno == EMFILE || errno == ENFILE)
				nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
			continue;
		}
		if (!vu_peer_allowed(dev, conn)) {
			close(conn);
			continue;
		}
		vu_log("front-end connected");
		serve_connection(dev, conn);
		if (once)
			return 0;
	}
}

void
vu_dev_set_debug(struct vu_dev *dev, bool on)
{
	dev->debug = on;
}

void
vu_dev_set_poll(struct vu_dev *dev, unsigned usec)
{
	if (usec > VU_MAX_POLL_USEC)
		usec = VU_MAX_POLL_USEC;
	__atomic_store_n(&dev->poll_usec, usec, __ATOMIC_RELAXED);
}

void
vu_dev_stop(struct vu_dev *dev)
{
	static const uint64_t one = 1;

	if (write(dev->stop_fd, &one, sizeof(one)) < 0) {
		/* counter already non-zero: the stop is pending anyway */
	}
}

void
vu_dev_free(struct vu_dev *dev)
{
	if (dev == NULL)
		return;
	if (dev->listen_fd >= 0) {
		close(dev->listen_fd);
		unlink(dev->socket_path);
	}
	free(dev->socket_path);
	vu_dev_destroy(dev);
}
