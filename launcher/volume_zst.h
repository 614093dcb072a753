/* volume_zst.h: streaming a volume image to and from a .zst file. */
#ifndef FSB_VOLUME_ZST_H
#define FSB_VOLUME_ZST_H

#include <stdint.h>

/* Compresses image into zst, a new file of mode 0600 (-EEXIST if the
 * name is taken, even by a symlink), declaring the image's size; -errno. */
int volume_export(const char *image, const char *zst);

/* Decompresses zst into a new image (-EEXIST if it exists), writing
 * all-zero blocks as holes, never larger than the size the stream
 * declares or limit (0: no limit of the caller's); -errno (-EBADMSG: not
 * a zstd stream; -EFBIG: larger than that; -ENODATA: the stream declares
 * no size and there is no limit). */
int volume_import(const char *zst, const char *image, uint64_t limit);

#endif
