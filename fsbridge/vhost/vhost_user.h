/*
 * vhost_user: the vhost-user-fs device backend seen from the program.  It
 * listens on a Unix socket, serves one front-end (QEMU) connection at a
 * time, and runs one worker thread per virtqueue (queue 0 = hiprio, 1..N =
 * request queues).  Each worker pops descriptor chains and hands them to
 * the handler, which reads the request from chain->out and writes its
 * reply into chain->in.
 *
 * Threads: a queue's worker is made when its ring first starts and lives
 * until vu_dev_free(), parked while the ring is stopped; so the handler
 * runs on at most 1 + request_queues threads over the device's whole life
 * (thread-local state in the handler is allocated once per queue), one
 * call at a time per queue, concurrently across queues.  vu_dev_serve()
 * itself runs the vhost-user messages on the calling thread.
 */
#ifndef FSBRIDGE_VHOST_VHOST_USER_H
#define FSBRIDGE_VHOST_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Request queues one device may have (each gets a thread). */
#define VU_MAX_REQUEST_QUEUES	64

struct vu_dev;

/*
 * One request: out = buffers readable by us (the request), in = buffers
 * writable by us (the reply).  out parts come before in parts in the
 * chain; zero-length descriptors are left out.  out_len/in_len are the
 * totals; both are at most VQ_MAX_CHAIN_BYTES together.
 */
struct vu_chain {
	struct iovec *out;
	unsigned out_num;
	struct iovec *in;
	unsigned in_num;
	size_t out_len, in_len;
};

/*
 * Called on queue queue_index's worker thread; returns the number of bytes
 * written at the start of chain->in (0 = no reply: the chain still goes
 * back to the guest, with length 0).  Values above in_len are clamped.
 * The buffers are guest memory: the guest can change them while the
 * handler runs, so copy what must stay stable before checking it.  The
 * chain and its iovecs are valid only during the call.  The handler must
 * return: stopping a ring (front-end request, disconnect, vu_dev_stop)
 * waits for the call in progress.
 */
typedef size_t (*vu_handler_fn)(void *ctx, unsigned queue_index,
				const struct vu_chain *chain);

/*
 * Create the socket at socket_path, mode 0600 from the start, for a device
 * with request_queues request queues (1..VU_MAX_REQUEST_QUEUES).  What is
 * at socket_path already: a stale socket of our own uid is replaced; a
 * live one is refused with -EADDRINUSE, another user's socket with
 * -EPERM, anything that is not a socket with -EEXIST (left alone).
 * Only a peer with our uid or root's is served as the front-end.
 */
int vu_dev_new(const char *socket_path, unsigned request_queues,
	       vu_handler_fn handler, void *ctx, struct vu_dev **out);
/*
 * Also serve front-ends running as uids[0..n): the socket becomes 0666 so
 * that they can connect, and every other peer is still refused (logged,
 * connection closed) when it does.  0 or -errno.
 */
int vu_dev_allow_uids(struct vu_dev *dev, const uid_t *uids, size_t n);
/*
 * Accept and serve front-end connections one after the other until
 * vu_dev_stop(); with once, return after the first connection ends.
 * 0, or -errno when the listening socket fails.
 */
int vu_dev_serve(struct vu_dev *dev, bool once);
/* Log every vhost-user message received (for debugging a front-end). */
void vu_dev_set_debug(struct vu_dev *dev, bool on);
/*
 * Let each request queue's worker, once its ring is empty, watch the ring
 * for up to usec microseconds (at most VU_MAX_POLL_USEC) with the driver's
 * kicks suppressed before it sleeps: a request that comes within that time
 * costs the guest no kick and us no wake-up, for at most usec of CPU per
 * pause.  0 (the default) sleeps at once.  Any time, any thread: a worker
 * takes the new value when it next wakes.
 */
#define VU_MAX_POLL_USEC	1000000u
void vu_dev_set_poll(struct vu_dev *dev, unsigned usec);
/* Make vu_dev_serve return soon.  Async-signal-safe; any thread. */
void vu_dev_stop(struct vu_dev *dev);
/* Close the socket and remove its path.  Not while vu_dev_serve runs. */
void vu_dev_free(struct vu_dev *dev);

#endif
