/*
 * notify_probe: the guest half of tests/guest/notify.sh.  Runs as
 * fsbridge.run in a guest whose image loaded the fsb_notify module
 * (guest-overlay/kmod).  For each scenario step it does the change for
 * real on a tmpfs tree and records what an inotify watcher sees (the
 * local-disk reference), then describes the same change to
 * /dev/fsb_notify on an untouched copy of the tree (on tmpfs, and on the
 * virtio-fs share at /mnt if there is one) and checks the watcher sees
 * the same events: masks, names, which watch, one matching cookie per
 * rename.  Then bad records, names the guest never looked up, a flood
 * (IN_Q_OVERFLOW), the overflow record, and the latency from write() to
 * the watcher's read().  Prints "notify-tap: ok - ..." / "notify-tap: not
 * ok - ..." lines, "notify-lat: ..." lines and "notify-probe: done".
 * Static, libc only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/kmod/fsb_notify.h"

#define MASK (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE | \
	      IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

static int failures;
static int devfd = -1;

static void
tap(bool good, const char *fmt, ...)
{
	va_list ap;

	printf("notify-tap: %sok - ", good ? "" : "not ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!good)
		failures++;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- records ---- */

/* Appends one record to buf (at *len); returns false if it does not fit. */
static bool
rec_add(char *buf, size_t cap, size_t *len, int kind, int flags,
    const char *dir, const char *name, const char *dir2, const char *name2)
{
	struct fsb_notify_rec h = { 0 };
	const char *s[4] = { dir, name ? name : "", dir2 ? dir2 : "", name2 ? name2 : "" };
	size_t l[4], total = sizeof(h);

	for (int i = 0; i < 4; i++)
		total += l[i] = strlen(s[i]);
	if (*len + total > cap)
		return false;
	h.size = (uint32_t)total;
	h.kind = (uint16_t)kind;
	h.flags = (uint16_t)flags;
	h.dir_len = (uint16_t)l[0];
	h.name_len = (uint16_t)l[1];
	h.dir2_len = (uint16_t)l[2];
	h.name2_len = (uint16_t)l[3];
	memcpy(buf + *len, &h, sizeof(h));
	*len += sizeof(h);
	for (int i = 0; i < 4; i++) {
		memcpy(buf + *len, s[i], l[i]);
		*len += l[i];
	}
	return true;
}

/* One record; returns 0 or the errno the device gave. */
static int
raise_rec(int kind, int flags, const char *dir, const char *name,
    const char *dir2, const char *name2)
{
	char buf[FSB_NOTIFY_REC_MAX];
	size_t len = 0;
	ssize_t n;

	if (!rec_add(buf, sizeof(buf), &len, kind, flags, dir, name, dir2, name2))
		return E2BIG;
	n = write(devfd, buf, len);
	if (n < 0)
		return errno;
	return (size_t)n == len ? 0 : EIO;
}

/* ---- watching ---- */

struct watcher {
	int fd;
	int wds[16];
	char paths[16][64];	/* relative to the tree root */
	int nwds;
};

static void
watch(struct watcher *w, const char *root, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	w->wds[w->nwds] = inotify_add_watch(w->fd, path, MASK);
	if (w->wds[w->nwds] < 0)
		printf("notify-probe: inotify_add_watch %s: %s\n", path, strerror(errno));
	snprintf(w->paths[w->nwds], sizeof(w->paths[0]), "%s", *rel ? rel : ".");
	w->nwds++;
}

static const char *
wd_name(const struct watcher *w, int wd)
{
	for (int i = 0; i < w->nwds; i++)
		if (w->wds[i] == wd)
			return w->paths[i];
	return wd == -1 ? "(queue)" : "?";
}

