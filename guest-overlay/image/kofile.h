/*
 * kofile: a kernel module's bytes, uncompressed.  Modules may be stored
 * as x.ko, x.ko.zst (libzstd) or x.ko.xz (liblzma, loaded at run time if
 * it is installed).  Functions return 0 or -errno and print what went
 * wrong, naming the file.
 */
#ifndef GUEST_OVERLAY_KOFILE_H
#define GUEST_OVERLAY_KOFILE_H

#include <stddef.h>

struct kobuf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/* Fills *out (which the caller frees with kobuf_free). */
int kofile_read(const char *path, struct kobuf *out);
void kobuf_free(struct kobuf *b);

#endif
