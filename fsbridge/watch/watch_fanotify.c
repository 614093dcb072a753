/*
 * watch_fanotify: one FAN_MARK_FILESYSTEM mark with FAN_REPORT_DFID_NAME
 * covers the whole tree, whatever its size (no per-directory watches,
 * no limit).  Needs CAP_SYS_ADMIN.  The mark sees every change on the
 * filesystem, so events are filtered cheaply: this process's own changes
 * by pid, and everything else by the directory's file handle, looked up
 * in a table of the directories clients know (add_dir records each one's
 * handle): an event in a directory nobody knows costs no system call.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/cdefs.h>
#include <sys/stat.h>
#include <sys/tree.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

/* A directory clients know, by its file handle and by its identity. */
struct fan_dir {
	RB_ENTRY(fan_dir) by_handle;
	RB_ENTRY(fan_dir) by_key;
	uint64_t dev;
	uint64_t ino;
	int handle_type;
	unsigned int handle_len;
	unsigned char handle[MAX_HANDLE_SZ];
};

RB_HEAD(fan_by_handle, fan_dir);
RB_HEAD(fan_by_key, fan_dir);

static int
fan_cmp_handle(const struct fan_dir *a, const struct fan_dir *b)
{
	if (a->handle_type != b->handle_type)
		return a->handle_type < b->handle_type ? -1 : 1;
	if (a->handle_len != b->handle_len)
		return a->handle_len < b->handle_len ? -1 : 1;
	return memcmp(a->handle, b->handle, a->handle_len);
}

static int
fan_cmp_key(const struct fan_dir *a, const struct fan_dir *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

RB_GENERATE_INTERNAL(fan_by_handle, fan_dir, by_handle, fan_cmp_handle, __attribute__((unused)) static)
RB_GENERATE_INTERNAL(fan_by_key, fan_dir, by_key, fan_cmp_key, __attribute__((unused)) static)

struct watch_fanotify {
	struct watcher base;
	int fan_fd;
	int stop_fd;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	struct fan_by_handle by_handle;
	struct fan_by_key by_key;
	uint32_t cookie;	/* the last rename's (FAN_RENAME has none) */
};

#define FAN(w) ((struct watch_fanotify *)(w))

#define FAN_WATCH_MASK (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | \
	FAN_MODIFY | FAN_ATTRIB | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_CLOSE_WRITE | \
	FAN_ONDIR)
/* Kernels 5.17+: a rename is one event naming both places, so the two
 * halves can be relayed as a pair. */
#define FAN_WATCH_MASK_RENAME ((FAN_WATCH_MASK & ~(uint64_t)(FAN_MOVED_FROM | \
	FAN_MOVED_TO)) | FAN_RENAME)

/* (dev, ino) of a known directory from an event's handle. */
static bool
fan_known_dir(struct watch_fanotify *fw, const struct file_handle *fh,
    uint64_t *dev, uint64_t *ino)
{
	struct fan_dir key, *d;
	bool found = false;

	if (fh->handle_bytes > MAX_HANDLE_SZ)
		return false;
	key.handle_type = fh->handle_type;
	key.handle_len = fh->handle_bytes;
	memcpy(key.handle, fh->f_handle, fh->handle_bytes);
	pthread_mutex_lock(&fw->lock);
	d = RB_FIND(fan_by_handle, &fw->by_handle, &key);
	if (d != NULL) {
		*dev = d->dev;
		*ino = d->ino;
		found = true;
	}
	pthread_mutex_unlock(&fw->lock);
	return found;
}

static unsigned int
fan_what(uint64_t mask)
{
	unsigned int what = 0;

	if (mask & (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO))
		what |= WATCH_ENTRY;
	if (mask & FAN_MODIFY)
		what |= WATCH_DATA;
	if (mask & (FAN_ATTRIB | FAN_MOVE_SELF))
		what |= WATCH_ATTR;
	if (mask & FAN_DELETE_SELF)
		what |= WATCH_GONE;
	return what;
}

static unsigned int
fan_kinds(uint64_t mask)
{
	unsigned int k = 0;

	if (mask & FAN_CREATE)
		k |= WATCH_K_CREATE;
	if (mask & FAN_MODIFY)
		k |= WATCH_K_MODIFY;
	if (mask & FAN_ATTRIB)
		k |= WATCH_K_ATTRIB;
	if (mask & FAN_CLOSE_WRITE)
		k |= WATCH_K_CLOSE_WRITE;
	if (mask & FAN_MOVED_FROM)
		k |= WATCH_K_MOVED_FROM;
	if (mask & FAN_MOVED_TO)
		k |= WATCH_K_MOVED_TO;
	if (mask & FAN_DELETE)
		k |= WATCH_K_DELETE;
	return k;
}

