/*
 * watch_inotify: a watch per directory a client has looked up (added
 * lazily, removed when the client forgets the directory).  When
 * max_user_watches runs out, the failure is logged once and the
 * directory stays unwatched: the server then gives entries in it short
 * cache timeouts instead (see fs_watch.c); the mount never fails for it.
 * A test hook, FSBRIDGE_TEST_INOTIFY_WATCHES=N, makes this watcher's
 * N+1st watch fail as the limit would (tests/mount/watch.sh), without
 * lowering the machine's limit under every other process.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/cdefs.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/tree.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

#define INO_WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | \
	IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
	IN_CLOSE_WRITE | IN_ONLYDIR)

struct ino_watch {
	RB_ENTRY(ino_watch) by_wd;
	RB_ENTRY(ino_watch) by_key;
	int wd;
	uint64_t dev;
	uint64_t ino;
};

RB_HEAD(ino_by_wd, ino_watch);
RB_HEAD(ino_by_key, ino_watch);

static int
ino_cmp_wd(const struct ino_watch *a, const struct ino_watch *b)
{
	return a->wd < b->wd ? -1 : a->wd > b->wd;
}

static int
ino_cmp_key(const struct ino_watch *a, const struct ino_watch *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

RB_GENERATE_INTERNAL(ino_by_wd, ino_watch, by_wd, ino_cmp_wd, __attribute__((unused)) static)
RB_GENERATE_INTERNAL(ino_by_key, ino_watch, by_key, ino_cmp_key, __attribute__((unused)) static)

struct watch_inotify {
	struct watcher base;
	int in_fd;
	int stop_fd;
	pthread_t thread;
	bool running;
	bool warned_full;
	unsigned int nwatches;       /* in by_wd */
	unsigned int test_limit;     /* the test hook's N, or 0 */
	pthread_mutex_t lock;
	struct ino_by_wd by_wd;
	struct ino_by_key by_key;
};

#define INO(w) ((struct watch_inotify *)(w))

static unsigned int
ino_what(uint32_t mask)
{
	unsigned int what = 0;

	if (mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
		what |= WATCH_ENTRY;
	if (mask & IN_MODIFY)
		what |= WATCH_DATA;
	if (mask & (IN_ATTRIB | IN_MOVE_SELF))
		what |= WATCH_ATTR;
	if (mask & IN_DELETE_SELF)
		what |= WATCH_GONE;
	return what;
}

static unsigned int
ino_kinds(uint32_t mask)
{
	unsigned int k = 0;

	if (mask & IN_CREATE)
		k |= WATCH_K_CREATE;
	if (mask & IN_MODIFY)
		k |= WATCH_K_MODIFY;
	if (mask & IN_ATTRIB)
		k |= WATCH_K_ATTRIB;
	if (mask & IN_CLOSE_WRITE)
		k |= WATCH_K_CLOSE_WRITE;
	if (mask & IN_MOVED_FROM)
		k |= WATCH_K_MOVED_FROM;
	if (mask & IN_MOVED_TO)
		k |= WATCH_K_MOVED_TO;
	if (mask & IN_DELETE)
		k |= WATCH_K_DELETE;
	return k;
}

/* With the lock held: forget a watch the kernel dropped. */
static void
ino_forget_locked(struct watch_inotify *iw, struct ino_watch *iwt)
{
	RB_REMOVE(ino_by_wd, &iw->by_wd, iwt);
	RB_REMOVE(ino_by_key, &iw->by_key, iwt);
	iw->nwatches--;
	free(iwt);
}

static void
ino_handle_event(struct watch_inotify *iw, const struct inotify_event *ie)
{
	struct ino_watch key, *iwt;
	struct watch_event ev;

	memset(&ev, 0, sizeof(ev));
	if (ie->mask & IN_Q_OVERFLOW) {
		log_warn("inotify queue overflowed: invalidating every cached entry");
		ev.what = WATCH_OVERFLOW;
		watch_dispatch(&iw->base, &ev);
		return;
	}
	key.wd = ie->wd;
	pthread_mutex_lock(&iw->lock);
	iwt = RB_FIND(ino_by_wd, &iw->by_wd, &key);
	if (iwt != NULL) {
		if (ie->len > 0 && strlen(ie->name) < sizeof(ev.name)) {
			ev.has_dir = true;
			ev.dir_dev = iwt->dev;
			ev.dir_ino = iwt->ino;
			strcpy(ev.name, ie->name);
		} else {
			ev.has_obj = true;
			ev.obj_dev = iwt->dev;
			ev.obj_ino = iwt->ino;
		}
		if (ie->mask & IN_IGNORED)
			ino_forget_locked(iw, iwt);
	}
	pthread_mutex_unlock(&iw->lock);
	ev.what = ino_what(ie->mask);
	ev.kinds = ino_kinds(ie->mask);
	ev.is_dir = (ie->mask & IN_ISDIR) != 0;
	ev.cookie = ie->cookie;
	if ((ev.has_dir || ev.has_obj) && (ev.what != 0 || ev.kinds != 0))
		watch_dispatch(&iw->base, &ev);
}

static void *
ino_thread(void *arg)
{
	struct watch_inotify *iw = arg;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = iw->in_fd, .events = POLLIN },
			{ .fd = iw->stop_fd, .events = POLLIN },
		};
		ssize_t n, off;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("inotify: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents != 0)
			break;
		n = read(iw->in_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			log_error("inotify: read: %s", strerror(errno));
			break;
		}
		for (off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ie = (const void *)(buf + off);

			ino_handle_event(iw, ie);
			off += sizeof(*ie) + ie->len;
		}
	}
	return NULL;
}

