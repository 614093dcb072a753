/*
 * nfsb_int: what the files of the NFS backend share: the backend's
 * state, its pool of contexts, its nodes and NFSv4 file handles, and the
 * functions one file calls in another.  Internal to the backend: nothing
 * else includes it.
 *
 * The files are layers; each calls only those below it (and libnfs):
 *
 *   backend_nfs.c   the backend_ops table, construction, root, statfs
 *        |
 *   nfsb4_fh.c      NFSv4 requests by file handle; finding a handle again
 *        |      \
 *        |   nfsb4_path.c  NFSv4 COMPOUNDs by path (walk, setattr, link, mknod)
 *        |      |
 *   nfsb_node.c     nodes: identity, paths, stat by path
 *        |      |
 *   nfsb_sync.c     blocking calls on a locked context: libnfs's, and COMPOUNDs
 *        |      \
 *   nfsb_conn.c  nfsb4_xdr.c  the pool and reconnection | NFSv4 encoding and
 *        |                    decoding, no I/O (a leaf: nfsb_sync.c decodes
 *   nfsb_wait.c               replies, nfsb4_path.c and nfsb4_fh.c encode)
 *                   waiting for one libnfs call (a leaf)
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

/* A fileid given a new generation (nfsb_node.c: Identity). */
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

/* What a libnfs call waited for (nfsb_wait.c) keeps of a success. */
enum nfsb_call_kind {
	NFSB_CALL_STATUS,	/* the status alone */
	NFSB_CALL_STAT,		/* a struct nfs_stat_64 */
	NFSB_CALL_STATVFS,	/* a struct nfs_statvfs_64 */
	NFSB_CALL_PTR,		/* a pointer libnfs hands over (nfsfh, nfsdir) */
	NFSB_CALL_STR,		/* a string, copied (malloc'd) */
	NFSB_CALL_READ,		/* status bytes, copied into a buffer of len */
};

/* The record a libnfs call's callback (nfsb_call_cb) fills in. */
struct nfsb_call {
	bool done;
	int status;
	enum nfsb_call_kind kind;
	void *out;
	size_t len;
};

/* XDR encoding into a small buffer. */
struct nfsb4_xdr {
	char buf[128];
	size_t len;
};

/* nfsb_wait.c: waiting for one libnfs call */

void nfsb_call_cb(int status, struct nfs_context *nfs, void *data, void *private_data);
bool nfsb_wait(struct rpc_context *rpc, const bool *done);
/* A finished call's status; libnfs's RPC-level failures are -EIO. */
int nfsb_call_status(const struct nfsb_call *call);

/* nfsb_conn.c: the pool of contexts */

/* This thread's explanation of a failure, for backend_nfs_last_error. */
extern __thread char nfsb_errbuf[512];
/* Say why (fmt, with arg as its %s) into nfsb_errbuf; returns rc. */
int nfsb_fail(int rc, const char *fmt, const char *arg);

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

/* nfsb_sync.c: calls waited for on a locked context; one that loses its
 * connection drops the context (c->nfs NULL) and is -EIO */

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

int nfsb4_compound(struct nfsb_conn *c, nfs_argop4 *ops, unsigned int n,
    struct nfsb4_out *out);

/* nfsb4_xdr.c: NFSv4 encoding and decoding */

/* What each GETATTR of ours asks for, and each READDIR of each entry. */
extern uint32_t nfsb4_attr_mask[2];
extern uint32_t nfsb4_readdir_mask[2];
int nfsb4_errno(nfsstat4 status);
int nfsb4_decode(const COMPOUND4res *res, struct nfsb4_out *out);
void nfsb4_fattr(fattr4 *fa, const struct backend_setattr *sa, uint32_t mask[2],
    struct nfsb4_xdr *x);
/* The NFSv4 object type of a file type (mode's S_IFMT bits) that CREATE
 * makes (not a regular file): 0, or -EINVAL. */
int nfsb4_mode_type(mode_t mode, nfs_ftype4 *type);
void nfsb4_page_clear(struct nfsb4_dirpage *page);

/* nfsb_node.c: nodes, their identity and paths */

struct nfsb_node *nfsb_node_new(const struct stat *st, bool followed);
struct nfsb_node *nfsb_node_of(struct inode *in);
bool nfsb_node_has_fh(struct inode *in);
bool nfsb_node_fh(struct backend_nfs *nb, struct inode *in, struct nfsb4_fh *fh);
void nfsb_key_entry(struct backend_nfs *nb, struct stat *st);
void nfsb_reused_free(struct backend_nfs *nb);
int nfsb_path(struct backend_nfs *nb, struct inode *in, char *buf, size_t len);
int nfsb_child_path(struct backend_nfs *nb, struct inode *dir, const char *name,
    char *buf, size_t len);
void nfsb_stat_convert(const struct nfs_stat_64 *s, struct stat *st);
int nfsb_stat_path(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    bool follow, struct stat *st);
int nfsb_entry_at(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    bool follow, struct backend_entry *out);

/* nfsb4_path.c: NFSv4 COMPOUNDs by path */

int nfsb4_walk(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    struct nfsb4_out *o);
int nfsb4_setattr(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    const struct backend_setattr *sa);
int nfsb4_link(struct backend_nfs *nb, struct nfsb_conn *c, const char *oldpath,
    const char *newdir, const char *newname);
int nfsb4_mknod(struct backend_nfs *nb, struct nfsb_conn *c, const char *dir,
    const char *name, mode_t mode, dev_t rdev);

/* nfsb4_fh.c: NFSv4 requests by file handle */

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
