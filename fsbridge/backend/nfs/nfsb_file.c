/*
 * nfsb_file: the NFS backend's open files: open, create, read, write,
 * fsync, lseek, copy_file_range, release.  A file is opened by path with
 * libnfs (whose OPEN keeps the NFSv4 open state) on one context of the
 * pool, and stays on it; it is checked to be the node's fileid (ESTALE
 * otherwise), and re-opened lazily (without O_TRUNC/O_CREAT/O_EXCL) after
 * its context reconnected.  The backend keeps a list of its open files,
 * so that a node gone from its path (unlinked while open) can still be
 * stat'ed through one of them (nfsb_getattr_open).
 *
 * O_TRUNC at open of a node with a handle is a SETATTR by handle
 * (nfsb_setattr_fh) once the file is open.  A file made by an exclusive
 * create has its times set afterwards (libnfs stores its verifier in
 * them: nfsb_create_times).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "nfsb_int.h"

/* libnfs 4.0 encodes an NFSv4 COMPOUND into a 4 KiB buffer: a WRITE
 * carries at most this much (with room for the file handle) */
#define NFSB4_WRITE_MAX		3584

/* Flags libnfs understands; never follow a final symlink unless the
 * node was found by following one (follow mode). */
static int
nfsb_open_flags(int flags, bool followed)
{
	flags &= O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_CREAT | O_EXCL;
	if (!followed)
		flags |= O_NOFOLLOW;
	return flags;
}

static struct nfsb_file *
nfsb_file_new(struct nfsb_conn *c, const char *path, int flags, uint64_t ino, bool followed)
{
	struct nfsb_file *f = calloc(1, sizeof(*f) + strlen(path) + 1);

	if (f == NULL)
		return NULL;
	f->conn = c;
	f->gen = c->gen;
	f->flags = flags & ~(O_CREAT | O_EXCL | O_TRUNC);
	f->ino = ino;
	f->followed = followed;
	strcpy(f->path, path);
	return f;
}

/* An open file's handle on its (locked) context, re-opened if that
 * context reconnected since. */
int
nfsb_file_ready(struct backend_nfs *nb, struct nfsb_file *f)
{
	struct nfs_stat_64 s;
	struct nfsfh *fh;
	int rc;

	if (f->fh != NULL && f->gen == f->conn->gen)
		return 0;
	f->fh = NULL;		/* it belonged to the torn-down context */
	rc = nfsb_sync_open(f->conn, f->path, nfsb_open_flags(f->flags, f->followed), &fh);
	if (nfsb_owner_desync(f->conn, rc)) {
		nfsb_conn_reset(nb, f->conn);
		rc = nfsb_sync_open(f->conn, f->path, nfsb_open_flags(f->flags, f->followed), &fh);
	}
	if (rc != 0)
		return rc;
	rc = nfsb_sync_fstat(f->conn, fh, &s);
	if (rc == 0 && s.nfs_ino != f->ino)
		rc = -ESTALE;
	if (rc != 0) {
		nfsb_sync_close(f->conn, fh);
		return rc;
	}
	f->fh = fh;
	f->gen = f->conn->gen;
	return 0;
}

/* Close f's handle if it belongs to its context's connection. */
static void
nfsb_file_close(struct nfsb_file *f)
{
	pthread_mutex_lock(&f->conn->lock);
	if (f->fh != NULL && f->gen == f->conn->gen && f->conn->nfs != NULL)
		nfsb_sync_close(f->conn, f->fh);
	f->fh = NULL;
	pthread_mutex_unlock(&f->conn->lock);
}

static void
nfsb_file_register(struct backend_nfs *nb, struct nfsb_file *f)
{
	pthread_mutex_lock(&nb->files_lock);
	TAILQ_INSERT_TAIL(&nb->files, f, link);
	pthread_mutex_unlock(&nb->files_lock);
}

static void
nfsb_file_unregister(struct backend_nfs *nb, struct nfsb_file *f)
{
	pthread_mutex_lock(&nb->files_lock);
	TAILQ_REMOVE(&nb->files, f, link);
	while (f->users > 0)
		pthread_cond_wait(&nb->files_idle, &nb->files_lock);
	pthread_mutex_unlock(&nb->files_lock);
}

