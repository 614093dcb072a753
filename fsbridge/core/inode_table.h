/*
 * inode_table: the server's inodes, keyed both by the FUSE node id the
 * client holds and by the backend identity (dev, ino) of the file.
 *
 * Node ids are a counter, never pointers: an id from a hostile client is
 * looked up, never dereferenced.  An inode lives while the client holds
 * lookups on it (nlookup) or the server pins it (a request in flight, or a
 * child whose last-known parent it is).  Each inode remembers its
 * last-known parent and name so a backend can re-open it from there after
 * its fd was evicted.
 */
#ifndef FSBRIDGE_INODE_TABLE_H
#define FSBRIDGE_INODE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/cdefs.h>
#include <sys/tree.h>

#define INODE_SELF_CTIMES 4

struct inode {
	RB_ENTRY(inode) by_nodeid;
	RB_ENTRY(inode) by_key;
	uint64_t nodeid;
	uint64_t key_dev;
	uint64_t key_ino;
	mode_t type;		/* S_IFMT bits */
	uint64_t nlookup;	/* references the client holds */
	uint64_t pins;		/* server-side references */
	struct inode *parent;	/* last-known parent (pinned), NULL for root */
	char *name;		/* last-known name in parent */
	void *bdata;		/* the backend's per-inode state */
	/* its place on the hide rules' paths (fs_hide.c), NULL: none;
	 * set once, read with __atomic_load_n */
	const char *hide_at;
	/* the data version the client last opened: (mtime, size), for
	 * keep-cache decisions; guarded by the table lock */
	struct timespec seen_mtime;
	off_t seen_size;
	bool seen;
	/* host change tracking (fs_watch.c), guarded by the table lock */
	bool watched;		/* a directory the watcher reports on */
	bool covered;		/* changes to it are reported (its parent is watched) */
	bool stale;		/* deleted on the host */
	unsigned int opens;	/* the client's open handles on it (fs_file.c) */
	bool client_removed;	/* the client unlinked it or renamed over it */
	uint64_t changes;	/* host changes seen so far (atomic) */
	uint64_t requests;	/* client requests naming it (fs_inode), atomic */
	uint64_t writes;	/* ... that change its data or size (fs_note_write) */
	/* inode_activity() + 1 when the client was last given its
	 * attributes (fs_attrs_given), 0: never; atomic */
	uint64_t attrs_mark;
	/* ctimes the server's own last changes left, newest at
	 * self_ctime_next - 1 (a ring) */
	struct timespec self_ctime[INODE_SELF_CTIMES];
	unsigned int self_ctime_next;
	unsigned int self_busy;		/* own changes under way */
	/* passthrough opens of it and their shared backing file
	 * (fs_passthrough.c), guarded by the table lock */
	unsigned int backing_opens;
	int backing_id;
};

/* What has happened to an inode: client requests naming it, writes,
 * host changes.  Unchanged since the client got its attributes, the
 * client's copy is as current as the server's would be. */
static inline uint64_t
inode_activity(const struct inode *in)
{
	return __atomic_load_n(&in->requests, __ATOMIC_RELAXED) +
	    __atomic_load_n(&in->writes, __ATOMIC_RELAXED) +
	    __atomic_load_n(&in->changes, __ATOMIC_RELAXED);
}

RB_HEAD(inode_by_nodeid, inode);
RB_HEAD(inode_by_key, inode);

struct inode_table {
	pthread_mutex_t lock;
	struct inode_by_nodeid by_nodeid;
	struct inode_by_key by_key;
	uint64_t next_nodeid;
	uint64_t count;
	struct inode *root;
	/* called, without the table lock, when an inode is freed (it is
	 * out of the table already) */
	void (*release)(void *ctx, struct inode *in);
	void *release_ctx;
};

int inode_table_init(struct inode_table *t, uint64_t root_dev, uint64_t root_ino,
    void *root_bdata, void (*release)(void *, struct inode *), void *ctx);
void inode_table_destroy(struct inode_table *t);

/* Find by node id and pin it; NULL if the id is unknown. */
struct inode *inode_table_get(struct inode_table *t, uint64_t nodeid);
/* Pin an inode the caller already holds a pin on. */
void inode_table_pin(struct inode_table *t, struct inode *in);
/* Drop a pin taken by get/pin/add. */
void inode_table_put(struct inode_table *t, struct inode *in);

/*
 * Account one client lookup of (dev, ino) found as `name` in `parent`:
 * the existing inode, or a new one adopting `bdata`.  When an inode
 * already existed, *bdata_used is false and the caller releases its
 * bdata.  The returned inode is pinned (put it after replying).
 * NULL on ENOMEM.
 */
struct inode *inode_table_add(struct inode_table *t, struct inode *parent,
    const char *name, uint64_t dev, uint64_t ino, mode_t type, void *bdata,
    bool *bdata_used);

/* Account one more client lookup of an inode the caller holds pinned,
 * found as `name` in `parent`. */
void inode_table_lookup_again(struct inode_table *t, struct inode *in,
    struct inode *parent, const char *name);

/* The client forgets n lookups. */
void inode_table_forget(struct inode_table *t, uint64_t nodeid, uint64_t n);

/* Record that the entry parent/name now refers to `in` (rename, link). */
void inode_table_move(struct inode_table *t, struct inode *in,
    struct inode *parent, const char *name);

/*
 * The inode's last-known location: its parent, pinned (put it), and its
 * name copied into buf.  -ENOENT for the root or an inode without one.
 */
int inode_table_location(struct inode_table *t, struct inode *in,
    struct inode **parent, char *buf, size_t buflen);

/* Find a live inode by identity, pinned; NULL if none. */
struct inode *inode_table_find_key(struct inode_table *t, uint64_t dev, uint64_t ino);
/* Does the client hold the inode (dev, ino) of this type, with the
 * attributes it was last given still current (nothing asked of it or
 * changed since, and host changes to it reported: covered, not stale,
 * and for a directory its own watch)?
 * No reference taken. */
bool inode_table_client_has(struct inode_table *t, uint64_t dev, uint64_t ino,
    mode_t type);

uint64_t inode_table_count(struct inode_table *t);

/* Call fn on every inode, with the table lock held: fn must not call
 * back into the table. */
void inode_table_foreach(struct inode_table *t, void (*fn)(void *, struct inode *), void *ctx);

/* Record the data version (st's mtime and size) a client opens; true if
 * it is the same as the one recorded at the previous open (the client's
 * cached pages are still good). */
bool inode_table_same_data(struct inode_table *t, struct inode *in, const struct stat *st);

/* The client wrote to the file through its page cache: if `before` (the
 * file just before the write) is the version it holds, it now holds
 * `after`; otherwise someone else changed the file and its pages are no
 * longer known good. */
void inode_table_data_written(struct inode_table *t, struct inode *in,
    const struct stat *before, const struct stat *after);

#endif
