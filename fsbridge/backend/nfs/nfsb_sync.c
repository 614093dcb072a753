/*
 * nfsb_sync: the NFS backend's blocking calls on a locked context of the
 * pool (nfsb_conn.c): libnfs's (stat, open, read, write, ...) and NFSv4
 * COMPOUNDs of our own (nfsb4_compound).  Each is an asynchronous call,
 * waited for (nfsb_wait.c says why not libnfs's synchronous API).  A call
 * that does not finish drops its context (nfsb_conn_drop: c->nfs NULL)
 * and is -EIO, for nfsb_conn_retry to connect again.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "nfsb_int.h"

/*
 * Wait for a call just queued on c (queued: the return value of libnfs's
 * *_async, 0 if it was).  A call that does not finish takes the
 * context down with it (nfsb_conn_drop), -EIO.
 */
static int
nfsb_call_end(struct nfsb_conn *c, struct nfsb_call *call, int queued)
{
	if (queued != 0)
		return call->done ? nfsb_call_status(call) : -EIO;
	if (!nfsb_wait(nfs_get_rpc_context(c->nfs), &call->done)) {
		nfsb_conn_drop(c);	/* calls back (cancelled) now */
		return -EIO;
	}
	return nfsb_call_status(call);
}

/* Return the result of fn(c's context, args..., callback) on c; -EIO if
 * c has no context (a call before dropped it). */
#define NFSB_CALL(c, kind_, out_, len_, fn, ...)				\
	do {								\
		struct nfsb_call call_ = { false, 0, kind_, out_, len_ };	\
		if ((c)->nfs == NULL)					\
			return -EIO;					\
		return nfsb_call_end(c, &call_,				\
		    fn((c)->nfs, __VA_ARGS__, nfsb_call_cb, &call_));	\
	} while (0)

int
nfsb_sync_stat(struct nfsb_conn *c, const char *path, bool follow, struct nfs_stat_64 *st)
{
	if (follow)
		NFSB_CALL(c, NFSB_CALL_STAT, st, 0, nfs_stat64_async, path);
	NFSB_CALL(c, NFSB_CALL_STAT, st, 0, nfs_lstat64_async, path);
}

int
nfsb_sync_fstat(struct nfsb_conn *c, struct nfsfh *fh, struct nfs_stat_64 *st)
{
	NFSB_CALL(c, NFSB_CALL_STAT, st, 0, nfs_fstat64_async, fh);
}

int
nfsb_sync_statvfs(struct nfsb_conn *c, const char *path, struct nfs_statvfs_64 *st)
{
	NFSB_CALL(c, NFSB_CALL_STATVFS, st, 0, nfs_statvfs64_async, path);
}

int
nfsb_sync_open(struct nfsb_conn *c, const char *path, int flags, struct nfsfh **fh)
{
	NFSB_CALL(c, NFSB_CALL_PTR, fh, 0, nfs_open_async, path, flags);
}

int
nfsb_sync_create(struct nfsb_conn *c, const char *path, int flags, int mode,
    struct nfsfh **fh)
{
	NFSB_CALL(c, NFSB_CALL_PTR, fh, 0, nfs_create_async, path, flags, mode);
}

/* libnfs frees fh whatever becomes of the CLOSE.  (A handle whose
 * context was dropped cannot be closed: libnfs 4.0 gives no way to
 * free it but on its context.) */
int
nfsb_sync_close(struct nfsb_conn *c, struct nfsfh *fh)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_close_async, fh);
}

int
nfsb_sync_pread(struct nfsb_conn *c, struct nfsfh *fh, uint64_t off, size_t count,
    void *buf)
{
	NFSB_CALL(c, NFSB_CALL_READ, buf, count, nfs_pread_async, fh, off, count);
}

int
nfsb_sync_pwrite(struct nfsb_conn *c, struct nfsfh *fh, uint64_t off, size_t count,
    const void *buf)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_pwrite_async, fh, off, count, buf);
}

int
nfsb_sync_fsync(struct nfsb_conn *c, struct nfsfh *fh)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_fsync_async, fh);
}

int
nfsb_sync_ftruncate(struct nfsb_conn *c, struct nfsfh *fh, uint64_t size)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_ftruncate_async, fh, size);
}

