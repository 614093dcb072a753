/*
 * nfsb_int: what the files of the NFS backend share (backend_nfs.c and
 * the files it is split into): the backend's state, its pool of
 * contexts, its nodes and NFSv4 file handles, and the functions one file
 * calls in another.  Internal to the backend: nothing else includes it.
 */
#ifndef FSBRIDGE_NFSB_INT_H
#define FSBRIDGE_NFSB_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"

#define NFSB_RPC_TIMEOUT_MS	10000	/* no request waits longer */
#define NFSB_PATH_MAX		4096

struct nfsb_conn {
	pthread_mutex_t lock;
	struct nfs_context *nfs;	/* NULL while disconnected */
	unsigned int gen;		/* bumped at each (re)connection */
	unsigned int index;
};

/*
 * Identity.  The inode table keys inodes by (dev, ino); over NFS st_ino
 * is the server's fileid and dev a generation of ours, 0 at first.  When
 * a fileid the table still holds comes back as another type of file (the
 * server reused the number after the old file was deleted), the client
 * must not see the old inode change type (its kernel would refuse it with
 * EIO): that fileid gets a new generation, remembered here.
 */
struct nfsb_reused {
	RB_ENTRY(nfsb_reused) entry;
	uint64_t ino;
	uint64_t dev;
};

RB_HEAD(nfsb_reused_tree, nfsb_reused);

struct backend_nfs {
	struct backend base;
	pthread_mutex_t reused_lock;
	struct nfsb_reused_tree reused;
	uint64_t next_dev;
	char *url;
	char *server;
	char *export;
	unsigned int nconn;
	struct nfsb_conn *conns;
	unsigned int next;		/* round robin start */
	bool as_root;			/* create under the caller's ids */
	bool v4;			/* NFSv4: nodes keep file handles */
	pthread_mutex_t fh_lock;	/* the handles of nodes */
	/* open files, so an inode gone from its path (unlinked while
	 * open) can still be stat'ed through one of them */
	pthread_mutex_t files_lock;
	pthread_cond_t files_idle;
	TAILQ_HEAD(, nfsb_file) files;
};

/* An NFSv4 file handle. */
struct nfsb4_fh {
	uint32_t len;			/* 0: none */
	char val[NFS4_FHSIZE];
};

/* An entry of a listing read by handle. */
struct nfsb4_dirent {
	char *name;
	uint64_t cookie;
	bool full;		/* its attributes and handle came with it */
	struct stat st;
	struct nfsb4_fh fh;
};

/* The entries of one READDIR reply (the server's "." and ".." and names
 * that are no single component left out), and where to go on from. */
struct nfsb4_dirpage {
	struct nfsb4_dirent *ents;
	size_t n, cap;
	uint64_t cookie;	/* the last entry's (whether kept or not) */
	char verf[NFS4_VERIFIER_SIZE];
	bool eof;
};

/* Per-inode state. */
struct nfsb_node {
	uint64_t ino;
	bool root;
	bool followed;
	struct nfsb4_fh fh;		/* NFSv4, not followed; under fh_lock */
};

/* What a COMPOUND of ours brought back, copied out of the reply in its
 * callback (libnfs frees the reply after). */
struct nfsb4_out {
	nfsstat4 status;
	nfs_opnum4 failed;	/* the op that failed, if status != NFS4_OK */
	struct nfsb4_fh fh;	/* the last GETFH's */
	bool has_st;
	struct stat st;		/* the last GETATTR's */
	char *link;		/* READLINK's target (malloc'd) */
	struct nfsb4_dirpage *page;	/* READDIR's entries go here */
};

/* XDR encoding into a small buffer. */
struct nfsb4_xdr {
	char buf[128];
	size_t len;
};

/* A COMPOUND being built by path (nfsb4_xdr.c). */
struct nfsb4_req;

/* backend_nfs.c */

/* This thread's explanation of a failure, for backend_nfs_last_error. */
extern __thread char nfsb_errbuf[512];
/* Say why (fmt, with arg as its %s) into nfsb_errbuf; returns rc. */
int nfsb_fail(int rc, const char *fmt, const char *arg);

int nfsb_path(struct backend_nfs *nb, struct inode *in, char *buf, size_t len);
struct nfsb_node *nfsb_node_of(struct inode *in);
struct nfsb_node *nfsb_node_new(const struct stat *st, bool followed);
void nfsb_key_entry(struct backend_nfs *nb, struct stat *st);

/* nfsb_conn.c: the pool of contexts */

struct nfs_context *nfsb_context_open(struct backend_nfs *nb, unsigned int index,
    unsigned int gen, int *rc);
void nfsb_conn_drop(struct nfsb_conn *c);
void nfsb_conn_reset(struct backend_nfs *nb, struct nfsb_conn *c);
int nfsb_conn_lock(struct backend_nfs *nb, struct nfsb_conn *c);
void nfsb_conn_unlock(struct nfsb_conn *c);
int nfsb_conn_get(struct backend_nfs *nb, struct nfsb_conn **out);
bool nfsb_owner_desync(struct nfsb_conn *c, int rc);
bool nfsb_conn_retry(struct backend_nfs *nb, struct nfsb_conn *c, int *rc,
    bool idempotent, int *tries);

/* nfsb_sync.c: libnfs calls waited for on a locked context; one that
 * loses its connection drops the context (c->nfs NULL) and is -EIO */

int nfsb_sync_mount(struct nfs_context **nfsp, const char *server, const char *export);
int nfsb_sync_stat(struct nfsb_conn *c, const char *path, bool follow,
    struct nfs_stat_64 *st);
