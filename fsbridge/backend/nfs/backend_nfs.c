/*
 * backend_nfs: an NFS export as a backend, through libnfs: its
 * synchronous (nfs_*) API for what holds NFSv4 state or is path based
 * there (open, create, read, write, fsync, statfs, and all of NFSv3),
 * and NFSv4 COMPOUNDs of our own for the rest.  This file has the
 * backend's operations and its construction; the other parts are
 *   nfsb_int.h   what the parts share: structs, prototypes
 *   nfsb_conn.c  the pool of libnfs contexts, reconnection
 *   nfsb4_xdr.c  NFSv4 COMPOUNDs: running, encoding, decoding; by path
 *   nfsb4_fh.c   NFSv4 requests by file handle
 *
 * Nodes.  A node keeps the server's fileid (st_ino, stable for the
 * session), whether it was found by following a link and, over NFSv4,
 * the server's file handle.  Over NFSv4 the requests about a node start
 * from its handle (PUTFH), never from a path: nfsb4_fh.c says which, and
 * how a handle the server no longer knows is found again.
 *
 * Still by path, with the last-known path rebuilt for each request:
 *   - open, and create (mknod of a regular file too): libnfs's OPEN keeps
 *     the NFSv4 open state; the file opened is checked to have the
 *     node's fileid (ESTALE otherwise), before O_TRUNC is applied by
 *     handle.  A create checks afterwards, by the directory's handle,
 *     that the file it made is dir/name: if libnfs's walk went through a
 *     link swapped in on the server meanwhile, the create fails with
 *     ESTALE (the stray empty file stays where the walk led, inside the
 *     export: libnfs resolves links within it);
 *   - statfs (the root);
 *   - every request about a node without a handle: NFSv3 (all of it), and
 *     nodes found by following a link (follow mode), and their entries;
 *     their listings are libnfs's (read whole at opendir), and over
 *     NFSv4 each entry is stat'ed for its fileid (libnfs 4.0 gives none).
 * libnfs resolves a symlink met in an intermediate component of such a
 * path within the export's namespace instead of failing.
 *
 * Symlinks.  The final component is never followed: LOOKUP-only
 * COMPOUNDs over NFSv4; lstat, O_NOFOLLOW opens and creates, and
 * lchmod/lchown/lutimes over NFSv3; readlink returns the target bytes.
 * Only follow mode (lookup with follow) stats through a link, by path.
 *
 * Concurrency and reconnection: see nfsb_conn.c.
 *
 * Caching.  libnfs's directory cache is off and no host watcher exists
 * for NFS (host_fd_get is NULL): the server then gives every entry its
 * fallback timeout (fs_watch.c), and change detection is the kernel's
 * revalidation of (mtime, ctime, size) after that timeout.
 *
 * Not there: xattrs and fallocate (NFS below 4.2 has none), SEEK_HOLE
 * (every byte is data), RENAME_EXCHANGE (EINVAL); RENAME_NOREPLACE is a
 * check before the rename.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "backend_nfs.h"
#include "nfsb_int.h"

#define NFSB_POOL_DEFAULT	4
#define NFSB_POOL_MAX		64
#define NFSB_PROBE_TIMEOUT_MS	5000
/* libnfs 4.0 encodes an NFSv4 COMPOUND into a 4 KiB buffer: a WRITE
 * carries at most this much (with room for the file handle) */
#define NFSB4_WRITE_MAX		3584

/* An open file. */
struct nfsb_file {
	struct nfsb_conn *conn;
	struct nfsfh *fh;		/* NULL after a failed re-open */
	unsigned int gen;		/* conn->gen when fh was opened */
	int flags;
	uint64_t ino;
	bool followed;
	TAILQ_ENTRY(nfsb_file) link;	/* in files, under files_lock */
	unsigned int users;		/* getattr fallbacks using it */
	char path[];
};

/*
 * An open directory.  Positions count entries: 0 ".", 1 "..", then the
 * server's entries in its order.  A directory with a handle (NFSv4) is
 * read a READDIR page at a time from that handle, a page holding the
 * entries' attributes and handles; `in` is pinned by the open file.
 * Otherwise (NFSv3, or found by following a link) libnfs reads the
 * listing whole at open, by path.
 */
struct nfsb_dir {
	struct inode *in;		/* by handle */
	struct nfsb4_dirpage page;	/* by handle: the current page */
	off_t base;			/* by handle: position of page.ents[0] */
	struct nfsdir *dir;		/* by path */
	off_t pos;			/* position of the next entry */
	uint64_t ino, parent_ino;	/* for "." and ".." */
	char path[];
};

#define NFSB(b) ((struct backend_nfs *)(b))

static int nfsb_getattr_open(struct backend_nfs *nb, uint64_t ino, struct stat *out);

const char *
backend_nfs_last_error(void)
{
	return nfsb_errbuf;
}

bool
backend_nfs_is_url(const char *src)
{
	return src != NULL && strncmp(src, "nfs://", 6) == 0;
}

/* ---- backend operations ---- */

static void
nfsb_destroy(struct backend *b)
{
	struct backend_nfs *nb = NFSB(b);
	unsigned int i;

	for (i = 0; i < nb->nconn; i++) {
		if (nb->conns[i].nfs != NULL)
			nfs_destroy_context(nb->conns[i].nfs);
		pthread_mutex_destroy(&nb->conns[i].lock);
	}
	free(nb->conns);
	pthread_mutex_destroy(&nb->files_lock);
	pthread_mutex_destroy(&nb->fh_lock);
	nfsb_reused_free(nb);
	pthread_cond_destroy(&nb->files_idle);
	free(nb->url);
	free(nb->server);
	free(nb->export);
	free(nb);
}

static int
nfsb_root(struct backend *b, struct backend_entry *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_conn *c;
	struct nfsb_node *n;
	int rc;

	struct nfsb4_out o;
	int tries = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (nb->v4) {
		do {
			rc = nfsb4_walk(nb, c, "/", &o);
		} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
		if (rc == 0)
			out->st = o.st;
	} else
		rc = nfsb_stat_path(nb, c, "/", false, &out->st);
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	if (!S_ISDIR(out->st.st_mode))
		return -ENOTDIR;
	n = nfsb_node_new(&out->st, false);
	if (n == NULL)
		return -ENOMEM;
	n->root = true;
	if (nb->v4)
		n->fh = o.fh;
	out->bdata = n;
	return 0;
}

static void
nfsb_node_release(struct backend *b, void *bdata)
{
	free(bdata);
}

static void
nfsb_attach(struct backend *b, struct inode_table *t)
{
	b->inodes = t;
}

/* dir/name by path (a directory found by following a link, NFSv3). */
static int
nfsb_lookup_path(struct backend_nfs *nb, struct inode *dir, const char *name,
    bool follow, struct backend_entry *out)
{
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	int rc;

	rc = nfsb_child_path(nb, dir, name, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	rc = nfsb_entry_at(nb, c, path, follow, out);
	nfsb_conn_unlock(c);
	return rc;
}

/*
 * dir/name by dir's handle.  A symlink to follow (follow mode) is then
 * stat'ed through by path: what it leads to is a node without a handle.
 */
static int
nfsb_lookup(struct backend *b, struct inode *dir, const char *name, bool follow,
    struct backend_entry *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct backend_entry through;
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc, tries = 0, stale = 0;

	if (!nfsb_node_has_fh(dir))
		return nfsb_lookup_path(nb, dir, name, follow, out);
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb4_fh_lookup(nb, c, dir, name, &o);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, dir, NULL) ||
	    nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc == 0)
		rc = nfsb4_entry(nb, &o, out);
	if (rc != 0 || !follow || !S_ISLNK(out->st.st_mode))
		return rc;
	if (nfsb_lookup_path(nb, dir, name, true, &through) != 0)
		return 0;	/* the link as it is */
	nfsb_node_release(b, out->bdata);
	*out = through;
	return 0;
}