/* Stat a file by one of its open handles (it may have no path left). */
int
nfsb_getattr_open(struct backend_nfs *nb, uint64_t ino, struct stat *out)
{
	struct nfs_stat_64 s;
	struct nfsb_file *f;
	int rc;

	pthread_mutex_lock(&nb->files_lock);
	TAILQ_FOREACH(f, &nb->files, link)
		if (f->ino == ino)
			break;
	if (f != NULL)
		f->users++;
	pthread_mutex_unlock(&nb->files_lock);
	if (f == NULL)
		return -ESTALE;
	rc = nfsb_conn_lock(nb, f->conn);
	if (rc == 0) {
		rc = nfsb_file_ready(nb, f);
		if (rc == 0)
			rc = nfsb_sync_fstat(f->conn, f->fh, &s);
		nfsb_conn_unlock(f->conn);
	}
	pthread_mutex_lock(&nb->files_lock);
	f->users--;
	pthread_cond_broadcast(&nb->files_idle);
	pthread_mutex_unlock(&nb->files_lock);
	if (rc != 0)
		return -ESTALE;
	nfsb_stat_convert(&s, out);
	return 0;
}

/* One SETATTR by handle, with the attributes after it (a mutation: no
 * retry but where the handle was unknown, and nothing ran). */
int
nfsb_setattr_fh(struct backend_nfs *nb, struct inode *in,
    const struct backend_setattr *sa, struct stat *out)
{
	struct nfsb4_tries t = { 0, 0 };
	struct nfsb_conn *c;
	int rc;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do
		rc = nfsb4_fh_setattr(nb, c, in, sa, out);
	while (nfsb4_again(nb, c, &rc, &t, NFSB4_ONCE, in, NULL));
	nfsb_conn_unlock(c);
	return rc;
}

int
nfsb_open(struct backend *b, struct inode *in, int flags, struct backend_file *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_node *n = nfsb_node_of(in);
	char path[NFSB_PATH_MAX];
	struct nfsb_file *f;
	struct nfsb_conn *c;
	int rc, tries = 0;

	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	f = nfsb_file_new(c, path, flags & ~(O_CREAT | O_EXCL), n->ino, n->followed);
	if (f == NULL) {
		nfsb_conn_unlock(c);
		return -ENOMEM;
	}
	/* O_TRUNC at open is a mutation: only retried when nothing ran.
	 * A node with a handle is truncated by it once the file opened by
	 * path has proved to be that node's */
	f->flags = flags & ~(O_CREAT | O_EXCL);
	if (nfsb_node_has_fh(in))
		f->flags &= ~O_TRUNC;
	do {
		rc = nfsb_file_ready(nb, f);
	} while (nfsb_conn_retry(nb, c, &rc, !(f->flags & O_TRUNC), &tries));
	f->flags &= ~O_TRUNC;
	nfsb_conn_unlock(c);
	if (rc == 0 && (flags & O_TRUNC) && nfsb_node_has_fh(in)) {
		static const struct backend_setattr empty = { .valid = FSB_SET_SIZE, .size = 0 };

		rc = nfsb_setattr_fh(nb, in, &empty, NULL);
		if (rc != 0)
			nfsb_file_close(f);
	}
	if (rc != 0) {
		free(f);
		return rc;
	}
	nfsb_file_register(nb, f);
	out->fd = -1;
	out->priv = f;
	return 0;
}

/* The times of a file made by an exclusive create (nfsb_create_open). */
const struct backend_setattr nfsb_create_times = {
	.valid = FSB_SET_ATIME | FSB_SET_ATIME_NOW | FSB_SET_MTIME | FSB_SET_MTIME_NOW,
};

/*
 * Open path, creating it with mode if needed.  libnfs 4.0's NFSv4 create
 * is always exclusive (and sets the mode only then), so O_CREAT without
 * O_EXCL is an exclusive create and, if the file exists, a plain open.
 * An exclusive create stores its verifier in the times: where *created,
 * the caller sets them (nfsb_create_times).
 */
