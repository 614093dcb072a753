/*
 * share_opts: the -o options `fsbridge mount` and `fsbridge serve` share,
 * and their SRC: checked, and opened as a backend (share_source.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "share_opts.h"

void
share_opts_init(struct share_opts *so)
{
	memset(so, 0, sizeof(*so));
	policy_init_default(&so->policy);
	so->watch = WATCH_KIND_AUTO;
	so->revalidate = -1;
}

/* One option of -o both commands take: 0, an exit code, or -ENOENT. */
static int
share_opts_apply_one(struct share_opts *so, char *opt)
{
	char err[256];
	int rc;

	rc = policy_apply_option(&so->policy, opt, err, sizeof(err));
	if (rc == 0)
		return 0;
	if (rc != -ENOENT) {
		fprintf(stderr, "fsbridge: -o %s: %s\n", opt, err);
		return EXIT_USAGE;
	}
	if (strcmp(opt, "debug") == 0)
		so->debug = true;
	else if (strncmp(opt, "policy=", 7) == 0)
		return cli_apply_policy_file(&so->policy, opt + 7);
	else if (strncmp(opt, "revalidate=", 11) == 0) {
		if (cli_parse_seconds(opt + 11, &so->revalidate) != 0) {
			fprintf(stderr, "fsbridge: -o %s: revalidate takes seconds from 0 to 86400\n", opt);
			return EXIT_USAGE;
		}
	} else if (strncmp(opt, "watch=", 6) == 0) {
		if (watch_kind_parse(opt + 6, &so->watch) != 0 || so->watch == WATCH_KIND_KQUEUE) {
			fprintf(stderr, "fsbridge: -o %s: watch is one of auto, fanotify, inotify, none\n", opt);
			return EXIT_USAGE;
		}
	} else if (strncmp(opt, "fd_cache=", 9) == 0) {
		if (cli_parse_uint(opt + 9, 16, 1u << 24, &so->fd_cache) != 0) {
			fprintf(stderr, "fsbridge: -o %s: fd_cache takes a number of at least 16\n", opt);
			return EXIT_USAGE;
		}
	} else
		return -ENOENT;
	return 0;
}

int
share_opts_apply(struct share_opts *so, char *list, const char *cmd,
    int (*own)(void *ctx, char *opt), void *ctx)
{
	char *opt, *save = NULL;
	int rc;

	for (opt = strtok_r(list, ",", &save); opt != NULL; opt = strtok_r(NULL, ",", &save)) {
		rc = share_opts_apply_one(so, opt);
		if (rc == -ENOENT && own != NULL)
			rc = own(ctx, opt);
		if (rc == -ENOENT) {
			fprintf(stderr, "fsbridge: -o %s: unknown option (see 'fsbridge %s --help')\n",
			    opt, cmd);
			return EXIT_USAGE;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
share_opts_check_src(const struct share_opts *so, bool connect)
{
	const char *src = so->src.path;
	struct backend *b;
	struct stat st;
	int rc;

	if (so->src.nfs) {
		if (!connect)
			return 0;
		rc = share_opts_open(so, 1, &b);
		if (rc == 0)
			b->ops->destroy(b);
		return rc;
	}
	if (stat(src, &st) != 0) {
		fprintf(stderr, "fsbridge: source %s: %s\n", src, strerror(errno));
		return EXIT_FAILURE_RUN;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fsbridge: source %s: not a directory\n", src);
		return EXIT_FAILURE_RUN;
	}
	return 0;
}

int
share_opts_open(const struct share_opts *so, unsigned int nfs_pool, struct backend **out)
{
	int rc;

	rc = share_source_open(&so->src, so->fd_cache, nfs_pool, out);
	if (rc == 0)
		return 0;
	fprintf(stderr, "fsbridge: source %s: %s\n", so->src.path, share_source_error(&so->src, rc));
	/* a malformed nfs:// URL is a usage error */
	return rc == -EINVAL && so->src.nfs ? EXIT_USAGE : EXIT_FAILURE_RUN;
}
