/*
 * fs_watch: host changes of a share turned into cache decisions.
 *
 * Subscribes to the watcher (watch.h) and, for each change made on the
 * host, drops exactly what a client may have cached: the entry
 * (notify_inval_entry), the inode's attributes and pages
 * (notify_inval_inode), counts the change on the inode (for keep-cache
 * decisions of transports that cannot be notified) and marks deleted
 * inodes stale.  The server's own changes are not echoed back: fanotify
 * reports who made a change and the watcher drops our own pid; inotify
 * does not, so after each change of ours the inode's ctime is stamped and
 * an event that finds that same ctime is ours.
 *
 * Entries whose changes are reported get long timeouts; entries in a
 * directory the watcher could not watch get the fallback timeout.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "share.h"
#include "log.h"

/* a change the client can see through a notification or a timeout */
struct fs_notice {
	uint64_t nodeid;
	uint64_t parent;
	char *name;
};

static bool
timespec_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void
fs_notify_inode(struct share *sh, uint64_t nodeid)
{
	__atomic_add_fetch(&sh->notify_inode_count, 1, __ATOMIC_RELAXED);
	log_debug("notify: inval_inode %llu", (unsigned long long)nodeid);
	if (sh->se != NULL)
		fuse_lowlevel_notify_inval_inode(sh->se, nodeid, 0, 0);
}

static void
fs_notify_entry(struct share *sh, uint64_t parent, const char *name)
{
	__atomic_add_fetch(&sh->notify_entry_count, 1, __ATOMIC_RELAXED);
	log_debug("notify: inval_entry %llu", (unsigned long long)parent);
	if (sh->se != NULL)
		fuse_lowlevel_notify_inval_entry(sh->se, parent, name, strlen(name));
}

/* A guest is told of changes by hints (fs_hint.c), not notifications. */
static bool
fs_hinting(const struct share *sh)
{
	return sh->se == NULL && sh->hint_fd >= 0;
}

#define KINDS_ENTRY (WATCH_K_CREATE | WATCH_K_MOVED_FROM | WATCH_K_MOVED_TO | \
	WATCH_K_DELETE)
#define KINDS_OBJECT (WATCH_K_MODIFY | WATCH_K_ATTRIB | WATCH_K_CLOSE_WRITE)

/* With the table lock held: did a change of ours leave ctime ts? */
static bool
fs_self_stamped(const struct inode *in, const struct timespec *ts)
{
	for (unsigned int i = 0; i < INODE_SELF_CTIMES; i++)
		if (timespec_eq(&in->self_ctime[i], ts))
			return true;
	return false;
}

/*
 * Is in's state the server's own doing: a change of ours under way, or a
 * ctime one of our last few changes left?  The busy count is sampled
 * before and after the stat, so a change of ours that ends in between is
 * still recognised; the last few stamps are kept, not one, so is a
 * change of ours whose stamp a later one of ours (begun and ended while
 * this thread was not running) followed.  A ctime none of ours left is
 * the host's, even if a change of ours began after the stat.  (A host
 * change made while one of ours is under way on the same inode is taken
 * for ours: inotify cannot tell them apart.)
 */
static bool
fs_is_self_change(struct share *sh, struct inode *in)
{
	unsigned int busy_before;
	struct stat st;
	bool self;

	if (!sh->self_stamps)
		return false;
	pthread_mutex_lock(&sh->inodes.lock);
	busy_before = in->self_busy;
	pthread_mutex_unlock(&sh->inodes.lock);
	if (sh->backend->ops->getattr(sh->backend, in, &st) != 0)
		return false;
	pthread_mutex_lock(&sh->inodes.lock);
	self = busy_before > 0 || in->self_busy > 0 || fs_self_stamped(in, &st.st_ctim);
	pthread_mutex_unlock(&sh->inodes.lock);
	return self;
}

static void
fs_self_begin_one(struct share *sh, struct inode *in)
{
	if (in == NULL)
		return;
	pthread_mutex_lock(&sh->inodes.lock);
	in->self_busy++;
	pthread_mutex_unlock(&sh->inodes.lock);
}

static void
fs_self_end_one(struct share *sh, struct inode *in)
{
	struct stat st;
	bool have;

	if (in == NULL)
		return;
	have = sh->backend->ops->getattr(sh->backend, in, &st) == 0;
	pthread_mutex_lock(&sh->inodes.lock);
	if (have && !fs_self_stamped(in, &st.st_ctim)) {
		in->self_ctime[in->self_ctime_next] = st.st_ctim;
		in->self_ctime_next = (in->self_ctime_next + 1) % INODE_SELF_CTIMES;
	}
	in->self_busy--;
	pthread_mutex_unlock(&sh->inodes.lock);
}

