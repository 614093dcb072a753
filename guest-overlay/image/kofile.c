/*
 * kofile: read a kernel module file and undo its compression, chosen by
 * the file name's suffix.  zstd comes from libzstd, which the builder links
 * anyway; xz comes from liblzma.so.5, opened with dlopen() only when an
 * xz-compressed module is met, so the builder does not depend on it.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#if __has_include(<lzma.h>)
#include <dlfcn.h>
#include <lzma.h>
#define HAVE_LZMA_API 1
#endif

#include "guest-overlay/image/kofile.h"

#define KO_MAX_SIZE (256u << 20) /* no module is anywhere near this */

void
kobuf_free(struct kobuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Room for at least want more bytes. */
static int
kobuf_reserve(struct kobuf *b, size_t want)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	unsigned char *p;

	if (b->len + want <= b->cap)
		return 0;
	while (cap < b->len + want)
		cap *= 2;
	if (cap > KO_MAX_SIZE)
		return -EFBIG;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int
read_whole(int fd, struct kobuf *b)
{
	int rc = 0;

	for (;;) {
		ssize_t n;

		if ((rc = kobuf_reserve(b, 64 * 1024)) != 0)
			return rc;
		n = read(fd, b->data + b->len, b->cap - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int
unzstd(const char *path, const struct kobuf *in, struct kobuf *out)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer src = { in->data, in->len, 0 };
	size_t r = 1;
	int rc = 0;

	if (dctx == NULL)
		return -ENOMEM;
	while (rc == 0 && (src.pos < src.size || r != 0)) {
		ZSTD_outBuffer dst;

		if ((rc = kobuf_reserve(out, ZSTD_DStreamOutSize())) != 0)
			break;
		dst = (ZSTD_outBuffer){ out->data + out->len, out->cap - out->len, 0 };
		r = ZSTD_decompressStream(dctx, &dst, &src);
		out->len += dst.pos;
		if (ZSTD_isError(r)) {
			warnx("%s: %s", path, ZSTD_getErrorName(r));
			rc = -EINVAL;
		} else if (src.pos == src.size && dst.pos == 0 && r != 0) {
			warnx("%s: truncated zstd data", path);
			rc = -EINVAL;
		}
	}
	ZSTD_freeDCtx(dctx);
	return rc;
}

#ifdef HAVE_LZMA_API
struct lzma_api {
	lzma_ret (*stream_decoder)(lzma_stream *, uint64_t, uint32_t);
	lzma_ret (*code)(lzma_stream *, lzma_action);
	void (*end)(lzma_stream *);
};

static int
lzma_open(const char *path, struct lzma_api *api)
{
	void *h = dlopen("liblzma.so.5", RTLD_NOW | RTLD_LOCAL);

	if (h != NULL) {
		*(void **)&api->stream_decoder = dlsym(h, "lzma_stream_decoder");
		*(void **)&api->code = dlsym(h, "lzma_code");
		*(void **)&api->end = dlsym(h, "lzma_end");
		if (api->stream_decoder && api->code && api->end)
			return 0;
	}
	warnx("%s: xz-compressed module, and liblzma.so.5 cannot be used "
	    "(%s); install liblzma5 or decompress the module", path,
	    h ? "symbols missing" : dlerror());
	return -ENOTSUP;
}

static int
unxz(const char *path, const struct kobuf *in, struct kobuf *out)
{
	struct lzma_api api;
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r = LZMA_OK;
	int rc = lzma_open(path, &api);

	if (rc != 0)
		return rc;
	if (api.stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
		return -ENOMEM;
	s.next_in = in->data;
	s.avail_in = in->len;
	while (rc == 0 && r == LZMA_OK) {
		if ((rc = kobuf_reserve(out, 64 * 1024)) != 0)
			break;
		s.next_out = out->data + out->len;
		s.avail_out = out->cap - out->len;
		r = api.code(&s, s.avail_in ? LZMA_RUN : LZMA_FINISH);
		out->len = (size_t)(s.next_out - out->data);
	}
	if (rc == 0 && r != LZMA_STREAM_END) {
		warnx("%s: not valid xz data (liblzma error %d)", path, (int)r);
		rc = -EINVAL;
	}
	api.end(&s);
	return rc;
}
#else
static int
unxz(const char *path, const struct kobuf *in, struct kobuf *out)
{
	warnx("%s: xz-compressed module, and this build has no liblzma "
	    "support; decompress the module first", path);
	return -ENOTSUP;
}
#endif

int
kofile_read(const char *path, struct kobuf *out)
{
	struct kobuf raw = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		rc = -errno;
		warn("%s", path);
		return rc;
	}
	rc = read_whole(fd, &raw);
	close(fd);
	if (rc != 0) {
		warnx("%s: %s", path, strerror(-rc));
		kobuf_free(&raw);
		return rc;
	}
	if (has_suffix(path, ".zst"))
		rc = unzstd(path, &raw, out);
	else if (has_suffix(path, ".xz"))
		rc = unxz(path, &raw, out);
	else if (has_suffix(path, ".gz")) {
		warnx("%s: gzip-compressed modules are not supported; "
		    "decompress the module first", path);
		rc = -ENOTSUP;
	} else {
		*out = raw;
		return 0;
	}
	kobuf_free(&raw);
	if (rc != 0)
		kobuf_free(out);
	return rc;
}
