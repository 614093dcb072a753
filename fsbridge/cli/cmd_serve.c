/*
 * cmd_serve: `fsbridge serve --socket PATH [--allow-uid UID]... [--queues N]
 * [--once] [-o OPTIONS] SRC`: serve SRC to QEMU guests as a vhost-user-fs
 * device.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "log.h"
#include "serve_opts.h"
#include "vhost/vhost_user.h"

static void
serve_usage(FILE *out)
{
	fprintf(out,
	    "usage: fsbridge serve --socket PATH [--allow-uid UID]... [--queues N] [--once]\n"
	    "                      [-o OPTIONS] SRC\n"
	    "\n"
	    "Serve the directory SRC to QEMU guests as a vhost-user-fs device on the\n"
	    "Unix socket PATH (QEMU: -chardev socket,id=fs,path=PATH\n"
	    "-device vhost-user-fs-pci,chardev=fs,tag=TAG).  Runs in the foreground;\n"
	    "when a guest goes away the next one is served.\n"
	    "\n"
	    "  --socket PATH      the socket to create, mode 0600 (a stale socket of yours\n"
	    "                     is replaced; anything else there is refused); only your\n"
	    "                     own user and root may be the front-end\n"
	    "  --allow-uid UID    also let user UID (a number or name) be the front-end,\n"
	    "                     with access to all of SRC as you; the socket becomes\n"
	    "                     0666 and every other user is still refused (repeatable)\n"
	    "  --queues N         request queues, one worker thread each (1-%d, default 1)\n"
	    "  --once             exit when the first guest disconnects\n"
	    "  --hints-fd N       watch SRC and write what changes on the host to fd N,\n"
	    "                     for a guest agent that makes the guest look again\n"
	    "                     (launch); names and attributes are then cached long\n"
	    "  -o OPTIONS         policy options as for 'fsbridge mount' (ro, symlinks=, trust_client,\n"
	    "                     specials=, suid, cache=, xattr=, uidmap=, gidmap=, hide=,\n"
	    "                     expose=, policy=FILE)\n"
	    "                     and revalidate=SECONDS (how long a guest may cache names\n"
	    "                     and attributes with cache=auto; default 1), fd_cache=,\n"
	    "                     watch= (with --hints-fd), poll=USEC (spin on an empty\n"
	    "                     request queue that long before sleeping; default 0), debug\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "Exit status: 0 stopped by a signal (or --once), 1 failed, 2 bad usage.\n"
	    "See fsbridge(1).\n", VU_MAX_REQUEST_QUEUES);
}

/* One option of -o only serve takes: 0, an exit code, or -ENOENT. */
static int
serve_apply_option(void *ctx, char *opt)
{
	struct serve_opts *so = ctx;

	if (strncmp(opt, "poll=", 5) != 0)
		return -ENOENT;
	if (cli_parse_uint(opt + 5, 0, VU_MAX_POLL_USEC, &so->poll_usec) != 0) {
		fprintf(stderr, "fsbridge: -o %s: poll takes microseconds from 0 to %u\n", opt,
		    VU_MAX_POLL_USEC);
		return EXIT_USAGE;
	}
	return 0;
}

/* --allow-uid UID: a uid number or a user name. */
static int
serve_allow_uid(struct serve_opts *so, const char *arg)
{
	struct passwd *pw;
	unsigned int uid;

	if (cli_parse_uint(arg, 0, UINT32_MAX - 1, &uid) != 0) {
		pw = getpwnam(arg);
		if (pw == NULL) {
			fprintf(stderr, "fsbridge: --allow-uid %s: no such user (give a uid or a user name)\n", arg);
			return EXIT_USAGE;
		}
		uid = (unsigned int)pw->pw_uid;
	}
	if (so->nallow == SERVE_MAX_ALLOW_UIDS) {
		fprintf(stderr, "fsbridge: --allow-uid %s: at most %d users may be allowed\n",
		    arg, SERVE_MAX_ALLOW_UIDS);
		return EXIT_USAGE;
	}
	so->allow_uids[so->nallow++] = (uid_t)uid;
	return 0;
}

static int
serve_parse(int argc, char **argv, struct serve_opts *so)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "queues", required_argument, NULL, 'q' },
		{ "once", no_argument, NULL, '1' },
		{ "hints-fd", required_argument, NULL, 'H' },
		{ "allow-uid", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	memset(so, 0, sizeof(*so));
	share_opts_init(&so->share);
	so->queues = 1;
	so->hints_fd = -1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			so->socket = optarg;
			break;
		case 'q':
			if (cli_parse_uint(optarg, 1, VU_MAX_REQUEST_QUEUES, &so->queues) != 0) {
				fprintf(stderr, "fsbridge: --queues %s: takes a number from 1 to %d\n",
				    optarg, VU_MAX_REQUEST_QUEUES);
				return EXIT_USAGE;
			}
			break;
		case '1':
			so->once = true;
			break;
		case 'H': {
			unsigned int fd;

			if (cli_parse_uint(optarg, 0, 1u << 20, &fd) != 0 || fcntl((int)fd, F_GETFD) < 0) {
				fprintf(stderr, "fsbridge: --hints-fd %s: not an open descriptor\n", optarg);
				return EXIT_USAGE;
			}
			so->hints_fd = (int)fd;
			break;
		}
		case 'u':
			if ((rc = serve_allow_uid(so, optarg)) != 0)
				return rc;
			break;
		case 'o':
			if ((rc = share_opts_apply(&so->share, optarg, "serve", serve_apply_option, so)) != 0)
				return rc;
			break;
		case 'h':
			serve_usage(stdout);
			return -1;
		default:
			fprintf(stderr, "fsbridge: serve: unknown or incomplete option '%s' (see 'fsbridge serve --help')\n",
			    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (so->socket == NULL || argc - optind != 1) {
		fprintf(stderr, "fsbridge: serve: expected --socket PATH and SRC (see 'fsbridge serve --help')\n");
		return EXIT_USAGE;
	}
	share_source_init(&so->share.src, argv[optind]);
	return cli_check_policy(&so->share.policy);
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_opts so;
	int rc;

	rc = serve_parse(argc, argv, &so);
	if (rc != 0)
		return rc < 0 ? EXIT_OK : rc;
	/* an NFS export is connected to once now, for a one-line error
	 * before serving */
	rc = share_opts_check_src(&so.share, true);
	if (rc != 0)
		return rc;
	log_init(false, so.share.debug);
	log_capture_libfuse();
	umask(0);
	return transport_vhost_run(&so);
}
