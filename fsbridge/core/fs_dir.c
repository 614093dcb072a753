/*
 * fs_dir: directories: the names in them (MKNOD, MKDIR, SYMLINK, LINK,
 * UNLINK, RMDIR, RENAME) and their listings (OPENDIR, READDIR,
 * READDIRPLUS, RELEASEDIR, FSYNCDIR).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"

/* The common frame of mknod/mkdir/symlink: check, create, adopt, reply. */
enum fs_create_kind { FS_CREATE_NODE, FS_CREATE_DIR, FS_CREATE_SYMLINK };

static void
fs_make(fuse_req_t req, fuse_ino_t parent, const char *name,
    enum fs_create_kind kind, mode_t mode, dev_t rdev, const char *target)
{
	struct share *sh = SHARE(req);
	const struct backend_ops *ops = sh->backend->ops;
	struct fuse_entry_param e;
	struct backend_entry be;
	struct backend_cred cred;
	struct inode *dir, *in = NULL;
	int rc;

	dir = fs_inode_or_estale(req, sh, parent);
	if (dir == NULL)
		return;
	rc = policy_check_name(name);
	if (rc == 0)
		rc = kind == FS_CREATE_SYMLINK ? policy_check_symlink_create(&sh->policy) :
		    policy_check_create_type(&sh->policy, kind == FS_CREATE_DIR ? S_IFDIR | mode : mode);
	if (rc == 0 && fs_hide_name(sh, dir, name))
		rc = -EACCES;
	mode = policy_filter_mode(&sh->policy, mode);
	if (rc == 0)
		rc = fs_cred(req, &cred);
	if (rc == 0)
		rc = fs_check_access(sh, dir, W_OK | X_OK);
	if (rc == 0) {
		fs_watch_self_begin(sh, dir, NULL);
		switch (kind) {
		case FS_CREATE_NODE:
			rc = ops->mknod(sh->backend, dir, name, mode, rdev, &cred, &be);
			break;
		case FS_CREATE_DIR:
			rc = ops->mkdir(sh->backend, dir, name, mode & 07777, &cred, &be);
			break;
		case FS_CREATE_SYMLINK:
			rc = ops->symlink(sh->backend, dir, name, target, &cred, &be);
			break;
		}
		fs_watch_self_end(sh, dir, NULL);
	}
	if (rc == 0)
		rc = fs_entry_adopt(sh, dir, name, &be, &e, &in);
	fs_put(sh, dir);
	fs_reply_entry_or_err(req, sh, rc, &e, in);
}

void
fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fs_make(req, parent, name, FS_CREATE_NODE, mode, rdev, NULL);
}

void
fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fs_make(req, parent, name, FS_CREATE_DIR, mode, 0, NULL);
}

void
fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	if (target == NULL || target[0] == '\0' || strlen(target) >= PATH_MAX) {
		fuse_reply_err(req, target != NULL && target[0] != '\0' ? ENAMETOOLONG : ENOENT);
		return;
	}
	fs_make(req, parent, name, FS_CREATE_SYMLINK, S_IFLNK | 0777, 0, target);
}

/*
 * The client is about to remove (or rename over) dir/name: mark the node
 * there, if the client knows it, as removed by the client, so that
 * fs_vanished never answers ESTALE for it -- a working directory the
 * client removed, or a file it has replaced, still stats the POSIX way.
 */
static void
fs_mark_client_removal(struct share *sh, struct inode *dir, const char *name)
{
	struct inode *in;

	if (!sh->estale_vanished || (in = fs_find_child(sh, dir, name)) == NULL)
		return;
	pthread_mutex_lock(&sh->inodes.lock);
	in->client_removed = true;
	pthread_mutex_unlock(&sh->inodes.lock);
	fs_put(sh, in);
}

