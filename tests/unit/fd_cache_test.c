/*
 * fd_cache_test: unit tests of the local backend's bounded cache of
 * O_PATH fds (fsbridge/backend/local/fd_cache.c), driven the way
 * backend_local.c drives it (one O_PATH fd per looked-up node, an inode
 * table for the last-known locations) in a temporary directory of 500
 * files: however many inodes are known, no more than the limit of fds is
 * ever open (counted in /proc/self/fd; invariant 7); an evicted inode is
 * re-opened on demand as the same file (dev, ino), by file handle even
 * after it was renamed behind the server's back, or from its last-known
 * parent; a file replaced by another under the same name is never taken
 * for the old one (-ESTALE).  Each part runs with file handles (where the
 * test may open by handle: root on a file system with handles) and with
 * them switched off (the server without CAP_DAC_READ_SEARCH).  TAP.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inode_table.h"
#include "fd_cache.h"
#include "tests/lib/tap.h"

enum { LIMIT = 32, NFILES = 500, DEPTH = 40 };

static char top[64];		/* the temporary tree */
static int fd_base;		/* fds open before a cache exists */

struct env {
	struct fd_cache c;
	struct inode_table t;
	int root_fd;
	int max_fds;		/* the most fds seen open, beyond fd_base */
	struct inode *files[NFILES];
};

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* not the DIR's own fd */
}

static void
note_fds(struct env *e)
{
	int n = count_fds() - fd_base;

	if (n > e->max_fds)
		e->max_fds = n;
}

static void
on_release(void *ctx, struct inode *in)
{
	fd_cache_drop(ctx, in->bdata);
}

static int
env_init(struct env *e, bool handles)
{
	struct fd_cache_node *rn;
	struct stat st;
	int fd;

	memset(e, 0, sizeof(*e));
	e->root_fd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (e->root_fd < 0 || fstat(e->root_fd, &st) != 0)
		return -1;
	fd_cache_init(&e->c, e->root_fd, LIMIT);
	if (!handles)
		e->c.handles_work = false;
	/* as local_root() and local_attach() do */
	fd = fcntl(e->root_fd, F_DUPFD_CLOEXEC, 0);
	rn = fd_cache_add(&e->c, fd, st.st_dev, st.st_ino, false);
	fd_cache_pin(&e->c, rn);
	if (inode_table_init(&e->t, st.st_dev, st.st_ino, rn, on_release, &e->c) != 0)
		return -1;
	e->c.inodes = &e->t;
	return 0;
}

static void
env_destroy(struct env *e)
{
	inode_table_destroy(&e->t);
	fd_cache_destroy(&e->c);
	close(e->root_fd);
}

/* Look dir/name up as local_lookup() and fs_ops do: a pinned inode with
 * one client lookup, or NULL (errno). */
static struct inode *
lookup(struct env *e, struct inode *dir, const char *name)
{
	struct fd_cache_node *n;
	struct inode *in;
	struct stat st;
	bool used;
	int dfd, fd;

	dfd = fd_cache_get(&e->c, dir);
	if (dfd < 0) {
		errno = -dfd;
		return NULL;
	}
	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fd_cache_put(&e->c, dir);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return NULL;
	}
	n = fd_cache_add(&e->c, fd, st.st_dev, st.st_ino, false);
	in = inode_table_add(&e->t, dir, name, st.st_dev, st.st_ino, st.st_mode, n, &used);
	if (!used)
		fd_cache_drop(&e->c, n);
	note_fds(e);
	return in;
}

static void
forget(struct env *e, struct inode *in)
{
	uint64_t id = in->nodeid;

	inode_table_put(&e->t, in);
	inode_table_forget(&e->t, id, 1);
}

/* The fd of `in`, re-opened if need be: its identity then, or -errno. */
static int
fd_identity(struct env *e, struct inode *in, struct stat *st)
{
	int fd = fd_cache_get(&e->c, in);

	note_fds(e);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) != 0)
		fd = -errno;
	fd_cache_put(&e->c, in);
	return fd < 0 ? fd : 0;
}

/* Is in's (re-opened) fd the file at path (relative to top)? */
static bool
is_file_at(struct env *e, struct inode *in, const char *path)
{
	char full[256];
	struct stat want, got;

	snprintf(full, sizeof(full), "%s/%s", top, path);
	if (lstat(full, &want) != 0 || fd_identity(e, in, &got) != 0)
		return false;
	return got.st_dev == want.st_dev && got.st_ino == want.st_ino;
}

