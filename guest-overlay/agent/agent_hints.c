/*
 * agent_hints: host changes made visible in the guest, and heard by its
 * file watchers.  The guest kernel caches names and attributes of a
 * virtio-fs share and cannot be told that the host changed them; the
 * supervisor relays, as HINT frames, each change the share's file server
 * saw on the host (its kind, as inotify would name it, and its path).
 * The agent queues them and, as soon as the host pauses (or every
 * HINTS_DELAY_MS while it keeps talking), before the next command starts:
 *
 *   1. makes the kernel look again at what changed: each changed
 *      directory's attributes and each file changed in place (a GETATTR
 *      each: pages dropped when mtime or size moved; a directory with
 *      many is listed instead, READDIRPLUS);
 *   2. raises the inotify events a local change would have given, in the
 *      host's order, through the fsb_notify module (/dev/fsb_notify,
 *      guest-overlay/kmod): a rename's two halves become one move with
 *      one cookie; the names the host made stale (removed, replaced, or
 *      created where the guest cached "no such name") are dropped from
 *      the cache as their events are raised (FSB_NOTIFY_F_DROP), so a
 *      watcher that looks at once finds what the host has;
 *   3. without the module (no events), lists each changed path's
 *      directory instead (READDIRPLUS replaces every cached entry of it
 *      with what the host has now, negative entries too) and stats a
 *      path the listing no longer has with AT_STATX_FORCE_SYNC: the
 *      server answers ESTALE or ENOENT and the kernel drops the stale
 *      name (a change in the root share, which the guest sees through an
 *      overlay that keeps what it looked up, drops every unused cached
 *      name: drop_caches).
 *
 * The root share's changes (FSB_HINT_F_ROOT) are applied to the share's
 * own mount below the overlay first (attributes, dropped names), then to
 * the overlay, where the guest's watchers are.
 *
 * A burst (a git checkout of thousands of files) costs a round trip per
 * directory and one write per few hundred events.  An empty hint (the
 * server lost track, or a record the relay could not pass) drops every
 * unused cached name and attribute (drop_caches) and raises the module's
 * OVERFLOW record on the share's root: watchers rescan.
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
#include "guest-overlay/contract/agent_proto.h"
#include "guest-overlay/contract/contract.h"
#include "guest-overlay/kmod/fsb_notify.h"

#define HINTS_MAX 4096		/* queued changes: more flush at once */
#define HINTS_GONE_MAX 256	/* more names gone at once: drop_caches */
#define HINTS_DELAY_MS 30	/* the longest a hint waits for a quiet host */
#define HINTS_PAIR_MS 10	/* how long a rename's first half waits for
				 * its second (they come a moment apart) */
#define HINTS_SETTLE_MS 3	/* a quiet moment: one editor save (create,
				 * write, close, rename) is one flush */
#define HINTS_LOST_MAX 16	/* share roots remembered for OVERFLOW */

struct hint {
	char kind;		/* FSB_HINT_K_* */
	uint8_t flags;		/* FSB_HINT_F_* */
	uint32_t cookie;
	char *path;
	size_t dlen;		/* the directory part of path (1 for "/x") */
};

static struct hint pending[HINTS_MAX];
static int npending;
static bool drop_all;
static char *lost[HINTS_LOST_MAX];	/* roots whose changes were lost */
static int nlost;
static struct timespec first_pending;	/* when the oldest hint came */
static struct timespec last_hint;	/* when the newest one came */
static int notify_fd = -2;		/* /dev/fsb_notify; -1: none */

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

/* Is the last hint a rename's first half, still waiting for its second? */
static bool
half_rename_waits(void)
{
	const struct hint *h = npending > 0 ? &pending[npending - 1] : NULL;

	return h != NULL && h->kind == FSB_HINT_K_MOVED_FROM && h->cookie != 0 &&
	    age_ms(&last_hint) < HINTS_PAIR_MS;
}

int
agent_hints_wait_ms(void)
{
	double settle, due;

	if (npending == 0 && !drop_all)
		return -1;
	settle = (half_rename_waits() ? HINTS_PAIR_MS : HINTS_SETTLE_MS) - age_ms(&last_hint);
	due = HINTS_DELAY_MS - age_ms(&first_pending);
	if (due < settle)
		settle = due;
	return settle < 1 ? 1 : (int)settle + 1;
}

void
agent_hints_quiet(void)
{
	if (agent_hints_due() || (!half_rename_waits() &&
	    age_ms(&last_hint) >= HINTS_SETTLE_MS))
		agent_hints_flush();
}

