/*
 * fs_int: what the files of the ops table (fs_entry.c, fs_file.c,
 * fs_dir.c, fs_xattr.c, fs_ops.c) share among themselves: the handlers
 * the table in fs_ops.c names, and the helpers more than one family uses.
 * Not for transports: they see share.h only.
 */
#ifndef FSBRIDGE_FS_INT_H
#define FSBRIDGE_FS_INT_H

#include <errno.h>
#include <sys/stat.h>

#include "share.h"

/* The share a request is for. */
#define SHARE(req) ((struct share *)fuse_req_userdata(req))

/* The inode a node id names, pinned; NULL for an id the server never
 * gave out (answered ESTALE).  fs_put drops the pin.  Counts the request
 * (a prefill in flight must not overwrite what the client does with it:
 * fs_prefill.c). */
static inline struct inode *
fs_inode(struct share *sh, fuse_ino_t ino)
{
	struct inode *in = inode_table_get(&sh->inodes, ino);

	if (in != NULL)
		__atomic_add_fetch(&in->requests, 1, __ATOMIC_RELAXED);
	return in;
}

/* A request that may change in's data or size (WRITE, SETATTR,
 * FALLOCATE, COPY_FILE_RANGE's target, CREATE of an existing file). */
static inline void
fs_note_write(struct inode *in)
{
	__atomic_add_fetch(&in->writes, 1, __ATOMIC_RELAXED);
}

/* The reply being made gives the client in's attributes st (an entry, a
 * READDIRPLUS entry, GETATTR, SETATTR): a listing may leave them out
 * while nothing happens to in (fs_dir.c).  Not a file with other links:
 * a change through a name in a directory nobody watches goes unseen. */
static inline void
fs_attrs_given(struct inode *in, const struct stat *st)
{
	uint64_t mark = S_ISDIR(st->st_mode) || st->st_nlink <= 1 ? inode_activity(in) + 1 : 0;

	__atomic_store_n(&in->attrs_mark, mark, __ATOMIC_RELAXED);
}

static inline void
fs_put(struct share *sh, struct inode *in)
{
	inode_table_put(&sh->inodes, in);
}

/* fs_inode for a request that names ino: NULL when it has been answered
 * ESTALE already. */
static inline struct inode *
fs_inode_or_estale(fuse_req_t req, struct share *sh, fuse_ino_t ino)
{
	struct inode *in = fs_inode(sh, ino);

	if (in == NULL)
		fuse_reply_err(req, ESTALE);
	return in;
}

/* fs_entry.c: nodes, entries and attributes as the client sees them. */
void fs_stat_to_client(const struct share *sh, struct stat *st);
bool fs_symlink_hidden(struct share *sh, struct inode *dir, struct inode *link);
double fs_entry_timeout(struct share *sh, struct inode *in);
int fs_entry_adopt(struct share *sh, struct inode *dir, const char *name,
    struct backend_entry *be, struct fuse_entry_param *e, struct inode **inp);
int fs_do_lookup(struct share *sh, struct inode *dir, const char *name,
    struct fuse_entry_param *e, struct inode **inp);
void fs_reply_entry_or_err(fuse_req_t req, struct share *sh, int rc,
    struct fuse_entry_param *e, struct inode *in);
int fs_check_vanished(struct share *sh, struct inode *in);

/* fs_file.c: open files and directories (handles), and what a write
 * clears (setuid/setgid). */
struct open_file *fs_file(struct share *sh, struct fuse_file_info *fi, bool is_dir);
struct open_file *fs_open_for(struct share *sh, fuse_ino_t ino, struct fuse_file_info *fi,
    int flags, unsigned int want, bool is_dir, int *err);
void fs_file_put(struct share *sh, struct open_file *f);
void fs_reply_open_or_err(fuse_req_t req, struct share *sh, struct inode *in, int rc,
    struct backend_file *bf, bool is_dir, struct fuse_file_info *fi, const struct stat *st);
void fs_kill_suidgid(fuse_req_t req, struct share *sh, struct inode *in, struct backend_file *bf);
void fs_release_common(fuse_req_t req, struct fuse_file_info *fi, bool is_dir);
void fs_fsync_common(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi,
    bool is_dir);

/* fs_access.c: the caller's host ids. */
int fs_cred(fuse_req_t req, struct backend_cred *cred);
uint32_t fs_caller_host_uid(fuse_req_t req);

/* fs_prefill.c: a listing (READDIRPLUS) of dir by the caller of req: how
 * to answer it (FS_LISTING_*); a read of nodeid at off and a lookup in dir
 * by the caller (does it use what it lists?).  Files to prefill go into
 * a job, submitted after the reply. */
#define FS_LISTING_FULL		0x1	/* entries (attributes) in every chunk */
#define FS_LISTING_PREFILL	0x2	/* and small files' data after it */
struct fs_prefill_job;
unsigned int fs_prefill_listing(struct share *sh, fuse_req_t req, uint64_t dir);
void fs_prefill_note_lookup(struct share *sh, fuse_req_t req, uint64_t dir);
void fs_prefill_note_read(struct share *sh, fuse_req_t req, uint64_t nodeid, off_t off);
struct fs_prefill_job *fs_prefill_job_new(void);
void fs_prefill_job_add(struct share *sh, struct fs_prefill_job *job, struct inode *in,
    const struct stat *st);
void fs_prefill_job_submit(struct share *sh, struct fs_prefill_job *job, bool delivered);

/* The handlers of fs_ops, by family. */
/* fs_entry.c */
void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi);
void fs_readlink(fuse_req_t req, fuse_ino_t ino);
/* fs_file.c */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf,
    off_t off, struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
    struct fuse_file_info *fi);
void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
    struct fuse_file_info *fi);
void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
    struct fuse_file_info *fi_out, size_t len, int flags);
/* fs_dir.c */
void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags);
void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* fs_xattr.c */
void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
    size_t size, int flags);
void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
