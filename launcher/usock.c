/*
 * usock: connecting to and listening on Unix stream sockets by path; a
 * listening socket is created 0600.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "usock.h"

static int
fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlcpy(sa->sun_path, path, sizeof(sa->sun_path)) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int
usock_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc = fill_addr(&sa, path);

	if (rc != 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int
usock_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	int fd, rc = fill_addr(&sa, path);

	if (rc != 0)
		return rc;
	/* only a socket is replaced: never a file or link put in its place */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* born 0600 whatever the user's umask: no moment in which another
	 * user may connect (the supervisor checks peers too, relay.c) */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc != 0 || listen(fd, 64) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}
