/*
 * share_source: what a SRC argument names -- an NFS export (nfs://...) or
 * a directory on this host, decided once, by share_source_init -- and the
 * backend that serves it.
 */
#ifndef FSBRIDGE_SHARE_SOURCE_H
#define FSBRIDGE_SHARE_SOURCE_H

#include <stdbool.h>

#include "backend.h"

struct share_source {
	const char *path;	/* SRC as given */
	bool nfs;		/* an NFS export; otherwise a local directory */
};

void share_source_init(struct share_source *src, const char *path);

/*
 * A new backend over src: a local directory keeps at most fd_cache inode
 * fds open (0: from RLIMIT_NOFILE); an NFS export gets a pool of nfs_pool
 * connections (0: the default).  0 or -errno; share_source_error says
 * why in words (-EINVAL from an NFS export: its URL is malformed).
 */
int share_source_open(const struct share_source *src, unsigned int fd_cache,
    unsigned int nfs_pool, struct backend **out);
const char *share_source_error(const struct share_source *src, int rc);

#endif
