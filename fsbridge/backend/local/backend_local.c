/*
 * backend_local: a directory on this host as a backend.
 *
 * Every operation is made relative to an inode's O_PATH fd (fd_cache.c)
 * with a single, validated name component and O_NOFOLLOW /
 * AT_SYMLINK_NOFOLLOW, so nothing can lead outside the share root: a
 * symlink swapped in anywhere is never followed by the server (only the
 * explicit follow mode follows, and only at lookup).  Files are opened
 * for I/O by re-opening the O_PATH fd through /proc/self/fd.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "backend.h"
#include "fd_cache.h"

struct backend_local {
	struct backend base;
	int root_fd;
	struct fd_cache cache;
	bool as_root;		/* switch fsuid/fsgid for creations */
	/* /proc/self/fd of the serving process, opened at first use (the
	 * mount daemonises after the backend exists), -1 before; the fork
	 * generation it was opened in */
	pthread_mutex_t proc_lock;
	int proc_fd;
	unsigned int proc_gen;
};

struct local_dir {
	DIR *dp;
	off_t offset;		/* telldir position of the next entry */
};

#define LOCAL(b) ((struct backend_local *)(b))

/* Path under /proc that re-opens an O_PATH fd. */
static void
local_proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static int
local_fd_get(struct backend *b, struct inode *in)
{
	return fd_cache_get(&LOCAL(b)->cache, in);
}

static void
local_fd_put(struct backend *b, struct inode *in)
{
	fd_cache_put(&LOCAL(b)->cache, in);
}

/* The fds of two inodes (link, rename), both or neither: 0 or -errno. */
static int
local_fd_get2(struct backend *b, struct inode *x, struct inode *y, int *fx, int *fy)
{
	*fx = local_fd_get(b, x);
	if (*fx < 0)
		return *fx;
	*fy = local_fd_get(b, y);
	if (*fy < 0) {
		local_fd_put(b, x);
		return *fy;
	}
	return 0;
}

static int
local_stat_fd(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return 0;
}

