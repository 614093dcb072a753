/*
 * usock_test: the launcher's listening sockets (launcher/usock.c) are
 * born 0600 whatever the umask, so no other user can connect in the
 * moment before anything else is checked; and a file that is not a
 * socket at the socket's path is refused, not removed.  TAP.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/tap.h"
#include "usock.h"

int
main(void)
{
	char dir[] = "/tmp/fsb-usock.XXXXXX", path[64], file[64];
	struct stat st;
	int fd, again;

	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	snprintf(file, sizeof(file), "%s/file", dir);

	umask(0);	/* the worst umask a user can run launch with */
	fd = usock_listen(path);
	check(fd >= 0, "usock_listen makes a listening socket");
	check(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600,
	    "the socket is 0600 under umask 0");
	again = usock_listen(path);
	check(again >= 0, "a socket of ours at the path is replaced");
	if (again >= 0)
		close(again);
	if (fd >= 0)
		close(fd);
	check(umask(0) == 0, "the umask is left as it was");

	close(open(file, O_WRONLY | O_CREAT, 0600));
	fd = usock_listen(file);
	check(fd == -EEXIST, "a regular file at the path is refused with -EEXIST");
	check(lstat(file, &st) == 0 && S_ISREG(st.st_mode), "and left where it was");
	if (fd >= 0)
		close(fd);

	unlink(path);
	unlink(file);
	rmdir(dir);
	return tap_done();
}
