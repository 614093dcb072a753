/*
 * nfsb_conn: the NFS backend's pool of libnfs contexts, each with its
 * connection: taking one, locking it, telling a failed connection from a
 * failed request, and connecting again.
 *
 * Concurrency.  A pool of libnfs contexts, each with its own mutex and
 * connection; a request takes a free one (round robin).  An open file
 * stays on the context that opened it (its NFSv4 state lives there).
 *
 * Reconnection.  libnfs's own auto-reconnect is off and every RPC has a
 * timeout (10 s), so no request hangs.  A call that loses its connection
 * destroys its context before it returns (nfsb_wait.c says why), leaving
 * it NULL: nfsb_conn_retry or the next nfsb_conn_lock connects again.  A
 * context whose socket the server closed (seen when it is taken, before a
 * request is sent) is mounted again first.  When a call fails in a way that says the connection is
 * gone, the context is torn down and mounted again; the idempotent
 * requests (lookup, getattr, read, readdir, readlink, statfs, open
 * without O_TRUNC, opendir, lseek) are then retried once; every other one
 * (create, mkdir, mknod, symlink, link, unlink, rmdir, rename, setattr,
 * write, fsync) fails with EIO.  Open files are re-opened lazily on the
 * new connection (without O_TRUNC/O_CREAT/O_EXCL) and checked to be the
 * same fileid.  Nodes keep their handles across a reconnection: a server
 * with persistent handles (Ganesha's VFS FSAL) still knows them; one
 * that does not answers STALE and the node is found again by its path
 * (see nfsb4_fh.c).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>

#include "nfsb_int.h"

/* This thread's explanation of a failure (backend_nfs_last_error). */
__thread char nfsb_errbuf[512];

/* Say why (fmt, with arg as its %s) into nfsb_errbuf; returns rc. */
int
nfsb_fail(int rc, const char *fmt, const char *arg)
{
	snprintf(nfsb_errbuf, sizeof(nfsb_errbuf), fmt, arg != NULL ? arg : "");
	return rc;
}

/* Errors that say the connection (not the request) failed. */
static bool
nfsb_conn_error(int rc)
{
	switch (-rc) {
	case EIO: case ETIMEDOUT: case ENOTCONN: case ECONNRESET:
	case ECONNREFUSED: case ECONNABORTED: case EPIPE: case ESHUTDOWN:
		return true;
	}
	return false;
}

/*
 * Mount a new context (*nfsp).  On failure, why is in nfsb_errbuf and the
 * context is destroyed here, *nfsp NULL: a mount cut off midway still
 * has a callback pointing at this frame, which must run (cancelled)
 * before this frame goes.
 */
