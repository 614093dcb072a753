/*
 * fs_hint: change hints for a guest's agent.  A guest's kernel cannot be
 * sent FUSE notifications, but `launch`'s agent in the guest can make it
 * look again, and raise the inotify events a local disk would have given
 * (guest-overlay/kmod/fsb_notify).  Where `fsbridge serve --hints-fd N`
 * is given, every change the watcher saw on the host (fs_watch.c) is
 * written to fd N as one record per kind of change, NUL-terminated:
 *
 *   K F CCCCCCCC PATH     (no spaces: one byte, one byte, 8 bytes, path)
 *
 * K the kind (FSB_HINT_K_* in guest-overlay/contract/contract.h: C create, T moved to, M modify,
 * A attrib, W close-write, F moved from, D delete), F a hex digit of
 * flags (1: the object is a directory; 2: PATH is the object itself,
 * else PATH is DIR/NAME, the entry NAME of DIR), C the rename's cookie
 * in hex (pairs an F with its T; 0 otherwise), PATH relative to the
 * share's root ("" for the root itself).  A record "/" alone means the
 * server lost track: the reader drops everything.  One write per record
 * (at most PIPE_BUF bytes, so records never interleave on a pipe); a
 * record whose path is too long or unknown becomes "/".  The fd is
 * blocking: a slow reader slows the watcher, never the requests.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/contract/contract.h"
#include "share.h"
#include "log.h"

#define FS_HINT_MAX PIPE_BUF
#define FS_HINT_DEPTH 512

/* in's path below the root into the end of buf (built backwards); the
 * start of it, or NULL when it is unknown or too long. */
static char *
fs_hint_path(struct share *sh, struct inode *in, char *buf, size_t size)
{
	char *p = buf + size - 1;
	struct inode *cur = in, *parent;
	char name[NAME_MAX + 1];
	int depth = 0;

	*p = '\0';
	inode_table_pin(&sh->inodes, cur);
	while (inode_table_location(&sh->inodes, cur, &parent, name, sizeof(name)) == 0) {
		size_t n = strlen(name);

		inode_table_put(&sh->inodes, cur);
		cur = parent;
		if ((size_t)(p - buf) < n + 1 || ++depth > FS_HINT_DEPTH) {
			inode_table_put(&sh->inodes, cur);
			return NULL;
		}
		if (*p != '\0')
			*--p = '/';
		p -= n;
		memcpy(p, name, n);
	}
	/* only the root has no location; anything else was cut off */
	if (cur->nodeid != FUSE_ROOT_ID) {
		inode_table_put(&sh->inodes, cur);
		return NULL;
	}
	inode_table_put(&sh->inodes, cur);
	return p;
}

static void
fs_hint_write(struct share *sh, const char *rec, size_t len)
{
	while (write(sh->hint_fd, rec, len) < 0) {
		if (errno == EINTR)
			continue;
		/* nobody reads them: the guest would cache long and never be
		 * told; only a new session goes back to short timeouts */
		log_error("change hints cannot be written (%s): a guest may see "
		    "host changes late", strerror(errno));
		sh->hint_fd = -1;
		return;
	}
}

void
fs_hint_lost(struct share *sh)
{
	if (sh->hint_fd >= 0)
		fs_hint_write(sh, FSB_HINT_LOST, 2);
}

/* One record per kind in kinds, in the order they happen. */
void
fs_hint(struct share *sh, uint64_t nodeid, const char *name, unsigned int kinds,
    bool is_dir, uint32_t cookie)
{
	static const struct { unsigned int bit; char kind; } order[] = {
		{ WATCH_K_CREATE, FSB_HINT_K_CREATE },
		{ WATCH_K_MOVED_TO, FSB_HINT_K_MOVED_TO },
		{ WATCH_K_MODIFY, FSB_HINT_K_MODIFY },
		{ WATCH_K_ATTRIB, FSB_HINT_K_ATTRIB },
		{ WATCH_K_CLOSE_WRITE, FSB_HINT_K_CLOSE_WRITE },
		{ WATCH_K_MOVED_FROM, FSB_HINT_K_MOVED_FROM },
		{ WATCH_K_DELETE, FSB_HINT_K_DELETE },
	};
	char buf[FS_HINT_MAX - FSB_HINT_HDR], rec[FS_HINT_MAX];
	struct inode *in;
	char *path = NULL;
	size_t namelen = name != NULL ? strlen(name) : 0;
	int flags = (is_dir ? FSB_HINT_F_DIR : 0) | (name == NULL ? FSB_HINT_F_SELF : 0);

	if (sh->hint_fd < 0 || kinds == 0)
		return;
	in = inode_table_get(&sh->inodes, nodeid);
	if (in != NULL) {
		/* room for "/NAME" after the path */
		if (namelen + 2 < sizeof(buf))
			path = fs_hint_path(sh, in, buf, sizeof(buf) - (namelen + 1));
		inode_table_put(&sh->inodes, in);
	}
	if (path == NULL) {
		fs_hint_lost(sh);
		return;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint32_t c = (order[i].bit & (WATCH_K_MOVED_FROM | WATCH_K_MOVED_TO)) ? cookie : 0;
		int n;

		if (!(kinds & order[i].bit))
			continue;
		n = snprintf(rec, sizeof(rec), "%c%x%08x%s%s%s", order[i].kind, flags,
		    (unsigned int)c, path, name != NULL && *path != '\0' ? "/" : "",
		    name != NULL ? name : "");
		if (n < 0 || (size_t)n >= sizeof(rec)) {
			fs_hint_lost(sh);
			return;
		}
		fs_hint_write(sh, rec, (size_t)n + 1);
	}
}
