/*
 * nfs_direct: the small-file workload of smallfile.c run straight through
 * libnfs's synchronous API, without FUSE or fsbridge: what an application
 * that uses libnfs itself pays for the same work.
 *
 *   nfs_direct [-n FILES] [-d DIRS] [-s SIZE] [--json] URL DIR
 *
 * URL is the export (nfs://SERVER/EXPORT[?version=4&nfsport=PORT], the
 * query as libnfs takes it); DIR an empty directory in it, as a path from
 * the export's root.  The tree, the phases (create, stat, read, readdir,
 * stat-warm, read-warm, unlink), their order and the output (plain or
 * --json, one object per phase) are smallfile's.  One libnfs context,
 * one request at a time, its directory cache off (as in fsbridge's NFS
 * backend): libnfs caches nothing else, so the warm phases cost what the
 * cold ones do.  DIR is empty again at the end, on failure too where it
 * can be.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nfsc/libnfs.h>

#define DEFAULT_FILES 10000u
#define DEFAULT_DIRS 100u
#define DEFAULT_SIZE 1024u
#define MAX_FILES 10000000u
#define MAX_SIZE (64u << 20)
#define PATH_LEN 4096
#define RPC_TIMEOUT_MS 30000

struct config {
	unsigned files;
	unsigned dirs;
	size_t size;
	bool json;
	const char *url;
	const char *dir;
};

struct tree {
	const struct config *cfg;
	struct nfs_context *nfs;
	char *wbuf;		/* SIZE bytes of content */
	char *rbuf;		/* SIZE + 1 bytes, to see a file that is too long */
};

struct phase {
	const char *name;
	bool per_dir;		/* ops = dirs (else files) */
	int (*run)(struct tree *);
};

static volatile sig_atomic_t interrupted;
static const char *progname = "nfs_direct";

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-n FILES] [-d DIRS] [-s SIZE] [--json] URL DIR\n"
	    "\n"
	    "Run smallfile's workload through libnfs (no FUSE) inside the empty\n"
	    "directory DIR of the NFS export URL (DIR from the export's root)\n"
	    "and print microseconds per operation for each phase.\n"
	    "\n"
	    "  -n FILES    number of files (default %u, at most %u)\n"
	    "  -d DIRS     directories the files are spread over (default %u,\n"
	    "              at most FILES)\n"
	    "  -s SIZE     bytes per file (default %u, at most %u)\n"
	    "  --json      one JSON object per phase and line\n"
	    "  -h, --help  this help\n",
	    progname, DEFAULT_FILES, MAX_FILES, DEFAULT_DIRS, DEFAULT_SIZE, MAX_SIZE);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try --help)\n");
	exit(2);
}

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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dirs_given = false;
	int c;

	*cfg = (struct config){ DEFAULT_FILES, DEFAULT_DIRS, DEFAULT_SIZE, false, NULL, NULL };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:d:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cfg->files = (unsigned)parse_count(optarg, 'n', 1, MAX_FILES);
			break;
		case 'd':
			cfg->dirs = (unsigned)parse_count(optarg, 'd', 1, MAX_FILES);
			dirs_given = true;
			break;
		case 's':
			cfg->size = parse_count(optarg, 's', 0, MAX_SIZE);
			break;
		case 'j':
			cfg->json = true;
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
	if (argc - optind != 2)
		usage_error("URL and DIR expected");
	cfg->url = argv[optind];
	cfg->dir = argv[optind + 1];
	if (strncmp(cfg->url, "nfs://", 6) != 0)
		usage_error("'%s' is not an nfs:// URL", cfg->url);
	if (!dirs_given && cfg->dirs > cfg->files)
		cfg->dirs = cfg->files;
	if (cfg->dirs > cfg->files)
		usage_error("-d %u is more directories than -n %u files", cfg->dirs, cfg->files);
}

/* Directory i and the k-th file of it (file number k * DIRS + i), under DIR. */
static void
dir_path(const struct config *cfg, char buf[PATH_LEN], unsigned i)
{
	snprintf(buf, PATH_LEN, "%s/d%04u", cfg->dir, i);
}

static void
file_path(const struct config *cfg, char buf[PATH_LEN], unsigned i, unsigned k)
{
	snprintf(buf, PATH_LEN, "%s/d%04u/f%07u", cfg->dir, i, k * cfg->dirs + i);
}

