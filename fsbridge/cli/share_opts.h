/*
 * share_opts: what `fsbridge mount` and `fsbridge serve` are both told
 * about the share -- SRC, the policy, the -o options they share -- and
 * the parser of -o that each command extends with its own options
 * (mount_opts.h, serve_opts.h).
 */
#ifndef FSBRIDGE_SHARE_OPTS_H
#define FSBRIDGE_SHARE_OPTS_H

#include <stdbool.h>

#include "policy.h"
#include "share_source.h"
#include "watch.h"

struct share_opts {
	struct policy policy;
	struct share_source src;
	unsigned int fd_cache;	/* 0: from RLIMIT_NOFILE */
	enum watch_kind watch;	/* how host changes are noticed */
	double revalidate;	/* cache time where nobody reports changes; <0: default */
	bool debug;
};

/* The defaults: policy_init_default, watch=auto, revalidate unset. */
void share_opts_init(struct share_opts *so);

/*
 * Apply a comma-separated -o list, left to right (the list is cut up).
 * Each option is a policy option, one both commands take (policy=FILE,
 * revalidate=, watch=, fd_cache=, debug), or else the command's own:
 * own(ctx, opt) returns 0, an exit code, or -ENOENT for an option it does
 * not know either (own NULL: the command has none), which is then
 * refused naming 'fsbridge CMD --help'.
 * 0 or an exit code (cli.h), the message printed.
 */
int share_opts_apply(struct share_opts *so, char *list, const char *cmd,
    int (*own)(void *ctx, char *opt), void *ctx);

/* SRC, once all of the command line is read: a local directory must be
 * one; an NFS export is connected to once if connect, else left for
 * share_opts_open.  0 or an exit code, the message printed. */
int share_opts_check_src(const struct share_opts *so, bool connect);

/* The backend over SRC (an NFS export with a pool of nfs_pool
 * connections, 0: the default).  0 or an exit code, the message printed. */
int share_opts_open(const struct share_opts *so, unsigned int nfs_pool,
    struct backend **out);

#endif
