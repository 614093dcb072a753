/*
 * inode_table: node id <-> inode bookkeeping, lookup counts, FORGET, and
 * the last-known (parent, name) of every inode.  See inode_table.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inode_table.h"

static int
inode_cmp_nodeid(const struct inode *a, const struct inode *b)
{
	return a->nodeid < b->nodeid ? -1 : a->nodeid > b->nodeid;
}

static int
inode_cmp_key(const struct inode *a, const struct inode *b)
{
	if (a->key_dev != b->key_dev)
		return a->key_dev < b->key_dev ? -1 : 1;
	return a->key_ino < b->key_ino ? -1 : a->key_ino > b->key_ino;
}

RB_GENERATE_INTERNAL(inode_by_nodeid, inode, by_nodeid, inode_cmp_nodeid, __attribute__((unused)) static)
RB_GENERATE_INTERNAL(inode_by_key, inode, by_key, inode_cmp_key, __attribute__((unused)) static)

int
inode_table_init(struct inode_table *t, uint64_t root_dev, uint64_t root_ino,
    void *root_bdata, void (*release)(void *, struct inode *), void *ctx)
{
	struct inode *root;

	memset(t, 0, sizeof(*t));
	root = calloc(1, sizeof(*root));
	if (root == NULL)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	RB_INIT(&t->by_nodeid);
	RB_INIT(&t->by_key);
	root->nodeid = 1;	/* FUSE_ROOT_ID */
	root->key_dev = root_dev;
	root->key_ino = root_ino;
	root->type = S_IFDIR;
	root->nlookup = 1;
	root->pins = 1;		/* the root is never freed */
	root->bdata = root_bdata;
	RB_INSERT(inode_by_nodeid, &t->by_nodeid, root);
	RB_INSERT(inode_by_key, &t->by_key, root);
	t->root = root;
	t->next_nodeid = 2;
	t->count = 1;
	t->release = release;
	t->release_ctx = ctx;
	root->watched = root->covered = true;
	return 0;
}

void
inode_table_destroy(struct inode_table *t)
{
	struct inode *in, *next;

	RB_FOREACH_SAFE(in, inode_by_nodeid, &t->by_nodeid, next) {
		RB_REMOVE(inode_by_nodeid, &t->by_nodeid, in);
		if (t->release != NULL)
			t->release(t->release_ctx, in);
		free(in->name);
		free(in);
	}
	t->root = NULL;
	pthread_mutex_destroy(&t->lock);
}

/*
 * With the lock held: if nothing references `in` any more, unlink it from
 * the table and return it (and its parent's pin is dropped in turn, which
 * may free the parent: the chain is returned through ->parent of the
 * freed list).  The caller releases the returned chain without the lock.
 */
static struct inode *
inode_unref_locked(struct inode_table *t, struct inode *in)
{
	struct inode *freed = NULL;

	while (in != NULL && in->nlookup == 0 && in->pins == 0) {
		struct inode *parent = in->parent;

		RB_REMOVE(inode_by_nodeid, &t->by_nodeid, in);
		RB_REMOVE(inode_by_key, &t->by_key, in);
		t->count--;
		in->parent = freed;	/* reuse as the free list link */
		freed = in;
		if (parent != NULL)
			parent->pins--;
		in = parent;
	}
	return freed;
}

static void
inode_free_chain(struct inode_table *t, struct inode *freed)
{
	while (freed != NULL) {
		struct inode *next = freed->parent;

		if (t->release != NULL)
			t->release(t->release_ctx, freed);
		free(freed->name);
		free(freed);
		freed = next;
	}
}

struct inode *
inode_table_get(struct inode_table *t, uint64_t nodeid)
{
	struct inode key, *in;

	key.nodeid = nodeid;
	pthread_mutex_lock(&t->lock);
	in = RB_FIND(inode_by_nodeid, &t->by_nodeid, &key);
	if (in != NULL)
		in->pins++;
	pthread_mutex_unlock(&t->lock);
	return in;
}

struct inode *
inode_table_find_key(struct inode_table *t, uint64_t dev, uint64_t ino)
{
	struct inode key, *in;

	key.key_dev = dev;
	key.key_ino = ino;
	pthread_mutex_lock(&t->lock);
	in = RB_FIND(inode_by_key, &t->by_key, &key);
	if (in != NULL)
		in->pins++;
	pthread_mutex_unlock(&t->lock);
	return in;
}

bool
inode_table_client_has(struct inode_table *t, uint64_t dev, uint64_t ino, mode_t type)
{
	struct inode key, *in;
	bool has;

	key.key_dev = dev;
	key.key_ino = ino;
	pthread_mutex_lock(&t->lock);
	in = RB_FIND(inode_by_key, &t->by_key, &key);
	has = in != NULL && in->nlookup > 0 && in->type == type && in->covered && !in->stale &&
	    (!S_ISDIR(type) || in->watched) &&
	    __atomic_load_n(&in->attrs_mark, __ATOMIC_RELAXED) == inode_activity(in) + 1;
	pthread_mutex_unlock(&t->lock);
	return has;
}

void
inode_table_pin(struct inode_table *t, struct inode *in)
{
	pthread_mutex_lock(&t->lock);
	in->pins++;
	pthread_mutex_unlock(&t->lock);
}

