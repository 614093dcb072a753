/*
 * killpriv_test: unit tests of fuse_killpriv, which negotiates
 * FUSE_HANDLE_KILLPRIV_V2 behind libfuse's back: which INITs offer it,
 * which requests carry their kill flag (and short ones never do), and
 * which INIT replies get the flag added.  TAP.
 */
#include "config.h"

#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "fuse_killpriv.h"
#include "tests/lib/tap.h"

static unsigned char buf[4096];

/* A request of opcode whose argument struct (arg_len bytes) is copied
 * from arg; returns its length. */
static size_t
request(uint32_t opcode, const void *arg, size_t arg_len)
{
	struct fuse_in_header h = { .opcode = opcode, .unique = 3, .nodeid = 1 };

	memset(buf, 0, sizeof(buf));
	h.len = (uint32_t)(sizeof(h) + arg_len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), arg, arg_len);
	return h.len;
}

static void
test_init(void)
{
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = 36 };
	size_t len;

	in.flags = FUSE_HANDLE_KILLPRIV_V2 | FUSE_ASYNC_READ;
	len = request(FUSE_INIT, &in, sizeof(in));
	check(fuse_killpriv_init_offered(buf, len), "an INIT offering KILLPRIV_V2 is seen");
	check(!fuse_killpriv_init_offered(buf, sizeof(struct fuse_in_header) + 8),
	    "an INIT too short for its flags is not");
	in.flags = FUSE_ASYNC_READ;
	len = request(FUSE_INIT, &in, sizeof(in));
	check(!fuse_killpriv_init_offered(buf, len), "an INIT without the flag is not");
	in.flags = FUSE_HANDLE_KILLPRIV_V2;
	in.major = 6;
	len = request(FUSE_INIT, &in, sizeof(in));
	check(!fuse_killpriv_init_offered(buf, len), "an INIT of another major version is not");
	in.major = FUSE_KERNEL_VERSION;
	len = request(FUSE_LOOKUP, &in, sizeof(in));
	check(!fuse_killpriv_init_offered(buf, len), "another opcode with those bytes is not");
}

static void
test_requests(void)
{
	struct fuse_write_in w = { .size = 1, .write_flags = FUSE_WRITE_KILL_SUIDGID };
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE | FATTR_KILL_SUIDGID };
	struct fuse_open_in o = { .flags = 01000, .open_flags = FUSE_OPEN_KILL_SUIDGID };
	struct fuse_create_in c = { .flags = 01000, .open_flags = FUSE_OPEN_KILL_SUIDGID };
	size_t len;

	len = request(FUSE_WRITE, &w, sizeof(w));
	check(fuse_killpriv_request_kills(buf, len), "WRITE with FUSE_WRITE_KILL_SUIDGID kills");
	check(!fuse_killpriv_request_kills(buf, len - 1), "... not when shorter than fuse_write_in");
	w.write_flags = FUSE_WRITE_CACHE;
	len = request(FUSE_WRITE, &w, sizeof(w));
	check(!fuse_killpriv_request_kills(buf, len), "WRITE without it does not");
	len = request(FUSE_SETATTR, &sa, sizeof(sa));
	check(fuse_killpriv_request_kills(buf, len), "SETATTR with FATTR_KILL_SUIDGID kills");
	sa.valid = FATTR_SIZE;
	len = request(FUSE_SETATTR, &sa, sizeof(sa));
	check(!fuse_killpriv_request_kills(buf, len), "SETATTR without it does not");
	len = request(FUSE_OPEN, &o, sizeof(o));
	check(fuse_killpriv_request_kills(buf, len), "OPEN with FUSE_OPEN_KILL_SUIDGID kills");
	len = request(FUSE_CREATE, &c, sizeof(c));
	check(fuse_killpriv_request_kills(buf, len), "CREATE with FUSE_OPEN_KILL_SUIDGID kills");
	len = request(FUSE_READ, &w, sizeof(w));
	check(!fuse_killpriv_request_kills(buf, len), "other opcodes never do");
	check(!fuse_killpriv_request_kills(buf, 4), "nor a fragment of a header");
}

/* An INIT reply: header with error and the init_out struct. */
static size_t
init_reply(int error, uint32_t flags)
{
	struct fuse_out_header oh = { .error = error, .unique = 3 };
	struct fuse_init_out io = { .major = FUSE_KERNEL_VERSION, .minor = 36, .flags = flags };

	memset(buf, 0, sizeof(buf));
	oh.len = (uint32_t)(sizeof(oh) + (error == 0 ? sizeof(io) : 0));
	memcpy(buf, &oh, sizeof(oh));
	if (error == 0)
		memcpy(buf + sizeof(oh), &io, sizeof(io));
	return oh.len;
}

static uint32_t
reply_flags(void)
{
	struct fuse_init_out io;

	memcpy(&io, buf + sizeof(struct fuse_out_header), sizeof(io));
	return io.flags;
}

static void
test_reply(void)
{
	size_t len;

	len = init_reply(0, FUSE_ASYNC_READ);
	check(fuse_killpriv_patch_init_reply(buf, len) == 0 &&
	    reply_flags() == (FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2),
	    "a successful INIT reply gets KILLPRIV_V2 and keeps its flags");
	len = init_reply(-71, 0);	/* EPROTO */
	check(fuse_killpriv_patch_init_reply(buf, len) != 0, "an error reply is left alone");
	len = init_reply(0, FUSE_ASYNC_READ);
	check(fuse_killpriv_patch_init_reply(buf, len - 1) != 0 && reply_flags() == FUSE_ASYNC_READ,
	    "a reply whose length does not match its header is left alone");
	check(fuse_killpriv_patch_init_reply(buf, 20) != 0, "so is one too short for the flags");

	/* as a session's writev gets it: header and body apart */
	{
		static unsigned char parts[sizeof(buf)], out[256];
		struct iovec iov[2];
		ssize_t n;

		len = init_reply(0, FUSE_ASYNC_READ);
		memcpy(parts, buf, len);
		iov[0] = (struct iovec){ parts, sizeof(struct fuse_out_header) };
		iov[1] = (struct iovec){ parts + sizeof(struct fuse_out_header),
		    len - sizeof(struct fuse_out_header) };
		n = fuse_killpriv_init_reply(iov, 2, out, sizeof(out));
		memcpy(buf, out, sizeof(out));
		check(n == (ssize_t)len && reply_flags() == (FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2),
		    "a reply in two iovecs is gathered whole and gets the flag");
		check(fuse_killpriv_init_reply(iov, 2, out, len - 1) == -1,
		    "one larger than the buffer is refused");
	}
}

int
main(void)
{
	test_init();
	test_requests();
	test_reply();
	return tap_done();
}
