/*
 * share: one served share (struct share): its policy, backend, inode and
 * file tables, and the libfuse low-level ops table that serves it
 * (fs_ops).  Both transports (the host FUSE mount, the vhost-user device)
 * hand requests to the same session built from fs_ops.
 *
 * Names: share_* set a share up and tear it down; fs_* is the file
 * server working on one (the ops and their helpers in core/fs_*.c).  A
 * node id or file handle the server never gave out (or no longer knows)
 * is answered ESTALE.
 */
#ifndef FSBRIDGE_SHARE_H
#define FSBRIDGE_SHARE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "backend.h"
#include "file_table.h"
#include "inode_table.h"
#include "policy.h"
#include "watch.h"

/* Created files' handles kept open in no-open mode (a ring). */
#define SHARE_CREATED_MAX 256

struct share {
	struct policy policy;
	struct backend *backend;
	struct inode_table inodes;
	struct file_table files;
	double entry_timeout;	/* for entries whose changes are reported */
	double attr_timeout;
	double negative_timeout;
	double fallback_timeout;	/* for entries nobody watches */
	bool writeback;
	bool no_open;		/* answer OPEN with ENOSYS: the kernel then opens nothing */
	bool estale_vanished;	/* ESTALE for a node whose file has no name left
				 * and that the client has not open: a guest
				 * (no notifications) then walks the path again */
	bool auto_inval_data;	/* the kernel drops a file's pages when a fresh
				 * mtime differs (not for guests: OPEN checks) */
	bool readdirplus_all;	/* the kernel asks for every listing chunk with
				 * attributes, not the first only */
	bool listing_lean;	/* ... and gets them in a chunk after the first
				 * only for a process that reads what it lists
				 * (fs_prefill); others get names and types */
	bool host_pids;		/* requests' pids are this host's (the host mount):
				 * fuse_req_getgroups tells a caller's groups */
	/* no-open mode: handles of created files, oldest first (see
	 * fs_create); a kernel that knows no-open never releases them */
	pthread_mutex_t created_lock;
	uint64_t created[SHARE_CREATED_MAX];
	unsigned int created_next;
	bool debug;
	int hint_fd;		/* fs_hint.c: where a guest agent reads changes, or -1 */
	/* host change tracking (fs_watch.c) */
	struct watcher *watcher;
	struct fuse_session *se;	/* where kernel notifications go, or NULL */
	bool self_stamps;	/* filter own changes by ctime (no pid in events) */
	unsigned long notify_inode_count;
	unsigned long notify_entry_count;
	/* hidden subtrees (fs_hide.c): identities of the nodes on the
	 * rules' paths and of hidden ones */
	struct fs_hide_ids *hide_ids;
	pthread_rwlock_t hide_lock;
	unsigned long hide_nids;
	/* FUSE passthrough (fs_passthrough.c): set by a transport that has
	 * it, NULL where every read and write comes to the server */
	struct fs_passthrough *passthrough;
	/* small files pushed into the host client's page cache after a
	 * listing (fs_prefill.c), NULL: never */
	struct fs_prefill *prefill;
};

extern const struct fuse_lowlevel_ops fs_ops;

/* Set up a share over a backend (the share takes the backend over). */
int share_init(struct share *sh, const struct policy *policy, struct backend *backend);
void share_destroy(struct share *sh);

/* Who the share is served to, and the options that shape how. */
enum share_client_kind {
	SHARE_CLIENT_HOST,	/* a FUSE mount on this host: its kernel takes
				 * notifications, its pids are ours */
	SHARE_CLIENT_GUEST,	/* a QEMU guest over virtio-fs: no notifications */
};

struct share_client {
	enum share_client_kind kind;
	double revalidate;	/* cache=auto: how long entries nobody reports
				 * changes of stay cached; <0: the default */
	int hint_fd;		/* a guest's agent reads changes here (fs_hint.c),
				 * or -1 */
};

/* Set a new share up for its client (after share_init, before serving):
 * the no-open, writeback, data-invalidation, listing and ESTALE modes,
 * the fallback timeout and the hint fd. */
void share_set_client(struct share *sh, const struct share_client *client);

/* fs_watch.c: start reporting host changes of the share (kind NONE: no
 * watcher; every entry gets the fallback timeout).  se: the session to
 * notify, or NULL when the transport cannot take notifications. */
