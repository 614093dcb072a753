/*
 * transport_vhost: the guest transport.  `fsbridge serve` is a
 * vhost-user-fs device (fsbridge/vhost/): each FUSE request a guest puts
 * in a virtqueue is copied out of guest memory, checked for a sane
 * header, and handed to the same libfuse session and ops table as the
 * host mount (fuse_session_process_buf).  The reply comes back through
 * the session's custom I/O and is written into the request's own
 * descriptor chain.  Each guest connection gets a fresh session and
 * inode table: node ids from one guest mean nothing to the next.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "share.h"
#include "share_source.h"
#include "fuse_killpriv.h"
#include "fuse_request_check.h"
#include "log.h"
#include "serve_opts.h"
#include "vhost/vhost_user.h"
#include "vhost/virtqueue.h"

/* The request being handled on this worker thread, for the custom I/O
 * writev that carries its reply. */
struct vhost_reply {
	const struct vu_chain *chain;
	size_t written;
	bool init_killpriv;	/* an INIT offering FUSE_HANDLE_KILLPRIV_V2 */
};

static __thread struct vhost_reply *vhost_current;
static __thread char *vhost_reqbuf;

struct vhost_transport {
	struct share *sh;
	struct fuse_session *se;
	struct vu_dev *dev;
};

static struct vu_dev *vhost_stop_dev;
static volatile sig_atomic_t vhost_stopping;

/* Copy an iovec list into buf (at most len bytes); returns bytes copied. */
static size_t
vhost_gather(char *buf, size_t len, const struct iovec *iov, unsigned n)
{
	size_t done = 0;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		size_t part = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(buf + done, iov[i].iov_base, part);
		done += part;
	}
	return done;
}

/* Scatter a reply into the chain's writable buffers; returns bytes written. */
static size_t
vhost_scatter(const struct vu_chain *chain, const struct iovec *iov, int count)
{
	size_t written = 0;
	unsigned dst = 0;
	size_t dst_off = 0;
	int i;

	for (i = 0; i < count; i++) {
		const char *src = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left > 0 && dst < chain->in_num) {
			size_t room = chain->in[dst].iov_len - dst_off;
			size_t part = left < room ? left : room;

			memcpy((char *)chain->in[dst].iov_base + dst_off, src, part);
			src += part;
			left -= part;
			written += part;
			dst_off += part;
			if (dst_off == chain->in[dst].iov_len) {
				dst++;
				dst_off = 0;
			}
		}
	}
	return written;
}

/* A successful INIT reply with FUSE_HANDLE_KILLPRIV_V2 added
 * (fuse_killpriv.c); -1 if it is not one. */
static ssize_t
vhost_init_reply_killpriv(struct vhost_reply *r, const struct iovec *iov, int count)
{
	char reply[sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out)];
	struct iovec one;
	ssize_t len;

	len = fuse_killpriv_init_reply(iov, count, reply, sizeof(reply));
	if (len < 0)
		return -1;
	one.iov_base = reply;
	one.iov_len = (size_t)len;
	r->written = vhost_scatter(r->chain, &one, 1);
	return len;
}

static ssize_t
vhost_io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct vhost_reply *r = vhost_current;
	size_t total = 0;
	ssize_t n;
	int i;

	for (i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (r == NULL)
		return (ssize_t)total;	/* a notification: a guest cannot take one */
	if (total > r->chain->in_len) {
		log_warn("vhost: reply of %zu bytes does not fit the guest's %zu: dropped",
		    total, r->chain->in_len);
		return -1;
	}
	if (r->init_killpriv && (n = vhost_init_reply_killpriv(r, iov, count)) >= 0)
		return n;
	r->written = vhost_scatter(r->chain, iov, count);
	return (ssize_t)total;
}

static ssize_t
vhost_io_read(int fd, void *buf, size_t len, void *userdata)
{
	errno = ENOTSUP;	/* requests come from the virtqueues, never read */
	return -1;
}

static const struct fuse_custom_io vhost_io = {
	.writev = vhost_io_writev,
	.read = vhost_io_read,
};

static size_t
vhost_handle(void *ctx, unsigned queue_index, const struct vu_chain *chain)
{
	struct vhost_transport *t = ctx;
	struct fuse_in_header hdr;
	struct vhost_reply reply = { .chain = chain };
	struct fuse_buf fbuf = { 0 };
	const char *why;
	size_t len;

	if (vhost_reqbuf == NULL &&
	    (vhost_reqbuf = malloc(VQ_MAX_CHAIN_BYTES + FUSE_REQUEST_PAD)) == NULL)
		return 0;
	len = vhost_gather(vhost_reqbuf, VQ_MAX_CHAIN_BYTES, chain->out, chain->out_num);
	/* from here on only our copy is read: the guest cannot change it */
	if (len < sizeof(hdr)) {
		log_warn("vhost: queue %u: request of %zu bytes has no header: dropped", queue_index, len);
		return 0;
	}
	memcpy(&hdr, vhost_reqbuf, sizeof(hdr));
	if (hdr.len < sizeof(hdr) || hdr.len > len) {
		log_warn("vhost: queue %u: request length %u does not match its %zu bytes: dropped",
		    queue_index, hdr.len, len);
		return 0;
	}
	len = hdr.len;
	memset(vhost_reqbuf + len, 0, FUSE_REQUEST_PAD);
	if (fuse_request_check(vhost_reqbuf, len, chain->in_len, &why) != 0) {
		log_warn("vhost: queue %u: opcode %u: %s: dropped", queue_index, hdr.opcode, why);
		return 0;
	}
	fbuf.mem = vhost_reqbuf;
	fbuf.size = len;
	reply.init_killpriv = fuse_killpriv_init_offered(vhost_reqbuf, len);
	fs_request_kill_suidgid = fuse_killpriv_request_kills(vhost_reqbuf, len);
	vhost_current = &reply;
	fuse_session_process_buf(t->se, &fbuf);
	vhost_current = NULL;
	fs_request_kill_suidgid = false;
	return reply.written;
}

