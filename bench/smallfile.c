/*
 * smallfile: the small-file benchmark.  `smallfile [-n FILES] [-d DIRS]
 * [-s SIZE] [--json] DIR` fills the empty directory DIR with an
 * npm-install-like tree, times each phase (create, stat, read, readdir,
 * stat-warm, read-warm, unlink) with CLOCK_MONOTONIC, prints µs per
 * operation, and leaves DIR empty again, on failure too where it can.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libutil.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/contract/fdio.h"

#define DEFAULT_FILES 10000u
#define DEFAULT_DIRS 100u
#define DEFAULT_SIZE 1024u
#define MAX_FILES 10000000u
#define MAX_SIZE (64u << 20)
#define NAME_MAX_LEN 32

/* What to run, from the command line. */
struct config {
	unsigned files;
	unsigned dirs;
	size_t size;
	size_t chunk;		/* bytes per write(2) at create; 0: the whole file */
	bool json;
	bool mark;
	const char *dir;
};

/* The tree being worked on and the buffers used to fill and read it. */
struct tree {
	const struct config *cfg;
	int root;		/* fd of DIR */
	char *wbuf;		/* SIZE bytes of content */
	char *rbuf;		/* SIZE + 1 bytes, to see a file that is too long */
};

/* One timed phase: its name, how ops are counted, the work itself. */
struct phase {
	const char *name;
	bool per_dir;		/* ops = dirs (else files) */
	int (*run)(struct tree *);
};

static volatile sig_atomic_t interrupted;
static const char *progname = "smallfile";
static const char *top_dir = ".";	/* DIR, for messages */

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-n FILES] [-d DIRS] [-s SIZE] [-w CHUNK] [--json] [--mark] DIR\n"
	    "\n"
	    "Run a small-file workload inside the empty directory DIR and print\n"
	    "microseconds per operation for each phase.  DIR is empty again at\n"
	    "the end.\n"
	    "\n"
	    "  -n FILES    number of files (default %u, at most %u)\n"
	    "  -d DIRS     directories the files are spread over (default %u,\n"
	    "              at most FILES)\n"
	    "  -s SIZE     bytes per file (default %u, at most %u)\n"
	    "  -w CHUNK    write each file in write(2) calls of CHUNK bytes\n"
	    "              (default: the whole file in one)\n"
	    "  --json      one JSON object per phase and line\n"
	    "  --mark      statfs(2) DIR before each phase and after the last,\n"
	    "              untimed: a STATFS request that marks where each phase\n"
	    "              starts in a file server's log\n"
	    "  -h, --help  this help\n",
	    progname, DEFAULT_FILES, MAX_FILES, DEFAULT_DIRS, DEFAULT_SIZE,
	    MAX_SIZE);
}

/* Print "progname: message[ (try --help)]" and exit 2. */
static void __attribute__((noreturn))
vbad_args(bool hint, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "%s\n", hint ? " (try --help)" : "");
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vbad_args(true, fmt, ap);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
dir_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vbad_args(false, fmt, ap);
}

/* Parse a decimal count in [min, max] for option opt, or exit 2. */
static unsigned long
parse_count(const char *arg, char opt, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (arg[0] < '0' || arg[0] > '9')
		usage_error("-%c: '%s' is not a number", opt, arg);
	v = strtoul(arg, &end, 10);
	if (*end != '\0')
		usage_error("-%c: '%s' is not a number", opt, arg);
	if (errno == ERANGE || v < min || v > max)
		usage_error("-%c: %s is out of range %lu..%lu", opt, arg, min, max);
	return v;
}

static void
parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "mark", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dirs_given = false;
	int c;

	*cfg = (struct config){ DEFAULT_FILES, DEFAULT_DIRS, DEFAULT_SIZE, 0, false, false, NULL };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:d:s:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cfg->files = parse_count(optarg, 'n', 1, MAX_FILES);
			break;
		case 'd':
			cfg->dirs = parse_count(optarg, 'd', 1, MAX_FILES);
			dirs_given = true;
			break;
		case 's':
			cfg->size = parse_count(optarg, 's', 0, MAX_SIZE);
			break;
		case 'w':
			cfg->chunk = parse_count(optarg, 'w', 1, MAX_SIZE);
			break;
		case 'j':
			cfg->json = true;
			break;
		case 'm':
			cfg->mark = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			usage_error("option -%c needs a value", optopt);
		default:
			if (optopt != 0)
				usage_error("unknown option -%c", optopt);
			usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		usage_error(optind == argc ? "missing DIR" : "exactly one DIR expected");
	cfg->dir = argv[optind];
	if (!dirs_given && cfg->dirs > cfg->files)
		cfg->dirs = cfg->files;
	if (cfg->dirs > cfg->files)
		usage_error("-d %u is more directories than -n %u files", cfg->dirs, cfg->files);
}

