/*
 * share-policy/link_resolve.c: where a symlink really leads, under
 * symlinks=deny.
 *
 * Owns the walk of a link's target from the link's directory, component
 * by component, following the links it meets (with a bound), as the
 * client's kernel will: the decision whether it stays beneath the share
 * root.  The walk itself does no I/O: the caller's probe says what is at
 * each path it reaches (policy.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "policy.h"

/* Where the walk is: `up` levels above the link's directory, then down
 * through the names in down[0..dlen) ("a/b", no "." or ".."). */
struct walk {
	unsigned int depth;	/* of the link's directory below the root */
	unsigned int up;
	char down[PATH_MAX];
	size_t dlen;
	unsigned int ndown;
	bool probing;		/* false once a component was missing */
	/* the components still to walk, starting at rest[pos] */
	char rest[2 * PATH_MAX];
	size_t pos;
};

/* Replace the walk's remaining components by target + "/" + the rest
 * after the current one (rest[pos..]). */
static int
walk_splice(struct walk *w, const char *target)
{
	size_t tlen = strlen(target), rlen = strlen(w->rest + w->pos);

	if (tlen + 1 + rlen + 1 > sizeof(w->rest))
		return -ENAMETOOLONG;
	memmove(w->rest + tlen + 1, w->rest + w->pos, rlen + 1);
	memcpy(w->rest, target, tlen);
	w->rest[tlen] = '/';
	w->pos = 0;
	return 0;
}

static int
walk_push(struct walk *w, const char *name, size_t len)
{
	if (w->dlen + (w->dlen > 0) + len + 1 > sizeof(w->down))
		return -ENAMETOOLONG;
	if (w->dlen > 0)
		w->down[w->dlen++] = '/';
	memcpy(w->down + w->dlen, name, len);
	w->dlen += len;
	w->down[w->dlen] = '\0';
	w->ndown++;
	return 0;
}

/* "..": drop the last name, or climb above the link's directory; -EXDEV
 * past the root. */
static int
walk_climb(struct walk *w)
{
	char *slash;

	if (w->ndown > 0) {
		slash = strrchr(w->down, '/');
		w->dlen = slash != NULL ? (size_t)(slash - w->down) : 0;
		w->down[w->dlen] = '\0';
		w->ndown--;
		return 0;
	}
	if (w->up >= w->depth)
		return -EXDEV;
	w->up++;
	return 0;
}

int
policy_link_resolve(const char *target, unsigned int link_depth,
    policy_link_probe probe, void *ctx)
{
	static __thread struct walk w;	/* large: off the stack */
	char next[PATH_MAX];
	unsigned int links = 0;
	size_t len;
	int rc;

	if (target == NULL || target[0] == '\0' || target[0] == '/')
		return -EXDEV;
	memset(&w, 0, sizeof(w));
	w.depth = link_depth;
	w.probing = probe != NULL;
	rc = walk_splice(&w, target);
	while (rc == 0 && w.rest[w.pos] != '\0') {
		const char *c = w.rest + w.pos;

		len = strcspn(c, "/");
		w.pos += len + (c[len] == '/');
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			rc = walk_climb(&w);
			continue;
		}
		rc = walk_push(&w, c, len);
		if (rc != 0 || !w.probing)
			continue;
		rc = probe(ctx, w.up, w.down, next, sizeof(next));
		if (rc == 0)
			continue;	/* there, and not a link */
		if (rc == -ENOENT || rc == -ENOTDIR) {
			/* nothing to follow from here: the rest, lexically */
			w.probing = false;
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		/* a link: its target is walked from the directory holding it */
		rc = walk_climb(&w);	/* takes its own name off again */
		if (rc == 0 && ++links > POLICY_LINK_RESOLVE_MAX)
			rc = -ELOOP;
		if (rc == 0 && (next[0] == '\0' || next[0] == '/'))
			rc = -EXDEV;
		if (rc == 0)
			rc = walk_splice(&w, next);
	}
	return rc;
}
