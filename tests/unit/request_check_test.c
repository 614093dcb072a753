/*
 * request_check_test: unit tests of fuse_request_check, the guard between
 * a guest's FUSE requests and libfuse's parser: short bodies, counts and
 * sizes pointing past the request, and reply sizes a guest cannot take.
 * TAP.
 */
#include "config.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>

#include "fuse_request_check.h"
#include "tests/lib/tap.h"

static unsigned char buf[8192 + FUSE_REQUEST_PAD];

/* A request of opcode with a body of body_len bytes (zeroed). */
static struct fuse_in_header *
request(uint32_t opcode, size_t body_len)
{
	struct fuse_in_header *h = (void *)buf;

	memset(buf, 0, sizeof(buf));
	h->len = (uint32_t)(sizeof(*h) + body_len);
	h->opcode = opcode;
	h->unique = 7;
	h->nodeid = 1;
	return h;
}

static int
run(struct fuse_in_header *h, size_t room)
{
	const char *why;

	return fuse_request_check(buf, h->len, room, &why);
}

int
main(void)
{
	struct fuse_in_header *h;
	char *body;

	printf("1..16\n");
	h = request(FUSE_WRITE, sizeof(struct fuse_write_in) + 100);
	((struct fuse_write_in *)(h + 1))->size = 100;
	check(run(h, 4096) == 0, "a well-formed WRITE passes");
	h = request(FUSE_WRITE, 20);
	((uint32_t *)(h + 1))[4] = 0xffffffffu;	/* a size inside the short body */
	check(run(h, 4096) == -EINVAL, "a WRITE whose body is shorter than fuse_write_in is refused");
	h = request(FUSE_GETATTR, 0);
	check(run(h, 4096) == -EINVAL, "a GETATTR without its argument is refused");
	h = request(FUSE_LOOKUP, 2);
	check(run(h, 4096) == 0, "a LOOKUP with a name passes");
	h = request(FUSE_LOOKUP, 2);
	check(fuse_request_check(buf, h->len + 5, 4096, &(const char *){ NULL }) == -EINVAL,
	    "a length different from the header's is refused");

	h = request(FUSE_BATCH_FORGET, sizeof(struct fuse_batch_forget_in) + 2 * sizeof(struct fuse_forget_one));
	((struct fuse_batch_forget_in *)(h + 1))->count = 2;
	check(run(h, 4096) == 0, "BATCH_FORGET with 2 entries in its body passes");
	((struct fuse_batch_forget_in *)(h + 1))->count = 100000;
	check(run(h, 4096) == -EINVAL, "BATCH_FORGET claiming 100000 entries is refused");

	h = request(FUSE_SETXATTR, 8 + 7 + 5);
	body = (char *)(h + 1);
	((struct fuse_setxattr_in *)body)->size = 5;
	memcpy(body + 8, "user.x", 7);
	check(run(h, 4096) == 0, "SETXATTR with its value inside the body passes");
	((struct fuse_setxattr_in *)body)->size = 1u << 30;
	check(run(h, 4096) == -EINVAL, "SETXATTR whose value runs past the body is refused");
	h = request(FUSE_SETXATTR, 8 + 6);
	body = (char *)(h + 1);
	memcpy(body + 8, "user.x", 6);	/* no NUL inside the request */
	check(run(h, 4096) == -EINVAL, "SETXATTR with an unterminated name is refused");

	h = request(FUSE_READ, sizeof(struct fuse_read_in));
	((struct fuse_read_in *)(h + 1))->size = 1u << 30;
	check(run(h, 4096) == 0 && ((struct fuse_read_in *)(h + 1))->size == 4096 - sizeof(struct fuse_out_header),
	    "a READ of 1 GiB is clamped to what the reply buffers hold");
	h = request(FUSE_GETXATTR, sizeof(struct fuse_getxattr_in) + 7);
	((struct fuse_getxattr_in *)(h + 1))->size = 1u << 20;
	check(run(h, 256) == 0 && ((struct fuse_getxattr_in *)(h + 1))->size == 256 - sizeof(struct fuse_out_header),
	    "a GETXATTR size is clamped to the reply room");

	h = request(FUSE_INIT, 16);
	((struct fuse_init_in *)(h + 1))->major = 7;
	((struct fuse_init_in *)(h + 1))->minor = 31;
	check(run(h, 4096) == 0, "an INIT of protocol 7.31 with 16 bytes passes");
	((struct fuse_init_in *)(h + 1))->minor = 38;
	check(run(h, 4096) == -EINVAL, "an INIT of 7.38 without flags2 is refused");
	h = request(FUSE_NOTIFY_REPLY, 64);
	check(run(h, 4096) == -EINVAL, "a NOTIFY_REPLY nobody asked for is refused");
	h = request(9999, 0);
	check(run(h, 4096) == 0, "an unknown opcode passes on (libfuse answers ENOSYS)");
	return tap_failures != 0;
}
