/*
 * tests/mount/escape_race.c: the symlink-swap race of the escape suite
 * (driven by tests/mount/escape.sh).
 *
 *   escape_race SRC MNT OUT ITERATIONS [SECONDS]
 *
 * SRC is the host directory shared by a running fsbridge mount at MNT; OUT
 * is a directory outside SRC whose contents the server must never reach.
 * The program prepares SRC/d (a real directory holding "f" with known
 * content), SRC/d.abs (a symlink to OUT, absolute) and SRC/d.rel (a
 * symlink climbing out of SRC to OUT with ".." components).  One thread
 * keeps exchanging SRC/d with one of the links (renameat2 RENAME_EXCHANGE)
 * while the main thread, through the mount, opens MNT/d/f for reading,
 * opens MNT/d/new for create+write and now and then lists MNT/d.
 *
 * escape.sh runs this program in a private mount namespace where OUT is
 * covered by an empty tmpfs: a link followed by the client's own kernel
 * leads to that empty tmpfs, so any read returning other bytes than the
 * known content, or any listing naming something else than "f" and "new",
 * means the server followed the link on the host.  Whether a file appeared
 * in the host's OUT can only be seen from outside the namespace: escape.sh
 * checks that after the run.
 *
 * Output: one summary line "escape_race: key=value ..." on stdout.
 * Exit: 0 nothing foreign was seen, 1 something foreign was seen,
 * 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define INSIDE_CONTENT "escape-race inside content\n"
#define NEW_CONTENT "escape-race new\n"
#define MAX_ITERATIONS 10000000ul
/* The swapper stops when told to, or after this many exchanges per
 * client iteration, whichever comes first. */
#define SWAPS_PER_ITERATION 64ul

struct swapper {
	int srcfd;
	atomic_bool stop;
	unsigned long max_swaps;
	unsigned long swaps;
	int err;		/* first errno of a failed exchange, 0 if none */
	unsigned long failed;
};

struct tally {
	unsigned long reads_ok;		/* read returned the inside content */
	unsigned long reads_err;	/* open or read failed (fine) */
	unsigned long reads_foreign;	/* read returned anything else */
	unsigned long creates_ok;
	unsigned long creates_err;
	unsigned long lists_ok;
	unsigned long lists_err;
	unsigned long lists_foreign;	/* a listing named a foreign entry */
	char foreign_sample[128];
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exchange(int dirfd, const char *a, const char *b)
{
	return renameat2(dirfd, a, dirfd, b, RENAME_EXCHANGE);
}

static void *swap_loop(void *arg)
{
	struct swapper *s = arg;
	static const char *const links[2] = { "d.abs", "d.rel" };

	for (unsigned long i = 0; i < s->max_swaps; i++) {
		if (atomic_load(&s->stop))
			break;
		/* Four steps: d<->d.abs, back, d<->d.rel, back. */
		const char *other = links[(i / 2) % 2];

		if (exchange(s->srcfd, "d", other) != 0) {
			if (s->err == 0)
				s->err = errno;
			s->failed++;
			if (s->failed > 100)
				break;
			continue;
		}
		s->swaps++;
		/* Hold each state for a varying while (0 to 45 us) so both the
		 * directory and the link are seen by lookups and opens. */
		struct timespec hold = { 0, (long)((i * 7) % 10) * 5000 };

		if (hold.tv_nsec != 0)
			nanosleep(&hold, NULL);
	}
	return NULL;
}

/* Put SRC back the way it was prepared: d a directory, the links links. */
static void restore(int srcfd)
{
	static const char *const links[2] = { "d.abs", "d.rel" };
	struct stat st;

	for (int i = 0; i < 2; i++) {
		if (fstatat(srcfd, links[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			(void)exchange(srcfd, "d", links[i]);
	}
}

static void note_foreign(struct tally *t, const char *what, const char *bytes, size_t len)
{
	if (t->foreign_sample[0] != '\0')
		return;
	char clean[64];
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < sizeof(clean); i++)
		clean[n++] = (bytes[i] > 0x20 && bytes[i] < 0x7f) ? bytes[i] : '_';
	clean[n] = '\0';
	snprintf(t->foreign_sample, sizeof(t->foreign_sample), "%s:%s", what, clean);
}

static void try_read(const char *path, struct tally *t)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		t->reads_err++;
		return;
	}
	ssize_t n = read(fd, buf, sizeof(buf));

	close(fd);
	if (n < 0) {
		t->reads_err++;
		return;
	}
	if ((size_t)n == strlen(INSIDE_CONTENT) &&
	    memcmp(buf, INSIDE_CONTENT, (size_t)n) == 0) {
		t->reads_ok++;
		return;
	}
	t->reads_foreign++;
	note_foreign(t, "read", buf, (size_t)n);
}

static void try_create(const char *path, struct tally *t)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		t->creates_err++;
		return;
	}
	ssize_t n = write(fd, NEW_CONTENT, strlen(NEW_CONTENT));

	if (close(fd) != 0 || n != (ssize_t)strlen(NEW_CONTENT))
		t->creates_err++;
	else
		t->creates_ok++;
}

static void try_list(const char *path, struct tally *t)
{
	DIR *d = opendir(path);

	if (d == NULL) {
		t->lists_err++;
		return;
	}
	bool foreign = false;

	/* A directory here holds at most "f", "new", "." and "..". */
	for (int i = 0; i < 64; i++) {
		errno = 0;
		struct dirent *e = readdir(d);

		if (e == NULL)
			break;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "f") == 0 || strcmp(e->d_name, "new") == 0)
			continue;
		if (!foreign)
			note_foreign(t, "entry", e->d_name, strlen(e->d_name));
		foreign = true;
	}
	closedir(d);
	if (foreign)
		t->lists_foreign++;
	else
		t->lists_ok++;
}