int nfsb_sync_fstat(struct nfsb_conn *c, struct nfsfh *fh, struct nfs_stat_64 *st);
int nfsb_sync_statvfs(struct nfsb_conn *c, const char *path, struct nfs_statvfs_64 *st);
int nfsb_sync_open(struct nfsb_conn *c, const char *path, int flags, struct nfsfh **fh);
int nfsb_sync_create(struct nfsb_conn *c, const char *path, int flags, int mode,
    struct nfsfh **fh);
int nfsb_sync_close(struct nfsb_conn *c, struct nfsfh *fh);
int nfsb_sync_pread(struct nfsb_conn *c, struct nfsfh *fh, uint64_t off, size_t count,
    void *buf);
int nfsb_sync_pwrite(struct nfsb_conn *c, struct nfsfh *fh, uint64_t off, size_t count,
    const void *buf);
int nfsb_sync_fsync(struct nfsb_conn *c, struct nfsfh *fh);
int nfsb_sync_ftruncate(struct nfsb_conn *c, struct nfsfh *fh, uint64_t size);
int nfsb_sync_fchmod(struct nfsb_conn *c, struct nfsfh *fh, int mode);
int nfsb_sync_fchown(struct nfsb_conn *c, struct nfsfh *fh, int uid, int gid);
int nfsb_sync_lchmod(struct nfsb_conn *c, const char *path, int mode);
int nfsb_sync_lchown(struct nfsb_conn *c, const char *path, int uid, int gid);
int nfsb_sync_lutimes(struct nfsb_conn *c, const char *path, struct timeval tv[2]);
int nfsb_sync_readlink(struct nfsb_conn *c, const char *path, char **target);
int nfsb_sync_mkdir(struct nfsb_conn *c, const char *path, int mode);
int nfsb_sync_symlink(struct nfsb_conn *c, const char *target, const char *path);
int nfsb_sync_mknod(struct nfsb_conn *c, const char *path, int mode, int dev);
int nfsb_sync_link(struct nfsb_conn *c, const char *oldpath, const char *newpath);
int nfsb_sync_unlink(struct nfsb_conn *c, const char *path);
int nfsb_sync_rmdir(struct nfsb_conn *c, const char *path);
int nfsb_sync_rename(struct nfsb_conn *c, const char *oldpath, const char *newpath);
int nfsb_sync_opendir(struct nfsb_conn *c, const char *path, struct nfsdir **dir);

/* nfsb4_xdr.c: NFSv4 COMPOUNDs of our own */

int nfsb4_compound(struct backend_nfs *nb, struct nfsb_conn *c,
    COMPOUND4args *args, struct nfsb4_out *out);
void nfsb4_encode_setattr(const struct backend_setattr *sa, uint32_t mask[2],
    struct nfsb4_xdr *x);
void nfsb4_req_free(struct nfsb4_req *r);
nfs_argop4 *nfsb4_req_op(struct nfsb4_req *r, nfs_opnum4 op);
int nfsb4_req_walk(struct nfsb4_req *r, struct backend_nfs *nb, const char *path);
struct nfsb4_req *nfsb4_req_for(struct backend_nfs *nb, const char *p1,
    const char *p2, unsigned int extra);
int nfsb4_req_run(struct nfsb4_req *r, struct backend_nfs *nb, struct nfsb_conn *c,
    struct nfsb4_out *out);
int nfsb4_setattr(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    const struct backend_setattr *sa);
int nfsb4_link(struct backend_nfs *nb, struct nfsb_conn *c, const char *oldpath,
    const char *newdir, const char *newname);
int nfsb4_mknod(struct backend_nfs *nb, struct nfsb_conn *c, const char *dir,
    const char *name, mode_t mode, dev_t rdev);
/* The NFSv4 object type of a file type (mode's S_IFMT bits) that CREATE
 * makes (not a regular file): 0, or -EINVAL. */
int nfsb4_mode_type(mode_t mode, nfs_ftype4 *type);
void nfsb4_page_clear(struct nfsb4_dirpage *page);

/* nfsb4_fh.c: NFSv4 requests by file handle */

bool nfsb_node_has_fh(struct inode *in);
int nfsb4_walk(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    struct nfsb4_out *o);
bool nfsb4_stale_retry(struct backend_nfs *nb, struct nfsb_conn *c, int rc,
    int *tries, struct inode *a, struct inode *b);
int nfsb4_entry(struct backend_nfs *nb, const struct nfsb4_out *o,
    struct backend_entry *out);
int nfsb4_fh_lookup(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *dir, const char *name, struct nfsb4_out *o);
int nfsb4_fh_getattr(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *in, struct stat *st);
int nfsb4_fh_setattr_at(struct backend_nfs *nb, struct nfsb_conn *c,
    const struct nfsb4_fh *fh, const struct backend_setattr *sa,
    struct nfsb4_out *o);
int nfsb4_fh_setattr(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *in, const struct backend_setattr *sa, struct stat *st);
int nfsb4_fh_readlink(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *in, char **target);
int nfsb4_fh_create(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *dir, const char *name, mode_t mode, dev_t rdev,
    const char *target, struct nfsb4_out *o);
int nfsb4_fh_remove(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *dir, const char *name, bool is_dir);
int nfsb4_fh_rename(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *olddir, const char *oldname, struct inode *newdir,
    const char *newname);
int nfsb4_fh_link(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    struct inode *newdir, const char *newname, struct nfsb4_out *o);
int nfsb4_fh_readdir(struct backend_nfs *nb, struct nfsb_conn *c,
    struct inode *dir, uint64_t cookie, const char *verf,
    struct nfsb4_dirpage *page);

#endif
