/*
 * hostpath: host files into the image.  Modes and modification times are
 * kept; owners become root (0:0), as for everything in the image.
 */
#include "config.h"

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/image/hostpath.h"

static int add_entry(struct cpio *c, const char *host, const char *image,
    int follow);

/* Prints "HOST -> IMAGE: what" for a failed cpio call. */
static int
report(int rc, const char *host, const char *image)
{
	if (rc == -EEXIST)
		warnx("%s: %s is already in the image", host, image);
	else if (rc == -EINVAL)
		warnx("%s: not a usable image path: '%s'", host, image);
	else if (rc != 0)
		warnx("%s -> %s: %s", host, image, strerror(-rc));
	return rc;
}

static int
add_regular(struct cpio *c, const char *host, const char *image)
{
	struct stat st;
	int fd = open(host, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		warn("%s", host);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rc = cpio_add_fd(c, image, st.st_mode, fd, (uint64_t)st.st_size,
	    st.st_mtime);
	close(fd);
	if (rc == -EIO)
		warnx("%s: changed while it was being read", host);
	else
		report(rc, host, image);
	return rc;
}

static int
add_symlink(struct cpio *c, const char *host, const char *image)
{
	char target[4096];
	ssize_t n = readlink(host, target, sizeof(target) - 1);

	if (n < 0) {
		int rc = -errno;

		warn("%s", host);
		return rc;
	}
	target[n] = '\0';
	return report(cpio_add_symlink(c, image, target), host, image);
}

static int
skip_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static int
add_children(struct cpio *c, const char *host, const char *image)
{
	struct dirent **list;
	int n = scandir(host, &list, skip_dots, alphasort);
	int i, rc = 0;

	if (n < 0) {
		rc = -errno;
		warn("%s", host);
		return rc;
	}
	for (i = 0; i < n; i++) {
		char *h = NULL, *g = NULL;

		if (rc == 0 && asprintf(&h, "%s/%s", host, list[i]->d_name) < 0) {
			h = NULL;
			rc = -ENOMEM;
		}
		if (rc == 0 && asprintf(&g, "%s/%s", image, list[i]->d_name) < 0) {
			g = NULL;
			rc = -ENOMEM;
		}
		if (rc == 0)
			rc = add_entry(c, h, g, 0);
		free(h);
		free(g);
		free(list[i]);
	}
	free(list);
	return rc;
}

static int
add_entry(struct cpio *c, const char *host, const char *image, int follow)
{
	struct stat st;
	int rc;

	if ((follow ? stat(host, &st) : lstat(host, &st)) != 0) {
		rc = -errno;
		warn("%s", host);
		return rc;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return add_regular(c, host, image);
	case S_IFLNK:
		return add_symlink(c, host, image);
	case S_IFDIR:
		rc = report(cpio_add_dir(c, image, st.st_mode), host, image);
		return rc ? rc : add_children(c, host, image);
	default:
		warnx("%s: not a regular file, directory or symlink", host);
		return -ENOTSUP;
	}
}

int
hostpath_add(struct cpio *c, const char *host, const char *image)
{
	return add_entry(c, host, image, 1);
}
