/*
 * backend: what the file server needs from a tree of files.
 *
 * The ops table (fs_ops.c) owns requests, the inode table and the share
 * policy; a backend owns the I/O on one kind of tree: a local directory
 * (local/backend_local.c, its O_PATH fds in local/fd_cache.c) or an NFS
 * export through libnfs (nfs/backend_nfs.c; its layers are listed in
 * nfs/nfsb_int.h).  Backends never see FUSE requests or paths: they work
 * on inodes they created (each carries the backend's `bdata`) and
 * single, already validated name components.
 * Every function returns 0 (or a count) or -errno.
 */
#ifndef FSBRIDGE_BACKEND_H
#define FSBRIDGE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "inode_table.h"

struct backend;

/* The result of finding or creating a node: its attributes and the
 * backend's new per-inode state (adopted by the inode table, or released
 * with node_release if the inode already existed). */
struct backend_entry {
	struct stat st;
	void *bdata;
};

/* An open file or directory. */
struct backend_file {
	int fd;			/* a host fd where the backend has one, else -1 */
	void *priv;		/* the backend's own state */
};

/* Host credentials under which a node is created. */
struct backend_cred {
	uid_t uid;
	gid_t gid;
};

/* Which attributes setattr changes (the values of FUSE_SET_ATTR_*). */
#define FSB_SET_MODE		(1 << 0)
#define FSB_SET_UID		(1 << 1)
#define FSB_SET_GID		(1 << 2)
#define FSB_SET_SIZE		(1 << 3)
#define FSB_SET_ATIME		(1 << 4)
#define FSB_SET_MTIME		(1 << 5)
#define FSB_SET_ATIME_NOW	(1 << 7)
#define FSB_SET_MTIME_NOW	(1 << 8)
/* Nothing but the change time (a chown to -1:-1): a backend that can
 * updates it, as a local disk does; others may ignore it. */
#define FSB_SET_CTIME		(1 << 10)

struct backend_setattr {
	int valid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	struct timespec atime;
	struct timespec mtime;
};

/* One directory entry, as read.  A backend whose listing brings each
 * entry's attributes (NFSv4 READDIR) may also fill `entry` as lookup
 * (dir, name, follow=false) would and set has_entry: the caller then
 * adopts entry.bdata or releases it (node_release).  The caller clears
 * has_entry before each readdir. */
struct backend_dirent {
	uint64_t ino;
	off_t next_off;
	unsigned char type;	/* DT_* */
	char name[256];
	bool has_entry;
	struct backend_entry entry;
};

struct backend_ops {
	const char *name;
	void (*destroy)(struct backend *);
	/* identity and state of the share root */
	int (*root)(struct backend *, struct backend_entry *out);
	void (*node_release)(struct backend *, void *bdata);
	/* the inode table now exists (it holds the root's bdata) */
	void (*attach)(struct backend *, struct inode_table *);

	int (*lookup)(struct backend *, struct inode *dir, const char *name,
	    bool follow, struct backend_entry *out);
	int (*getattr)(struct backend *, struct inode *, struct stat *out);
	/* optional: in's attributes for a listing's entry dir/name, read
	 * there where that is cheaper than getattr (which it falls back to
	 * where the name is not, or no longer, in) */
	int (*getattr_at)(struct backend *, struct inode *dir, const char *name,
	    struct inode *in, struct stat *out);
	int (*setattr)(struct backend *, struct inode *, struct backend_file *fh,
	    const struct backend_setattr *, struct stat *out);
	int (*readlink)(struct backend *, struct inode *, char *buf, size_t size);
	/* link depth: the number of directories between the share root and
	 * `dir` (0: dir is the root); -ENOENT if dir is no longer beneath */
	int (*depth)(struct backend *, struct inode *dir, unsigned int *depth);
	/* optional, for symlinks=deny (policy_link_resolve's probe): what
	 * is at the path `up` levels above dir and then down through `down`,
	 * following no symlink on the way: 0 not a symlink, 1 a symlink
	 * (its target in buf), -ENOENT/-ENOTDIR nothing, or -errno */
	int (*link_probe)(struct backend *, struct inode *dir, unsigned int up,
	    const char *down, char *buf, size_t size);