void
inode_table_put(struct inode_table *t, struct inode *in)
{
	struct inode *freed;

	if (in == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	in->pins--;
	freed = inode_unref_locked(t, in);
	pthread_mutex_unlock(&t->lock);
	inode_free_chain(t, freed);
}

/* With the lock held: make parent/name the last-known location of in. */
static int
inode_set_location_locked(struct inode_table *t, struct inode *in,
    struct inode *parent, const char *name, struct inode **freed)
{
	char *copy;
	struct inode *old_parent;

	*freed = NULL;
	if (in == t->root || parent == NULL)
		return 0;
	if (in->parent == parent && in->name != NULL && strcmp(in->name, name) == 0)
		return 0;
	copy = strdup(name);
	if (copy == NULL)
		return -ENOMEM;
	free(in->name);
	in->name = copy;
	old_parent = in->parent;
	parent->pins++;
	in->parent = parent;
	if (old_parent != NULL) {
		old_parent->pins--;
		*freed = inode_unref_locked(t, old_parent);
	}
	return 0;
}

struct inode *
inode_table_add(struct inode_table *t, struct inode *parent, const char *name,
    uint64_t dev, uint64_t ino, mode_t type, void *bdata, bool *bdata_used)
{
	struct inode key, *in, *freed = NULL;

	*bdata_used = false;
	key.key_dev = dev;
	key.key_ino = ino;
	pthread_mutex_lock(&t->lock);
	in = RB_FIND(inode_by_key, &t->by_key, &key);
	if (in == NULL) {
		in = calloc(1, sizeof(*in));
		if (in == NULL) {
			pthread_mutex_unlock(&t->lock);
			return NULL;
		}
		in->nodeid = t->next_nodeid++;
		in->key_dev = dev;
		in->key_ino = ino;
		in->type = type & S_IFMT;
		in->bdata = bdata;
		*bdata_used = true;
		RB_INSERT(inode_by_nodeid, &t->by_nodeid, in);
		RB_INSERT(inode_by_key, &t->by_key, in);
		t->count++;
	}
	in->nlookup++;
	in->pins++;
	/* a failed strdup only leaves the old location: not fatal */
	(void)inode_set_location_locked(t, in, parent, name, &freed);
	pthread_mutex_unlock(&t->lock);
	inode_free_chain(t, freed);
	return in;
}

void
inode_table_forget(struct inode_table *t, uint64_t nodeid, uint64_t n)
{
	struct inode key, *in, *freed = NULL;

	key.nodeid = nodeid;
	pthread_mutex_lock(&t->lock);
	in = RB_FIND(inode_by_nodeid, &t->by_nodeid, &key);
	if (in != NULL && in != t->root) {
		in->nlookup = n >= in->nlookup ? 0 : in->nlookup - n;
		freed = inode_unref_locked(t, in);
	}
	pthread_mutex_unlock(&t->lock);
	inode_free_chain(t, freed);
}

void
inode_table_move(struct inode_table *t, struct inode *in, struct inode *parent,
    const char *name)
{
	struct inode *freed = NULL;

	pthread_mutex_lock(&t->lock);
	(void)inode_set_location_locked(t, in, parent, name, &freed);
	pthread_mutex_unlock(&t->lock);
	inode_free_chain(t, freed);
}

int
inode_table_location(struct inode_table *t, struct inode *in,
    struct inode **parent, char *buf, size_t buflen)
{
	int rc = -ENOENT;

	*parent = NULL;
	pthread_mutex_lock(&t->lock);
	if (in->parent != NULL && in->name != NULL &&
	    strlen(in->name) < buflen) {
		strcpy(buf, in->name);
		in->parent->pins++;
		*parent = in->parent;
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

uint64_t
inode_table_count(struct inode_table *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* With the table lock: is st the data version the client holds?  Then
 * record `now` as the one it holds. */
static bool
inode_seen_swap(struct inode *in, const struct stat *st, const struct stat *now)
{
	bool same = in->seen && in->seen_size == st->st_size &&
	    in->seen_mtime.tv_sec == st->st_mtim.tv_sec &&
	    in->seen_mtime.tv_nsec == st->st_mtim.tv_nsec;

	in->seen_size = now->st_size;
	in->seen_mtime = now->st_mtim;
	return same;
}

bool
inode_table_same_data(struct inode_table *t, struct inode *in, const struct stat *st)
{
	bool same;

	pthread_mutex_lock(&t->lock);
	same = inode_seen_swap(in, st, st);
	in->seen = true;
	pthread_mutex_unlock(&t->lock);
	return same;
}

void
inode_table_data_written(struct inode_table *t, struct inode *in,
    const struct stat *before, const struct stat *after)
{
	pthread_mutex_lock(&t->lock);
	in->seen = inode_seen_swap(in, before, after);
	pthread_mutex_unlock(&t->lock);
}

void
inode_table_foreach(struct inode_table *t, void (*fn)(void *, struct inode *), void *ctx)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	RB_FOREACH(in, inode_by_nodeid, &t->by_nodeid)
		fn(ctx, in);
	pthread_mutex_unlock(&t->lock);
}

void
inode_table_lookup_again(struct inode_table *t, struct inode *in, struct inode *parent,
    const char *name)
{
	struct inode *freed = NULL;

	pthread_mutex_lock(&t->lock);
	in->nlookup++;
	(void)inode_set_location_locked(t, in, parent, name, &freed);
	pthread_mutex_unlock(&t->lock);
	inode_free_chain(t, freed);
}
