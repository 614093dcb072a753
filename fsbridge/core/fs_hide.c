/*
 * fs_hide: the server's side of the hide=PATH rules (hidden subtrees).
 *
 * Owns: each inode's rule position (where it stands on the rules' paths,
 * as decided by share-policy's policy_hide_child), and the identity marks:
 * the (dev, ino) of every node on a rule's path that exists when the
 * share starts (walked once in fs_hide_start), and of hidden nodes met
 * later.  A node is hidden when its name is hidden in its parent's
 * position, or when its identity is marked hidden: so a hidden file
 * stays hidden under another name (a hard link, a rename on the host),
 * and a directory leading to hidden paths (a home renamed on the host)
 * keeps its rules by identity.  Directories off every rule's path carry
 * no position and cost one lookup in the (small) identity tree.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/tree.h>

#include "share.h"

/* Identities learned after start (hidden names met later) stop here:
 * the name rules still apply beyond it, memory stays bounded. */
#define FS_HIDE_IDS_MAX 4096

struct fs_hide_id {
	RB_ENTRY(fs_hide_id) node;
	uint64_t dev;
	uint64_t ino;
	const char *at;		/* the position's encoding, NULL: hidden */
};

static int
hide_id_cmp(const struct fs_hide_id *a, const struct fs_hide_id *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return 0;
}

RB_HEAD(fs_hide_ids, fs_hide_id);
RB_GENERATE_INTERNAL(fs_hide_ids, fs_hide_id, node, hide_id_cmp, __attribute__((unused)) static)

/*
 * A position is kept in an inode as one pointer, set once and read
 * without a lock: the end of its prefix inside a rule (path + len).
 * A non-root position ends on a '/' of its rule; the root's is the
 * start of the hide buffer.  Decoding walks back to the rule's start.
 */
static const char *
pos_encode(struct policy_hide_pos pos)
{
	return pos.path == NULL ? NULL : pos.path + pos.len;
}

static struct policy_hide_pos
pos_decode(const struct share *sh, const char *at)
{
	struct policy_hide_pos pos = { NULL, 0 };
	const char *start = sh->policy.hide;

	if (at == NULL)
		return pos;
	pos.path = at;
	while (pos.path > start && pos.path[-1] != '\0')
		pos.path--;
	pos.len = (size_t)(at - pos.path);
	return pos;
}

static struct policy_hide_pos
inode_pos(const struct share *sh, const struct inode *in)
{
	return pos_decode(sh, __atomic_load_n(&in->hide_at, __ATOMIC_ACQUIRE));
}

