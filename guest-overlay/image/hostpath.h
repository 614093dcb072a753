/*
 * hostpath: copy a file or directory tree from the host into a cpio
 * archive under a given image path (the builder's -a HOST:IMAGE).
 */
#ifndef GUEST_OVERLAY_HOSTPATH_H
#define GUEST_OVERLAY_HOSTPATH_H

#include "guest-overlay/image/cpio.h"

/* A regular file, a symlink or a directory (recursively, in name order);
 * the top-level host path is followed if it is a symlink, symlinks inside
 * a directory are kept as symlinks.  Other file types are refused.
 * Returns 0 or -errno and prints what went wrong. */
int hostpath_add(struct cpio *c, const char *host, const char *image);

#endif