void
fs_watch_self_begin(struct share *sh, struct inode *a, struct inode *b)
{
	if (!sh->self_stamps)
		return;
	fs_self_begin_one(sh, a);
	if (b != a)
		fs_self_begin_one(sh, b);
}

void
fs_watch_self_end(struct share *sh, struct inode *a, struct inode *b)
{
	if (!sh->self_stamps)
		return;
	fs_self_end_one(sh, a);
	if (b != a)
		fs_self_end_one(sh, b);
}

/* Count a host change on in and drop what the client caches of it;
 * false if the change was the server's own. */
static bool
fs_object_changed(struct share *sh, struct inode *in, unsigned int what)
{
	if (fs_is_self_change(sh, in))
		return false;
	if (!(what & (WATCH_DATA | WATCH_ATTR | WATCH_GONE)))
		return true;	/* only a close: nothing cached changed */
	pthread_mutex_lock(&sh->inodes.lock);
	__atomic_add_fetch(&in->changes, 1, __ATOMIC_RELAXED);
	if (what & WATCH_GONE)
		in->stale = true;
	pthread_mutex_unlock(&sh->inodes.lock);
	fs_notify_inode(sh, in->nodeid);
	return true;
}

static void
fs_dir_event(struct share *sh, const struct watch_event *ev)
{
	struct inode *dir, *obj = NULL;
	bool entry_host = false, obj_host = true;

	dir = inode_table_find_key(&sh->inodes, ev->dir_dev, ev->dir_ino);
	if (dir == NULL)
		return;		/* the client never saw this directory */
	if ((ev->what & WATCH_ENTRY) && !fs_is_self_change(sh, dir)) {
		entry_host = true;
		__atomic_add_fetch(&dir->changes, 1, __ATOMIC_RELAXED);
		fs_notify_entry(sh, dir->nodeid, ev->name);
		fs_notify_inode(sh, dir->nodeid);	/* its mtime, nlink, listing */
	}
	if (ev->has_obj)
		obj = inode_table_find_key(&sh->inodes, ev->obj_dev, ev->obj_ino);
	else if ((ev->what & (WATCH_DATA | WATCH_ATTR)) ||
	    (fs_hinting(sh) && (ev->kinds & KINDS_OBJECT)))
		obj = fs_find_child(sh, dir, ev->name);
	if (obj != NULL) {
		obj_host = fs_object_changed(sh, obj, ev->what);
		inode_table_put(&sh->inodes, obj);
	}
	/* an object the client never looked up was changed by the host:
	 * the server changes only what its clients know */
	if (fs_hinting(sh) && !fs_hide_dirent(sh, dir, ev->name, 0)) {
		if (entry_host && (ev->kinds & KINDS_ENTRY))
			fs_hint(sh, dir->nodeid, ev->name, ev->kinds & KINDS_ENTRY,
			    ev->is_dir, ev->cookie);
		if (obj_host && (ev->kinds & KINDS_OBJECT))
			fs_hint(sh, dir->nodeid, ev->name, ev->kinds & KINDS_OBJECT,
			    ev->is_dir, 0);
	}
	inode_table_put(&sh->inodes, dir);
}

struct fs_notice_list {
	struct fs_notice *next;
	struct fs_notice *end;
};

/* With the table lock held: note one inode to invalidate. */
static void
fs_collect_notice(void *ctx, struct inode *in)
{
	struct fs_notice_list *l = ctx;
	struct fs_notice *n = l->next;

	__atomic_add_fetch(&in->changes, 1, __ATOMIC_RELAXED);
	if (n == l->end)
		return;
	n->nodeid = in->nodeid;
	n->parent = in->parent != NULL ? in->parent->nodeid : 0;
	n->name = in->name != NULL ? strdup(in->name) : NULL;
	l->next = n + 1;
}

/* Events were lost: drop everything the client may cache. */
static void
fs_invalidate_all(struct share *sh)
{
	struct fs_notice_list l;
	struct fs_notice *all, *n;
	uint64_t room;

	room = inode_table_count(&sh->inodes) + 1024;	/* it may grow meanwhile */
	all = calloc(room, sizeof(*all));
	if (all == NULL)
		return;
	l.next = all;
	l.end = all + room;
	inode_table_foreach(&sh->inodes, fs_collect_notice, &l);
	for (n = all; n < l.next; n++) {
		fs_notify_inode(sh, n->nodeid);
		if (n->parent != 0 && n->name != NULL)
			fs_notify_entry(sh, n->parent, n->name);
		free(n->name);
	}
	free(all);
}

