/*
 * probe: the program tests/guest/boot.sh runs inside the guest (static,
 * started by fsbridge-init as fsbridge.run=/probe).  It checks that /mnt
 * is a virtio-fs (FUSE) mount, writes /mnt/from-guest.txt, prints the
 * contents of /mnt/from-host.txt, and ends with the marker line
 * "fsbridge-probe: OK".  Any failure prints "fsbridge-probe: FAIL ..." and
 * exits 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#define SHARE "/mnt"
#define FUSE_MAGIC 0x65735546

static int
fail(const char *what)
{
	printf("fsbridge-probe: FAIL %s: %s\n", what, strerror(errno));
	return 1;
}

static int
check_fuse(void)
{
	struct statfs sf;

	if (statfs(SHARE, &sf) != 0)
		return fail("statfs " SHARE);
	if (sf.f_type != FUSE_MAGIC) {
		errno = EXDEV;
		return fail(SHARE " is not a virtio-fs mount");
	}
	return 0;
}

static int
write_file(void)
{
	static const char text[] = "written by the guest\n";
	int fd = open(SHARE "/from-guest.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("create " SHARE "/from-guest.txt");
	if (write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1 ||
	    fsync(fd) != 0 || close(fd) != 0)
		return fail("write " SHARE "/from-guest.txt");
	return 0;
}

static int
read_file(void)
{
	char buf[256];
	int fd = open(SHARE "/from-host.txt", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("open " SHARE "/from-host.txt");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return fail("read " SHARE "/from-host.txt");
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("fsbridge-probe: host says: %s\n", buf);
	return 0;
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (check_fuse() || write_file() || read_file())
		return 1;
	printf("fsbridge-probe: OK\n");
	return 0;
}
