/*
 * fuse_passthrough: FUSE passthrough (Linux 6.9+) for the host mount,
 * below libfuse 3.14, which knows nothing of it: the INIT flag, the
 * backing files registered on /dev/fuse, and the open replies that name
 * one.  The kernel then reads, writes and maps such an open file on the
 * host file itself, without a request to the server.  Which opens get it
 * is the core's decision (core/fs_passthrough.c).  See fuse_passthrough.c.
 */
#ifndef FSBRIDGE_FUSE_PASSTHROUGH_H
#define FSBRIDGE_FUSE_PASSTHROUGH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* 0 if this kernel and process can use passthrough, else -errno and
 * *why: one line saying what is missing. */
int fuse_passthrough_probe(const char **why);

/* req (len bytes) is an INIT whose kernel offers FUSE_PASSTHROUGH. */
bool fuse_passthrough_init_offered(const void *req, size_t len);

/* Accept FUSE_PASSTHROUGH in a successful INIT reply held whole in reply
 * (len bytes), backing files one level deep.  0, or -errno with the reply
 * untouched (not one, or it asks for the writeback cache, which the
 * kernel does not combine with passthrough). */
int fuse_passthrough_init_reply(void *reply, size_t len);

/* Register the open host file fd as a backing file on the mount's
 * /dev/fuse devfd: its id (> 0), or -errno.  The kernel keeps the
 * caller's credentials for the I/O it will do; they go without
 * CAP_FSETID, so a write through it clears setuid/setgid as an ordinary
 * writer's would. */
int fuse_passthrough_backing_open(int devfd, int fd);
void fuse_passthrough_backing_close(int devfd, int id);

/* The next reply this thread sends (an OPEN or CREATE reply) names the
 * backing file id. */
void fuse_passthrough_reply_with(int id);

/* The session's writev, before anything else: patch the reply in iov
 * (count parts) if this thread was told to (the open struct is the
 * reply's last 16 bytes); the telling is used up either way. */
void fuse_passthrough_patch_reply(struct iovec *iov, int count);

#endif
