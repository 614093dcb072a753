// SPDX-License-Identifier: GPL-2.0
/*
 * fsb_notify: a guest kernel module that lets the fsbridge agent raise
 * fsnotify events (what inotify and fanotify watchers see) for changes the
 * host made to a virtio-fs share.  Upstream virtio-fs has no notification
 * queue, so without this a watcher in the guest never hears of a host
 * edit.  The agent writes records (fsb_notify.h) to /dev/fsb_notify (0600,
 * CAP_SYS_ADMIN); each is raised through the same fsnotify() calls the VFS
 * makes for a local change, on the dentry the guest has cached, or on the
 * parent directory (with the name) for a name the guest never looked up.
 *
 * Nothing here asks the file server anything beyond resolving the
 * record's directory (which F_CACHED avoids too): the child is looked up
 * in the dcache only (d_hash_and_lookup).  The dentry cache is changed
 * only with F_DROP: a name the host removed is dropped (d_invalidate,
 * as FUSE does for a host notification) once its events are raised.  The
 * record is copied in before anything is resolved; no lock is held across
 * a user copy; the module holds only references (path, dentry): while it
 * calls fsnotify(), and, for the last two directories it resolved, until
 * the end of the write().
 *
 * An event on a child the guest never looked up must reach the parent's
 * watch as a child event (FS_EVENT_ON_CHILD, with the name): since 6.1
 * an event delivered to a directory's own mark keeps its name only if it
 * is a directory-entry event.  fsnotify() takes the child inode for that;
 * the module passes a private inode of its own (on an internal pseudo
 * filesystem, never reachable by path, so never watched).
 *
 * GPL: fsnotify(), __fsnotify_parent(), fsnotify_get_cookie() and
 * __fsnotify_inode_delete() are EXPORT_SYMBOL_GPL.
 */
#include <linux/capability.h>
#include <linux/dcache.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "fsb_notify.h"

#define FSBN_MAGIC 0x6673626e	/* "fsbn" */

/* The stand-in child for names the guest does not have. */
static struct vfsmount *fsbn_mnt;
static struct inode *fsbn_ghost;

/* One record, copied in: NUL-terminated strings in buf. */
struct fsbn_rec {
	struct fsb_notify_rec h;
	char *dir, *dir2;
	struct qstr name, name2;
	char *buf;
};

/* ---- validation ---- */

static bool fsbn_dir_ok(const char *s, size_t len)
{
	return len >= 1 && len <= FSB_NOTIFY_PATH_MAX && s[0] == '/' &&
	       !memchr(s, '\0', len);
}

static bool fsbn_name_ok(const char *s, size_t len)
{
	if (len < 1 || len > FSB_NOTIFY_NAME_MAX)
		return false;
	if (memchr(s, '\0', len) || memchr(s, '/', len))
		return false;
	if (s[0] == '.' && (len == 1 || (len == 2 && s[1] == '.')))
		return false;
	return true;
}

