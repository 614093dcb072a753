/* fdio.h: whole-buffer reads and writes on a descriptor (libc only). */
#ifndef FSB_FDIO_H
#define FSB_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* write(2) until done, retrying on EINTR; 0 or -errno. */
int write_all(int fd, const void *p, size_t len);

/* read(2) until len bytes or end of stream, retrying on EINTR: the
 * bytes read (fewer than len only at end of stream), or -errno. */
ssize_t read_full(int fd, void *p, size_t len);

/* Reads exactly len bytes: len, 0 at end of stream before any byte,
 * -EPIPE for a stream cut in the middle, -errno. */
ssize_t read_exact(int fd, void *p, size_t len);

#endif
