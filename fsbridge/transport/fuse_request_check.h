/*
 * fuse_request_check: make a FUSE request from an untrusted client
 * (a guest) safe to hand to libfuse.  See fuse_request_check.c.
 */
#ifndef FSBRIDGE_FUSE_REQUEST_CHECK_H
#define FSBRIDGE_FUSE_REQUEST_CHECK_H

#include <stddef.h>

/* Zero bytes the caller keeps after a request, so that names in it end
 * inside the buffer whatever the client sent. */
#define FUSE_REQUEST_PAD 16

/*
 * buf holds one request of len bytes followed by FUSE_REQUEST_PAD zero
 * bytes; reply_room is the most the client can take back.  Returns 0
 * (sizes may have been clamped in place) or -EINVAL with *why saying
 * what was wrong.
 */
int fuse_request_check(void *buf, size_t len, size_t reply_room, const char **why);

#endif
