/*
 * fuse_request_check: the checks a FUSE request from a guest must pass
 * before libfuse parses it.
 *
 * libfuse trusts the kernel: it casts a request's body to the opcode's
 * argument struct and takes counts and sizes from it.  A guest is not the
 * kernel, so its requests are checked here first: the body must hold the
 * opcode's whole argument struct, a BATCH_FORGET's count must fit the
 * body, a SETXATTR's value must lie inside the body, and sizes a reply
 * would be built from (READ, READDIR, GETXATTR, ...) are clamped to what
 * the guest's reply buffers can take (so no request makes the server
 * allocate more than that).  Names are bounded because the caller keeps
 * NUL bytes after the request (FUSE_REQUEST_PAD).
 */
#include "config.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>

#include "fuse_request_check.h"

/* The size of the argument struct each opcode's body starts with. */
static size_t
fuse_request_arg_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_FORGET: return sizeof(struct fuse_forget_in);
	case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
	case FUSE_SETATTR: return sizeof(struct fuse_setattr_in);
	case FUSE_MKNOD: return sizeof(struct fuse_mknod_in);
	case FUSE_MKDIR: return sizeof(struct fuse_mkdir_in);
	case FUSE_RENAME: return sizeof(struct fuse_rename_in);
	case FUSE_RENAME2: return sizeof(struct fuse_rename2_in);
	case FUSE_LINK: return sizeof(struct fuse_link_in);
	case FUSE_OPEN:
	case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
	case FUSE_CREATE: return sizeof(struct fuse_create_in);
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS: return sizeof(struct fuse_read_in);
	case FUSE_WRITE: return sizeof(struct fuse_write_in);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR: return sizeof(struct fuse_release_in);
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR: return sizeof(struct fuse_fsync_in);
	case FUSE_SETXATTR: return 8;	/* the struct without setxattr_ext */
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR: return sizeof(struct fuse_getxattr_in);
	case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
	case FUSE_INIT: return 16;	/* major, minor, max_readahead, flags */
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW: return sizeof(struct fuse_lk_in);
	case FUSE_ACCESS: return sizeof(struct fuse_access_in);
	case FUSE_INTERRUPT: return sizeof(struct fuse_interrupt_in);
	case FUSE_BMAP: return sizeof(struct fuse_bmap_in);
	case FUSE_IOCTL: return sizeof(struct fuse_ioctl_in);
	case FUSE_POLL: return sizeof(struct fuse_poll_in);
	case FUSE_BATCH_FORGET: return sizeof(struct fuse_batch_forget_in);
	case FUSE_FALLOCATE: return sizeof(struct fuse_fallocate_in);
	case FUSE_LSEEK: return sizeof(struct fuse_lseek_in);
	case FUSE_COPY_FILE_RANGE: return sizeof(struct fuse_copy_file_range_in);
	default: return 0;
	}
}

static void
clamp_u32(uint32_t *v, size_t max)
{
	if (*v > max)
		*v = (uint32_t)max;
}

int
fuse_request_check(void *buf, size_t len, size_t reply_room, const char **why)
{
	struct fuse_in_header *h = buf;
	char *body = (char *)buf + sizeof(*h);
	size_t body_len, need, room;

	*why = NULL;
	if (len < sizeof(*h) || h->len != len) {
		*why = "length does not match the header";
		return -EINVAL;
	}
	body_len = len - sizeof(*h);
	need = fuse_request_arg_size(h->opcode);
	if (body_len < need) {
		*why = "body shorter than the opcode's arguments";
		return -EINVAL;
	}
	room = reply_room > sizeof(struct fuse_out_header) ?
	    reply_room - sizeof(struct fuse_out_header) : 0;
	switch (h->opcode) {
	case FUSE_NOTIFY_REPLY:
		*why = "NOTIFY_REPLY to a retrieve never asked for";
		return -EINVAL;
	case FUSE_INIT:
		if (((struct fuse_init_in *)body)->minor >= 36 && body_len < sizeof(struct fuse_init_in)) {
			*why = "INIT shorter than its protocol version's arguments";
			return -EINVAL;
		}
		break;
	case FUSE_BATCH_FORGET: {
		const struct fuse_batch_forget_in *b = (const void *)body;

		if (b->count > (body_len - need) / sizeof(struct fuse_forget_one)) {
			*why = "BATCH_FORGET count beyond its body";
			return -EINVAL;
		}
		break;
	}
	case FUSE_SETXATTR: {
		const struct fuse_setxattr_in *x = (const void *)body;
		size_t name_room = body_len - need;
		size_t name_len = strnlen(body + need, name_room);

		if (name_len == name_room || x->size > name_room - name_len - 1) {
			*why = "SETXATTR value beyond its body";
			return -EINVAL;
		}
		break;
	}
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		clamp_u32(&((struct fuse_read_in *)body)->size, room);
		break;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		clamp_u32(&((struct fuse_getxattr_in *)body)->size, room);
		break;
	default:
		break;
	}
	return 0;
}