static void
mask_text(uint32_t m, char *out, size_t size)
{
	static const struct { uint32_t bit; const char *name; } bits[] = {
		{ IN_CREATE, "CREATE" }, { IN_MODIFY, "MODIFY" },
		{ IN_CLOSE_WRITE, "CLOSE_WRITE" }, { IN_ATTRIB, "ATTRIB" },
		{ IN_DELETE, "DELETE" }, { IN_MOVED_FROM, "MOVED_FROM" },
		{ IN_MOVED_TO, "MOVED_TO" }, { IN_DELETE_SELF, "DELETE_SELF" },
		{ IN_MOVE_SELF, "MOVE_SELF" }, { IN_IGNORED, "IGNORED" },
		{ IN_Q_OVERFLOW, "Q_OVERFLOW" }, { IN_ISDIR, "ISDIR" },
		{ IN_UNMOUNT, "UNMOUNT" },
	};
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (m & bits[i].bit) {
			strncat(out, out[0] ? "|" : "", size - strlen(out) - 1);
			strncat(out, bits[i].name, size - strlen(out) - 1);
		}
}

/* Every event queued now, as text: "WATCH MASK NAME COOKIE;" with
 * cookies numbered by first appearance (c1, c2...) so two traces with
 * different cookie values compare equal when they pair the same way. */
static void
drain(struct watcher *w, char *out, size_t size)
{
	char buf[65536] __attribute__((aligned(8)));
	uint32_t cookies[64];
	int ncookies = 0;
	ssize_t n;

	out[0] = '\0';
	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			char m[128], c[16] = "-", line[512];

			mask_text(e->mask, m, sizeof(m));
			if (e->cookie) {
				int i;

				for (i = 0; i < ncookies && cookies[i] != e->cookie; i++)
					;
				if (i == ncookies && ncookies < 64)
					cookies[ncookies++] = e->cookie;
				snprintf(c, sizeof(c), "c%d", i + 1);
			}
			snprintf(line, sizeof(line), "%s %s %s %s; ", wd_name(w, e->wd), m,
			    e->len ? e->name : "-", c);
			strncat(out, line, size - strlen(out) - 1);
			p += sizeof(*e) + e->len;
		}
	}
}

/* ---- the scenario ---- */