static void
fs_watch_event(void *ctx, const struct watch_event *ev)
{
	struct share *sh = ctx;
	struct inode *obj;

	if (ev->what & WATCH_OVERFLOW) {
		fs_invalidate_all(sh);
		if (fs_hinting(sh))
			fs_hint_lost(sh);
		return;
	}
	if (ev->has_dir) {
		fs_dir_event(sh, ev);
		return;
	}
	obj = inode_table_find_key(&sh->inodes, ev->obj_dev, ev->obj_ino);
	if (obj != NULL) {
		/* a directory's own event; per-directory watchers (inotify)
		 * also report it to its parent's watch, with its name */
		if (fs_object_changed(sh, obj, ev->what) && fs_hinting(sh) &&
		    (ev->kinds & KINDS_OBJECT) &&
		    (sh->watcher->covers_all || obj->nodeid == FUSE_ROOT_ID))
			fs_hint(sh, obj->nodeid, NULL, ev->kinds & KINDS_OBJECT,
			    ev->is_dir, 0);
		inode_table_put(&sh->inodes, obj);
	}
}

/* Does the watcher's one mark see changes to in (fanotify: on its file
 * system, not on one mounted below the share's root)? */
static bool
fs_watch_sees_all(struct share *sh, const struct inode *in)
{
	return sh->watcher->covers_all && in->key_dev == sh->watcher->covers_dev;
}

double
fs_watch_timeout(struct share *sh, struct inode *in)
{
	bool covered;

	/* cache=always trusts that nobody else changes the tree */
	if (sh->policy.cache == POLICY_CACHE_ALWAYS)
		return sh->attr_timeout;
	/* without a session to notify (a guest), a change can only be seen
	 * when the client asks again */
	if (sh->watcher == NULL || (sh->se == NULL && sh->hint_fd < 0) ||
	    !sh->watcher->reports_names)
		return sh->fallback_timeout;
	if (fs_watch_sees_all(sh, in))
		return sh->attr_timeout;
	/* a directory's own attributes (mtime, nlink) change with what
	 * happens inside it, which only its own watch reports */
	pthread_mutex_lock(&sh->inodes.lock);
	covered = in->covered && (!S_ISDIR(in->type) || in->watched);
	pthread_mutex_unlock(&sh->inodes.lock);
	return covered ? sh->attr_timeout : sh->fallback_timeout;
}

static void
fs_watch_add(struct share *sh, struct inode *in)
{
	const struct backend_ops *ops = sh->backend->ops;
	int fd, rc;

	fd = ops->host_fd_get(sh->backend, in);
	if (fd < 0)
		return;
	rc = sh->watcher->ops->add_dir(sh->watcher, fd, in->key_dev, in->key_ino);
	ops->host_fd_put(sh->backend, in);
	pthread_mutex_lock(&sh->inodes.lock);
	in->watched = rc == 0;
	pthread_mutex_unlock(&sh->inodes.lock);
}

void
fs_watch_dir_added(struct share *sh, struct inode *in)
{
	bool covered;

	if (sh->watcher == NULL)
		return;
	/* an entry is covered when the directory it was found in is watched */
	pthread_mutex_lock(&sh->inodes.lock);
	covered = fs_watch_sees_all(sh, in) || (in->parent != NULL && in->parent->watched);
	in->covered = covered;
	pthread_mutex_unlock(&sh->inodes.lock);
	if (S_ISDIR(in->type))
		fs_watch_add(sh, in);
}

void
fs_watch_dir_freed(struct share *sh, struct inode *in)
{
	if (sh->watcher != NULL && in->watched)
		sh->watcher->ops->remove_dir(sh->watcher, in->key_dev, in->key_ino);
}

int
fs_watch_start(struct share *sh, enum watch_kind kind, struct fuse_session *se)
{
	const struct backend_ops *ops = sh->backend->ops;
	struct inode *root = sh->inodes.root;
	int fd, rc;

	sh->se = se;
	if (kind == WATCH_KIND_NONE || ops->host_fd_get == NULL)
		return 0;
	fd = ops->host_fd_get(sh->backend, root);
	if (fd < 0)
		return fd;
	rc = watcher_open(kind, fd, &sh->watcher);
	if (rc == 0) {
		rc = sh->watcher->ops->add_dir(sh->watcher, fd, root->key_dev, root->key_ino);
		if (rc != 0) {
			watcher_close(sh->watcher);
			sh->watcher = NULL;
		}
	}
	ops->host_fd_put(sh->backend, root);
	if (rc != 0)
		return rc;
	sh->self_stamps = !sh->watcher->reports_pid;
	watch_set_handler(sh->watcher, fs_watch_event, sh);
	log_debug("watching host changes with %s", sh->watcher->ops->name);
	return 0;
}

void
fs_watch_stop(struct share *sh)
{
	watcher_close(sh->watcher);
	sh->watcher = NULL;
}
