/*
 * fd_cache: the local backend's bounded cache of O_PATH fds, one per
 * inode, and the per-inode state it keeps (struct fd_cache_node, the
 * inode's bdata).
 *
 * Every inode has an identity (dev, ino) and, while cached, an O_PATH fd
 * opened beneath the share root with O_NOFOLLOW.  At most `limit` such fds
 * are open; the least recently used idle one is closed when a new one is
 * needed, after saving a file handle for it.  An evicted node is re-opened
 * by that handle (open_by_handle_at, where the server may) or from its
 * last-known parent and name, one O_NOFOLLOW component at a time, and is
 * checked to still be the same (dev, ino): otherwise -ESTALE.
 */
#ifndef FSBRIDGE_FD_CACHE_H
#define FSBRIDGE_FD_CACHE_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "inode_table.h"

struct fd_cache_node {
	int fd;			/* O_PATH fd, or -1 while evicted */
	unsigned int users;	/* callers holding fd right now */
	bool followed;		/* found by following a symlink (follow mode) */
	bool in_lru;
	dev_t dev;
	ino_t ino;
	/* birth time, saved at the first eviction where the filesystem has
	 * one: an inode number reused by a file made since does not match */
	bool has_btime;
	struct statx_timestamp btime;
	struct file_handle *handle;	/* saved at eviction, may be NULL */
	TAILQ_ENTRY(fd_cache_node) lru;
};

TAILQ_HEAD(fd_cache_lru, fd_cache_node);

struct fd_cache {
	pthread_mutex_t lock;
	struct fd_cache_lru lru;	/* idle nodes with an fd, oldest first */
	unsigned int open;		/* O_PATH fds open */
	unsigned int limit;
	int mount_fd;			/* for open_by_handle_at */
	bool handles_work;
	struct inode_table *inodes;
	unsigned long reopen_count;	/* for tests and stats */
	unsigned long evict_count;
};

int fd_cache_init(struct fd_cache *c, int root_fd, unsigned int limit);
void fd_cache_destroy(struct fd_cache *c);

/* A new node that owns fd (an O_PATH fd just opened). */
struct fd_cache_node *fd_cache_add(struct fd_cache *c, int fd, dev_t dev,
    ino_t ino, bool followed);
/* Keep n's fd open for good (the share root). */
void fd_cache_pin(struct fd_cache *c, struct fd_cache_node *n);
/* Free a node (its inode is gone). */
void fd_cache_drop(struct fd_cache *c, struct fd_cache_node *n);

/* The O_PATH fd of an inode, re-opened if evicted; pair with
 * fd_cache_put.  Returns fd or -errno (-ESTALE if the file is gone). */
int fd_cache_get(struct fd_cache *c, struct inode *in);
void fd_cache_put(struct fd_cache *c, struct inode *in);
/* Is in's fd closed now (evicted)? */
bool fd_cache_evicted(struct fd_cache *c, struct inode *in);
/* Is stx (STATX_INO, and STATX_BTIME where in's birth time was saved)
 * of in's file, found without following a symlink?  A listing then takes
 * it as in's attributes without re-opening in. */
bool fd_cache_matches(struct fd_cache *c, struct inode *in, const struct statx *stx);

#endif