/* Which strings a kind takes: name optional for events on an object. */
static int fsbn_check_shape(const struct fsb_notify_rec *h)
{
	bool two = h->dir2_len || h->name2_len;

	if (h->flags & ~FSB_NOTIFY_F_ALL)
		return -EINVAL;
	switch (h->kind) {
	case FSB_NOTIFY_CREATE:
	case FSB_NOTIFY_DELETE:
		return h->name_len && !two ? 0 : -EINVAL;
	case FSB_NOTIFY_MODIFY:
	case FSB_NOTIFY_CLOSE_WRITE:
	case FSB_NOTIFY_ATTRIB:
		return !two ? 0 : -EINVAL;
	case FSB_NOTIFY_MOVE:
		return h->name_len && h->dir2_len && h->name2_len ? 0 : -EINVAL;
	case FSB_NOTIFY_OVERFLOW:
		return !h->name_len && !two ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/* Copies one string of len bytes from *up into *pos, NUL-terminated. */
static int fsbn_take(const char __user **up, char **pos, size_t len, char **out)
{
	if (copy_from_user(*pos, *up, len))
		return -EFAULT;
	(*pos)[len] = '\0';
	*out = *pos;
	*up += len;
	*pos += len + 1;
	return 0;
}

/* Copies in and checks the record at ubuf (avail bytes left in the write). */
static int fsbn_read_rec(const char __user *ubuf, size_t avail,
			 struct fsbn_rec *r)
{
	const char __user *up = ubuf + sizeof(r->h);
	size_t strings;
	char *pos, *name = NULL, *name2 = NULL;
	int err;

	memset(r, 0, sizeof(*r));
	if (avail < sizeof(r->h))
		return -EINVAL;
	if (copy_from_user(&r->h, ubuf, sizeof(r->h)))
		return -EFAULT;
	strings = (size_t)r->h.dir_len + r->h.name_len + r->h.dir2_len +
		  r->h.name2_len;
	if (r->h.size != sizeof(r->h) + strings || r->h.size > avail)
		return -EINVAL;
	if (r->h.dir_len > FSB_NOTIFY_PATH_MAX ||
	    r->h.dir2_len > FSB_NOTIFY_PATH_MAX ||
	    r->h.name_len > FSB_NOTIFY_NAME_MAX ||
	    r->h.name2_len > FSB_NOTIFY_NAME_MAX)
		return -EINVAL;
	err = fsbn_check_shape(&r->h);
	if (err)
		return err;

	r->buf = kmalloc(strings + 4, GFP_KERNEL);
	if (!r->buf)
		return -ENOMEM;
	pos = r->buf;
	err = fsbn_take(&up, &pos, r->h.dir_len, &r->dir);
	if (!err)
		err = fsbn_take(&up, &pos, r->h.name_len, &name);
	if (!err)
		err = fsbn_take(&up, &pos, r->h.dir2_len, &r->dir2);
	if (!err)
		err = fsbn_take(&up, &pos, r->h.name2_len, &name2);
	if (err)
		return err;

	if (!fsbn_dir_ok(r->dir, r->h.dir_len))
		return -EINVAL;
	if (r->h.name_len && !fsbn_name_ok(name, r->h.name_len))
		return -EINVAL;
	if (r->h.kind == FSB_NOTIFY_MOVE &&
	    (!fsbn_dir_ok(r->dir2, r->h.dir2_len) ||
	     !fsbn_name_ok(name2, r->h.name2_len)))
		return -EINVAL;
	r->name = (struct qstr)QSTR_INIT(name, r->h.name_len);
	r->name2 = (struct qstr)QSTR_INIT(name2, r->h.name2_len);
	return 0;
}

/* ---- resolving ---- */

/*
 * The last two directories resolved within one write (two: a root-share
 * change is raised under the share's own mount, then under the overlay):
 * a burst's records name the same few directories over and over, and
 * each kern_path() walks every component again.  Kept only across
 * records that change no name (create, modify, close-write, attrib): a
 * delete or move may have removed or moved a directory on a cached path.
 */
#define FSBN_LAST 2

struct fsbn_last {
	char *dir;		/* NULL: nothing cached */
	unsigned int lookup;
	u16 cached;		/* the record's FSB_NOTIFY_F_CACHED */
	struct path path;
};

static void fsbn_last_drop(struct fsbn_last *s)
{
	if (s->dir) {
		path_put(&s->path);
		kfree(s->dir);
		s->dir = NULL;
	}
}

static void fsbn_last_forget(struct fsbn_last *c)
{
	for (int i = 0; i < FSBN_LAST; i++)
		fsbn_last_drop(&c[i]);
}

static int fsbn_resolve(const char *path, unsigned int lookup, u16 flags,
			struct path *out)
{
	if (flags & FSB_NOTIFY_F_CACHED)
		lookup |= LOOKUP_CACHED;
	return kern_path(path, LOOKUP_FOLLOW | lookup, out);
}

/* The guest's cached, positive dentry for name in dir, or NULL.  Never
 * calls into the filesystem. */
static struct dentry *fsbn_cached(struct dentry *dir, struct qstr *name)
{
	struct dentry *d = d_hash_and_lookup(dir, name);

	if (IS_ERR_OR_NULL(d))
		return NULL;
	if (d_is_negative(d)) {
		dput(d);
		return NULL;
	}
	return d;
}

static u32 fsbn_isdir(u16 flags)
{
	return (flags & FSB_NOTIFY_F_DIR) ? FS_ISDIR : 0;
}

/* ---- raising ---- */

/* An event on an object: on the object and its parent's watch (with its
 * name), as fsnotify_modify() and friends do; data is a path so fanotify
 * mount marks hear of it too. */
static void fsbn_on_object(struct path *obj, u32 mask)
{
	fsnotify_parent(obj->dentry, mask, obj, FSNOTIFY_EVENT_PATH);
}

/* MODIFY, CLOSE_WRITE, ATTRIB on dir/name (or dir itself). */
static void fsbn_child_event(struct path *dir, struct fsbn_rec *r, u32 mask)
{
	struct inode *dinode = d_inode(dir->dentry);
	struct dentry *child;
	struct path obj;

	if (!r->name.len) {
		fsbn_on_object(dir, mask);
		return;
	}
	child = fsbn_cached(dir->dentry, &r->name);
	if (child) {
		obj.mnt = dir->mnt;
		obj.dentry = child;
		fsbn_on_object(&obj, mask);
		dput(child);
		return;
	}
	/* Never looked up: only the directory's watch can hear of it. */
	if (atomic_long_read(&dinode->i_sb->s_fsnotify_connectors) == 0)
		return;
	fsnotify(mask | fsbn_isdir(r->h.flags) | FS_EVENT_ON_CHILD, dinode,
		 FSNOTIFY_EVENT_INODE, dinode, &r->name, fsbn_ghost, 0);
}

/* F_DROP: the name d no longer has on the host, or a negative dentry of
 * a name the host created (not a mount point: d_invalidate would detach
 * what is mounted there). */
static void fsbn_drop(struct dentry *d, u16 flags)
{
	if ((flags & FSB_NOTIFY_F_DROP) && !d_mountpoint(d))
		d_invalidate(d);
}

static void fsbn_create(struct path *dir, struct fsbn_rec *r)
{
	struct inode *dinode = d_inode(dir->dentry);
	u32 mask = FS_CREATE | fsbn_isdir(r->h.flags);
	struct dentry *child = fsbn_cached(dir->dentry, &r->name);

	if (child) {
		fsnotify_name(mask, child, FSNOTIFY_EVENT_DENTRY, dinode,
			      &r->name, 0);
		/* F_DROP: the host made a file or symlink at a name the guest
		 * holds one for (a rename onto it whose other half the guest
		 * cannot see, from a hidden or unwatched directory): what the
		 * guest holds may be the replaced object.  Dropped, so that
		 * the next lookup asks; a directory stays (dropping it would
		 * take it from under a process whose cwd it is, and detach
		 * what is mounted below it). */
		if (!d_is_dir(child))
			fsbn_drop(child, r->h.flags);
		dput(child);
	} else {
		/* F_DROP: a negative dentry the guest cached says the name
		 * does not exist; it does now */
		struct dentry *neg = d_hash_and_lookup(dir->dentry, &r->name);

		if (!IS_ERR_OR_NULL(neg)) {
			if (d_is_negative(neg))
				fsbn_drop(neg, r->h.flags);
			dput(neg);
		}
		fsnotify_name(mask, dinode, FSNOTIFY_EVENT_INODE, dinode,
			      &r->name, 0);
	}
}

/* The object at a name that went away: what vfs_unlink()/vfs_rmdir() and
 * the final dput() raise on it. */
static void fsbn_gone(struct inode *inode, bool isdir, bool linked)
{
	if (!isdir)
		fsnotify_link_count(inode);
	if (!linked)
		fsnotify_inoderemove(inode);
}

static void fsbn_delete(struct path *dir, struct fsbn_rec *r)
{
	struct inode *dinode = d_inode(dir->dentry);
	u32 mask = FS_DELETE | fsbn_isdir(r->h.flags);
	struct dentry *child = fsbn_cached(dir->dentry, &r->name);
	struct inode *inode;

	if (!child) {
		fsnotify_name(mask, dinode, FSNOTIFY_EVENT_INODE, dinode,
			      &r->name, 0);
		return;
	}
	inode = d_inode(child);
	/* dropped first: a watcher woken by the events finds it gone */
	fsbn_drop(child, r->h.flags);
	fsbn_gone(inode, S_ISDIR(inode->i_mode),
		  r->h.flags & FSB_NOTIFY_F_LINKED);
	fsnotify_name(mask, inode, FSNOTIFY_EVENT_INODE, dinode, &r->name, 0);
	dput(child);
}

/* What fsnotify_move() raises, without FS_RENAME (it needs the moved
 * dentry under its new parent, which the guest does not have). */
/* Is d (at a rename's new name, its old name not cached) the object
 * that was replaced there rather than the one moved in?  Asks the file
 * server (a LOOKUP): a guest whose listing already showed the moved
 * object has it cached there, but an overlay over the share keeps the
 * replaced one until told. */
static bool fsbn_stale(struct dentry *d)
{
	if (!(d->d_flags & DCACHE_OP_REVALIDATE))
		return false;
	return d->d_op->d_revalidate(d, LOOKUP_REVAL) <= 0;
}

static void fsbn_move(struct path *from, struct path *to, struct fsbn_rec *r)
{
	struct inode *fdir = d_inode(from->dentry), *tdir = d_inode(to->dentry);
	struct dentry *src = fsbn_cached(from->dentry, &r->name);
	struct dentry *dst = fsbn_cached(to->dentry, &r->name2);
	u32 isdir = fsbn_isdir(r->h.flags);
	u32 cookie = fsnotify_get_cookie();
	struct inode *sinode;
	bool src_old = src != NULL;	/* still cached at the old name */

	if (!src) {
		/* The guest may already know it by its new name (else what
		 * it has there is the object replaced). */
		if (!dst || !fsbn_stale(dst)) {
			src = dst;
			dst = NULL;
		}
	} else if (dst && d_inode(dst) == d_inode(src)) {
		dput(dst);
		dst = NULL;
	}
	sinode = src ? d_inode(src) : NULL;
	/* dropped first: a watcher woken by the events finds what is now */
	if (dst)
		fsbn_drop(dst, r->h.flags);
	if (src && src_old)
		fsbn_drop(src, r->h.flags);

	fsnotify_name(FS_MOVED_FROM | isdir, sinode ? sinode : fdir,
		      FSNOTIFY_EVENT_INODE, fdir, &r->name, cookie);
	fsnotify_name(FS_MOVED_TO | isdir, sinode ? sinode : tdir,
		      FSNOTIFY_EVENT_INODE, tdir, &r->name2, cookie);
	if (dst) {
		struct inode *t = d_inode(dst);

		if (!S_ISDIR(t->i_mode))
			fsnotify_link_count(t);
	}
	if (sinode)
		fsnotify_inode(sinode, FS_MOVE_SELF);
	if (dst) {
		struct inode *t = d_inode(dst);

		if (!(r->h.flags & FSB_NOTIFY_F_LINKED))
			fsnotify_inoderemove(t);
		dput(dst);
	}
	if (src)
		dput(src);
}

/* r's directory, from the cache c (FSBN_LAST slots, newest first) or
 * resolved (and then cached, when keep). */
static int fsbn_resolve_dir(struct fsbn_rec *r, unsigned int lookup,
			    struct fsbn_last *c, bool keep, struct path *out)
{
	u16 cached = r->h.flags & FSB_NOTIFY_F_CACHED;
	struct fsbn_last fresh;
	int err;

	for (int i = 0; keep && i < FSBN_LAST; i++) {
		if (c[i].dir && c[i].lookup == lookup && c[i].cached == cached &&
		    strcmp(c[i].dir, r->dir) == 0) {
			*out = c[i].path;
			path_get(out);
			return 0;
		}
	}
	err = fsbn_resolve(r->dir, lookup, r->h.flags, out);
	if (err || !keep)
		return err;
	fresh.dir = kstrdup(r->dir, GFP_KERNEL);
	if (!fresh.dir)
		return 0;
	fresh.lookup = lookup;
	fresh.cached = cached;
	fresh.path = *out;
	path_get(&fresh.path);
	fsbn_last_drop(&c[FSBN_LAST - 1]);
	memmove(&c[1], &c[0], (FSBN_LAST - 1) * sizeof(*c));
	c[0] = fresh;
	return 0;
}

static int fsbn_raise(struct fsbn_rec *r, struct fsbn_last *c)
{
	struct path dir, dir2;
	unsigned int lookup = r->name.len ? LOOKUP_DIRECTORY : 0;
	/* may remove or move a directory some cached path goes through */
	bool unnames = r->h.kind == FSB_NOTIFY_DELETE ||
		       r->h.kind == FSB_NOTIFY_MOVE ||
		       r->h.kind == FSB_NOTIFY_OVERFLOW;
	int err;

	if (r->h.kind == FSB_NOTIFY_OVERFLOW)
		lookup = LOOKUP_DIRECTORY;
	if (unnames)
		fsbn_last_forget(c);
	err = fsbn_resolve_dir(r, lookup, c, !unnames, &dir);
	if (err)
		return err;
	switch (r->h.kind) {
	case FSB_NOTIFY_CREATE:
		fsbn_create(&dir, r);
		break;
	case FSB_NOTIFY_DELETE:
		fsbn_delete(&dir, r);
		break;
	case FSB_NOTIFY_MODIFY:
		fsbn_child_event(&dir, r, FS_MODIFY);
		break;
	case FSB_NOTIFY_CLOSE_WRITE:
		fsbn_child_event(&dir, r, FS_CLOSE_WRITE);
		break;
	case FSB_NOTIFY_ATTRIB:
		fsbn_child_event(&dir, r, FS_ATTRIB);
		break;
	case FSB_NOTIFY_OVERFLOW:
		fsbn_on_object(&dir, FS_ATTRIB);
		break;
	case FSB_NOTIFY_MOVE:
		err = fsbn_resolve(r->dir2, LOOKUP_DIRECTORY, r->h.flags, &dir2);
		if (!err) {
			fsbn_move(&dir, &dir2, r);
			path_put(&dir2);
		}
		break;
	}
	path_put(&dir);
	return err;
}

/* ---- the device ---- */

static int fsbn_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!(file->f_mode & FMODE_WRITE) || (file->f_mode & FMODE_READ))
		return -EINVAL;
	return 0;
}