/* Stat an inode by its path and check it is still the same file. */
static int
nfsb_getattr_conn(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    const char *path, struct stat *out)
{
	struct nfsb_node *n = nfsb_node_of(in);
	int rc;

	rc = nfsb_stat_path(nb, c, path, n->followed, out);
	if (rc == 0 && !n->root && (uint64_t)out->st_ino != n->ino)
		rc = -ESTALE;
	else if (rc == -ENOENT && !n->root)
		rc = -ESTALE;
	return rc;
}

/* Stat an inode by its handle, or its path if it has none. */
static int
nfsb_getattr_any(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    struct stat *out)
{
	char path[NFSB_PATH_MAX];
	int rc, tries = 0, stale = 0;

	if (!nfsb_node_has_fh(in)) {
		rc = nfsb_path(nb, in, path, sizeof(path));
		return rc != 0 ? rc : nfsb_getattr_conn(nb, c, in, path, out);
	}
	do {
		rc = nfsb4_fh_getattr(nb, c, in, out);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, in, NULL) ||
	    nfsb_conn_retry(nb, c, &rc, true, &tries));
	return rc;
}

static int
nfsb_getattr(struct backend *b, struct inode *in, struct stat *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_conn *c;
	int rc;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	rc = nfsb_getattr_any(nb, c, in, out);
	nfsb_conn_unlock(c);
	if (rc == -ESTALE)
		rc = nfsb_getattr_open(nb, nfsb_node_of(in)->ino, out);
	return rc;
}

/* Times for lutimes: microseconds; OMIT keeps the current value, NOW
 * is this host's clock. */
static void
nfsb_setattr_times(const struct backend_setattr *sa, const struct stat *cur,
    struct timeval tv[2])
{
	struct timeval now;

	gettimeofday(&now, NULL);
	tv[0].tv_sec = cur->st_atim.tv_sec;
	tv[0].tv_usec = cur->st_atim.tv_nsec / 1000;
	tv[1].tv_sec = cur->st_mtim.tv_sec;
	tv[1].tv_usec = cur->st_mtim.tv_nsec / 1000;
	if (sa->valid & FSB_SET_ATIME_NOW)
		tv[0] = now;
	else if (sa->valid & FSB_SET_ATIME) {
		tv[0].tv_sec = sa->atime.tv_sec;
		tv[0].tv_usec = sa->atime.tv_nsec / 1000;
	}
	if (sa->valid & FSB_SET_MTIME_NOW)
		tv[1] = now;
	else if (sa->valid & FSB_SET_MTIME) {
		tv[1].tv_sec = sa->mtime.tv_sec;
		tv[1].tv_usec = sa->mtime.tv_nsec / 1000;
	}
}

/* Truncate a file by path without following a final symlink. */
static int
nfsb_truncate_path(struct nfsb_conn *c, const char *path, off_t size)
{
	struct nfsfh *fh;
	int rc;

	rc = nfsb_sync_open(c, path, O_WRONLY | O_NOFOLLOW, &fh);
	if (rc != 0)
		return rc;
	rc = nfsb_sync_ftruncate(c, fh, (uint64_t)size);
	nfsb_sync_close(c, fh);
	return rc;
}

/* The steps of a setattr, on a locked context (mutations: no retry). */
static int
nfsb_setattr_steps(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    const char *path, struct nfsfh *fh, const struct backend_setattr *sa)
{
	int rc = 0;

	if (nb->v4)
		return nfsb4_setattr(nb, c, path, sa);
	if (sa->valid & FSB_SET_MODE)
		rc = fh != NULL ? nfsb_sync_fchmod(c, fh, (int)sa->mode) :
		    nfsb_sync_lchmod(c, path, (int)sa->mode);
	if (rc == 0 && (sa->valid & (FSB_SET_UID | FSB_SET_GID))) {
		int uid = (sa->valid & FSB_SET_UID) ? (int)sa->uid : -1;
		int gid = (sa->valid & FSB_SET_GID) ? (int)sa->gid : -1;

		rc = fh != NULL ? nfsb_sync_fchown(c, fh, uid, gid) :
		    nfsb_sync_lchown(c, path, uid, gid);
	}
	if (rc == 0 && (sa->valid & FSB_SET_SIZE))
		rc = fh != NULL ? nfsb_sync_ftruncate(c, fh, (uint64_t)sa->size) :
		    nfsb_truncate_path(c, path, sa->size);
	if (rc == 0 && (sa->valid & (FSB_SET_ATIME | FSB_SET_MTIME))) {
		struct timeval tv[2];
		struct stat cur;

		rc = nfsb_getattr_conn(nb, c, in, path, &cur);
		if (rc == 0) {
			nfsb_setattr_times(sa, &cur, tv);
			rc = nfsb_sync_lutimes(c, path, tv);
		}
	}
	return rc;
}

/* An open file's handle on its (locked) context, re-opened if that
 * context reconnected since. */
static int nfsb_file_ready(struct backend_nfs *nb, struct nfsb_file *f);

/* One SETATTR by handle, with the attributes after it (a mutation: no
 * retry but where the handle was unknown, and nothing ran). */
static int
nfsb4_setattr_fh(struct backend_nfs *nb, struct inode *in,
    const struct backend_setattr *sa, struct stat *out)
{
	struct nfsb_conn *c;
	int rc, tries = 1, stale = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb4_fh_setattr(nb, c, in, sa, out);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, in, NULL));
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc;
}

static int
nfsb_setattr(struct backend *b, struct inode *in, struct backend_file *bf,
    const struct backend_setattr *sa, struct stat *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf != NULL ? bf->priv : NULL;
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	int rc, tries = 1;

	if (nfsb_node_has_fh(in))
		return nfsb4_setattr_fh(nb, in, sa, out);

	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc != 0)
		return rc;
	if (f != NULL) {
		c = f->conn;
		rc = nfsb_conn_lock(nb, c);
		if (rc == 0 && (rc = nfsb_file_ready(nb, f)) != 0)
			nfsb_conn_unlock(c);
	} else
		rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	rc = nfsb_setattr_steps(nb, c, in, path, f != NULL ? f->fh : NULL, sa);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	if (rc == 0)
		rc = nfsb_getattr_conn(nb, c, in, path, out);
	nfsb_conn_unlock(c);
	return rc;
}

/* A link's target by its path (a node without a handle). */
static int
nfsb_readlink_path(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    char **target)
{
	struct nfs_stat_64 st;
	char path[NFSB_PATH_MAX];
	int rc, tries = 0;

	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_sync_readlink(c, path, target);
		/* libnfs 4.0 may leave a long NFSv4 target unterminated: the
		 * link's size says where it ends */
		if (rc == 0 && nfsb_sync_stat(c, path, false, &st) == 0 &&
		    st.nfs_size < strlen(*target))
			(*target)[st.nfs_size] = '\0';
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	return rc;
}

static int
nfsb_readlink(struct backend *b, struct inode *in, char *buf, size_t size)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_conn *c;
	char *target = NULL;
	int rc, tries = 0, stale = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (!nfsb_node_has_fh(in))
		rc = nfsb_readlink_path(nb, c, in, &target);
	else do {
		rc = nfsb4_fh_readlink(nb, c, in, &target);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, in, NULL) ||
	    nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	if (strlen(target) >= size)
		rc = -ENAMETOOLONG;
	else
		strcpy(buf, target);
	free(target);
	return rc;
}

