/*
 * inode_table_test: unit tests of the inode table (fsbridge/core/
 * inode_table.c) without a server: lookups by node id and by (dev, ino),
 * lookup counts and FORGET, pins, the root that never goes, node ids
 * never reused, last-known locations through rename and unlink, forged
 * ids, and that 100,000 nodes looked up and forgotten leave nothing
 * behind (invariant 7; built with ASan, so a leak fails it too).  TAP.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inode_table.h"
#include "tests/lib/tap.h"

#define DEV 42
#define ROOT_INO 2

/* What the release callback saw. */
static unsigned long released;
static void *last_released_bdata;

static void
on_release(void *ctx, struct inode *in)
{
	(void)ctx;
	released++;
	last_released_bdata = in->bdata;
}

/* bdata values the test can recognise: distinct addresses. */
static char tags[8];

/* Add (DEV, ino) as parent/name; checks nothing; returns it pinned. */
static struct inode *
add(struct inode_table *t, struct inode *parent, const char *name, uint64_t ino,
    mode_t type, void *bdata, bool *used)
{
	bool dummy;

	return inode_table_add(t, parent, name, DEV, ino, type, bdata,
	    used != NULL ? used : &dummy);
}

/* Does `in` have parent/name as its last-known location? */
static bool
located(struct inode_table *t, struct inode *in, struct inode *parent, const char *name)
{
	char buf[256];
	struct inode *p;
	bool ok;

	if (inode_table_location(t, in, &p, buf, sizeof(buf)) != 0)
		return false;
	ok = p == parent && strcmp(buf, name) == 0;
	inode_table_put(t, p);
	return ok;
}

static void
test_root(void)
{
	struct inode_table t;
	struct inode *r, *p;
	char buf[16];

	check(inode_table_init(&t, DEV, ROOT_INO, &tags[0], on_release, NULL) == 0,
	    "init");
	check(inode_table_count(&t) == 1, "a new table holds the root only");
	r = inode_table_get(&t, 1);
	check(r != NULL && r == t.root && r->bdata == &tags[0] && S_ISDIR(r->type),
	    "node id 1 is the root, with its bdata");
	inode_table_put(&t, r);
	r = inode_table_find_key(&t, DEV, ROOT_INO);
	check(r == t.root, "the root is found by its (dev, ino)");
	inode_table_put(&t, r);
	check(inode_table_location(&t, t.root, &p, buf, sizeof(buf)) == -ENOENT &&
	    p == NULL, "the root has no location");

	inode_table_forget(&t, 1, 1);
	inode_table_forget(&t, 1, UINT64_MAX);
	r = inode_table_get(&t, 1);
	check(r == t.root && r != NULL && inode_table_count(&t) == 1 && released == 0,
	    "forgetting the root (any number of times) removes nothing");
	inode_table_put(&t, r);
	inode_table_move(&t, t.root, t.root, "loop");
	check(inode_table_location(&t, t.root, &p, buf, sizeof(buf)) == -ENOENT,
	    "the root is never given a location");
	inode_table_destroy(&t);
	check(released == 1 && last_released_bdata == &tags[0],
	    "destroy releases the root");
	released = 0;
}