static unsigned
files_in_dir(const struct config *cfg, unsigned i)
{
	return cfg->files / cfg->dirs + (i < cfg->files % cfg->dirs ? 1 : 0);
}

/* Report a failed call on path; always -1. */
static int
fail(struct tree *t, const char *phase, const char *path, const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s: %s%s%s\n", progname, phase, path, what,
	    rc < 0 ? ": " : "", rc < 0 ? nfs_get_error(t->nfs) : "");
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
create_one(struct tree *t, const char *path)
{
	struct nfsfh *fh;
	size_t done = 0;
	int rc;

	rc = nfs_create(t->nfs, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &fh);
	if (rc != 0)
		return fail(t, "create", path, "create", rc);
	while (done < t->cfg->size) {
		rc = nfs_write(t->nfs, fh, t->cfg->size - done, t->wbuf + done);
		if (rc <= 0) {
			nfs_close(t->nfs, fh);
			return fail(t, "create", path, "write", rc < 0 ? rc : -EIO);
		}
		done += (size_t)rc;
	}
	rc = nfs_close(t->nfs, fh);
	return rc != 0 ? fail(t, "create", path, "close", rc) : 0;
}

static int
phase_create(struct tree *t)
{
	char path[PATH_LEN];
	int rc;

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		dir_path(t->cfg, path, i);
		rc = nfs_mkdir(t->nfs, path);
		if (rc != 0)
			return fail(t, "create", path, "mkdir", rc);
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_path(t->cfg, path, i, k);
			if (check_interrupt("create") != 0 || create_one(t, path) != 0)
				return -1;
		}
	}
	return 0;
}

static int
stat_all(struct tree *t, const char *phase)
{
	struct nfs_stat_64 st;
	char path[PATH_LEN];
	int rc;

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_path(t->cfg, path, i, k);
			if (check_interrupt(phase) != 0)
				return -1;
			rc = nfs_stat64(t->nfs, path, &st);
			if (rc != 0)
				return fail(t, phase, path, "stat", rc);
			if (!S_ISREG(st.nfs_mode) || st.nfs_size != t->cfg->size)
				return fail(t, phase, path, "stat: not a regular file of the size written", 0);
		}
	}
	return 0;
}

static int
read_one(struct tree *t, const char *phase, const char *path)
{
	struct nfsfh *fh;
	size_t got = 0;
	int rc;

	rc = nfs_open(t->nfs, path, O_RDONLY, &fh);
	if (rc != 0)
		return fail(t, phase, path, "open", rc);
	while (got < t->cfg->size + 1) {
		rc = nfs_read(t->nfs, fh, t->cfg->size + 1 - got, t->rbuf + got);
		if (rc < 0) {
			nfs_close(t->nfs, fh);
			return fail(t, phase, path, "read", rc);
		}
		if (rc == 0)
			break;
		got += (size_t)rc;
	}
	rc = nfs_close(t->nfs, fh);
	if (rc != 0)
		return fail(t, phase, path, "close", rc);
	if (got != t->cfg->size || memcmp(t->rbuf, t->wbuf, t->cfg->size) != 0)
		return fail(t, phase, path, "read: content differs from what was written", 0);
	return 0;
}

static int
read_all_files(struct tree *t, const char *phase)
{
	char path[PATH_LEN];

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_path(t->cfg, path, i, k);
			if (check_interrupt(phase) != 0 || read_one(t, phase, path) != 0)
				return -1;
		}
	}
	return 0;
}

