/*
 * fs_file: open files: OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC,
 * FALLOCATE, LSEEK, COPY_FILE_RANGE; the handles (registered, or opened
 * for one request in no-open mode), and the setuid/setgid bits a write
 * clears for the client.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"
#include "fs_passthrough.h"

__thread bool fs_request_kill_suidgid;

struct open_file *
fs_file(struct share *sh, struct fuse_file_info *fi, bool is_dir)
{
	if (fi == NULL)
		return NULL;
	return file_table_get(&sh->files, fi->fh, is_dir);
}

/*
 * The open file or directory a request names.  In no-open mode the
 * kernel sends no OPEN or OPENDIR (after our first ENOSYS), and requests
 * on such files carry file handle 0: the inode is opened for this one
 * request and closed again by fs_file_put.  NULL: *err says why.
 */
struct open_file *
fs_open_for(struct share *sh, fuse_ino_t ino, struct fuse_file_info *fi, int flags,
    unsigned int want, bool is_dir, int *err)
{
	struct open_file *f;
	struct inode *in;
	int rc;

	*err = EBADF;
	if (fi != NULL && fi->fh != 0) {
		f = fs_file(sh, fi, is_dir);
		/* in no-open mode a created file's handle may have been
		 * closed (fs_created_keep); handles are never reused, so an
		 * unknown one is served like handle 0 */
		if (f != NULL || !sh->no_open)
			return f;
	}
	if (!sh->no_open)
		return NULL;
	in = fs_inode(sh, ino);
	if (in == NULL) {
		*err = ESTALE;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	rc = fs_check_access(sh, in, want);
	if (rc != 0)
		;
	else if (f == NULL)
		rc = -ENOMEM;
	else if (is_dir)
		rc = S_ISDIR(in->type) ? sh->backend->ops->opendir(sh->backend, in, &f->bf) : -ENOTDIR;
	else
		rc = S_ISREG(in->type) ? sh->backend->ops->open(sh->backend, in, flags, &f->bf) : -EBADF;
	if (rc != 0) {
		*err = -rc;
		free(f);
		fs_put(sh, in);
		return NULL;
	}
	f->inode = in;		/* the pin from fs_inode, dropped by fs_file_put */
	f->refs = 1;
	f->is_dir = is_dir;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

static struct open_file *
fs_file_for(struct share *sh, fuse_ino_t ino, struct fuse_file_info *fi, int flags, int *err)
{
	struct open_file *f = fs_open_for(sh, ino, fi, flags, fs_access_of_flags(flags), false, err);

	if (f != NULL && (flags & O_ACCMODE) != O_RDONLY)
		fs_note_write(f->inode);
	return f;
}

void
fs_file_put(struct share *sh, struct open_file *f)
{
	if (f == NULL || !file_table_put(&sh->files, f))
		return;
	if (f->fh != 0) {	/* registered by fs_file_register */
		pthread_mutex_lock(&sh->inodes.lock);
		f->inode->opens--;
		if (f->passthrough)
			fs_passthrough_drop(sh, f->inode);
		pthread_mutex_unlock(&sh->inodes.lock);
	}
	if (f->is_dir)
		sh->backend->ops->releasedir(sh->backend, &f->bf);
	else
		sh->backend->ops->release(sh->backend, &f->bf);
	pthread_mutex_destroy(&f->lock);
	fs_put(sh, f->inode);
	free(f);
}

/*
 * Is the caller of req in the group host_gid (client view): its gid or one
 * of its supplementary groups, where the transport can tell them (the
 * host mount; a guest's are unknown: its gid alone)?
 */
static bool
fs_caller_in_group(fuse_req_t req, uint32_t host_gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct share *sh = SHARE(req);
	gid_t groups[64];
	uint32_t gid;
	int i, n;

	if (!policy_gid_has_client(&sh->policy, host_gid))
		return false;
	gid = policy_gid_to_client(&sh->policy, host_gid);
	if (ctx->gid == gid)
		return true;
	/* a guest's pid names no process here */
	n = sh->host_pids ? fuse_req_getgroups(req, 64, groups) : 0;
	for (i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * What the client kernel would do for a writer without CAP_FSETID, done
 * here because it asked (fs_request_kill_suidgid): a regular file loses
 * its setuid bit, and its setgid bit if it is group-executable or, as a
 * local disk does since Linux 6.2, if the writer is not in its group.
 * That last rule only where the writer's groups are known (the host
 * mount): a guest's supplementary groups are not, and the guest kernels
 * launch boots (6.1) keep the bit on their own disks, as the protocol does.
 * The host's own kernel does not do it for us when the server may keep
 * the bits (it runs as root).  Best effort: a file that cannot be changed
 * keeps its mode, as the write itself would then fail too.
 */
void
fs_kill_suidgid(fuse_req_t req, struct share *sh, struct inode *in, struct backend_file *bf)
{
	struct backend_setattr sa = { .valid = FSB_SET_MODE };
	struct stat st;
	mode_t kill = S_ISUID;

	if (!fs_request_kill_suidgid || !S_ISREG(in->type) ||
	    sh->backend->ops->getattr(sh->backend, in, &st) != 0)
		return;
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) ||
	    ((st.st_mode & S_ISGID) && sh->host_pids && !fs_caller_in_group(req, st.st_gid)))
		kill |= S_ISGID;
	if ((st.st_mode & kill) == 0)
		return;
	sa.mode = st.st_mode & 07777 & ~kill;
	/* the kernel keeps the mode it had cached (a host mount's writeback
	 * path asks for no fresh attributes after the write): tell it */
	if (sh->backend->ops->setattr(sh->backend, in, bf, &sa, &st) == 0 && sh->se != NULL)
		fuse_lowlevel_notify_inval_inode(sh->se, in->nodeid, -1, 0);
}

/* Register an open file and set the cache flags of its reply (and, for a
 * file, whether it names a passthrough backing file: fs_passthrough.c;
 * the reply must follow at once). */
static int
fs_file_register(struct share *sh, struct inode *in, struct backend_file *bf,
    bool is_dir, struct fuse_file_info *fi, const struct stat *st)
{
	struct open_file *f;
	int backing_id = 0;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	inode_table_pin(&sh->inodes, in);
	pthread_mutex_lock(&sh->inodes.lock);
	if (!is_dir)
		backing_id = fs_passthrough_take(sh, in, bf, st);
	in->opens++;
	pthread_mutex_unlock(&sh->inodes.lock);
	f->passthrough = backing_id > 0;
	f->inode = in;
	f->bf = *bf;
	f->is_dir = is_dir;
	pthread_mutex_init(&f->lock, NULL);
	fi->fh = file_table_add(&sh->files, f);
	switch (sh->policy.cache) {
	case POLICY_CACHE_NONE:
		/* no direct_io: shared mmap must keep working */
		fi->keep_cache = 0;
		break;
	case POLICY_CACHE_AUTO:
		fi->keep_cache = st != NULL && inode_table_same_data(&sh->inodes, in, st);
		break;
	case POLICY_CACHE_ALWAYS:
		fi->keep_cache = 1;
		/* not under deny: a listing must leave out a link that a
		 * rename elsewhere made lead out (fs_entry_timeout) */
		fi->cache_readdir = is_dir && sh->policy.symlinks != POLICY_SYMLINKS_DENY;
		break;
	}
	if (f->passthrough) {
		/* pages cached by earlier ordinary opens go */
		fi->keep_cache = 0;
		sh->passthrough->reply_with(backing_id);
	}
	return 0;
}

/* Flags a read-only share must refuse. */
static int
fs_check_open_flags(const struct share *sh, int flags)
{
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return policy_check_write(&sh->policy);
	return 0;
}

/* With writeback caching the kernel may read pages of a file opened
 * write-only, and it handles O_APPEND itself. */
static int
fs_open_flags(const struct share *sh, int flags)
{
	if (sh->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

/*
 * The end of OPEN and OPENDIR: on success (rc 0) register the backend's
 * open file bf and reply with its handle; drop the pin on in.
 */
void
fs_reply_open_or_err(fuse_req_t req, struct share *sh, struct inode *in, int rc,
    struct backend_file *bf, bool is_dir, struct fuse_file_info *fi, const struct stat *st)
{
	if (rc == 0) {
		rc = fs_file_register(sh, in, bf, is_dir, fi, st);
		if (rc != 0 && is_dir)
			sh->backend->ops->releasedir(sh->backend, bf);
		else if (rc != 0)
			sh->backend->ops->release(sh->backend, bf);
	}
	fs_put(sh, in);
	if (rc != 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_open(req, fi);
}

void
fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct backend_file bf;
	bool have_st = false;
	struct inode *in;
	struct stat st;
	int rc;

	if (sh->no_open) {
		/* the kernel stops sending OPEN and keeps the page cache:
		 * the watcher drops it when the file changes on the host */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	rc = S_ISDIR(in->type) ? -EISDIR : policy_check_open_type(in->type);
	if (rc == 0)
		rc = fs_check_open_flags(sh, fi->flags);
	if (rc == 0)
		rc = fs_check_access(sh, in, fs_access_of_flags(fi->flags));
	if (rc == 0)
		rc = fs_check_vanished(sh, in);
	if (rc == 0)
		rc = sh->backend->ops->open(sh->backend, in, fs_open_flags(sh, fi->flags), &bf);
	if (rc == 0 && (fi->flags & O_TRUNC))
		fs_kill_suidgid(req, sh, in, &bf);
	if (rc == 0 && sh->backend->ops->getattr(sh->backend, in, &st) == 0)
		have_st = true;
	fs_reply_open_or_err(req, sh, in, rc, &bf, false, fi, have_st ? &st : NULL);
}

/*
 * In no-open mode the kernel sends no RELEASE once an OPEN has been
 * answered ENOSYS, not even for files opened by CREATE, whose handles
 * would then stay open for good.  The newest SHARE_CREATED_MAX of them stay
 * open (a file is usually written right after its creation, through the
 * descriptor that created it, whatever its mode); the oldest is closed to
 * make room, and a request that still names it is served by opening the
 * inode for that request, as for handle 0.
 */
static void
fs_created_keep(struct share *sh, uint64_t fh)
{
	struct open_file *old;
	uint64_t old_fh;

	pthread_mutex_lock(&sh->created_lock);
	old_fh = sh->created[sh->created_next];
	sh->created[sh->created_next] = fh;
	sh->created_next = (sh->created_next + 1) % SHARE_CREATED_MAX;
	pthread_mutex_unlock(&sh->created_lock);
	if (old_fh == 0)
		return;
	old = file_table_remove(&sh->files, old_fh, false);	/* NULL: released */
	fs_file_put(sh, old);
}

void
fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct fuse_entry_param e;
	struct backend_entry be;
	struct backend_file bf;
	struct backend_cred cred;
	struct inode *dir, *in = NULL;
	uint64_t fh;
	int rc;

	dir = fs_inode_or_estale(req, sh, parent);
	if (dir == NULL)
		return;
	rc = policy_check_name(name);
	if (rc == 0)
		rc = policy_check_create_type(&sh->policy, S_IFREG | mode);
	if (rc == 0 && fs_hide_name(sh, dir, name))
		rc = -EACCES;
	if (rc == 0)
		rc = fs_cred(req, &cred);
	if (rc == 0)
		rc = fs_check_access(sh, dir, W_OK | X_OK);
	if (rc == 0) {
		fs_watch_self_begin(sh, dir, NULL);
		rc = sh->backend->ops->create(sh->backend, dir, name,
		    policy_filter_mode(&sh->policy, mode) & 07777,
		    fs_open_flags(sh, fi->flags), &cred, &be, &bf);
		fs_watch_self_end(sh, dir, NULL);
	}
	if (rc == 0) {
		rc = fs_entry_adopt(sh, dir, name, &be, &e, &in);
		if (rc != 0)
			sh->backend->ops->release(sh->backend, &bf);
		else
			fs_note_write(in);	/* an existing file, maybe truncated */
	}
	if (rc == 0 && fs_request_kill_suidgid && (e.attr.st_mode & (S_ISUID | S_ISGID))) {
		/* an existing file opened with O_TRUNC (no O_EXCL) */
		fs_kill_suidgid(req, sh, in, &bf);
		(void)sh->backend->ops->getattr(sh->backend, in, &e.attr);
		fs_stat_to_client(sh, &e.attr);
	}
	if (rc == 0) {
		rc = fs_file_register(sh, in, &bf, false, fi, &e.attr);
		if (rc != 0) {
			sh->backend->ops->release(sh->backend, &bf);
			inode_table_forget(&sh->inodes, in->nodeid, 1);
		}
	}
	fs_put(sh, dir);
	if (rc != 0) {
		if (in != NULL)
			fs_put(sh, in);
		fuse_reply_err(req, -rc);
		return;
	}
	fh = fi->fh;
	fuse_reply_create(req, &e, fi);
	fs_put(sh, in);
	if (sh->no_open)
		fs_created_keep(sh, fh);
}

void
fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err;
	ssize_t n;
	char *buf;

	f = fs_file_for(sh, ino, fi, O_RDONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	fs_prefill_note_read(sh, req, ino, off);
	if (f->bf.fd >= 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->bf.fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, 0);
		fs_file_put(sh, f);
		return;
	}
	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL) {
		fs_file_put(sh, f);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = sh->backend->ops->read(sh->backend, &f->bf, buf, size, off);
	fs_file_put(sh, f);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void
fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf,
    off_t off, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	struct open_file *f;
	int err;
	bool writing;
	ssize_t n;

	f = fs_file_for(sh, ino, fi, O_WRONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	n = policy_check_write(&sh->policy);
	writing = n == 0;
	if (writing) {
		fs_watch_self_begin(sh, f->inode, NULL);
		fs_kill_suidgid(req, sh, f->inode, &f->bf);
	}
	if (n == 0 && f->bf.fd >= 0) {
		struct stat before, after;
		bool track = sh->policy.cache == POLICY_CACHE_AUTO &&
		    fstat(f->bf.fd, &before) == 0;

		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = f->bf.fd;
		out.buf[0].pos = off;
		n = fuse_buf_copy(&out, in_buf, 0);
		/* the client's pages now hold what it wrote: a later open
		 * may keep them if nobody else wrote meanwhile */
		if (track && n >= 0 && fstat(f->bf.fd, &after) == 0)
			inode_table_data_written(&sh->inodes, f->inode, &before, &after);
	} else if (n == 0) {
		void *mem = malloc(out.buf[0].size > 0 ? out.buf[0].size : 1);

		out.buf[0].mem = mem;
		n = mem == NULL ? -ENOMEM : fuse_buf_copy(&out, in_buf, 0);
		if (n > 0)
			n = sh->backend->ops->write(sh->backend, &f->bf, mem, (size_t)n, off);
		free(mem);
	}
	if (writing)
		fs_watch_self_end(sh, f->inode, NULL);
	fs_file_put(sh, f);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/*
 * Locks stay in the client's kernel and writes are written through at
 * once, so a backend without a flush has nothing to do at close: ENOSYS
 * makes the kernel stop sending FLUSH (one round trip less per close).
 */
void
fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int rc;

	if (sh->backend->ops->flush == NULL) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	f = fs_file(sh, fi, false);
	if (f == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	rc = sh->backend->ops->flush(sh->backend, &f->bf);
	fs_file_put(sh, f);
	fuse_reply_err(req, -rc);
}

void
fs_release_common(fuse_req_t req, struct fuse_file_info *fi, bool is_dir)
{
	struct share *sh = SHARE(req);
	struct open_file *f;

	f = file_table_remove(&sh->files, fi->fh, is_dir);
	fs_file_put(sh, f);
	fuse_reply_err(req, 0);
}

void
fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_release_common(req, fi, false);
}

void
fs_fsync_common(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi,
    bool is_dir)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err = EBADF;

	f = fs_open_for(sh, ino, fi, O_RDONLY, 0, is_dir, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	err = is_dir ? sh->backend->ops->fsyncdir(sh->backend, &f->bf, datasync != 0) :
	    sh->backend->ops->fsync(sh->backend, &f->bf, datasync != 0);
	fs_file_put(sh, f);
	fuse_reply_err(req, -err);
}

void
fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs_fsync_common(req, ino, datasync, fi, false);
}

void
fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err;
	int rc;

	f = fs_file_for(sh, ino, fi, O_WRONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	rc = policy_check_write(&sh->policy);
	if (rc == 0) {
		fs_watch_self_begin(sh, f->inode, NULL);
		rc = sh->backend->ops->fallocate(sh->backend, &f->bf, mode, offset, length);
		fs_watch_self_end(sh, f->inode, NULL);
	}
	fs_file_put(sh, f);
	fuse_reply_err(req, -rc);
}

void
fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
    struct fuse_file_info *fi)
{
	struct share *sh = SHARE(req);
	struct open_file *f;
	int err;
	off_t r;

	f = fs_file_for(sh, ino, fi, O_RDONLY, &err);
	if (f == NULL) {
		fuse_reply_err(req, err);
		return;
	}
	r = sh->backend->ops->lseek(sh->backend, &f->bf, off, whence);
	fs_file_put(sh, f);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, r);
}

void
fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
    struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct share *sh = SHARE(req);
	struct open_file *in, *out;
	int err_in = EBADF, err_out = EBADF;
	ssize_t n;

	in = fs_file_for(sh, ino_in, fi_in, O_RDONLY, &err_in);
	out = fs_file_for(sh, ino_out, fi_out, O_WRONLY, &err_out);
	n = in == NULL ? -err_in : out == NULL ? -err_out : policy_check_write(&sh->policy);
	if (n == 0) {
		fs_watch_self_begin(sh, out->inode, NULL);
		n = sh->backend->ops->copy_file_range(sh->backend, &in->bf, off_in,
		    &out->bf, off_out, len, (unsigned int)flags);
		fs_watch_self_end(sh, out->inode, NULL);
	}
	fs_file_put(sh, out);
	fs_file_put(sh, in);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}
