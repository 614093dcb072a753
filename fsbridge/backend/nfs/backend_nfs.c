/*
 * backend_nfs: an NFS export as a backend, through libnfs: its calls
 * (nfs_*_async, waited for: nfsb_sync.c) for what holds NFSv4 state or
 * is path based there (open, create, read, write, fsync, statfs, and all
 * of NFSv3), and NFSv4 COMPOUNDs of our own for the rest.  This file has the
 * backend's ops table, its construction (URL, pool, errors), the root
 * and statfs; the operations live in the files nfsb_int.h lists, with
 * who calls whom.
 *
 * Nodes.  A node keeps the server's fileid (st_ino, stable for the
 * session), whether it was found by following a link and, over NFSv4,
 * the server's file handle.  Over NFSv4 the requests about a node start
 * from its handle (PUTFH), never from a path: nfsb4_fh.c says which, and
 * how a handle the server no longer knows is found again.
 *
 * Still by path, with the last-known path rebuilt for each request:
 *   - open, and create (mknod of a regular file too): libnfs's OPEN keeps
 *     the NFSv4 open state; the file opened is checked to have the
 *     node's fileid (ESTALE otherwise), before O_TRUNC is applied by
 *     handle.  A create checks afterwards, by the directory's handle,
 *     that the file it made is dir/name: if libnfs's walk went through a
 *     link swapped in on the server meanwhile, the create fails with
 *     ESTALE (the stray empty file stays where the walk led, inside the
 *     export: libnfs resolves links within it);
 *   - statfs (the root);
 *   - every request about a node without a handle: NFSv3 (all of it), and
 *     nodes found by following a link (follow mode), and their entries;
 *     their listings are libnfs's (read whole at opendir), and over
 *     NFSv4 each entry is stat'ed for its fileid (libnfs 4.0 gives none).
 * libnfs resolves a symlink met in an intermediate component of such a
 * path within the export's namespace instead of failing.
 *
 * Symlinks.  The final component is never followed: LOOKUP-only
 * COMPOUNDs over NFSv4; lstat, O_NOFOLLOW opens and creates, and
 * lchmod/lchown/lutimes over NFSv3; readlink returns the target bytes.
 * Only follow mode (lookup with follow) stats through a link, by path.
 *
 * Concurrency and reconnection: see nfsb_conn.c.
 *
 * Caching.  libnfs's directory cache is off and no host watcher exists
 * for NFS (host_fd_get is NULL): the server then gives every entry its
 * fallback timeout (fs_watch.c), and change detection is the kernel's
 * revalidation of (mtime, ctime, size) after that timeout.
 *
 * Not there: xattrs and fallocate (NFS below 4.2 has none), SEEK_HOLE
 * (every byte is data), RENAME_EXCHANGE (EINVAL); RENAME_NOREPLACE is a
 * check before the rename.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/tree.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "backend_nfs.h"
#include "nfsb_int.h"

#define NFSB_POOL_DEFAULT	4
#define NFSB_POOL_MAX		64
#define NFSB_PROBE_TIMEOUT_MS	5000

const char *
backend_nfs_last_error(void)
{
	return nfsb_errbuf;
}

bool
backend_nfs_is_url(const char *src)
{
	return src != NULL && strncmp(src, "nfs://", 6) == 0;
}

/* ---- backend operations ---- */

static void
nfsb_destroy(struct backend *b)
{
	struct backend_nfs *nb = NFSB(b);
	unsigned int i;

	for (i = 0; i < nb->nconn; i++) {
		if (nb->conns[i].nfs != NULL)
			nfs_destroy_context(nb->conns[i].nfs);
		pthread_mutex_destroy(&nb->conns[i].lock);
	}
	free(nb->conns);
	pthread_mutex_destroy(&nb->files_lock);
	pthread_mutex_destroy(&nb->fh_lock);
	nfsb_reused_free(nb);
	pthread_cond_destroy(&nb->files_idle);
	free(nb->url);
	free(nb->server);
	free(nb->export);
	free(nb);
}

static int
nfsb_root(struct backend *b, struct backend_entry *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfsb_conn *c;
	struct nfsb_node *n;
	int rc;

	struct nfsb4_out o;
	int tries = 0;

	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	if (nb->v4) {
		do {
			rc = nfsb4_walk(nb, c, "/", &o);
		} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
		if (rc == 0)
			out->st = o.st;
	} else
		rc = nfsb_stat_path(nb, c, "/", false, &out->st);
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	if (!S_ISDIR(out->st.st_mode))
		return -ENOTDIR;
	n = nfsb_node_new(&out->st, false);
	if (n == NULL)
		return -ENOMEM;
	n->root = true;
	if (nb->v4)
		n->fh = o.fh;
	out->bdata = n;
	return 0;
}

static void
nfsb_attach(struct backend *b, struct inode_table *t)
{
	b->inodes = t;
}

