/*
 * watch_kqueue: the BSD/macOS watcher, compiled only where <sys/event.h>
 * exists (it cannot run on Linux, where this file is empty).  One
 * EVFILT_VNODE registration per directory a client has looked up, each
 * holding a read-only fd, at most a quarter of RLIMIT_NOFILE of them.
 * kqueue says that a directory changed, not which entry: events are
 * reported on the directory itself (its listing and attributes), and the
 * watcher declares reports_names = false so entries keep the fallback
 * timeout.
 */
#include "config.h"

#ifdef HAVE_SYS_EVENT_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

#ifndef O_EVTONLY
#define O_EVTONLY O_RDONLY
#endif

#define KQ_VNODE_FLAGS (NOTE_WRITE | NOTE_ATTRIB | NOTE_DELETE | NOTE_RENAME | \
	NOTE_EXTEND | NOTE_LINK)
#define KQ_STOP_IDENT 1

struct kq_dir {
	struct kq_dir *next;
	int fd;
	uint64_t dev;
	uint64_t ino;
};

struct watch_kqueue {
	struct watcher base;
	int kq;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	struct kq_dir *dirs;
	unsigned int ndirs, max_dirs;
};

#define KQ(w) ((struct watch_kqueue *)(w))

static void *
kq_thread(void *arg)
{
	struct watch_kqueue *kw = arg;
	struct kevent ev[64];
	int n, i;

	for (;;) {
		n = kevent(kw->kq, NULL, 0, ev, 64, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("kqueue: %s", strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			const struct kq_dir *d = ev[i].udata;
			struct watch_event we;

			if (ev[i].filter == EVFILT_USER)
				return NULL;
			memset(&we, 0, sizeof(we));
			we.has_obj = true;
			we.obj_dev = d->dev;
			we.obj_ino = d->ino;
			we.what = WATCH_ATTR;
			if (ev[i].fflags & (NOTE_WRITE | NOTE_EXTEND | NOTE_LINK))
				we.what |= WATCH_ENTRY;
			if (ev[i].fflags & NOTE_DELETE)
				we.what |= WATCH_GONE;
			watch_dispatch(&kw->base, &we);
		}
	}
}

static int
kq_start(struct watcher *w, int root_fd)
{
	struct watch_kqueue *kw = KQ(w);
	struct kevent stop;
	struct rlimit rl;
	int rc;

	kw->kq = kqueue();
	if (kw->kq < 0)
		return -errno;
	EV_SET(&stop, KQ_STOP_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
	if (kevent(kw->kq, &stop, 1, NULL, 0, NULL) != 0)
		return -errno;
	kw->max_dirs = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ?
	    (unsigned int)(rl.rlim_cur / 4) : 1024;
	rc = pthread_create(&kw->thread, NULL, kq_thread, kw);
	if (rc != 0)
		return -rc;
	kw->running = true;
	return 0;
}

static int
kq_add_dir(struct watcher *w, int dir_fd, uint64_t dev, uint64_t ino)
{
	struct watch_kqueue *kw = KQ(w);
	struct kevent kev;
	struct kq_dir *d;

	if (kw->ndirs >= kw->max_dirs)
		return -ENOSPC;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->fd = openat(dir_fd, ".", O_EVTONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		free(d);
		return -errno;
	}
	d->dev = dev;
	d->ino = ino;
	EV_SET(&kev, d->fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, KQ_VNODE_FLAGS, 0, d);
	if (kevent(kw->kq, &kev, 1, NULL, 0, NULL) != 0) {
		int rc = -errno;

		close(d->fd);
		free(d);
		return rc;
	}
	pthread_mutex_lock(&kw->lock);
	d->next = kw->dirs;
	kw->dirs = d;
	kw->ndirs++;
	pthread_mutex_unlock(&kw->lock);
	return 0;
}

static void
kq_remove_dir(struct watcher *w, uint64_t dev, uint64_t ino)
{
	struct watch_kqueue *kw = KQ(w);
	struct kq_dir **pp, *d = NULL;

	pthread_mutex_lock(&kw->lock);
	for (pp = &kw->dirs; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->dev == dev && (*pp)->ino == ino) {
			d = *pp;
			*pp = d->next;
			kw->ndirs--;
			break;
		}
	}
	pthread_mutex_unlock(&kw->lock);
	if (d != NULL) {
		close(d->fd);	/* closing the fd removes its registration */
		free(d);
	}
}

static void
kq_stop(struct watcher *w)
{
	struct watch_kqueue *kw = KQ(w);
	struct kevent stop;

	if (!kw->running)
		return;
	EV_SET(&stop, KQ_STOP_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
	kevent(kw->kq, &stop, 1, NULL, 0, NULL);
	pthread_join(kw->thread, NULL);
	kw->running = false;
}

static void
kq_free(struct watcher *w)
{
	struct watch_kqueue *kw = KQ(w);
	struct kq_dir *d, *next;

	for (d = kw->dirs; d != NULL; d = next) {
		next = d->next;
		close(d->fd);
		free(d);
	}
	if (kw->kq >= 0)
		close(kw->kq);
	pthread_mutex_destroy(&kw->lock);
	watcher_base_fini(w);
	free(kw);
}

static const struct watcher_ops kq_ops = {
	.name = "kqueue",
	.start = kq_start,
	.add_dir = kq_add_dir,
	.remove_dir = kq_remove_dir,
	.stop = kq_stop,
	.free = kq_free,
};

int
watch_kqueue_new(struct watcher **out)
{
	struct watch_kqueue *kw;
	int rc;

	kw = calloc(1, sizeof(*kw));
	if (kw == NULL)
		return -ENOMEM;
	rc = watcher_base_init(&kw->base, &kq_ops);
	if (rc != 0) {
		free(kw);
		return rc;
	}
	kw->kq = -1;
	pthread_mutex_init(&kw->lock, NULL);
	kw->base.reports_names = false;
	*out = &kw->base;
	return 0;
}

#endif /* HAVE_SYS_EVENT_H */
