/*
 * fs_ops: the libfuse low-level operations table, the one implementation
 * of every file operation for both transports.
 *
 * Each handler: validates what came from the client (node ids and file
 * handles through their tables, names as single components), asks the
 * share policy, calls the backend, maps ids, and replies.  No handler
 * builds a host path: names go to the backend with the inode they are
 * relative to.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "share.h"

#define SHARE(req) ((struct share *)fuse_req_userdata(req))

/* Cache timeouts, in seconds (see fsbridge(1), "cache="). */
#define FS_TIMEOUT_WATCHED	86400.0	/* changes are reported: as long as we like */
#define FS_TIMEOUT_FALLBACK	1.0	/* nobody reports changes here */
#define FS_TIMEOUT_ALWAYS	86400.0

__thread bool fs_request_kill_suidgid;

/* Host attributes as the client sees them: ids mapped, and the owner's
 * (group's) mode bits folded into other's for a host id with no client id
 * (see policy_mode_to_client and fs_access.c). */
static void
fs_stat_to_client(const struct share *sh, struct stat *st)
{
	st->st_mode = policy_mode_to_client(&sh->policy, st->st_uid, st->st_gid, st->st_mode);
	st->st_uid = policy_uid_to_client(&sh->policy, st->st_uid);
	st->st_gid = policy_gid_to_client(&sh->policy, st->st_gid);
}

/*
 * The host ids a node the caller creates gets.  A caller whose uid or gid
 * has no host id may create nothing: -EACCES (its node would otherwise
 * belong to a real host user, 65534).
 */
static int
fs_cred(fuse_req_t req, struct backend_cred *cred)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct share *sh = SHARE(req);

	cred->uid = policy_uid_to_host(&sh->policy, ctx->uid);
	cred->gid = policy_gid_to_host(&sh->policy, ctx->gid);
	if (!policy_uid_has_host(&sh->policy, ctx->uid) ||
	    !policy_gid_has_host(&sh->policy, ctx->gid))
		return -EACCES;
	return 0;
}

/* The caller's host uid, or UINT32_MAX when it has none. */
static uint32_t
fs_caller_host_uid(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct share *sh = SHARE(req);

	if (!policy_uid_has_host(&sh->policy, ctx->uid))
		return UINT32_MAX;
	return policy_uid_to_host(&sh->policy, ctx->uid);
}

static struct inode *
fs_inode(struct share *sh, fuse_ino_t ino)
{
	return inode_table_get(&sh->inodes, ino);
}

static void
fs_put(struct share *sh, struct inode *in)
{
	inode_table_put(&sh->inodes, in);
}

/* policy_link_resolve's probe: the backend's, from the link's directory. */
struct fs_link_probe_ctx {
	struct share *sh;
	struct inode *dir;
};

static int
fs_link_probe(void *ctx, unsigned int up, const char *down, char *buf, size_t size)
{
	struct fs_link_probe_ctx *pc = ctx;

	return pc->sh->backend->ops->link_probe(pc->sh->backend, pc->dir, up, down, buf, size);
}

/*
 * Under symlinks=deny, is this symlink inode (found in dir) one that leads
 * out of the share?  Decided by where it really resolves now: from dir's
 * present depth, through the links it chains to (policy_link_resolve).
 * Any failure to decide hides it.
 */
static bool
fs_symlink_hidden(struct share *sh, struct inode *dir, struct inode *link)
{
	struct fs_link_probe_ctx pc = { sh, dir };
	char target[PATH_MAX];
	unsigned int depth;

	if (sh->policy.symlinks != POLICY_SYMLINKS_DENY || !S_ISLNK(link->type))
		return false;
	if (sh->backend->ops->readlink(sh->backend, link, target, sizeof(target)) != 0)
		return true;
	if (sh->backend->ops->depth(sh->backend, dir, &depth) != 0)
		return true;
	if (!policy_symlink_visible(&sh->policy, target, depth))
		return true;
	return policy_link_resolve(target, depth,
	    sh->backend->ops->link_probe != NULL ? fs_link_probe : NULL, &pc) != 0;
}

/*
 * The entry and attribute timeout of in.  Under symlinks=deny a symlink
 * gets none: whether it leads out depends on where it and the links it
 * chains through are now, which a rename above any of them changes
 * without touching the link, and no notification reaches a guest.  So the
 * client looks it up again at each use and the server decides again
 * (fs_symlink_hidden); symlinks are few, and deny is asked for.
 */
static double
fs_entry_timeout(struct share *sh, struct inode *in)
{
	if (sh->policy.symlinks == POLICY_SYMLINKS_DENY && S_ISLNK(in->type))
		return 0;
	return fs_watch_timeout(sh, in);
}

/*
 * Turn a backend entry found as dir/name into a client entry: the inode
 * is added to the table with one lookup counted.  On success *inp holds
 * the inode, pinned.
 */
static int
fs_entry_adopt(struct share *sh, struct inode *dir, const char *name,
    struct backend_entry *be, struct fuse_entry_param *e, struct inode **inp)
{
	const char *hide_at;
	struct inode *in;
	bool used;

