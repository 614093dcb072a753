/*
 * agent_hints: host changes made visible in the guest.  The guest kernel
 * caches names and attributes of a virtio-fs share and cannot be told
 * that the host changed them; the supervisor relays, as HINT frames, the
 * paths the share's file server saw change on the host (fs_hint.c: an
 * entry DIR/NAME, or a file or directory whose attributes, data or
 * listing changed).  The agent queues them and, before the next command
 * starts or when the host has nothing more to say, makes the kernel look
 * again, directory by directory:
 *
 *   - a listing of the path's directory (READDIRPLUS) replaces every
 *     cached entry of it with what the host has now, attributes
 *     included (pages dropped when mtime or size moved), negative
 *     entries too: names created on the host appear, replaced ones are
 *     replaced;
 *   - a path the listing no longer has (removed on the host) is stat'ed
 *     with AT_STATX_FORCE_SYNC: the server answers ESTALE or ENOENT and
 *     the kernel drops the stale name.
 *
 * A burst (a git checkout of thousands of files) costs one listing per
 * directory.  Too many paths at once, more than a few hundred names gone,
 * or an empty hint (the server lost track) drop every unused cached name
 * and attribute instead (drop_caches); names in use (a working directory,
 * an open file) are not dropped, and a stat of one removed on the host is
 * answered ESTALE by the server, which makes the kernel walk again.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"

#define HINTS_MAX 8192
#define HINTS_GONE_MAX 256	/* more names gone at once: drop_caches */
#define HINTS_DELAY_MS 200	/* the longest a hint waits for a quiet host */

static char *pending[HINTS_MAX];
static int npending;
static bool drop_all;
static struct timespec first_pending;	/* when the oldest hint came */

static double
age_ms(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) * 1e3 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

bool
agent_hints_due(void)
{
	return (npending > 0 || drop_all) && age_ms(&first_pending) > HINTS_DELAY_MS;
}

void
agent_hint(const unsigned char *payload, size_t len)
{
	if (npending == 0 && !drop_all)
		clock_gettime(CLOCK_MONOTONIC, &first_pending);
	if (drop_all)
		return;
	if (len < 2 || payload[len - 1] != '\0' || payload[0] != '/' ||
	    npending == HINTS_MAX) {
		drop_all = true;	/* empty: the server lost track */
		return;
	}
	pending[npending] = strdup((const char *)payload);
	if (pending[npending] == NULL)
		drop_all = true;
	else
		npending++;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* paths by directory, then name */
static int
cmp_path(const void *a, const void *b)
{
	const char *p = *(char *const *)a, *q = *(char *const *)b;
	size_t dp = (size_t)(strrchr(p, '/') - p), dq = (size_t)(strrchr(q, '/') - q);
	int c = memcmp(p, q, dp < dq ? dp : dq);

	if (c != 0)
		return c;
	if (dp != dq)
		return dp < dq ? -1 : 1;
	return strcmp(p + dp, q + dq);
}

/* The names in dir, sorted (malloc'd; *n of them); NULL if unreadable. */
static char **
list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t cap = 0;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (*n == cap) {
			char **more = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (more == NULL)
				break;
			names = more;
		}
		if ((names[*n] = strdup(e->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	qsort(names, *n, sizeof(*names), cmp_str);
	return names;
}

static void
drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "2", 1) != 1)
		agent_log("hints: drop_caches: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* pending sorted by directory: each directory listed once, then the
 * paths of it that the listing no longer has are stat'ed away (a few),
 * or every unused cached name dropped (many: a stat each would cost a
 * round trip each) */
static void
refresh(void)
{
	static char *gone[HINTS_GONE_MAX];
	int ngone = 0;
	bool too_many = false;

	qsort(pending, (size_t)npending, sizeof(pending[0]), cmp_path);
	for (int i = 0; i < npending;) {
		char *slash = strrchr(pending[i], '/');
		size_t dlen = slash == pending[i] ? 1 : (size_t)(slash - pending[i]);
		char dir[4096], **names;
		size_t n;
		int j;

		if (dlen >= sizeof(dir)) {
			i++;
			continue;
		}
		memcpy(dir, pending[i], dlen);
		dir[dlen] = '\0';
		names = list_dir(dir, &n);
		for (j = i; j < npending; j++) {
			char *p = pending[j], *base = strrchr(p, '/') + 1;

			if ((size_t)(base - p) != (dlen == 1 ? 1 : dlen + 1) ||
			    strncmp(p, dir, dlen) != 0)
				break;		/* another directory */
			if (names != NULL && bsearch(&base, names, n, sizeof(*names), cmp_str) != NULL)
				continue;
			if (ngone < HINTS_GONE_MAX)
				gone[ngone++] = p;
			else
				too_many = true;
		}
		for (size_t k = 0; k < n; k++)
			free(names[k]);
		free(names);
		i = j > i ? j : i + 1;
	}
	if (too_many) {
		drop_caches();
		return;
	}
	for (int k = 0; k < ngone; k++) {
		struct statx stx;

		(void)statx(AT_FDCWD, gone[k], AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC,
		    STATX_BASIC_STATS, &stx);
	}
}

void
agent_hints_flush(void)
{
	if (drop_all) {
		drop_caches();
	} else if (npending > 0) {
		refresh();
	}
	for (int i = 0; i < npending; i++)
		free(pending[i]);
	npending = 0;
	drop_all = false;
}
