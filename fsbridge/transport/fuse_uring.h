/*
 * fuse_uring: the host mount's requests served over io_uring rings
 * (FUSE over io_uring, Linux 6.14+) instead of read/write on /dev/fuse.
 * The INIT exchange, FORGET, INTERRUPT and notifications stay on
 * /dev/fuse (transport_fuse.c); every other request reaches the same
 * libfuse session through a ring entry, one thread and ring per CPU
 * queue.  See fuse_uring.c.
 */
#ifndef FSBRIDGE_FUSE_URING_H
#define FSBRIDGE_FUSE_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fuse_session;
struct fuse_uring;

/* 0 if this kernel and process can serve a mount over io_uring, else
 * -errno and *why: one line saying what is missing and how to get it. */
int fuse_uring_probe(const char **why);

/* Rings for the session whose /dev/fuse is devfd, one per possible CPU,
 * made before INIT so that a failure can still leave io_uring out. */
int fuse_uring_new(struct fuse_session *se, int devfd, struct fuse_uring **out);

/* req (len bytes) is an INIT whose kernel offers FUSE_OVER_IO_URING. */
bool fuse_uring_init_offered(const void *req, size_t len);

/*
 * A successful INIT reply held whole in reply (len bytes): size the ring
 * entries from its max_write/max_pages, start the queue threads (waiting)
 * and add FUSE_OVER_IO_URING.  0, or -errno with the reply untouched.
 * Once the reply is written: fuse_uring_go() (the threads register their
 * entries) or, if it could not be, fuse_uring_free().
 */
int fuse_uring_init_reply(struct fuse_uring *r, void *reply, size_t len);
void fuse_uring_go(struct fuse_uring *r);

/* The session's writev: a reply to the ring request this thread is
 * handling is put into its ring entry (returns its length); anything
 * else (notifications, replies to /dev/fuse requests) -1. */
ssize_t fuse_uring_reply(const struct iovec *iov, int count);

/* Stop the queue threads (they also end by themselves when the kernel
 * ends the connection), log what they served, free everything. */
void fuse_uring_free(struct fuse_uring *r);

#endif
