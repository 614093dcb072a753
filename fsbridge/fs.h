/*
 * fs: one served share: its policy, backend, inode and file tables, and
 * the libfuse low-level ops table that serves it (fs_ops.c).  Both
 * transports (the host FUSE mount, the vhost-user device) hand requests
 * to the same session built from fs_ops.
 */
#ifndef FSBRIDGE_FS_H
#define FSBRIDGE_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "backend.h"
#include "file_table.h"
#include "inode_table.h"
#include "policy.h"

struct fs {
	struct policy policy;
	struct backend *backend;
	struct inode_table inodes;
	struct file_table files;
	double entry_timeout;
	double attr_timeout;
	double negative_timeout;
	bool writeback;
	bool debug;
};

extern const struct fuse_lowlevel_ops fs_ops;

/* Set up a share over a backend (the fs takes the backend over). */
int fs_init(struct fs *fs, const struct policy *policy, struct backend *backend);
void fs_destroy(struct fs *fs);

#endif
