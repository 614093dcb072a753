/*
 * raw_request: hostile FUSE requests straight into the file server.
 *
 * The kernel never sends a name like "../x" or a node id it was not
 * given, but a guest over virtio-fs can.  This test builds the real
 * session from fs_ops over a socketpair (libfuse custom I/O), sends raw
 * requests with such names, forged node ids and forged file handles, and
 * checks each is refused with the right errno and that nothing appeared
 * outside the share.  Prints TAP.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "share.h"

static int client_fd;
static uint64_t next_unique = 1;
static int test_no;
static int failures;

static ssize_t
io_read(int fd, void *buf, size_t len, void *userdata)
{
	return read(fd, buf, len);
}

static ssize_t
io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	return writev(fd, iov, count);
}

static const struct fuse_custom_io raw_io = {
	.read = io_read,
	.writev = io_writev,
};

/* Send one request made of up to three body parts; return the reply's
 * error (0 or -errno) and copy up to outlen bytes of its body. */
static int
send_request(uint32_t opcode, uint64_t nodeid, const void *a, size_t alen,
    const void *b, size_t blen, const void *c, size_t clen, void *out, size_t outlen)
{
	struct fuse_in_header h;
	struct iovec iov[4];
	char reply[1 << 16];
	struct fuse_out_header *oh = (struct fuse_out_header *)reply;
	ssize_t n;

	memset(&h, 0, sizeof(h));
	h.len = sizeof(h) + alen + blen + clen;
	h.opcode = opcode;
	h.unique = next_unique++;
	h.nodeid = nodeid;
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ (void *)a, alen };
	iov[2] = (struct iovec){ (void *)b, blen };
	iov[3] = (struct iovec){ (void *)c, clen };
	if (writev(client_fd, iov, 4) != (ssize_t)h.len)
		return -EIO;
	n = read(client_fd, reply, sizeof(reply));
	if (n < (ssize_t)sizeof(*oh) || oh->unique != h.unique)
		return -EIO;
	if (out != NULL && outlen > 0) {
		size_t body = (size_t)n - sizeof(*oh);

		memcpy(out, reply + sizeof(*oh), body < outlen ? body : outlen);
	}
	return oh->error;
}

static void
check(bool ok, const char *what, int got, int want)
{
	test_no++;
	if (ok) {
		printf("ok %d - %s\n", test_no, what);
	} else {
		printf("not ok %d - %s # got %d (%s), want %d (%s)\n", test_no, what,
		    got, strerror(-got), want, strerror(-want));
		failures++;
	}
}

static void
expect(int got, int want, const char *what)
{
	check(got == want, what, got, want);
}

static int
do_lookup(uint64_t dir, const char *name, size_t namelen)
{
	struct fuse_entry_out e;

	return send_request(FUSE_LOOKUP, dir, name, namelen, NULL, 0, NULL, 0, &e, sizeof(e));
}

static int
do_mkdir(uint64_t dir, const char *name)
{
	struct fuse_mkdir_in in = { .mode = 0755, .umask = 022 };

	return send_request(FUSE_MKDIR, dir, &in, sizeof(in), name, strlen(name) + 1, NULL, 0, NULL, 0);
}

static int
do_create(uint64_t dir, const char *name)
{
	struct fuse_create_in in = { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644, .umask = 022 };

	return send_request(FUSE_CREATE, dir, &in, sizeof(in), name, strlen(name) + 1, NULL, 0, NULL, 0);
}

static int
do_symlink(uint64_t dir, const char *name, const char *target)
{
	return send_request(FUSE_SYMLINK, dir, name, strlen(name) + 1, target,
	    strlen(target) + 1, NULL, 0, NULL, 0);
}

static int
do_rename(uint64_t dir, const char *from, uint64_t newdir, const char *to)
{
	struct fuse_rename2_in in = { .newdir = newdir };

	return send_request(FUSE_RENAME2, dir, &in, sizeof(in), from, strlen(from) + 1,
	    to, strlen(to) + 1, NULL, 0);
}

static int
do_unlink(uint64_t dir, const char *name)
{
	return send_request(FUSE_UNLINK, dir, name, strlen(name) + 1, NULL, 0, NULL, 0, NULL, 0);
}

static int
do_getattr(uint64_t nodeid)
{
	struct fuse_getattr_in in = { 0 };
	struct fuse_attr_out out;

	return send_request(FUSE_GETATTR, nodeid, &in, sizeof(in), NULL, 0, NULL, 0, &out, sizeof(out));
}