/* The number of directories between the root and dir, by the last-known
 * locations the inode table keeps (the path every request uses). */
static int
nfsb_depth(struct backend *b, struct inode *dir, unsigned int *depth)
{
	char path[NFSB_PATH_MAX];
	unsigned int d = 0;
	const char *p;
	int rc;

	rc = nfsb_path(NFSB(b), dir, path, sizeof(path));
	if (rc != 0)
		return -ENOENT;
	for (p = path; *p != '\0'; p++)
		if (*p == '/' && p[1] != '\0')
			d++;
	*depth = d;
	return 0;
}

/* policy_link_resolve's probe (symlinks=deny), by path from the export
 * root: `up` components off dir's path, then down. */
static int
nfsb_link_probe(struct backend *b, struct inode *dir, unsigned int up,
    const char *down, char *buf, size_t size)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX], *target = NULL;
	struct nfsb_conn *c;
	struct stat st;
	size_t len;
	int rc, tries = 0;

	rc = nfsb_path(nb, dir, path, sizeof(path));
	if (rc != 0)
		return rc;
	for (len = strlen(path); up > 0; up--) {
		while (len > 1 && path[len - 1] != '/')
			len--;
		if (len > 1)
			len--;
	}
	if (len + 1 + strlen(down) + 1 > sizeof(path))
		return -ENAMETOOLONG;
	snprintf(path + len, sizeof(path) - len, "%s%s", len > 1 ? "/" : "", down);
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	rc = nfsb_stat_path(nb, c, path, false, &st);
	if (rc == 0 && S_ISLNK(st.st_mode)) {
		do {
			rc = nfs_readlink2(c->nfs, path, &target);
		} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	}
	nfsb_conn_unlock(c);
	if (rc != 0 || target == NULL)
		return rc;
	if ((size_t)st.st_size < strlen(target))
		target[st.st_size] = '\0';	/* libnfs 4.0: see nfsb_readlink_path */
	rc = strlen(target) < size ? 1 : -ENAMETOOLONG;
	if (rc == 1)
		strcpy(buf, target);
	free(target);
	return rc;
}

/* Run a creation under the caller's ids (a root server only). */
static void
nfsb_cred_enter(struct backend_nfs *nb, struct nfsb_conn *c, const struct backend_cred *cred)
{
	if (!nb->as_root || cred == NULL)
		return;
	nfs_set_uid(c->nfs, (int)cred->uid);
	nfs_set_gid(c->nfs, (int)cred->gid);
}

static void
nfsb_cred_leave(struct backend_nfs *nb, struct nfsb_conn *c, const struct backend_cred *cred)
{
	if (!nb->as_root || cred == NULL || c->nfs == NULL)
		return;
	nfs_set_uid(c->nfs, (int)geteuid());
	nfs_set_gid(c->nfs, (int)getegid());
}

enum nfsb_make_kind { NFSB_MAKE_NODE, NFSB_MAKE_DIR, NFSB_MAKE_SYMLINK };

struct nfsb_make {
	enum nfsb_make_kind kind;
	mode_t mode;
	dev_t rdev;
	const char *target;
};

static int nfsb_create_open(struct backend_nfs *nb, struct nfsb_conn *c,
    const char *path, int flags, mode_t mode, struct nfsfh **fh, bool *created);
static const struct backend_setattr nfsb_create_times;

/* Make dir/name (whose path is `path`) on a locked context. */
static int
nfsb_make_call(struct backend_nfs *nb, struct nfsb_conn *c, const char *dir,
    const char *name, const char *path, const struct nfsb_make *m)
{
	switch (m->kind) {
	case NFSB_MAKE_NODE:
		if (S_ISREG(m->mode)) {
			struct nfsfh *fh;
			bool created;
			int rc = nfsb_create_open(nb, c, path, O_WRONLY | O_CREAT | O_EXCL,
			    m->mode, &fh, &created);

			if (rc == 0 && nb->v4)	/* (odd times are no reason to fail) */
				(void)nfsb4_setattr(nb, c, path, &nfsb_create_times);
			if (rc == 0)
				nfsb_sync_close(c, fh);
			return rc;
		}
		if (nb->v4)	/* libnfs 4.0 cannot make these over NFSv4 */
			return nfsb4_mknod(nb, c, dir, name, m->mode, m->rdev);
		return nfsb_sync_mknod(c, path, (int)m->mode, (int)m->rdev);
	case NFSB_MAKE_DIR:
		return nfsb_sync_mkdir(c, path, (int)m->mode);
	case NFSB_MAKE_SYMLINK:
		return nfsb_sync_symlink(c, m->target, path);
	}
	return -EINVAL;
}

/* A directory, symlink or special file in dir by dir's handle: one
 * CREATE that brings the new node's handle and attributes back. */
static int
nfsb_make_fh(struct backend_nfs *nb, struct inode *dir, const char *name,
    const struct nfsb_make *m, const struct backend_cred *cred,
    struct backend_entry *out)
{
	mode_t mode = m->kind == NFSB_MAKE_DIR ? S_IFDIR | (m->mode & 07777) : m->mode;
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc, tries = 1, stale = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	nfsb_cred_enter(nb, c, cred);
	do {
		rc = nfsb4_fh_create(nb, c, dir, name, mode, m->rdev, m->target, &o);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, dir, NULL));
	nfsb_cred_leave(nb, c, cred);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc != 0 ? rc : nfsb4_entry(nb, &o, out);
}

static int nfsb_create(struct backend *b, struct inode *dir, const char *name,
    mode_t mode, int flags, const struct backend_cred *cred,
    struct backend_entry *out, struct backend_file *fout);
static void nfsb_release(struct backend *b, struct backend_file *bf);

/* A regular file (mknod) in a directory with a handle: an exclusive
 * create, checked as create checks it, then closed. */
static int
nfsb_make_file(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    const struct backend_cred *cred, struct backend_entry *out)
{
	struct backend_file f;
	int rc;

	rc = nfsb_create(b, dir, name, mode, O_WRONLY | O_CREAT | O_EXCL, cred, out, &f);
	if (rc == 0)
		nfsb_release(b, &f);
	return rc;
}

/* The common frame of mknod/mkdir/symlink: create, then stat.  A
 * regular file (mknod S_IFREG) is an OPEN, made by path (libnfs). */
static int
nfsb_make(struct backend *b, struct inode *dir, const char *name,
    const struct nfsb_make *m, const struct backend_cred *cred,
    struct backend_entry *out)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX], dpath[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	int rc, tries = 1;

	if (nfsb_node_has_fh(dir) && m->kind == NFSB_MAKE_NODE && S_ISREG(m->mode))
		return nfsb_make_file(b, dir, name, m->mode, cred, out);
	if (nfsb_node_has_fh(dir))
		return nfsb_make_fh(nb, dir, name, m, cred, out);

	rc = nfsb_path(nb, dir, dpath, sizeof(dpath));
	if (rc == 0)
		rc = nfsb_child_path(nb, dir, name, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	nfsb_cred_enter(nb, c, cred);
	rc = nfsb_make_call(nb, c, dpath, name, path, m);
	nfsb_cred_leave(nb, c, cred);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	if (rc == 0)
		rc = nfsb_entry_at(nb, c, path, false, out);
	nfsb_conn_unlock(c);
	return rc;
}

static int
nfsb_mknod(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    dev_t rdev, const struct backend_cred *cred, struct backend_entry *out)
{
	struct nfsb_make m = { NFSB_MAKE_NODE, mode, rdev, NULL };

	return nfsb_make(b, dir, name, &m, cred, out);
}

static int
nfsb_mkdir(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    const struct backend_cred *cred, struct backend_entry *out)
{
	struct nfsb_make m = { NFSB_MAKE_DIR, mode, 0, NULL };

	return nfsb_make(b, dir, name, &m, cred, out);
}

static int
nfsb_symlink(struct backend *b, struct inode *dir, const char *name,
    const char *target, const struct backend_cred *cred, struct backend_entry *out)
{
	struct nfsb_make m = { NFSB_MAKE_SYMLINK, S_IFLNK | 0777, 0, target };

	return nfsb_make(b, dir, name, &m, cred, out);
}

/*
 * Over NFSv4 a LINK of our own (no lookup follows a link).  libnfs's own
 * link (NFSv3) resolves its source through a final symlink: there a hard
 * link to a symlink is refused.  A source that turns out to be another
 * file than `in` is taken back (-ESTALE).
 */
static int
nfsb_link_fh(struct backend_nfs *nb, struct inode *in, struct inode *newdir,
    const char *newname, struct backend_entry *out)
{
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc, tries = 1, stale = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb4_fh_link(nb, c, in, newdir, newname, &o);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, in, newdir));
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc != 0 ? rc : nfsb4_entry(nb, &o, out);
}