static void
vhost_on_signal(int sig)
{
	vhost_stopping = 1;
	if (vhost_stop_dev != NULL)
		vu_dev_stop(vhost_stop_dev);
}

/* A fresh share and session for one guest connection. */
static int
vhost_session_open(struct vhost_transport *t, const struct serve_opts *so)
{
	struct share_client client = { .kind = SHARE_CLIENT_GUEST };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct backend *backend;
	int rc, fd;

	rc = share_source_open(&so->share.src, so->share.fd_cache, 0, &backend);
	if (rc != 0)
		return rc;
	t->sh = calloc(1, sizeof(*t->sh));
	if (t->sh == NULL || (rc = share_init(t->sh, &so->share.policy, backend)) != 0) {
		backend->ops->destroy(backend);
		free(t->sh);
		t->sh = NULL;
		return rc != 0 ? rc : -ENOMEM;
	}
	client.revalidate = so->share.revalidate;
	client.hint_fd = so->hints_fd;
	share_set_client(t->sh, &client);
	if (fuse_opt_add_arg(&args, "fsbridge") != 0 ||
	    (so->share.debug && fuse_opt_add_arg(&args, "-d") != 0))
		rc = -ENOMEM;
	t->se = rc == 0 ? fuse_session_new(&args, &fs_ops, sizeof(fs_ops), t->sh) : NULL;
	fuse_opt_free_args(&args);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);	/* the session wants an fd */
	if (t->se == NULL || fd < 0 || fuse_session_custom_io(t->se, &vhost_io, fd) != 0) {
		if (fd >= 0)
			close(fd);
		if (t->se != NULL)
			fuse_session_destroy(t->se);
		t->se = NULL;
		share_destroy(t->sh);
		free(t->sh);
		t->sh = NULL;
		return -EIO;
	}
	/* no host watcher unless someone reads hints (fs_hint.c): no
	 * notification reaches a guest, and what a watcher would record
	 * decides nothing else here (timeouts are the revalidate= fallback
	 * without a session, keep-cache compares mtime and size); a fanotify
	 * mark would wake the server for every change anyone makes on the
	 * whole host filesystem.  With hints, the guest's agent is the
	 * session: covered entries get the long timeouts. */
	if (t->sh->hint_fd >= 0 && fs_watch_start(t->sh, so->share.watch, NULL) != 0)
		t->sh->hint_fd = -1;
	return 0;
}

static void
vhost_session_close(struct vhost_transport *t)
{
	if (t->se != NULL)
		fuse_session_destroy(t->se);
	if (t->sh != NULL) {
		share_destroy(t->sh);
		free(t->sh);
	}
	t->se = NULL;
	t->sh = NULL;
}

/* Why the socket could not be made, and what to do. */
static const char *
vhost_socket_error(int rc)
{
	switch (rc) {
	case -EEXIST:
		return "something that is not a socket is there; not replacing it "
		    "(remove it or choose another --socket path)";
	case -EPERM:
		return "a socket of another user is there; not replacing it "
		    "(choose another --socket path)";
	case -EADDRINUSE:
		return "a server is listening there already (stop it or choose "
		    "another --socket path)";
	default:
		return strerror(-rc);
	}
}

int
transport_vhost_run(const struct serve_opts *so)
{
	struct vhost_transport t = { 0 };
	struct sigaction sa;
	int rc;

	rc = vu_dev_new(so->socket, so->queues, vhost_handle, &t, &t.dev);
	if (rc != 0) {
		log_error("socket %s: %s", so->socket, vhost_socket_error(rc));
		return EXIT_FAILURE_RUN;
	}
	rc = vu_dev_allow_uids(t.dev, so->allow_uids, so->nallow);
	if (rc != 0) {
		log_error("socket %s: cannot open it to --allow-uid users: %s", so->socket,
		    strerror(-rc));
		vu_dev_free(t.dev);
		return EXIT_FAILURE_RUN;
	}
	vu_dev_set_poll(t.dev, so->poll_usec);
	vhost_stop_dev = t.dev;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vhost_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("serving %s on %s (%u request queue%s)", so->share.src.path, so->socket,
	    so->queues, so->queues == 1 ? "" : "s");
	for (;;) {
		rc = vhost_session_open(&t, so);
		if (rc != 0) {
			log_error("source %s: %s", so->share.src.path, strerror(-rc));
			rc = EXIT_FAILURE_RUN;
			break;
		}
		rc = vu_dev_serve(t.dev, true);
		vhost_session_close(&t);
		if (rc != 0 || so->once || vhost_stopping) {
			rc = rc != 0 ? EXIT_FAILURE_RUN : EXIT_OK;
			break;
		}
	}
	vhost_stop_dev = NULL;
	vu_dev_free(t.dev);
	return rc;
}
