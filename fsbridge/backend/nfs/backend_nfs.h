/*
 * backend_nfs: an NFS export, reached with libnfs, as a backend.
 */
#ifndef FSBRIDGE_BACKEND_NFS_H
#define FSBRIDGE_BACKEND_NFS_H

#include <stdbool.h>

#include "backend.h"

/* Does src name an NFS export (nfs://...)? */
bool backend_nfs_is_url(const char *src);

/*
 * Connect to nfs://SERVER/EXPORT[/subdir][?version=3|4][&...] with a pool
 * of pool_size libnfs contexts (0: the default, 4).  Errors:
 *   -EINVAL        the URL is malformed
 *   -EHOSTUNREACH  the server cannot be resolved or reached
 *   -ECONNREFUSED  nothing answers on the server's NFS port
 *   -ENOENT        the export (or subdir) does not exist
 *   -ENOTDIR       it is not a directory
 *   -EACCES        the server refuses access
 *   -EIO           any other NFS failure
 *   -ENOMEM
 * backend_nfs_last_error() then holds a one-line human explanation.
 */
int backend_nfs_new(const char *url, unsigned int pool_size, struct backend **out);

/* The explanation of the last failed backend_nfs_new in this thread. */
const char *backend_nfs_last_error(void);

#endif
