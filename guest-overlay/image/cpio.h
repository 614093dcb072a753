/*
 * cpio: a writer for the "newc" cpio format (magic 070701), the one the
 * Linux kernel unpacks as an initramfs.  Entries go to a caller-supplied
 * sink (e.g. a compressor); names are stored relative ("etc/x" for
 * "/etc/x"), each name at most once, and every entry's missing parent
 * directories are written before it (mode 0755).  Functions return 0 or
 * -errno.
 */
#ifndef GUEST_OVERLAY_CPIO_H
#define GUEST_OVERLAY_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Consumes len bytes; returns 0 or -errno. */
typedef int (*cpio_sink_fn)(void *ctx, const void *buf, size_t len);

struct cpio {
	cpio_sink_fn sink;
	void *ctx;
	uint64_t offset;     /* bytes written so far (for alignment) */
	uint32_t next_ino;
	void *names;         /* tsearch() tree of the names written */
	unsigned entries;    /* entries written, trailer excluded */
	uint64_t data_bytes; /* file and symlink contents written */
};

void cpio_init(struct cpio *c, cpio_sink_fn sink, void *ctx);
/* Frees the name set; does not write anything. */
void cpio_free(struct cpio *c);

/* Whether path was already written (or created as a parent). */
int cpio_has(const struct cpio *c, const char *path);
/* A directory; -EEXIST if the name was already written. */
int cpio_add_dir(struct cpio *c, const char *path, mode_t perm);
/* A regular file whose contents are in memory. */
int cpio_add_data(struct cpio *c, const char *path, mode_t perm,
    const void *data, size_t len, time_t mtime);
/* A regular file of exactly size bytes read from fd (-EIO if it is
 * shorter: it changed while being read). */
int cpio_add_fd(struct cpio *c, const char *path, mode_t perm, int fd,
    uint64_t size, time_t mtime);
int cpio_add_symlink(struct cpio *c, const char *path, const char *target);
/* A device node: type is S_IFCHR or S_IFBLK. */
int cpio_add_node(struct cpio *c, const char *path, mode_t type, mode_t perm,
    unsigned major, unsigned minor);
/* The TRAILER!!! entry that ends the archive. */
int cpio_finish(struct cpio *c);

#endif