static void
fs_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool is_dir)
{
	struct share *sh = SHARE(req);
	struct inode *dir;
	int rc;

	dir = fs_inode_or_estale(req, sh, parent);
	if (dir == NULL)
		return;
	rc = policy_check_name(name);
	if (rc == 0)
		rc = policy_check_write(&sh->policy);
	if (rc == 0 && fs_hide_name(sh, dir, name))
		rc = -ENOENT;
	if (rc == 0)
		rc = fs_check_removal(sh, dir, name, fs_caller_host_uid(req));
	if (rc == 0) {
		fs_mark_client_removal(sh, dir, name);
		fs_watch_self_begin(sh, dir, NULL);
		rc = is_dir ? sh->backend->ops->rmdir(sh->backend, dir, name) :
		    sh->backend->ops->unlink(sh->backend, dir, name);
		fs_watch_self_end(sh, dir, NULL);
	}
	fs_put(sh, dir);
	fuse_reply_err(req, -rc);
}

void
fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, false);
}

void
fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, true);
}

/* After a rename, record the new location of the inode now at dir/name. */
static void
fs_note_location(struct share *sh, struct inode *dir, const char *name)
{
	struct inode *in = fs_find_child(sh, dir, name);

	if (in == NULL)
		return;
	inode_table_move(&sh->inodes, in, dir, name);
	fs_put(sh, in);
}

void
fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct share *sh = SHARE(req);
	struct inode *dir, *newdir;
	int rc;

	dir = fs_inode(sh, parent);
	newdir = fs_inode(sh, newparent);
	rc = dir == NULL || newdir == NULL ? -ESTALE : 0;
	if (rc == 0)
		rc = policy_check_name(name);
	if (rc == 0)
		rc = policy_check_name(newname);
	if (rc == 0)
		rc = policy_check_write(&sh->policy);
	if (rc == 0 && (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0)
		rc = -EINVAL;	/* RENAME_WHITEOUT would make a device node */
	if (rc == 0 && fs_hide_name(sh, dir, name))
		rc = -ENOENT;
	if (rc == 0 && fs_hide_name(sh, newdir, newname))
		rc = (flags & RENAME_EXCHANGE) ? -ENOENT : -EACCES;
	if (rc == 0)
		rc = fs_check_removal(sh, dir, name, fs_caller_host_uid(req));
	if (rc == 0)
		rc = fs_check_removal(sh, newdir, newname, fs_caller_host_uid(req));
	if (rc == 0) {
		if (!(flags & RENAME_EXCHANGE))
			fs_mark_client_removal(sh, newdir, newname);
		fs_watch_self_begin(sh, dir, newdir);
		rc = sh->backend->ops->rename(sh->backend, dir, name, newdir, newname, flags);
		fs_watch_self_end(sh, dir, newdir);
	}
	if (rc == 0) {
		fs_note_location(sh, newdir, newname);
		if (flags & RENAME_EXCHANGE)
			fs_note_location(sh, dir, name);
	}
	fs_put(sh, newdir);
	fs_put(sh, dir);
	fuse_reply_err(req, -rc);
}

void
fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct share *sh = SHARE(req);
	struct fuse_entry_param e;
	struct backend_entry be;
	struct inode *in, *newdir, *out = NULL;
	int rc;

	in = fs_inode(sh, ino);
	newdir = fs_inode(sh, newparent);
	rc = in == NULL || newdir == NULL ? -ESTALE : 0;
	if (rc == 0)
		rc = policy_check_name(newname);
	if (rc == 0)
		rc = policy_check_link(&sh->policy, in->type);
	if (rc == 0 && fs_hide_name(sh, newdir, newname))
		rc = -EACCES;
	if (rc == 0)
		rc = fs_check_access(sh, newdir, W_OK | X_OK);
	if (rc == 0) {
		fs_watch_self_begin(sh, newdir, in);
		rc = sh->backend->ops->link(sh->backend, in, newdir, newname, &be);
		fs_watch_self_end(sh, newdir, in);
	}
	if (rc == 0)
		rc = fs_entry_adopt(sh, newdir, newname, &be, &e, &out);
	fs_put(sh, newdir);
	fs_put(sh, in);
	fs_reply_entry_or_err(req, sh, rc, &e, out);
}

