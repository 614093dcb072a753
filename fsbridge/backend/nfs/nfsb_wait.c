/*
 * nfsb_wait: waiting for one libnfs asynchronous call: the record its
 * callback fills in (struct nfsb_call), that callback, and the loop that
 * serves a context until the call is done or NFSB_RPC_TIMEOUT_MS has
 * passed.  It knows nothing of the pool: nfsb_conn.c (the mount) and
 * nfsb_sync.c (every other call, and our COMPOUNDs) wait here.
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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>

#include "nfsb_int.h"

/* The callback of a libnfs call waited for: fills in *private_data. */
void
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
 * Serve rpc (a context's, nfs_get_rpc_context) until *done: true, or
 * false if the connection failed or the call took longer than
 * NFSB_RPC_TIMEOUT_MS.  Then the callback still points at the caller's
 * record: the caller must destroy the context before the record goes.
 */
bool
nfsb_wait(struct rpc_context *rpc, const bool *done)
{
	struct timespec start, now;
	struct pollfd pfd;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!*done) {
		pfd.fd = rpc_get_fd(rpc);
		pfd.events = (short)rpc_which_events(rpc);
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			break;
		if (rpc_service(rpc, pfd.revents) < 0)
			break;		/* (it may have finished the call first) */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > NFSB_RPC_TIMEOUT_MS)
			break;
	}
	return *done;
}

/* The status of a call that finished: libnfs's RPC-level failures
 * (timed out or cancelled: -EINTR; refused or lost: -EFAULT) are -EIO,
 * which nfsb_conn_retry takes for a failed connection. */
int
nfsb_call_status(const struct nfsb_call *call)
{
	if (call->status == -EINTR || call->status == -EFAULT)
		return -EIO;
	return call->status;
}
