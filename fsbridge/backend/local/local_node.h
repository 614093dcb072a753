/*
 * local_node: the local backend's per-inode state and its bounded cache
 * of O_PATH fds.
 *
 * Every inode has an identity (dev, ino) and, while cached, an O_PATH fd
 * opened beneath the share root with O_NOFOLLOW.  At most `limit` such fds
 * are open; the least recently used idle one is closed when a new one is
 * needed, after saving a file handle for it.  An evicted node is re-opened
 * by that handle (open_by_handle_at, where the server may) or from its
 * last-known parent and name, one O_NOFOLLOW component at a time, and is
 * checked to still be the same (dev, ino): otherwise -ESTALE.
 */
#ifndef FSBRIDGE_LOCAL_NODE_H
#define FSBRIDGE_LOCAL_NODE_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "inode_table.h"

struct local_node {
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
	TAILQ_ENTRY(local_node) lru;
};

TAILQ_HEAD(local_node_lru, local_node);

struct local_fdcache {
	pthread_mutex_t lock;
	struct local_node_lru lru;	/* idle nodes with an fd, oldest first */
	unsigned int open;		/* O_PATH fds open */
	unsigned int limit;
	int mount_fd;			/* for open_by_handle_at */
	bool handles_work;
	struct inode_table *inodes;
	unsigned long reopen_count;	/* for tests and stats */
	unsigned long evict_count;
};

int local_fdcache_init(struct local_fdcache *c, int root_fd, unsigned int limit);
void local_fdcache_destroy(struct local_fdcache *c);

/* A new node that owns fd (an O_PATH fd just opened). */
struct local_node *local_node_new(struct local_fdcache *c, int fd, dev_t dev,
    ino_t ino, bool followed);
/* Keep n's fd open for good (the share root). */
void local_node_pin_forever(struct local_fdcache *c, struct local_node *n);
/* Free a node (its inode is gone). */
void local_node_free(struct local_fdcache *c, struct local_node *n);

/* The O_PATH fd of an inode, re-opened if evicted; pair with
 * local_node_fd_put.  Returns fd or -errno (-ESTALE if the file is gone). */
int local_node_fd_get(struct local_fdcache *c, struct inode *in);
void local_node_fd_put(struct local_fdcache *c, struct inode *in);

#endif