	int (*mknod)(struct backend *, struct inode *dir, const char *name,
	    mode_t mode, dev_t rdev, const struct backend_cred *, struct backend_entry *out);
	int (*mkdir)(struct backend *, struct inode *dir, const char *name,
	    mode_t mode, const struct backend_cred *, struct backend_entry *out);
	int (*symlink)(struct backend *, struct inode *dir, const char *name,
	    const char *target, const struct backend_cred *, struct backend_entry *out);
	int (*link)(struct backend *, struct inode *in, struct inode *newdir,
	    const char *newname, struct backend_entry *out);
	int (*unlink)(struct backend *, struct inode *dir, const char *name);
	int (*rmdir)(struct backend *, struct inode *dir, const char *name);
	int (*rename)(struct backend *, struct inode *olddir, const char *oldname,
	    struct inode *newdir, const char *newname, unsigned int flags);

	int (*open)(struct backend *, struct inode *, int flags, struct backend_file *out);
	int (*create)(struct backend *, struct inode *dir, const char *name,
	    mode_t mode, int flags, const struct backend_cred *,
	    struct backend_entry *out, struct backend_file *fout);
	ssize_t (*read)(struct backend *, struct backend_file *, void *buf, size_t size, off_t off);
	ssize_t (*write)(struct backend *, struct backend_file *, const void *buf, size_t size, off_t off);
	/* optional: NULL when close needs no work */
	int (*flush)(struct backend *, struct backend_file *);
	int (*fsync)(struct backend *, struct backend_file *, bool datasync);
	void (*release)(struct backend *, struct backend_file *);
	int (*fallocate)(struct backend *, struct backend_file *, int mode, off_t off, off_t len);
	off_t (*lseek)(struct backend *, struct backend_file *, off_t off, int whence);
	ssize_t (*copy_file_range)(struct backend *, struct backend_file *in, off_t off_in,
	    struct backend_file *out, off_t off_out, size_t len, unsigned int flags);

	int (*opendir)(struct backend *, struct inode *, struct backend_file *out);
	/* Read the next entry at or after `off` (0: the start). 1 and *ent
	 * filled, 0 at the end, or -errno. */
	int (*readdir)(struct backend *, struct backend_file *, off_t off, struct backend_dirent *ent);
	void (*releasedir)(struct backend *, struct backend_file *);
	int (*fsyncdir)(struct backend *, struct backend_file *, bool datasync);

	int (*statfs)(struct backend *, struct inode *, struct statvfs *out);
	ssize_t (*getxattr)(struct backend *, struct inode *, const char *name, void *buf, size_t size);
	int (*setxattr)(struct backend *, struct inode *, const char *name,
	    const void *value, size_t size, int flags);
	ssize_t (*listxattr)(struct backend *, struct inode *, char *buf, size_t size);
	int (*removexattr)(struct backend *, struct inode *, const char *name);
	/* optional, for host watchers: an fd of the inode on this host
	 * (borrowed: give it back with host_fd_put) */
	int (*host_fd_get)(struct backend *, struct inode *);
	void (*host_fd_put)(struct backend *, struct inode *);
	/* flock and POSIX locks are not backend operations: the client's
	 * kernel keeps them (see fs_ops.c). */
};

struct backend {
	const struct backend_ops *ops;
	struct inode_table *inodes;	/* set by the server before use */
};

/* backend_local.c: a directory on this host.  fd_limit bounds the
 * O_PATH fds kept for inodes (0: chosen from RLIMIT_NOFILE). */
int backend_local_new(const char *root, unsigned int fd_limit, struct backend **out);

#endif