static bool
evicted(struct inode *in)
{
	return ((struct fd_cache_node *)in->bdata)->fd < 0;
}

/* Use every file once: evicts whatever was open before. */
static void
churn(struct env *e)
{
	struct stat st;
	int i;

	for (i = 0; i < NFILES; i++)
		if (e->files[i] != NULL)
			(void)fd_identity(e, e->files[i], &st);
}

static int
make_file(const char *path, const char *text)
{
	char full[256];
	int fd;

	snprintf(full, sizeof(full), "%s/%s", top, path);
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Create `name` anew, with the inode number `ino` if the file system
 * gives it back within a few creations; true if it did. */
static bool
replace_reusing_ino(const char *name, ino_t ino)
{
	char tmp[64], from[256], to[256];
	struct stat st;
	bool got = false;
	int i, n;

	for (n = 0; n < 64 && !got; n++) {
		snprintf(tmp, sizeof(tmp), "fill%d", n);
		snprintf(from, sizeof(from), "%s/%s", top, tmp);
		if (make_file(tmp, "new") != 0 || stat(from, &st) != 0)
			break;
		got = st.st_ino == ino;
	}
	snprintf(to, sizeof(to), "%s/%s", top, name);
	if (got)
		rename(from, to);
	else
		make_file(name, "new");
	for (i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "%s/fill%d", top, i);
		unlink(from);
	}
	return got;
}