	if (fs_hide_entry(sh, dir, name, &be->st, &hide_at)) {
		sh->backend->ops->node_release(sh->backend, be->bdata);
		return -ENOENT;
	}
	in = inode_table_add(&sh->inodes, dir, name, be->st.st_dev,
	    be->st.st_ino, be->st.st_mode, be->bdata, &used);
	if (!used)
		sh->backend->ops->node_release(sh->backend, be->bdata);
	if (in == NULL)
		return -ENOMEM;
	fs_hide_set_pos(sh, in, hide_at);
	if (used)
		fs_watch_dir_added(sh, in);
	if (fs_symlink_hidden(sh, dir, in)) {
		inode_table_forget(&sh->inodes, in->nodeid, 1);
		fs_put(sh, in);
		return -ENOENT;
	}
	memset(e, 0, sizeof(*e));
	e->ino = in->nodeid;
	e->generation = 0;
	e->attr = be->st;
	fs_stat_to_client(sh, &e->attr);
	e->attr_timeout = e->entry_timeout = fs_entry_timeout(sh, in);
	*inp = in;
	return 0;
}

static int
fs_do_lookup(struct share *sh, struct inode *dir, const char *name,
    struct fuse_entry_param *e, struct inode **inp)
{
	struct backend_entry be;
	int rc;

	rc = policy_check_name(name);
	if (rc != 0)
		return rc;
	rc = sh->backend->ops->lookup(sh->backend, dir, name,
	    policy_follows_symlinks(&sh->policy), &be);
	if (rc != 0)
		return rc;
	return fs_entry_adopt(sh, dir, name, &be, e, inp);
}

static void
fs_reply_entry_or_err(fuse_req_t req, struct share *sh, int rc,
    struct fuse_entry_param *e, struct inode *in)
{
	if (rc == 0) {
		fuse_reply_entry(req, e);
		fs_put(sh, in);
	} else {
		fuse_reply_err(req, -rc);
	}
}

