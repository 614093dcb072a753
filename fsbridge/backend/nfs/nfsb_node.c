/*
 * nfsb_node: the NFS backend's nodes (per-inode state: fileid, whether
 * found by following a link, NFSv4 handle), their identity in the inode
 * table, their paths, and stat'ing a path into a node.
 *
 * Identity.  The inode table keys inodes by (dev, ino); over NFS st_ino
 * is the server's fileid and dev a generation of ours, 0 at first.  When
 * a fileid the table still holds comes back as another type of file (the
 * server reused the number after the old file was deleted), the client
 * must not see the old inode change type (its kernel would refuse it with
 * EIO): that fileid gets a new generation, kept in backend_nfs.reused.
 *
 * Paths.  A node's path is rebuilt for each request from the last-known
 * locations the inode table keeps (inode_table_location): the path that
 * requests by path use, and that finds a handle again (nfsb4_fh.c).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <nfsc/libnfs.h>

#include "nfsb_int.h"

/* The fileids given a new generation (Identity, above). */
static int
nfsb_reused_cmp(const struct nfsb_reused *a, const struct nfsb_reused *b)
{
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

RB_GENERATE_INTERNAL(nfsb_reused_tree, nfsb_reused, entry, nfsb_reused_cmp, __attribute__((unused)) static)

struct nfsb_node *
nfsb_node_new(const struct stat *st, bool followed)
{
	struct nfsb_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->ino = st->st_ino;
	n->followed = followed;
	return n;
}

/* The node_release op: a node the inode table does not keep. */
void
nfsb_node_release(struct backend *b, void *bdata)
{
	free(bdata);
}

struct nfsb_node *
nfsb_node_of(struct inode *in)
{
	return in->bdata;
}

/* A copy of in's handle; false if it has none (NFSv3, or in was found
 * by following a link). */
bool
nfsb_node_fh(struct backend_nfs *nb, struct inode *in, struct nfsb4_fh *fh)
{
	struct nfsb_node *n = nfsb_node_of(in);

	pthread_mutex_lock(&nb->fh_lock);
	*fh = n->fh;
	pthread_mutex_unlock(&nb->fh_lock);
	return fh->len != 0;
}

bool
nfsb_node_has_fh(struct inode *in)
{
	return nfsb_node_of(in)->fh.len != 0;	/* set at creation, never cleared */
}

/* The generation (st_dev) under which the table knows fileid ino now. */
static uint64_t
nfsb_reused_dev(struct backend_nfs *nb, uint64_t ino)
{
	struct nfsb_reused key, *r;
	uint64_t dev = 0;

	key.ino = ino;
	pthread_mutex_lock(&nb->reused_lock);
	r = RB_FIND(nfsb_reused_tree, &nb->reused, &key);
	if (r != NULL)
		dev = r->dev;
	pthread_mutex_unlock(&nb->reused_lock);
	return dev;
}

/* Give st its key: a new generation if the table holds another type of
 * file under the same fileid. */
void
nfsb_key_entry(struct backend_nfs *nb, struct stat *st)
{
	struct inode *old;
	struct nfsb_reused key, *r;
	uint64_t ino = (uint64_t)st->st_ino;

	st->st_dev = (dev_t)nfsb_reused_dev(nb, ino);
	if (nb->base.inodes == NULL)
		return;
	old = inode_table_find_key(nb->base.inodes, st->st_dev, ino);
	if (old == NULL)
		return;
	if (old->type != (st->st_mode & S_IFMT) && old != nb->base.inodes->root) {
		key.ino = ino;
		pthread_mutex_lock(&nb->reused_lock);
		r = RB_FIND(nfsb_reused_tree, &nb->reused, &key);
		if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
			r->ino = ino;
			RB_INSERT(nfsb_reused_tree, &nb->reused, r);
		}
		if (r != NULL) {
			r->dev = ++nb->next_dev;
			st->st_dev = (dev_t)r->dev;
		}
		pthread_mutex_unlock(&nb->reused_lock);
	}
	inode_table_put(nb->base.inodes, old);
}

void
nfsb_reused_free(struct backend_nfs *nb)
{
	struct nfsb_reused *r, *next;

	RB_FOREACH_SAFE(r, nfsb_reused_tree, &nb->reused, next) {
		RB_REMOVE(nfsb_reused_tree, &nb->reused, r);
		free(r);
	}
	pthread_mutex_destroy(&nb->reused_lock);
}

/* Prepend "/name" to the path being built backwards at buf[*pos]. */
static int
nfsb_path_prepend(char *buf, size_t *pos, const char *name)
{
	size_t n = strlen(name);

	if (n + 1 > *pos)
		return -ENAMETOOLONG;
	*pos -= n;
	memcpy(buf + *pos, name, n);
	buf[--*pos] = '/';
	return 0;
}