static int
nfsb_create_open_once(struct nfsb_conn *c, const char *path, int flags, mode_t mode,
    struct nfsfh **fh, bool *created)
{
	int rc;

	rc = nfsb_sync_create(c, path, nfsb_open_flags(flags | O_CREAT | O_EXCL, false),
	    (int)(mode & 07777), fh);
	*created = rc == 0;
	if (rc == -EEXIST && !(flags & O_EXCL))
		rc = nfsb_sync_open(c, path, nfsb_open_flags(flags & ~O_CREAT, false), fh);
	return rc;
}

int
nfsb_create_open(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    int flags, mode_t mode, struct nfsfh **fh, bool *created)
{
	int rc = nfsb_create_open_once(c, path, flags, mode, fh, created);

	if (nfsb_owner_desync(c, rc)) {
		nfsb_conn_reset(nb, c);
		if (c->nfs != NULL)
			rc = nfsb_create_open_once(c, path, flags, mode, fh, created);
	}
	return rc;
}

/*
 * The entry of the file just opened (fh; made if created) as dir/name,
 * found by dir's handle: it must be the file open, or libnfs's walk to
 * dir went through a link swapped in on the server (ESTALE).
 */
static int
nfsb_created_entry(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *dir,
    const char *name, struct nfsfh *fh, bool created, struct backend_entry *out)
{
	struct nfs_stat_64 s;
	struct nfsb4_tries tries = { 0, 0 };
	struct nfsb4_out o, t;
	int rc;

	do
		rc = nfsb4_fh_lookup(nb, c, dir, name, &o);
	while (nfsb4_again(nb, c, &rc, &tries, NFSB4_STALE_ONLY, dir, NULL));
	if (rc == 0)
		rc = nfsb_sync_fstat(c, fh, &s);
	if (rc == 0 && (!o.has_st || (uint64_t)o.st.st_ino != s.nfs_ino))
		rc = -ESTALE;
	if (rc == 0 && created &&	/* (the file is open: odd times are no reason to fail) */
	    nfsb4_fh_setattr_at(nb, c, &o.fh, &nfsb_create_times, &t) == 0 && t.has_st)
		o.st = t.st;
	return rc != 0 ? rc : nfsb4_entry(nb, &o, out);
}

int
nfsb_create(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    int flags, const struct backend_cred *cred, struct backend_entry *out,
    struct backend_file *fout)
{
	struct backend_nfs *nb = NFSB(b);
	char path[NFSB_PATH_MAX];
	struct nfsb_file *f = NULL;
	struct nfsb_conn *c;
	struct nfsfh *fh;
	bool created;
	int rc, tries = 1;

	rc = nfsb_child_conn(nb, dir, name, path, sizeof(path), &c);
	if (rc != 0)
		return rc;
	nfsb_cred_enter(nb, c, cred);
	rc = nfsb_create_open(nb, c, path, flags, mode, &fh, &created);
	nfsb_cred_leave(nb, c, cred);
	nfsb_conn_retry(nb, c, &rc, false, &tries);
	if (rc == 0) {
		if (nfsb_node_has_fh(dir))
			rc = nfsb_created_entry(nb, c, dir, name, fh, created, out);
		else {
			if (created && nb->v4)	/* (odd times are no reason to fail) */
				(void)nfsb4_setattr(nb, c, path, &nfsb_create_times);
			rc = nfsb_entry_at(nb, c, path, false, out);
		}
		f = rc == 0 ? nfsb_file_new(c, path, flags, out->st.st_ino, false) : NULL;
		if (rc == 0 && f == NULL) {
			free(out->bdata);
			rc = -ENOMEM;
		}
		if (rc != 0)
			nfsb_sync_close(c, fh);
		else
			f->fh = fh;
	}
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	nfsb_file_register(nb, f);
	fout->fd = -1;
	fout->priv = f;
	return 0;
}