static void
fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct share *sh = SHARE(req);
	struct fuse_entry_param e;
	struct inode *dir, *in = NULL;
	int rc;

	dir = fs_inode(sh, parent);
	if (dir == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = fs_check_access(sh, dir, X_OK);
	if (rc == 0)
		rc = fs_do_lookup(sh, dir, name, &e, &in);
	if (rc == -ENOENT && sh->negative_timeout > 0 && policy_check_name(name) == 0) {
		double t = fs_watch_timeout(sh, dir);

		fs_put(sh, dir);
		memset(&e, 0, sizeof(e));
		e.entry_timeout = t < sh->negative_timeout ? t : sh->negative_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	fs_put(sh, dir);
	fs_reply_entry_or_err(req, sh, rc, &e, in);
}

static void
fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_table_forget(&SHARE(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void
fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		inode_table_forget(&SHARE(req)->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/*
 * A guest's kernel cannot be told that a file it knows was deleted or
 * replaced on the host (no notifications over virtio-fs), so it would
 * stat and open the old file until its entry times out.  A node whose
 * file has no name left (st_nlink 0) and that the client has not open is
 * answered ESTALE on GETATTR and OPEN: the guest's VFS then walks the
 * path again (LOOKUP_REVAL) and finds what is there now.  A file the
 * client has open, and anything the client removed itself (a working
 * directory it removed, a file it renamed over), keeps working, as POSIX
 * wants.
 */
static bool
fs_vanished(struct share *sh, struct inode *in, const struct stat *st)
{
	bool unused;

	if (!sh->estale_vanished || st->st_nlink != 0 || in->parent == NULL)
		return false;
	pthread_mutex_lock(&sh->inodes.lock);
	unused = in->opens == 0 && !in->client_removed;
	pthread_mutex_unlock(&sh->inodes.lock);
	return unused;
}

/* fs_vanished for a node about to be opened; -ESTALE or 0. */
static int
fs_check_vanished(struct share *sh, struct inode *in)
{
	struct stat st;

	if (!sh->estale_vanished || sh->backend->ops->getattr(sh->backend, in, &st) != 0)
		return 0;
	return fs_vanished(sh, in, &st) ? -ESTALE : 0;
}

static void
fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	struct stat st;
	double timeout;
	int rc;

	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = sh->backend->ops->getattr(sh->backend, in, &st);
	if (rc == 0 && fi == NULL && fs_vanished(sh, in, &st))
		rc = -ESTALE;
	timeout = fs_entry_timeout(sh, in);
	fs_put(sh, in);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_stat_to_client(sh, &st);
	fuse_reply_attr(req, &st, timeout);
}

static struct open_file *
fs_file(struct share *sh, struct fuse_file_info *fi, bool is_dir)
{
	if (fi == NULL)
		return NULL;
	return file_table_get(&sh->files, fi->fh, is_dir);
}

/*
 * The open file or directory a request names.  In no-open mode the
 * kernel sends no OPEN or OPENDIR (after our first ENOSYS), and requests
 * on such files carry file handle 0: the inode is opened for this one
 * request and closed again by fs_file_put.  NULL: *err says why.
 */
static struct open_file *
fs_open_for(struct share *sh, fuse_ino_t ino, struct fuse_file_info *fi, int flags,
    unsigned int want, bool is_dir, int *err)
{
	struct open_file *f;
	struct inode *in;
	int rc;

	*err = EBADF;
	if (fi != NULL && fi->fh != 0) {
		f = fs_file(sh, fi, is_dir);
		/* in no-open mode a created file's handle may have been
		 * closed (fs_created_keep); handles are never reused, so an
		 * unknown one is served like handle 0 */
		if (f != NULL || !sh->no_open)
			return f;
	}
	if (!sh->no_open)
		return NULL;
	in = fs_inode(sh, ino);
	if (in == NULL) {
		*err = ESTALE;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	rc = fs_check_access(sh, in, want);
	if (rc != 0)
		;
	else if (f == NULL)
		rc = -ENOMEM;
	else if (is_dir)
		rc = S_ISDIR(in->type) ? sh->backend->ops->opendir(sh->backend, in, &f->bf) : -ENOTDIR;
	else
		rc = S_ISREG(in->type) ? sh->backend->ops->open(sh->backend, in, flags, &f->bf) : -EBADF;
	if (rc != 0) {
		*err = -rc;
		free(f);
		fs_put(sh, in);
		return NULL;
	}
	f->inode = in;		/* the pin from fs_inode, dropped by fs_file_put */
	f->refs = 1;
	f->is_dir = is_dir;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

static struct open_file *
fs_file_for(struct share *sh, fuse_ino_t ino, struct fuse_file_info *fi, int flags, int *err)
{
	return fs_open_for(sh, ino, fi, flags, fs_access_of_flags(flags), false, err);
}

static void
fs_file_put(struct share *sh, struct open_file *f)
{
	if (f == NULL || !file_table_put(&sh->files, f))
		return;
	if (f->fh != 0) {	/* registered by fs_file_register */
		pthread_mutex_lock(&sh->inodes.lock);
		f->inode->opens--;
		pthread_mutex_unlock(&sh->inodes.lock);
	}
	if (f->is_dir)
		sh->backend->ops->releasedir(sh->backend, &f->bf);
	else
		sh->backend->ops->release(sh->backend, &f->bf);
	pthread_mutex_destroy(&f->lock);
	fs_put(sh, f->inode);
	free(f);
}

/*
 * Is the caller of req in the group host_gid (client view): its gid or one
 * of its supplementary groups, where the transport can tell them (the
 * host mount; a guest's are unknown: its gid alone)?
 */
static bool
fs_caller_in_group(fuse_req_t req, uint32_t host_gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct share *sh = SHARE(req);
	gid_t groups[64];
	uint32_t gid;
	int i, n;

	if (!policy_gid_has_client(&sh->policy, host_gid))
		return false;
	gid = policy_gid_to_client(&sh->policy, host_gid);
	if (ctx->gid == gid)
		return true;
	/* a guest's pid names no process here */
	n = sh->host_pids ? fuse_req_getgroups(req, 64, groups) : 0;
	for (i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * What the client kernel would do for a writer without CAP_FSETID, done
 * here because it asked (fs_request_kill_suidgid): a regular file loses
 * its setuid bit, and its setgid bit if it is group-executable or, as a
 * local disk does since Linux 6.2, if the writer is not in its group.
 * The host's own kernel does not do it for us when the server may keep
 * the bits (it runs as root).  Best effort: a file that cannot be changed
 * keeps its mode, as the write itself would then fail too.
 */
static void
fs_kill_suidgid(fuse_req_t req, struct share *sh, struct inode *in, struct backend_file *bf)
{
	struct backend_setattr sa = { .valid = FSB_SET_MODE };
	struct stat st;
	mode_t kill = S_ISUID;

	if (!fs_request_kill_suidgid || !S_ISREG(in->type) ||
	    sh->backend->ops->getattr(sh->backend, in, &st) != 0)
		return;
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) ||
	    ((st.st_mode & S_ISGID) && !fs_caller_in_group(req, st.st_gid)))
		kill |= S_ISGID;
	if ((st.st_mode & kill) == 0)
		return;
	sa.mode = st.st_mode & 07777 & ~kill;
	/* the kernel keeps the mode it had cached (a host mount's writeback
	 * path asks for no fresh attributes after the write): tell it */
	if (sh->backend->ops->setattr(sh->backend, in, bf, &sa, &st) == 0 && sh->se != NULL)
		fuse_lowlevel_notify_inval_inode(sh->se, in->nodeid, -1, 0);
}

/* Translate a client setattr into the backend's, applying the policy. */
static int
fs_setattr_prepare(struct share *sh, const struct stat *attr, int to_set,
    struct backend_setattr *sa)
{
	int rc;

	rc = policy_check_write(&sh->policy);
	if (rc != 0)
		return rc;
	memset(sa, 0, sizeof(*sa));
	sa->valid = to_set & (FSB_SET_MODE | FSB_SET_UID | FSB_SET_GID |
	    FSB_SET_SIZE | FSB_SET_ATIME | FSB_SET_MTIME | FSB_SET_ATIME_NOW |
	    FSB_SET_MTIME_NOW);
	if (sa->valid == 0)	/* chown(-1, -1): ext4 still sets ctime */
		sa->valid = FSB_SET_CTIME;
	sa->mode = policy_filter_mode(&sh->policy, attr->st_mode) & 07777;
	sa->uid = policy_uid_to_host(&sh->policy, attr->st_uid);
	sa->gid = policy_gid_to_host(&sh->policy, attr->st_gid);
	sa->size = attr->st_size;
	sa->atime = attr->st_atim;
	sa->mtime = attr->st_mtim;
	/* no host id for that client id: 65534 is not one (it would hand
	 * the node to a real host user) unless the map gives it one */
	if ((to_set & FSB_SET_UID) && !policy_uid_has_host(&sh->policy, attr->st_uid))
		return -EPERM;
	if ((to_set & FSB_SET_GID) && !policy_gid_has_host(&sh->policy, attr->st_gid))
		return -EPERM;
	return 0;
}

static void
fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct backend_setattr sa;
	struct open_file *f = NULL;
	struct inode *in;
	struct stat st;
	double timeout;
	int rc;

	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = fs_setattr_prepare(sh, attr, to_set, &sa);
	if (rc == 0)
		rc = fs_check_setattr(sh, in, to_set);
	if (rc == 0 && (to_set & FSB_SET_SIZE) && !S_ISREG(in->type))
		rc = S_ISDIR(in->type) ? -EISDIR : -EINVAL;
	if (rc == 0 && fi != NULL && fi->fh != 0) {
		f = fs_file(sh, fi, false);
		if (f == NULL && !sh->no_open)	/* see fs_open_for */
			rc = -EBADF;
	}
	if (rc == 0) {
		fs_watch_self_begin(sh, in, NULL);
		fs_kill_suidgid(req, sh, in, f != NULL ? &f->bf : NULL);
		rc = sh->backend->ops->setattr(sh->backend, in, f != NULL ? &f->bf : NULL, &sa, &st);
		fs_watch_self_end(sh, in, NULL);
	}
	timeout = fs_entry_timeout(sh, in);
	fs_file_put(sh, f);
	fs_put(sh, in);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_stat_to_client(sh, &st);
	fuse_reply_attr(req, &st, timeout);
}

/*
 * Under symlinks=deny, may the client read this link's target now?  Only
 * while it is still at its last-known place and leads nowhere out from
 * there (a rename may have moved it, or a directory above it, since the
 * client looked it up).  0 or -ENOENT.
 */
static int
fs_readlink_allowed(struct share *sh, struct inode *in)
{
	char name[NAME_MAX + 1];
	struct inode *parent, *there;
	bool hidden;

	if (sh->policy.symlinks != POLICY_SYMLINKS_DENY)
		return 0;
	if (inode_table_location(&sh->inodes, in, &parent, name, sizeof(name)) != 0)
		return -ENOENT;
	there = fs_find_child(sh, parent, name);
	hidden = there != in || fs_symlink_hidden(sh, parent, in);
	if (there != NULL)
		fs_put(sh, there);
	fs_put(sh, parent);
	return hidden ? -ENOENT : 0;
}

static void
fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct share *sh = SHARE(req);
	char target[PATH_MAX];
	struct inode *in;
	int rc;

	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = S_ISLNK(in->type) ? fs_readlink_allowed(sh, in) : -EINVAL;
	if (rc == 0)
		rc = sh->backend->ops->readlink(sh->backend, in, target, sizeof(target));
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
}

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

	dir = fs_inode(sh, parent);
	if (dir == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
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

static void
fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fs_make(req, parent, name, FS_CREATE_NODE, mode, rdev, NULL);
}

static void
fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fs_make(req, parent, name, FS_CREATE_DIR, mode, 0, NULL);
}

static void
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

	dir = fs_inode(sh, parent);
	if (dir == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
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

static void
fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, false);
}

static void
fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, true);
}