static int write_file_at(int dirfd, const char *name, const char *content)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -1;
	ssize_t n = write(fd, content, strlen(content));
	int rc = close(fd);

	return (n == (ssize_t)strlen(content) && rc == 0) ? 0 : -1;
}

/* "../" repeated enough times to climb from SRC (and from MNT) to "/",
 * followed by OUT without its leading '/'. */
static int climbing_target(const char *src, const char *mnt, const char *out,
			   char *buf, size_t len)
{
	unsigned int depth = 0;

	for (const char *p = src; *p != '\0'; p++)
		depth += (*p == '/');
	for (const char *p = mnt; *p != '\0'; p++)
		depth += (*p == '/');
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < depth + 1; i++) {
		if (used + 3 >= len)
			return -1;
		memcpy(buf + used, "../", 4);
		used += 3;
	}
	while (*out == '/')
		out++;
	if (used + strlen(out) + 1 > len)
		return -1;
	memcpy(buf + used, out, strlen(out) + 1);
	return 0;
}

static int prepare(int srcfd, const char *src, const char *mnt, const char *out)
{
	char rel[PATH_MAX];

	if (climbing_target(src, mnt, out, rel, sizeof(rel)) != 0) {
		fprintf(stderr, "escape_race: paths too long\n");
		return -1;
	}
	restore(srcfd);
	(void)unlinkat(srcfd, "d.abs", 0);
	(void)unlinkat(srcfd, "d.rel", 0);
	if (mkdirat(srcfd, "d", 0755) != 0 && errno != EEXIST) {
		perror("escape_race: mkdir SRC/d");
		return -1;
	}
	int dfd = openat(srcfd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0) {
		perror("escape_race: open SRC/d");
		return -1;
	}
	int rc = write_file_at(dfd, "f", INSIDE_CONTENT);

	close(dfd);
	if (rc != 0) {
		perror("escape_race: write SRC/d/f");
		return -1;
	}
	if (symlinkat(out, srcfd, "d.abs") != 0 || symlinkat(rel, srcfd, "d.rel") != 0) {
		perror("escape_race: symlink");
		return -1;
	}
	return 0;
}

static int parse_count(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	unsigned long n = strtoul(s, &end, 10);

	if (errno != 0 || end == s || *end != '\0' || n == 0 || n > max)
		return -1;
	*v = n;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long iterations, seconds = 60;

	if (argc < 5 || argc > 6 ||
	    parse_count(argv[4], MAX_ITERATIONS, &iterations) != 0 ||
	    (argc == 6 && parse_count(argv[5], 3600, &seconds) != 0)) {
		fprintf(stderr, "usage: escape_race SRC MNT OUT ITERATIONS [SECONDS]\n");
		return 2;
	}
	const char *src = argv[1], *mnt = argv[2], *out = argv[3];

	if (src[0] != '/' || mnt[0] != '/' || out[0] != '/') {
		fprintf(stderr, "escape_race: SRC, MNT and OUT must be absolute\n");
		return 2;
	}
	int srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (srcfd < 0) {
		perror("escape_race: open SRC");
		return 2;
	}
	if (prepare(srcfd, src, mnt, out) != 0)
		return 2;

	char fpath[PATH_MAX], npath[PATH_MAX], dpath[PATH_MAX];

	if (snprintf(fpath, sizeof(fpath), "%s/d/f", mnt) >= (int)sizeof(fpath) ||
	    snprintf(npath, sizeof(npath), "%s/d/new", mnt) >= (int)sizeof(npath) ||
	    snprintf(dpath, sizeof(dpath), "%s/d", mnt) >= (int)sizeof(dpath)) {
		fprintf(stderr, "escape_race: MNT too long\n");
		return 2;
	}

	struct swapper sw = { .srcfd = srcfd, .max_swaps = iterations * SWAPS_PER_ITERATION };
	atomic_init(&sw.stop, false);
	pthread_t th;

	if (pthread_create(&th, NULL, swap_loop, &sw) != 0) {
		fprintf(stderr, "escape_race: pthread_create failed\n");
		return 2;
	}

	struct tally t = { 0 };
	double deadline = now_seconds() + (double)seconds;
	unsigned long done = 0;

	for (unsigned long i = 0; i < iterations; i++) {
		try_read(fpath, &t);
		try_create(npath, &t);
		if (i % 8 == 0)
			try_list(dpath, &t);
		done++;
		if (i % 64 == 0 && now_seconds() > deadline)
			break;
	}
	atomic_store(&sw.stop, true);
	pthread_join(th, NULL);
	restore(srcfd);
	close(srcfd);

	printf("escape_race: iterations=%lu swaps=%lu swap_failures=%lu swap_errno=%d "
	       "reads_ok=%lu reads_err=%lu reads_foreign=%lu "
	       "creates_ok=%lu creates_err=%lu "
	       "lists_ok=%lu lists_err=%lu lists_foreign=%lu sample=%s\n",
	       done, sw.swaps, sw.failed, sw.err,
	       t.reads_ok, t.reads_err, t.reads_foreign,
	       t.creates_ok, t.creates_err,
	       t.lists_ok, t.lists_err, t.lists_foreign,
	       t.foreign_sample[0] != '\0' ? t.foreign_sample : "-");
	fflush(stdout);
	return (t.reads_foreign != 0 || t.lists_foreign != 0) ? 1 : 0;
}