int fs_watch_start(struct share *sh, enum watch_kind kind, struct fuse_session *se);
void fs_watch_stop(struct share *sh);
/* A directory inode the client now knows (watch it if needed). */
void fs_watch_dir_added(struct share *sh, struct inode *in);
void fs_watch_dir_freed(struct share *sh, struct inode *in);
/* The server itself is about to change a (and b, may be NULL) / has
 * changed them: events seen meanwhile, or finding the ctime the change
 * left, are not taken for host changes. */
void fs_watch_self_begin(struct share *sh, struct inode *a, struct inode *b);
void fs_watch_self_end(struct share *sh, struct inode *a, struct inode *b);
/* The timeout for an entry/attributes of in. */
double fs_watch_timeout(struct share *sh, struct inode *in);

/* fs_prefill.c: follow what host processes do with what they list (after
 * share_init; store: push small files' data to those that read them);
 * stop its thread before the session goes, while requests are still
 * answered (share_destroy also stops it, and frees it). */
int fs_prefill_init(struct share *sh, bool store);
/* false if its thread did not end within timeout_ms (-1: wait) */
bool fs_prefill_stop(struct share *sh, int timeout_ms);
void fs_prefill_destroy(struct share *sh);

/* fs_hide.c: hidden subtrees (policy hide=PATH).  Start: walk the rules
 * from the root and mark what exists of them. */
int fs_hide_start(struct share *sh);
void fs_hide_stop(struct share *sh);
/* The entry dir/name, found with attributes st: hidden?  If not, *at is
 * its rule position (for fs_hide_set_pos), NULL if none. */
bool fs_hide_entry(struct share *sh, struct inode *dir, const char *name,
    const struct stat *st, const char **at);
/* A listed entry (d_ino on dir's device): hidden? */
bool fs_hide_dirent(struct share *sh, struct inode *dir, const char *name, uint64_t ino);
/* A name a mutation is about to use: hidden by its name, or the node
 * there by its identity? */
bool fs_hide_name(struct share *sh, struct inode *dir, const char *name);
/* Give an inode its rule position (the first one set stays). */
void fs_hide_set_pos(struct share *sh, struct inode *in, const char *at);

/* The inode now at dir/name on the backend, pinned, if the client knows
 * it; NULL otherwise (fs_entry.c). */
struct inode *fs_find_child(struct share *sh, struct inode *dir, const char *name);

/* A host change a client cannot be notified of, written to sh->hint_fd
 * (fs_hint.c): kinds (WATCH_K_*) of the entry name of nodeid, or of
 * nodeid itself when name is NULL; cookie pairs a rename's halves. */
void fs_hint(struct share *sh, uint64_t nodeid, const char *name, unsigned int kinds,
    bool is_dir, uint32_t cookie);
/* The server lost track of host changes: the reader drops everything. */
void fs_hint_lost(struct share *sh);

/* fs_access.c: the server's own checks for nodes whose host owner (or
 * group) has no client id; each is 0 at once when the share has no id
 * map.  want: R_OK, W_OK, X_OK bits.  0, -EACCES or -EPERM (or the error
 * of reading the node's attributes). */
int fs_check_access(struct share *sh, struct inode *in, unsigned int want);
/* The access an open with these flags asks for. */
unsigned int fs_access_of_flags(int flags);
/* setattr: the owner's rights for mode, ids and explicit times; write
 * access for a size or times set to now. */
int fs_check_setattr(struct share *sh, struct inode *in, int to_set);
/* setxattr/removexattr (set) or getxattr of name on in. */
int fs_check_xattr(struct share *sh, struct inode *in, const char *name, bool set);
/* Removing (or renaming away, or over) dir/name: write and search on dir,
 * and in a sticky dir a foreign node only by the directory's owner
 * (caller_host_uid: the caller's host uid, or UINT32_MAX for none). */
int fs_check_removal(struct share *sh, struct inode *dir, const char *name,
    uint32_t caller_host_uid);

/*
 * Set by a transport for the request handled on this thread: the client
 * left it to the server to clear a regular file's setuid bit (and setgid
 * with group execute) because the writer lacks CAP_FSETID, or because of
 * a chown (FUSE_HANDLE_KILLPRIV_V2: WRITE's FUSE_WRITE_KILL_SUIDGID,
 * SETATTR's FATTR_KILL_SUIDGID, OPEN's and CREATE's FUSE_OPEN_KILL_SUIDGID).
 * libfuse does not pass these flags on.  A client that never negotiated
 * the feature leaves it false and clears the bits itself.
 */
extern __thread bool fs_request_kill_suidgid;

#endif
