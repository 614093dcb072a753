/*
 * mount_opts: what `fsbridge mount` was asked to do, parsed from its
 * command line (cmd_mount.c) and handed to the FUSE transport.
 */
#ifndef FSBRIDGE_MOUNT_OPTS_H
#define FSBRIDGE_MOUNT_OPTS_H

#include <stdbool.h>

#include "share_opts.h"

/* io_uring=: how the mount's requests reach the server */
enum mount_uring {
	MOUNT_URING_AUTO = 0,	/* io_uring rings where the kernel offers them */
	MOUNT_URING_ON,		/* io_uring or fail */
	MOUNT_URING_OFF,	/* /dev/fuse only */
};

/* passthrough=: whether the kernel reads and writes opened host files itself */
enum mount_passthrough {
	MOUNT_PASSTHROUGH_OFF = 0,	/* every read and write comes to the server */
	MOUNT_PASSTHROUGH_AUTO,		/* where the kernel and our privileges allow */
	MOUNT_PASSTHROUGH_ON,		/* passthrough or fail */
};

struct mount_opts {
	struct share_opts share;	/* SRC, policy and the options serve takes too */
	const char *mnt;
	const char *pidfile;
	bool foreground;
	bool allow_other;
	bool atime;		/* update access times on read (default noatime) */
	unsigned int threads;	/* 0: libfuse's default */
	enum mount_uring uring;
	enum mount_passthrough passthrough;
	bool no_prefill;	/* prefill=off: no small files pushed after listings */
};

struct share;

/* Mount the share sh at mo->mnt and serve it until unmounted or signalled.
 * Returns an exit code (cli.h). */
int transport_fuse_run(struct share *sh, const struct mount_opts *mo);

#endif
