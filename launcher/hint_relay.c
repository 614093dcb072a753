/*
 * hint_relay: a share's change hints, from its file server to the guest
 * agent.  `fsbridge serve --hints-fd 0` writes, on a pipe, a record per
 * change it saw on the host (contract.h: kind, flags, cookie, the path
 * relative to the share's root; "/" when it lost track); a thread per
 * share turns each into a HINT frame (agent_proto.h) with the absolute
 * guest path (the share's place in the guest + the path) and a cookie
 * made unique across shares (an empty frame for "/").
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/contract/agent_proto.h"
#include "guest-overlay/contract/contract.h"
#include "hint_relay.h"
#include "relay.h"

#define HINT_EXCLUDE_MAX 64

struct hint_share {
	int fd;
	uint32_t index;		/* the top byte of its cookies */
	char guest[4096];
	/* guest paths another share (or a volume) covers: their changes
	 * are that one's to tell */
	char *exclude[HINT_EXCLUDE_MAX];
	int nexclude;
};

/* Is the guest path under one that another share covers? */
static bool
excluded(const struct hint_share *h, const char *path)
{
	for (int i = 0; i < h->nexclude; i++) {
		size_t n = strlen(h->exclude[i]);

		if (strncmp(path, h->exclude[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static uint32_t next_index;

/* The records of one HINT frame, sent when full or when the server has
 * nothing more for now: a burst of host changes is a few frames, not one
 * per change (each frame costs the emulated guest a wakeup). */
struct hint_batch {
	unsigned char buf[AP_MAX_PAYLOAD];
	size_t len;
};

static void
batch_send(struct hint_batch *b)
{
	if (b->len > 0)
		relay_to_agent(AP_HINT, b->buf, (unsigned)b->len);
	b->len = 0;
}

/* Everything is to be looked at again: the records before it no longer
 * matter. */
static void
batch_lost_all(struct hint_batch *b)
{
	b->len = 0;
	relay_to_agent(AP_HINT, NULL, 0);
}

/* Appends one record: kind, flags, cookie, guest path. */
static void
batch_add(struct hint_batch *b, char kind, unsigned flags, uint32_t cookie, const char *path)
{
	size_t plen = strlen(path) + 1;
	unsigned char *r;

	if (b->len + AP_HINT_FIXED + plen > sizeof(b->buf))
		batch_send(b);
	r = b->buf + b->len;
	r[0] = (unsigned char)kind;
	r[1] = (unsigned char)flags;
	r[2] = r[3] = 0;
	ap_put32(r + 4, cookie);
	memcpy(r + AP_HINT_FIXED, path, plen);
	b->len += AP_HINT_FIXED + plen;
}

/* rec: one record from the server; a malformed one counts as lost
 * track (the server is ours, but a record cut by a full buffer is not) */
static void
add_hint(const struct hint_share *h, struct hint_batch *b, const char *rec)
{
	char path[8192], hex[9], *end;
	const char *rel = rec + FSB_HINT_HDR;
	unsigned long cookie, flags;
	int n;

	if (strcmp(rec, FSB_HINT_LOST) == 0) {
		batch_add(b, FSB_HINT_K_LOST, 0, 0, h->guest);
		return;
	}
	if (strlen(rec) < FSB_HINT_HDR || !fsb_hint_kind_ok(rec[0]) ||
	    !isxdigit((unsigned char)rec[1])) {
		batch_lost_all(b);
		return;
	}
	flags = strtoul((char[]){ rec[1], '\0' }, NULL, 16);
	memcpy(hex, rec + 2, 8);
	hex[8] = '\0';
	cookie = strtoul(hex, &end, 16);
	if (*end != '\0' || flags > (FSB_HINT_F_DIR | FSB_HINT_F_SELF)) {
		batch_lost_all(b);
		return;
	}
	if (cookie != 0)
		cookie = (h->index << 24) | (cookie & 0xffffffu);
	n = snprintf(path, sizeof(path), "%s%s%s", h->guest,
	    rel[0] != '\0' && strcmp(h->guest, "/") != 0 ? "/" : "", rel);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		batch_lost_all(b);
		return;
	}
	if (excluded(h, path))
		return;
	/* the root share is the only one at "/" (a --mount never is) */
	batch_add(b, rec[0], (unsigned)flags | (strcmp(h->guest, "/") == 0 ?
	    FSB_HINT_F_ROOT : 0), (uint32_t)cookie, path);
}

static void *
hint_thread(void *arg)
{
	struct hint_share *h = arg;
	static __thread char buf[65536];
	struct hint_batch *b = malloc(sizeof(*b));
	size_t len = 0;
	ssize_t n;

	if (b == NULL)
		relay_to_agent(AP_HINT, NULL, 0);	/* no hints: look again at everything */
	else
		b->len = 0;
	while (b != NULL && (n = read(h->fd, buf + len, sizeof(buf) - len)) != 0) {
		char *rec, *end;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
		rec = buf;
		while ((end = memchr(rec, '\0', len - (size_t)(rec - buf))) != NULL) {
			add_hint(h, b, rec);
			rec = end + 1;
		}
		len -= (size_t)(rec - buf);
		memmove(buf, rec, len);
		if (len == sizeof(buf)) {	/* no record is that long */
			batch_lost_all(b);
			len = 0;
		}
		batch_send(b);
	}
	close(h->fd);
	for (int i = 0; i < h->nexclude; i++)
		free(h->exclude[i]);
	free(h);
	free(b);
	return NULL;
}

int
hint_relay_start(int fd, const char *guest_root, const char *const *exclude, int nexclude)
{
	struct hint_share *h = calloc(1, sizeof(*h));
	pthread_t t;
	int rc;

	if (h == NULL)
		return -ENOMEM;
	h->fd = fd;
	h->index = __atomic_add_fetch(&next_index, 1, __ATOMIC_RELAXED) & 0xffu;
	if (strlcpy(h->guest, guest_root, sizeof(h->guest)) >= sizeof(h->guest) ||
	    nexclude > HINT_EXCLUDE_MAX) {
		free(h);
		return -ENAMETOOLONG;
	}
	for (int i = 0; i < nexclude; i++) {
		if ((h->exclude[h->nexclude] = strdup(exclude[i])) == NULL)
			break;
		h->nexclude++;
	}
	rc = pthread_create(&t, NULL, hint_thread, h);
	if (rc != 0) {
		free(h);
		return -rc;
	}
	pthread_detach(t);
	return 0;
}
