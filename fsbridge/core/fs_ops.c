/*
 * fs_ops: the libfuse low-level operations table, the one implementation
 * of every file operation for both transports, and the share's life:
 * share_init, share_set_client (how a host mount and a guest are served),
 * share_destroy; what it asks of the client kernel at INIT, and statfs.  The handlers live by family: fs_entry.c (lookup, forget,
 * getattr, setattr, readlink), fs_file.c (open files: open, create, read,
 * write, flush, release, fsync, fallocate, lseek, copy_file_range),
 * fs_dir.c (names and listings: mknod, mkdir, symlink, link, unlink,
 * rmdir, rename, opendir, readdir(plus), releasedir, fsyncdir) and
 * fs_xattr.c.
 *
 * Each handler: validates what came from the client (node ids and file
 * handles through their tables, names as single components), asks the
 * share policy, calls the backend, maps ids, and replies.  No handler
 * builds a host path: names go to the backend with the inode they are
 * relative to.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs_int.h"

/* Cache timeouts, in seconds (see fsbridge(1), "cache="). */
#define FS_TIMEOUT_WATCHED	86400.0	/* changes are reported: as long as we like */
#define FS_TIMEOUT_FALLBACK	1.0	/* nobody reports changes here */
#define FS_TIMEOUT_ALWAYS	86400.0

static void
fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct share *sh = SHARE(req);
	struct statvfs sv;
	struct inode *in;
	int rc;

	in = fs_inode(sh, ino);
	if (in == NULL)
		in = fs_inode(sh, FUSE_ROOT_ID);
	rc = sh->backend->ops->statfs(sh->backend, in, &sv);
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void
fs_init_conn(void *userdata, struct fuse_conn_info *conn)
{
	struct share *sh = userdata;

	/* not under deny: READLINK must be asked, and may be refused, each
	 * time (fs_readlink_allowed) */
	if ((conn->capable & FUSE_CAP_CACHE_SYMLINKS) && sh->policy.symlinks != POLICY_SYMLINKS_DENY)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (sh->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else {
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
		sh->writeback = false;
	}
	/* where no watcher reports changes, the kernel compares mtime and
	 * size at each revalidation and drops stale pages itself */
	if (sh->auto_inval_data && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA))
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	else
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* flock and POSIX locks stay with the client's kernel */
	conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	/* without OPEN the server cannot truncate at open: let the kernel
	 * send a SETATTR for O_TRUNC instead */
	if (sh->no_open)
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* READDIRPLUS_AUTO sends only a listing's first chunk with
	 * attributes (glibc reads all chunks before the caller can stat
	 * anything); where a round trip costs far more than a bigger
	 * listing, every chunk carries them and later stats find the cache */
	if (sh->readdirplus_all)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* small files: a plain copy beats setting up a pipe to splice */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init_conn,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write_buf = fs_write_buf,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.copy_file_range = fs_copy_file_range,
};

static void
fs_release_inode(void *ctx, struct inode *in)
{
	struct share *sh = ctx;

	fs_watch_dir_freed(sh, in);
	if (in->bdata != NULL)
		sh->backend->ops->node_release(sh->backend, in->bdata);
}

