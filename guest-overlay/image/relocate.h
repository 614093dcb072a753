/*
 * relocate: where an installed file of fsbridge is, seen from a program
 * that may have been installed under another prefix than ./configure's
 * (`make install prefix=DIR`, `make install DESTDIR=DIR`).  The paths
 * compiled in are the configured ones; the layout under the prefix is
 * the same wherever it is put, so a file is looked for at the configured
 * path from the configured bindir, starting from the directory the
 * program really runs from.  Used by fsbridge-mkinitramfs (its
 * fsbridge-init) and launch (its helper programs).
 */
#ifndef GUEST_OVERLAY_RELOCATE_H
#define GUEST_OVERLAY_RELOCATE_H

#include <stddef.h>

/* installed (absolute, as configured) as seen from exe, a program
 * installed in bindir (absolute, as configured): exe's directory, then
 * one ".." per component of bindir not shared with installed, then the
 * rest of installed.  Into out; 0, -EINVAL (a path not absolute) or
 * -ENAMETOOLONG. */
int relocate(const char *exe, const char *bindir, const char *installed,
    char *out, size_t size);

/* The same from the running program (/proc/self/exe); -errno. */
int relocate_self(const char *bindir, const char *installed, char *out, size_t size);

#endif
