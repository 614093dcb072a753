/*
 * fdio: whole-buffer reads and writes on a descriptor, retrying on EINTR.
 * libc only: the launcher, the static agent (through frame_io.c) and the
 * image builder link the same file.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "guest-overlay/contract/fdio.h"

int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t
read_full(int fd, void *p, size_t len)
{
	char *c = p;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, c + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t
read_exact(int fd, void *p, size_t len)
{
	ssize_t n = read_full(fd, p, len);

	if (n > 0 && (size_t)n < len)
		return -EPIPE;
	return n;
}