static void
mkfile(const char *root, const char *rel)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "x\n", 2) != 2)
		printf("notify-probe: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void
mkd(const char *root, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		printf("notify-probe: mkdir %s: %s\n", path, strerror(errno));
}

/* The tree every run starts from, and its watches: the directories (a
 * recursive watcher's chain) and three files. */
static void
build_tree(const char *root, struct watcher *w)
{
	mkd(root, "");
	mkd(root, "sub");
	mkd(root, "sub/deep");
	mkd(root, "gonedir");
	mkd(root, "d2");
	mkfile(root, "a");
	mkfile(root, "a.tmp");
	mkfile(root, "gone");
	mkfile(root, "mv");
	mkfile(root, "sub/f");
	mkfile(root, "sub/deep/g");
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->nwds = 0;
	watch(w, root, "");
	watch(w, root, "sub");
	watch(w, root, "sub/deep");
	watch(w, root, "gonedir");
	watch(w, root, "d2");
	watch(w, root, "a");
	watch(w, root, "gone");
	watch(w, root, "mv");
}

enum { LOCAL, EMULATED };

static void
p(char *out, const char *root, const char *rel)
{
	snprintf(out, PATH_MAX, "%s%s%s", root, *rel ? "/" : "", rel);
}

/* Step i, done for real (LOCAL) or described to the module (EMULATED);
 * returns the step's name, NULL past the last.  *err gets the first
 * errno the device gave. */
static const char *
step(int i, int how, const char *root, int *err)
{
	char a[PATH_MAX], b[PATH_MAX], d[PATH_MAX], d2[PATH_MAX];
	int fd, e = 0;
	bool local = how == LOCAL;

#define R(...) do { int r_ = raise_rec(__VA_ARGS__); if (r_ && !e) e = r_; } while (0)
	switch (i) {
	case 0:
		p(a, root, "new");
		if (local) {
			fd = open(a, O_WRONLY | O_CREAT, 0644);
			if (write(fd, "n", 1) != 1)
				e = errno;
			close(fd);
		} else {
			p(d, root, "");
			R(FSB_NOTIFY_CREATE, 0, d, "new", NULL, NULL);
			R(FSB_NOTIFY_MODIFY, 0, d, "new", NULL, NULL);
			R(FSB_NOTIFY_CLOSE_WRITE, 0, d, "new", NULL, NULL);
		}
		*err = e;
		return "a new file: IN_CREATE, IN_MODIFY, IN_CLOSE_WRITE";
	case 1:
		p(a, root, "sub/deep/newdir");
		p(d, root, "sub/deep");
		if (local)
			e = mkdir(a, 0755) ? errno : 0;
		else
			R(FSB_NOTIFY_CREATE, FSB_NOTIFY_F_DIR, d, "newdir", NULL, NULL);
		*err = e;
		return "a new directory two levels down: IN_CREATE|IN_ISDIR";
	case 2:
		p(a, root, "sub/f");
		p(d, root, "sub");
		if (local) {
			fd = open(a, O_WRONLY | O_APPEND);
			if (write(fd, "more\n", 5) != 5)
				e = errno;
			close(fd);
		} else {
			R(FSB_NOTIFY_MODIFY, 0, d, "f", NULL, NULL);
			R(FSB_NOTIFY_CLOSE_WRITE, 0, d, "f", NULL, NULL);
		}
		*err = e;
		return "a write to an existing file: IN_MODIFY, IN_CLOSE_WRITE";
	case 3:
		p(a, root, "a");
		p(d, root, "");
		if (local) {
			e = chmod(a, 0600) ? errno : 0;
			fd = open(a, O_WRONLY | O_TRUNC);
			close(fd);
		} else {
			R(FSB_NOTIFY_ATTRIB, 0, d, "a", NULL, NULL);
			R(FSB_NOTIFY_MODIFY, 0, d, "a", NULL, NULL);
			R(FSB_NOTIFY_CLOSE_WRITE, 0, d, "a", NULL, NULL);
		}
		*err = e;
		return "chmod and truncate of a watched file: on its own watch and its directory's";
	case 4:
		p(a, root, "sub");
		p(d, root, "");
		if (local)
			e = chmod(a, 0700) ? errno : 0;
		else
			R(FSB_NOTIFY_ATTRIB, FSB_NOTIFY_F_DIR, d, "sub", NULL, NULL);
		*err = e;
		return "chmod of a watched directory: IN_ATTRIB|IN_ISDIR";
	case 5:
		p(a, root, "gone");
		p(d, root, "");
		if (local)
			e = unlink(a) ? errno : 0;
		else
			R(FSB_NOTIFY_DELETE, 0, d, "gone", NULL, NULL);
		*err = e;
		return "unlink of a watched file: IN_ATTRIB, IN_DELETE_SELF, IN_IGNORED, IN_DELETE";
	case 6:
		p(a, root, "gonedir");
		p(d, root, "");
		if (local)
			e = rmdir(a) ? errno : 0;
		else
			R(FSB_NOTIFY_DELETE, FSB_NOTIFY_F_DIR, d, "gonedir", NULL, NULL);
		*err = e;
		return "rmdir of a watched directory: IN_DELETE_SELF, IN_IGNORED, IN_DELETE|IN_ISDIR";
	case 7:
		p(a, root, "mv");
		p(b, root, "sub/mv2");
		p(d, root, "");
		p(d2, root, "sub");
		if (local)
			e = rename(a, b) ? errno : 0;
		else
			R(FSB_NOTIFY_MOVE, 0, d, "mv", d2, "mv2");
		*err = e;
		return "rename of a watched file into a subdirectory: IN_MOVED_FROM/IN_MOVED_TO, one cookie, IN_MOVE_SELF";
	case 8:
		p(a, root, "d2");
		p(b, root, "d3");
		p(d, root, "");
		if (local)
			e = rename(a, b) ? errno : 0;
		else
			R(FSB_NOTIFY_MOVE, FSB_NOTIFY_F_DIR, d, "d2", d, "d3");
		*err = e;
		return "rename of a watched directory: IN_MOVED_FROM/TO|IN_ISDIR, IN_MOVE_SELF";
	case 9:
		p(a, root, "a.tmp");
		p(b, root, "a");
		p(d, root, "");
		if (local)
			e = rename(a, b) ? errno : 0;
		else
			R(FSB_NOTIFY_MOVE, 0, d, "a.tmp", d, "a");
		*err = e;
		return "save by rename over a watched file: the replaced file's IN_ATTRIB, IN_DELETE_SELF, IN_IGNORED";
	case 10:
		p(a, root, "sub/deep/g");
		p(d, root, "sub/deep");
		if (local)
			e = unlink(a) ? errno : 0;
		else
			R(FSB_NOTIFY_DELETE, 0, d, "g", NULL, NULL);
		*err = e;
		return "unlink of an unwatched file in a watched directory: IN_DELETE";
	}
#undef R
	return NULL;
}

/* The whole scenario on root: the trace and name of each step. */
static int
run_scenario(int how, const char *root, char traces[][2048], const char **names)
{
	struct watcher w;
	const char *what;
	int i, err;

	build_tree(root, &w);
	for (i = 0; (what = step(i, how, root, &err)) != NULL; i++) {
		if (err)
			printf("notify-probe: step %d (%s) on %s: %s\n", i, what, root, strerror(err));
		drain(&w, traces[i], 2048);
		names[i] = what;
	}
	close(w.fd);
	return i;
}

/* The scenario done for real on tmpfs (local_root), then described to
 * the module on root: each step's events must be the same. */
static void
compare_runs(const char *where, const char *local_root, const char *root)
{
	static char local[16][2048], emu[16][2048];
	const char *names[16];
	int n = run_scenario(LOCAL, local_root, local, names);

	run_scenario(EMULATED, root, emu, names);
	for (int i = 0; i < n; i++) {
		bool same = strcmp(local[i], emu[i]) == 0 && local[i][0];

		tap(same, "%s: %s", where, names[i]);
		printf("notify-probe:   local:    %s\n", local[i]);
		if (!same)
			printf("notify-probe:   emulated: %s\n", emu[i]);
	}
}

/* ---- bad records ---- */

static int
write_raw(const void *buf, size_t len)
{
	ssize_t n = write(devfd, buf, len);

	return n < 0 ? errno : 0;
}

static void
bad_records(void)
{
	char buf[FSB_NOTIFY_REC_MAX + 64] = { 0 }, big[300];
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct fsb_notify_rec *h = (struct fsb_notify_rec *)buf;
	size_t len = 0, one;
	ssize_t n;
	int fd;

	tap(write_raw(buf, 10) == EINVAL, "a write shorter than a header: EINVAL");
	rec_add(buf, sizeof(buf), &len, FSB_NOTIFY_MODIFY, 0, "/t", "x", NULL, NULL);
	h->size++;
	tap(write_raw(buf, len) == EINVAL, "size larger than the write: EINVAL");
	h->size -= 2;
	tap(write_raw(buf, len) == EINVAL, "size not header + lengths: EINVAL");
	h->size++;
	h->kind = 0;
	tap(write_raw(buf, len) == EINVAL, "kind 0: EINVAL");
	h->kind = 99;
	tap(write_raw(buf, len) == EINVAL, "unknown kind: EINVAL");
	h->kind = FSB_NOTIFY_MODIFY;
	h->flags = 0x100;
	tap(write_raw(buf, len) == EINVAL, "unknown flag: EINVAL");
	h->flags = 0;
	tap(write_raw(buf, len) == 0, "the same record made good again is accepted");

	tap(raise_rec(FSB_NOTIFY_MODIFY, 0, "t", "x", NULL, NULL) == EINVAL, "relative dir: EINVAL");
	tap(raise_rec(FSB_NOTIFY_CREATE, 0, "/t", "a/b", NULL, NULL) == EINVAL, "name with '/': EINVAL");
	tap(raise_rec(FSB_NOTIFY_CREATE, 0, "/t", ".", NULL, NULL) == EINVAL, "name '.': EINVAL");
	tap(raise_rec(FSB_NOTIFY_CREATE, 0, "/t", "..", NULL, NULL) == EINVAL, "name '..': EINVAL");
	tap(raise_rec(FSB_NOTIFY_CREATE, 0, "/t", NULL, NULL, NULL) == EINVAL, "CREATE without a name: EINVAL");
	tap(raise_rec(FSB_NOTIFY_MOVE, 0, "/t", "x", NULL, NULL) == EINVAL, "MOVE without a second path: EINVAL");
	tap(raise_rec(FSB_NOTIFY_OVERFLOW, 0, "/t", "x", NULL, NULL) == EINVAL, "OVERFLOW with a name: EINVAL");
	memset(big, 'n', 256);
	big[256] = '\0';
	tap(raise_rec(FSB_NOTIFY_CREATE, 0, "/t", big, NULL, NULL) == EINVAL, "a 256-byte name: EINVAL");

	len = 0;
	rec_add(buf, sizeof(buf), &len, FSB_NOTIFY_MODIFY, 0, "/t/xx", "x", NULL, NULL);
	buf[sizeof(*h) + 2] = '\0';
	tap(write_raw(buf, len) == EINVAL, "a NUL inside dir: EINVAL");
	h->dir_len = 5000;
	h->size = sizeof(*h) + 5000 + 1;
	tap(write_raw(buf, h->size) == EINVAL, "dir_len beyond the limit: EINVAL");

	tap(raise_rec(FSB_NOTIFY_MODIFY, 0, "/t/no/such/dir", "x", NULL, NULL) == ENOENT,
	    "a directory the guest does not have: ENOENT");
	tap(raise_rec(FSB_NOTIFY_MODIFY, 0, "/t/local-tmpfs/sub/f", "x", NULL, NULL) == ENOTDIR,
	    "dir naming a file: ENOTDIR");
	tap(raise_rec(FSB_NOTIFY_DELETE, 0, "/t", "never-there", NULL, NULL) == 0 &&
	    raise_rec(FSB_NOTIFY_MOVE, 0, "/t", "nope1", "/t", "nope2") == 0 &&
	    raise_rec(FSB_NOTIFY_MODIFY, 0, "/t", "nope3", NULL, NULL) == 0,
	    "names the guest never saw: accepted, raised on the directory");
	tap(none != MAP_FAILED && write(devfd, none, 64) < 0 && errno == EFAULT,
	    "a buffer the writer cannot read: EFAULT");

	/* Two records, the second bad: the count covers the first. */
	len = 0;
	rec_add(buf, sizeof(buf), &len, FSB_NOTIFY_MODIFY, 0, "/t", "x", NULL, NULL);
	one = len;
	rec_add(buf, sizeof(buf), &len, FSB_NOTIFY_MODIFY, 0, "rel", "x", NULL, NULL);
	n = write(devfd, buf, len);
	tap(n == (ssize_t)one, "a good then a bad record: write() returns the good one's size (%zd of %zu)", n, len);

	fd = open(FSB_NOTIFY_DEVICE, O_RDWR);
	tap(fd < 0 && errno == EINVAL, "opening it for reading: EINVAL");
	if (fd >= 0)
		close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = open(FSB_NOTIFY_DEVICE, O_WRONLY);
		_exit(fd < 0 && errno == EACCES ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	tap(WIFEXITED(st) && WEXITSTATUS(st) == 0, "an unprivileged user cannot open it (0600)");
}

/* ---- uncached names on the virtio-fs share ---- */

static void
share_checks(void)
{
	struct watcher w = { .fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC) };
	char t[2048];

	watch(&w, "/mnt", "");
	tap(raise_rec(FSB_NOTIFY_MODIFY, 0, "/mnt", "host-only", NULL, NULL) == 0,
	    "virtio-fs: MODIFY of a name the guest never looked up is accepted");
	drain(&w, t, sizeof(t));
	tap(strcmp(t, ". MODIFY host-only -; ") == 0,
	    "virtio-fs: the directory's watch gets IN_MODIFY with the name (%s)", t);
	tap(raise_rec(FSB_NOTIFY_CREATE, FSB_NOTIFY_F_CACHED, "/mnt/host-dir", "x", NULL, NULL) == EAGAIN,
	    "virtio-fs: F_CACHED on a directory the guest never looked up: EAGAIN (no server round trip)");
	tap(raise_rec(FSB_NOTIFY_CREATE, FSB_NOTIFY_F_CACHED, "/mnt", "x", NULL, NULL) == 0,
	    "virtio-fs: F_CACHED on a cached directory works");
	drain(&w, t, sizeof(t));
	close(w.fd);
}

/* ---- overflow ---- */

static void
overflow(void)
{
	static char buf[1 << 16];
	struct watcher w = { .fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC) };
	long max = 16384, events = 0, last_mask = 0;
	char name[32], t[2048];
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	double t0, t1;
	ssize_t n;
	size_t len;
	int i;

	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 16384;
		fclose(f);
	}
	mkd("/t", "flood");
	watch(&w, "/t/flood", "");
	t0 = now_us();
	for (i = 0; i < max + 1000;) {
		len = 0;
		for (; i < max + 1000; i++) {
			snprintf(name, sizeof(name), "n%d", i);
			if (!rec_add(buf, sizeof(buf), &len, FSB_NOTIFY_MODIFY, 0, "/t/flood", name, NULL, NULL))
				break;
		}
		if ((n = write(devfd, buf, len)) != (ssize_t)len) {
			printf("notify-probe: flood write: %zd of %zu: %s\n", n, len, strerror(errno));
			break;
		}
	}
	t1 = now_us();
	printf("notify-lat: flood: %ld records in %.0f ms (%.1f us a record, batched %zu bytes a write)\n",
	    (long)i, (t1 - t0) / 1e3, (t1 - t0) / i, sizeof(buf));
	while ((n = read(w.fd, buf, sizeof(buf))) > 0)
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;

			events++;
			last_mask = e->mask;
			q += sizeof(*e) + e->len;
		}
	tap(last_mask == IN_Q_OVERFLOW && events == max + 1,
	    "flooding %d records at a watcher that does not read: %ld events queued (max_queued_events %ld), the last IN_Q_OVERFLOW",
	    i, events, max);
	tap(raise_rec(FSB_NOTIFY_OVERFLOW, 0, "/t/flood", NULL, NULL, NULL) == 0,
	    "the OVERFLOW record is accepted");
	drain(&w, t, sizeof(t));
	tap(strcmp(t, ". ATTRIB|ISDIR - -; ") == 0,
	    "the OVERFLOW record: the watcher gets IN_ATTRIB|IN_ISDIR on the directory, not IN_Q_OVERFLOW (%s)", t);
	close(w.fd);
}

