/*
 * watch: host-side change notifications for a share, behind one
 * interface with a backend per platform: fanotify (one filesystem mark
 * covers the whole tree), inotify (a watch per directory a client has
 * looked up), kqueue (BSD/macOS, compiled only where <sys/event.h>
 * exists).
 *
 * A watcher turns kernel events into `struct watch_event`s and hands each
 * to one handler, the share's (core/fs_watch.c): kernel invalidations for
 * the host mount, change hints for a guest's agent.
 */
#ifndef FSBRIDGE_WATCH_H
#define FSBRIDGE_WATCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What changed (bits of watch_event.what). */
#define WATCH_ENTRY	0x1u	/* entry `name` of dir appeared, vanished or was renamed */
#define WATCH_DATA	0x2u	/* the object's contents changed */
#define WATCH_ATTR	0x4u	/* the object's attributes changed */
#define WATCH_GONE	0x8u	/* the object itself was deleted */
#define WATCH_OVERFLOW	0x10u	/* events were lost: assume anything changed */

/* What a local inotify watcher would have been told (bits of
 * watch_event.kinds), for relaying the change as it happened (fs_hint.c).
 * One event may carry several (fanotify merges them): they happened in
 * this order, except that DELETE ends whatever came before. */
#define WATCH_K_CREATE		0x01u	/* name appeared in dir */
#define WATCH_K_MODIFY		0x02u	/* its contents were written */
#define WATCH_K_ATTRIB		0x04u	/* its attributes changed */
#define WATCH_K_CLOSE_WRITE	0x08u	/* a writer closed it */
#define WATCH_K_MOVED_FROM	0x10u	/* name left dir by a rename (cookie) */
#define WATCH_K_MOVED_TO	0x20u	/* name came into dir by a rename (cookie) */
#define WATCH_K_DELETE		0x40u	/* name was removed from dir */

struct watch_event {
	unsigned int what;
	bool has_dir;		/* dir_dev/dir_ino and name are set */
	uint64_t dir_dev;
	uint64_t dir_ino;
	char name[NAME_MAX + 1];	/* "" when the event is about dir itself */
	bool has_obj;		/* the object's identity is known */
	uint64_t obj_dev;
	uint64_t obj_ino;
	pid_t pid;		/* who made the change, 0 if unknown */
	unsigned int kinds;	/* WATCH_K_*, about name in dir (or the object) */
	bool is_dir;		/* the object the kinds are about is a directory */
	uint32_t cookie;	/* pairs the MOVED_FROM and MOVED_TO of one rename */
};

typedef void (*watch_fn)(void *ctx, const struct watch_event *ev);

enum watch_kind {
	WATCH_KIND_AUTO,	/* fanotify if allowed, else inotify */
	WATCH_KIND_FANOTIFY,
	WATCH_KIND_INOTIFY,
	WATCH_KIND_KQUEUE,
	WATCH_KIND_NONE,
};

struct watcher;

struct watcher_ops {
	const char *name;
	/* start watching the tree whose root is root_fd (an O_PATH fd) */
	int (*start)(struct watcher *, int root_fd);
	/* a directory a client now knows: watch it (per-directory backends);
	 * 0, or -ENOSPC when out of watches (then it stays unwatched) */
	int (*add_dir)(struct watcher *, int dir_fd, uint64_t dev, uint64_t ino);
	void (*remove_dir)(struct watcher *, uint64_t dev, uint64_t ino);
	void (*stop)(struct watcher *);
	void (*free)(struct watcher *);
};

struct watcher {
	const struct watcher_ops *ops;
	bool covers_all;	/* one mark sees the whole tree (fanotify) ... */
	uint64_t covers_dev;	/* ... on this one file system (st_dev) */
	bool reports_pid;	/* events carry the modifier's pid */
	bool reports_names;	/* events name the entry that changed */
	watch_fn fn;		/* the handler, NULL until one is set */
	void *ctx;
	void *lock;		/* pthread_mutex_t, opaque here: guards fn, ctx */
};

int watch_kind_parse(const char *s, enum watch_kind *out);
const char *watch_kind_name(enum watch_kind k);

/* Make and start a watcher of the given kind on the tree at root_fd.
 * AUTO tries fanotify then inotify.  -errno if none could start. */
int watcher_open(enum watch_kind kind, int root_fd, struct watcher **out);
void watcher_close(struct watcher *w);

/* Set the handler; events are delivered from the watcher's thread, and
 * dropped until a handler is set. */
void watch_set_handler(struct watcher *w, watch_fn fn, void *ctx);
/* For backends: deliver one event to the handler. */
void watch_dispatch(struct watcher *w, const struct watch_event *ev);
/* For backends: common set-up of the generic part. */
int watcher_base_init(struct watcher *w, const struct watcher_ops *ops);
void watcher_base_fini(struct watcher *w);

int watch_fanotify_new(struct watcher **out);
int watch_inotify_new(struct watcher **out);
#ifdef HAVE_SYS_EVENT_H
int watch_kqueue_new(struct watcher **out);
#endif

#endif
