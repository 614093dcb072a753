/* volume_zst.h: streaming a volume image to and from a .zst file. */
#ifndef FSB_VOLUME_ZST_H
#define FSB_VOLUME_ZST_H

/* Compresses image into zst (created or replaced); -errno. */
int volume_export(const char *image, const char *zst);

/* Decompresses zst into a new image (-EEXIST if it exists), writing
 * all-zero blocks as holes; -errno (-EBADMSG: not a zstd stream). */
int volume_import(const char *zst, const char *image);

#endif
