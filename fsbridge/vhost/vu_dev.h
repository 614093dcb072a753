/*
 * vu_dev: the device's internal state shared by the transport's pieces:
 * the message dispatcher (vu_dispatch.c), the queue workers (vu_worker.c),
 * the socket I/O (vu_socket.c) and the public entry points (vhost_user.c).
 * Not for users of the transport; the tests and fuzz targets include it
 * to drive the dispatcher without a socket.
 */
#ifndef FSBRIDGE_VHOST_VU_DEV_H
#define FSBRIDGE_VHOST_VU_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vhost/vhost_user.h"
#include "vhost/virtqueue.h"
#include "vhost/vu_memory.h"
#include "vhost/vu_protocol.h"

/* What we offer in GET_FEATURES and GET_PROTOCOL_FEATURES. */
#define VU_OFFERED_FEATURES \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
#define VU_OFFERED_PROTOCOL_FEATURES \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))

/*
 * A queue and its worker.  The worker thread is created the first time the
 * ring starts and lives as long as the device, parked while the ring is
 * stopped: a device never has more than nqueues threads, and a handler's
 * per-thread state survives ring restarts.
 */
struct vu_queue {
	struct virtqueue vq;
	struct vu_dev *dev;
	int kick_fd;		/* -1: ring stopped */
	int err_fd;		/* -1: none */
	bool enabled;		/* SET_VRING_ENABLE */
	bool running;		/* main thread's view: the worker serves the ring */
	bool stop;		/* worker: leave the ring soon (atomic access) */
	int wake_fd;		/* eventfd that interrupts the worker's poll */

	bool thread_made;
	pthread_t thread;
	pthread_mutex_t lock;	/* protects the four fields below */
	pthread_cond_t cond;
	unsigned run_gen;	/* bumped for each start */
	unsigned done_gen;	/* the last start the worker took up */
	bool active;		/* the worker is serving the ring */
	bool exiting;		/* the device goes away: the thread ends */
};

struct vu_dev {
	vu_handler_fn handler;
	void *ctx;
	unsigned nqueues;	/* 1 (hiprio) + request queues */
	bool threadless;	/* fuzzing: queues are never started */
	bool debug;		/* log every message */
	unsigned poll_usec;	/* request queues spin this long before sleeping (atomic access) */

	char *socket_path;	/* NULL when created without a socket */
	int listen_fd;
	int stop_fd;		/* eventfd written by vu_dev_stop */
	int conn_fd;		/* current front-end, or -1 */
	uid_t *allow_uids;	/* front-ends let in besides us and root */
	size_t nallow;

	/* state of the current connection */
	uint64_t features;		/* acked with SET_FEATURES */
	uint64_t protocol_features;	/* acked with SET_PROTOCOL_FEATURES */
	bool features_acked;
	bool owner;
	struct vu_memory mem;
	struct vu_queue *queues;	/* nqueues of them */

	struct vu_msg msg;		/* receive buffer */
};

/* A device without a socket (vu_dev_new adds the socket). */
int vu_dev_create(unsigned request_queues, vu_handler_fn handler, void *ctx,
		  struct vu_dev **out);
void vu_dev_destroy(struct vu_dev *dev);

/*
 * Handle one message.  fds[0..nfds) are the ancillary fds that came with
 * it: all of them are kept or closed here, whatever the outcome.  Replies
 * go to dev->conn_fd.  0, or -errno: the connection must be dropped.
 */
int vu_handle_message(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds);
/* Forget the connection: stop workers, unmap memory, close ring fds. */
void vu_conn_reset(struct vu_dev *dev);

/* Worker life: set up with the queue, ended (thread joined) with the device. */
void vu_queue_worker_init(struct vu_queue *q);
void vu_queue_worker_fini(struct vu_queue *q);
/* Start or stop q's worker so that it runs exactly when the ring can. */
int vu_queue_update(struct vu_queue *q);
/* Stop q's worker (waits for the request in hand to finish). */
void vu_queue_stop(struct vu_queue *q);

/* Socket I/O (vu_socket.c). */
int vu_send_reply(struct vu_dev *dev, uint32_t request, const void *payload, uint32_t size);
/* 1: a message, 0: orderly EOF, -ECANCELED: stop_fd fired, other -errno: error. */
int vu_read_msg(int conn_fd, int stop_fd, struct vu_msg *msg, int *fds, int *nfds);
/* Listen at path, created 0600 (see vu_dev_new for what is at path already). */
int vu_listen_unix(const char *path, int *out_fd);
/* Poll fd for input, giving up with -ECANCELED when stop_fd is readable. */
int vu_wait_readable(int fd, int stop_fd);

void vu_close_fds(int *fds, int nfds);

/* May the peer of conn_fd be the front-end (vu_peer.c)?  Logs a refusal. */
bool vu_peer_allowed(struct vu_dev *dev, int conn_fd);

#endif
