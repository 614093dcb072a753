/*
 * share_source: the one place that tells an NFS export from a local
 * directory, and opens the backend for either.
 */
#include "config.h"

#include <string.h>

#include "backend_nfs.h"
#include "share_source.h"

void
share_source_init(struct share_source *src, const char *path)
{
	src->path = path;
	src->nfs = backend_nfs_is_url(path);
}

int
share_source_open(const struct share_source *src, unsigned int fd_cache,
    unsigned int nfs_pool, struct backend **out)
{
	if (src->nfs)
		return backend_nfs_new(src->path, nfs_pool, out);
	return backend_local_new(src->path, fd_cache, out);
}

const char *
share_source_error(const struct share_source *src, int rc)
{
	return src->nfs ? backend_nfs_last_error() : strerror(-rc);
}
