/*
 * outfile: O_TMPFILE where the file system has it (nothing to clean up if
 * the process dies), else mkstemp().  Commit links the unnamed file under
 * a temporary name and renames that over the final name.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/image/outfile.h"

static char *
dir_of(const char *path)
{
	char *copy = strdup(path), *dir;

	if (copy == NULL)
		return NULL;
	dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

static int
open_unnamed(struct outfile *o)
{
	char *dir = dir_of(o->path);
	int rc = 0;

	if (dir == NULL)
		return -ENOMEM;
	o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (o->fd < 0)
		rc = -errno;
	free(dir);
	return rc;
}

static int
open_named(struct outfile *o)
{
	mode_t mask;

	if (asprintf(&o->tmp, "%s.XXXXXX", o->path) < 0) {
		o->tmp = NULL;
		return -ENOMEM;
	}
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		int rc = -errno;

		free(o->tmp);
		o->tmp = NULL;
		return rc;
	}
	mask = umask(0);
	umask(mask);
	fchmod(o->fd, 0644 & ~mask);
	return 0;
}

int
outfile_open(struct outfile *o, const char *path)
{
	int rc;

	o->fd = -1;
	o->tmp = NULL;
	o->path = strdup(path);
	if (o->path == NULL)
		return -ENOMEM;
	rc = open_unnamed(o);
	/* Some file systems (and old kernels) have no O_TMPFILE. */
	if (rc == -EOPNOTSUPP || rc == -EISDIR || rc == -EINVAL)
		rc = open_named(o);
	if (rc != 0)
		outfile_discard(o);
	return rc;
}

/* Gives the unnamed file the name o->tmp. */
static int
link_unnamed(struct outfile *o)
{
	char proc[64];

	if (asprintf(&o->tmp, "%s.%ld.tmp", o->path, (long)getpid()) < 0) {
		o->tmp = NULL;
		return -ENOMEM;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	unlink(o->tmp);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) != 0) {
		int rc = -errno;

		free(o->tmp);
		o->tmp = NULL;
		return rc;
	}
	return 0;
}

int
outfile_commit(struct outfile *o)
{
	int rc = 0;

	if (fsync(o->fd) != 0)
		rc = -errno;
	if (rc == 0 && o->tmp == NULL)
		rc = link_unnamed(o);
	if (rc == 0 && rename(o->tmp, o->path) != 0)
		rc = -errno;
	if (rc == 0) {
		free(o->tmp);
		o->tmp = NULL; /* nothing left to remove */
	}
	if (close(o->fd) != 0 && rc == 0)
		rc = -errno;
	o->fd = -1;
	outfile_discard(o);
	return rc;
}

void
outfile_discard(struct outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp != NULL)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	o->fd = -1;
	o->tmp = NULL;
	o->path = NULL;
}