/* Open dir/name as O_PATH (following only if asked) into a new node. */
static int
local_entry_open(struct backend_local *lb, int dfd, const char *name,
    bool follow, struct backend_entry *out)
{
	int fd, rc;
	bool followed = false;

	fd = -1;
	if (follow) {
		fd = openat(dfd, name, O_PATH | O_CLOEXEC);
		followed = fd >= 0;
	}
	if (fd < 0)
		fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = local_stat_fd(fd, &out->st);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	/* a followed link that leads to itself is not "followed" */
	if (followed && S_ISLNK(out->st.st_mode))
		followed = false;
	out->bdata = fd_cache_add(&lb->cache, fd, out->st.st_dev,
	    out->st.st_ino, followed);
	if (out->bdata == NULL) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

/* Credentials for a creation: only a root server can take the caller's. */
struct local_cred_saved {
	uid_t uid;
	gid_t gid;
	bool switched;
};

static void
local_cred_enter(struct backend_local *lb, const struct backend_cred *cred,
    struct local_cred_saved *saved)
{
	saved->switched = false;
	if (!lb->as_root || cred == NULL)
		return;
	saved->gid = setfsgid(cred->gid);
	saved->uid = setfsuid(cred->uid);
	saved->switched = true;
}

static void
local_cred_leave(const struct local_cred_saved *saved)
{
	if (!saved->switched)
		return;
	setfsuid(saved->uid);
	setfsgid(saved->gid);
}

static void
local_destroy(struct backend *b)
{
	struct backend_local *lb = LOCAL(b);

	fd_cache_destroy(&lb->cache);
	close(lb->root_fd);
	if (lb->proc_fd >= 0)
		close(lb->proc_fd);
	pthread_mutex_destroy(&lb->proc_lock);
	free(lb);
}

static int
local_root(struct backend *b, struct backend_entry *out)
{
	struct backend_local *lb = LOCAL(b);
	int fd, rc;

	fd = fcntl(lb->root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = local_stat_fd(fd, &out->st);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	out->bdata = fd_cache_add(&lb->cache, fd, out->st.st_dev, out->st.st_ino, false);
	if (out->bdata == NULL) {
		close(fd);
		return -ENOMEM;
	}
	fd_cache_pin(&lb->cache, out->bdata);
	return 0;
}

static void
local_node_release(struct backend *b, void *bdata)
{
	fd_cache_drop(&LOCAL(b)->cache, bdata);
}

static void
local_attach(struct backend *b, struct inode_table *t)
{
	b->inodes = t;
	LOCAL(b)->cache.inodes = t;
}

static int
local_lookup(struct backend *b, struct inode *dir, const char *name, bool follow,
    struct backend_entry *out)
{
	int dfd, rc;

	dfd = local_fd_get(b, dir);
	if (dfd < 0)
		return dfd;
	rc = local_entry_open(LOCAL(b), dfd, name, follow, out);
	local_fd_put(b, dir);
	return rc;
}

static int
local_getattr(struct backend *b, struct inode *in, struct stat *out)
{
	int fd, rc;

	fd = local_fd_get(b, in);
	if (fd < 0)
		return fd;
	rc = local_stat_fd(fd, out);
	local_fd_put(b, in);
	return rc;
}

static void
local_statx_to_stat(const struct statx *stx, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	st->st_ino = stx->stx_ino;
	st->st_mode = stx->stx_mode;
	st->st_nlink = stx->stx_nlink;
	st->st_uid = stx->stx_uid;
	st->st_gid = stx->stx_gid;
	st->st_rdev = makedev(stx->stx_rdev_major, stx->stx_rdev_minor);
	st->st_size = (off_t)stx->stx_size;
	st->st_blksize = stx->stx_blksize;
	st->st_blocks = (blkcnt_t)stx->stx_blocks;
	st->st_atim.tv_sec = stx->stx_atime.tv_sec;
	st->st_atim.tv_nsec = stx->stx_atime.tv_nsec;
	st->st_mtim.tv_sec = stx->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = stx->stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = stx->stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = stx->stx_ctime.tv_nsec;
}

/*
 * A listing's entry whose inode's fd was evicted (a tree of more inodes
 * than the fd limit): one statx of the name in the directory, checked to
 * be that inode (identity and birth time), instead of re-opening it by
 * handle and evicting another.  Otherwise the inode's own fd.
 */
static int
local_getattr_at(struct backend *b, struct inode *dir, const char *name,
    struct inode *in, struct stat *out)
{
	struct fd_cache *c = &LOCAL(b)->cache;
	struct statx stx;
	int dfd, rc;

	if (!fd_cache_evicted(c, in))
		return local_getattr(b, in, out);
	dfd = local_fd_get(b, dir);
	if (dfd < 0)
		return dfd;
	rc = statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
	    STATX_BASIC_STATS | STATX_BTIME, &stx);
	local_fd_put(b, dir);
	if (rc != 0 || (stx.stx_mask & STATX_BASIC_STATS) != STATX_BASIC_STATS ||
	    !fd_cache_matches(c, in, &stx))
		return local_getattr(b, in, out);
	local_statx_to_stat(&stx, out);
	return 0;
}

/* Apply a setattr to an inode whose O_PATH fd is fd (fh may be NULL). */
static int
local_setattr_fd(struct backend *b, struct inode *in, int fd,
    struct backend_file *fh, const struct backend_setattr *sa)
{
	char path[64];
	int rc;

	local_proc_path(path, sizeof(path), fd);
	if (sa->valid & FSB_SET_MODE) {
		rc = fh != NULL ? fchmod(fh->fd, sa->mode) : fchmodat(AT_FDCWD, path, sa->mode, 0);
		if (rc != 0)
			return -errno;
	}
	if (sa->valid & (FSB_SET_UID | FSB_SET_GID | FSB_SET_CTIME)) {
		/* FSB_SET_CTIME alone: chown to -1:-1 sets the change time */
		uid_t uid = (sa->valid & FSB_SET_UID) ? sa->uid : (uid_t)-1;
		gid_t gid = (sa->valid & FSB_SET_GID) ? sa->gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
			return -errno;
	}
	if (sa->valid & FSB_SET_SIZE) {
		rc = fh != NULL ? ftruncate(fh->fd, sa->size) : truncate(path, sa->size);
		if (rc != 0)
			return -errno;
	}
	if (sa->valid & (FSB_SET_ATIME | FSB_SET_MTIME)) {
		struct timespec ts[2];

		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = ts[0];
		if (sa->valid & FSB_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (sa->valid & FSB_SET_ATIME)
			ts[0] = sa->atime;
		if (sa->valid & FSB_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (sa->valid & FSB_SET_MTIME)
			ts[1] = sa->mtime;
		if (fh != NULL)
			rc = futimens(fh->fd, ts);
		else if (S_ISLNK(in->type))
			rc = utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		else
			rc = utimensat(AT_FDCWD, path, ts, 0);
		if (rc != 0)
			return -errno;
	}
	return 0;
}

static int
local_setattr(struct backend *b, struct inode *in, struct backend_file *fh,
    const struct backend_setattr *sa, struct stat *out)
{
	int fd, rc;

	fd = local_fd_get(b, in);
	if (fd < 0)
		return fd;
	rc = local_setattr_fd(b, in, fd, fh, sa);
	if (rc == 0)
		rc = local_stat_fd(fd, out);
	local_fd_put(b, in);
	return rc;
}

static int
local_readlink(struct backend *b, struct inode *in, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = local_fd_get(b, in);
	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", buf, size);
	local_fd_put(b, in);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

static int
local_depth(struct backend *b, struct inode *dir, unsigned int *depth)
{
	struct backend_local *lb = LOCAL(b);
	struct stat root, st;
	unsigned int d;
	int fd, next, rc = -ENOENT;

	if (local_stat_fd(lb->root_fd, &root) != 0)
		return -EIO;
	fd = local_fd_get(b, dir);
	if (fd < 0)
		return fd;
	next = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	local_fd_put(b, dir);
	if (next < 0)
		return -errno;
	for (d = 0; d < 4096; d++) {
		if (local_stat_fd(next, &st) != 0)
			break;
		if (st.st_dev == root.st_dev && st.st_ino == root.st_ino) {
			*depth = d;
			rc = 0;
			break;
		}
		fd = openat(next, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(next);
		next = fd;
		if (next < 0)
			break;
	}
	if (next >= 0)
		close(next);
	return rc;
}

static int
local_link_probe(struct backend *b, struct inode *dir, unsigned int up,
    const char *down, char *buf, size_t size)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char path[PATH_MAX];
	size_t len = 0, dlen = strlen(down);
	struct stat st;
	ssize_t n;
	int dfd, fd, rc;

	if ((size_t)up * 3 + dlen + 1 > sizeof(path))
		return -ENAMETOOLONG;
	for (; up > 0; up--, len += 3)
		memcpy(path + len, "../", 3);
	memcpy(path + len, down, dlen + 1);
	dfd = local_fd_get(b, dir);
	if (dfd < 0)
		return dfd;
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	rc = fd < 0 ? -errno : 0;
	local_fd_put(b, dir);
	if (rc != 0)
		return rc;
	rc = local_stat_fd(fd, &st);
	if (rc == 0 && S_ISLNK(st.st_mode)) {
		n = readlinkat(fd, "", buf, size);
		if (n < 0)
			rc = -errno;
		else if ((size_t)n >= size)
			rc = -ENAMETOOLONG;
		else {
			buf[n] = '\0';
			rc = 1;
		}
	}
	close(fd);
	return rc;
}

/* Run a creation in dir, then look the new entry up. */
static int
local_finish_create(struct backend *b, int dfd, const char *name,
    struct backend_entry *out)
{
	return local_entry_open(LOCAL(b), dfd, name, false, out);
}

/* What a creation makes: the three differ only in their system call. */
enum local_make_kind { LOCAL_MAKE_NODE, LOCAL_MAKE_DIR, LOCAL_MAKE_SYMLINK };

/* Create dir/name under the caller's credentials, then look it up. */
static int
local_make(struct backend *b, struct inode *dir, const char *name,
    enum local_make_kind kind, mode_t mode, dev_t rdev, const char *target,
    const struct backend_cred *cred, struct backend_entry *out)
{
	struct local_cred_saved saved;
	int dfd, rc = 0;

	dfd = local_fd_get(b, dir);
	if (dfd < 0)
		return dfd;
	local_cred_enter(LOCAL(b), cred, &saved);
	switch (kind) {
	case LOCAL_MAKE_NODE:
		rc = mknodat(dfd, name, mode, rdev);
		break;
	case LOCAL_MAKE_DIR:
		rc = mkdirat(dfd, name, mode);
		break;
	case LOCAL_MAKE_SYMLINK:
		rc = symlinkat(target, dfd, name);
		break;
	}
	rc = rc != 0 ? -errno : 0;
	local_cred_leave(&saved);
	if (rc == 0)
		rc = local_finish_create(b, dfd, name, out);
	local_fd_put(b, dir);
	return rc;
}

static int
local_mknod(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    dev_t rdev, const struct backend_cred *cred, struct backend_entry *out)
{
	return local_make(b, dir, name, LOCAL_MAKE_NODE, mode, rdev, NULL, cred, out);
}

static int
local_mkdir(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    const struct backend_cred *cred, struct backend_entry *out)
{
	return local_make(b, dir, name, LOCAL_MAKE_DIR, mode, 0, NULL, cred, out);
}

static int
local_symlink(struct backend *b, struct inode *dir, const char *name,
    const char *target, const struct backend_cred *cred, struct backend_entry *out)
{
	return local_make(b, dir, name, LOCAL_MAKE_SYMLINK, 0, 0, target, cred, out);
}

static int
local_link(struct backend *b, struct inode *in, struct inode *newdir,
    const char *newname, struct backend_entry *out)
{
	char path[64];
	int fd, dfd, rc;

	rc = local_fd_get2(b, in, newdir, &fd, &dfd);
	if (rc != 0)
		return rc;
	local_proc_path(path, sizeof(path), fd);
	rc = linkat(AT_FDCWD, path, dfd, newname, AT_SYMLINK_FOLLOW) != 0 ? -errno : 0;
	if (rc == 0)
		rc = local_finish_create(b, dfd, newname, out);
	local_fd_put(b, newdir);
	local_fd_put(b, in);
	return rc;
}

static int
local_unlink_flags(struct backend *b, struct inode *dir, const char *name, int flags)
{
	int dfd, rc;

	dfd = local_fd_get(b, dir);
	if (dfd < 0)
		return dfd;
	rc = unlinkat(dfd, name, flags) != 0 ? -errno : 0;
	local_fd_put(b, dir);
	return rc;
}

static int
local_unlink(struct backend *b, struct inode *dir, const char *name)
{
	return local_unlink_flags(b, dir, name, 0);
}

static int
local_rmdir(struct backend *b, struct inode *dir, const char *name)
{
	return local_unlink_flags(b, dir, name, AT_REMOVEDIR);
}

static int
local_rename(struct backend *b, struct inode *olddir, const char *oldname,
    struct inode *newdir, const char *newname, unsigned int flags)
{
	int ofd, nfd, rc;

	rc = local_fd_get2(b, olddir, newdir, &ofd, &nfd);
	if (rc != 0)
		return rc;
	rc = renameat2(ofd, oldname, nfd, newname, flags) != 0 ? -errno : 0;
	local_fd_put(b, newdir);
	local_fd_put(b, olddir);
	return rc;
}

/* Forks this process has made, as its children count them: an fd on
 * /proc/self/fd opened before a fork names the parent's fds. */
static unsigned int local_fork_gen;
static pthread_once_t local_fork_once = PTHREAD_ONCE_INIT;

static void
local_forked(void)
{
	__atomic_add_fetch(&local_fork_gen, 1, __ATOMIC_RELAXED);
}

static void
local_fork_watch(void)
{
	pthread_atfork(NULL, NULL, local_forked);
}

/* /proc/self/fd as a directory fd of this process, or -1: no lock and
 * no system call once it is open (every OPEN comes here). */
static int
local_proc_fd(struct backend_local *lb)
{
	unsigned int gen = __atomic_load_n(&local_fork_gen, __ATOMIC_RELAXED);
	int fd = __atomic_load_n(&lb->proc_fd, __ATOMIC_ACQUIRE);

	if (fd >= 0 && __atomic_load_n(&lb->proc_gen, __ATOMIC_RELAXED) == gen)
		return fd;
	pthread_mutex_lock(&lb->proc_lock);
	if (lb->proc_fd >= 0 && lb->proc_gen != gen) {	/* opened before a fork */
		close(lb->proc_fd);
		__atomic_store_n(&lb->proc_fd, -1, __ATOMIC_RELEASE);
	}
	if (lb->proc_fd < 0) {
		__atomic_store_n(&lb->proc_gen, gen, __ATOMIC_RELAXED);
		__atomic_store_n(&lb->proc_fd,
		    open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC), __ATOMIC_RELEASE);
	}
	fd = lb->proc_fd;
	pthread_mutex_unlock(&lb->proc_lock);
	return fd;
}

/* Re-open the O_PATH fd fd with flags: by its name in /proc/self/fd
 * (three path components fewer to walk than the full path). */
static int
local_reopen(struct backend_local *lb, int fd, int flags)
{
	char path[64];
	int dir = local_proc_fd(lb);

	if (dir < 0) {
		local_proc_path(path, sizeof(path), fd);
		return open(path, flags | O_CLOEXEC);
	}
	snprintf(path, sizeof(path), "%d", fd);
	return openat(dir, path, flags | O_CLOEXEC);
}

static int
local_open(struct backend *b, struct inode *in, int flags, struct backend_file *out)
{
	int fd, ofd;

	fd = local_fd_get(b, in);
	if (fd < 0)
		return fd;
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	ofd = local_reopen(LOCAL(b), fd, flags);
	/*
	 * O_NOATIME is only for the file's owner (or CAP_FOWNER): a server
	 * that is neither gets EPERM for it.  It is a hint about the access
	 * time, not a condition of the open (a guest's overlayfs adds it to
	 * every file it opens, exec included), so the file opens without it.
	 */
	if (ofd < 0 && errno == EPERM && (flags & O_NOATIME))
		ofd = local_reopen(LOCAL(b), fd, flags & ~O_NOATIME);
	local_fd_put(b, in);
	if (ofd < 0)
		return -errno;
	out->fd = ofd;
	out->priv = NULL;
	return 0;
}

static int
local_create(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    int flags, const struct backend_cred *cred, struct backend_entry *out,
    struct backend_file *fout)
{
	struct local_cred_saved saved;
	int dfd, fd, rc;

	dfd = local_fd_get(b, dir);
	if (dfd < 0)
		return dfd;
	local_cred_enter(LOCAL(b), cred, &saved);
	fd = openat(dfd, name, (flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC) & ~O_NOCTTY, mode);
	rc = fd < 0 ? -errno : 0;
	local_cred_leave(&saved);
	if (rc == 0) {
		rc = local_finish_create(b, dfd, name, out);
		if (rc != 0)
			close(fd);
	}
	local_fd_put(b, dir);
	if (rc == 0) {
		fout->fd = fd;
		fout->priv = NULL;
	}
	return rc;
}

static ssize_t
local_read(struct backend *b, struct backend_file *f, void *buf, size_t size, off_t off)
{
	ssize_t n = pread(f->fd, buf, size, off);

	return n < 0 ? -errno : n;
}

static ssize_t
local_write(struct backend *b, struct backend_file *f, const void *buf, size_t size, off_t off)
{
	ssize_t n = pwrite(f->fd, buf, size, off);

	return n < 0 ? -errno : n;
}

static int
local_fsync(struct backend *b, struct backend_file *f, bool datasync)
{
	int rc = datasync ? fdatasync(f->fd) : fsync(f->fd);

	return rc != 0 ? -errno : 0;
}

static void
local_release(struct backend *b, struct backend_file *f)
{
	close(f->fd);
	f->fd = -1;
}

static int
local_fallocate(struct backend *b, struct backend_file *f, int mode, off_t off, off_t len)
{
	return fallocate(f->fd, mode, off, len) != 0 ? -errno : 0;
}

static off_t
local_lseek(struct backend *b, struct backend_file *f, off_t off, int whence)
{
	off_t r = lseek(f->fd, off, whence);

	return r < 0 ? -errno : r;
}

static ssize_t
local_copy_file_range(struct backend *b, struct backend_file *in, off_t off_in,
    struct backend_file *out, off_t off_out, size_t len, unsigned int flags)
{
	ssize_t n = copy_file_range(in->fd, &off_in, out->fd, &off_out, len, flags);

	return n < 0 ? -errno : n;
}

static int
local_opendir(struct backend *b, struct inode *in, struct backend_file *out)
{
	struct local_dir *d;
	int fd, dfd;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	fd = local_fd_get(b, in);
	if (fd < 0) {
		free(d);
		return fd;
	}
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	local_fd_put(b, in);
	if (dfd < 0 || (d->dp = fdopendir(dfd)) == NULL) {
		int rc = -errno;

		if (dfd >= 0)
			close(dfd);
		free(d);
		return rc;
	}
	out->fd = dirfd(d->dp);
	out->priv = d;
	return 0;
}

static int
local_readdir(struct backend *b, struct backend_file *f, off_t off,
    struct backend_dirent *ent)
{
	struct local_dir *d = f->priv;
	struct dirent *de;

	if (off != d->offset) {
		if (off == 0)
			rewinddir(d->dp);
		else
			seekdir(d->dp, off);
		d->offset = off;
	}
	errno = 0;
	de = readdir(d->dp);
	if (de == NULL)
		return errno != 0 ? -errno : 0;
	d->offset = telldir(d->dp);
	ent->ino = de->d_ino;
	ent->type = de->d_type;
	ent->next_off = d->offset;
	strlcpy(ent->name, de->d_name, sizeof(ent->name));
	return 1;
}

static void
local_releasedir(struct backend *b, struct backend_file *f)
{
	struct local_dir *d = f->priv;

	closedir(d->dp);
	free(d);
	f->priv = NULL;
	f->fd = -1;
}

static int
local_fsyncdir(struct backend *b, struct backend_file *f, bool datasync)
{
	return local_fsync(b, f, datasync);
}

static int
local_statfs(struct backend *b, struct inode *in, struct statvfs *out)
{
	int fd, rc;

	fd = local_fd_get(b, in);
	if (fd < 0)
		return fd;
	rc = fstatvfs(fd, out) != 0 ? -errno : 0;
	local_fd_put(b, in);
	return rc;
}

/* For the xattr calls, which take a path, not an O_PATH fd: in's path
 * through /proc; the fd behind it (give it back with local_fd_put) or
 * -errno. */
static int
local_xattr_path(struct backend *b, struct inode *in, char *path, size_t len)
{
	int fd = local_fd_get(b, in);

	if (fd >= 0)
		local_proc_path(path, len, fd);
	return fd;
}

static ssize_t
local_getxattr(struct backend *b, struct inode *in, const char *name, void *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	if (S_ISLNK(in->type))
		return -ENODATA;
	fd = local_xattr_path(b, in, path, sizeof(path));
	if (fd < 0)
		return fd;
	n = getxattr(path, name, buf, size);
	if (n < 0)
		n = -errno;
	local_fd_put(b, in);
	return n;
}

static int
local_setxattr(struct backend *b, struct inode *in, const char *name,
    const void *value, size_t size, int flags)
{
	char path[64];
	int fd, rc;

	if (S_ISLNK(in->type))
		return -EPERM;
	fd = local_xattr_path(b, in, path, sizeof(path));
	if (fd < 0)
		return fd;
	rc = setxattr(path, name, value, size, flags) != 0 ? -errno : 0;
	local_fd_put(b, in);
	return rc;
}

static ssize_t
local_listxattr(struct backend *b, struct inode *in, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	if (S_ISLNK(in->type))
		return 0;
	fd = local_xattr_path(b, in, path, sizeof(path));
	if (fd < 0)
		return fd;
	n = listxattr(path, buf, size);
	if (n < 0)
		n = -errno;
	local_fd_put(b, in);
	return n;
}

static int
local_removexattr(struct backend *b, struct inode *in, const char *name)
{
	char path[64];
	int fd, rc;

	if (S_ISLNK(in->type))
		return -EPERM;
	fd = local_xattr_path(b, in, path, sizeof(path));
	if (fd < 0)
		return fd;
	rc = removexattr(path, name) != 0 ? -errno : 0;
	local_fd_put(b, in);
	return rc;
}

static const struct backend_ops local_ops = {
	.name = "local",
	.destroy = local_destroy,
	.root = local_root,
	.node_release = local_node_release,
	.attach = local_attach,
	.lookup = local_lookup,
	.getattr = local_getattr,
	.getattr_at = local_getattr_at,
	.setattr = local_setattr,
	.readlink = local_readlink,
	.depth = local_depth,
	.link_probe = local_link_probe,
	.mknod = local_mknod,
	.mkdir = local_mkdir,
	.symlink = local_symlink,
	.link = local_link,
	.unlink = local_unlink,
	.rmdir = local_rmdir,
	.rename = local_rename,
	.open = local_open,
	.create = local_create,
	.read = local_read,
	.write = local_write,
	.fsync = local_fsync,
	.release = local_release,
	.fallocate = local_fallocate,
	.lseek = local_lseek,
	.copy_file_range = local_copy_file_range,
	.opendir = local_opendir,
	.readdir = local_readdir,
	.releasedir = local_releasedir,
	.fsyncdir = local_fsyncdir,
	.statfs = local_statfs,
	.getxattr = local_getxattr,
	.setxattr = local_setxattr,
	.listxattr = local_listxattr,
	.removexattr = local_removexattr,
	.host_fd_get = local_fd_get,
	.host_fd_put = local_fd_put,
};

/* The default bound on O_PATH fds: half of what this process may open,
 * after raising the soft limit to the hard one. */
static unsigned int
local_default_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 512;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 20)
		return 1u << 19;
	return rl.rlim_cur / 2;
}

int
backend_local_new(const char *root, unsigned int fd_limit, struct backend **out)
{
	struct backend_local *lb;
	struct stat st;

	lb = calloc(1, sizeof(*lb));
	if (lb == NULL)
		return -ENOMEM;
	lb->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lb->root_fd < 0) {
		int rc = -errno;

		free(lb);
		return rc;
	}
	if (fstat(lb->root_fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		close(lb->root_fd);
		free(lb);
		return -ENOTDIR;
	}
	if (fd_limit == 0)
		fd_limit = local_default_fd_limit();
	fd_cache_init(&lb->cache, lb->root_fd, fd_limit);
	lb->as_root = geteuid() == 0;
	lb->proc_fd = -1;
	pthread_mutex_init(&lb->proc_lock, NULL);
	pthread_once(&local_fork_once, local_fork_watch);
	lb->base.ops = &local_ops;
	*out = &lb->base;
	return 0;
}