struct inode *
fs_find_child(struct share *sh, struct inode *dir, const char *name)
{
	struct backend_entry be;
	struct inode *in;

	if (policy_check_name(name) != 0)
		return NULL;
	if (sh->backend->ops->lookup(sh->backend, dir, name, false, &be) != 0)
		return NULL;
	in = inode_table_find_key(&sh->inodes, be.st.st_dev, be.st.st_ino);
	sh->backend->ops->node_release(sh->backend, be.bdata);
	return in;
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

static void
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

static void
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

/* Flags a read-only share must refuse. */
static int
fs_check_open_flags(const struct share *sh, int flags)
{
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return policy_check_write(&sh->policy);
	return 0;
}

/* With writeback caching the kernel may read pages of a file opened
 * write-only, and it handles O_APPEND itself. */
static int
fs_open_flags(const struct share *sh, int flags)
{
	if (sh->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

/* Register an open file and set the cache flags of its reply. */
static int
fs_file_register(struct share *sh, struct inode *in, struct backend_file *bf,
    bool is_dir, struct fuse_file_info *fi, const struct stat *st)
{
	struct open_file *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	inode_table_pin(&sh->inodes, in);
	pthread_mutex_lock(&sh->inodes.lock);
	in->opens++;
	pthread_mutex_unlock(&sh->inodes.lock);
	f->inode = in;
	f->bf = *bf;
	f->is_dir = is_dir;
	pthread_mutex_init(&f->lock, NULL);
	fi->fh = file_table_add(&sh->files, f);
	switch (sh->policy.cache) {
	case POLICY_CACHE_NONE:
		/* no direct_io: shared mmap must keep working */
		fi->keep_cache = 0;
		break;
	case POLICY_CACHE_AUTO:
		fi->keep_cache = st != NULL && inode_table_same_data(&sh->inodes, in, st);
		break;
	case POLICY_CACHE_ALWAYS:
		fi->keep_cache = 1;
		/* not under deny: a listing must leave out a link that a
		 * rename elsewhere made lead out (fs_entry_timeout) */
		fi->cache_readdir = is_dir && sh->policy.symlinks != POLICY_SYMLINKS_DENY;
		break;
	}
	return 0;
}

static void
fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct backend_file bf;
	struct inode *in;
	struct stat st;
	int rc;

	if (sh->no_open) {
		/* the kernel stops sending OPEN and keeps the page cache:
		 * the watcher drops it when the file changes on the host */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = S_ISDIR(in->type) ? -EISDIR : policy_check_open_type(in->type);
	if (rc == 0)
		rc = fs_check_open_flags(sh, fi->flags);
	if (rc == 0)
		rc = fs_check_access(sh, in, fs_access_of_flags(fi->flags));
	if (rc == 0)
		rc = fs_check_vanished(sh, in);
	if (rc == 0)
		rc = sh->backend->ops->open(sh->backend, in, fs_open_flags(sh, fi->flags), &bf);
	if (rc == 0 && (fi->flags & O_TRUNC))
		fs_kill_suidgid(req, sh, in, &bf);
	if (rc == 0) {
		bool have_st = sh->backend->ops->getattr(sh->backend, in, &st) == 0;

		rc = fs_file_register(sh, in, &bf, false, fi, have_st ? &st : NULL);
		if (rc != 0)
			sh->backend->ops->release(sh->backend, &bf);
	}
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_open(req, fi);
}

/*
 * In no-open mode the kernel sends no RELEASE once an OPEN has been
 * answered ENOSYS, not even for files opened by CREATE, whose handles
 * would then stay open for good.  The newest SHARE_CREATED_MAX of them stay
 * open (a file is usually written right after its creation, through the
 * descriptor that created it, whatever its mode); the oldest is closed to
 * make room, and a request that still names it is served by opening the
 * inode for that request, as for handle 0.
 */
static void
fs_created_keep(struct share *sh, uint64_t fh)
{
	struct open_file *old;
	uint64_t old_fh;

	pthread_mutex_lock(&sh->created_lock);
	old_fh = sh->created[sh->created_next];
	sh->created[sh->created_next] = fh;
	sh->created_next = (sh->created_next + 1) % SHARE_CREATED_MAX;
	pthread_mutex_unlock(&sh->created_lock);
	if (old_fh == 0)
		return;
	old = file_table_remove(&sh->files, old_fh, false);	/* NULL: released */
	fs_file_put(sh, old);
}

static void
fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct fuse_entry_param e;
	struct backend_entry be;
	struct backend_file bf;
	struct backend_cred cred;
	struct inode *dir, *in = NULL;
	uint64_t fh;
	int rc;

	dir = fs_inode(sh, parent);
	if (dir == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = policy_check_name(name);
	if (rc == 0)
		rc = policy_check_create_type(&sh->policy, S_IFREG | mode);
	if (rc == 0 && fs_hide_name(sh, dir, name))
		rc = -EACCES;
	if (rc == 0)
		rc = fs_cred(req, &cred);
	if (rc == 0)
		rc = fs_check_access(sh, dir, W_OK | X_OK);
	if (rc == 0) {
		fs_watch_self_begin(sh, dir, NULL);
		rc = sh->backend->ops->create(sh->backend, dir, name,
		    policy_filter_mode(&sh->policy, mode) & 07777,
		    fs_open_flags(sh, fi->flags), &cred, &be, &bf);
		fs_watch_self_end(sh, dir, NULL);
	}
	if (rc == 0) {
		rc = fs_entry_adopt(sh, dir, name, &be, &e, &in);
		if (rc != 0)
			sh->backend->ops->release(sh->backend, &bf);
	}
	if (rc == 0 && fs_request_kill_suidgid && (e.attr.st_mode & (S_ISUID | S_ISGID))) {
		/* an existing file opened with O_TRUNC (no O_EXCL) */
		fs_kill_suidgid(req, sh, in, &bf);
		(void)sh->backend->ops->getattr(sh->backend, in, &e.attr);
		fs_stat_to_client(sh, &e.attr);
	}
	if (rc == 0) {
		rc = fs_file_register(sh, in, &bf, false, fi, &e.attr);
		if (rc != 0) {
			sh->backend->ops->release(sh->backend, &bf);
			inode_table_forget(&sh->inodes, in->nodeid, 1);
		}
	}
	fs_put(sh, dir);
	if (rc != 0) {
		if (in != NULL)
			fs_put(sh, in);
		fuse_reply_err(req, -rc);
		return;
	}
	fh = fi->fh;
	fuse_reply_create(req, &e, fi);
	fs_put(sh, in);
	if (sh->no_open)
		fs_created_keep(sh, fh);
}

static void
fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err;
	ssize_t n;
	char *buf;

	f = fs_file_for(sh, ino, fi, O_RDONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	if (f->bf.fd >= 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->bf.fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, 0);
		fs_file_put(sh, f);
		return;
	}
	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL) {
		fs_file_put(sh, f);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = sh->backend->ops->read(sh->backend, &f->bf, buf, size, off);
	fs_file_put(sh, f);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void
fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf,
    off_t off, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	struct open_file *f;
	int err;
	bool writing;
	ssize_t n;

	f = fs_file_for(sh, ino, fi, O_WRONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	n = policy_check_write(&sh->policy);
	writing = n == 0;
	if (writing) {
		fs_watch_self_begin(sh, f->inode, NULL);
		fs_kill_suidgid(req, sh, f->inode, &f->bf);
	}
	if (n == 0 && f->bf.fd >= 0) {
		struct stat before, after;
		bool track = sh->policy.cache == POLICY_CACHE_AUTO &&
		    fstat(f->bf.fd, &before) == 0;

		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = f->bf.fd;
		out.buf[0].pos = off;
		n = fuse_buf_copy(&out, in_buf, 0);
		/* the client's pages now hold what it wrote: a later open
		 * may keep them if nobody else wrote meanwhile */
		if (track && n >= 0 && fstat(f->bf.fd, &after) == 0)
			inode_table_data_written(&sh->inodes, f->inode, &before, &after);
	} else if (n == 0) {
		void *mem = malloc(out.buf[0].size > 0 ? out.buf[0].size : 1);

		out.buf[0].mem = mem;
		n = mem == NULL ? -ENOMEM : fuse_buf_copy(&out, in_buf, 0);
		if (n > 0)
			n = sh->backend->ops->write(sh->backend, &f->bf, mem, (size_t)n, off);
		free(mem);
	}
	if (writing)
		fs_watch_self_end(sh, f->inode, NULL);
	fs_file_put(sh, f);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/*
 * Locks stay in the client's kernel and writes are written through at
 * once, so a backend without a flush has nothing to do at close: ENOSYS
 * makes the kernel stop sending FLUSH (one round trip less per close).
 */
static void
fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int rc;

	if (sh->backend->ops->flush == NULL) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	f = fs_file(sh, fi, false);
	if (f == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	rc = sh->backend->ops->flush(sh->backend, &f->bf);
	fs_file_put(sh, f);
	fuse_reply_err(req, -rc);
}

static void
fs_release_common(fuse_req_t req, struct fuse_file_info *fi, bool is_dir)
{
	struct share *sh = SHARE(req);
	struct open_file *f;

	f = file_table_remove(&sh->files, fi->fh, is_dir);
	fs_file_put(sh, f);
	fuse_reply_err(req, 0);
}

static void
fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_release_common(req, fi, false);
}

static void
fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_release_common(req, fi, true);
}

static void
fs_fsync_common(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi,
    bool is_dir)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err = EBADF;

	f = fs_open_for(sh, ino, fi, O_RDONLY, 0, is_dir, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	err = is_dir ? sh->backend->ops->fsyncdir(sh->backend, &f->bf, datasync != 0) :
	    sh->backend->ops->fsync(sh->backend, &f->bf, datasync != 0);
	fs_file_put(sh, f);
	fuse_reply_err(req, -err);
}

static void
fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs_fsync_common(req, ino, datasync, fi, false);
}

static void
fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs_fsync_common(req, ino, datasync, fi, true);
}

