/*
 * mount_opts: what `fsbridge mount` was asked to do, parsed from its
 * command line (cmd_mount.c) and handed to the FUSE transport.
 */
#ifndef FSBRIDGE_MOUNT_OPTS_H
#define FSBRIDGE_MOUNT_OPTS_H

#include <stdbool.h>

#include "policy.h"
#include "watch.h"

struct mount_opts {
	struct policy policy;
	const char *src;
	const char *mnt;
	const char *pidfile;
	bool foreground;
	bool allow_other;
	bool atime;		/* update access times on read (default noatime) */
	bool debug;
	unsigned int threads;	/* 0: libfuse's default */
	unsigned int fd_cache;	/* 0: from RLIMIT_NOFILE */
	enum watch_kind watch;	/* how host changes are noticed */
	double revalidate;	/* cache time where nobody reports changes; <0: default */
};

struct share;

/* Mount the share sh at mo->mnt and serve it until unmounted or signalled.
 * Returns an exit code (cli.h). */
int transport_fuse_run(struct share *sh, const struct mount_opts *mo);

#endif
