/*
 * fd_cache: the local backend's per-inode O_PATH fds, kept in a bounded
 * LRU cache; eviction saves a file handle, re-opening uses it or walks
 * one O_NOFOLLOW component from the last-known parent.  See fd_cache.h
 * for the contract.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd_cache.h"

static void fd_cache_evict_locked(struct fd_cache *c);

static bool
fd_cache_handles_probe(int root_fd)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	int mount_id, fd;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(root_fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) != 0)
		return false;
	/* opening by handle needs CAP_DAC_READ_SEARCH: try it once */
	fd = open_by_handle_at(root_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int
fd_cache_init(struct fd_cache *c, int root_fd, unsigned int limit)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	TAILQ_INIT(&c->lru);
	c->limit = limit < 16 ? 16 : limit;
	/* open_by_handle_at wants a real (not O_PATH) fd on the mount */
	c->mount_fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	c->handles_work = c->mount_fd >= 0 && fd_cache_handles_probe(c->mount_fd);
	return 0;
}

void
fd_cache_destroy(struct fd_cache *c)
{
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	pthread_mutex_destroy(&c->lock);
}

struct fd_cache_node *
fd_cache_add(struct fd_cache *c, int fd, dev_t dev, ino_t ino, bool followed)
{
	struct fd_cache_node *n;

	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->fd = fd;
	n->dev = dev;
	n->ino = ino;
	n->followed = followed;
	pthread_mutex_lock(&c->lock);
	c->open++;
	TAILQ_INSERT_TAIL(&c->lru, n, lru);
	n->in_lru = true;
	fd_cache_evict_locked(c);
	pthread_mutex_unlock(&c->lock);
	return n;
}

void
fd_cache_pin(struct fd_cache *c, struct fd_cache_node *n)
{
	pthread_mutex_lock(&c->lock);
	if (n->in_lru) {
		TAILQ_REMOVE(&c->lru, n, lru);
		n->in_lru = false;
	}
	n->users++;
	pthread_mutex_unlock(&c->lock);
}

/* With the lock held: save n's birth time, which tells it from a later
 * file given the same inode number (ext4 reuses one at once). */
static void
fd_cache_save_btime_locked(struct fd_cache_node *n)
{
	struct statx stx;

	if (n->has_btime)
		return;
	if (statx(n->fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME) != 0) {
		n->btime = stx.stx_btime;
		n->has_btime = true;
	}
}

/* With the lock held: save a handle for n so it can be re-opened. */
static void
fd_cache_save_handle_locked(struct fd_cache *c, struct fd_cache_node *n)
{
	struct file_handle *h;
	int mount_id;

	if (!c->handles_work || n->handle != NULL)
		return;
	h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	if (h == NULL)
		return;
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(n->fd, "", h, &mount_id, AT_EMPTY_PATH) != 0) {
		free(h);
		return;
	}
	n->handle = h;
}

/* With the lock held: close idle fds until within the limit. */
static void
fd_cache_evict_locked(struct fd_cache *c)
{
	struct fd_cache_node *n;

	while (c->open > c->limit && (n = TAILQ_FIRST(&c->lru)) != NULL) {
		TAILQ_REMOVE(&c->lru, n, lru);
		n->in_lru = false;
		fd_cache_save_btime_locked(n);
		fd_cache_save_handle_locked(c, n);
		close(n->fd);
		n->fd = -1;
		c->open--;
		c->evict_count++;
	}
}

void
fd_cache_drop(struct fd_cache *c, struct fd_cache_node *n)
{
	pthread_mutex_lock(&c->lock);
	if (n->in_lru)
		TAILQ_REMOVE(&c->lru, n, lru);
	if (n->fd >= 0) {
		close(n->fd);
		c->open--;
	}
	pthread_mutex_unlock(&c->lock);
	free(n->handle);
	free(n);
}

/* Is fd, just re-opened, the file n was?  Same device and inode number,
 * and the same birth time where one was saved: an inode number can be
 * given to a new file as soon as the old one is gone. */
