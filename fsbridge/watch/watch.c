/*
 * watch: choosing a watcher backend and delivering its events to the
 * share's handler.  See watch.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "watch.h"

static const char *const watch_kind_names[] = {
	[WATCH_KIND_AUTO] = "auto",
	[WATCH_KIND_FANOTIFY] = "fanotify",
	[WATCH_KIND_INOTIFY] = "inotify",
	[WATCH_KIND_KQUEUE] = "kqueue",
	[WATCH_KIND_NONE] = "none",
};

int
watch_kind_parse(const char *s, enum watch_kind *out)
{
	size_t i;

	for (i = 0; i < sizeof(watch_kind_names) / sizeof(watch_kind_names[0]); i++) {
		if (strcmp(s, watch_kind_names[i]) == 0) {
			*out = (enum watch_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
watch_kind_name(enum watch_kind k)
{
	return watch_kind_names[k];
}

int
watcher_base_init(struct watcher *w, const struct watcher_ops *ops)
{
	pthread_mutex_t *lock;

	lock = malloc(sizeof(*lock));
	if (lock == NULL)
		return -ENOMEM;
	pthread_mutex_init(lock, NULL);
	w->ops = ops;
	w->lock = lock;
	w->reports_names = true;
	w->fn = NULL;
	w->ctx = NULL;
	return 0;
}

void
watcher_base_fini(struct watcher *w)
{
	if (w->lock != NULL) {
		pthread_mutex_destroy(w->lock);
		free(w->lock);
	}
}

void
watch_set_handler(struct watcher *w, watch_fn fn, void *ctx)
{
	pthread_mutex_lock(w->lock);
	w->fn = fn;
	w->ctx = ctx;
	pthread_mutex_unlock(w->lock);
}

void
watch_dispatch(struct watcher *w, const struct watch_event *ev)
{
	pthread_mutex_lock(w->lock);
	if (w->fn != NULL)
		w->fn(w->ctx, ev);
	pthread_mutex_unlock(w->lock);
}

static int
watcher_try(int (*make)(struct watcher **), int root_fd, struct watcher **out)
{
	struct watcher *w;
	int rc;

	rc = make(&w);
	if (rc != 0)
		return rc;
	rc = w->ops->start(w, root_fd);
	if (rc != 0) {
		w->ops->free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int
watcher_open(enum watch_kind kind, int root_fd, struct watcher **out)
{
	int rc;

	switch (kind) {
	case WATCH_KIND_FANOTIFY:
		return watcher_try(watch_fanotify_new, root_fd, out);
	case WATCH_KIND_INOTIFY:
		return watcher_try(watch_inotify_new, root_fd, out);
	case WATCH_KIND_KQUEUE:
#ifdef HAVE_SYS_EVENT_H
		return watcher_try(watch_kqueue_new, root_fd, out);
#else
		return -ENOTSUP;
#endif
	case WATCH_KIND_AUTO:
		rc = watcher_try(watch_fanotify_new, root_fd, out);
		if (rc == 0)
			return 0;
		log_debug("fanotify unavailable (%s), using inotify", strerror(-rc));
#ifdef HAVE_SYS_EVENT_H
		if (watcher_try(watch_kqueue_new, root_fd, out) == 0)
			return 0;
#endif
		return watcher_try(watch_inotify_new, root_fd, out);
	case WATCH_KIND_NONE:
		break;
	}
	return -ENOTSUP;
}

void
watcher_close(struct watcher *w)
{
	if (w == NULL)
		return;
	w->ops->stop(w);
	w->ops->free(w);
}