/* ---- latency ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("notify-lat: %s: n=%d min %.0f us, median %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n",
	    what, n, v[0], v[n / 2], v[n * 9 / 10], v[n * 99 / 100], v[n - 1]);
}

/* Latency on top/lat (tmpfs or the virtio-fs share). */
static void
latency(const char *where, const char *top)
{
	enum { N = 400 };
	static double module[N], local[N], wr[N];
	char ev[4096], dir[PATH_MAX], f[PATH_MAX], what[256];
	int fd = inotify_init1(IN_CLOEXEC), file;
	double t0, t1, t2;
	int i, bad = 0;

	mkd(top, "lat");
	mkfile(top, "lat/f");
	snprintf(dir, sizeof(dir), "%s/lat", top);
	snprintf(f, sizeof(f), "%s/lat/f", top);
	inotify_add_watch(fd, dir, MASK);
	file = open(f, O_WRONLY);
	for (i = 0; i < N; i++) {
		t0 = now_us();
		if (raise_rec(FSB_NOTIFY_MODIFY, 0, dir, "f", NULL, NULL) != 0)
			bad++;
		t1 = now_us();
		if (read(fd, ev, sizeof(ev)) <= 0)
			bad++;
		t2 = now_us();
		module[i] = t2 - t0;
		wr[i] = t1 - t0;
		t0 = now_us();
		if (write(file, "x", 1) != 1 || read(fd, ev, sizeof(ev)) <= 0)
			bad++;
		local[i] = now_us() - t0;
	}
	close(file);
	close(fd);
	snprintf(what, sizeof(what), "%s: record written -> watcher's read() returns", where);
	report(what, module, N);
	snprintf(what, sizeof(what), "%s: the write() of one record alone", where);
	report(what, wr, N);
	snprintf(what, sizeof(what), "%s: a local write() to the file -> watcher's read() returns (reference)", where);
	report(what, local, N);
	tap(bad == 0, "%s: latency loop: every record raised and every event read", where);
}