static int
nfsb_link(struct backend *b, struct inode *in, struct inode *newdir,
    const char *newname, struct backend_entry *out)
{
	struct backend_nfs *nb = NFSB(b);
	char oldpath[NFSB_PATH_MAX], newpath[NFSB_PATH_MAX], dirpath[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	int rc, tries = 1;

	if ((S_ISLNK(in->type) && !nb->v4) || nfsb_node_of(in)->followed)
		return -EPERM;
	if (nfsb_node_has_fh(in) && nfsb_node_has_fh(newdir))
		return nfsb_link_fh(nb, in, newdir, newname, out);
	rc = nfsb_path(nb, in, oldpath, sizeof(oldpath));
	if (rc == 0)
		rc = nfsb_path(nb, newdir, dirpath, sizeof(dirpath));
	if (rc == 0)
		rc = nfsb_child_path(nb, newdir, newname, newpath, sizeof(newpath));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	rc = nb->v4 ? nfsb4_link(nb, c, oldpath, dirpath, newname) :
	    nfsb_sync_link(c, oldpath, newpath);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	if (rc == 0)
		rc = nfsb_entry_at(nb, c, newpath, false, out);
	if (rc == 0 && (uint64_t)out->st.st_ino != nfsb_node_of(in)->ino) {
		nfsb_sync_unlink(c, newpath);
		free(out->bdata);
		rc = -ESTALE;
	}
	nfsb_conn_unlock(c);
	return rc;
}

static int
nfsb_remove(struct backend *b, struct inode *dir, const char *name, bool is_dir)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	int rc, tries = 1, stale = 0;

	if (nfsb_node_has_fh(dir)) {
		rc = nfsb_conn_get(nb, &c);
		if (rc != 0)
			return rc;
		do {
			rc = nfsb4_fh_remove(nb, c, dir, name, is_dir);
		} while (nfsb4_stale_retry(nb, c, rc, &stale, dir, NULL));
		nfsb_conn_retry(nb, c, &rc, false, &tries);
		nfsb_conn_unlock(c);
		return rc;
	}
	rc = nfsb_child_path(nb, dir, name, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	rc = is_dir ? nfsb_sync_rmdir(c, path) : nfsb_sync_unlink(c, path);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc;
}

static int
nfsb_unlink(struct backend *b, struct inode *dir, const char *name)
{
	return nfsb_remove(b, dir, name, false);
}

static int
nfsb_rmdir(struct backend *b, struct inode *dir, const char *name)
{
	return nfsb_remove(b, dir, name, true);
}

/* A rename by the handles of both directories. */
static int
nfsb_rename_fh(struct backend_nfs *nb, struct inode *olddir, const char *oldname,
    struct inode *newdir, const char *newname, unsigned int flags)
{
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc, tries = 1, stale = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (flags & RENAME_NOREPLACE) {
		do {
			rc = nfsb4_fh_lookup(nb, c, newdir, newname, &o);
		} while (nfsb4_stale_retry(nb, c, rc, &stale, newdir, NULL));
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
		stale = 0;
	}
	if (rc == 0) do {
		rc = nfsb4_fh_rename(nb, c, olddir, oldname, newdir, newname);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, olddir, newdir));
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc;
}

/* RENAME_NOREPLACE is checked before the rename (NFS has no atomic
 * form: a racing creation on the server may still be replaced);
 * RENAME_EXCHANGE cannot be done. */
static int
nfsb_rename(struct backend *b, struct inode *olddir, const char *oldname,
    struct inode *newdir, const char *newname, unsigned int flags)
{
	struct backend_nfs *nb = NFSB(b);
	char oldpath[NFSB_PATH_MAX], newpath[NFSB_PATH_MAX];
	struct nfs_stat_64 s;
	struct nfsb_conn *c;
	int rc, tries = 1;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (nfsb_node_has_fh(olddir) && nfsb_node_has_fh(newdir))
		return nfsb_rename_fh(nb, olddir, oldname, newdir, newname, flags);
	rc = nfsb_child_path(nb, olddir, oldname, oldpath, sizeof(oldpath));
	if (rc == 0)
		rc = nfsb_child_path(nb, newdir, newname, newpath, sizeof(newpath));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (flags & RENAME_NOREPLACE) {
		rc = nfsb_sync_stat(c, newpath, false, &s);
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
	}
	if (rc == 0)
		rc = nfsb_sync_rename(c, oldpath, newpath);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc;
}

/* Flags libnfs understands; never follow a final symlink unless the
 * node was found by following one (follow mode). */
static int
nfsb_open_flags(int flags, bool followed)
{
	flags &= O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_CREAT | O_EXCL;
	if (!followed)
		flags |= O_NOFOLLOW;
	return flags;
}

static struct nfsb_file *
nfsb_file_new(struct nfsb_conn *c, const char *path, int flags, uint64_t ino, bool followed)
{
	struct nfsb_file *f = calloc(1, sizeof(*f) + strlen(path) + 1);

	if (f == NULL)
		return NULL;
	f->conn = c;
	f->gen = c->gen;
	f->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC);
	f->ino = ino;
	f->followed = followed;
	strcpy(f->path, path);
	return f;
}

static int
nfsb_file_ready(struct backend_nfs *nb, struct nfsb_file *f)
{
	struct nfs_stat_64 s;
	struct nfsfh *fh;
	int rc;

	if (f->fh != NULL && f->gen == f->conn->gen)
		return 0;
	f->fh = NULL;		/* it belonged to the torn-down context */
	rc = nfsb_sync_open(f->conn, f->path, nfsb_open_flags(f->flags, f->followed), &fh);
	if (nfsb_owner_desync(f->conn, rc)) {
		nfsb_conn_reset(nb, f->conn);
		rc = nfsb_sync_open(f->conn, f->path, nfsb_open_flags(f->flags, f->followed), &fh);
	}
	if (rc != 0)
		return rc;
	rc = nfsb_sync_fstat(f->conn, fh, &s);
	if (rc == 0 && s.nfs_ino != f->ino)
		rc = -ESTALE;
	if (rc != 0) {
		nfsb_sync_close(f->conn, fh);
		return rc;
	}
	f->fh = fh;
	f->gen = f->conn->gen;
	return 0;
}

/* Close f's handle if it belongs to its context's connection. */
static void
nfsb_file_close(struct nfsb_file *f)
{
	pthread_mutex_lock(&f->conn->lock);
	if (f->fh != NULL && f->gen == f->conn->gen && f->conn->nfs != NULL)
		nfsb_sync_close(f->conn, f->fh);
	f->fh = NULL;
	pthread_mutex_unlock(&f->conn->lock);
}

