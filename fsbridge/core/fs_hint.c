/*
 * fs_hint: change hints for a guest's agent.  A guest's kernel cannot be
 * sent FUSE notifications, but `launch`'s agent in the guest can make it
 * look again: where `fsbridge serve --hints-fd N` is given, every
 * invalidation the watcher would send a FUSE client (fs_watch.c) is
 * written to fd N instead, as the path of what changed relative to the
 * share's root, NUL-terminated: "DIR/NAME" for an entry of DIR (created,
 * removed, renamed), "PATH" for an inode (its attributes, data or
 * listing), "" for the root.  One write per record (at most PIPE_BUF
 * bytes, so records never interleave on a pipe); a record whose path is
 * too long, or whose location is unknown, is replaced by "/" -- the
 * reader then drops everything.  The fd is blocking: a slow reader slows
 * the watcher, never the requests.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

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
fs_hint(struct share *sh, uint64_t nodeid, const char *name)
{
	char buf[FS_HINT_MAX];
	struct inode *in;
	char *path = NULL;
	size_t len;

	in = inode_table_get(&sh->inodes, nodeid);
	if (in != NULL) {
		/* room for "/NAME" after the path */
		size_t room = sizeof(buf) - (name != NULL ? strlen(name) + 1 : 0);

		if (name == NULL || strlen(name) + 2 < sizeof(buf))
			path = fs_hint_path(sh, in, buf, room);
		inode_table_put(&sh->inodes, in);
	}
	if (path == NULL) {
		fs_hint_write(sh, "/", 2);
		return;
	}
	len = strlen(path);
	if (name != NULL) {
		memmove(buf, path, len);
		path = buf;
		if (len > 0)
			path[len++] = '/';
		strcpy(path + len, name);
		len += strlen(name);
	}
	fs_hint_write(sh, path, len + 1);
}