static int
nfsb_statfs(struct backend *b, struct inode *in, struct statvfs *out)
{
	struct backend_nfs *nb = NFSB(b);
	struct nfs_statvfs_64 s;
	struct nfsb_conn *c;
	int rc, tries = 0;

	(void)in;	/* one file system: ask at the root */
	rc = nfsb_conn_get(nb, &c);
	if (rc != 0)
		return rc;
	do {
		rc = nfsb_sync_statvfs(c, "/", &s);
	} while (nfsb_conn_retry(nb, c, &rc, true, &tries));
	nfsb_conn_unlock(c);
	if (rc != 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->f_bsize = s.f_bsize;
	out->f_frsize = s.f_frsize != 0 ? s.f_frsize : s.f_bsize;
	out->f_blocks = s.f_blocks;
	out->f_bfree = s.f_bfree;
	out->f_bavail = s.f_bavail;
	out->f_files = s.f_files;
	out->f_ffree = s.f_ffree;
	out->f_favail = s.f_favail;
	out->f_fsid = s.f_fsid;
	out->f_flag = s.f_flag;
	/* a name longer than NAME_MAX cannot be listed (backend_dirent) */
	out->f_namemax = s.f_namemax != 0 && s.f_namemax < NAME_MAX ? s.f_namemax : NAME_MAX;
	return 0;
}

static ssize_t
nfsb_getxattr(struct backend *b, struct inode *in, const char *name, void *buf, size_t size)
{
	return -ENODATA;
}

static int
nfsb_setxattr(struct backend *b, struct inode *in, const char *name,
    const void *value, size_t size, int flags)
{
	return -EOPNOTSUPP;
}

static ssize_t
nfsb_listxattr(struct backend *b, struct inode *in, char *buf, size_t size)
{
	return 0;
}

static int
nfsb_removexattr(struct backend *b, struct inode *in, const char *name)
{
	return -ENODATA;
}

static const struct backend_ops nfsb_ops = {
	.name = "nfs",
	.destroy = nfsb_destroy,
	.root = nfsb_root,
	.node_release = nfsb_node_release,
	.attach = nfsb_attach,
	.lookup = nfsb_lookup,
	.getattr = nfsb_getattr,
	.setattr = nfsb_setattr,
	.readlink = nfsb_readlink,
	.depth = nfsb_depth,
	.link_probe = nfsb_link_probe,
	.mknod = nfsb_mknod,
	.mkdir = nfsb_mkdir,
	.symlink = nfsb_symlink,
	.link = nfsb_link,
	.unlink = nfsb_unlink,
	.rmdir = nfsb_rmdir,
	.rename = nfsb_rename,
	.open = nfsb_open,
	.create = nfsb_create,
	.read = nfsb_read,
	.write = nfsb_write,
	.fsync = nfsb_fsync,
	.release = nfsb_release,
	.fallocate = nfsb_fallocate,
	.lseek = nfsb_lseek,
	.copy_file_range = nfsb_copy_file_range,
	.opendir = nfsb_opendir,
	.readdir = nfsb_readdir,
	.releasedir = nfsb_releasedir,
	.fsyncdir = nfsb_fsyncdir,
	.statfs = nfsb_statfs,
	.getxattr = nfsb_getxattr,
	.setxattr = nfsb_setxattr,
	.listxattr = nfsb_listxattr,
	.removexattr = nfsb_removexattr,
	/* no host watcher for NFS: host_fd_get/put stay NULL */
};

/* ---- construction ---- */

/* The value of ?key=... in a URL's query ("" if absent), into buf. */
static void
nfsb_url_arg(const char *url, const char *key, char *buf, size_t len)
{
	const char *q = strchr(url, '?'), *p;
	size_t klen = strlen(key), n;

	buf[0] = '\0';
	for (p = q; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '=') {
			p += klen + 2;
			n = strcspn(p, "&");
			if (n >= len)
				n = len - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return;
		}
	}
}

/* Can a TCP connection to host:port be made?  0 or -errno. */
static int
nfsb_probe_tcp(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, err = 0;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return nfsb_fail(-EHOSTUNREACH, "cannot resolve server %s", host);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return -errno;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)
		err = errno;
	else {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, NFSB_PROBE_TIMEOUT_MS) <= 0)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
			err = errno;
	}
	close(fd);
	freeaddrinfo(res);
	if (err == ETIMEDOUT || err == ENETUNREACH || err == EHOSTDOWN)
		err = EHOSTUNREACH;
	return -err;
}