static void
test_lookups(void)
{
	struct inode_table t;
	struct inode *a, *a2, *b, *g;
	bool used;
	uint64_t id_a;

	inode_table_init(&t, DEV, ROOT_INO, &tags[0], on_release, NULL);

	a = add(&t, t.root, "a", 100, S_IFREG | 0644, &tags[1], &used);
	check(a != NULL && used && a->nodeid != 1 && a->bdata == &tags[1] &&
	    a->type == S_IFREG && a->nlookup == 1,
	    "a new (dev, ino) gets a new inode, adopts bdata, keeps S_IFMT only");
	id_a = a->nodeid;
	check(inode_table_count(&t) == 2, "count 2");
	g = inode_table_get(&t, id_a);
	check(g == a, "found by node id");
	inode_table_put(&t, g);
	g = inode_table_find_key(&t, DEV, 100);
	check(g == a, "found by (dev, ino)");
	inode_table_put(&t, g);
	check(inode_table_find_key(&t, DEV + 1, 100) == NULL &&
	    inode_table_find_key(&t, DEV, 101) == NULL,
	    "another dev or another ino is not it");

	a2 = add(&t, t.root, "a", 100, S_IFREG, &tags[2], &used);
	check(a2 == a && !used && a->nlookup == 2 && a->bdata == &tags[1] &&
	    inode_table_count(&t) == 2,
	    "the same (dev, ino) again: the same inode, one more lookup, bdata not taken");
	inode_table_put(&t, a2);

	/* forged and unknown ids */
	check(inode_table_get(&t, 0) == NULL, "node id 0: NULL (ESTALE)");
	check(inode_table_get(&t, id_a + 1) == NULL, "the next, unissued id: NULL");
	check(inode_table_get(&t, UINT64_MAX) == NULL, "UINT64_MAX: NULL");
	check(inode_table_get(&t, (uint64_t)(uintptr_t)a) == NULL,
	    "the inode's own address as an id: NULL");
	inode_table_forget(&t, 777777, 1);
	inode_table_forget(&t, 0, 1);
	check(inode_table_count(&t) == 2 && released == 0 && a->nlookup == 2,
	    "forgetting unknown ids changes nothing");

	/* forget: partial, then to zero while pinned, then the last put */
	inode_table_forget(&t, id_a, 1);
	check(inode_table_get(&t, id_a) == a && a->nlookup == 1,
	    "forget 1 of 2 lookups: still there");
	inode_table_put(&t, a);
	inode_table_forget(&t, id_a, 5);
	check(a->nlookup == 0 && released == 0 && inode_table_count(&t) == 2,
	    "forget past zero: nlookup 0, but a pinned inode stays");
	g = inode_table_get(&t, id_a);
	check(g == a, "a pinned, forgotten inode is still found while a request holds it");
	inode_table_put(&t, g);
	check(released == 0, "...and putting that request's pin does not free it");
	inode_table_put(&t, a);
	check(released == 1 && last_released_bdata == &tags[1] &&
	    inode_table_count(&t) == 1, "the last put frees it and releases its bdata");
	check(inode_table_get(&t, id_a) == NULL &&
	    inode_table_find_key(&t, DEV, 100) == NULL,
	    "a freed inode is found neither by id nor by (dev, ino)");

	/* ids are never reused, not even for the same file */
	a = add(&t, t.root, "a", 100, S_IFREG, &tags[3], &used);
	check(a != NULL && used && a->nodeid > id_a,
	    "the same file looked up again after FORGET gets a new, larger node id");
	b = add(&t, t.root, "b", 101, S_IFREG, &tags[4], &used);
	check(b != NULL && b->nodeid != a->nodeid && b->nodeid != id_a,
	    "another file gets another id");
	inode_table_forget(&t, a->nodeid, 1);
	inode_table_forget(&t, b->nodeid, 1);
	inode_table_put(&t, a);
	inode_table_put(&t, b);
	check(inode_table_count(&t) == 1 && released == 3, "both freed");

	/* a node pinned by a request, forgotten, then looked up again:
	 * the same inode and id (the client gets the id it may still use) */
	a = add(&t, t.root, "a", 100, S_IFREG, &tags[5], &used);
	id_a = a->nodeid;
	inode_table_forget(&t, id_a, 1);
	a2 = add(&t, t.root, "a", 100, S_IFREG, &tags[6], &used);
	check(a2 == a && !used && a2->nodeid == id_a && a->nlookup == 1,
	    "forgotten but still pinned, then looked up: the same id, not a new inode");
	inode_table_forget(&t, id_a, 1);
	inode_table_put(&t, a2);
	inode_table_put(&t, a);
	check(inode_table_count(&t) == 1 && released == 4, "freed");

	inode_table_destroy(&t);
	released = 0;
}