static ssize_t
nfsb_pread_all(struct nfsb_conn *c, struct nfsfh *fh, char *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		int n = nfsb_sync_pread(c, fh, (uint64_t)off + done, size - done, buf + done);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t
nfsb_read(struct backend *b, struct backend_file *bf, void *buf, size_t size, off_t off)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	int rc, tries = 0;
	ssize_t n;

	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_file_ready(nb, f);
		n = rc != 0 ? rc : nfsb_pread_all(f->conn, f->fh, buf, size, off);
		rc = n < 0 ? (int)n : 0;
	} while (nfsb_conn_retry(nb, f->conn, &rc, true, &tries));
	nfsb_conn_unlock(f->conn);
	return rc != 0 ? rc : n;
}

ssize_t
nfsb_write(struct backend *b, struct backend_file *bf, const void *buf, size_t size, off_t off)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	size_t done = 0;
	int rc, tries = 1;

	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	rc = nfsb_file_ready(nb, f);
	while (rc == 0 && done < size) {
		size_t want = size - done;
		int n;

		if (nb->v4 && want > NFSB4_WRITE_MAX)
			want = NFSB4_WRITE_MAX;
		n = nfsb_sync_pwrite(f->conn, f->fh, (uint64_t)off + done, want,
		    (const char *)buf + done);

		if (n < 0)
			rc = n;
		else if (n == 0)
			rc = -EIO;
		else
			done += (size_t)n;
	}
	nfsb_conn_retry(nb, f->conn, &rc, false, &tries);
	nfsb_conn_unlock(f->conn);
	if (rc != 0 && done == 0)
		return rc;
	return (ssize_t)done;
}

int
nfsb_fsync(struct backend *b, struct backend_file *bf, bool datasync)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	int rc, tries = 1;

	(void)datasync;
	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	rc = nfsb_file_ready(nb, f);
	if (rc == 0)
		rc = nfsb_sync_fsync(f->conn, f->fh);
	/* a commit after a reconnect cannot vouch for earlier writes */
	nfsb_conn_retry(nb, f->conn, &rc, false, &tries);
	nfsb_conn_unlock(f->conn);
	return rc;
}

void
nfsb_release(struct backend *b, struct backend_file *bf)
{
	struct nfsb_file *f = bf->priv;

	nfsb_file_unregister(NFSB(b), f);
	nfsb_file_close(f);
	free(f);
	bf->priv = NULL;
}

int
nfsb_fallocate(struct backend *b, struct backend_file *bf, int mode, off_t off, off_t len)
{
	return -EOPNOTSUPP;
}

/* SEEK_DATA/SEEK_HOLE (NFS below 4.2 knows no holes): all data. */
off_t
nfsb_lseek(struct backend *b, struct backend_file *bf, off_t off, int whence)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_file *f = bf->priv;
	struct nfs_stat_64 s;
	int rc, tries = 0;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	rc = nfsb_conn_lock(nb, f->conn);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_file_ready(nb, f);
		if (rc == 0)
			rc = nfsb_sync_fstat(f->conn, f->fh, &s);
	} while (nfsb_conn_retry(nb, f->conn, &rc, true, &tries));
	nfsb_conn_unlock(f->conn);
	if (rc != 0)
		return rc;
	if (off < 0 || (uint64_t)off >= s.nfs_size)
		return -ENXIO;
	return whence == SEEK_DATA ? off : (off_t)s.nfs_size;
}

/* A copy through this host, in bounded chunks. */
ssize_t
nfsb_copy_file_range(struct backend *b, struct backend_file *in, off_t off_in,
    struct backend_file *out, off_t off_out, size_t len, unsigned int flags)
{
	size_t chunk = 1 << 20, done = 0;
	char *buf;
	ssize_t n = 0;

	if (flags != 0)
		return -EINVAL;
	buf = malloc(chunk);
	if (buf == NULL)
		return -ENOMEM;
	while (done < len) {
		size_t want = len - done < chunk ? len - done : chunk;

		n = nfsb_read(b, in, buf, want, off_in + (off_t)done);
		if (n <= 0)
			break;
		n = nfsb_write(b, out, buf, (size_t)n, off_out + (off_t)done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	free(buf);
	if (done == 0 && n < 0)
		return n;
	return (ssize_t)done;
}