static ssize_t fsbn_write(struct file *file, const char __user *ubuf,
			  size_t len, loff_t *ppos)
{
	struct fsbn_last last[FSBN_LAST] = { { .dir = NULL } };
	struct fsbn_rec r;
	size_t done = 0;
	int err = 0;

	while (done < len) {
		err = fsbn_read_rec(ubuf + done, len - done, &r);
		if (!err)
			err = fsbn_raise(&r, last);
		kfree(r.buf);
		if (err)
			break;
		done += r.h.size;
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	fsbn_last_forget(last);
	return done ? (ssize_t)done : err;
}

static const struct file_operations fsbn_fops = {
	.owner = THIS_MODULE,
	.open = fsbn_open,
	.write = fsbn_write,
	.llseek = noop_llseek,
};

static struct miscdevice fsbn_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "fsb_notify",
	.fops = &fsbn_fops,
	.mode = 0600,
};

static int fsbn_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, FSBN_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type fsbn_fs_type = {
	.name = "fsb_notify",
	.init_fs_context = fsbn_init_fs_context,
	.kill_sb = kill_anon_super,
};

static int __init fsbn_init(void)
{
	int err;

	fsbn_mnt = kern_mount(&fsbn_fs_type);
	if (IS_ERR(fsbn_mnt))
		return PTR_ERR(fsbn_mnt);
	fsbn_ghost = alloc_anon_inode(fsbn_mnt->mnt_sb);
	if (IS_ERR(fsbn_ghost)) {
		err = PTR_ERR(fsbn_ghost);
		goto out_mnt;
	}
	err = misc_register(&fsbn_dev);
	if (err)
		goto out_inode;
	return 0;

out_inode:
	iput(fsbn_ghost);
out_mnt:
	kern_unmount(fsbn_mnt);
	return err;
}

static void __exit fsbn_exit(void)
{
	misc_deregister(&fsbn_dev);
	iput(fsbn_ghost);
	kern_unmount(fsbn_mnt);
}

module_init(fsbn_init);
module_exit(fsbn_exit);

MODULE_DESCRIPTION("fsbridge: raise fsnotify events for host-side changes");
MODULE_LICENSE("GPL");
MODULE_VERSION(FSB_NOTIFY_VERSION);
