/*
 * fs_passthrough: which opens of a host mount the kernel serves on the
 * host file itself (FUSE passthrough), and the backing file each inode
 * shares among its opens.  The transport registers and names backing
 * files (transport/fuse_passthrough.c); this decides.  See fs_passthrough.c.
 */
#ifndef FSBRIDGE_FS_PASSTHROUGH_H
#define FSBRIDGE_FS_PASSTHROUGH_H

#include <stdbool.h>
#include <sys/stat.h>

struct share;
struct inode;
struct backend_file;

/* What a transport that can do passthrough gives the share. */
struct fs_passthrough {
	/* register host fd as a backing file: its id (> 0) or -errno */
	int (*backing_open)(void *ctx, int fd);
	void (*backing_close)(void *ctx, int id);
	/* the next reply on this thread (an OPEN or CREATE reply) names id */
	void (*reply_with)(int id);
	void *ctx;
	bool required;		/* passthrough=on: say so when it cannot be had */
	bool broken;		/* backing files cannot be had here (EPERM, ELOOP, ...) */
	unsigned long opens;	/* opens answered in passthrough */
};

/* Before the session starts: the share will ask for passthrough, so the
 * kernel must send OPEN (no no-open mode) and keep no writeback cache
 * (the kernel does not combine it with passthrough). */
void fs_passthrough_prepare(struct share *sh);

/*
 * An open of in (a regular file the backend opened as bf, every policy
 * check passed; st its host attributes, NULL if unknown) about to be
 * registered: the backing id its reply names (> 0), or 0 for an ordinary
 * open.  Called with the inode table locked.  Every open of an inode with
 * passthrough opens gets the same backing file, none while it has
 * ordinary ones (the kernel refuses a mix), and a setuid or setgid file
 * none: its writes must come here to clear the bits.
 */
int fs_passthrough_take(struct share *sh, struct inode *in, const struct backend_file *bf,
    const struct stat *st);
/* A passthrough open of in is released (inode table locked). */
void fs_passthrough_drop(struct share *sh, struct inode *in);

#endif