/* ---- main ---- */

static int
open_device(void)
{
	unsigned maj, min;
	FILE *f = fopen("/sys/class/misc/fsb_notify/dev", "r");

	if (f == NULL || fscanf(f, "%u:%u", &maj, &min) != 2) {
		printf("notify-probe: fsb_notify is not loaded (/sys/class/misc/fsb_notify/dev)\n");
		return -1;
	}
	fclose(f);
	mkdir("/dev", 0755);
	unlink(FSB_NOTIFY_DEVICE);
	if (mknod(FSB_NOTIFY_DEVICE, S_IFCHR | 0600, makedev(maj, min)) != 0)
		printf("notify-probe: mknod: %s\n", strerror(errno));
	return open(FSB_NOTIFY_DEVICE, O_WRONLY | O_CLOEXEC);
}

int
main(void)
{
	char v[16] = "?";
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	devfd = open_device();
	tap(devfd >= 0, "/dev/fsb_notify opens for writing");
	if (devfd < 0) {
		printf("notify-probe: done\n");
		return 1;
	}
	if ((f = fopen("/sys/module/fsb_notify/version", "r")) != NULL) {
		if (fscanf(f, "%15s", v) != 1)
			v[0] = '\0';
		fclose(f);
	}
	tap(strcmp(v, FSB_NOTIFY_VERSION) == 0, "module version %s", v);
	mkdir("/t", 0755);
	if (mount("tmpfs", "/t", "tmpfs", 0, "size=64m") != 0)
		printf("notify-probe: mount tmpfs: %s\n", strerror(errno));

	compare_runs("tmpfs", "/t/local-tmpfs", "/t/emu");
	/* The host made /mnt/.fsb-share, /mnt/host-only and /mnt/host-dir;
	 * the guest looks up only the first before share_checks(). */
	if (access("/mnt/.fsb-share", F_OK) == 0) {
		share_checks();
		compare_runs("virtio-fs", "/t/local-virtiofs", "/mnt/emu");
	} else {
		printf("notify-probe: no share at /mnt: virtio-fs checks skipped\n");
	}
	bad_records();
	overflow();
	latency("tmpfs", "/t");
	if (access("/mnt/.fsb-share", F_OK) == 0)
		latency("virtio-fs", "/mnt");

	f = fopen("/proc/sys/kernel/tainted", "r");
	unsigned long taint = 0;
	if (f) {
		if (fscanf(f, "%lu", &taint) != 1)
			taint = 0;
		fclose(f);
	}
	tap(!(taint & ((1UL << 7) | (1UL << 9))), "no kernel warning or oops (tainted=%lu)", taint);
	printf("notify-probe: done, %d failures\n", failures);
	return failures != 0;
}