static void
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
	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = S_ISDIR(in->type) ? fs_check_vanished(sh, in) : -ENOTDIR;
	if (rc == 0)
		rc = fs_check_access(sh, in, R_OK);
	if (rc == 0)
		rc = sh->backend->ops->opendir(sh->backend, in, &bf);
	if (rc == 0) {
		rc = fs_file_register(sh, in, &bf, true, fi, NULL);
		if (rc != 0)
			sh->backend->ops->releasedir(sh->backend, &bf);
	}
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_open(req, fi);
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
	if (sh->backend->ops->getattr(sh->backend, in, &st) != 0 ||
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
    struct backend_dirent *ent, char *p, size_t rem, bool plus)
{
	struct fuse_entry_param e;
	struct inode *in;
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
	if (!plus && !(sh->policy.symlinks == POLICY_SYMLINKS_DENY && ent->type == DT_LNK))
		return fuse_add_direntry(req, p, rem, ent->name, &e.attr, ent->next_off);

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
	if (plus) {
		n = fuse_add_direntry_plus(req, p, rem, ent->name, &e, ent->next_off);
		if (n <= rem) {
			fs_put(sh, in);
			return n;
		}
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
	struct backend_dirent ent;
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
	pthread_mutex_lock(&f->lock);
	for (;;) {
		ssize_t n;

		ent.has_entry = false;
		rc = sh->backend->ops->readdir(sh->backend, &f->bf, off, &ent);
		if (rc <= 0)
			break;
		n = fs_add_dirent(req, sh, f->inode, &ent, p, rem, plus);
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
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void
fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, false);
}

static void
fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, true);
}