/* Read the record of type info_type (DFID_NAME, or one half of a
 * rename's) of one event into ev; only directories the clients know are
 * of interest. */
static void
fan_parse_info(struct watch_fanotify *fw, const struct fanotify_event_metadata *m,
    unsigned int info_type, struct watch_event *ev)
{
	const char *p = (const char *)m + m->metadata_len;
	const char *end = (const char *)m + m->event_len;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;
		const struct fanotify_event_info_fid *fid = (const void *)p;
		const struct file_handle *fh;
		const char *name;
		size_t room;
		uint64_t dev, ino;

		if (h->len < sizeof(*h) || p + h->len > end)
			break;
		p += h->len;
		if (h->info_type != info_type)
			continue;
		fh = (const struct file_handle *)fid->handle;
		name = (const char *)(fh->f_handle + fh->handle_bytes);
		if (name >= p || !fan_known_dir(fw, fh, &dev, &ino))
			continue;
		room = (size_t)(p - name);
		if (strnlen(name, room) == room || strlen(name) >= sizeof(ev->name))
			continue;
		if (strcmp(name, ".") == 0) {
			/* the event is about the directory itself */
			ev->has_obj = true;
			ev->obj_dev = dev;
			ev->obj_ino = ino;
		} else {
			ev->has_dir = true;
			ev->dir_dev = dev;
			ev->dir_ino = ino;
			strcpy(ev->name, name);
		}
	}
}

/* A rename: its two halves, paired by a cookie of ours; a half in a
 * directory no client knows is left out. */
static void
fan_handle_rename(struct watch_fanotify *fw, const struct fanotify_event_metadata *m)
{
	static const unsigned int info[2] = {
		FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME,
	};
	uint32_t cookie = ++fw->cookie;

	if (cookie == 0)
		cookie = ++fw->cookie;
	for (int i = 0; i < 2; i++) {
		struct watch_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.what = WATCH_ENTRY;
		ev.kinds = i == 0 ? WATCH_K_MOVED_FROM : WATCH_K_MOVED_TO;
		ev.is_dir = (m->mask & FAN_ONDIR) != 0;
		ev.cookie = cookie;
		ev.pid = m->pid;
		fan_parse_info(fw, m, info[i], &ev);
		if (ev.has_dir)
			watch_dispatch(&fw->base, &ev);
	}
}

static void
fan_handle_event(struct watch_fanotify *fw, const struct fanotify_event_metadata *m)
{
	struct watch_event ev;

	memset(&ev, 0, sizeof(ev));
	if (m->mask & FAN_Q_OVERFLOW) {
		ev.what = WATCH_OVERFLOW;
		log_warn("fanotify queue overflowed: invalidating every cached entry");
	} else {
		/* this process's own changes: its clients made them */
		if (m->pid == getpid())
			return;
		if (m->mask & FAN_RENAME) {
			fan_handle_rename(fw, m);
			return;
		}
		ev.what = fan_what(m->mask);
		ev.kinds = fan_kinds(m->mask);
		ev.is_dir = (m->mask & FAN_ONDIR) != 0;
		ev.pid = m->pid;
		fan_parse_info(fw, m, FAN_EVENT_INFO_TYPE_DFID_NAME, &ev);
		if (!ev.has_dir && !ev.has_obj)
			return;		/* in a directory no client knows */
	}
	watch_dispatch(&fw->base, &ev);
}

static void *
fan_thread(void *arg)
{
	struct watch_fanotify *fw = arg;
	char buf[65536] __attribute__((aligned(8)));

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fw->fan_fd, .events = POLLIN },
			{ .fd = fw->stop_fd, .events = POLLIN },
		};
		const struct fanotify_event_metadata *m;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("fanotify: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents != 0)
			break;
		n = read(fw->fan_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			log_error("fanotify: read: %s", strerror(errno));
			break;
		}
		for (m = (const void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->vers != FANOTIFY_METADATA_VERSION)
				continue;
			fan_handle_event(fw, m);
		}
	}
	return NULL;
}

