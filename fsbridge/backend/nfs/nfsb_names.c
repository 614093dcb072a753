/*
 * nfsb_names: the NFS backend's changes to the names in a directory: mknod,
 * mkdir, symlink, link, unlink, rmdir, rename.  Made by the directory's
 * handle where it has one (one COMPOUND each, nfsb4_fh.c), else by path.
 * A regular file (mknod S_IFREG) is an exclusive create (nfsb_file.c).
 * None is made again after a lost connection (EIO).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "nfsb_int.h"

enum nfsb_make_kind { NFSB_MAKE_NODE, NFSB_MAKE_DIR, NFSB_MAKE_SYMLINK };

struct nfsb_make {
	enum nfsb_make_kind kind;
	mode_t mode;
	dev_t rdev;
	const char *target;
};

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
	struct nfsb4_tries t = { 0, 0 };
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc, tries = 1;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	nfsb_cred_enter(nb, c, cred);
	do
		rc = nfsb4_fh_create(nb, c, dir, name, mode, m->rdev, m->target, &o);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_STALE_ONLY, dir, NULL));
	nfsb_cred_leave(nb, c, cred);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc != 0 ? rc : nfsb4_entry(nb, &o, out);
}

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
		rc = nfsb_child_conn(nb, dir, name, path, sizeof(path), &c);
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

int
nfsb_mknod(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    dev_t rdev, const struct backend_cred *cred, struct backend_entry *out)
{
	struct nfsb_make m = { NFSB_MAKE_NODE, mode, rdev, NULL };

	return nfsb_make(b, dir, name, &m, cred, out);
}

int
nfsb_mkdir(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    const struct backend_cred *cred, struct backend_entry *out)
{
	struct nfsb_make m = { NFSB_MAKE_DIR, mode, 0, NULL };

	return nfsb_make(b, dir, name, &m, cred, out);
}

int
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
	struct nfsb4_tries t = { 0, 0 };
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do
		rc = nfsb4_fh_link(nb, c, in, newdir, newname, &o);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_ONCE, in, newdir));
	nfsb_conn_unlock(c);
	return rc != 0 ? rc : nfsb4_entry(nb, &o, out);
}

int
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
		rc = nfsb_child_conn(nb, newdir, newname, newpath, sizeof(newpath),
		    &c);
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
	struct nfsb4_tries t = { 0, 0 };
	struct nfsb_conn *c;
	int rc, tries = 1;

	if (nfsb_node_has_fh(dir)) {
		rc = nfsb_conn_get(nb, &c);
		if (rc != 0)
			return rc;
		do
			rc = nfsb4_fh_remove(nb, c, dir, name, is_dir);
		while (nfsb4_again(nb, c, &rc, &t, NFSB4_ONCE, dir, NULL));
		nfsb_conn_unlock(c);
		return rc;
	}
	rc = nfsb_child_conn(nb, dir, name, path, sizeof(path), &c);
	if (rc != 0)
		return rc;
	rc = is_dir ? nfsb_sync_rmdir(c, path) : nfsb_sync_unlink(c, path);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc;
}

int
nfsb_unlink(struct backend *b, struct inode *dir, const char *name)
{
	return nfsb_remove(b, dir, name, false);
}

int
nfsb_rmdir(struct backend *b, struct inode *dir, const char *name)
{
	return nfsb_remove(b, dir, name, true);
}

/* A rename by the handles of both directories. */
static int
nfsb_rename_fh(struct backend_nfs *nb, struct inode *olddir, const char *oldname,
    struct inode *newdir, const char *newname, unsigned int flags)
{
	struct nfsb4_tries t = { 0, 0 };
	struct nfsb4_out o;
	struct nfsb_conn *c;
	int rc, tries = 1;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (flags & RENAME_NOREPLACE) {
		do
			rc = nfsb4_fh_lookup(nb, c, newdir, newname, &o);
		while (nfsb4_again(nb, c, &rc, &t, NFSB4_STALE_ONLY, newdir, NULL));
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
		t.stale = 0;
	}
	if (rc == 0) do
		rc = nfsb4_fh_rename(nb, c, olddir, oldname, newdir, newname);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_STALE_ONLY, olddir, newdir));
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	nfsb_conn_unlock(c);
	return rc;
}

/* RENAME_NOREPLACE is checked before the rename (NFS has no atomic
 * form: a racing creation on the server may still be replaced);
 * RENAME_EXCHANGE cannot be done. */
int
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
		rc = nfsb_child_conn(nb, newdir, newname, newpath, sizeof(newpath),
		    &c);
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