/* The path of `in` relative to the export ("/" for the root). */
int
nfsb_path(struct backend_nfs *nb, struct inode *in, char *buf, size_t len)
{
	struct inode_table *t = nb->base.inodes;
	struct inode *cur = in, *parent;
	char name[NAME_MAX + 1];
	size_t pos = len - 1;
	int rc = 0, depth;

	buf[pos] = '\0';
	for (depth = 0; rc == 0 && !((struct nfsb_node *)cur->bdata)->root; depth++) {
		if (depth > NFSB_PATH_MAX / 2) {
			rc = -ELOOP;
			break;
		}
		rc = inode_table_location(t, cur, &parent, name, sizeof(name));
		if (rc != 0) {
			rc = -ESTALE;
			break;
		}
		rc = nfsb_path_prepend(buf, &pos, name);
		if (cur != in)
			inode_table_put(t, cur);
		cur = parent;
	}
	if (cur != in)
		inode_table_put(t, cur);
	if (rc != 0)
		return rc;
	if (buf[pos] == '\0')
		buf[--pos] = '/';
	memmove(buf, buf + pos, len - pos);
	return 0;
}

/* The path of dir/name. */
int
nfsb_child_path(struct backend_nfs *nb, struct inode *dir, const char *name,
    char *buf, size_t len)
{
	size_t n;
	int rc;

	rc = nfsb_path(nb, dir, buf, len);
	if (rc != 0)
		return rc;
	n = strlen(buf);
	if (n == 1)
		n = 0;		/* the root: no "//" */
	if (n + 1 + strlen(name) + 1 > len)
		return -ENAMETOOLONG;
	buf[n] = '/';
	strcpy(buf + n + 1, name);
	return 0;
}

void
nfsb_stat_convert(const struct nfs_stat_64 *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = 0;		/* our generation: see nfsb_key_entry */
	st->st_ino = (ino_t)s->nfs_ino;
	st->st_mode = (mode_t)s->nfs_mode;
	st->st_nlink = (nlink_t)s->nfs_nlink;
	st->st_uid = (uid_t)s->nfs_uid;
	st->st_gid = (gid_t)s->nfs_gid;
	st->st_rdev = (dev_t)s->nfs_rdev;
	st->st_size = (off_t)s->nfs_size;
	st->st_blksize = s->nfs_blksize != 0 ? (blksize_t)s->nfs_blksize : 4096;
	/* space used, in 512-byte blocks (nfs_blocks counts blksize units) */
	if (s->nfs_used != 0)
		st->st_blocks = (blkcnt_t)((s->nfs_used + 511) / 512);
	else
		st->st_blocks = (blkcnt_t)(s->nfs_blocks * (uint64_t)st->st_blksize / 512);
	st->st_atim.tv_sec = (time_t)s->nfs_atime;
	st->st_atim.tv_nsec = (long)s->nfs_atime_nsec;
	st->st_mtim.tv_sec = (time_t)s->nfs_mtime;
	st->st_mtim.tv_nsec = (long)s->nfs_mtime_nsec;
	st->st_ctim.tv_sec = (time_t)s->nfs_ctime;
	st->st_ctim.tv_nsec = (long)s->nfs_ctime_nsec;
}

/* The path of dir/name, and a context of the pool to ask about it on
 * (locked: nfsb_conn_unlock). */
int
nfsb_child_conn(struct backend_nfs *nb, struct inode *dir, const char *name,
    char *buf, size_t len, struct nfsb_conn **c)
{
	int rc = nfsb_child_path(nb, dir, name, buf, len);

	return rc != 0 ? rc : nfsb_conn_get(nb, c);
}

/* Stat a path on a locked context (follow: through a final symlink). */
int
nfsb_stat_path(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    bool follow, struct stat *st)
{
	struct nfs_stat_64 s;
	int rc, tries = 0;

	do {
		rc = nfsb_sync_stat(c, path, follow, &s);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	if (rc == 0)
		nfsb_stat_convert(&s, st);
	return rc;
}

/* Stat path (dir/name) into a new node. */
int
nfsb_entry_at(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    bool follow, struct backend_entry *out)
{
	bool followed = false;
	int rc = -ENOENT;

	if (follow) {
		rc = nfsb_stat_path(nb, c, path, true, &out->st);
		followed = rc == 0 && !S_ISLNK(out->st.st_mode);
	}
	if (rc != 0)
		rc = nfsb_stat_path(nb, c, path, false, &out->st);
	if (rc != 0)
		return rc;
	nfsb_key_entry(nb, &out->st);
	out->bdata = nfsb_node_new(&out->st, followed);
	return out->bdata == NULL ? -ENOMEM : 0;
}