static int
do_read_fh(uint64_t nodeid, uint64_t fh)
{
	struct fuse_read_in in = { .fh = fh, .size = 16 };

	return send_request(FUSE_READ, nodeid, &in, sizeof(in), NULL, 0, NULL, 0, NULL, 0);
}

static void
do_init(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 31, .max_readahead = 65536 };
	struct fuse_init_out out;

	expect(send_request(FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0, &out, sizeof(out)),
	    0, "INIT accepted");
}

static void *
serve(void *arg)
{
	fuse_session_loop(arg);
	return NULL;
}

static void
attack_names(void)
{
	static const char *bad[] = { "..", ".", "a/b", "../outside", "/etc", "x/../../outside" };
	char longname[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[128];

		snprintf(what, sizeof(what), "LOOKUP \"%s\" refused", bad[i]);
		expect(do_lookup(FUSE_ROOT_ID, bad[i], strlen(bad[i]) + 1), -EINVAL, what);
		snprintf(what, sizeof(what), "MKDIR \"%s\" refused", bad[i]);
		expect(do_mkdir(FUSE_ROOT_ID, bad[i]), -EINVAL, what);
		snprintf(what, sizeof(what), "CREATE \"%s\" refused", bad[i]);
		expect(do_create(FUSE_ROOT_ID, bad[i]), -EINVAL, what);
		snprintf(what, sizeof(what), "SYMLINK \"%s\" refused", bad[i]);
		expect(do_symlink(FUSE_ROOT_ID, bad[i], "target"), -EINVAL, what);
		snprintf(what, sizeof(what), "UNLINK \"%s\" refused", bad[i]);
		expect(do_unlink(FUSE_ROOT_ID, bad[i]), -EINVAL, what);
		snprintf(what, sizeof(what), "RENAME to \"%s\" refused", bad[i]);
		expect(do_rename(FUSE_ROOT_ID, "inside", FUSE_ROOT_ID, bad[i]), -EINVAL, what);
	}
	expect(do_lookup(FUSE_ROOT_ID, "", 1), -EINVAL, "LOOKUP of an empty name refused");
	/* a NUL inside the name: the server sees only the first component */
	expect(do_lookup(FUSE_ROOT_ID, "inside\0../../etc", 17), 0,
	    "LOOKUP \"inside\\0../../etc\" resolves only \"inside\"");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	expect(do_lookup(FUSE_ROOT_ID, longname, sizeof(longname)), -ENAMETOOLONG,
	    "LOOKUP of a 299-byte name refused");
}

static void
attack_ids(void)
{
	expect(do_getattr(0xdeadbeefULL), -ESTALE, "GETATTR of a forged node id refused");
	expect(do_getattr(0), -ESTALE, "GETATTR of node id 0 refused");
	expect(do_lookup(0x7fffffffffffULL, "inside", 7), -ESTALE, "LOOKUP under a forged node id refused");
	expect(do_mkdir(0x12345678ULL, "x"), -ESTALE, "MKDIR under a forged node id refused");
	expect(do_read_fh(FUSE_ROOT_ID, 0xfeedfaceULL), -EBADF, "READ with a forged file handle refused");
	expect(do_getattr(FUSE_ROOT_ID), 0, "GETATTR of the root still works");
}

/* Nothing may have appeared next to the share. */
static void
check_outside(const char *outside_dir)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/outside", outside_dir);
	check(lstat(path, &st) != 0 && errno == ENOENT, "nothing created outside the share", 0, 0);
}

int
main(void)
{
	char top[] = "/tmp/fsb-raw-XXXXXX", share[256], inside[300];
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct backend *backend;
	struct fuse_session *se;
	struct policy policy;
	struct share sh;
	pthread_t thread;
	int sv[2];

	if (mkdtemp(top) == NULL)
		return 99;
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(inside, sizeof(inside), "%s/inside", share);
	if (mkdir(share, 0755) != 0 || mkdir(inside, 0755) != 0)
		return 99;
	policy_init_default(&policy);
	if (backend_local_new(share, 64, &backend) != 0 || share_init(&sh, &policy, backend) != 0)
		return 99;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return 99;
	fuse_opt_add_arg(&args, "raw_request");
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &sh);
	if (se == NULL || fuse_session_custom_io(se, &raw_io, sv[0]) != 0)
		return 99;
	client_fd = sv[1];
	pthread_create(&thread, NULL, serve, se);

	printf("1..%d\n", 1 + 6 * 6 + 3 + 6 + 1);
	do_init();
	attack_names();
	attack_ids();
	check_outside(top);

	close(client_fd);
	pthread_join(thread, NULL);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	share_destroy(&sh);
	{
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
		if (system(cmd) != 0)
			failures++;
	}
	return failures == 0 ? 0 : 1;
}
