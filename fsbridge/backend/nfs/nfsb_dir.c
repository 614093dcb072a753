/*
 * nfsb_dir: the NFS backend's directory listings: opendir, readdir,
 * releasedir, fsyncdir.  A directory with a handle is read a READDIR
 * page at a time, each entry coming with its attributes and a node (as
 * a lookup makes: READDIRPLUS needs no LOOKUP); one without is read
 * whole by libnfs at opendir, by path, and an entry's fileid is a stat.
 * Directory operations are synchronous on an NFS server: fsyncdir has
 * nothing to do.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "nfsb_int.h"

/*
 * An open directory.  Positions count entries: 0 ".", 1 "..", then the
 * server's entries in its order.  A directory with a handle (NFSv4) is
 * read a READDIR page at a time from that handle, a page holding the
 * entries' attributes and handles; `in` is pinned by the open file.
 * Otherwise (NFSv3, or found by following a link) libnfs reads the
 * listing whole at open, by path.
 */
struct nfsb_dir {
	struct inode *in;		/* by handle */
	struct nfsb4_dirpage page;	/* by handle: the current page */
	off_t base;			/* by handle: position of page.ents[0] */
	struct nfsdir *dir;		/* by path */
	off_t pos;			/* position of the next entry */
	uint64_t ino, parent_ino;	/* for "." and ".." */
	char path[];
};

/* The fileids "." and ".." list: the directory and its last-known parent. */
static void
nfsb_dir_dots(struct backend_nfs *nb, struct inode *in, struct nfsb_dir *d)
{
	char name[NAME_MAX + 1];
	struct inode *parent;

	d->ino = d->parent_ino = nfsb_node_of(in)->ino;
	if (!nfsb_node_of(in)->root &&
	    inode_table_location(nb->base.inodes, in, &parent, name, sizeof(name)) == 0) {
		d->parent_ino = nfsb_node_of(parent)->ino;
		inode_table_put(nb->base.inodes, parent);
	}
}

/*
 * Read the page of d's listing that starts at `cookie` (0: the first)
 * into d->page, as positions from base on.  A cookie the server no
 * longer takes (the directory changed) is -EAGAIN.
 */
static int
nfsb_dir_page(struct backend_nfs *nb, struct nfsb_dir *d, uint64_t cookie,
    const char *verf, off_t base)
{
	struct nfsb4_tries t = { 0, 0 };
	struct nfsb_conn *c;
	int rc;

	d->base = 0;		/* no page, should this fail */
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do
		rc = nfsb4_fh_readdir(nb, c, d->in, cookie, verf, &d->page);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_IDEMPOTENT, d->in, NULL));
	nfsb_conn_unlock(c);
	if (rc != 0) {
		nfsb4_page_clear(&d->page);
		return rc;
	}
	d->base = base;
	return 0;
}

/* Make d->page the page holding position off (>= 2), or the last page if
 * off is past the end. */
static int
nfsb_dir_seek(struct backend_nfs *nb, struct nfsb_dir *d, off_t off)
{
	static const char noverf[NFS4_VERIFIER_SIZE];
	bool restarted = false;
	int rc;

	for (;;) {
		if (d->base >= 2 && off >= d->base &&
		    (off < d->base + (off_t)d->page.n || d->page.eof))
			return 0;
		if (d->base < 2 || off < d->base)
			rc = nfsb_dir_page(nb, d, 0, noverf, 2);
		else
			rc = nfsb_dir_page(nb, d, d->page.cookie, d->page.verf,
			    d->base + (off_t)d->page.n);
		if (rc == -EAGAIN && !restarted) {
			restarted = true;	/* from the start, skipping to off */
			continue;
		}
		if (rc != 0)
			return rc == -EAGAIN ? -EIO : rc;
	}
}

int
nfsb_opendir(struct backend *b, struct inode *in, struct backend_file *out)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	struct nfsb_dir *d;
	int rc, tries = 0;

	if (nfsb_node_has_fh(in)) {
		/* the first page now: an error shows at opendir */
		d = calloc(1, sizeof(*d) + 1);
		if (d == NULL)
			return -ENOMEM;
		d->in = in;
		nfsb_dir_dots(nb, in, d);
		rc = nfsb_dir_seek(nb, d, 2);
		if (rc != 0) {
			free(d->page.ents);
			free(d);
			return rc;
		}
		out->fd = -1;
		out->priv = d;
		return 0;
	}
	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc != 0)
		return rc;
	d = calloc(1, sizeof(*d) + strlen(path) + 1);
	if (d == NULL)
		return -ENOMEM;
	strcpy(d->path, path);
	nfsb_dir_dots(nb, in, d);
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0) {
		free(d);
		return rc;
	}
	do {
		rc = nfsb_sync_opendir(c, path, &d->dir);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0) {
		free(d);
		return rc;
	}
	out->fd = -1;
	out->priv = d;
	return 0;
}

static unsigned char
nfsb_dirent_type(const struct nfsdirent *e)
{
	static const unsigned char nf3[] = {
		DT_UNKNOWN, DT_REG, DT_DIR, DT_BLK, DT_CHR, DT_LNK, DT_SOCK, DT_FIFO,
	};

	if (e->mode & S_IFMT)
		return IFTODT(e->mode);
	return e->type < sizeof(nf3) ? nf3[e->type] : DT_UNKNOWN;
}