static void
nfsb_file_register(struct backend_nfs *nb, struct nfsb_file *f)
{
	pthread_mutex_lock(&nb->files_lock);
	TAILQ_INSERT_TAIL(&nb->files, f, link);
	pthread_mutex_unlock(&nb->files_lock);
}

static void
nfsb_file_unregister(struct backend_nfs *nb, struct nfsb_file *f)
{
	pthread_mutex_lock(&nb->files_lock);
	TAILQ_REMOVE(&nb->files, f, link);
	while (f->users > 0)
		pthread_cond_wait(&nb->files_idle, &nb->files_lock);
	pthread_mutex_unlock(&nb->files_lock);
}

/* Stat a file by one of its open handles (it may have no path left). */
static int
nfsb_getattr_open(struct backend_nfs *nb, uint64_t ino, struct stat *out)
{
	struct nfs_stat_64 s;
	struct nfsb_file *f;
	int rc;

	pthread_mutex_lock(&nb->files_lock);
	TAILQ_FOREACH(f, &nb->files, link)
		if (f->ino == ino)
			break;
	if (f != NULL)
		f->users++;
	pthread_mutex_unlock(&nb->files_lock);
	if (f == NULL)
		return -ESTALE;
	rc = nfsb_conn_lock(nb, f->conn);
	if (rc == 0) {
		rc = nfsb_file_ready(nb, f);
		if (rc == 0)
			rc = nfsb_sync_fstat(f->conn, f->fh, &s);
		nfsb_conn_unlock(f->conn);
	}
	pthread_mutex_lock(&nb->files_lock);
	f->users--;
	pthread_cond_broadcast(&nb->files_idle);
	pthread_mutex_unlock(&nb->files_lock);
	if (rc != 0)
		return -ESTALE;
	nfsb_stat_convert(&s, out);
	return 0;
}

static int
nfsb_open(struct backend *b, struct inode *in, int flags, struct backend_file *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_node *n = nfsb_node_of(in);
	char path[NFSB_PATH_MAX];
	struct nfsb_file *f;
	struct nfsb_conn *c;
	int rc, tries = 0;

	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	f = nfsb_file_new(c, path, flags & ~(O_CREAT | O_EXCL), n->ino, n->followed);
	if (f == NULL) {
		nfsb_conn_unlock(c);
		return -ENOMEM;
	}
	/* O_TRUNC at open is a mutation: only retried when nothing ran.
	 * A node with a handle is truncated by it once the file opened by
	 * path has proved to be that node's */
	f->flags = flags & ~(O_CREAT | O_EXCL);
	if (nfsb_node_has_fh(in))
		f->flags &= ~O_TRUNC;
	do {
		rc = nfsb_file_ready(nb, f);
	} while (nfsb_conn_retry(nb, c, &rc, !(f->flags & O_TRUNC), &tries));
	f->flags &= ~O_TRUNC;
	nfsb_conn_unlock(c);
	if (rc == 0 && (flags & O_TRUNC) && nfsb_node_has_fh(in)) {
		static const struct backend_setattr empty = { .valid = FSB_SET_SIZE, .size = 0 };

		rc = nfsb4_setattr_fh(nb, in, &empty, NULL);
		if (rc != 0)
			nfsb_file_close(f);
	}
	if (rc != 0) {
		free(f);
		return rc;
	}
	nfsb_file_register(nb, f);
	out->fd = -1;
	out->priv = f;
	return 0;
}

static const struct backend_setattr nfsb_create_times = {
	.valid = FSB_SET_ATIME | FSB_SET_ATIME_NOW | FSB_SET_MTIME | FSB_SET_MTIME_NOW,
};

/*
 * Open path, creating it with mode if needed.  libnfs 4.0's NFSv4 create
 * is always exclusive (and sets the mode only then), so O_CREAT without
 * O_EXCL is an exclusive create and, if the file exists, a plain open.
 * An exclusive create stores its verifier in the times: where *created,
 * the caller sets them (nfsb_create_times).
 */
static int
nfsb_create_open_once(struct nfsb_conn *c, const char *path, int flags, mode_t mode,
    struct nfsfh **fh, bool *created)
{
	int rc;

	rc = nfsb_sync_create(c, path, nfsb_open_flags(flags | O_CREAT | O_EXCL, false),
	    (int)(mode & 07777), fh);
	*created = rc == 0;
	if (rc == -EEXIST && !(flags & O_EXCL))
		rc = nfsb_sync_open(c, path, nfsb_open_flags(flags & ~O_CREAT, false), fh);
	return rc;
}

static int
nfsb_create_open(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    int flags, mode_t mode, struct nfsfh **fh, bool *created)
{
	int rc = nfsb_create_open_once(c, path, flags, mode, fh, created);

	if (nfsb_owner_desync(c, rc)) {
		nfsb_conn_reset(nb, c);
		if (c->nfs != NULL)
			rc = nfsb_create_open_once(c, path, flags, mode, fh, created);
	}
	return rc;
}

/*
 * The entry of the file just opened (fh; made if created) as dir/name,
 * found by dir's handle: it must be the file open, or libnfs's walk to
 * dir went through a link swapped in on the server (ESTALE).
 */
static int
nfsb_created_entry(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *dir,
    const char *name, struct nfsfh *fh, bool created, struct backend_entry *out)
{
	struct nfs_stat_64 s;
	struct nfsb4_out o, t;
	int rc, stale = 0;

	do {
		rc = nfsb4_fh_lookup(nb, c, dir, name, &o);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, dir, NULL));
	if (rc == 0)
		rc = nfsb_sync_fstat(c, fh, &s);
	if (rc == 0 && (!o.has_st || (uint64_t)o.st.st_ino != s.nfs_ino))
		rc = -ESTALE;
	if (rc == 0 && created &&	/* (the file is open: odd times are no reason to fail) */
	    nfsb4_fh_setattr_at(nb, c, &o.fh, &nfsb_create_times, &t) == 0 && t.has_st)
		o.st = t.st;
	return rc != 0 ? rc : nfsb4_entry(nb, &o, out);
}

static int
nfsb_create(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    int flags, const struct backend_cred *cred, struct backend_entry *out,
    struct backend_file *fout)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX];
	struct nfsb_file *f = NULL;
	struct nfsb_conn *c;
	struct nfsfh *fh;
	bool created;
	int rc, tries = 1;

	rc = nfsb_child_path(nb, dir, name, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	nfsb_cred_enter(nb, c, cred);
	rc = nfsb_create_open(nb, c, path, flags, mode, &fh, &created);
	nfsb_cred_leave(nb, c, cred);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	if (rc == 0) {
		if (nfsb_node_has_fh(dir))
			rc = nfsb_created_entry(nb, c, dir, name, fh, created, out);
		else {
			if (created && nb->v4)	/* (odd times are no reason to fail) */
				(void)nfsb4_setattr(nb, c, path, &nfsb_create_times);
			rc = nfsb_entry_at(nb, c, path, false, out);
		}
		f = rc == 0 ? nfsb_file_new(c, path, flags, out->st.st_ino, false) : NULL;
		if (rc == 0 && f == NULL) {
			free(out->bdata);
			rc = -ENOMEM;
		}
		if (rc != 0)
			nfsb_sync_close(c, fh);
		else
			f->fh = fh;
	}
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	nfsb_file_register(nb, f);
	fout->fd = -1;
	fout->priv = f;
	return 0;
}