/* Exit 2 unless DIR is a directory with nothing in it; return its fd. */
static int
open_empty_dir(const char *path)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		dir_error("%s: %s", path, strerror(errno));
	d = opendir(path);
	if (d == NULL)
		dir_error("%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			dir_error("%s is not empty (found '%s'); give an empty directory",
			    path, de->d_name);
	}
	closedir(d);
	return fd;
}

/* Directory i and the k-th file of it (file number k * DIRS + i). */
static void
dir_name(char buf[NAME_MAX_LEN], unsigned i)
{
	snprintf(buf, NAME_MAX_LEN, "d%04u", i);
}

static void
file_name(const struct config *cfg, char buf[NAME_MAX_LEN], unsigned i, unsigned k)
{
	snprintf(buf, NAME_MAX_LEN, "d%04u/f%07u", i, k * cfg->dirs + i);
}

/* How many files directory i holds: FILES spread as evenly as possible. */
static unsigned
files_in_dir(const struct config *cfg, unsigned i)
{
	return cfg->files / cfg->dirs + (i < cfg->files % cfg->dirs ? 1 : 0);
}

/* Report a failed operation on DIR/name; always -1. */
static int
fail(const char *phase, const char *name, const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s/%s: %s%s%s\n", progname, phase, top_dir, name,
	    what, err != 0 ? ": " : "", err != 0 ? strerror(err) : "");
	return -1;
}

static int
check_interrupt(const char *phase)
{
	if (!interrupted)
		return 0;
	fprintf(stderr, "%s: %s: interrupted\n", progname, phase);
	return -1;
}

static int
create_one(struct tree *t, const char *name)
{
	int fd, err = 0;

	fd = openat(t->root, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("create", name, "open", errno);
	for (size_t done = 0, part; err == 0 && done < t->cfg->size; done += part) {
		part = t->cfg->size - done;
		if (t->cfg->chunk > 0 && part > t->cfg->chunk)
			part = t->cfg->chunk;
		err = -write_all(fd, t->wbuf + done, part);
	}
	if (err != 0) {
		close(fd);
		return fail("create", name, "write", err);
	}
	if (close(fd) != 0)
		return fail("create", name, "close", errno);
	return 0;
}

static int
phase_create(struct tree *t)
{
	char name[NAME_MAX_LEN];

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		dir_name(name, i);
		if (mkdirat(t->root, name, 0755) != 0)
			return fail("create", name, "mkdir", errno);
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_name(t->cfg, name, i, k);
			if (check_interrupt("create") != 0 || create_one(t, name) != 0)
				return -1;
		}
	}
	return 0;
}

static int
stat_all(struct tree *t, const char *phase)
{
	char name[NAME_MAX_LEN];
	struct stat st;

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_name(t->cfg, name, i, k);
			if (check_interrupt(phase) != 0)
				return -1;
			if (fstatat(t->root, name, &st, 0) != 0)
				return fail(phase, name, "stat", errno);
			if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size != t->cfg->size)
				return fail(phase, name, "stat: not a regular file of the size written", 0);
		}
	}
	return 0;
}

static int
read_one(struct tree *t, const char *phase, const char *name)
{
	ssize_t got;
	int fd;

	fd = openat(t->root, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(phase, name, "open", errno);
	got = read_full(fd, t->rbuf, t->cfg->size + 1);
	if (got < 0) {
		close(fd);
		return fail(phase, name, "read", (int)-got);
	}
	if (close(fd) != 0)
		return fail(phase, name, "close", errno);
	if ((size_t)got != t->cfg->size || memcmp(t->rbuf, t->wbuf, t->cfg->size) != 0)
		return fail(phase, name, "read: content differs from what was written", 0);
	return 0;
}

static int
read_all_files(struct tree *t, const char *phase)
{
	char name[NAME_MAX_LEN];

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_name(t->cfg, name, i, k);
			if (check_interrupt(phase) != 0 || read_one(t, phase, name) != 0)
				return -1;
		}
	}
	return 0;
}

/* List directory i; -1 unless it holds exactly its files. */
static int
readdir_one(struct tree *t, unsigned i)
{
	char name[NAME_MAX_LEN];
	struct dirent *de;
	unsigned count = 0;
	DIR *d;
	int fd;

	dir_name(name, i);
	fd = openat(t->root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail("readdir", name, "open", errno);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return fail("readdir", name, "fdopendir", errno);
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			count++;
	}
	if (errno != 0) {
		int err = errno;

		closedir(d);
		return fail("readdir", name, "readdir", err);
	}
	closedir(d);
	if (count != files_in_dir(t->cfg, i))
		return fail("readdir", name, "readdir: wrong number of entries", 0);
	return 0;
}

static int
phase_readdir(struct tree *t)
{
	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		if (check_interrupt("readdir") != 0 || readdir_one(t, i) != 0)
			return -1;
	}
	return 0;
}