int
share_init(struct share *sh, const struct policy *policy, struct backend *backend)
{
	struct backend_entry root;
	int rc;

	memset(sh, 0, sizeof(*sh));
	sh->auto_inval_data = true;
	sh->policy = *policy;
	sh->backend = backend;
	rc = backend->ops->root(backend, &root);
	if (rc != 0)
		return rc;
	rc = inode_table_init(&sh->inodes, root.st.st_dev, root.st.st_ino,
	    root.bdata, fs_release_inode, sh);
	if (rc != 0) {
		backend->ops->node_release(backend, root.bdata);
		return rc;
	}
	backend->ops->attach(backend, &sh->inodes);
	rc = fs_hide_start(sh);
	if (rc != 0) {
		inode_table_destroy(&sh->inodes);
		return rc;
	}
	file_table_init(&sh->files);
	sh->hint_fd = -1;
	pthread_mutex_init(&sh->created_lock, NULL);
	switch (policy->cache) {
	case POLICY_CACHE_NONE:
		sh->entry_timeout = sh->attr_timeout = sh->negative_timeout = 0;
		sh->fallback_timeout = 0;
		break;
	case POLICY_CACHE_AUTO:
		/* long where the watcher reports changes, short elsewhere */
		sh->entry_timeout = sh->attr_timeout = FS_TIMEOUT_WATCHED;
		sh->negative_timeout = FS_TIMEOUT_WATCHED;
		sh->fallback_timeout = FS_TIMEOUT_FALLBACK;
		break;
	case POLICY_CACHE_ALWAYS:
		sh->entry_timeout = sh->attr_timeout = FS_TIMEOUT_ALWAYS;
		sh->negative_timeout = sh->fallback_timeout = FS_TIMEOUT_ALWAYS;
		sh->writeback = !policy->read_only;
		break;
	}
	return 0;
}

void
share_set_client(struct share *sh, const struct share_client *client)
{
	bool guest = client->kind == SHARE_CLIENT_GUEST;
	enum policy_cache cache = sh->policy.cache;

	if (client->revalidate >= 0 && cache == POLICY_CACHE_AUTO)
		sh->fallback_timeout = client->revalidate;
	if (!guest) {
		/* with host changes reported, the kernel may keep pages
		 * without asking at every open */
		sh->no_open = cache != POLICY_CACHE_NONE;
		sh->host_pids = true;
		/* the kernel asks for every chunk of a listing with
		 * attributes; the server gives them where they save
		 * round trips (fs_dir.c: fs_do_readdir, fs_prefill.c) */
		sh->readdirplus_all = true;
		sh->listing_lean = true;
		return;
	}
	/* a guest hears of no host change: only cache=always (nobody else
	 * changes the tree) lets its kernel skip OPEN and keep pages */
	sh->no_open = cache == POLICY_CACHE_ALWAYS;
	/* ... and a file deleted or replaced on the host is ESTALE to it,
	 * so that it walks the path again (fs_vanished) */
	sh->estale_vanished = cache != POLICY_CACHE_ALWAYS;
	/* a guest's round trip costs hundreds of µs: a listing carries the
	 * attributes of all its entries */
	sh->readdirplus_all = true;
	/* no writeback cache for a guest: with it the kernel marks a file's
	 * block count stale at every close (fuse_flush), so the next stat()
	 * is a GETATTR, and it sends a SETATTR for the times at every close
	 * after a write and at every unlink */
	sh->writeback = false;
	/* a guest's file data is checked at each OPEN instead (keep_cache
	 * only while mtime and size are what it last read or wrote; with
	 * cache=always nobody else writes): the kernel's own mtime check at
	 * each attribute refresh would drop the pages of every file it has
	 * written, whose cached mtime stays the one of its creation (without
	 * writeback caching a guest does not update times itself).  A size
	 * change still drops them. */
	sh->auto_inval_data = false;
	/* hints only where names are cached long enough to need them; the
	 * transport drops the fd again if no watcher can be started */
	if (client->hint_fd >= 0 && cache == POLICY_CACHE_AUTO)
		sh->hint_fd = client->hint_fd;
}

void
share_destroy(struct share *sh)
{
	struct open_file *f;

	fs_watch_stop(sh);
	fs_prefill_destroy(sh);
	/* whatever the client left open (a guest that went away, handles
	 * of created files in no-open mode) */
	while ((f = file_table_remove_any(&sh->files)) != NULL)
		fs_file_put(sh, f);
	pthread_mutex_destroy(&sh->created_lock);
	inode_table_destroy(&sh->inodes);
	fs_hide_stop(sh);
	sh->backend->ops->destroy(sh->backend);
}
