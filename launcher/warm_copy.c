/*
 * warm_copy: the saved guest RAM file of a warm start is copied for each
 * restore (QEMU writes into the RAM it runs on: the saved one must stay
 * as saved) and checked while it is copied: it is too big to hash on
 * the critical path, so the copy made ahead of a restore (in the
 * background) is what verifies it.  Only the pages with data are read
 * (SEEK_DATA) and only non-zero pages written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warm_copy.h"

#define PAGE 4096
#define CHUNK (1 << 20)

static bool
zero_page(const unsigned char *p)
{
	static const unsigned char zeros[PAGE];

	return memcmp(p, zeros, PAGE) == 0;
}

/* The extent [off, end) of in: its non-zero pages hashed, and written to
 * out (if >= 0) at the same offsets. */
static int
copy_extent(int in, int out, off_t off, off_t end, unsigned char *buf, SHA2_CTX *h)
{
	while (off < end) {
		size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
		ssize_t n = pread(in, buf, want, off);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (n % PAGE != 0) {   /* a file's last page: padded */
			memset(buf + n, 0, PAGE - (size_t)n % PAGE);
			n += PAGE - n % PAGE;
		}
		for (ssize_t p = 0; p < n; p += PAGE) {
			uint64_t at = (uint64_t)(off + p);

			if (zero_page(buf + p))
				continue;
			SHA256Update(h, (const uint8_t *)&at, sizeof(at));
			SHA256Update(h, buf + p, PAGE);
			if (out >= 0) {
				ssize_t w = pwrite(out, buf + p, PAGE, off + p);

				if (w != PAGE)
					return w < 0 ? -errno : -ENOSPC;
			}
		}
		off += n;
	}
	return 0;
}

static int
copy_all(int in, int out, off_t size, SHA2_CTX *h)
{
	unsigned char *buf = malloc(CHUNK + PAGE);
	off_t off = 0;
	int rc = buf == NULL ? -ENOMEM : 0;

	while (rc == 0 && off < size) {
		off_t data = lseek(in, off, SEEK_DATA), hole;

		if (data < 0) {
			rc = errno == ENXIO ? 0 : -errno;
			break;
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			rc = -errno;
			break;
		}
		data -= data % PAGE;
		rc = copy_extent(in, out, data, hole, buf, h);
		off = hole;
	}
	free(buf);
	return rc;
}

int
warm_copy(const char *src, const char *dst, const char *want, char hash[WARM_HASH_HEX])
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	struct stat st;
	SHA2_CTX h;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) != 0)
		rc = -errno;
	if (rc == 0 && dst != NULL &&
	    (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		rc = -errno;
	if (rc == 0 && out >= 0 && ftruncate(out, st.st_size) != 0)
		rc = -errno;
	SHA256Init(&h);
	if (rc == 0)
		rc = copy_all(in, out, st.st_size, &h);
	SHA256End(&h, hash);
	if (rc == 0 && want != NULL && strcmp(hash, want) != 0)
		rc = -EBADMSG;
	if (rc == 0 && out >= 0 && fsync(out) != 0)
		rc = -errno;
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = -errno;
	close(in);
	if (rc != 0 && out >= 0)
		unlink(dst);
	return rc;
}

int
warm_hash_file(const char *path, char hash[WARM_HASH_HEX])
{
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	SHA2_CTX h;
	ssize_t n;

	if (fd < 0)
		return -errno;
	SHA256Init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		SHA256Update(&h, buf, (size_t)n);
	close(fd);
	SHA256End(&h, hash);
	return n < 0 ? -EIO : 0;
}
