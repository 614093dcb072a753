/*
 * nfsb_int: what the files of the NFS backend share: the backend's
 * state, its pool of contexts, its nodes and NFSv4 file handles, and the
 * functions one file calls in another.  Internal to the backend: nothing
 * else includes it.
 *
 * The files are layers: each calls only files below it (and libnfs, and
 * the inode table), never one above, so there is no call circle:
 *
 *   file            what it owns                     calls (ours)
 *   backend_nfs.c   ops table, construction, root,   path node sync conn
 *                   statfs
 *   nfsb_dir.c      listings: opendir, readdir       entry fh xdr node sync
 *                                                    conn
 *   nfsb_names.c    mknod mkdir symlink link unlink  file fh path node sync
 *                   rmdir rename                     conn
 *   nfsb_entry.c    lookup getattr setattr readlink  file fh path node sync
 *                   depth link_probe                 conn
 *   nfsb_file.c     open files: open create read     fh path node sync conn
 *                   write fsync lseek release
 *   nfsb4_fh.c      NFSv4 requests by file handle;   path xdr node sync
 *                   finding a handle again; when     conn
 *                   one is made again (nfsb4_again)
 *   nfsb4_path.c    NFSv4 COMPOUNDs by path: walk,   xdr sync
 *                   setattr, link, mknod
 *   nfsb_node.c     nodes: identity, paths, stat by  sync conn
 *                   path
 *   nfsb_sync.c     blocking calls on a locked       xdr conn wait
 *                   context: libnfs's, COMPOUNDs
 *   nfsb4_xdr.c     NFSv4 encoding and decoding,     -
 *                   no I/O
 *   nfsb_conn.c     the pool of contexts: mount,     wait
 *                   lock, reconnect, retry
 *   nfsb_wait.c     waiting for one libnfs call      -
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

#define NFSB(b) ((struct backend_nfs *)(b))

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

/* An open file. */
struct nfsb_file {
	struct nfsb_conn *conn;
	struct nfsfh *fh;		/* NULL after a failed re-open */
	unsigned int gen;		/* conn->gen when fh was opened */
	int flags;
	uint64_t ino;
	bool followed;
	TAILQ_ENTRY(nfsb_file) link;	/* in files, under files_lock */
	unsigned int users;		/* getattr fallbacks using it */
	char path[];
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

/* When a request by handle is made again (nfsb4_again). */
enum nfsb4_redo {
	NFSB4_IDEMPOTENT,	/* after a stale handle or a lost connection */
	NFSB4_ONCE,		/* after a stale handle; a lost connection: -EIO */
	NFSB4_STALE_ONLY,	/* after a stale handle; the connection: the caller's */
};

/* How often it was (zeroed before the first try). */
struct nfsb4_tries {
	int stale;
	int conn;
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
/* Run a creation under the caller's ids (a root server only), and back. */
void nfsb_cred_enter(struct backend_nfs *nb, struct nfsb_conn *c,
    const struct backend_cred *cred);
void nfsb_cred_leave(struct backend_nfs *nb, struct nfsb_conn *c,
    const struct backend_cred *cred);

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
void nfsb_node_release(struct backend *b, void *bdata);
struct nfsb_node *nfsb_node_of(struct inode *in);
bool nfsb_node_has_fh(struct inode *in);
bool nfsb_node_fh(struct backend_nfs *nb, struct inode *in, struct nfsb4_fh *fh);
void nfsb_key_entry(struct backend_nfs *nb, struct stat *st);
void nfsb_reused_free(struct backend_nfs *nb);
int nfsb_path(struct backend_nfs *nb, struct inode *in, char *buf, size_t len);
int nfsb_child_path(struct backend_nfs *nb, struct inode *dir, const char *name,
    char *buf, size_t len);
int nfsb_child_conn(struct backend_nfs *nb, struct inode *dir, const char *name,
    char *buf, size_t len, struct nfsb_conn **c);
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

bool nfsb4_again(struct backend_nfs *nb, struct nfsb_conn *c, int *rc,
    struct nfsb4_tries *t, enum nfsb4_redo redo, struct inode *a, struct inode *b);
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

/* nfsb_file.c: open files */

extern const struct backend_setattr nfsb_create_times;
int nfsb_file_ready(struct backend_nfs *nb, struct nfsb_file *f);
int nfsb_getattr_open(struct backend_nfs *nb, uint64_t ino, struct stat *out);
int nfsb_setattr_fh(struct backend_nfs *nb, struct inode *in,
    const struct backend_setattr *sa, struct stat *out);
int nfsb_create_open(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    int flags, mode_t mode, struct nfsfh **fh, bool *created);
int nfsb_open(struct backend *b, struct inode *in, int flags, struct backend_file *out);
int nfsb_create(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    int flags, const struct backend_cred *cred, struct backend_entry *out,
    struct backend_file *fout);
ssize_t nfsb_read(struct backend *b, struct backend_file *bf, void *buf, size_t size,
    off_t off);
ssize_t nfsb_write(struct backend *b, struct backend_file *bf, const void *buf,
    size_t size, off_t off);
int nfsb_fsync(struct backend *b, struct backend_file *bf, bool datasync);
void nfsb_release(struct backend *b, struct backend_file *bf);
int nfsb_fallocate(struct backend *b, struct backend_file *bf, int mode, off_t off,
    off_t len);
off_t nfsb_lseek(struct backend *b, struct backend_file *bf, off_t off, int whence);
ssize_t nfsb_copy_file_range(struct backend *b, struct backend_file *in, off_t off_in,
    struct backend_file *out, off_t off_out, size_t len, unsigned int flags);

/* nfsb_entry.c: operations on one node */

int nfsb_lookup(struct backend *b, struct inode *dir, const char *name, bool follow,
    struct backend_entry *out);
int nfsb_getattr(struct backend *b, struct inode *in, struct stat *out);
int nfsb_setattr(struct backend *b, struct inode *in, struct backend_file *bf,
    const struct backend_setattr *sa, struct stat *out);
int nfsb_readlink(struct backend *b, struct inode *in, char *buf, size_t size);
int nfsb_depth(struct backend *b, struct inode *dir, unsigned int *depth);
int nfsb_link_probe(struct backend *b, struct inode *dir, unsigned int up,
    const char *down, char *buf, size_t size);

/* nfsb_names.c: changes to the names in a directory */

int nfsb_mknod(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    dev_t rdev, const struct backend_cred *cred, struct backend_entry *out);
int nfsb_mkdir(struct backend *b, struct inode *dir, const char *name, mode_t mode,
    const struct backend_cred *cred, struct backend_entry *out);
int nfsb_symlink(struct backend *b, struct inode *dir, const char *name,
    const char *target, const struct backend_cred *cred, struct backend_entry *out);
int nfsb_link(struct backend *b, struct inode *in, struct inode *newdir,
    const char *newname, struct backend_entry *out);
int nfsb_unlink(struct backend *b, struct inode *dir, const char *name);
int nfsb_rmdir(struct backend *b, struct inode *dir, const char *name);
int nfsb_rename(struct backend *b, struct inode *olddir, const char *oldname,
    struct inode *newdir, const char *newname, unsigned int flags);

/* nfsb_dir.c: directory listings */

int nfsb_opendir(struct backend *b, struct inode *in, struct backend_file *out);
int nfsb_readdir(struct backend *b, struct backend_file *bf, off_t off,
    struct backend_dirent *ent);
void nfsb_releasedir(struct backend *b, struct backend_file *bf);
int nfsb_fsyncdir(struct backend *b, struct backend_file *bf, bool datasync);

#endif