static void
fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct share *sh = SHARE(req);
	struct statvfs sv;
	struct inode *in;
	int rc;

	in = fs_inode(sh, ino);
	if (in == NULL)
		in = fs_inode(sh, FUSE_ROOT_ID);
	rc = sh->backend->ops->statfs(sh->backend, in, &sv);
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* A name the policy refuses: in a namespace Linux knows, the policy says
 * no (EPERM); in any other, no filesystem could store it (EOPNOTSUPP). */
static int
fs_xattr_refusal(const char *name)
{
	static const char *const known[] = { "user.", "system.", "security.", "trusted." };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(name, known[i], strlen(known[i])) == 0)
			return -EPERM;
	return -EOPNOTSUPP;
}

/*
 * xattr=none: ENOSYS, after which the client's kernel answers every xattr
 * call itself (EOPNOTSUPP, as a file system without xattrs) and stops
 * asking -- it otherwise asks for security.capability before every write.
 */
static bool
fs_no_xattrs(fuse_req_t req, struct share *sh)
{
	if (sh->policy.xattr_allowed != 0)
		return false;
	fuse_reply_err(req, ENOSYS);
	return true;
}

static void
fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
    size_t size, int flags)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	int rc;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = policy_check_write(&sh->policy);
	if (rc == 0 && !policy_xattr_allowed(&sh->policy, name))
		rc = fs_xattr_refusal(name);
	if (rc == 0)
		rc = fs_check_xattr(sh, in, name, true);
	if (rc == 0) {
		fs_watch_self_begin(sh, in, NULL);
		rc = sh->backend->ops->setxattr(sh->backend, in, name, value, size, flags);
		fs_watch_self_end(sh, in, NULL);
	}
	fs_put(sh, in);
	fuse_reply_err(req, -rc);
}