static void
lost_track(const char *root)
{
	drop_all = true;
	if (root == NULL || nlost == HINTS_LOST_MAX)
		return;
	for (int i = 0; i < nlost; i++)
		if (strcmp(lost[i], root) == 0)
			return;
	if ((lost[nlost] = strdup(root)) != NULL)
		nlost++;
}

/* One record of a HINT frame (agent_proto.h). */
static void
hint_one(const unsigned char *rec, size_t len)
{
	const char *path = (const char *)rec + AP_HINT_FIXED;
	struct hint *h, *last = npending > 0 ? &pending[npending - 1] : NULL;
	char *slash;

	if (rec[0] == FSB_HINT_K_LOST && path[0] == '/') {
		lost_track(path);	/* the server of the share at path lost track */
		return;
	}
	if (len < AP_HINT_FIXED + 2 || path[0] != '/' || !fsb_hint_kind_ok((char)rec[0]) ||
	    rec[1] > (FSB_HINT_F_DIR | FSB_HINT_F_SELF | FSB_HINT_F_ROOT)) {
		lost_track(NULL);	/* unreadable: look again at everything */
		return;
	}
	/* inotify merges an event identical to the one before it */
	if (last != NULL && last->kind == (char)rec[0] && last->flags == rec[1] &&
	    (last->kind == FSB_HINT_K_MODIFY || last->kind == FSB_HINT_K_ATTRIB) &&
	    strcmp(last->path, path) == 0)
		return;
	if (npending == HINTS_MAX)
		agent_hints_flush();
	h = &pending[npending];
	h->kind = (char)rec[0];
	h->flags = rec[1];
	h->cookie = ap_get32(rec + 4);
	h->path = strdup(path);
	if (h->path == NULL) {
		lost_track(NULL);
		return;
	}
	slash = strrchr(h->path, '/');
	h->dlen = slash == h->path ? 1 : (size_t)(slash - h->path);
	npending++;
}

