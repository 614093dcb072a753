/*
 * fuse_drain: after the request loop has stopped (a signal) and before
 * the unmount, a thread that answers every request still arriving on
 * /dev/fuse with EIO.  Without it a request nobody reads keeps its pages
 * locked, and a thread of ours that waits on such a page in the kernel
 * (a prefill store, a watcher's invalidation) could never be joined.
 */
#ifndef FSBRIDGE_FUSE_DRAIN_H
#define FSBRIDGE_FUSE_DRAIN_H

struct fuse_drain;

/* Start answering on fd (the session's /dev/fuse); NULL if it cannot. */
struct fuse_drain *fuse_drain_start(int fd);
/* Stop and free it (NULL: nothing).  Returns how many it answered. */
unsigned long fuse_drain_stop(struct fuse_drain *d);

#endif