static int
phase_unlink(struct tree *t)
{
	char name[NAME_MAX_LEN];

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_name(t->cfg, name, i, k);
			if (check_interrupt("unlink") != 0)
				return -1;
			if (unlinkat(t->root, name, 0) != 0)
				return fail("unlink", name, "unlink", errno);
		}
		dir_name(name, i);
		if (unlinkat(t->root, name, AT_REMOVEDIR) != 0)
			return fail("unlink", name, "rmdir", errno);
	}
	return 0;
}

static int phase_stat(struct tree *t) { return stat_all(t, "stat"); }
static int phase_stat_warm(struct tree *t) { return stat_all(t, "stat-warm"); }
static int phase_read(struct tree *t) { return read_all_files(t, "read"); }
static int phase_read_warm(struct tree *t) { return read_all_files(t, "read-warm"); }

static const struct phase phases[] = {
	{ "create", false, phase_create },
	{ "stat", false, phase_stat },
	{ "read", false, phase_read },
	{ "readdir", true, phase_readdir },
	{ "stat-warm", false, phase_stat_warm },
	{ "read-warm", false, phase_read_warm },
	{ "unlink", false, phase_unlink },
};
#define NPHASES (sizeof(phases) / sizeof(phases[0]))

/* Remove whatever is left in our directories (after a failure). */
static void
cleanup_dir(struct tree *t, unsigned i)
{
	char name[NAME_MAX_LEN];
	struct dirent *de;
	DIR *d;
	int fd;

	dir_name(name, i);
	fd = openat(t->root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	(void)unlinkat(t->root, name, AT_REMOVEDIR);
}

static void
cleanup(struct tree *t)
{
	for (unsigned i = 0; i < t->cfg->dirs; i++)
		cleanup_dir(t, i);
}

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
print_header(const struct config *cfg)
{
	char total[6];

	humanize_number(total, sizeof(total), (int64_t)cfg->size * cfg->files, "B",
	    HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE);
	printf("smallfile: %u files of %zu bytes (%s) in %u dirs under %s\n",
	    cfg->files, cfg->size, total, cfg->dirs, cfg->dir);
	printf("%-10s %9s %10s %12s\n", "phase", "ops", "usec/op", "total ms");
}

/* Print one phase's result; -1 if stdout cannot take it. */
static int
print_phase(const struct config *cfg, const struct phase *p, uint64_t usec)
{
	unsigned ops = p->per_dir ? cfg->dirs : cfg->files;
	double per_op = (double)usec / ops;

	if (cfg->json)
		printf("{\"phase\":\"%s\",\"ops\":%u,\"usec_per_op\":%.3f,"
		    "\"total_usec\":%" PRIu64 "}\n", p->name, ops, per_op, usec);
	else
		printf("%-10s %9u %10.2f %12.1f\n", p->name, ops, per_op, usec / 1000.0);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: %s: writing the result: %s\n", progname, p->name,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;	/* a closed stdout is an error, not death */
	sigaction(SIGPIPE, &sa, NULL);
}

static void
alloc_buffers(struct tree *t)
{
	t->wbuf = malloc(t->cfg->size + 1);
	t->rbuf = malloc(t->cfg->size + 1);
	if (t->wbuf == NULL || t->rbuf == NULL) {
		fprintf(stderr, "%s: out of memory for %zu-byte buffers\n", progname,
		    t->cfg->size);
		exit(1);
	}
	for (size_t i = 0; i < t->cfg->size; i++)
		t->wbuf[i] = (char)('a' + i % 26);
}

/* --mark: one STATFS request at a phase boundary. */
static void
mark_phase(const struct tree *t)
{
	struct statfs sfs;

	if (t->cfg->mark)
		(void)fstatfs(t->root, &sfs);
}

static int
run_phases(struct tree *t)
{
	for (size_t i = 0; i < NPHASES; i++) {
		uint64_t start;

		mark_phase(t);
		start = now_usec();
		if (phases[i].run(t) != 0)
			return -1;
		if (print_phase(t->cfg, &phases[i], now_usec() - start) != 0)
			return -1;
	}
	mark_phase(t);
	return 0;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct tree t;
	int rc;

	if (argc > 0 && argv[0] != NULL && strrchr(argv[0], '/') != NULL)
		progname = strrchr(argv[0], '/') + 1;
	parse_args(argc, argv, &cfg);
	top_dir = cfg.dir;
	t = (struct tree){ .cfg = &cfg, .root = open_empty_dir(cfg.dir) };
	alloc_buffers(&t);
	catch_signals();
	if (!cfg.json)
		print_header(&cfg);
	rc = fflush(stdout) == 0 ? run_phases(&t) : -1;
	if (rc != 0)
		cleanup(&t);
	close(t.root);
	free(t.wbuf);
	free(t.rbuf);
	return rc == 0 ? 0 : 1;
}