void
fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct backend_file bf;
	struct inode *in;
	int rc;

	if (sh->no_open) {
		/* no OPENDIR round trip; the kernel keeps the listing, which
		 * the watcher drops when the directory changes */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	rc = S_ISDIR(in->type) ? fs_check_vanished(sh, in) : -ENOTDIR;
	if (rc == 0)
		rc = fs_check_access(sh, in, R_OK);
	if (rc == 0)
		rc = sh->backend->ops->opendir(sh->backend, in, &bf);
	fs_reply_open_or_err(req, sh, in, rc, &bf, true, fi, NULL);
}

void
fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_release_common(req, fi, true);
}

void
fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs_fsync_common(req, ino, datasync, fi, true);
}

static bool
fs_is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/*
 * A directory entry whose inode the table already has (by the entry's
 * d_ino on the directory's device): count the lookup and take fresh
 * attributes from its fd, without opening the name again.  -ENOENT when
 * the inode is not known (or hidden): the caller looks the name up.
 */
static int
fs_dirent_known(struct share *sh, struct inode *dir, const struct backend_dirent *ent,
    struct fuse_entry_param *e, struct inode **inp)
{
	struct inode *in;
	struct stat st;

	in = inode_table_find_key(&sh->inodes, dir->key_dev, ent->ino);
	if (in == NULL)
		return -ENOENT;
	if ((sh->backend->ops->getattr_at != NULL ?
	    sh->backend->ops->getattr_at(sh->backend, dir, ent->name, in, &st) :
	    sh->backend->ops->getattr(sh->backend, in, &st)) != 0 ||
	    (st.st_mode & S_IFMT) != in->type || fs_symlink_hidden(sh, dir, in)) {
		fs_put(sh, in);
		return -ENOENT;
	}
	inode_table_lookup_again(&sh->inodes, in, dir, ent->name);
	memset(e, 0, sizeof(*e));
	e->ino = in->nodeid;
	e->attr = st;
	fs_stat_to_client(sh, &e->attr);
	e->attr_timeout = e->entry_timeout = fs_entry_timeout(sh, in);
	fs_attrs_given(in, &st);
	*inp = in;
	return 0;
}

/*
 * Can the entry the backend's listing brought be taken as the lookup of
 * its name?  Not for a symlink the policy follows (the lookup goes
 * through it).
 */
static bool
fs_dirent_has_entry(struct share *sh, const struct backend_dirent *ent)
{
	return ent->has_entry && !(S_ISLNK(ent->entry.st.st_mode) &&
	    policy_follows_symlinks(&sh->policy));
}

/*
 * Add one directory entry to buf.  Returns the size it took (which may
 * exceed rem: then nothing was added and the caller stops), 0 to skip the
 * entry (hidden, or gone since it was listed), or -errno.  An entry the
 * backend brought (ent->has_entry) is used in place of a lookup, and
 * has_entry cleared; the caller releases one still set.
 */
static ssize_t
fs_add_dirent(fuse_req_t req, struct share *sh, struct inode *dir,
    struct backend_dirent *ent, char *p, size_t rem, bool plus, bool full,
    struct fs_prefill_job *job)
{
	struct fuse_entry_param e;
	struct inode *in;
	bool checked_link;
	size_t n;
	int rc;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = ent->ino;
	e.attr.st_mode = (mode_t)ent->type << 12;
	if (fs_is_dot(ent->name)) {
		if (plus)
			return fuse_add_direntry_plus(req, p, rem, ent->name, &e, ent->next_off);
		return fuse_add_direntry(req, p, rem, ent->name, &e.attr, ent->next_off);
	}
	if (fs_hide_dirent(sh, dir, ent->name, ent->ino))
		return 0;
	/* (a symlink that may lead out of the share is looked at below) */
	checked_link = sh->policy.symlinks == POLICY_SYMLINKS_DENY && ent->type == DT_LNK;
	/* an inode the kernel has, kept current by the watcher: its
	 * attributes would cost a stat here and an update there for
	 * nothing (a listing of what was just created, read or stat'ed) */
	if (full && !checked_link && sh->listing_lean &&
	    inode_table_client_has(&sh->inodes, dir->key_dev, ent->ino, (mode_t)ent->type << 12))
		full = false;
	if (!full && !checked_link) {
		/* in a READDIRPLUS reply, node id 0: a name without an entry */
		if (plus)
			return fuse_add_direntry_plus(req, p, rem, ent->name, &e, ent->next_off);
		return fuse_add_direntry(req, p, rem, ent->name, &e.attr, ent->next_off);
	}