/* Reply to a size query (size 0) or with the data. */
static void
fs_reply_xattr_data(fuse_req_t req, size_t size, ssize_t n, const char *buf)
{
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void
fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	char *buf = NULL;
	ssize_t n;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!policy_xattr_allowed(&sh->policy, name))
		n = -ENODATA;
	else if ((n = fs_check_xattr(sh, in, name, false)) != 0)
		;
	else if (size > 0 && (buf = malloc(size)) == NULL)
		n = -ENOMEM;
	else
		n = sh->backend->ops->getxattr(sh->backend, in, name, buf, size);
	fs_put(sh, in);
	fs_reply_xattr_data(req, size, n, buf);
	free(buf);
}

static void
fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	char *buf = NULL;
	ssize_t n, full;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	/* the filtered list is never longer than the whole one: read all of
	 * it, filter, then answer the size the client asked about */
	full = sh->backend->ops->listxattr(sh->backend, in, NULL, 0);
	n = full;
	if (full > 0) {
		buf = malloc((size_t)full);
		n = buf == NULL ? -ENOMEM :
		    sh->backend->ops->listxattr(sh->backend, in, buf, (size_t)full);
		if (n > 0)
			n = (ssize_t)policy_xattr_filter_list(&sh->policy, buf, (size_t)n);
	}
	fs_put(sh, in);
	if (n >= 0 && size > 0 && (size_t)n > size)
		n = -ERANGE;
	fs_reply_xattr_data(req, size, n, buf);
	free(buf);
}

static void
fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	int rc;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode(sh, ino);
	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = policy_check_write(&sh->policy);
	if (rc == 0 && !policy_xattr_allowed(&sh->policy, name))
		rc = -ENODATA;
	if (rc == 0)
		rc = fs_check_xattr(sh, in, name, true);
	if (rc == 0) {
		fs_watch_self_begin(sh, in, NULL);
		rc = sh->backend->ops->removexattr(sh->backend, in, name);
		fs_watch_self_end(sh, in, NULL);
	}
	fs_put(sh, in);
	fuse_reply_err(req, -rc);
}

static void
fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err;
	int rc;

	f = fs_file_for(sh, ino, fi, O_WRONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	rc = policy_check_write(&sh->policy);
	if (rc == 0) {
		fs_watch_self_begin(sh, f->inode, NULL);
		rc = sh->backend->ops->fallocate(sh->backend, &f->bf, mode, offset, length);
		fs_watch_self_end(sh, f->inode, NULL);
	}
	fs_file_put(sh, f);
	fuse_reply_err(req, -rc);
}

