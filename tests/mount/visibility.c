/*
 * visibility: how long a change made directly in SRC takes to be seen
 * through MNT.  For each kind of change (write, rm, mv, mkdir, touch,
 * chmod, truncate, setxattr, editor-style replace) it makes the change
 * on SRC, then polls MNT until the change shows (or a deadline passes),
 * ROUNDS times, and prints TAP with the p50/p99 delay of each kind.
 *
 *   visibility SRC MNT [ROUNDS] [DEADLINE_MS] [KIND...]
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *src, *mnt;
static int test_no;
static int failures;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
path_of(char *buf, size_t len, const char *root, const char *name, int round)
{
	snprintf(buf, len, "%s/vis/%s%d", root, name, round);
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static bool
content_is(const char *path, const char *text)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A kind of change: prepare (through MNT, so it is cached), change (on
 * SRC), seen (polled on MNT). */
struct kind {
	const char *name;
	int (*prepare)(const char *s, const char *m, int r);
	int (*change)(const char *s, int r);
	bool (*seen)(const char *m, int r);
};

#define P(buf, root, name) path_of(buf, sizeof(buf), root, name, r)

static int prep_file(const char *s, const char *m, int r)
{
	char p[4096];

	P(p, s, "f");
	if (write_file(p, "old\n") != 0)
		return -1;
	P(p, m, "f");
	return content_is(p, "old\n") ? 0 : -1;
}

static int prep_absent(const char *s, const char *m, int r)
{
	char p[4096];

	P(p, m, "n");
	return exists(p) ? -1 : 0;	/* caches a negative entry */
}

static int ch_write(const char *s, int r) { char p[4096]; P(p, s, "f"); return write_file(p, "new\n"); }
static bool seen_write(const char *m, int r) { char p[4096]; P(p, m, "f"); return content_is(p, "new\n"); }
static int ch_rm(const char *s, int r) { char p[4096]; P(p, s, "f"); return unlink(p); }
static bool seen_rm(const char *m, int r) { char p[4096]; P(p, m, "f"); return !exists(p); }
static int ch_create(const char *s, int r) { char p[4096]; P(p, s, "n"); return write_file(p, "created\n"); }
static bool seen_create(const char *m, int r) { char p[4096]; P(p, m, "n"); return content_is(p, "created\n"); }
static int ch_mkdir(const char *s, int r) { char p[4096]; P(p, s, "n"); return mkdir(p, 0755); }
static bool seen_mkdir(const char *m, int r) { char p[4096]; struct stat st; P(p, m, "n"); return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }

static int
ch_mv(const char *s, int r)
{
	char a[4096], b[4096];

	P(a, s, "f");
	P(b, s, "n");
	return rename(a, b);
}

static bool
seen_mv(const char *m, int r)
{
	char a[4096], b[4096];

	P(a, m, "f");
	P(b, m, "n");
	return !exists(a) && content_is(b, "old\n");
}

static int
ch_touch(const char *s, int r)
{
	char p[4096];
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	P(p, s, "f");
	return utimensat(AT_FDCWD, p, ts, 0);
}

static bool
seen_touch(const char *m, int r)
{
	char p[4096];
	struct stat st;

	P(p, m, "f");
	return stat(p, &st) == 0 && st.st_mtime == 1000000000;
}

static int ch_chmod(const char *s, int r) { char p[4096]; P(p, s, "f"); return chmod(p, 0600); }

static bool
seen_chmod(const char *m, int r)
{
	char p[4096];
	struct stat st;

	P(p, m, "f");
	return stat(p, &st) == 0 && (st.st_mode & 0777) == 0600;
}

static int ch_truncate(const char *s, int r) { char p[4096]; P(p, s, "f"); return truncate(p, 1); }

static bool
seen_truncate(const char *m, int r)
{
	char p[4096];
	struct stat st;

	P(p, m, "f");
	return stat(p, &st) == 0 && st.st_size == 1 && content_is(p, "o");
}

static int
prep_xattr(const char *s, const char *m, int r)
{
	char p[4096], v[16];

	if (prep_file(s, m, r) != 0)
		return -1;
	P(p, m, "f");
	return getxattr(p, "user.vis", v, sizeof(v)) < 0 && errno == ENODATA ? 0 : -1;
}

static int ch_xattr(const char *s, int r) { char p[4096]; P(p, s, "f"); return setxattr(p, "user.vis", "1", 1, 0); }

static bool
seen_xattr(const char *m, int r)
{
	char p[4096], v[16];

	P(p, m, "f");
	return getxattr(p, "user.vis", v, sizeof(v)) == 1 && v[0] == '1';
}

/* an editor saves: write a temp file, rename it over the original */
static int
ch_editor(const char *s, int r)
{
	char p[4096], t[4096];

	P(p, s, "f");
	P(t, s, ".f.swp");
	if (write_file(t, "saved\n") != 0)
		return -1;
	return rename(t, p);
}

static bool seen_editor(const char *m, int r) { char p[4096]; P(p, m, "f"); return content_is(p, "saved\n"); }

