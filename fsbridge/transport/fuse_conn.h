/*
 * fuse_conn: a mount's FUSE connection as the kernel's fusectl file
 * system names it (/sys/fs/fuse/connections/N), found from
 * /proc/self/mountinfo, and aborting it: every request in flight then
 * fails, which is the only thing that frees a thread of ours waiting in
 * the kernel on a request nobody will serve any more.
 */
#ifndef FSBRIDGE_FUSE_CONN_H
#define FSBRIDGE_FUSE_CONN_H

/* The connection number of the FUSE mount at mnt (the minor of its
 * device), or -errno. */
long fuse_conn_of(const char *mnt);

/* Abort connection conn: 0 or -errno (no fusectl, not ours). */
int fuse_conn_abort(long conn);

#endif