static void
fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err;
	off_t r;

	f = fs_file_for(sh, ino, fi, O_RDONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	r = sh->backend->ops->lseek(sh->backend, &f->bf, off, whence);
	fs_file_put(sh, f);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, r);
}

static void
fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
    struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct share *sh = SHARE(req);
	struct open_file *in, *out;
	int err_in = EBADF, err_out = EBADF;
	ssize_t n;

	in = fs_file_for(sh, ino_in, fi_in, O_RDONLY, &err_in);
	out = fs_file_for(sh, ino_out, fi_out, O_WRONLY, &err_out);
	n = in == NULL ? -err_in : out == NULL ? -err_out : policy_check_write(&sh->policy);
	if (n == 0) {
		fs_watch_self_begin(sh, out->inode, NULL);
		n = sh->backend->ops->copy_file_range(sh->backend, &in->bf, off_in,
		    &out->bf, off_out, len, (unsigned int)flags);
		fs_watch_self_end(sh, out->inode, NULL);
	}
	fs_file_put(sh, out);
	fs_file_put(sh, in);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void
fs_init_conn(void *userdata, struct fuse_conn_info *conn)
{
	struct share *sh = userdata;

	/* not under deny: READLINK must be asked, and may be refused, each
	 * time (fs_readlink_allowed) */
	if ((conn->capable & FUSE_CAP_CACHE_SYMLINKS) && sh->policy.symlinks != POLICY_SYMLINKS_DENY)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (sh->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else {
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
		sh->writeback = false;
	}
	/* where no watcher reports changes, the kernel compares mtime and
	 * size at each revalidation and drops stale pages itself */
	if (sh->auto_inval_data && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA))
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	else
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* flock and POSIX locks stay with the client's kernel */
	conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	/* without OPEN the server cannot truncate at open: let the kernel
	 * send a SETATTR for O_TRUNC instead */
	if (sh->no_open)
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* READDIRPLUS_AUTO sends only a listing's first chunk with
	 * attributes (glibc reads all chunks before the caller can stat
	 * anything); where a round trip costs far more than a bigger
	 * listing, every chunk carries them and later stats find the cache */
	if (sh->readdirplus_all)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* small files: a plain copy beats setting up a pipe to splice */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init_conn,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write_buf = fs_write_buf,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.copy_file_range = fs_copy_file_range,
};

static void
fs_release_inode(void *ctx, struct inode *in)
{
	struct share *sh = ctx;

	fs_watch_dir_freed(sh, in);
	if (in->bdata != NULL)
		sh->backend->ops->node_release(sh->backend, in->bdata);
}

int
share_init(struct share *sh, const struct policy *policy, struct backend *backend)
{
	struct backend_entry root;
	int rc;

	memset(sh, 0, sizeof(*sh));
	sh->auto_inval_data = true;
	sh->policy = *policy;
	sh->backend = backend;
	rc = backend->ops->root(backend, &root);
	if (rc != 0)
		return rc;
	rc = inode_table_init(&sh->inodes, root.st.st_dev, root.st.st_ino,
	    root.bdata, fs_release_inode, sh);
	if (rc != 0) {
		backend->ops->node_release(backend, root.bdata);
		return rc;
	}
	backend->ops->attach(backend, &sh->inodes);
	rc = fs_hide_start(sh);
	if (rc != 0) {
		inode_table_destroy(&sh->inodes);
		return rc;
	}
	file_table_init(&sh->files);
	sh->hint_fd = -1;
	pthread_mutex_init(&sh->created_lock, NULL);
	switch (policy->cache) {
	case POLICY_CACHE_NONE:
		sh->entry_timeout = sh->attr_timeout = sh->negative_timeout = 0;
		sh->fallback_timeout = 0;
		break;
	case POLICY_CACHE_AUTO:
		/* long where the watcher reports changes, short elsewhere */
		sh->entry_timeout = sh->attr_timeout = FS_TIMEOUT_WATCHED;
		sh->negative_timeout = FS_TIMEOUT_WATCHED;
		sh->fallback_timeout = FS_TIMEOUT_FALLBACK;
		break;
	case POLICY_CACHE_ALWAYS:
		sh->entry_timeout = sh->attr_timeout = FS_TIMEOUT_ALWAYS;
		sh->negative_timeout = sh->fallback_timeout = FS_TIMEOUT_ALWAYS;
		sh->writeback = !policy->read_only;
		break;
	}
	return 0;
}

void
share_destroy(struct share *sh)
{
	struct open_file *f;

	fs_watch_stop(sh);
	/* whatever the client left open (a guest that went away, handles
	 * of created files in no-open mode) */
	while ((f = file_table_remove_any(&sh->files)) != NULL)
		fs_file_put(sh, f);
	pthread_mutex_destroy(&sh->created_lock);
	inode_table_destroy(&sh->inodes);
	fs_hide_stop(sh);
	sh->backend->ops->destroy(sh->backend);
}
