/*
 * watch_fanotify: one FAN_MARK_FILESYSTEM mark with FAN_REPORT_DFID_NAME
 * and FAN_REPORT_FID covers the whole tree, whatever its size (no
 * per-directory watches).  Needs CAP_SYS_ADMIN; file handles from the
 * events are resolved to (dev, ino) with open_by_handle_at.  Events carry
 * the modifier's pid, so subscribers can ignore the server's own changes.
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
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

struct watch_fanotify {
	struct watcher base;
	int fan_fd;
	int mount_fd;
	int stop_fd;
	pthread_t thread;
	bool running;
};

#define FAN(w) ((struct watch_fanotify *)(w))

#define FAN_WATCH_MASK (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | \
	FAN_MODIFY | FAN_ATTRIB | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR)

/* (dev, ino) of the object behind a handle from an event. */
static bool
fan_resolve(struct watch_fanotify *fw, struct file_handle *fh, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	int fd;

	fd = open_by_handle_at(fw->mount_fd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return false;
	}
	close(fd);
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
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

/* Read the info records of one event into ev. */
static void
fan_parse_info(struct watch_fanotify *fw, const struct fanotify_event_metadata *m,
    struct watch_event *ev)
{
	const char *p = (const char *)m + m->metadata_len;
	const char *end = (const char *)m + m->event_len;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;
		const struct fanotify_event_info_fid *fid = (const void *)p;
		struct file_handle *fh;

		if (h->len < sizeof(*h) || p + h->len > end)
			break;
		fh = (struct file_handle *)fid->handle;
		if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			const char *name = (const char *)(fh->f_handle + fh->handle_bytes);
			size_t room = (size_t)(p + h->len - name);

			if (fan_resolve(fw, fh, &ev->dir_dev, &ev->dir_ino) &&
			    strnlen(name, room) < room && strcmp(name, ".") != 0 &&
			    strlen(name) < sizeof(ev->name)) {
				strcpy(ev->name, name);
				ev->has_dir = true;
			}
		} else if (h->info_type == FAN_EVENT_INFO_TYPE_FID) {
			ev->has_obj = fan_resolve(fw, fh, &ev->obj_dev, &ev->obj_ino);
		}
		p += h->len;
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
		/* this process's own changes: its subscribers made them */
		if (m->pid == getpid())
			return;
		ev.what = fan_what(m->mask);
		ev.pid = m->pid;
		fan_parse_info(fw, m, &ev);
		if (!ev.has_dir && !ev.has_obj)
			return;		/* gone before we could look: nothing known to drop */
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
	int rc;

	fw->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
	    FAN_REPORT_DFID_NAME | FAN_REPORT_FID, O_RDONLY | O_CLOEXEC);
	if (fw->fan_fd < 0)
		return -errno;
	if (fanotify_mark(fw->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
	    FAN_WATCH_MASK, root_fd, ".") != 0)
		return -errno;
	/* open_by_handle_at wants a real (not O_PATH) fd on the mount */
	fw->mount_fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fw->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fw->mount_fd < 0 || fw->stop_fd < 0)
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
	return 0;	/* the filesystem mark already covers it */
}

static void
fan_remove_dir(struct watcher *w, uint64_t dev, uint64_t ino)
{
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

	if (fw->fan_fd >= 0)
		close(fw->fan_fd);
	if (fw->mount_fd >= 0)
		close(fw->mount_fd);
	if (fw->stop_fd >= 0)
		close(fw->stop_fd);
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
	fw->fan_fd = fw->mount_fd = fw->stop_fd = -1;
	fw->base.covers_all = true;
	fw->base.reports_pid = true;
	*out = &fw->base;
	return 0;
}