static int
fan_start(struct watcher *w, int root_fd)
{
	struct watch_fanotify *fw = FAN(w);
	struct stat st;
	int rc;

	/* the mark covers the root's file system, not what is mounted
	 * below it (add_dir refuses those directories) */
	if (fstat(root_fd, &st) != 0)
		return -errno;
	fw->base.covers_dev = st.st_dev;
	fw->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
	    FAN_REPORT_DFID_NAME, O_RDONLY | O_CLOEXEC);
	if (fw->fan_fd < 0)
		return -errno;
	if (fanotify_mark(fw->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
	    FAN_WATCH_MASK_RENAME, root_fd, ".") != 0 &&
	    (errno != EINVAL || fanotify_mark(fw->fan_fd, FAN_MARK_ADD |
	    FAN_MARK_FILESYSTEM, FAN_WATCH_MASK, root_fd, ".") != 0))
		return -errno;
	fw->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fw->stop_fd < 0)
		return -errno;
	rc = pthread_create(&fw->thread, NULL, fan_thread, fw);
	if (rc != 0)
		return -rc;
	fw->running = true;
	return 0;
}

static int
fan_add_dir(struct watcher *w, int dir_fd, uint64_t dev, uint64_t ino)
{
	struct watch_fanotify *fw = FAN(w);
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	struct fan_dir *d;
	int mount_id;

	if (dev != fw->base.covers_dev)
		return -EXDEV;	/* another file system: nobody reports on it */
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dir_fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) != 0)
		return -errno;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->dev = dev;
	d->ino = ino;
	d->handle_type = h.fh.handle_type;
	d->handle_len = h.fh.handle_bytes;
	memcpy(d->handle, h.fh.f_handle, h.fh.handle_bytes);
	pthread_mutex_lock(&fw->lock);
	if (RB_FIND(fan_by_key, &fw->by_key, d) != NULL ||
	    RB_FIND(fan_by_handle, &fw->by_handle, d) != NULL) {
		free(d);
	} else {
		RB_INSERT(fan_by_handle, &fw->by_handle, d);
		RB_INSERT(fan_by_key, &fw->by_key, d);
	}
	pthread_mutex_unlock(&fw->lock);
	return 0;
}

static void
fan_remove_dir(struct watcher *w, uint64_t dev, uint64_t ino)
{
	struct watch_fanotify *fw = FAN(w);
	struct fan_dir key, *d;

	key.dev = dev;
	key.ino = ino;
	pthread_mutex_lock(&fw->lock);
	d = RB_FIND(fan_by_key, &fw->by_key, &key);
	if (d != NULL) {
		RB_REMOVE(fan_by_key, &fw->by_key, d);
		RB_REMOVE(fan_by_handle, &fw->by_handle, d);
		free(d);
	}
	pthread_mutex_unlock(&fw->lock);
}

static void
fan_stop(struct watcher *w)
{
	struct watch_fanotify *fw = FAN(w);
	uint64_t one = 1;

	if (!fw->running)
		return;
	if (write(fw->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("fanotify: cannot stop the watcher thread");
	pthread_join(fw->thread, NULL);
	fw->running = false;
}

static void
fan_free(struct watcher *w)
{
	struct watch_fanotify *fw = FAN(w);

	struct fan_dir *d, *next;

	RB_FOREACH_SAFE(d, fan_by_key, &fw->by_key, next) {
		RB_REMOVE(fan_by_key, &fw->by_key, d);
		RB_REMOVE(fan_by_handle, &fw->by_handle, d);
		free(d);
	}
	if (fw->fan_fd >= 0)
		close(fw->fan_fd);
	if (fw->stop_fd >= 0)
		close(fw->stop_fd);
	pthread_mutex_destroy(&fw->lock);
	watcher_base_fini(w);
	free(fw);
}

static const struct watcher_ops fan_ops = {
	.name = "fanotify",
	.start = fan_start,
	.add_dir = fan_add_dir,
	.remove_dir = fan_remove_dir,
	.stop = fan_stop,
	.free = fan_free,
};

int
watch_fanotify_new(struct watcher **out)
{
	struct watch_fanotify *fw;
	int rc;

	fw = calloc(1, sizeof(*fw));
	if (fw == NULL)
		return -ENOMEM;
	rc = watcher_base_init(&fw->base, &fan_ops);
	if (rc != 0) {
		free(fw);
		return rc;
	}
	fw->fan_fd = fw->stop_fd = -1;
	pthread_mutex_init(&fw->lock, NULL);
	RB_INIT(&fw->by_handle);
	RB_INIT(&fw->by_key);
	fw->base.covers_all = true;
	fw->base.reports_pid = true;
	*out = &fw->base;
	return 0;
}
