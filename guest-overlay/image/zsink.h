/*
 * zsink: a streaming zstd compressor writing one zstd frame to a file
 * descriptor (libzstd's ZSTD_compressStream2).  It is the sink the cpio
 * writer feeds.  Functions return 0 or -errno.
 */
#ifndef GUEST_OVERLAY_ZSINK_H
#define GUEST_OVERLAY_ZSINK_H

#include <stddef.h>
#include <stdint.h>

struct zsink {
	int fd;
	void *cctx;           /* ZSTD_CCtx */
	void *out;
	size_t out_cap;
	uint64_t bytes_in;
	uint64_t bytes_out;
};

/* Compresses at level (1..ZSTD_maxCLevel()) into fd, which stays the
 * caller's. */
int zsink_open(struct zsink *z, int fd, int level);
/* A cpio_sink_fn: ctx is the struct zsink. */
int zsink_write(void *ctx, const void *buf, size_t len);
/* Ends the frame and writes what is still buffered. */
int zsink_finish(struct zsink *z);
void zsink_close(struct zsink *z);

#endif
