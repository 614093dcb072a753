/*
 * zsink: compress a byte stream into one zstd frame on a file descriptor.
 * The frame carries a content checksum; the kernel's initramfs unpacker
 * reads it like any other zstd frame.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "guest-overlay/contract/fdio.h"
#include "guest-overlay/image/zsink.h"

/* One compression step; writes whatever output it produced.  *left is
 * what libzstd still holds (0 once a flush or end is complete). */
static int
step(struct zsink *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode, size_t *left)
{
	ZSTD_outBuffer out = { z->out, z->out_cap, 0 };
	size_t r = ZSTD_compressStream2(z->cctx, &out, in, mode);
	int rc;

	if (ZSTD_isError(r))
		return -EIO;
	rc = write_all(z->fd, z->out, out.pos);
	if (rc == 0)
		z->bytes_out += out.pos;
	*left = r;
	return rc;
}

int
zsink_open(struct zsink *z, int fd, int level)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	memset(z, 0, sizeof(*z));
	if (cctx == NULL)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))) {
		ZSTD_freeCCtx(cctx);
		return -EINVAL;
	}
	z->out_cap = ZSTD_CStreamOutSize();
	z->out = malloc(z->out_cap);
	if (z->out == NULL) {
		ZSTD_freeCCtx(cctx);
		return -ENOMEM;
	}
	z->fd = fd;
	z->cctx = cctx;
	return 0;
}

int
zsink_write(void *ctx, const void *buf, size_t len)
{
	struct zsink *z = ctx;
	ZSTD_inBuffer in = { buf, len, 0 };
	size_t left;
	int rc = 0;

	while (in.pos < in.size && rc == 0)
		rc = step(z, &in, ZSTD_e_continue, &left);
	if (rc == 0)
		z->bytes_in += len;
	return rc;
}

int
zsink_finish(struct zsink *z)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };
	size_t left = 1;
	int rc = 0;

	while (left != 0 && rc == 0)
		rc = step(z, &in, ZSTD_e_end, &left);
	return rc;
}

void
zsink_close(struct zsink *z)
{
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	memset(z, 0, sizeof(*z));
	z->fd = -1;
}