void
agent_hint(const unsigned char *payload, size_t len)
{
	size_t off = 0;

	if (npending == 0 && !drop_all)
		clock_gettime(CLOCK_MONOTONIC, &first_pending);
	clock_gettime(CLOCK_MONOTONIC, &last_hint);
	if (len == 0) {
		lost_track(NULL);	/* empty: the server lost track */
		return;
	}
	while (off < len) {
		const unsigned char *rec = payload + off;
		const unsigned char *nul = len - off > AP_HINT_FIXED ?
		    memchr(rec + AP_HINT_FIXED, '\0', len - off - AP_HINT_FIXED) : NULL;
		size_t rlen;

		if (nul == NULL) {
			lost_track(NULL);	/* a record cut short */
			return;
		}
		rlen = (size_t)(nul - rec) + 1;
		hint_one(rec, rlen);
		off += rlen;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* hints by directory, then name (for refresh) */
static int
cmp_dir(const void *a, const void *b)
{
	const struct hint *p = *(struct hint *const *)a, *q = *(struct hint *const *)b;
	int c = memcmp(p->path, q->path, p->dlen < q->dlen ? p->dlen : q->dlen);

	if (c != 0)
		return c;
	if (p->dlen != q->dlen)
		return p->dlen < q->dlen ? -1 : 1;
	return strcmp(p->path + p->dlen, q->path + q->dlen);
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

/* The module's device, opened once; -1 when it is not there. */
static int
notify_dev(void)
{
	if (notify_fd == -2) {
		notify_fd = open(FSB_NOTIFY_DEVICE, O_WRONLY | O_CLOEXEC);
		if (notify_fd < 0)
			agent_log("hints: %s: %s: file watchers in the guest will not "
			    "hear of host changes", FSB_NOTIFY_DEVICE, strerror(errno));
	}
	return notify_fd;
}

/* The root share's own mount, below the overlay the guest sees: the
 * initramfs root (kept open by the agent) and FSB_GUEST_ROOT_SHARE. */
static const char *
lower_prefix(void)
{
	static char prefix[64];
	int fd = agent_outer_root_fd();

	if (fd < 0)
		return "";
	snprintf(prefix, sizeof(prefix), "/proc/self/fd/%d" FSB_GUEST_ROOT_SHARE, fd);
	return prefix;
}

/* path where h's share itself is: for the root share, under the
 * overlay (what is refreshed there is what the overlay looks up). */
static void
share_path(const struct hint *h, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s%s", h->flags & FSB_HINT_F_ROOT ? lower_prefix() : "", path);
}

/* The names in h's share's directory dir (list_dir). */
static char **
list_hint_dir(const struct hint *h, const char *dir, size_t *n)
{
	char full[4200];

	share_path(h, dir, full, sizeof(full));
	return list_dir(full, n);
}

static void
free_names(char **names, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
}

/* Each directory of the pending hints listed once; the paths of it the
 * listing no longer has are returned in gone (at most HINTS_GONE_MAX;
 * *too_many when there were more). */
static int
refresh(struct hint **by_dir, const char **gone, bool *too_many)
{
	int ngone = 0;

	*too_many = false;
	for (int i = 0; i < npending;) {
		struct hint *h = by_dir[i];
		char dir[4096], **names;
		size_t n, dlen = h->dlen;
		int j;

		if (dlen >= sizeof(dir)) {
			i++;
			continue;
		}
		memcpy(dir, h->path, dlen);
		dir[dlen] = '\0';
		names = list_hint_dir(h, dir, &n);
		for (j = i; j < npending; j++) {
			struct hint *k = by_dir[j];
			const char *base = k->path + (dlen == 1 ? 1 : dlen + 1);

			if (k->dlen != dlen || memcmp(k->path, dir, dlen) != 0)
				break;		/* another directory */
			if (*base == '\0' || (names != NULL &&
			    bsearch(&base, names, n, sizeof(*names), cmp_str) != NULL))
				continue;
			if (j > i && strcmp(by_dir[j - 1]->path, k->path) == 0)
				continue;	/* the same name again */
			if (ngone < HINTS_GONE_MAX)
				gone[ngone++] = k->path;
			else
				*too_many = true;
		}
		free_names(names, n);
		i = j > i ? j : i + 1;
	}
	return ngone;
}

#define HINTS_STAT_MAX 16	/* more changed files in a directory: list it */

/*
 * The hints by_dir[k..] that name the same path as by_dir[k] (adjacent:
 * cmp_dir sorts by directory, then name) end at *end (before j); true if
 * they leave the guest's cached attributes of that object stale: a
 * MODIFY or ATTRIB, or a CLOSE_WRITE (a write through a shared mapping
 * gives no MODIFY) of a name the batch did not create or move in (a new
 * name has nothing cached: a burst of new files closed at once must not
 * list their directory at each flush).
 */
static bool
object_stale(struct hint **by_dir, int k, int j, int *end)
{
	bool changed = false, closed = false, fresh = false;
	int m;

	for (m = k; m < j && strcmp(by_dir[m]->path, by_dir[k]->path) == 0; m++) {
		switch (by_dir[m]->kind) {
		case FSB_HINT_K_MODIFY:
		case FSB_HINT_K_ATTRIB:
			changed = true;
			break;
		case FSB_HINT_K_CLOSE_WRITE:
			closed = true;
			break;
		case FSB_HINT_K_CREATE:
		case FSB_HINT_K_MOVED_TO:
			fresh = true;
			break;
		}
	}
	*end = m > k ? m : k + 1;
	return changed || (closed && !fresh);
}

/* A GETATTR of path's object, by a descriptor: by path, an object the
 * host removed meanwhile (before its hint came) would answer ESTALE and
 * the kernel would walk again and drop the name, leaving its coming
 * events (IN_DELETE_SELF, the deletes below it) nothing to land on. */
static void
stat_again(const struct hint *h, const char *path)
{
	char full[4200];
	struct statx stx;
	int fd;

	share_path(h, path, full, sizeof(full));
	fd = open(full, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx);
	close(fd);
}

/*
 * With the module, names need no listing: it drops the stale ones itself
 * (F_DROP).  What stays to refresh is attributes: each changed
 * directory's own (its mtime decides whether a cached listing is used),
 * and each file changed in place (its size and mtime decide whether its
 * cached pages are); a directory with many such files is listed instead
 * (READDIRPLUS brings them all at once).  A round trip per directory
 * instead of a listing of it: a burst in a 10,000-entry directory costs
 * one GETATTR, not 10,000 entries.
 */
static void
refresh_attrs(struct hint **by_dir)
{
	static const char *gone[HINTS_MAX];
	size_t ngone = 0;

	/* what the batch removes or moves away is not stat'ed: the server
	 * answers ESTALE, the guest drops the name, and the events on it
	 * (IN_DELETE_SELF, the deletes below it) would find nothing */
	for (int i = 0; i < npending; i++)
		if (pending[i].kind == FSB_HINT_K_DELETE || pending[i].kind == FSB_HINT_K_MOVED_FROM)
			gone[ngone++] = pending[i].path;
	qsort(gone, ngone, sizeof(gone[0]), cmp_str);
	for (int i = 0; i < npending;) {
		struct hint *h = by_dir[i];
		char dir[4096];
		size_t dlen = h->dlen;
		int j, k, end, nobj = 0;

		for (j = i; j < npending; j++) {
			if (by_dir[j]->dlen != dlen || memcmp(by_dir[j]->path, h->path, dlen) != 0)
				break;
		}
		for (k = i; k < j; k = end)
			if (object_stale(by_dir, k, j, &end))
				nobj++;
		if (dlen < sizeof(dir)) {
			memcpy(dir, h->path, dlen);
			dir[dlen] = '\0';
			if (nobj > HINTS_STAT_MAX) {
				size_t n;
				char **names = list_hint_dir(h, dir, &n);

				free_names(names, n);
			} else {
				const char *d = dir;

				if (bsearch(&d, gone, ngone, sizeof(gone[0]), cmp_str) == NULL)
					stat_again(h, dir);
				for (k = i; k < j; k = end) {
					const char *p = by_dir[k]->path;

					if (object_stale(by_dir, k, j, &end) &&
					    bsearch(&p, gone, ngone, sizeof(gone[0]), cmp_str) == NULL)
						stat_again(by_dir[k], p);
				}
			}
		}
		i = j > i ? j : i + 1;
	}
}

/* Appends to buf (room for FSB_NOTIFY_REC_MAX) the record of h (with
 * its rename's other half to), its directories below prefix; its size,
 * 0 if it cannot be put. */
static size_t
put_rec(char *buf, const struct hint *h, const struct hint *to, const char *prefix)
{
	struct fsb_notify_rec r = { 0 };
	const char *name = "", *name2 = "";
	size_t plen = strlen(prefix), dlen = h->dlen, d2len = 0, nlen = 0, n2len = 0;
	char *p = buf + sizeof(r);

	switch (h->kind) {
	case FSB_HINT_K_CREATE: case FSB_HINT_K_MOVED_TO:
		r.kind = FSB_NOTIFY_CREATE; break;
	case FSB_HINT_K_DELETE: case FSB_HINT_K_MOVED_FROM:
		r.kind = FSB_NOTIFY_DELETE; break;
	case FSB_HINT_K_MODIFY: r.kind = FSB_NOTIFY_MODIFY; break;
	case FSB_HINT_K_ATTRIB: r.kind = FSB_NOTIFY_ATTRIB; break;
	case FSB_HINT_K_CLOSE_WRITE: r.kind = FSB_NOTIFY_CLOSE_WRITE; break;
	default: return 0;
	}
	if (to != NULL) {
		r.kind = FSB_NOTIFY_MOVE;
		d2len = to->dlen;
		name2 = to->path + (to->dlen == 1 ? 1 : to->dlen + 1);
		n2len = strlen(name2);
	}
	if (h->flags & FSB_HINT_F_SELF) {
		if (r.kind != FSB_NOTIFY_MODIFY && r.kind != FSB_NOTIFY_ATTRIB &&
		    r.kind != FSB_NOTIFY_CLOSE_WRITE)
			return 0;
		dlen = strlen(h->path);
	} else {
		name = h->path + (dlen == 1 ? 1 : dlen + 1);
		nlen = strlen(name);
	}
	if (plen + dlen > FSB_NOTIFY_PATH_MAX || plen + d2len > FSB_NOTIFY_PATH_MAX ||
	    nlen > FSB_NOTIFY_NAME_MAX || n2len > FSB_NOTIFY_NAME_MAX ||
	    (nlen == 0 && !(h->flags & FSB_HINT_F_SELF)))
		return 0;
	r.flags = (h->flags & FSB_HINT_F_DIR) ? FSB_NOTIFY_F_DIR : 0;
	if (r.kind == FSB_NOTIFY_DELETE || r.kind == FSB_NOTIFY_MOVE ||
	    r.kind == FSB_NOTIFY_CREATE)
		r.flags |= FSB_NOTIFY_F_DROP;
	r.dir_len = (uint16_t)(plen + dlen);
	r.name_len = (uint16_t)nlen;
	r.dir2_len = (uint16_t)(to != NULL ? plen + d2len : 0);
	r.name2_len = (uint16_t)n2len;
	r.size = (uint32_t)(sizeof(r) + r.dir_len + nlen + r.dir2_len + n2len);
	memcpy(buf, &r, sizeof(r));
	memcpy(p, prefix, plen);
	p += plen;
	memcpy(p, h->path, dlen);
	p += dlen;
	memcpy(p, name, nlen);
	p += nlen;
	if (to != NULL) {
		memcpy(p, prefix, plen);
		p += plen;
		memcpy(p, to->path, d2len);
		p += d2len;
	}
	memcpy(p, name2, n2len);
	return r.size;
}

/* Writes len bytes of records; a record the module refuses (its
 * directory is gone by now, say) is skipped. */
static void
notify_write(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		const struct fsb_notify_rec *r;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		r = (const void *)(buf + off);	/* the record at off failed */
		off += r->size;
	}
}

/* The events, in the host's order: a MOVED_FROM with the MOVED_TO of the
 * same cookie is one move; either half alone is a delete or a create. */
static void
raise_events(int fd)
{
	static char buf[64 * 1024];
	size_t len = 0;

	for (int i = 0; i < npending; i++) {
		struct hint *h = &pending[i], *to = NULL;
		size_t n;

		if (h->kind == 0)
			continue;	/* paired with an earlier MOVED_FROM */
		if (h->kind == FSB_HINT_K_MOVED_FROM && h->cookie != 0) {
			for (int j = i + 1; j < npending; j++) {
				if (pending[j].kind == FSB_HINT_K_MOVED_TO &&
				    pending[j].cookie == h->cookie) {
					to = &pending[j];
					break;
				}
			}
		}
		if (len + FSB_NOTIFY_REC_MAX > sizeof(buf)) {
			notify_write(fd, buf, len);
			len = 0;
		}
		/* the root share under the overlay: its own names first (what
		 * the overlay looks up again), no watcher is there */
		if ((h->flags & FSB_HINT_F_ROOT) && agent_outer_root_fd() >= 0 &&
		    h->kind != FSB_HINT_K_MODIFY && h->kind != FSB_HINT_K_ATTRIB &&
		    h->kind != FSB_HINT_K_CLOSE_WRITE) {
			len += put_rec(buf + len, h, to, lower_prefix());
			if (len + FSB_NOTIFY_REC_MAX > sizeof(buf)) {
				notify_write(fd, buf, len);
				len = 0;
			}
		}
		n = put_rec(buf + len, h, to, "");
		len += n;
		if (to != NULL)
			to->kind = 0;
	}
	if (len > 0)
		notify_write(fd, buf, len);
}

/* Lost track: every unused cached name dropped, and watchers of each
 * share root told to look again. */
static void
flush_lost(int fd)
{
	static char buf[sizeof(struct fsb_notify_rec) + FSB_NOTIFY_PATH_MAX];

	drop_caches();
	for (int i = 0; i < nlost; i++) {
		struct fsb_notify_rec r = { 0 };
		size_t dlen = strlen(lost[i]);

		if (fd >= 0 && dlen <= FSB_NOTIFY_PATH_MAX) {
			r.kind = FSB_NOTIFY_OVERFLOW;
			r.dir_len = (uint16_t)dlen;
			r.size = (uint32_t)(sizeof(r) + dlen);
			memcpy(buf, &r, sizeof(r));
			memcpy(buf + sizeof(r), lost[i], dlen);
			notify_write(fd, buf, r.size);
		}
		free(lost[i]);
	}
	nlost = 0;
}

static bool
root_hints(void)
{
	for (int i = 0; i < npending; i++)
		if (pending[i].flags & FSB_HINT_F_ROOT)
			return true;
	return false;
}

void
agent_hints_flush(void)
{
	static struct hint *by_dir[HINTS_MAX];
	static const char *gone[HINTS_GONE_MAX];
	int fd = npending > 0 || drop_all ? notify_dev() : -1;
	bool too_many;
	int ngone;

	if (npending > 0) {
		for (int i = 0; i < npending; i++)
			by_dir[i] = &pending[i];
		qsort(by_dir, (size_t)npending, sizeof(by_dir[0]), cmp_dir);
		if (fd >= 0) {
			refresh_attrs(by_dir);
			raise_events(fd);
		} else if ((ngone = refresh(by_dir, gone, &too_many)) < 0 || too_many ||
		    root_hints()) {
			/* (the overlay over the root share keeps what it looked
			 * up: only the module or dropping it all reaches it) */
			drop_caches();
		} else {
			for (int k = 0; k < ngone; k++) {
				struct statx stx;

				(void)statx(AT_FDCWD, gone[k], AT_SYMLINK_NOFOLLOW |
				    AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx);
			}
		}
	}
	if (drop_all)
		flush_lost(fd);
	for (int i = 0; i < npending; i++)
		free(pending[i].path);
	npending = 0;
	drop_all = false;
}