static bool
is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* List directory i; -1 unless it holds exactly its files. */
static int
readdir_one(struct tree *t, unsigned i)
{
	struct nfsdirent *de;
	struct nfsdir *d;
	char path[PATH_LEN];
	unsigned count = 0;
	int rc;

	dir_path(t->cfg, path, i);
	rc = nfs_opendir(t->nfs, path, &d);
	if (rc != 0)
		return fail(t, "readdir", path, "opendir", rc);
	while ((de = nfs_readdir(t->nfs, d)) != NULL) {
		if (!is_dot(de->name))
			count++;
	}
	nfs_closedir(t->nfs, d);
	if (count != files_in_dir(t->cfg, i))
		return fail(t, "readdir", path, "readdir: wrong number of entries", 0);
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
	char path[PATH_LEN];
	int rc;

	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		for (unsigned k = 0; k < files_in_dir(t->cfg, i); k++) {
			file_path(t->cfg, path, i, k);
			if (check_interrupt("unlink") != 0)
				return -1;
			rc = nfs_unlink(t->nfs, path);
			if (rc != 0)
				return fail(t, "unlink", path, "unlink", rc);
		}
		dir_path(t->cfg, path, i);
		rc = nfs_rmdir(t->nfs, path);
		if (rc != 0)
			return fail(t, "unlink", path, "rmdir", rc);
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
cleanup(struct tree *t)
{
	char path[PATH_LEN], entry[PATH_LEN + 256];
	struct nfsdirent *de;
	struct nfsdir *d;

	interrupted = 0;
	for (unsigned i = 0; i < t->cfg->dirs; i++) {
		dir_path(t->cfg, path, i);
		if (nfs_opendir(t->nfs, path, &d) != 0)
			continue;
		while ((de = nfs_readdir(t->nfs, d)) != NULL) {
			if (is_dot(de->name))
				continue;
			snprintf(entry, sizeof(entry), "%s/%s", path, de->name);
			(void)nfs_unlink(t->nfs, entry);
		}
		nfs_closedir(t->nfs, d);
		(void)nfs_rmdir(t->nfs, path);
	}
}

/* Connect and mount URL; exit 2 unless DIR is an empty directory there. */
static struct nfs_context *
connect_export(const struct config *cfg)
{
	struct nfs_context *nfs;
	struct nfs_url *u;
	struct nfsdirent *de;
	struct nfsdir *d;
	int rc;

	nfs = nfs_init_context();
	if (nfs == NULL) {
		fprintf(stderr, "%s: cannot make a libnfs context\n", progname);
		exit(1);
	}
	u = nfs_parse_url_dir(nfs, cfg->url);	/* applies ?version= etc. */
	if (u == NULL || u->server == NULL || u->path == NULL) {
		fprintf(stderr, "%s: bad URL %s: %s\n", progname, cfg->url, nfs_get_error(nfs));
		exit(2);
	}
	nfs_set_timeout(nfs, RPC_TIMEOUT_MS);
	nfs_set_dircache(nfs, 0);
	nfs_umask(nfs, 0);
	rc = nfs_mount(nfs, u->server, u->path);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot mount %s: %s\n", progname, cfg->url, nfs_get_error(nfs));
		exit(2);
	}
	nfs_destroy_url(u);
	rc = nfs_opendir(nfs, cfg->dir, &d);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, cfg->dir, nfs_get_error(nfs));
		exit(2);
	}
	while ((de = nfs_readdir(nfs, d)) != NULL) {
		if (!is_dot(de->name)) {
			fprintf(stderr, "%s: %s is not empty (found '%s'); give an empty directory\n",
			    progname, cfg->dir, de->name);
			exit(2);
		}
	}
	nfs_closedir(nfs, d);
	return nfs;
}

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

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
	sa.sa_handler = SIG_IGN;	/* a closed stdout or socket is an error */
	sigaction(SIGPIPE, &sa, NULL);
}

static int
run_phases(struct tree *t)
{
	for (size_t i = 0; i < NPHASES; i++) {
		uint64_t start = now_usec();

		if (phases[i].run(t) != 0)
			return -1;
		if (print_phase(t->cfg, &phases[i], now_usec() - start) != 0)
			return -1;
	}
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
	catch_signals();
	t = (struct tree){ .cfg = &cfg, .nfs = connect_export(&cfg) };
	t.wbuf = malloc(cfg.size + 1);
	t.rbuf = malloc(cfg.size + 1);
	if (t.wbuf == NULL || t.rbuf == NULL) {
		fprintf(stderr, "%s: out of memory for %zu-byte buffers\n", progname, cfg.size);
		return 1;
	}
	for (size_t i = 0; i < cfg.size; i++)
		t.wbuf[i] = (char)('a' + i % 26);
	if (!cfg.json) {
		printf("nfs_direct: %u files of %zu bytes in %u dirs under %s %s\n",
		    cfg.files, cfg.size, cfg.dirs, cfg.url, cfg.dir);
		printf("%-10s %9s %10s %12s\n", "phase", "ops", "usec/op", "total ms");
	}
	rc = fflush(stdout) == 0 ? run_phases(&t) : -1;
	if (rc != 0)
		cleanup(&t);
	nfs_destroy_context(t.nfs);
	free(t.wbuf);
	free(t.rbuf);
	return rc == 0 ? 0 : 1;
}