static ssize_t
nfsb_pread_all(struct nfsb_conn *c, struct nfsfh *fh, char *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		int n = nfsb_sync_pread(c, fh, (uint64_t)off + done, size - done, buf + done);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t
nfsb_read(struct backend *b, struct backend_file *bf, void *buf, size_t size, off_t off)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	int rc, tries = 0;
	ssize_t n;

	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_file_ready(nb, f);
		n = rc != 0 ? rc : nfsb_pread_all(f->conn, f->fh, buf, size, off);
		rc = n < 0 ? (int)n : 0;
	} while (nfsb_conn_retry(nb, f->conn, &rc, true, &tries));
	nfsb_conn_unlock(f->conn);
	return rc != 0 ? rc : n;
}

static ssize_t
nfsb_write(struct backend *b, struct backend_file *bf, const void *buf, size_t size, off_t off)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	size_t done = 0;
	int rc, tries = 1;

	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	rc = nfsb_file_ready(nb, f);
	while (rc == 0 && done < size) {
		size_t want = size - done;
		int n;

		if (nb->v4 && want > NFSB4_WRITE_MAX)
			want = NFSB4_WRITE_MAX;
		n = nfsb_sync_pwrite(f->conn, f->fh, (uint64_t)off + done, want,
		    (const char *)buf + done);

		if (n < 0)
			rc = n;
		else if (n == 0)
			rc = -EIO;
		else
			done += (size_t)n;
	}
	nfsb_conn_retry(nb, f->conn, &rc, false, &tries);
	nfsb_conn_unlock(f->conn);
	if (rc != 0 && done == 0)
		return rc;
	return (ssize_t)done;
}

static int
nfsb_fsync(struct backend *b, struct backend_file *bf, bool datasync)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	int rc, tries = 1;

	(void)datasync;
	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	rc = nfsb_file_ready(nb, f);
	if (rc == 0)
		rc = nfsb_sync_fsync(f->conn, f->fh);
	/* a commit after a reconnect cannot vouch for earlier writes */
	nfsb_conn_retry(nb, f->conn, &rc, false, &tries);
	nfsb_conn_unlock(f->conn);
	return rc;
}

static void
nfsb_release(struct backend *b, struct backend_file *bf)
{
	struct nfsb_file *f = bf->priv;

	nfsb_file_unregister(NFSB(b), f);
	nfsb_file_close(f);
	free(f);
	bf->priv = NULL;
}

static int
nfsb_fallocate(struct backend *b, struct backend_file *bf, int mode, off_t off, off_t len)
{
	return -EOPNOTSUPP;
}

/* SEEK_DATA/SEEK_HOLE (NFS below 4.2 knows no holes): all data. */
static off_t
nfsb_lseek(struct backend *b, struct backend_file *bf, off_t off, int whence)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	struct nfs_stat_64 s;
	int rc, tries = 0;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_file_ready(nb, f);
		if (rc == 0)
			rc = nfsb_sync_fstat(f->conn, f->fh, &s);
	} while (nfsb_conn_retry(nb, f->conn, &rc, true, &tries));
	nfsb_conn_unlock(f->conn);
	if (rc != 0)
		return rc;
	if (off < 0 || (uint64_t)off >= s.nfs_size)
		return -ENXIO;
	return whence == SEEK_DATA ? off : (off_t)s.nfs_size;
}

/* A copy through this host, in bounded chunks. */
static ssize_t
nfsb_copy_file_range(struct backend *b, struct backend_file *in, off_t off_in,
    struct backend_file *out, off_t off_out, size_t len, unsigned int flags)
{
	size_t chunk = 1 << 20, done = 0;
	char *buf;
	ssize_t n = 0;

	if (flags != 0)
		return -EINVAL;
	buf = malloc(chunk);
	if (buf == NULL)
		return -ENOMEM;
	while (done < len) {
		size_t want = len - done < chunk ? len - done : chunk;

		n = nfsb_read(b, in, buf, want, off_in + (off_t)done);
		if (n <= 0)
			break;
		n = nfsb_write(b, out, buf, (size_t)n, off_out + (off_t)done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	free(buf);
	if (done == 0 && n < 0)
		return n;
	return (ssize_t)done;
}

/* The fileids "." and ".." list: the directory and its last-known parent. */
static void
nfsb_dir_dots(struct backend_nfs *nb, struct inode *in, struct nfsb_dir *d)
{
	char name[NAME_MAX + 1];
	struct inode *parent;

	d->ino = d->parent_ino = nfsb_node_of(in)->ino;
	if (!nfsb_node_of(in)->root &&
	    inode_table_location(nb->base.inodes, in, &parent, name, sizeof(name)) == 0) {
		d->parent_ino = nfsb_node_of(parent)->ino;
		inode_table_put(nb->base.inodes, parent);
	}
}

/*
 * Read the page of d's listing that starts at `cookie` (0: the first)
 * into d->page, as positions from base on.  A cookie the server no
 * longer takes (the directory changed) is -EAGAIN.
 */
static int
nfsb_dir_page(struct backend_nfs *nb, struct nfsb_dir *d, uint64_t cookie,
    const char *verf, off_t base)
{
	struct nfsb_conn *c;
	int rc, tries = 0, stale = 0;

	d->base = 0;		/* no page, should this fail */
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb4_fh_readdir(nb, c, d->in, cookie, verf, &d->page);
	} while (nfsb4_stale_retry(nb, c, rc, &stale, d->in, NULL) ||
	    nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0) {
		nfsb4_page_clear(&d->page);
		return rc;
	}
	d->base = base;
	return 0;
}

/* Make d->page the page holding position off (>= 2), or the last page if
 * off is past the end. */
static int
nfsb_dir_seek(struct backend_nfs *nb, struct nfsb_dir *d, off_t off)
{
	static const char noverf[NFS4_VERIFIER_SIZE];
	bool restarted = false;
	int rc;

	for (;;) {
		if (d->base >= 2 && off >= d->base &&
		    (off < d->base + (off_t)d->page.n || d->page.eof))
			return 0;
		if (d->base < 2 || off < d->base)
			rc = nfsb_dir_page(nb, d, 0, noverf, 2);
		else
			rc = nfsb_dir_page(nb, d, d->page.cookie, d->page.verf,
			    d->base + (off_t)d->page.n);
		if (rc == -EAGAIN && !restarted) {
			restarted = true;	/* from the start, skipping to off */
			continue;
		}
		if (rc != 0)
			return rc == -EAGAIN ? -EIO : rc;
	}
}

static int
nfsb_opendir(struct backend *b, struct inode *in, struct backend_file *out)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	struct nfsb_dir *d;
	int rc, tries = 0;

	if (nfsb_node_has_fh(in)) {
		/* the first page now: an error shows at opendir */
		d = calloc(1, sizeof(*d) + 1);
		if (d == NULL)
			return -ENOMEM;
		d->in = in;
		nfsb_dir_dots(nb, in, d);
		rc = nfsb_dir_seek(nb, d, 2);
		if (rc != 0) {
			free(d->page.ents);
			free(d);
			return rc;
		}
		out->fd = -1;
		out->priv = d;
		return 0;
	}
	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc != 0)
		return rc;
	d = calloc(1, sizeof(*d) + strlen(path) + 1);
	if (d == NULL)
		return -ENOMEM;
	strcpy(d->path, path);
	nfsb_dir_dots(nb, in, d);
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0) {
		free(d);
		return rc;
	}
	do {
		rc = nfsb_sync_opendir(c, path, &d->dir);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0) {
		free(d);
		return rc;
	}
	out->fd = -1;
	out->priv = d;
	return 0;
}

static unsigned char
nfsb_dirent_type(const struct nfsdirent *e)
{
	static const unsigned char nf3[] = {
		DT_UNKNOWN, DT_REG, DT_DIR, DT_BLK, DT_CHR, DT_LNK, DT_SOCK, DT_FIFO,
	};

	if (e->mode & S_IFMT)
		return IFTODT(e->mode);
	return e->type < sizeof(nf3) ? nf3[e->type] : DT_UNKNOWN;
}

