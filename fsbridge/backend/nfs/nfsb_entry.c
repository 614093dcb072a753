/*
 * nfsb_entry: the NFS backend's operations on one node: lookup, getattr,
 * setattr, readlink, and depth and link_probe (symlinks=deny).  A node
 * with a handle is asked by it (nfsb4_fh.c); one without (NFSv3, or found
 * by following a link) by its path, checked to be the same fileid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "nfsb_int.h"

/* dir/name by path (a directory found by following a link, NFSv3). */
static int
nfsb_lookup_path(struct backend_nfs *nb, struct inode *dir, const char *name,
    bool follow, struct backend_entry *out)
{
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	int rc;

	rc = nfsb_child_conn(nb, dir, name, path, sizeof(path), &c);
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
int
nfsb_lookup(struct backend *b, struct inode *dir, const char *name, bool follow,
    struct backend_entry *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct backend_entry through;
	struct nfsb4_out o;
	struct nfsb_conn *c;
	struct nfsb4_tries t = { 0, 0 };
	int rc;

	if (!nfsb_node_has_fh(dir))
		return nfsb_lookup_path(nb, dir, name, follow, out);
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do
		rc = nfsb4_fh_lookup(nb, c, dir, name, &o);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_IDEMPOTENT, dir, NULL));
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
	struct nfsb4_tries t = { 0, 0 };
	char path[NFSB_PATH_MAX];
	int rc;

	if (!nfsb_node_has_fh(in)) {
		rc = nfsb_path(nb, in, path, sizeof(path));
		return rc != 0 ? rc : nfsb_getattr_conn(nb, c, in, path, out);
	}
	do
		rc = nfsb4_fh_getattr(nb, c, in, out);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_IDEMPOTENT, in, NULL));
	return rc;
}

int
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

int
nfsb_setattr(struct backend *b, struct inode *in, struct backend_file *bf,
    const struct backend_setattr *sa, struct stat *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf != NULL ? bf->priv : NULL;
	struct backend_setattr same_owner;
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	struct stat cur;
	int rc, tries = 1;

	/* chown(-1, -1) has no attribute to send: the same owner again is
	 * one, and the server sets the change time for it, as ext4 does */
	if (sa->valid == FSB_SET_CTIME) {
		rc = nfsb_getattr(b, in, &cur);
		if (rc != 0)
			return rc;
		same_owner = *sa;
		same_owner.valid = FSB_SET_UID;
		same_owner.uid = cur.st_uid;
		sa = &same_owner;
	}
	if (nfsb_node_has_fh(in))
		return nfsb_setattr_fh(nb, in, sa, out);

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

int
nfsb_readlink(struct backend *b, struct inode *in, char *buf, size_t size)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_conn *c;
	struct nfsb4_tries t = { 0, 0 };
	char *target = NULL;
	int rc;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (!nfsb_node_has_fh(in))
		rc = nfsb_readlink_path(nb, c, in, &target);
	else do
		rc = nfsb4_fh_readlink(nb, c, in, &target);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_IDEMPOTENT, in, NULL));
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
int
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
int
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
			free(target);	/* a retry's earlier answer */
			rc = nfsb_sync_readlink(c, path, &target);
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
