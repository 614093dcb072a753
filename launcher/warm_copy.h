/* warm_copy.h: copying a saved guest RAM file sparsely, hashing what it holds. */
#ifndef FSB_WARM_COPY_H
#define FSB_WARM_COPY_H

#include <stddef.h>

#define WARM_HASH_HEX 65   /* sha256 in hex, NUL-terminated */

/*
 * Copies src to a new file dst (mode 0600, created exclusively), writing
 * only src's non-zero pages (holes elsewhere, the same size), and puts
 * in hash the sha256 of every non-zero page with its offset: a file's
 * holes and zero pages hash alike, so a copy hashes as its source.  dst
 * is fsynced.  dst NULL: hash only.  With want, -EBADMSG (dst removed)
 * when the hash differs from it.  0 or -errno (dst removed).
 */
int warm_copy(const char *src, const char *dst, const char *want, char hash[WARM_HASH_HEX]);

/* sha256 of a whole (small) file in hex; -errno. */
int warm_hash_file(const char *path, char hash[WARM_HASH_HEX]);

#endif