/* The fileid and type of an entry, by a stat; false if it is gone. */
static bool
nfsb_dirent_stat(struct backend_nfs *nb, struct nfsb_dir *d, const char *name,
    struct backend_dirent *ent)
{
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", strcmp(d->path, "/") == 0 ? "" : d->path, name);
	if (n < 0 || (size_t)n >= sizeof(path) || nfsb_conn_get(nb, &c) != 0)
		return false;
	n = nfsb_stat_path(nb, c, path, false, &st);
	nfsb_conn_unlock(c);
	if (n != 0)
		return false;
	ent->ino = (uint64_t)st.st_ino;
	ent->type = IFTODT(st.st_mode);
	return true;
}

/* Read the listing again (a rewind must see the directory as it is now). */
static int
nfsb_dir_reload(struct backend_nfs *nb, struct nfsb_dir *d)
{
	struct nfsdir *fresh;
	struct nfsb_conn *c;
	int rc, tries = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_sync_opendir(c, d->path, &fresh);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	nfs_closedir(NULL, d->dir);
	d->dir = fresh;
	return 0;
}

/* The next entry the server listed, its own "." and ".." left out. */
static struct nfsdirent *
nfsb_dir_next(struct nfsb_dir *d)
{
	struct nfsdirent *e;

	do
		e = nfs_readdir(NULL, d->dir);
	while (e != NULL && (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0));
	return e;
}

/*
 * The entry at position off (>= 2) of a listing by handle, with its
 * attributes and a node for it (as a lookup without follow makes): a
 * READDIRPLUS needs no request of its own for it.  An entry whose
 * attributes did not come with the listing is looked up by handle.
 */
static int
nfsb_readdir_fh(struct backend_nfs *nb, struct nfsb_dir *d, off_t off,
    struct backend_dirent *ent)
{
	struct nfsb4_dirent *e;
	struct nfsb4_out o;
	int rc;

	rc = nfsb_dir_seek(nb, d, off);
	if (rc != 0)
		return rc;
	if (off >= d->base + (off_t)d->page.n)
		return 0;
	e = &d->page.ents[off - d->base];
	d->pos = off + 1;
	strlcpy(ent->name, e->name, sizeof(ent->name));
	ent->next_off = d->pos;
	if (e->full) {
		memset(&o, 0, sizeof(o));
		o.has_st = true;
		o.st = e->st;
		o.fh = e->fh;
		rc = nfsb4_entry(nb, &o, &ent->entry);
	} else {
		rc = nfsb_lookup(&nb->base, d->in, e->name, false, &ent->entry);
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		/* gone meanwhile: listed still, but not as "deleted" */
		ent->ino = (uint64_t)-1;
		ent->type = DT_UNKNOWN;
		return 1;
	}
	ent->has_entry = true;
	ent->ino = (uint64_t)ent->entry.st.st_ino;
	ent->type = IFTODT(ent->entry.st.st_mode);
	return 1;
}

static int
nfsb_readdir(struct backend *b, struct backend_file *bf, off_t off,
    struct backend_dirent *ent)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_dir *d = bf->priv;
	struct nfsdirent *e = NULL;

	/* by path, entries are in memory: no round trip but for a
	 * missing fileid (the caller serialises requests on one open
	 * directory) */
	if (off == 0 && d->pos != 0) {
		int rc = 0;

		if (d->in != NULL)
			d->base = 0;	/* the next entry reads the first page again */
		else
			rc = nfsb_dir_reload(nb, d);
		if (rc != 0)
			return rc;
	}
	if (off < 2) {
		if (d->in == NULL)
			nfs_rewinddir(NULL, d->dir);	/* the server's entries come next */
		d->pos = off + 1;
		strcpy(ent->name, off == 0 ? "." : "..");
		ent->type = DT_DIR;
		ent->ino = off == 0 ? d->ino : d->parent_ino;
		ent->next_off = d->pos;
		return 1;
	}
	if (d->in != NULL)
		return nfsb_readdir_fh(nb, d, off, ent);
	if (off != d->pos) {
		nfs_rewinddir(NULL, d->dir);
		for (d->pos = 2; d->pos < off && nfsb_dir_next(d) != NULL; d->pos++)
			;
	}
	if (d->pos == off)
		e = nfsb_dir_next(d);
	if (e == NULL)
		return 0;
	d->pos++;
	strlcpy(ent->name, e->name, sizeof(ent->name));
	ent->type = nfsb_dirent_type(e);
	ent->next_off = d->pos;
	/* libnfs 4.0 fills no fileid into NFSv4 listings (the field holds
	 * whatever the memory held): stat the entry for it */
	ent->ino = nb->v4 ? 0 : e->inode;
	if (ent->ino == 0 && !nfsb_dirent_stat(nb, d, ent->name, ent))
		ent->ino = (uint64_t)-1;	/* gone meanwhile: still not "deleted" */
	return 1;
}

static void
nfsb_releasedir(struct backend *b, struct backend_file *bf)
{
	struct nfsb_dir *d = bf->priv;

	if (d->dir != NULL)
		nfs_closedir(NULL, d->dir);	/* no context: just free it */
	nfsb4_page_clear(&d->page);
	free(d->page.ents);
	free(d);
	bf->priv = NULL;
}

/* Directory operations are synchronous on an NFS server. */
static int
nfsb_fsyncdir(struct backend *b, struct backend_file *bf, bool datasync)
{
	return 0;
}

static int
nfsb_statfs(struct backend *b, struct inode *in, struct statvfs *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfs_statvfs_64 s;
	struct nfsb_conn *c;
	int rc, tries = 0;

	(void)in;	/* one file system: ask at the root */
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_sync_statvfs(c, "/", &s);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->f_bsize = s.f_bsize;
	out->f_frsize = s.f_frsize != 0 ? s.f_frsize : s.f_bsize;
	out->f_blocks = s.f_blocks;
	out->f_bfree = s.f_bfree;
	out->f_bavail = s.f_bavail;
	out->f_files = s.f_files;
	out->f_ffree = s.f_ffree;
	out->f_favail = s.f_favail;
	out->f_fsid = s.f_fsid;
	out->f_flag = s.f_flag;
	/* a name longer than NAME_MAX cannot be listed (backend_dirent) */
	out->f_namemax = s.f_namemax != 0 && s.f_namemax < NAME_MAX ? s.f_namemax : NAME_MAX;
	return 0;
}

static ssize_t
nfsb_getxattr(struct backend *b, struct inode *in, const char *name, void *buf, size_t size)
{
	return -ENODATA;
}

static int
nfsb_setxattr(struct backend *b, struct inode *in, const char *name,
    const void *value, size_t size, int flags)
{
	return -EOPNOTSUPP;
}

static ssize_t
nfsb_listxattr(struct backend *b, struct inode *in, char *buf, size_t size)
{
	return 0;
}

static int
nfsb_removexattr(struct backend *b, struct inode *in, const char *name)
{
	return -ENODATA;
}