/* Turn a failed first mount into one of the documented errors. */
static int
nfsb_classify_mount_error(struct backend_nfs *nb, int rc)
{
	char version[8], port[16], detail[256];
	int probe;

	snprintf(detail, sizeof(detail), "%.200s", nfsb_errbuf);
	if (rc == -ENOENT)
		return nfsb_fail(-ENOENT, "export not found: %s", nb->export);
	if (rc == -ENOTDIR)
		return nfsb_fail(-ENOTDIR, "export is not a directory: %s", nb->export);
	nfsb_url_arg(nb->url, "version", version, sizeof(version));
	nfsb_url_arg(nb->url, "nfsport", port, sizeof(port));
	if (port[0] == '\0')
		snprintf(port, sizeof(port), "%s", strcmp(version, "4") == 0 ? "2049" : "111");
	probe = nfsb_probe_tcp(nb->server, port);
	if (probe == -ECONNREFUSED)
		return nfsb_fail(-ECONNREFUSED, "connection refused by %s (no NFS server there?)", nb->server);
	if (probe == -EHOSTUNREACH && strncmp(nfsb_errbuf, "cannot resolve", 14) == 0)
		return -EHOSTUNREACH;
	if (probe != 0)
		return nfsb_fail(-EHOSTUNREACH, "server %s is unreachable", nb->server);
	/* the server answers: a refusal is about us */
	if (rc == -EACCES || rc == -EPERM)
		return nfsb_fail(-EACCES, "permission denied by the server (%s)", detail);
	snprintf(nfsb_errbuf, sizeof(nfsb_errbuf), "NFS mount failed: %s", detail);
	return rc == -ENOMEM ? -ENOMEM : -EIO;
}

/* Split the URL into server and export (and check it). */
static int
nfsb_parse(struct backend_nfs *nb, const char *url)
{
	struct nfs_context *nfs;
	struct nfs_url *u;
	char version[8];
	int rc = 0;

	if (!backend_nfs_is_url(url))
		return nfsb_fail(-EINVAL, "bad NFS URL (expected nfs://SERVER/EXPORT[?version=3|4]): %s", url);
	nfsb_url_arg(url, "version", version, sizeof(version));
	if (version[0] != '\0' && strcmp(version, "3") != 0 && strcmp(version, "4") != 0)
		return nfsb_fail(-EINVAL, "bad NFS URL: version must be 3 or 4, not %s", version);
	nb->v4 = strcmp(version, "4") == 0;
	nfs = nfs_init_context();
	if (nfs == NULL)
		return -ENOMEM;
	u = nfs_parse_url_dir(nfs, url);
	if (u == NULL || u->server == NULL || u->server[0] == '\0' ||
	    u->path == NULL || u->path[0] != '/')
		rc = nfsb_fail(-EINVAL, "bad NFS URL (expected nfs://SERVER/EXPORT[?version=3|4]): %s", url);
	else {
		nb->server = strdup(u->server);
		nb->export = strdup(u->path);
		nb->url = strdup(url);
		if (nb->server == NULL || nb->export == NULL || nb->url == NULL)
			rc = -ENOMEM;
	}
	if (u != NULL)
		nfs_destroy_url(u);
	nfs_destroy_context(nfs);
	return rc;
}

/* A connection that breaks must not kill the server with SIGPIPE. */
static void
nfsb_ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static int
nfsb_pool_open(struct backend_nfs *nb, unsigned int n)
{
	unsigned int i;
	int rc;

	nb->conns = calloc(n, sizeof(*nb->conns));
	if (nb->conns == NULL)
		return -ENOMEM;
	nb->nconn = n;
	for (i = 0; i < n; i++) {
		pthread_mutex_init(&nb->conns[i].lock, NULL);
		nb->conns[i].index = i;
	}
	for (i = 0; i < n; i++) {
		nb->conns[i].nfs = nfsb_context_open(nb, i, 0, &rc);
		if (nb->conns[i].nfs == NULL)
			return i == 0 ? nfsb_classify_mount_error(nb, rc) : -EIO;
	}
	return 0;
}

int
backend_nfs_new(const char *url, unsigned int pool_size, struct backend **out)
{
	struct backend_nfs *nb;
	struct backend_entry root;
	int rc;

	nfsb_errbuf[0] = '\0';
	if (pool_size == 0)
		pool_size = NFSB_POOL_DEFAULT;
	if (pool_size > NFSB_POOL_MAX)
		pool_size = NFSB_POOL_MAX;
	nb = calloc(1, sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	nb->base.ops = &nfsb_ops;
	nb->as_root = geteuid() == 0;
	pthread_mutex_init(&nb->files_lock, NULL);
	pthread_mutex_init(&nb->reused_lock, NULL);
	pthread_mutex_init(&nb->fh_lock, NULL);
	RB_INIT(&nb->reused);
	pthread_cond_init(&nb->files_idle, NULL);
	TAILQ_INIT(&nb->files);
	nfsb_ignore_sigpipe();
	rc = nfsb_parse(nb, url);
	if (rc == 0)
		rc = nfsb_pool_open(nb, pool_size);
	if (rc == 0) {
		rc = nfsb_root(&nb->base, &root);	/* is it a directory? */
		if (rc == 0)
			free(root.bdata);
		else if (rc == -ENOTDIR)
			nfsb_fail(rc, "export is not a directory: %s", nb->export);
		else
			nfsb_fail(rc, "cannot read the export's root: %s", strerror(-rc));
	}
	if (rc != 0) {
		if (nfsb_errbuf[0] == '\0')
			snprintf(nfsb_errbuf, sizeof(nfsb_errbuf), "%s", strerror(-rc));
		nfsb_destroy(&nb->base);
		return rc;
	}
	*out = &nb->base;
	return 0;
}