	rc = policy_check_name(ent->name);
	if (rc == 0 && fs_dirent_has_entry(sh, ent)) {
		ent->has_entry = false;		/* adopted, or released there */
		rc = fs_entry_adopt(sh, dir, ent->name, &ent->entry, &e, &in);
	} else if (rc == 0 && (rc = fs_dirent_known(sh, dir, ent, &e, &in)) == -ENOENT)
		rc = fs_do_lookup(sh, dir, ent->name, &e, &in);
	if (rc == -ENOENT || rc == -ESTALE)
		return 0;
	if (rc != 0)
		return rc;
	if (full) {
		n = fuse_add_direntry_plus(req, p, rem, ent->name, &e, ent->next_off);
		if (n <= rem) {
			fs_prefill_job_add(sh, job, in, &e.attr);
			fs_put(sh, in);
			return n;
		}
	} else if (plus) {	/* a hidden symlink's check: no entry */
		e.ino = 0;
		n = fuse_add_direntry_plus(req, p, rem, ent->name, &e, ent->next_off);
	} else {
		n = fuse_add_direntry(req, p, rem, ent->name, &e.attr, ent->next_off);
	}
	/* not kept: take the lookup back */
	inode_table_forget(&sh->inodes, in->nodeid, 1);
	fs_put(sh, in);
	return n;
}

static void
fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi, bool plus)
{
	struct share *sh = SHARE(req);
	struct fs_prefill_job *job = NULL;
	struct backend_dirent ent;
	unsigned int how;
	bool full, delivered = false;
	struct open_file *f;
	size_t rem = size;
	char *buf, *p;
	int rc = 0;

	f = fs_open_for(sh, ino, fi, O_RDONLY, R_OK, true, &rc);
	if (f == NULL) {
		fuse_reply_err(req, rc);
		return;
	}
	buf = calloc(1, size > 0 ? size : 1);
	if (buf == NULL) {
		fs_file_put(sh, f);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	how = plus ? fs_prefill_listing(sh, req, ino) : 0;
	if (how & FS_LISTING_PREFILL)
		job = fs_prefill_job_new();
	full = plus && (off == 0 || !sh->listing_lean || (how & FS_LISTING_FULL));
	pthread_mutex_lock(&f->lock);
	for (;;) {
		ssize_t n;

		ent.has_entry = false;
		rc = sh->backend->ops->readdir(sh->backend, &f->bf, off, &ent);
		if (rc <= 0)
			break;
		n = fs_add_dirent(req, sh, f->inode, &ent, p, rem, plus, full, job);
		if (ent.has_entry)
			sh->backend->ops->node_release(sh->backend, ent.entry.bdata);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if ((size_t)n > rem)
			break;
		p += n;
		rem -= (size_t)n;
		off = ent.next_off;
	}
	pthread_mutex_unlock(&f->lock);
	fs_file_put(sh, f);
	if (rc < 0 && p == buf)
		fuse_reply_err(req, -rc);
	else
		delivered = fuse_reply_buf(req, buf, size - rem) == 0;
	free(buf);
	/* after the reply (the kernel makes the entries' inodes when the
	 * lister runs again; over io_uring once this handler returns) */
	fs_prefill_job_submit(sh, job, delivered);
}

void
fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, false);
}

void
fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, true);
}
