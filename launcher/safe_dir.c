/*
 * safe_dir: owns the rule that a directory launch keeps private things in
 * (a VM's state dir, the volume dir) is the user's alone.  Another user
 * who could write there, or who owns a directory above it, could plant
 * symlinks that redirect launch's writes, pre-create the sockets and
 * pretend to be the supervisor (receiving argv, environment and stdin),
 * read the project through the share sockets, or point a volume image at
 * any file so that mkfs.ext4 formats it.  So the directory, resolved, must
 * be owned by the user and writable by nobody else, and every directory
 * above it owned by the user or root; one that others may write (/tmp) is
 * allowed above only when sticky (they cannot rename or remove what is
 * ours in it).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe_dir.h"

/* Why one path component (dir, final or not) is unsafe, or 0. */
static int
check_one(const char *dir, const struct stat *st, int final, uid_t me,
    char *why, size_t size)
{
	if (!S_ISDIR(st->st_mode)) {
		snprintf(why, size, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st->st_uid != me && (final || st->st_uid != 0)) {
		snprintf(why, size, "%s is owned by uid %u, not by you (uid %u)", dir,
		    (unsigned)st->st_uid, (unsigned)me);
		return -EPERM;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 && (final || !(st->st_mode & S_ISVTX))) {
		snprintf(why, size, "%s is writable by %s (chmod go-w it)", dir,
		    st->st_mode & S_IWOTH ? "other users" : "its group");
		return -EPERM;
	}
	return 0;
}

/* Calls one() on each prefix of the absolute path ("/", "/a", "/a/b"),
 * the last with final set; the first error ends the walk. */
static int
each_prefix(char *path, int (*one)(const char *, int, void *), void *arg)
{
	for (char *p = path;; p = strchr(p + 1, '/')) {
		char *cut = p == NULL ? NULL : p == path ? p + 1 : p, saved = cut ? *cut : 0;
		int rc;

		if (cut != NULL && *cut == '\0')
			cut = NULL;     /* "/" itself: the final prefix */
		if (cut != NULL)
			*cut = '\0';
		rc = one(path, cut == NULL, arg);
		if (cut != NULL)
			*cut = saved;
		if (rc != 0 || cut == NULL)
			return rc;
	}
}

struct walk {
	uid_t me;
	int create;         /* mkdir (0700) what is missing */
	int resolved;       /* the path has no symlinks */
	char *why;
	size_t size;
};

static int
walk_one(const char *path, int final, void *arg)
{
	struct walk *w = arg;
	struct stat st;

	if (lstat(path, &st) != 0 && errno == ENOENT && w->create) {
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			snprintf(w->why, w->size, "cannot create %s: %s", path, strerror(errno));
			return -errno;
		}
		if (lstat(path, &st) != 0) {
			snprintf(w->why, w->size, "%s: %s", path, strerror(errno));
			return -errno;
		}
	} else if (lstat(path, &st) != 0) {
		snprintf(w->why, w->size, "%s: %s", path, strerror(errno));
		return -errno;
	}
	/* a symlink on the way (/var/run) must be one nobody else can change;
	 * where it leads is checked on the resolved path */
	if (S_ISLNK(st.st_mode) && !w->resolved) {
		if (st.st_uid == w->me || st.st_uid == 0)
			return 0;
		snprintf(w->why, w->size, "%s is a symlink owned by uid %u, not by you", path,
		    (unsigned)st.st_uid);
		return -EPERM;
	}
	return check_one(path, &st, final, w->me, w->why, w->size);
}

static int
walk(const char *dir, int create, char *why, size_t size)
{
	struct walk w = { .me = geteuid(), .create = create, .why = why, .size = size };
	char path[PATH_MAX], cwd[PATH_MAX];
	int rc, n;

	if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	n = dir[0] == '/' ? snprintf(path, sizeof(path), "%s", dir) :
	    snprintf(path, sizeof(path), "%s/%s", cwd, dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(why, size, "path too long");
		return -ENAMETOOLONG;
	}
	rc = each_prefix(path, walk_one, &w);
	if (rc != 0)
		return rc;
	if (realpath(dir, path) == NULL) {
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	w.create = 0;
	w.resolved = 1;
	return each_prefix(path, walk_one, &w);
}

int
safe_dir_check(const char *dir, char *why, size_t size)
{
	return walk(dir, 0, why, size);
}

int
safe_dir_create(const char *dir, char *why, size_t size)
{
	return walk(dir, 1, why, size);
}