static void
test_locations(void)
{
	struct inode_table t;
	struct inode *d, *e, *f, *f2, *g;
	uint64_t id_d, id_f;
	char small[1];
	struct inode *p;

	inode_table_init(&t, DEV, ROOT_INO, &tags[0], on_release, NULL);
	d = add(&t, t.root, "d", 200, S_IFDIR, &tags[1], NULL);
	e = add(&t, t.root, "e", 201, S_IFDIR, &tags[2], NULL);
	f = add(&t, d, "f", 300, S_IFREG, &tags[3], NULL);
	id_d = d->nodeid;
	id_f = f->nodeid;
	check(located(&t, d, t.root, "d") && located(&t, f, d, "f"),
	    "a looked-up inode is located where it was found");
	check(inode_table_location(&t, f, &p, small, sizeof(small)) == -ENOENT &&
	    p == NULL, "a name longer than the buffer: -ENOENT, no pin");

	/* rename d/f -> e/g */
	inode_table_move(&t, f, e, "g");
	check(located(&t, f, e, "g"), "rename: the new parent and name");
	/* rename within the same dir */
	inode_table_move(&t, f, e, "h");
	check(located(&t, f, e, "h"), "rename in place: the new name");

	/* a child pins its parent: d, forgotten, stays while f is in it */
	inode_table_move(&t, f, d, "f");
	inode_table_put(&t, d);
	inode_table_forget(&t, id_d, 1);
	g = inode_table_get(&t, id_d);
	check(g == d && released == 0,
	    "a forgotten dir stays while a known child is located in it");
	inode_table_put(&t, g);
	check(located(&t, f, d, "f"), "...and the child can still be re-opened from it");
	/* moving the child away lets the parent go */
	inode_table_move(&t, f, e, "f");
	check(inode_table_get(&t, id_d) == NULL && released == 1 &&
	    last_released_bdata == &tags[1],
	    "once the child moves out, the forgotten dir is freed");

	/* a hard link found under another name: lookup_again moves it */
	inode_table_lookup_again(&t, f, t.root, "link");
	check(f->nlookup == 2 && located(&t, f, t.root, "link"),
	    "lookup_again: one more lookup, located where it was found last");

	/* unlink: the table keeps the last-known location (the backend
	 * checks the identity there); a new file at that name is a new inode */
	f2 = add(&t, t.root, "link", 301, S_IFREG, &tags[4], NULL);
	check(f2 != f && f2->nodeid != id_f && located(&t, f2, t.root, "link") &&
	    located(&t, f, t.root, "link"),
	    "another file created at an unlinked name: another inode, both located there");
	inode_table_forget(&t, f2->nodeid, 1);
	inode_table_put(&t, f2);

	/* forgetting the whole chain from the leaf frees it */
	inode_table_move(&t, f, e, "f");
	inode_table_put(&t, e);
	inode_table_forget(&t, e->nodeid, 1);
	check(inode_table_count(&t) == 3, "e stays for f (root, e, f)");
	inode_table_put(&t, f);
	inode_table_forget(&t, id_f, 2);
	check(inode_table_count(&t) == 1 && released == 4,
	    "forgetting the leaf frees it and then its forgotten parent");
	inode_table_destroy(&t);
	released = 0;
}

/* Invariant 7: any number of nodes looked up and forgotten leave the
 * table as it was, flat or as one deep chain (freed without recursion). */
static void
test_many(void)
{
	enum { N = 100000, DEPTH = 20000 };
	struct inode_table t;
	struct inode *in, *parent, *leaf = NULL;
	uint64_t *ids, prev = 1;
	bool ok = true, increasing = true;
	char name[32];
	unsigned int i;

	ids = calloc(N, sizeof(*ids));
	inode_table_init(&t, DEV, ROOT_INO, &tags[0], on_release, NULL);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		in = add(&t, t.root, name, 1000 + i, S_IFREG, &tags[1], NULL);
		if (in == NULL) {
			ok = false;
			break;
		}
		ids[i] = in->nodeid;
		if (ids[i] <= prev)
			increasing = false;
		prev = ids[i];
		inode_table_put(&t, in);
	}
	check(ok && inode_table_count(&t) == N + 1, "100,000 nodes added");
	check(increasing, "their node ids are all distinct (increasing)");
	for (i = 0; i < N; i += 997) {
		in = inode_table_get(&t, ids[i]);
		if (in == NULL || in->key_ino != 1000 + i)
			ok = false;
		inode_table_put(&t, in);
	}
	check(ok, "a sample of them found by id");
	for (i = 0; i < N; i++)
		inode_table_forget(&t, ids[i], 1);
	check(inode_table_count(&t) == 1 && released == N,
	    "all forgotten: the table holds the root only, every bdata released");

	/* a deep chain root/d0/d1/.../leaf, each dir forgotten first */
	released = 0;
	parent = t.root;
	for (i = 0; i < DEPTH; i++) {
		in = add(&t, parent, "d", 500000 + i, S_IFDIR, &tags[2], NULL);
		if (parent != t.root) {
			inode_table_forget(&t, parent->nodeid, 1);
			inode_table_put(&t, parent);
		}
		parent = in;
	}
	leaf = parent;
	check(inode_table_count(&t) == DEPTH + 1 && released == 0,
	    "a chain 20,000 deep, its dirs forgotten, held by the leaf");
	inode_table_forget(&t, leaf->nodeid, 1);
	check(inode_table_count(&t) == DEPTH + 1, "the leaf is still pinned by the caller");
	inode_table_put(&t, leaf);
	check(inode_table_count(&t) == 1 && released == DEPTH,
	    "forgetting the leaf frees the whole chain");

	inode_table_destroy(&t);
	free(ids);
	released = 0;
}

int
main(void)
{
	/* line-buffered: a leak report at exit must not swallow the TAP lines */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_root();
	test_lookups();
	test_locations();
	test_many();
	return tap_done();
}