static bool
fd_cache_same(int fd, const struct fd_cache_node *n)
{
	struct statx stx;
	unsigned int mask = STATX_INO | (n->has_btime ? STATX_BTIME : 0);

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, mask, &stx) != 0 ||
	    makedev(stx.stx_dev_major, stx.stx_dev_minor) != n->dev || stx.stx_ino != n->ino)
		return false;
	if (!n->has_btime)
		return true;
	return (stx.stx_mask & STATX_BTIME) != 0 && stx.stx_btime.tv_sec == n->btime.tv_sec &&
	    stx.stx_btime.tv_nsec == n->btime.tv_nsec;
}

static int
fd_cache_reopen_by_handle(struct fd_cache *c, struct fd_cache_node *n)
{
	int fd;

	if (n->handle == NULL)
		return -ESTALE;
	fd = open_by_handle_at(c->mount_fd, n->handle, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!fd_cache_same(fd, n)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static int
fd_cache_reopen_from_parent(struct fd_cache *c, struct inode *in,
    struct fd_cache_node *n)
{
	char name[NAME_MAX + 1];
	struct inode *parent;
	int pfd, fd, flags;

	if (inode_table_location(c->inodes, in, &parent, name, sizeof(name)) != 0)
		return -ESTALE;
	pfd = fd_cache_get(c, parent);
	if (pfd < 0) {
		inode_table_put(c->inodes, parent);
		return pfd;
	}
	flags = O_PATH | O_CLOEXEC | (n->followed ? 0 : O_NOFOLLOW);
	fd = openat(pfd, name, flags);
	if (fd < 0)
		fd = errno == ENOENT ? -ESTALE : -errno;
	fd_cache_put(c, parent);
	inode_table_put(c->inodes, parent);
	if (fd >= 0 && !fd_cache_same(fd, n)) {
		close(fd);
		fd = -ESTALE;
	}
	return fd;
}

int
fd_cache_get(struct fd_cache *c, struct inode *in)
{
	struct fd_cache_node *n = in->bdata;
	int fd;

	pthread_mutex_lock(&c->lock);
	n->users++;
	if (n->fd >= 0) {
		if (n->in_lru) {
			TAILQ_REMOVE(&c->lru, n, lru);
			n->in_lru = false;
		}
		fd = n->fd;
		pthread_mutex_unlock(&c->lock);
		return fd;
	}
	pthread_mutex_unlock(&c->lock);

	fd = fd_cache_reopen_by_handle(c, n);
	if (fd < 0)
		fd = fd_cache_reopen_from_parent(c, in, n);

	pthread_mutex_lock(&c->lock);
	if (fd < 0) {
		n->users--;
		pthread_mutex_unlock(&c->lock);
		return fd;
	}
	c->reopen_count++;
	if (n->fd >= 0) {
		/* another thread re-opened it first */
		close(fd);
	} else {
		n->fd = fd;
		c->open++;
		fd_cache_evict_locked(c);
	}
	fd = n->fd;
	pthread_mutex_unlock(&c->lock);
	return fd;
}

bool
fd_cache_evicted(struct fd_cache *c, struct inode *in)
{
	struct fd_cache_node *n = in->bdata;
	bool evicted;

	pthread_mutex_lock(&c->lock);
	evicted = n->fd < 0;
	pthread_mutex_unlock(&c->lock);
	return evicted;
}

bool
fd_cache_matches(struct fd_cache *c, struct inode *in, const struct statx *stx)
{
	struct fd_cache_node *n = in->bdata;
	bool same;

	pthread_mutex_lock(&c->lock);
	same = makedev(stx->stx_dev_major, stx->stx_dev_minor) == n->dev &&
	    stx->stx_ino == n->ino && !n->followed &&
	    (!n->has_btime || ((stx->stx_mask & STATX_BTIME) != 0 &&
	    stx->stx_btime.tv_sec == n->btime.tv_sec &&
	    stx->stx_btime.tv_nsec == n->btime.tv_nsec));
	pthread_mutex_unlock(&c->lock);
	return same;
}

void
fd_cache_put(struct fd_cache *c, struct inode *in)
{
	struct fd_cache_node *n = in->bdata;

	pthread_mutex_lock(&c->lock);
	if (--n->users == 0 && n->fd >= 0 && in != c->inodes->root &&
	    !n->in_lru) {
		TAILQ_INSERT_TAIL(&c->lru, n, lru);
		n->in_lru = true;
	}
	fd_cache_evict_locked(c);
	pthread_mutex_unlock(&c->lock);
}
