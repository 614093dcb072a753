/*
 * fuse_killpriv: FUSE_HANDLE_KILLPRIV_V2 for libfuse 3.14, which knows
 * neither the feature nor its request flags.  A transport that sees each
 * raw request and reply offers the feature in the INIT reply and tells
 * the ops (fs_request_kill_suidgid) which requests ask the server to
 * clear setuid/setgid.  See fuse_killpriv.c.
 */
#ifndef FSBRIDGE_FUSE_KILLPRIV_H
#define FSBRIDGE_FUSE_KILLPRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* req (len bytes, a whole request) is an INIT whose client offers
 * FUSE_HANDLE_KILLPRIV_V2. */
bool fuse_killpriv_init_offered(const void *req, size_t len);

/* req is a WRITE, SETATTR, OPEN or CREATE carrying its kill flag. */
bool fuse_killpriv_request_kills(const void *req, size_t len);

/* Add FUSE_HANDLE_KILLPRIV_V2 to a successful INIT reply held whole in
 * reply (len bytes); -1 (reply untouched) if it is not one. */
int fuse_killpriv_patch_init_reply(void *reply, size_t len);

/* The same for a reply in iov (count parts, as a session's writev gets
 * it), gathered into buf (size bytes): the reply's length, or -1 if it
 * is not a successful INIT reply that fits. */
ssize_t fuse_killpriv_init_reply(const struct iovec *iov, int count, void *buf, size_t size);

#endif