static int
make_tree(void)
{
	char path[256], text[16];
	int i;

	snprintf(top, sizeof(top), "%s/fd_cache_test.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(top) == NULL)
		return -1;
	for (i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		snprintf(text, sizeof(text), "%d", i);
		if (make_file(path, text) != 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/sub", top);
	if (mkdir(path, 0755) != 0)
		return -1;
	/* a chain of directories DEPTH deep with a file at the bottom */
	strcpy(path, top);
	for (i = 0; i < DEPTH; i++) {
		strcat(path, "/d");
		if (mkdir(path, 0755) != 0)
			return -1;
	}
	strcat(path, "/leaf");
	i = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	return i < 0 ? -1 : close(i);
}

static void
remove_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
}

static void
run(bool handles)
{
	const char *mode = handles ? "[handles]" : "[no handles]";
	char name[64], what[160], path[256], moved[256];
	struct inode *sub, *dir, *chain[DEPTH], *leaf;
	struct stat st, old, held_st[LIMIT / 2];
	int held[LIMIT / 2];
	struct env e;
	unsigned long reopens;
	bool ok;
	int i, rc, hold;

	if (env_init(&e, handles) != 0) {
		check(0, "set up the cache");
		return;
	}
	check(e.c.handles_work == handles, handles ?
	    "[handles] the cache may open by handle here" :
	    "[no handles] handles switched off");

	/* 1. bounded: 500 inodes the client never forgets */
	for (i = 0, ok = true; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		if ((e.files[i] = lookup(&e, e.t.root, name)) == NULL)
			ok = false;
		if (e.c.open > e.c.limit)
			ok = false;
	}
	snprintf(what, sizeof(what), "%s 500 files looked up and held, the cache within its limit of %d",
	    mode, LIMIT);
	check(ok && inode_table_count(&e.t) == NFILES + 1, what);
	/* + the cache's mount fd for open_by_handle_at and our root fd */
	snprintf(what, sizeof(what), "%s at most %d + 2 fds were ever open (saw %d)",
	    mode, LIMIT, e.max_fds);
	check(e.max_fds <= LIMIT + 2, what);
	snprintf(what, sizeof(what), "%s %lu evictions", mode, e.c.evict_count);
	check(e.c.evict_count >= NFILES - LIMIT && evicted(e.files[0]), what);

	/* 2. an evicted inode is re-opened on demand, as the same file */
	reopens = e.c.reopen_count;
	snprintf(what, sizeof(what), "%s an evicted inode is re-opened, the same (dev, ino)", mode);
	check(evicted(e.files[0]) && is_file_at(&e, e.files[0], "f0") &&
	    e.c.reopen_count == reopens + 1, what);
	for (i = 0, ok = true; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		if (!is_file_at(&e, e.files[i], name) || e.c.open > e.c.limit)
			ok = false;
	}
	snprintf(what, sizeof(what), "%s all 500 re-opened in turn, each itself, still at most %d + 2 fds",
	    mode, LIMIT);
	check(ok && e.max_fds <= LIMIT + 2, what);

	/* fds in use are not evicted: hold LIMIT / 2 while churning, some
	 * of them cached (the last used), some re-opened */
	for (i = 0, ok = true; i < LIMIT / 2; i++) {
		hold = i < LIMIT / 4 ? NFILES - 1 - i : i;
		if (i < LIMIT / 4 && evicted(e.files[hold]))
			ok = false;
		held[i] = fd_cache_get(&e.c, e.files[hold]);
		if (held[i] < 0 || fstat(held[i], &held_st[i]) != 0)
			ok = false;
	}
	churn(&e);
	for (i = 0; i < LIMIT / 2; i++) {
		hold = i < LIMIT / 4 ? NFILES - 1 - i : i;
		/* still the same fd number, still open on the same file */
		if (((struct fd_cache_node *)e.files[hold]->bdata)->fd != held[i] ||
		    fstat(held[i], &st) != 0 || st.st_ino != held_st[i].st_ino)
			ok = false;
		fd_cache_put(&e.c, e.files[hold]);
	}
	snprintf(what, sizeof(what), "%s fds in use (cached or re-opened) are never evicted", mode);
	check(ok && e.c.open <= e.c.limit, what);
	for (i = 100; i < 100 + 2 * LIMIT; i++)
		(void)fd_identity(&e, e.files[i], &st);
	snprintf(what, sizeof(what), "%s ...and once put, they are again", mode);
	check(evicted(e.files[NFILES - 1]) && evicted(e.files[0]), what);

	/* 3. renamed behind the server's back (the table not told) */
	churn(&e);
	snprintf(path, sizeof(path), "%s/f1", top);
	snprintf(moved, sizeof(moved), "%s/sub/moved1", top);
	check(evicted(e.files[1]) && rename(path, moved) == 0, "rename f1 -> sub/moved1 on the host");
	rc = fd_identity(&e, e.files[1], &st);
	if (handles) {
		snprintf(what, sizeof(what), "%s renamed and evicted: re-opened by handle, still the file", mode);
		check(rc == 0 && is_file_at(&e, e.files[1], "sub/moved1"), what);
	} else {
		snprintf(what, sizeof(what), "%s renamed and evicted, no handle: -ESTALE (got %d)", mode, rc);
		check(rc == -ESTALE, what);
	}
	/* the server learns of the rename (fs_note_location): found there */
	sub = lookup(&e, e.t.root, "sub");
	inode_table_move(&e.t, e.files[1], sub, "moved1");
	churn(&e);
	snprintf(what, sizeof(what), "%s renamed, the table told: re-opened from its new parent", mode);
	check(evicted(e.files[1]) && is_file_at(&e, e.files[1], "sub/moved1"), what);
	rename(moved, path);
	inode_table_move(&e.t, e.files[1], e.t.root, "f1");

	/* 4. replaced by another file of the same name: never the old one.
	 * The old file is kept alive (an fd here) so the new one cannot
	 * reuse its inode number. */
	churn(&e);
	snprintf(what, sizeof(what), "%s ...all the while at most %d + 2 fds (saw %d)",
	    mode, LIMIT, e.max_fds);
	check(e.max_fds <= LIMIT + 2, what);
	snprintf(path, sizeof(path), "%s/f2", top);
	hold = open(path, O_RDONLY | O_CLOEXEC);
	fstat(hold, &old);
	check(evicted(e.files[2]) && unlink(path) == 0 && make_file("f2", "new") == 0 &&
	    stat(path, &st) == 0 && st.st_ino != old.st_ino,
	    "replace f2 by a new file (another inode)");
	rc = fd_identity(&e, e.files[2], &st);
	if (handles) {
		/* the old file still exists (unlinked, held open): its handle
		 * may still find it, and that is the right answer */
		snprintf(what, sizeof(what),
		    "%s replaced: the old file itself (by handle) or -ESTALE, never the new one (got %d)",
		    mode, rc);
		check((rc == 0 && st.st_ino == old.st_ino) || rc == -ESTALE, what);
	} else {
		snprintf(what, sizeof(what), "%s replaced: -ESTALE, not the new file (got %d)", mode, rc);
		check(rc == -ESTALE, what);
	}
	close(hold);
	e.max_fds = 0;	/* hold was the test's own fd */
	churn(&e);
	/* the old file is gone now for good */
	rc = fd_identity(&e, e.files[2], &st);
	snprintf(what, sizeof(what), "%s replaced, the old file gone: -ESTALE (got %d)", mode, rc);
	check(rc == -ESTALE, what);
	snprintf(what, sizeof(what), "%s a failed re-open leaves no fd behind", mode);
	check(evicted(e.files[2]) && e.c.open <= e.c.limit, what);

	/* replaced at once, as an editor saving does: on ext4 the new file
	 * gets the old one's inode number back, so (dev, ino) alone cannot
	 * tell them apart: the birth time saved at eviction does, with a
	 * handle (whose ESTALE is followed by a walk from the parent) and
	 * without one. */
	churn(&e);
	snprintf(path, sizeof(path), "%s/f4", top);
	stat(path, &old);
	check(evicted(e.files[4]) && unlink(path) == 0, "unlink f4");
	ok = replace_reusing_ino("f4", old.st_ino);
	printf("# the new f4 %s the old one's inode number\n", ok ? "reuses" : "does not reuse");
	rc = fd_identity(&e, e.files[4], &st);
	snprintf(what, sizeof(what), "%s replaced at once: -ESTALE, not the new file (got %d)",
	    mode, rc);
	check(rc == -ESTALE, what);

	/* unlinked without replacement */
	snprintf(path, sizeof(path), "%s/f3", top);
	unlink(path);
	churn(&e);
	rc = fd_identity(&e, e.files[3], &st);
	snprintf(what, sizeof(what), "%s unlinked: -ESTALE (got %d)", mode, rc);
	check(rc == -ESTALE, what);

	/* 5. a chain 40 dirs deep, evicted top to bottom, re-opened at the
	 * leaf (without handles: from the parent, recursively) */
	dir = e.t.root;
	for (i = 0, ok = true; i < DEPTH; i++) {
		chain[i] = dir = lookup(&e, dir, "d");
		if (dir == NULL) {
			ok = false;
			break;
		}
	}
	leaf = ok ? lookup(&e, dir, "leaf") : NULL;
	churn(&e);
	strcpy(path, "d");
	for (i = 1; i < DEPTH; i++)
		strcat(path, "/d");
	strcat(path, "/leaf");
	snprintf(what, sizeof(what), "%s a leaf 40 dirs deep, all evicted, re-opened as itself", mode);
	check(leaf != NULL && evicted(leaf) && evicted(chain[0]) && is_file_at(&e, leaf, path), what);
	snprintf(what, sizeof(what), "%s ...within the limit (at most %d + 2 fds, saw %d)",
	    mode, LIMIT, e.max_fds);
	check(e.c.open <= e.c.limit && e.max_fds <= LIMIT + 2, what);

	/* 6. forgetting everything closes every fd but the root's */
	if (leaf != NULL)
		forget(&e, leaf);
	for (i = DEPTH - 1; i >= 0; i--)
		if (chain[i] != NULL)
			forget(&e, chain[i]);
	forget(&e, sub);
	for (i = 0; i < NFILES; i++)
		forget(&e, e.files[i]);
	snprintf(what, sizeof(what), "%s all forgotten: one inode, one fd (the root's) in the cache", mode);
	check(inode_table_count(&e.t) == 1 && e.c.open == 1 &&
	    count_fds() - fd_base == 3, what);
	env_destroy(&e);
	snprintf(what, sizeof(what), "%s destroyed: every fd closed", mode);
	check(count_fds() == fd_base, what);

	/* back to the tree as it was */
	make_file("f2", "2");
	make_file("f3", "3");
	make_file("f4", "4");
}

int
main(void)
{
	struct fd_cache probe;
	int root_fd;
	bool handles;

	/* line-buffered: a leak report at exit must not swallow the TAP lines */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (make_tree() != 0) {
		perror("fd_cache_test: making the tree");
		remove_tree();
		return 99;
	}
	/* can this process open by handle here? */
	root_fd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd_cache_init(&probe, root_fd, LIMIT);
	handles = probe.handles_work;
	fd_cache_destroy(&probe);
	close(root_fd);

	fd_base = count_fds();
	if (handles)
		run(true);
	else
		printf("# open_by_handle_at not allowed here: only the parent walk is tested\n");
	run(false);
	remove_tree();
	return tap_done();
}
