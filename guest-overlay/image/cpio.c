/*
 * cpio: the newc archive writer.  Each entry is a 110-byte ASCII header
 * ("070701" and thirteen 8-digit hex fields), the NUL-terminated name
 * padded so header and name fill a multiple of 4 bytes, then the data
 * padded to a multiple of 4.  The archive ends with an entry named
 * "TRAILER!!!".
 */
#include "config.h"

#include <errno.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/image/cpio.h"

#define CPIO_HEADER_LEN 110
#define CPIO_COPY_CHUNK (64 * 1024)

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* "/etc//x" is refused; "/etc/x" and "etc/x" both become "etc/x".  No
 * empty, "." or ".." component, no trailing slash. */
static int
normalize(const char *path, const char **out)
{
	const char *p = path;

	while (*p == '/')
		p++;
	*out = p;
	if (*p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		p += n;
		if (*p == '/' && *++p == '\0')
			return -EINVAL;
	}
	return 0;
}

static int
emit(struct cpio *c, const void *buf, size_t len)
{
	int rc = c->sink(c->ctx, buf, len);

	if (rc == 0)
		c->offset += len;
	return rc;
}

static int
pad4(struct cpio *c)
{
	static const char zeros[4];
	size_t n = (4 - (c->offset & 3)) & 3;

	return n ? emit(c, zeros, n) : 0;
}

/* Claims the name (fails with -EEXIST if taken). */
static int
remember(struct cpio *c, const char *name)
{
	char *dup = strdup(name);
	void **slot;

	if (dup == NULL)
		return -ENOMEM;
	slot = tsearch(dup, &c->names, name_cmp);
	if (slot == NULL) {
		free(dup);
		return -ENOMEM;
	}
	if (*slot != dup) {
		free(dup);
		return -EEXIST;
	}
	return 0;
}

static uint32_t
clamp_time(time_t t)
{
	if (t < 0)
		return 0;
	if ((uint64_t)t > UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)t;
}

struct cpio_entry {
	const char *name;   /* normalized */
	mode_t mode;        /* type and permissions */
	uint32_t nlink;
	uint64_t size;
	time_t mtime;
	unsigned rmajor, rminor;
};

/* Header, name and padding; the data is the caller's. */
static int
put_header(struct cpio *c, const struct cpio_entry *e)
{
	char hdr[CPIO_HEADER_LEN + 1];
	size_t namesize = strlen(e->name) + 1;
	int rc;

	if (e->size > UINT32_MAX || namesize > UINT32_MAX)
		return -EFBIG;
	snprintf(hdr, sizeof(hdr),
	    "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
	    c->next_ino++, (unsigned)e->mode, 0u, 0u, e->nlink,
	    clamp_time(e->mtime), (unsigned)e->size, 0u, 0u,
	    e->rmajor, e->rminor, (unsigned)namesize, 0u);
	rc = emit(c, hdr, CPIO_HEADER_LEN);
	if (rc == 0)
		rc = emit(c, e->name, namesize);
	if (rc == 0)
		rc = pad4(c);
	return rc;
}

static int add_parents(struct cpio *c, const char *name);

/* Claims the name, writes missing parents and the header. */
static int
begin_entry(struct cpio *c, const char *path, struct cpio_entry *e)
{
	int rc = normalize(path, &e->name);

	if (rc == 0)
		rc = add_parents(c, e->name);
	if (rc == 0)
		rc = remember(c, e->name);
	if (rc == 0)
		rc = put_header(c, e);
	if (rc == 0)
		c->entries++;
	return rc;
}

static int
write_dir(struct cpio *c, const char *path, mode_t perm)
{
	struct cpio_entry e = { .mode = S_IFDIR | (perm & 07777), .nlink = 2 };

	return begin_entry(c, path, &e);
}

static int
add_parents(struct cpio *c, const char *name)
{
	char *buf = strdup(name);
	char *slash;
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (slash = strchr(buf, '/'); slash != NULL && rc == 0;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (!cpio_has(c, buf))
			rc = write_dir(c, buf, 0755);
		*slash = '/';
	}
	free(buf);
	return rc;
}

void
cpio_init(struct cpio *c, cpio_sink_fn sink, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->sink = sink;
	c->ctx = ctx;
	c->next_ino = 1;
}

void
cpio_free(struct cpio *c)
{
	tdestroy(c->names, free);
	c->names = NULL;
}

int
cpio_has(const struct cpio *c, const char *path)
{
	const char *name;

	if (normalize(path, &name) != 0)
		return 0;
	return tfind(name, &c->names, name_cmp) != NULL;
}

int
cpio_add_dir(struct cpio *c, const char *path, mode_t perm)
{
	return write_dir(c, path, perm);
}

int
cpio_add_data(struct cpio *c, const char *path, mode_t perm,
    const void *data, size_t len, time_t mtime)
{
	struct cpio_entry e = { .mode = S_IFREG | (perm & 07777), .nlink = 1,
	    .size = len, .mtime = mtime };
	int rc = begin_entry(c, path, &e);

	if (rc == 0 && len > 0)
		rc = emit(c, data, len);
	if (rc == 0)
		rc = pad4(c);
	if (rc == 0)
		c->data_bytes += len;
	return rc;
}

/* Exactly size bytes from fd to the sink. */
static int
copy_fd(struct cpio *c, int fd, uint64_t size)
{
	char *buf = malloc(CPIO_COPY_CHUNK);
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (size > 0 && rc == 0) {
		size_t want = size < CPIO_COPY_CHUNK ? size : CPIO_COPY_CHUNK;
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			rc = -EIO;
		else {
			rc = emit(c, buf, (size_t)n);
			size -= (size_t)n;
		}
	}
	free(buf);
	return rc;
}

int
cpio_add_fd(struct cpio *c, const char *path, mode_t perm, int fd,
    uint64_t size, time_t mtime)
{
	struct cpio_entry e = { .mode = S_IFREG | (perm & 07777), .nlink = 1,
	    .size = size, .mtime = mtime };
	int rc = begin_entry(c, path, &e);

	if (rc == 0)
		rc = copy_fd(c, fd, size);
	if (rc == 0)
		rc = pad4(c);
	if (rc == 0)
		c->data_bytes += size;
	return rc;
}

int
cpio_add_symlink(struct cpio *c, const char *path, const char *target)
{
	size_t len = strlen(target);
	struct cpio_entry e = { .mode = S_IFLNK | 0777, .nlink = 1, .size = len };
	int rc = begin_entry(c, path, &e);

	if (rc == 0)
		rc = emit(c, target, len);
	if (rc == 0)
		rc = pad4(c);
	if (rc == 0)
		c->data_bytes += len;
	return rc;
}

int
cpio_add_node(struct cpio *c, const char *path, mode_t type, mode_t perm,
    unsigned major, unsigned minor)
{
	struct cpio_entry e = { .mode = type | (perm & 07777), .nlink = 1,
	    .rmajor = major, .rminor = minor };

	if (type != S_IFCHR && type != S_IFBLK)
		return -EINVAL;
	return begin_entry(c, path, &e);
}

int
cpio_finish(struct cpio *c)
{
	struct cpio_entry e = { .name = "TRAILER!!!", .nlink = 1 };

	/* The trailer is not a name in the tree: written directly. */
	return put_header(c, &e);
}