/* The fileid and type of an entry, by a stat; false if it is gone. */
static bool
nfsb_dirent_stat(struct backend_nfs *nb, struct nfsb_dir *d, const char *name,
    struct backend_dirent *ent)
{
	char path[NFSB_PATH_MAX];
	struct nfsb_conn *c;
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", strcmp(d->path, "/") == 0 ? "" : d->path, name);
	if (n < 0 || (size_t)n >= sizeof(path) || nfsb_conn_get(nb, &c) != 0)
		return false;
	n = nfsb_stat_path(nb, c, path, false, &st);
	nfsb_conn_unlock(c);
	if (n != 0)
		return false;
	ent->ino = (uint64_t)st.st_ino;
	ent->type = IFTODT(st.st_mode);
	return true;
}

/* Read the listing again (a rewind must see the directory as it is now). */
static int
nfsb_dir_reload(struct backend_nfs *nb, struct nfsb_dir *d)
{
	struct nfsdir *fresh;
	struct nfsb_conn *c;
	int rc, tries = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_sync_opendir(c, d->path, &fresh);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	nfs_closedir(NULL, d->dir);
	d->dir = fresh;
	return 0;
}

/* The next entry the server listed, its own "." and ".." left out. */
static struct nfsdirent *
nfsb_dir_next(struct nfsb_dir *d)
{
	struct nfsdirent *e;

	do
		e = nfs_readdir(NULL, d->dir);
	while (e != NULL && (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0));
	return e;
}

/*
 * The entry at position off (>= 2) of a listing by handle, with its
 * attributes and a node for it (as a lookup without follow makes): a
 * READDIRPLUS needs no request of its own for it.  An entry whose
 * attributes did not come with the listing is looked up by handle.
 */
static int
nfsb_readdir_fh(struct backend_nfs *nb, struct nfsb_dir *d, off_t off,
    struct backend_dirent *ent)
{
	struct nfsb4_dirent *e;
	struct nfsb4_out o;
	int rc;

	rc = nfsb_dir_seek(nb, d, off);
	if (rc != 0)
		return rc;
	if (off >= d->base + (off_t)d->page.n)
		return 0;
	e = &d->page.ents[off - d->base];
	d->pos = off + 1;
	strlcpy(ent->name, e->name, sizeof(ent->name));
	ent->next_off = d->pos;
	if (e->full) {
		memset(&o, 0, sizeof(o));
		o.has_st = true;
		o.st = e->st;
		o.fh = e->fh;
		rc = nfsb4_entry(nb, &o, &ent->entry);
	} else {
		rc = nfsb_lookup(&nb->base, d->in, e->name, false, &ent->entry);
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		/* gone meanwhile: listed still, but not as "deleted" */
		ent->ino = (uint64_t)-1;
		ent->type = DT_UNKNOWN;
		return 1;
	}
	ent->has_entry = true;
	ent->ino = (uint64_t)ent->entry.st.st_ino;
	ent->type = IFTODT(ent->entry.st.st_mode);
	return 1;
}

int
nfsb_readdir(struct backend *b, struct backend_file *bf, off_t off,
    struct backend_dirent *ent)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_dir *d = bf->priv;
	struct nfsdirent *e = NULL;

	/* by path, entries are in memory: no round trip but for a
	 * missing fileid (the caller serialises requests on one open
	 * directory) */
	if (off == 0 && d->pos != 0) {
		int rc = 0;

		if (d->in != NULL)
			d->base = 0;	/* the next entry reads the first page again */
		else
			rc = nfsb_dir_reload(nb, d);
		if (rc != 0)
			return rc;
	}
	if (off < 2) {
		if (d->in == NULL)
			nfs_rewinddir(NULL, d->dir);	/* the server's entries come next */
		d->pos = off + 1;
		strcpy(ent->name, off == 0 ? "." : "..");
		ent->type = DT_DIR;
		ent->ino = off == 0 ? d->ino : d->parent_ino;
		ent->next_off = d->pos;
		return 1;
	}
	if (d->in != NULL)
		return nfsb_readdir_fh(nb, d, off, ent);
	if (off != d->pos) {
		nfs_rewinddir(NULL, d->dir);
		for (d->pos = 2; d->pos < off && nfsb_dir_next(d) != NULL; d->pos++)
			;
	}
	if (d->pos == off)
		e = nfsb_dir_next(d);
	if (e == NULL)
		return 0;
	d->pos++;
	strlcpy(ent->name, e->name, sizeof(ent->name));
	ent->type = nfsb_dirent_type(e);
	ent->next_off = d->pos;
	/* libnfs 4.0 fills no fileid into NFSv4 listings (the field holds
	 * whatever the memory held): stat the entry for it */
	ent->ino = nb->v4 ? 0 : e->inode;
	if (ent->ino == 0 && !nfsb_dirent_stat(nb, d, ent->name, ent))
		ent->ino = (uint64_t)-1;	/* gone meanwhile: still not "deleted" */
	return 1;
}

void
nfsb_releasedir(struct backend *b, struct backend_file *bf)
{
	struct nfsb_dir *d = bf->priv;

	if (d->dir != NULL)
		nfs_closedir(NULL, d->dir);	/* no context: just free it */
	nfsb4_page_clear(&d->page);
	free(d->page.ents);
	free(d);
	bf->priv = NULL;
}

/* Directory operations are synchronous on an NFS server. */
int
nfsb_fsyncdir(struct backend *b, struct backend_file *bf, bool datasync)
{
	return 0;
}
