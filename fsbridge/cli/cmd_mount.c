/*
 * cmd_mount: `fsbridge mount [-f] [-o OPTIONS] SRC MNT` and
 * `fsbridge umount [-l] MNT`: parse and check the command line, refuse
 * what cannot work with one clear line, then hand over to the FUSE
 * transport.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "share.h"
#include "log.h"
#include "mount_opts.h"

static void
mount_usage(FILE *out)
{
	fprintf(out,
	    "usage: fsbridge mount [-f] [-o OPTION[,OPTION...]] SRC MNT\n"
	    "\n"
	    "Serve the directory SRC at the mount point MNT through FUSE, under a\n"
	    "share policy.  Returns once the mount is live; a daemon serves it until\n"
	    "'fsbridge umount MNT'.  SRC may also be an NFS export,\n"
	    "nfs://SERVER/EXPORT[/DIR][?version=3|4], reached with libnfs (no kernel\n"
	    "NFS mount; nobody reports its changes: attributes are cached for 1 s).\n"
	    "\n"
	    "  -f                    stay in the foreground (log to stderr)\n"
	    "  -o OPTIONS            comma-separated, applied left to right:\n"
	    "     ro | rw                      refuse every change with EROFS (default rw)\n"
	    "     symlinks=deny|opaque|follow  symlink policy (default opaque); follow on\n"
	    "                                  a writable share needs trust_client\n"
	    "     trust_client                 the client is trusted: it may make links\n"
	    "                                  that the server follows (symlinks=follow)\n"
	    "     specials=none|pipes|all      which fifos/sockets/devices may be created\n"
	    "                                  (default pipes: fifos and sockets)\n"
	    "     suid | nosuid                trusted trees only: clients may set and keep\n"
	    "                                  setuid/setgid bits (default nosuid: dropped)\n"
	    "     cache=none|auto|always       client caching (default auto)\n"
	    "     xattr=none|NS[:NS...]        allowed xattr namespaces among user, system,\n"
	    "                                  security, trusted (default user:system)\n"
	    "     uidmap=CLIENT:HOST[:COUNT]   map client uids to host uids (repeatable)\n"
	    "     gidmap=CLIENT:HOST[:COUNT]   the same for gids\n"
	    "     hide=PATH                    hide PATH (from the share root) and beneath:\n"
	    "                                  not listed, ENOENT (repeatable)\n"
	    "     expose=PATH                  drop the hide rules at or beneath PATH\n"
	    "     policy=FILE                  read policy options from FILE\n"
	    "     allow_other                  let other users use the mount\n"
	    "     atime | noatime              the kernel updates access times on read\n"
	    "                                  (default noatime)\n"
	    "     threads=N                    at most N worker threads (1-256)\n"
	    "     fd_cache=N                   keep at most N inode fds open (>= 16)\n"
	    "     revalidate=SECONDS           with cache=auto, how long entries nobody\n"
	    "                                  reports changes for stay cached (default 1;\n"
	    "                                  NFS exports, directories beyond the watch limit)\n"
	    "     watch=auto|fanotify|inotify|none  how host changes are noticed (default\n"
	    "                                  auto: fanotify where allowed, else inotify)\n"
	    "     io_uring=auto|on|off         serve requests over io_uring rings (Linux\n"
	    "                                  6.14+, enable_uring=1) or /dev/fuse (default\n"
	    "                                  auto: io_uring where the kernel offers it)\n"
	    "     passthrough=auto|on|off      the kernel reads and writes opened files on\n"
	    "                                  the host file itself (Linux 6.9+, root; every\n"
	    "                                  open then asks the server; default off)\n"
	    "     prefill=on|off               after a listing, push its small files' data\n"
	    "                                  into the page cache for a process that reads\n"
	    "                                  the files it lists (tar, grep -r; default on)\n"
	    "     pidfile=PATH                 write the daemon's pid to PATH\n"
	    "     debug                        log every request (implies -f)\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Exit status: 0 mounted, 1 failed (path, mount point, /dev/fuse), 2 bad usage.\n"
	    "See fsbridge(1).\n");
}

/* One option of -o only mount takes: 0, an exit code, or -ENOENT. */
static int
mount_apply_option(void *ctx, char *opt)
{
	struct mount_opts *mo = ctx;

	if (strcmp(opt, "allow_other") == 0)
		mo->allow_other = true;
	else if (strcmp(opt, "atime") == 0)
		mo->atime = true;
	else if (strcmp(opt, "noatime") == 0)
		mo->atime = false;
	else if (strncmp(opt, "pidfile=", 8) == 0 && opt[8] != '\0')
		mo->pidfile = opt + 8;
	else if (strncmp(opt, "threads=", 8) == 0) {
		if (cli_parse_uint(opt + 8, 1, 256, &mo->threads) != 0) {
			fprintf(stderr, "fsbridge: -o %s: threads takes a number from 1 to 256\n", opt);
			return EXIT_USAGE;
		}
	} else if (strncmp(opt, "io_uring=", 9) == 0) {
		if (strcmp(opt + 9, "auto") == 0)
			mo->uring = MOUNT_URING_AUTO;
		else if (strcmp(opt + 9, "on") == 0)
			mo->uring = MOUNT_URING_ON;
		else if (strcmp(opt + 9, "off") == 0)
			mo->uring = MOUNT_URING_OFF;
		else {
			fprintf(stderr, "fsbridge: -o %s: io_uring is one of auto, on, off\n", opt);
			return EXIT_USAGE;
		}
	} else if (strcmp(opt, "prefill=on") == 0) {
		mo->no_prefill = false;
	} else if (strcmp(opt, "prefill=off") == 0) {
		mo->no_prefill = true;
	} else if (strncmp(opt, "prefill=", 8) == 0) {
		fprintf(stderr, "fsbridge: -o %s: prefill is on or off\n", opt);
		return EXIT_USAGE;
	} else if (strncmp(opt, "passthrough=", 12) == 0) {
		if (strcmp(opt + 12, "auto") == 0)
			mo->passthrough = MOUNT_PASSTHROUGH_AUTO;
		else if (strcmp(opt + 12, "on") == 0)
			mo->passthrough = MOUNT_PASSTHROUGH_ON;
		else if (strcmp(opt + 12, "off") == 0)
			mo->passthrough = MOUNT_PASSTHROUGH_OFF;
		else {
			fprintf(stderr, "fsbridge: -o %s: passthrough is one of auto, on, off\n", opt);
			return EXIT_USAGE;
		}
	} else
		return -ENOENT;
	return 0;
}

