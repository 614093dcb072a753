/*
 * nfsb_sync: the NFS backend's blocking libnfs calls (stat, open, read,
 * write, ...) on a locked context of the pool (nfsb_conn.c), and the
 * mount of a new context.  Each is libnfs's asynchronous call, waited
 * for here.
 *
 * Why not libnfs's own synchronous API: in libnfs 4.0, when the server
 * goes away in the middle of a call (a restart: POLLHUP, with libnfs's
 * auto-reconnect off), nfs_stat64() and the others stop waiting and
 * return -EIO, but leave their request queued, its callback pointing at
 * a struct on the stack frame they return from.  When the context is
 * destroyed next (to connect again), libnfs cancels that request and
 * calls its callback on the dead frame, by then reused by whatever runs:
 * the callback writes two ints into it and, for pread/pwrite, formats
 * the frame's old `call` field as a string ("%s call failed"), which is
 * any word found there: a segfault in strlen (seen at 0x10000).
 *
 * Here the state a callback writes to lives until the callback has run
 * or cannot run any more: a call that does not complete (the connection
 * failed, or it took longer than NFSB_RPC_TIMEOUT_MS) destroys its
 * context before returning, which calls the callback (cancelled) while
 * its state is alive, and leaves the connection NULL for the caller to
 * make again (nfsb_conn_retry).  A callback never reads libnfs's error
 * text (the data of a failed call), and RPC-level failures (timed out,
 * cancelled, refused: -EINTR, -EFAULT from libnfs) come back as -EIO, a
 * connection failure.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <nfsc/libnfs.h>

#include "nfsb_int.h"

/* What a call's callback keeps of a success. */
enum nfsb_call_kind {
	NFSB_CALL_STATUS,	/* the status alone */
	NFSB_CALL_STAT,		/* a struct nfs_stat_64 */
	NFSB_CALL_STATVFS,	/* a struct nfs_statvfs_64 */
	NFSB_CALL_PTR,		/* a pointer libnfs hands over (nfsfh, nfsdir) */
	NFSB_CALL_STR,		/* a string, copied (malloc'd) */
	NFSB_CALL_READ,		/* status bytes, copied into a buffer of len */
};

struct nfsb_call {
	bool done;
	int status;
	enum nfsb_call_kind kind;
	void *out;
	size_t len;
};

static void
nfsb_call_cb(int status, struct nfs_context *nfs, void *data, void *private_data)
{
	struct nfsb_call *call = private_data;

	(void)nfs;
	call->done = true;
	call->status = status;
	if (status < 0)
		return;		/* data is libnfs's explanation: not ours to read */
	switch (call->kind) {
	case NFSB_CALL_STATUS:
		break;
	case NFSB_CALL_STAT:
		memcpy(call->out, data, sizeof(struct nfs_stat_64));
		break;
	case NFSB_CALL_STATVFS:
		memcpy(call->out, data, sizeof(struct nfs_statvfs_64));
		break;
	case NFSB_CALL_PTR:
		*(void **)call->out = data;
		break;
	case NFSB_CALL_STR:
		*(char **)call->out = data != NULL ? strdup(data) : NULL;
		if (*(char **)call->out == NULL)
			call->status = data != NULL ? -ENOMEM : -EIO;
		break;
	case NFSB_CALL_READ:
		if ((size_t)status > call->len)
			call->status = -EIO;
		else if (status > 0)
			memcpy(call->out, data, (size_t)status);
		break;
	}
}

/*
 * Serve nfs until call is done: true, or false if the connection failed
 * or the call took too long.  Then the callback still points at call:
 * the caller must destroy nfs before call goes.
 */
static bool
nfsb_call_wait(struct nfs_context *nfs, struct nfsb_call *call)
{
	struct timespec start, now;
	struct pollfd pfd;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!call->done) {
		pfd.fd = nfs_get_fd(nfs);
		pfd.events = (short)nfs_which_events(nfs);
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			break;
		if (nfs_service(nfs, pfd.revents) < 0)
			break;		/* (it may have finished the call first) */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > NFSB_RPC_TIMEOUT_MS)
			break;
	}
	return call->done;
}

/* The status of a call that finished: libnfs's RPC-level failures
 * (timed out or cancelled: -EINTR; refused or lost: -EFAULT) are -EIO,
 * which nfsb_conn_retry takes for a failed connection. */
static int
nfsb_call_status(const struct nfsb_call *call)
{
	if (call->status == -EINTR || call->status == -EFAULT)
		return -EIO;
	return call->status;
}

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
	if (!nfsb_call_wait(c->nfs, call)) {
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

/*
 * Mount a new context (*nfsp).  On failure, why is in nfsb_errbuf and the
 * context is destroyed here, *nfsp NULL: a mount cut off midway still
 * has a callback pointing at this frame, which must run (cancelled)
 * before this frame goes.
 */
int
nfsb_sync_mount(struct nfs_context **nfsp, const char *server, const char *export)
{
	struct nfsb_call call = { false, 0, NFSB_CALL_STATUS, NULL, 0 };
	struct nfs_context *nfs = *nfsp;
	const char *err;
	int rc;

	if (nfs_mount_async(nfs, server, export, nfsb_call_cb, &call) != 0)
		rc = call.done ? call.status : -EIO;
	else if (!nfsb_call_wait(nfs, &call))
		rc = -EIO;
	else
		rc = call.status;
	if (rc == 0)
		return 0;
	err = nfs_get_error(nfs);
	snprintf(nfsb_errbuf, sizeof(nfsb_errbuf), "%s", err != NULL ? err : strerror(-rc));
	nfs_destroy_context(nfs);	/* calls back now if still pending */
	*nfsp = NULL;
	return rc;
}

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