/* a directory listing taken through MNT shows a name created on SRC */
static bool
listing_has(const char *m, int r)
{
	char dir[4096], want[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/vis", m);
	snprintf(want, sizeof(want), "n%d", r);
	d = opendir(dir);
	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, want) == 0)
			found = true;
	closedir(d);
	return found;
}

static int prep_listing(const char *s, const char *m, int r) { return listing_has(m, r) ? -1 : 0; }

static const struct kind kinds[] = {
	{ "listing", prep_listing, ch_create, listing_has },
	{ "write", prep_file, ch_write, seen_write },
	{ "create", prep_absent, ch_create, seen_create },
	{ "rm", prep_file, ch_rm, seen_rm },
	{ "mv", prep_file, ch_mv, seen_mv },
	{ "mkdir", prep_absent, ch_mkdir, seen_mkdir },
	{ "touch", prep_file, ch_touch, seen_touch },
	{ "chmod", prep_file, ch_chmod, seen_chmod },
	{ "truncate", prep_file, ch_truncate, seen_truncate },
	{ "setxattr", prep_xattr, ch_xattr, seen_xattr },
	{ "editor", prep_file, ch_editor, seen_editor },
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
clean_round(int r)
{
	static const char *names[] = { "f", "n", ".f.swp" };
	char p[4096];
	size_t i;

	for (i = 0; i < 3; i++) {
		path_of(p, sizeof(p), src, names[i], r);
		if (unlink(p) != 0 && (errno == EISDIR || errno == EPERM))
			rmdir(p);
	}
}

static void
run_kind(const struct kind *k, int rounds, double deadline_ms, double *all, int *nall)
{
	double *delays = calloc((size_t)rounds, sizeof(double));
	int r, missed = 0, errors = 0;

	for (r = 0; r < rounds && delays != NULL; r++) {
		double t0, d;

		clean_round(r);
		/* the prepared state must be seen (and cached) through MNT
		 * first: that is itself a host change, so it may take a moment */
		t0 = now_ms();
		while (k->prepare(src, mnt, r) != 0 && now_ms() - t0 < deadline_ms)
			usleep(200);
		if (k->prepare(src, mnt, r) != 0 || k->change(src, r) != 0) {
			errors++;
			continue;
		}
		t0 = now_ms();
		while (!k->seen(mnt, r) && now_ms() - t0 < deadline_ms)
			usleep(200);
		d = now_ms() - t0;
		if (!k->seen(mnt, r))
			missed++;
		delays[r] = d;
		all[(*nall)++] = d;
		clean_round(r);
	}
	test_no++;
	if (delays == NULL || missed > 0 || errors > 0) {
		failures++;
		printf("not ok %d - %s on SRC seen through MNT # %d of %d not seen within %.0f ms, %d setup errors\n",
		    test_no, k->name, missed, rounds, deadline_ms, errors);
	} else {
		qsort(delays, (size_t)rounds, sizeof(double), cmp_double);
		printf("ok %d - %s on SRC seen through MNT within %.0f ms # p50 %.2f ms p99 %.2f ms\n",
		    test_no, k->name, deadline_ms, delays[rounds / 2], delays[(rounds * 99) / 100]);
	}
	free(delays);
}

int
main(int argc, char **argv)
{
	int rounds, nall = 0, nkinds = 0, i;
	double deadline, *all;
	const struct kind *chosen[sizeof(kinds) / sizeof(kinds[0])];
	char p[4096];

	if (argc < 3) {
		fprintf(stderr, "usage: visibility SRC MNT [ROUNDS] [DEADLINE_MS] [KIND...]\n");
		return 2;
	}
	src = argv[1];
	mnt = argv[2];
	rounds = argc > 3 ? atoi(argv[3]) : 20;
	deadline = argc > 4 ? atof(argv[4]) : 2000;
	if (rounds < 1 || deadline <= 0)
		return 2;
	for (i = 5; i < argc; i++) {
		size_t k;

		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (strcmp(argv[i], kinds[k].name) == 0)
				chosen[nkinds++] = &kinds[k];
	}
	if (nkinds == 0)
		for (i = 0; i < (int)(sizeof(kinds) / sizeof(kinds[0])); i++)
			chosen[nkinds++] = &kinds[i];
	snprintf(p, sizeof(p), "%s/vis", src);
	mkdir(p, 0755);
	all = calloc((size_t)(rounds * nkinds), sizeof(double));
	if (all == NULL)
		return 99;
	printf("1..%d\n", nkinds);
	for (i = 0; i < nkinds; i++)
		run_kind(chosen[i], rounds, deadline, all, &nall);
	if (nall > 0) {
		qsort(all, (size_t)nall, sizeof(double), cmp_double);
		printf("# all %d changes: p50 %.2f ms, p99 %.2f ms\n", nall, all[nall / 2],
		    all[(nall * 99) / 100]);
	}
	free(all);
	return failures == 0 ? 0 : 1;
}