/*
 * A mount point strictly inside the source would put the mount inside
 * the tree it serves: every walk through it would come back to the
 * server itself.  (Mounting on SRC itself is fine: the server keeps the
 * directory underneath.)
 */
static int
mount_check_not_inside(const struct share_source *source, const char *mnt)
{
	const char *src = source->path;
	char rs[PATH_MAX], rm[PATH_MAX];
	size_t n;

	if (source->nfs || realpath(src, rs) == NULL || realpath(mnt, rm) == NULL)
		return 0;
	n = strlen(rs);
	if (strcmp(rs, "/") == 0 ? strcmp(rm, "/") != 0 :
	    strncmp(rm, rs, n) == 0 && rm[n] == '/') {
		fprintf(stderr, "fsbridge: mount point %s is inside the source %s: the share would contain "
		    "itself (mount it elsewhere, or on the source itself)\n", mnt, src);
		return EXIT_FAILURE_RUN;
	}
	return 0;
}

/* SRC and MNT must be directories; MNT must not be a mount point yet. */
static int
mount_check_paths(const struct mount_opts *mo)
{
	struct statx stx;
	int rc;

	rc = share_opts_check_src(&mo->share, false);
	if (rc != 0)
		return rc;
	if (statx(AT_FDCWD, mo->mnt, 0, STATX_TYPE, &stx) != 0) {
		if (errno == ENOTCONN)
			fprintf(stderr, "fsbridge: mount point %s: a dead FUSE mount is there (run 'fsbridge umount %s')\n",
			    mo->mnt, mo->mnt);
		else
			fprintf(stderr, "fsbridge: mount point %s: %s\n", mo->mnt, strerror(errno));
		return EXIT_FAILURE_RUN;
	}
	if (!S_ISDIR(stx.stx_mode)) {
		fprintf(stderr, "fsbridge: mount point %s: not a directory\n", mo->mnt);
		return EXIT_FAILURE_RUN;
	}
	rc = mount_check_not_inside(&mo->share.src, mo->mnt);
	if (rc != 0)
		return rc;
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		fprintf(stderr, "fsbridge: mount point %s: something is already mounted there (unmount it first)\n",
		    mo->mnt);
		return EXIT_FAILURE_RUN;
	}
	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		fprintf(stderr, "fsbridge: /dev/fuse: %s (load the fuse module: modprobe fuse)\n",
		    strerror(errno));
		return EXIT_FAILURE_RUN;
	}
	return 0;
}

static int
mount_parse(int argc, char **argv, struct mount_opts *mo)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "foreground", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	memset(mo, 0, sizeof(*mo));
	share_opts_init(&mo->share);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			mo->foreground = true;
			break;
		case 'o':
			rc = share_opts_apply(&mo->share, optarg, "mount", mount_apply_option, mo);
			if (rc != 0)
				return rc;
			break;
		case 'h':
			mount_usage(stdout);
			return -1;
		default:
			fprintf(stderr, "fsbridge: mount: unknown or incomplete option '%s' (see 'fsbridge mount --help')\n",
			    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "fsbridge: mount: expected SRC and MNT (see 'fsbridge mount --help')\n");
		return EXIT_USAGE;
	}
	share_source_init(&mo->share.src, argv[optind]);
	mo->mnt = argv[optind + 1];
	if (mo->share.debug)	/* debug implies -f */
		mo->foreground = true;
	return cli_check_policy(&mo->share.policy);
}

int
cmd_mount(int argc, char **argv)
{
	struct share_client client = { .kind = SHARE_CLIENT_HOST, .hint_fd = -1 };
	struct mount_opts mo;
	struct backend *backend;
	struct share sh;
	int rc;

	rc = mount_parse(argc, argv, &mo);
	if (rc != 0)
		return rc < 0 ? EXIT_OK : rc;
	rc = mount_check_paths(&mo);
	if (rc != 0)
		return rc;
	log_init(false, mo.share.debug);
	log_capture_libfuse();
	umask(0);
	rc = share_opts_open(&mo.share, 0, &backend);
	if (rc != 0)
		return rc;
	rc = share_init(&sh, &mo.share.policy, backend);
	if (rc != 0) {
		fprintf(stderr, "fsbridge: source %s: %s\n", mo.share.src.path, strerror(-rc));
		backend->ops->destroy(backend);
		return EXIT_FAILURE_RUN;
	}
	client.revalidate = mo.share.revalidate;
	share_set_client(&sh, &client);
	rc = transport_fuse_run(&sh, &mo);
	share_destroy(&sh);
	return rc;
}