void
fs_hide_set_pos(struct share *sh, struct inode *in, const char *at)
{
	const char *none = NULL;

	(void)sh;
	if (at != NULL)
		__atomic_compare_exchange_n(&in->hide_at, &none, at, false,
		    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Mark (dev, ino): hidden (at NULL) or on a path; hidden wins. */
static void
ids_mark(struct share *sh, uint64_t dev, uint64_t ino, const char *at, bool learned)
{
	struct fs_hide_id key = { .dev = dev, .ino = ino }, *id;

	pthread_rwlock_wrlock(&sh->hide_lock);
	id = RB_FIND(fs_hide_ids, sh->hide_ids, &key);
	if (id != NULL) {
		if (at == NULL)
			id->at = NULL;
	} else if (!(learned && sh->hide_nids >= FS_HIDE_IDS_MAX) &&
	    (id = calloc(1, sizeof(*id))) != NULL) {
		*id = key;
		id->at = at;
		RB_INSERT(fs_hide_ids, sh->hide_ids, id);
		sh->hide_nids++;
	}
	pthread_rwlock_unlock(&sh->hide_lock);
}

/* Is (dev, ino) marked?  *hidden, *at: how. */
static bool
ids_find(struct share *sh, uint64_t dev, uint64_t ino, bool *hidden, const char **at)
{
	struct fs_hide_id key = { .dev = dev, .ino = ino }, *id;

	if (__atomic_load_n(&sh->hide_nids, __ATOMIC_RELAXED) == 0)
		return false;
	pthread_rwlock_rdlock(&sh->hide_lock);
	id = RB_FIND(fs_hide_ids, sh->hide_ids, &key);
	if (id != NULL) {
		*hidden = id->at == NULL;
		*at = id->at;
	}
	pthread_rwlock_unlock(&sh->hide_lock);
	return id != NULL;
}

bool
fs_hide_entry(struct share *sh, struct inode *dir, const char *name,
    const struct stat *st, const char **at)
{
	struct policy_hide_pos pos;
	enum policy_hide res;
	const char *id_at;
	bool hidden;

	*at = NULL;
	if (sh->policy.nhide == 0)
		return false;
	res = policy_hide_child(&sh->policy, inode_pos(sh, dir), name, &pos);
	if (res == POLICY_HIDE_HIDDEN) {
		/* remember it: under another name it stays hidden */
		ids_mark(sh, (uint64_t)st->st_dev, (uint64_t)st->st_ino, NULL, true);
		return true;
	}
	if (ids_find(sh, (uint64_t)st->st_dev, (uint64_t)st->st_ino, &hidden, &id_at)) {
		if (hidden)
			return true;
		if (res == POLICY_HIDE_NONE)
			pos = pos_decode(sh, id_at);
	}
	*at = pos_encode(pos);
	return false;
}

bool
fs_hide_dirent(struct share *sh, struct inode *dir, const char *name, uint64_t ino)
{
	struct policy_hide_pos pos;
	const char *at;
	bool hidden;

	if (sh->policy.nhide == 0)
		return false;
	if (policy_hide_child(&sh->policy, inode_pos(sh, dir), name, &pos) == POLICY_HIDE_HIDDEN)
		return true;
	return ids_find(sh, dir->key_dev, ino, &hidden, &at) && hidden;
}

bool
fs_hide_name(struct share *sh, struct inode *dir, const char *name)
{
	struct backend_entry be;
	const char *at;
	bool hidden;

	if (sh->policy.nhide == 0)
		return false;
	if (fs_hide_dirent(sh, dir, name, 0))
		return true;
	if (sh->hide_nids == 0 || policy_check_name(name) != 0 ||
	    sh->backend->ops->lookup(sh->backend, dir, name, false, &be) != 0)
		return false;
	hidden = fs_hide_entry(sh, dir, name, &be.st, &at);
	sh->backend->ops->node_release(sh->backend, be.bdata);
	return hidden;
}

/* Walk one rule from the root, marking what exists of it. */
static void
hide_walk_rule(struct share *sh, const char *rule)
{
	struct inode *dir, *in;
	struct backend_entry be;
	char name[NAME_MAX + 1];
	const char *c = rule;
	size_t len;
	bool last, used;

	dir = inode_table_get(&sh->inodes, FUSE_ROOT_ID);
	while (dir != NULL) {
		len = strcspn(c, "/");
		last = c[len] == '\0';
		if (len > NAME_MAX)
			break;
		memcpy(name, c, len);
		name[len] = '\0';
		if (sh->backend->ops->lookup(sh->backend, dir, name, false, &be) != 0)
			break;
		ids_mark(sh, (uint64_t)be.st.st_dev, (uint64_t)be.st.st_ino,
		    last ? NULL : c + len, false);
		if (last || !S_ISDIR(be.st.st_mode)) {
			sh->backend->ops->node_release(sh->backend, be.bdata);
			break;
		}
		in = inode_table_add(&sh->inodes, dir, name, (uint64_t)be.st.st_dev,
		    (uint64_t)be.st.st_ino, be.st.st_mode, be.bdata, &used);
		if (!used)
			sh->backend->ops->node_release(sh->backend, be.bdata);
		if (in != NULL)
			fs_hide_set_pos(sh, in, c + len);
		if (dir != sh->inodes.root)
			inode_table_forget(&sh->inodes, dir->nodeid, 1);
		inode_table_put(&sh->inodes, dir);
		dir = in;
		c += len + 1;
	}
	if (dir != NULL) {
		if (dir != sh->inodes.root)
			inode_table_forget(&sh->inodes, dir->nodeid, 1);
		inode_table_put(&sh->inodes, dir);
	}
}

int
fs_hide_start(struct share *sh)
{
	const char *r;

	sh->hide_ids = calloc(1, sizeof(*sh->hide_ids));
	if (sh->hide_ids == NULL)
		return -ENOMEM;
	RB_INIT(sh->hide_ids);
	pthread_rwlock_init(&sh->hide_lock, NULL);
	if (sh->policy.nhide == 0)
		return 0;
	fs_hide_set_pos(sh, sh->inodes.root, pos_encode(policy_hide_root(&sh->policy)));
	for (r = policy_hide_next(&sh->policy, NULL); r != NULL; r = policy_hide_next(&sh->policy, r))
		hide_walk_rule(sh, r);
	return 0;
}

void
fs_hide_stop(struct share *sh)
{
	struct fs_hide_id *id, *next;

	if (sh->hide_ids == NULL)
		return;
	RB_FOREACH_SAFE(id, fs_hide_ids, sh->hide_ids, next) {
		RB_REMOVE(fs_hide_ids, sh->hide_ids, id);
		free(id);
	}
	free(sh->hide_ids);
	sh->hide_ids = NULL;
	pthread_rwlock_destroy(&sh->hide_lock);
}
