/*
 * fs_entry: nodes as the client sees them: LOOKUP (a name in a directory
 * to a node id, through the backend's lookup), FORGET, GETATTR, SETATTR,
 * READLINK, and the helpers that turn a backend entry into a client one
 * (ids mapped, hidden names and links leading out left out, timeouts).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"

/* Host attributes as the client sees them: ids mapped, and the owner's
 * (group's) mode bits folded into other's for a host id with no client id
 * (see policy_mode_to_client and fs_access.c). */
void
fs_stat_to_client(const struct share *sh, struct stat *st)
{
	st->st_mode = policy_mode_to_client(&sh->policy, st->st_uid, st->st_gid, st->st_mode);
	st->st_uid = policy_uid_to_client(&sh->policy, st->st_uid);
	st->st_gid = policy_gid_to_client(&sh->policy, st->st_gid);
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
bool
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
double
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
int
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
	fs_attrs_given(in, &be->st);
	*inp = in;
	return 0;
}

int
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

void
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

void
fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct share *sh = SHARE(req);
	struct fuse_entry_param e;
	struct inode *dir, *in = NULL;
	int rc;

	dir = fs_inode_or_estale(req, sh, parent);
	if (dir == NULL)
		return;
	rc = fs_check_access(sh, dir, X_OK);
	if (rc == 0)
		rc = fs_do_lookup(sh, dir, name, &e, &in);
	if (rc == 0)
		fs_prefill_note_lookup(sh, req, parent);
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

void
fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_table_forget(&SHARE(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

void
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
int
fs_check_vanished(struct share *sh, struct inode *in)
{
	struct stat st;

	if (!sh->estale_vanished || sh->backend->ops->getattr(sh->backend, in, &st) != 0)
		return 0;
	return fs_vanished(sh, in, &st) ? -ESTALE : 0;
}

/* Reply with attributes st (host view) or the error rc. */
static void
fs_reply_attr_or_err(fuse_req_t req, struct share *sh, int rc, struct stat *st,
    double timeout)
{
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_stat_to_client(sh, st);
	fuse_reply_attr(req, st, timeout);
}

void
fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	struct stat st;
	double timeout;
	int rc;

	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	rc = sh->backend->ops->getattr(sh->backend, in, &st);
	if (rc == 0 && fi == NULL && fs_vanished(sh, in, &st))
		rc = -ESTALE;
	timeout = fs_entry_timeout(sh, in);
	if (rc == 0)
		fs_attrs_given(in, &st);
	fs_put(sh, in);
	fs_reply_attr_or_err(req, sh, rc, &st, timeout);
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

void
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

	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	fs_note_write(in);
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
	if (rc == 0)
		fs_attrs_given(in, &st);
	fs_file_put(sh, f);
	fs_put(sh, in);
	fs_reply_attr_or_err(req, sh, rc, &st, timeout);
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

void
fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct share *sh = SHARE(req);
	char target[PATH_MAX];
	struct inode *in;
	int rc;

	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	rc = S_ISLNK(in->type) ? fs_readlink_allowed(sh, in) : -EINVAL;
	if (rc == 0)
		rc = sh->backend->ops->readlink(sh->backend, in, target, sizeof(target));
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
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