static int
nfsb_mount(struct nfs_context **nfsp, const char *server, const char *export)
{
	struct nfsb_call call = { false, 0, NFSB_CALL_STATUS, NULL, 0 };
	struct nfs_context *nfs = *nfsp;
	const char *err;
	int rc;

	if (nfs_mount_async(nfs, server, export, nfsb_call_cb, &call) != 0)
		rc = call.done ? call.status : -EIO;
	else if (!nfsb_wait(nfs_get_rpc_context(nfs), &call.done))
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

/* A fresh context with our settings, mounted; NULL and *rc on failure. */
struct nfs_context *
nfsb_context_open(struct backend_nfs *nb, unsigned int index, unsigned int gen, int *rc)
{
	struct nfs_context *nfs;
	struct nfs_url *u;
	char name[96], verf[8];
	uint64_t v;
	size_t i;

	nfs = nfs_init_context();
	if (nfs == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	u = nfs_parse_url_dir(nfs, nb->url);	/* applies ?version= etc. */
	if (u == NULL) {
		*rc = nfsb_fail(-EINVAL, "bad NFS URL: %s", nfs_get_error(nfs));
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_destroy_url(u);
	/* every context must be its own NFSv4 client: libnfs's default
	 * name (pid and second) is shared by contexts made together */
	snprintf(name, sizeof(name), "fsbridge pid:%d ctx:%u gen:%u t:%lld",
	    (int)getpid(), index, gen, (long long)time(NULL));
	nfs4_set_client_name(nfs, name);
	v = ((uint64_t)getpid() << 32) ^ ((uint64_t)index << 24) ^ gen ^ (uint64_t)time(NULL) << 8;
	for (i = 0; i < sizeof(verf); i++, v >>= 8)
		verf[i] = (char)(v & 0xff);
	nfs4_set_verifier(nfs, verf);
	nfs_set_autoreconnect(nfs, 0);
	nfs_set_timeout(nfs, NFSB_RPC_TIMEOUT_MS);
	nfs_set_dircache(nfs, 0);
	nfs_umask(nfs, 0);
	*rc = nfsb_mount(&nfs, nb->server, nb->export);
	return nfs;	/* NULL on failure: nfsb_errbuf says why */
}

/*
 * With c locked: destroy its context (libnfs then calls back, cancelled,
 * every request still pending on it), leaving it NULL.  Handles opened
 * on it are gone with it (gen).
 */
void
nfsb_conn_drop(struct nfsb_conn *c)
{
	if (c->nfs == NULL)
		return;
	nfs_destroy_context(c->nfs);
	c->nfs = NULL;
	c->gen++;
}

/* With c locked: drop its connection and make a new one. */
void
nfsb_conn_reset(struct backend_nfs *nb, struct nfsb_conn *c)
{
	int rc;

	nfsb_conn_drop(c);
	c->gen++;
	c->nfs = nfsb_context_open(nb, c->index, c->gen, &rc);
}

/*
 * With c locked no request is in flight on it, so a socket that polls
 * readable (or hung up) was closed by the server: a restart.  Seen here,
 * the connection is replaced before a request is lost on it, so even a
 * mutation goes through after a restart.
 */
static bool
nfsb_conn_dead(struct nfsb_conn *c)
{
	struct pollfd pfd;

	pfd.fd = nfs_get_fd(c->nfs);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0)
		return true;
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* Lock c and make sure it is connected: 0 or -EIO. */
int
nfsb_conn_lock(struct backend_nfs *nb, struct nfsb_conn *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->nfs == NULL || nfsb_conn_dead(c))
		nfsb_conn_reset(nb, c);
	if (c->nfs == NULL) {
		pthread_mutex_unlock(&c->lock);
		return -EIO;
	}
	return 0;
}

void
nfsb_conn_unlock(struct nfsb_conn *c)
{
	pthread_mutex_unlock(&c->lock);
}

/* Take a free context (or wait for one), connected. */
int
nfsb_conn_get(struct backend_nfs *nb, struct nfsb_conn **out)
{
	unsigned int start, i;
	struct nfsb_conn *c = NULL;

	start = __atomic_fetch_add(&nb->next, 1, __ATOMIC_RELAXED) % nb->nconn;
	for (i = 0; i < nb->nconn && c == NULL; i++) {
		struct nfsb_conn *t = &nb->conns[(start + i) % nb->nconn];

		if (pthread_mutex_trylock(&t->lock) == 0) {
			pthread_mutex_unlock(&t->lock);
			c = t;
		}
	}
	if (c == NULL)
		c = &nb->conns[start];
	*out = c;
	return nfsb_conn_lock(nb, c);
}

/*
 * NFSv4.0 numbers an open owner's OPENs and CLOSEs (seqid).  libnfs 4.0
 * advances its count after every CLOSE reply, while the server does not
 * advance on some errors (RFC 7530 9.1.7): after such a CLOSE (seen with
 * Ganesha when many created files are closed later) every OPEN on that
 * context fails with NFS4ERR_BAD_SEQID, which the server rejects before
 * doing anything.  The only way out is a new owner: a new context.
 */
bool
nfsb_owner_desync(struct nfsb_conn *c, int rc)
{
	const char *err;

	if (rc >= 0 || c->nfs == NULL)
		return false;
	err = nfs_get_error(c->nfs);
	return err != NULL && strstr(err, "NFS4ERR_BAD_SEQID") != NULL;
}

/*
 * After a call on c returned *rc: should it be made again?  A connection
 * failure resets c; an idempotent call is retried once, any other fails
 * with EIO.
 */
bool
nfsb_conn_retry(struct backend_nfs *nb, struct nfsb_conn *c, int *rc,
    bool idempotent, int *tries)
{
	if (nfsb_owner_desync(c, *rc)) {
		/* refused before anything was done: safe to send again */
		nfsb_conn_reset(nb, c);
		return c->nfs != NULL && (*tries)++ == 0;
	}
	if (*rc >= 0 || (!nfsb_conn_error(*rc) && c->nfs != NULL))
		return false;
	nfsb_conn_reset(nb, c);
	if (idempotent && c->nfs != NULL && (*tries)++ == 0)
		return true;
	*rc = -EIO;
	return false;
}

/* Run a creation under the caller's ids (a root server only). */
void
nfsb_cred_enter(struct backend_nfs *nb, struct nfsb_conn *c, const struct backend_cred *cred)
{
	if (!nb->as_root || cred == NULL)
		return;
	nfs_set_uid(c->nfs, (int)cred->uid);
	nfs_set_gid(c->nfs, (int)cred->gid);
}

void
nfsb_cred_leave(struct backend_nfs *nb, struct nfsb_conn *c, const struct backend_cred *cred)
{
	if (!nb->as_root || cred == NULL || c->nfs == NULL)
		return;
	nfs_set_uid(c->nfs, (int)geteuid());
	nfs_set_gid(c->nfs, (int)getegid());
}