static const struct backend_ops nfsb_ops = {
	.name = "nfs",
	.destroy = nfsb_destroy,
	.root = nfsb_root,
	.node_release = nfsb_node_release,
	.attach = nfsb_attach,
	.lookup = nfsb_lookup,
	.getattr = nfsb_getattr,
	.setattr = nfsb_setattr,
	.readlink = nfsb_readlink,
	.depth = nfsb_depth,
	.link_probe = nfsb_link_probe,
	.mknod = nfsb_mknod,
	.mkdir = nfsb_mkdir,
	.symlink = nfsb_symlink,
	.link = nfsb_link,
	.unlink = nfsb_unlink,
	.rmdir = nfsb_rmdir,
	.rename = nfsb_rename,
	.open = nfsb_open,
	.create = nfsb_create,
	.read = nfsb_read,
	.write = nfsb_write,
	.fsync = nfsb_fsync,
	.release = nfsb_release,
	.fallocate = nfsb_fallocate,
	.lseek = nfsb_lseek,
	.copy_file_range = nfsb_copy_file_range,
	.opendir = nfsb_opendir,
	.readdir = nfsb_readdir,
	.releasedir = nfsb_releasedir,
	.fsyncdir = nfsb_fsyncdir,
	.statfs = nfsb_statfs,
	.getxattr = nfsb_getxattr,
	.setxattr = nfsb_setxattr,
	.listxattr = nfsb_listxattr,
	.removexattr = nfsb_removexattr,
	/* no host watcher for NFS: host_fd_get/put stay NULL */
};

/* ---- construction ---- */

/* The value of ?key=... in a URL's query ("" if absent), into buf. */
static void
nfsb_url_arg(const char *url, const char *key, char *buf, size_t len)
{
	const char *q = strchr(url, '?'), *p;
	size_t klen = strlen(key), n;

	buf[0] = '\0';
	for (p = q; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '=') {
			p += klen + 2;
			n = strcspn(p, "&");
			if (n >= len)
				n = len - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return;
		}
	}
}

/* Can a TCP connection to host:port be made?  0 or -errno. */
static int
nfsb_probe_tcp(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, err = 0;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return nfsb_fail(-EHOSTUNREACH, "cannot resolve server %s", host);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return -errno;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)
		err = errno;
	else {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, NFSB_PROBE_TIMEOUT_MS) <= 0)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
			err = errno;
	}
	close(fd);
	freeaddrinfo(res);
	if (err == ETIMEDOUT || err == ENETUNREACH || err == EHOSTDOWN)
		err = EHOSTUNREACH;
	return -err;
}

/* Turn a failed first mount into one of the documented errors. */
static int
nfsb_classify_mount_error(struct backend_nfs *nb, int rc)
{
	char version[8], port[16], detail[256];
	int probe;

	snprintf(detail, sizeof(detail), "%.200s", nfsb_errbuf);
	if (rc == -ENOENT)
		return nfsb_fail(-ENOENT, "export not found: %s", nb->export);
	if (rc == -ENOTDIR)
		return nfsb_fail(-ENOTDIR, "export is not a directory: %s", nb->export);
	nfsb_url_arg(nb->url, "version", version, sizeof(version));
	nfsb_url_arg(nb->url, "nfsport", port, sizeof(port));
	if (port[0] == '\0')
		snprintf(port, sizeof(port), "%s", strcmp(version, "4") == 0 ? "2049" : "111");
	probe = nfsb_probe_tcp(nb->server, port);
	if (probe == -ECONNREFUSED)
		return nfsb_fail(-ECONNREFUSED, "connection refused by %s (no NFS server there?)", nb->server);
	if (probe == -EHOSTUNREACH && strncmp(nfsb_errbuf, "cannot resolve", 14) == 0)
		return -EHOSTUNREACH;
	if (probe != 0)
		return nfsb_fail(-EHOSTUNREACH, "server %s is unreachable", nb->server);
	/* the server answers: a refusal is about us */
	if (rc == -EACCES || rc == -EPERM)
		return nfsb_fail(-EACCES, "permission denied by the server (%s)", detail);
	snprintf(nfsb_errbuf, sizeof(nfsb_errbuf), "NFS mount failed: %s", detail);
	return rc == -ENOMEM ? -ENOMEM : -EIO;
}

/* Split the URL into server and export (and check it). */
static int
nfsb_parse(struct backend_nfs *nb, const char *url)
{
	struct nfs_context *nfs;
	struct nfs_url *u;
	char version[8];
	int rc = 0;

	if (!backend_nfs_is_url(url))
		return nfsb_fail(-EINVAL, "bad NFS URL (expected nfs://SERVER/EXPORT[?version=3|4]): %s", url);
	nfsb_url_arg(url, "version", version, sizeof(version));
	if (version[0] != '\0' && strcmp(version, "3") != 0 && strcmp(version, "4") != 0)
		return nfsb_fail(-EINVAL, "bad NFS URL: version must be 3 or 4, not %s", version);
	nb->v4 = strcmp(version, "4") == 0;
	nfs = nfs_init_context();
	if (nfs == NULL)
		return -ENOMEM;
	u = nfs_parse_url_dir(nfs, url);
	if (u == NULL || u->server == NULL || u->server[0] == '\0' ||
	    u->path == NULL || u->path[0] != '/')
		rc = nfsb_fail(-EINVAL, "bad NFS URL (expected nfs://SERVER/EXPORT[?version=3|4]): %s", url);
	else {
		nb->server = strdup(u->server);
		nb->export = strdup(u->path);
		nb->url = strdup(url);
		if (nb->server == NULL || nb->export == NULL || nb->url == NULL)
			rc = -ENOMEM;
	}
	if (u != NULL)
		nfs_destroy_url(u);
	nfs_destroy_context(nfs);
	return rc;
}

/* A connection that breaks must not kill the server with SIGPIPE. */
static void
nfsb_ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static int
nfsb_pool_open(struct backend_nfs *nb, unsigned int n)
{
	unsigned int i;
	int rc;

	nb->conns = calloc(n, sizeof(*nb->conns));
	if (nb->conns == NULL)
		return -ENOMEM;
	nb->nconn = n;
	for (i = 0; i < n; i++) {
		pthread_mutex_init(&nb->conns[i].lock, NULL);
		nb->conns[i].index = i;
	}
	for (i = 0; i < n; i++) {
		nb->conns[i].nfs = nfsb_context_open(nb, i, 0, &rc);
		if (nb->conns[i].nfs == NULL)
			return i == 0 ? nfsb_classify_mount_error(nb, rc) : -EIO;
	}
	return 0;
}

int
backend_nfs_new(const char *url, unsigned int pool_size, struct backend **out)
{
	struct backend_nfs *nb;
	struct backend_entry root;
	int rc;

	nfsb_errbuf[0] = '\0';
	if (pool_size == 0)
		pool_size = NFSB_POOL_DEFAULT;
	if (pool_size > NFSB_POOL_MAX)
		pool_size = NFSB_POOL_MAX;
	nb = calloc(1, sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	nb->base.ops = &nfsb_ops;
	nb->as_root = geteuid() == 0;
	pthread_mutex_init(&nb->files_lock, NULL);
	pthread_mutex_init(&nb->reused_lock, NULL);
	pthread_mutex_init(&nb->fh_lock, NULL);
	RB_INIT(&nb->reused);
	pthread_cond_init(&nb->files_idle, NULL);
	TAILQ_INIT(&nb->files);
	nfsb_ignore_sigpipe();
	rc = nfsb_parse(nb, url);
	if (rc == 0)
		rc = nfsb_pool_open(nb, pool_size);
	if (rc == 0) {
		rc = nfsb_root(&nb->base, &root);	/* is it a directory? */
		if (rc == 0)
			free(root.bdata);
		else if (rc == -ENOTDIR)
			nfsb_fail(rc, "export is not a directory: %s", nb->export);
		else
			nfsb_fail(rc, "cannot read the export's root: %s", strerror(-rc));
	}
	if (rc != 0) {
		if (nfsb_errbuf[0] == '\0')
			snprintf(nfsb_errbuf, sizeof(nfsb_errbuf), "%s", strerror(-rc));
		nfsb_destroy(&nb->base);
		return rc;
	}
	*out = &nb->base;
	return 0;
}
