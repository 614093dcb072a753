/*
 * volume_zst: export and import of volume images through libzstd, in
 * streaming mode (constant memory).  Export declares the image's size in
 * the frame header and never replaces an existing file.  Import keeps the
 * image sparse (a block of zeros is skipped with lseek, the size set at
 * the end) and never makes it larger than the size the stream declares
 * or the caller's limit: a few KB of zstd can describe terabytes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "guest-overlay/contract/fdio.h"
#include "volume_zst.h"

#define HOLE_BLOCK 4096
#define ZST_LEVEL 3

static int
compress_fd(int in, int out, uint64_t size)
{
	size_t isz = ZSTD_CStreamInSize(), osz = ZSTD_CStreamOutSize();
	char *ibuf = malloc(isz), *obuf = malloc(osz);
	ZSTD_CCtx *cx = ZSTD_createCCtx();
	int rc = ibuf && obuf && cx ? 0 : -ENOMEM;
	bool last = false;

	if (rc == 0) {
		ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, ZST_LEVEL);
		ZSTD_CCtx_setPledgedSrcSize(cx, size);   /* the header declares it */
	}
	while (rc == 0 && !last) {
		ssize_t n = read_full(in, ibuf, isz);
		ZSTD_inBuffer ib = { ibuf, n > 0 ? (size_t)n : 0, 0 };
		size_t left;

		if (n < 0) {
			rc = (int)n;
			break;
		}
		last = (size_t)n < isz;
		do {
			ZSTD_outBuffer ob = { obuf, osz, 0 };

			left = ZSTD_compressStream2(cx, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left))
				rc = -EIO;
			else
				rc = write_all(out, obuf, ob.pos);
		} while (rc == 0 && (last ? left != 0 : ib.pos < ib.size));
	}
	ZSTD_freeCCtx(cx);
	free(ibuf);
	free(obuf);
	return rc;
}

int
volume_export(const char *image, const char *zst)
{
	int in = open(image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out, rc;
	struct stat st;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return -EINVAL;
	}
	/* a new file only: never through a planted symlink, never another's */
	out = open(zst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	rc = compress_fd(in, out, (uint64_t)st.st_size);
	close(in);
	if (close(out) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		unlink(zst);
	return rc;
}

static bool
all_zero(const char *p, size_t n)
{
	static const char zeros[HOLE_BLOCK];

	return memcmp(p, zeros, n) == 0;
}

/* Writes data at *pos, seeking over all-zero blocks. */
static int
write_sparse(int fd, const char *p, size_t n, off_t *pos)
{
	while (n > 0) {
		size_t chunk = n < HOLE_BLOCK ? n : HOLE_BLOCK;

		int rc = 0;

		if (!all_zero(p, chunk) && lseek(fd, *pos, SEEK_SET) < 0)
			return -errno;
		if (!all_zero(p, chunk))
			rc = write_all(fd, p, chunk);
		if (rc != 0)
			return rc;
		*pos += (off_t)chunk;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

/* The bound on the image: what the first frame declares and the caller's
 * limit (0: none), the smaller; -EFBIG when the stream declares more than
 * the limit, -ENODATA when there is neither. */
static int
image_bound(const char *head, size_t n, uint64_t limit, uint64_t *bound)
{
	unsigned long long declared = ZSTD_getFrameContentSize(head, n);

	if (declared == ZSTD_CONTENTSIZE_ERROR)
		return -EBADMSG;
	if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
		*bound = limit;
		return limit != 0 ? 0 : -ENODATA;
	}
	if (limit != 0 && declared > limit)
		return -EFBIG;
	*bound = declared;
	return 0;
}

static int
decompress_fd(int in, int out, off_t *pos, uint64_t limit)
{
	size_t isz = ZSTD_DStreamInSize(), osz = ZSTD_DStreamOutSize();
	char *ibuf = malloc(isz), *obuf = malloc(osz);
	ZSTD_DCtx *dx = ZSTD_createDCtx();
	int rc = ibuf && obuf && dx ? 0 : -ENOMEM;
	size_t ret = 1;
	bool any = false;
	uint64_t bound = 0;

	while (rc == 0) {
		ssize_t n = read_full(in, ibuf, isz);
		ZSTD_inBuffer ib = { ibuf, n > 0 ? (size_t)n : 0, 0 };

		if (n <= 0) {
			rc = n < 0 ? (int)n : (!any || ret != 0 ? -EBADMSG : 0);
			break;
		}
		if (!any)
			rc = image_bound(ibuf, (size_t)n, limit, &bound);
		any = true;
		while (rc == 0 && ib.pos < ib.size) {
			ZSTD_outBuffer ob = { obuf, osz, 0 };

			ret = ZSTD_decompressStream(dx, &ob, &ib);
			if (ZSTD_isError(ret))
				rc = -EBADMSG;
			else if ((uint64_t)*pos + ob.pos > bound)
				rc = -EFBIG;
			else
				rc = write_sparse(out, obuf, ob.pos, pos);
		}
	}
	ZSTD_freeDCtx(dx);
	free(ibuf);
	free(obuf);
	return rc;
}

int
volume_import(const char *zst, const char *image, uint64_t limit)
{
	int in = open(zst, O_RDONLY | O_CLOEXEC), out, rc;
	off_t pos = 0;

	if (in < 0)
		return -errno;
	out = open(image, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	rc = decompress_fd(in, out, &pos, limit);
	if (rc == 0 && ftruncate(out, pos) != 0)
		rc = -errno;
	close(in);
	if (close(out) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		unlink(image);
	return rc;
}
