/*
 * serve_opts: what `fsbridge serve` was asked to do, parsed from its
 * command line (cmd_serve.c) and handed to the vhost-user transport.
 */
#ifndef FSBRIDGE_SERVE_OPTS_H
#define FSBRIDGE_SERVE_OPTS_H

#include <stdbool.h>
#include <sys/types.h>

#include "share_opts.h"

#define SERVE_MAX_ALLOW_UIDS 16

struct serve_opts {
	struct share_opts share;	/* SRC, policy and the options mount takes too */
	const char *socket;
	unsigned int queues;	/* request queues, each with its worker thread */
	unsigned int poll_usec;	/* -o poll=: request queues spin this long before sleeping */
	bool once;		/* exit when the first guest goes away */
	int hints_fd;		/* fs_hint.c records go here, or -1 */
	uid_t allow_uids[SERVE_MAX_ALLOW_UIDS];	/* --allow-uid: other front-ends' users */
	unsigned int nallow;
};

/* Serve so->share's SRC to guests on so->socket; returns an exit code
 * (cli.h). */
int transport_vhost_run(const struct serve_opts *so);

#endif
