/*
 * fuse_killpriv: negotiate FUSE_HANDLE_KILLPRIV_V2 behind libfuse 3.14's
 * back and decode the flags that go with it.
 *
 * Without the feature a client kernel asks the server for a file's
 * security.capability before every write(2) to it (it must know whether
 * to remove privileges) and clears setuid/setgid itself with a SETATTR.
 * With it, the kernel asks once per inode and leaves the clearing to the
 * server: WRITE carries FUSE_WRITE_KILL_SUIDGID, SETATTR
 * FATTR_KILL_SUIDGID, OPEN and CREATE FUSE_OPEN_KILL_SUIDGID, when the
 * writer lacks CAP_FSETID (or for a chown).  core/fs_file.c clears the bits
 * (fs_kill_suidgid); security.capability goes with any write on the host
 * anyway.  Requests reach these functions already checked for length;
 * they still check it themselves.
 */
#include "config.h"

#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>

#include "fuse_killpriv.h"

bool
fuse_killpriv_init_offered(const void *req, size_t len)
{
	struct fuse_in_header h;
	uint32_t major, flags;

	if (len < sizeof(h) + 16)	/* major, minor, max_readahead, flags */
		return false;
	memcpy(&h, req, sizeof(h));
	if (h.opcode != FUSE_INIT)
		return false;
	memcpy(&major, (const char *)req + sizeof(h), sizeof(major));
	memcpy(&flags, (const char *)req + sizeof(h) + 12, sizeof(flags));
	return major == FUSE_KERNEL_VERSION && (flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
}

/* The 32-bit field at offset `at` of the request's argument struct of
 * `size` bytes, or 0 if the request is too short for the struct. */
static uint32_t
fuse_killpriv_arg_u32(const void *req, size_t len, size_t size, size_t at)
{
	uint32_t v;

	if (len < sizeof(struct fuse_in_header) + size)
		return 0;
	memcpy(&v, (const char *)req + sizeof(struct fuse_in_header) + at, sizeof(v));
	return v;
}

bool
fuse_killpriv_request_kills(const void *req, size_t len)
{
	struct fuse_in_header h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, req, sizeof(h));
	switch (h.opcode) {
	case FUSE_WRITE:
		return fuse_killpriv_arg_u32(req, len, sizeof(struct fuse_write_in),
		    offsetof(struct fuse_write_in, write_flags)) & FUSE_WRITE_KILL_SUIDGID;
	case FUSE_SETATTR:
		return fuse_killpriv_arg_u32(req, len, sizeof(struct fuse_setattr_in),
		    offsetof(struct fuse_setattr_in, valid)) & FATTR_KILL_SUIDGID;
	case FUSE_OPEN:
		return fuse_killpriv_arg_u32(req, len, sizeof(struct fuse_open_in),
		    offsetof(struct fuse_open_in, open_flags)) & FUSE_OPEN_KILL_SUIDGID;
	case FUSE_CREATE:
		return fuse_killpriv_arg_u32(req, len, sizeof(struct fuse_create_in),
		    offsetof(struct fuse_create_in, open_flags)) & FUSE_OPEN_KILL_SUIDGID;
	default:
		return false;
	}
}

int
fuse_killpriv_patch_init_reply(void *reply, size_t len)
{
	struct fuse_out_header oh;
	size_t at = sizeof(oh) + offsetof(struct fuse_init_out, flags);
	uint32_t flags;

	if (len < at + sizeof(flags))
		return -1;
	memcpy(&oh, reply, sizeof(oh));
	if (oh.error != 0 || oh.len != len)
		return -1;
	memcpy(&flags, (char *)reply + at, sizeof(flags));
	flags |= FUSE_HANDLE_KILLPRIV_V2;
	memcpy((char *)reply + at, &flags, sizeof(flags));
	return 0;
}

ssize_t
fuse_killpriv_init_reply(const struct iovec *iov, int count, void *buf, size_t size)
{
	size_t len = 0;
	int i;

	for (i = 0; i < count; i++) {
		if (iov[i].iov_len > size - len)
			return -1;
		memcpy((char *)buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return fuse_killpriv_patch_init_reply(buf, len) == 0 ? (ssize_t)len : -1;
}
