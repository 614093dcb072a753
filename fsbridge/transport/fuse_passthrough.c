/*
 * fuse_passthrough: FUSE passthrough for the host mount (see
 * fuse_passthrough.h).  Debian's <linux/fuse.h> (6.1) predates it: the
 * protocol numbers are ours, from Linux's include/uapi/linux/fuse.h
 * (7.40): FUSE_PASSTHROUGH is INIT flag 37 (flags2 bit 5), the reply's
 * max_stack_depth follows flags2, FOPEN_PASSTHROUGH is open flag 7 and
 * the open reply's former padding is backing_id.  The backing ioctls
 * want CAP_SYS_ADMIN in the initial user namespace.
 */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fuse_passthrough.h"
#include "fuse_uring_proto.h"

#define FSB_FUSE_PASSTHROUGH_FLAGS2	(1u << 5)
#define FSB_FOPEN_PASSTHROUGH		(1u << 7)
/* the fuse layer above a backing file on a plain (unstacked) file system;
 * overlayfs may still stack on the mount */
#define FSB_FUSE_MAX_STACK_DEPTH	1u

struct fsb_fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FSB_FUSE_DEV_IOC_BACKING_OPEN	_IOW(229, 1, struct fsb_fuse_backing_map)
#define FSB_FUSE_DEV_IOC_BACKING_CLOSE	_IOW(229, 2, uint32_t)

/* fuse_init_out from flags2 on, as 7.40 has it */
struct fsb_fuse_init_out_tail {
	uint32_t flags2;
	uint32_t max_stack_depth;
};

struct fsb_fuse_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

static __thread int fuse_passthrough_pending;

/* The calling process holds CAP_SYS_ADMIN, in the initial user namespace. */
static bool
fuse_passthrough_privileged(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	char line[128] = "";
	FILE *f;

	if (syscall(SYS_capget, &h, d) != 0 || !(d[0].effective & (1u << CAP_SYS_ADMIN)))
		return false;
	f = fopen("/proc/self/uid_map", "re");
	if (f == NULL)
		return false;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	{
		unsigned long a, b, c;

		return sscanf(line, "%lu %lu %lu", &a, &b, &c) == 3 &&
		    a == 0 && b == 0 && c == 4294967295ul;
	}
}

int
fuse_passthrough_probe(const char **why)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2 ||
	    major < 6 || (major == 6 && minor < 9)) {
		*why = "this kernel has no FUSE passthrough (Linux 6.9 or later)";
		return -ENOTSUP;
	}
	if (!fuse_passthrough_privileged()) {
		*why = "passthrough needs CAP_SYS_ADMIN (run as root or use -o passthrough=off)";
		return -EPERM;
	}
	return 0;
}

bool
fuse_passthrough_init_offered(const void *req, size_t len)
{
	struct fuse_in_header h;
	struct fuse_init_in in;

	if (len < sizeof(h) + offsetof(struct fuse_init_in, flags2) + sizeof(in.flags2))
		return false;
	memcpy(&h, req, sizeof(h));
	if (h.opcode != FUSE_INIT)
		return false;
	memcpy(&in, (const char *)req + sizeof(h),
	    offsetof(struct fuse_init_in, flags2) + sizeof(in.flags2));
	return in.major == FUSE_KERNEL_VERSION && (in.flags & FSB_FUSE_INIT_EXT) &&
	    (in.flags2 & FSB_FUSE_PASSTHROUGH_FLAGS2);
}

int
fuse_passthrough_init_reply(void *reply, size_t len)
{
	size_t at_flags = sizeof(struct fuse_out_header) + offsetof(struct fuse_init_out, flags);
	size_t at_tail = sizeof(struct fuse_out_header) + offsetof(struct fuse_init_out, flags2);
	struct fsb_fuse_init_out_tail tail;
	struct fuse_out_header oh;
	uint32_t flags;

	if (len < at_tail + sizeof(tail))
		return -EINVAL;
	memcpy(&oh, reply, sizeof(oh));
	if (oh.error != 0 || oh.len != len)
		return -EINVAL;
	memcpy(&flags, (char *)reply + at_flags, sizeof(flags));
	if (flags & FUSE_WRITEBACK_CACHE)
		return -EINVAL;
	memcpy(&tail, (char *)reply + at_tail, sizeof(tail));
	flags |= FSB_FUSE_INIT_EXT;
	tail.flags2 |= FSB_FUSE_PASSTHROUGH_FLAGS2;
	tail.max_stack_depth = FSB_FUSE_MAX_STACK_DEPTH;
	memcpy((char *)reply + at_flags, &flags, sizeof(flags));
	memcpy((char *)reply + at_tail, &tail, sizeof(tail));
	return 0;
}

/* This thread's capabilities, with CAP_FSETID taken out of the effective
 * set (drop) or as they were (saved). */
static int
fuse_passthrough_caps(struct __user_cap_data_struct saved[2], bool drop)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (!drop)
		return syscall(SYS_capset, &h, saved) == 0 ? 0 : -errno;
	if (syscall(SYS_capget, &h, saved) != 0)
		return -errno;
	memcpy(d, saved, sizeof(d));
	d[0].effective &= ~(1u << CAP_FSETID);
	h.version = _LINUX_CAPABILITY_VERSION_3;
	h.pid = 0;
	return syscall(SYS_capset, &h, d) == 0 ? 0 : -errno;
}

int
fuse_passthrough_backing_open(int devfd, int fd)
{
	struct fsb_fuse_backing_map map = { .fd = fd };
	struct __user_cap_data_struct saved[2];
	int id, err, rc;

	rc = fuse_passthrough_caps(saved, true);
	if (rc != 0)
		return rc;
	id = ioctl(devfd, FSB_FUSE_DEV_IOC_BACKING_OPEN, &map);
	err = errno;
	rc = fuse_passthrough_caps(saved, false);
	if (id > 0 && rc != 0) {
		/* never leave this thread short of a capability */
		fuse_passthrough_backing_close(devfd, id);
		return rc;
	}
	if (id <= 0)
		return id == 0 ? -EIO : -err;
	return id;
}

void
fuse_passthrough_backing_close(int devfd, int id)
{
	uint32_t v = (uint32_t)id;

	(void)ioctl(devfd, FSB_FUSE_DEV_IOC_BACKING_CLOSE, &v);
}

void
fuse_passthrough_reply_with(int id)
{
	fuse_passthrough_pending = id;
}

void
fuse_passthrough_patch_reply(struct iovec *iov, int count)
{
	struct fsb_fuse_open_out oo;
	struct fuse_out_header oh;
	struct iovec *last;
	size_t len = 0;
	int i, id = fuse_passthrough_pending;

	if (id <= 0)
		return;
	fuse_passthrough_pending = 0;
	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	if (count < 2 || iov[0].iov_len < sizeof(oh))
		return;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	last = &iov[count - 1];
	if (oh.error != 0 || oh.len != len || last->iov_len < sizeof(oo))
		return;
	memcpy(&oo, (char *)last->iov_base + last->iov_len - sizeof(oo), sizeof(oo));
	oo.open_flags |= FSB_FOPEN_PASSTHROUGH;
	oo.open_flags &= ~FOPEN_KEEP_CACHE;
	oo.backing_id = id;
	memcpy((char *)last->iov_base + last->iov_len - sizeof(oo), &oo, sizeof(oo));
}