static int
ino_add_dir(struct watcher *w, int dir_fd, uint64_t dev, uint64_t ino)
{
	struct watch_inotify *iw = INO(w);
	struct ino_watch key, *iwt;
	char path[64];
	bool full;
	int wd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", dir_fd);
	pthread_mutex_lock(&iw->lock);
	full = iw->test_limit != 0 && iw->nwatches >= iw->test_limit;
	pthread_mutex_unlock(&iw->lock);
	if (full) {
		errno = ENOSPC;
		wd = -1;
	} else
		wd = inotify_add_watch(iw->in_fd, path, INO_WATCH_MASK);
	if (wd < 0) {
		int rc = -errno;

		if (rc == -ENOSPC && !iw->warned_full) {
			iw->warned_full = true;
			log_warn("out of inotify watches (fs.inotify.max_user_watches): "
			    "directories beyond the limit get short cache timeouts");
		}
		return rc;
	}
	pthread_mutex_lock(&iw->lock);
	key.wd = wd;
	iwt = RB_FIND(ino_by_wd, &iw->by_wd, &key);
	if (iwt == NULL && (iwt = calloc(1, sizeof(*iwt))) != NULL) {
		iwt->wd = wd;
		iwt->dev = dev;
		iwt->ino = ino;
		RB_INSERT(ino_by_wd, &iw->by_wd, iwt);
		RB_INSERT(ino_by_key, &iw->by_key, iwt);
		iw->nwatches++;
	}
	pthread_mutex_unlock(&iw->lock);
	if (iwt == NULL) {
		inotify_rm_watch(iw->in_fd, wd);
		return -ENOMEM;
	}
	return 0;
}

static void
ino_remove_dir(struct watcher *w, uint64_t dev, uint64_t ino)
{
	struct watch_inotify *iw = INO(w);
	struct ino_watch key, *iwt;

	key.dev = dev;
	key.ino = ino;
	pthread_mutex_lock(&iw->lock);
	iwt = RB_FIND(ino_by_key, &iw->by_key, &key);
	if (iwt != NULL) {
		inotify_rm_watch(iw->in_fd, iwt->wd);
		ino_forget_locked(iw, iwt);
	}
	pthread_mutex_unlock(&iw->lock);
}

static int
ino_start(struct watcher *w, int root_fd)
{
	struct watch_inotify *iw = INO(w);
	int rc;

	iw->in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (iw->in_fd < 0)
		return -errno;
	iw->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (iw->stop_fd < 0)
		return -errno;
	rc = pthread_create(&iw->thread, NULL, ino_thread, iw);
	if (rc != 0)
		return -rc;
	iw->running = true;
	return 0;
}

static void
ino_stop(struct watcher *w)
{
	struct watch_inotify *iw = INO(w);
	uint64_t one = 1;

	if (!iw->running)
		return;
	if (write(iw->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("inotify: cannot stop the watcher thread");
	pthread_join(iw->thread, NULL);
	iw->running = false;
}

static void
ino_free(struct watcher *w)
{
	struct watch_inotify *iw = INO(w);
	struct ino_watch *iwt, *next;

	RB_FOREACH_SAFE(iwt, ino_by_wd, &iw->by_wd, next)
		ino_forget_locked(iw, iwt);
	if (iw->in_fd >= 0)
		close(iw->in_fd);
	if (iw->stop_fd >= 0)
		close(iw->stop_fd);
	pthread_mutex_destroy(&iw->lock);
	watcher_base_fini(w);
	free(iw);
}

static const struct watcher_ops ino_ops = {
	.name = "inotify",
	.start = ino_start,
	.add_dir = ino_add_dir,
	.remove_dir = ino_remove_dir,
	.stop = ino_stop,
	.free = ino_free,
};

int
watch_inotify_new(struct watcher **out)
{
	struct watch_inotify *iw;
	const char *env;
	int rc;

	iw = calloc(1, sizeof(*iw));
	if (iw == NULL)
		return -ENOMEM;
	if ((env = secure_getenv("FSBRIDGE_TEST_INOTIFY_WATCHES")) != NULL)
		iw->test_limit = (unsigned int)strtoul(env, NULL, 10);
	rc = watcher_base_init(&iw->base, &ino_ops);
	if (rc != 0) {
		free(iw);
		return rc;
	}
	iw->in_fd = iw->stop_fd = -1;
	pthread_mutex_init(&iw->lock, NULL);
	RB_INIT(&iw->by_wd);
	RB_INIT(&iw->by_key);
	*out = &iw->base;
	return 0;
}