int
nfsb_sync_fchmod(struct nfsb_conn *c, struct nfsfh *fh, int mode)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_fchmod_async, fh, mode);
}

int
nfsb_sync_fchown(struct nfsb_conn *c, struct nfsfh *fh, int uid, int gid)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_fchown_async, fh, uid, gid);
}

int
nfsb_sync_lchmod(struct nfsb_conn *c, const char *path, int mode)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_lchmod_async, path, mode);
}

int
nfsb_sync_lchown(struct nfsb_conn *c, const char *path, int uid, int gid)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_lchown_async, path, uid, gid);
}

int
nfsb_sync_lutimes(struct nfsb_conn *c, const char *path, struct timeval tv[2])
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_lutimes_async, path, tv);
}

/* The target of a link (malloc'd). */
int
nfsb_sync_readlink(struct nfsb_conn *c, const char *path, char **target)
{
	*target = NULL;
	NFSB_CALL(c, NFSB_CALL_STR, target, 0, nfs_readlink_async, path);
}

int
nfsb_sync_mkdir(struct nfsb_conn *c, const char *path, int mode)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_mkdir2_async, path, mode);
}

int
nfsb_sync_symlink(struct nfsb_conn *c, const char *target, const char *path)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_symlink_async, target, path);
}

int
nfsb_sync_mknod(struct nfsb_conn *c, const char *path, int mode, int dev)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_mknod_async, path, mode, dev);
}

int
nfsb_sync_link(struct nfsb_conn *c, const char *oldpath, const char *newpath)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_link_async, oldpath, newpath);
}

int
nfsb_sync_unlink(struct nfsb_conn *c, const char *path)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_unlink_async, path);
}

int
nfsb_sync_rmdir(struct nfsb_conn *c, const char *path)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_rmdir_async, path);
}

int
nfsb_sync_rename(struct nfsb_conn *c, const char *oldpath, const char *newpath)
{
	NFSB_CALL(c, NFSB_CALL_STATUS, NULL, 0, nfs_rename_async, oldpath, newpath);
}

/* The whole listing of a directory, read now. */
int
nfsb_sync_opendir(struct nfsb_conn *c, const char *path, struct nfsdir **dir)
{
	NFSB_CALL(c, NFSB_CALL_PTR, dir, 0, nfs_opendir_async, path);
}

/* A COMPOUND of ours being waited for. */
struct nfsb4_call {
	bool done;
	int status;		/* 0 or -errno */
	struct nfsb4_out *out;	/* NULL: the status is all */
};

static void
nfsb4_call_cb(struct rpc_context *rpc, int status, void *data, void *private_data)
{
	struct nfsb4_call *call = private_data;
	COMPOUND4res *res = data;
	int rc;

	call->done = true;
	if (status != RPC_STATUS_SUCCESS) {
		call->status = status == RPC_STATUS_CANCEL ? -EINTR : -EIO;
		return;
	}
	call->status = nfsb4_errno(res->status);
	if (call->out != NULL && (rc = nfsb4_decode(res, call->out)) != 0 && call->status == 0)
		call->status = rc;
}

/* Run the COMPOUND of ops[0..n) to completion on a locked context; out
 * (or NULL) receives what it brought back. */
int
nfsb4_compound(struct nfsb_conn *c, nfs_argop4 *ops, unsigned int n,
    struct nfsb4_out *out)
{
	struct nfsb4_call call = { false, 0, out };
	struct rpc_context *rpc;
	COMPOUND4args args;
	int rc;

	if (c->nfs == NULL)
		return -EIO;	/* dropped by a failed call before */
	memset(&args, 0, sizeof(args));
	args.argarray.argarray_len = n;
	args.argarray.argarray_val = ops;
	rpc = nfs_get_rpc_context(c->nfs);
	rc = rpc_nfs4_compound_async(rpc, nfsb4_call_cb, &args, &call);
	if (rc == -2)		/* it does not fit libnfs's encoding buffer */
		return -ENAMETOOLONG;
	if (rc != 0)
		return -EIO;
	if (!nfsb_wait(rpc, &call.done)) {
		/* the callback still points at `call`: tear the context
		 * down (it cancels the call) before this frame goes;
		 * nfsb_conn_retry connects again */
		nfsb_conn_drop(c);
		return -EIO;
	}
	return call.status;
}
