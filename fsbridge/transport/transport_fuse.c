/*
 * transport_fuse: the host FUSE mount.  A libfuse session over
 * /dev/fuse, built from the shared ops table, mounted, daemonised once
 * the mount is live (so errors reach the caller), served by libfuse's
 * multi-threaded loop until unmounted; where the kernel offers it
 * (io_uring=auto|on), most requests come over io_uring rings instead
 * (fuse_uring.c), served by one thread per CPU queue; with
 * passthrough=auto|on the kernel reads and writes opened host files
 * itself (fuse_passthrough.c, core/fs_passthrough.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <libutil.h>
#include <linux/fuse.h>
#include <unistd.h>

#include "cli.h"
#include "share.h"
#include "fs_passthrough.h"
#include "fuse_drain.h"
#include "fuse_killpriv.h"
#include "fuse_passthrough.h"
#include "fuse_uring.h"
#include "log.h"
#include "mount_opts.h"

/*
 * /dev/fuse read and written by us rather than libfuse, only to see each
 * request and reply whole: an INIT offering FUSE_HANDLE_KILLPRIV_V2 gets
 * it in its reply, and each request's kill flag reaches the ops
 * (fuse_killpriv.c); an INIT offering FUSE_OVER_IO_URING gets it too when
 * the mount has rings (fuse_uring.c), whose requests then come from the
 * rings and whose replies go back into them; with passthrough=auto|on
 * an INIT offering FUSE_PASSTHROUGH gets it, and an OPEN or CREATE reply
 * the core gave a backing file names it (fuse_passthrough.c), over either
 * transport.  A request is read and answered on one thread.
 */
static __thread bool transport_fuse_init;		/* this thread read INIT */
static __thread bool transport_fuse_init_killpriv;	/* ... offering killpriv */
static __thread bool transport_fuse_init_uring;		/* ... offering io_uring */
static __thread bool transport_fuse_init_pt;		/* ... offering passthrough */

/* The mount's io_uring rings (NULL: /dev/fuse only) and whether it must
 * use them (io_uring=on). */
static struct fuse_uring *transport_fuse_ring;
static bool transport_fuse_ring_required;
static struct fuse_session *transport_fuse_se;

/* Passthrough: asked for (auto or on), and what the share gets once the
 * kernel has accepted it at INIT. */
static struct share *transport_fuse_share;
static bool transport_fuse_pt_wanted;
static struct fs_passthrough transport_fuse_pt;

static ssize_t
transport_fuse_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	struct fuse_in_header h = { 0 };

	if (n > 0) {
		if ((size_t)n >= sizeof(h))
			memcpy(&h, buf, sizeof(h));
		transport_fuse_init = h.opcode == FUSE_INIT;
		transport_fuse_init_killpriv = fuse_killpriv_init_offered(buf, (size_t)n);
		transport_fuse_init_uring = fuse_uring_init_offered(buf, (size_t)n);
		transport_fuse_init_pt = fuse_passthrough_init_offered(buf, (size_t)n);
		fs_request_kill_suidgid = fuse_killpriv_request_kills(buf, (size_t)n);
	}
	return n;
}

/* The INIT reply, with what libfuse 3.14 cannot negotiate added. */
static ssize_t
transport_fuse_init_reply(int fd, struct iovec *iov, int count)
{
	char reply[256];
	size_t len = 0;
	bool uring = false;
	ssize_t n;
	int i, rc;

	for (i = 0; i < count; i++) {
		if (iov[i].iov_len > sizeof(reply) - len)
			return writev(fd, iov, count);
		memcpy(reply + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (transport_fuse_init_killpriv)
		(void)fuse_killpriv_patch_init_reply(reply, len);
	if (transport_fuse_pt_wanted) {
		rc = transport_fuse_init_pt ? fuse_passthrough_init_reply(reply, len) : -ENOTSUP;
		if (rc == 0) {
			log_debug("passthrough: on");
			transport_fuse_share->passthrough = &transport_fuse_pt;
		} else if (transport_fuse_pt.required) {
			log_error("passthrough=on: %s", rc == -ENOTSUP ?
			    "the kernel did not offer FUSE passthrough at INIT" : strerror(-rc));
			fuse_session_exit(transport_fuse_se);
		} else {
			log_debug("passthrough: off (%s)", rc == -ENOTSUP ?
			    "not offered by the kernel at INIT" : strerror(-rc));
		}
	}
	if (transport_fuse_ring != NULL) {
		rc = transport_fuse_init_uring ?
		    fuse_uring_init_reply(transport_fuse_ring, reply, len) : -ENOTSUP;
		uring = rc == 0;
		if (!uring && transport_fuse_ring_required) {
			log_error("io_uring=on: %s", rc == -ENOTSUP ?
			    "the kernel did not offer FUSE over io_uring at INIT" : strerror(-rc));
			fuse_session_exit(transport_fuse_se);
		} else if (!uring) {
			log_debug("transport: /dev/fuse (io_uring: %s)", rc == -ENOTSUP ?
			    "not offered by the kernel at INIT" : strerror(-rc));
		}
	}
	n = write(fd, reply, len);
	if (uring && n == (ssize_t)len) {
		log_debug("transport: io_uring (INIT, FORGET, INTERRUPT and notifications on /dev/fuse)");
		fuse_uring_go(transport_fuse_ring);
	}
	return n;
}

static ssize_t
transport_fuse_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	ssize_t n;

	fuse_passthrough_patch_reply(iov, count);
	n = fuse_uring_reply(iov, count);
	if (n >= 0)
		return n;	/* into the ring entry of this thread's request */
	if (transport_fuse_init) {
		transport_fuse_init = false;
		return transport_fuse_init_reply(fd, iov, count);
	}
	return writev(fd, iov, count);
}

static const struct fuse_custom_io transport_fuse_io = {
	.read = transport_fuse_read,
	.writev = transport_fuse_writev,
};

static int
transport_fuse_args(const struct mount_opts *mo, struct fuse_args *args)
{
	char opts[256];

	snprintf(opts, sizeof(opts),
	    "fsname=fsbridge,subtype=fsbridge,default_permissions%s%s%s%s",
	    mo->atime ? "" : ",noatime",
	    mo->allow_other ? ",allow_other" : "",
	    mo->share.policy.read_only ? ",ro" : "",
	    /* a trusted tree: setuid programs run as on a local disk (only a
	     * root mount may; fusermount3 ignores it for users) */
	    mo->share.policy.suid ? ",suid" : "");
	if (fuse_opt_add_arg(args, "fsbridge") != 0 ||
	    fuse_opt_add_arg(args, "-o") != 0 ||
	    fuse_opt_add_arg(args, opts) != 0)
		return -ENOMEM;
	if (mo->share.debug && fuse_opt_add_arg(args, "-d") != 0)
		return -ENOMEM;
	return 0;
}

static int
transport_fuse_loop(struct fuse_session *se, const struct mount_opts *mo)
{
	struct fuse_loop_config *cfg;
	int rc;

	if (mo->threads == 1)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (cfg == NULL)
		return -ENOMEM;
	if (mo->threads > 0)
		fuse_loop_cfg_set_max_threads(cfg, mo->threads);
	fuse_loop_cfg_set_idle_threads(cfg, mo->threads > 0 ? mo->threads : 4);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

/* The watcher's kind for this mount: none where nothing is cached. */
static enum watch_kind
transport_fuse_watch_kind(const struct mount_opts *mo)
{
	return mo->share.policy.cache == POLICY_CACHE_NONE ? WATCH_KIND_NONE : mo->share.watch;
}

/* Make sure an explicitly asked-for watcher can work, while errors can
 * still reach the caller (its thread is started after daemonising). */
static int
transport_fuse_probe_watch(struct share *sh, const struct mount_opts *mo)
{
	enum watch_kind kind = transport_fuse_watch_kind(mo);
	struct watcher *w;
	int fd, rc;

	if (kind == WATCH_KIND_NONE || kind == WATCH_KIND_AUTO)
		return 0;
	fd = sh->backend->ops->host_fd_get(sh->backend, sh->inodes.root);
	if (fd < 0)
		return fd;
	rc = watcher_open(kind, fd, &w);
	sh->backend->ops->host_fd_put(sh->backend, sh->inodes.root);
	if (rc == 0)
		watcher_close(w);
	return rc;
}

/*
 * pidfile=PATH is created (0644, never world-writable) or taken
 * over only if it is a regular file of ours: never through a symbolic link
 * (pidfile_open would follow one and truncate its target), never a file
 * another user planted.  pidfile_open then locks the same file: in a
 * sticky or private directory nobody else can swap it in between.
 */
static int
transport_fuse_pidfile_check(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == ELOOP)
			log_error("pidfile %s: is a symbolic link; not following it (give the real path)", path);
		else
			log_error("pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & S_IWOTH) != 0) {
		log_error("pidfile %s: not a regular file of yours that others cannot write; "
		    "not using it (remove it or choose another path)", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Whether the mount will offer io_uring: 1 yes, 0 no (off, or auto where
 * it cannot work: said in debug output), -1 io_uring=on where it cannot
 * work (said in one line, before anything is mounted).
 */
static int
transport_fuse_want_uring(const struct mount_opts *mo)
{
	const char *why;

	if (mo->uring == MOUNT_URING_OFF) {
		log_debug("transport: /dev/fuse (io_uring=off)");
		return 0;
	}
	if (fuse_uring_probe(&why) == 0)
		return 1;
	if (mo->uring == MOUNT_URING_ON) {
		log_error("io_uring=on: %s", why);
		return -1;
	}
	log_debug("transport: /dev/fuse (io_uring: %s)", why);
	return 0;
}

/* The share's backing files go through the mount's /dev/fuse. */
static int
transport_fuse_backing_open(void *ctx, int fd)
{
	return fuse_passthrough_backing_open(fuse_session_fd(ctx), fd);
}

static void
transport_fuse_backing_close(void *ctx, int id)
{
	fuse_passthrough_backing_close(fuse_session_fd(ctx), id);
}

/*
 * Whether the mount will ask for passthrough: 1 yes, 0 no (off, or auto
 * where it cannot work: said in debug output), -1 passthrough=on where
 * it cannot work (said in one line, before anything is mounted).
 */
static int
transport_fuse_want_passthrough(const struct mount_opts *mo)
{
	const char *why;

	if (mo->passthrough == MOUNT_PASSTHROUGH_OFF)
		return 0;
	if (!mo->share.src.nfs && fuse_passthrough_probe(&why) == 0)
		return 1;
	if (mo->share.src.nfs)
		why = "an NFS source has no host files to pass through";
	if (mo->passthrough == MOUNT_PASSTHROUGH_ON) {
		log_error("passthrough=on: %s", why);
		return -1;
	}
	log_debug("passthrough: off (%s)", why);
	return 0;
}

/* The rings, made once this is the daemon (threads and rings do not
 * survive its fork); false if io_uring=on cannot have them. */
static bool
transport_fuse_rings(struct fuse_session *se, const struct mount_opts *mo)
{
	int rc;

	transport_fuse_se = se;
	transport_fuse_ring_required = mo->uring == MOUNT_URING_ON;
	rc = fuse_uring_new(se, fuse_session_fd(se), &transport_fuse_ring);
	if (rc == 0)
		return true;
	transport_fuse_ring = NULL;
	if (transport_fuse_ring_required) {
		log_error("io_uring=on: cannot set up the rings: %s", strerror(-rc));
		return false;
	}
	log_debug("transport: /dev/fuse (io_uring rings: %s)", strerror(-rc));
	return true;
}

/* The fusectl id of our connection (the minor of the mount's device:
 * cli_fsbridge_mount), 0 if unknown. */
static unsigned int transport_fuse_conn;
static bool transport_fuse_aborted;	/* by transport_fuse_abort */

/* Abort our connection (fusectl; the mount's owner may): every request
 * still held ends with an error.  false if it cannot be done here. */
static bool
transport_fuse_abort(void)
{
	char path[64];
	bool done;
	int fd;

	if (transport_fuse_conn == 0)
		return false;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", transport_fuse_conn);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	done = write(fd, "1", 1) == 1;
	close(fd);
	transport_fuse_aborted = done;
	return done;
}

/*
 * After the loop: stop the threads of ours that may wait in the kernel
 * on a page that a request holds (a prefill store, a watcher's
 * invalidation).  After a signal the mount is still there and its
 * requests are no longer read: meanwhile they are answered EIO.
 */
static void
transport_fuse_stop_threads(struct share *sh, struct fuse_session *se)
{
	struct fuse_drain *d = fuse_drain_start(fuse_session_fd(se));
	unsigned long n;

	if (d == NULL)
		log_warn("cannot start answering requests while stopping: %s", strerror(ENOMEM));
	if (!fs_prefill_stop(sh, 3000)) {
		/* a store waits on a page that a request holds which the loop
		 * read and then dropped at its exit (libfuse's workers drop
		 * what they read once the session exits): nothing will answer
		 * it, and only an aborted connection frees the page */
		if (transport_fuse_abort())
			log_debug("prefill: its thread did not end 3 s after the stop "
			    "(a store waiting on a request nobody answers): connection aborted");
		else
			log_warn("prefill: its thread did not end 3 s after the stop and the "
			    "connection cannot be aborted (/sys/fs/fuse/connections): waiting");
		(void)fs_prefill_stop(sh, -1);
	}
	fs_watch_stop(sh);
	n = fuse_drain_stop(d);
	if (n > 0)
		log_debug("%lu requests answered EIO while stopping", n);
}

int
transport_fuse_run(struct share *sh, const struct mount_opts *mo)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	static char mnt_path[PATH_MAX];
	struct fuse_session *se;
	struct pidfh *pfh = NULL;
	int rc = EXIT_FAILURE_RUN;
	pid_t other;
	int uring, pt;

	uring = transport_fuse_want_uring(mo);
	if (uring < 0)
		return EXIT_FAILURE_RUN;
	pt = transport_fuse_want_passthrough(mo);
	if (pt < 0)
		return EXIT_FAILURE_RUN;
	if (pt) {
		fs_passthrough_prepare(sh);
		transport_fuse_share = sh;
		transport_fuse_pt_wanted = true;
		transport_fuse_pt.required = mo->passthrough == MOUNT_PASSTHROUGH_ON;
	}
	if (mo->pidfile != NULL) {
		if (transport_fuse_pidfile_check(mo->pidfile) != 0)
			return EXIT_FAILURE_RUN;
		pfh = pidfile_open(mo->pidfile, 0644, &other);
		if (pfh == NULL) {
			if (errno == EEXIST)
				log_error("%s: already held by running process %d", mo->pidfile, (int)other);
			else
				log_error("%s: %s", mo->pidfile, strerror(errno));
			return EXIT_FAILURE_RUN;
		}
	}
	rc = transport_fuse_probe_watch(sh, mo);
	if (rc != 0) {
		log_error("watch=%s: %s", watch_kind_name(mo->share.watch), strerror(-rc));
		rc = EXIT_FAILURE_RUN;
		goto out_pid;
	}
	rc = EXIT_FAILURE_RUN;
	if (transport_fuse_args(mo, &args) != 0) {
		log_error("out of memory");
		goto out_pid;
	}
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), sh);
	if (se == NULL)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	/* resolved before the mount: after it, the path's last step would
	 * ask this server, which does not answer yet */
	if (realpath(mo->mnt, mnt_path) == NULL)
		mnt_path[0] = '\0';
	if (fuse_session_mount(se, mo->mnt) != 0)
		goto out_signals;
	if (mnt_path[0] != '\0' && !cli_fsbridge_mount(mnt_path, &transport_fuse_conn))
		transport_fuse_conn = 0;
	transport_fuse_se = se;
	transport_fuse_pt.backing_open = transport_fuse_backing_open;
	transport_fuse_pt.backing_close = transport_fuse_backing_close;
	transport_fuse_pt.reply_with = fuse_passthrough_reply_with;
	transport_fuse_pt.ctx = se;
	if (fuse_session_custom_io(se, &transport_fuse_io, fuse_session_fd(se)) != 0) {
		log_error("cannot take over /dev/fuse I/O");
		goto out_unmount;
	}
	if (!mo->foreground)
		log_init(true, mo->share.debug);
	if (fuse_daemonize(mo->foreground) != 0) {
		log_error("cannot run in the background: %s", strerror(errno));
		goto out_unmount;
	}
	if (pfh != NULL)
		pidfile_write(pfh);
	if (uring && !transport_fuse_rings(se, mo))
		goto out_unmount;
	if (fs_watch_start(sh, transport_fuse_watch_kind(mo), se) != 0)
		log_warn("host changes are not watched: cached entries expire after %.0f s",
		    sh->fallback_timeout);
	if (fs_prefill_init(sh, !mo->no_prefill) != 0)
		log_warn("prefill: out of memory: listings are not prefilled");
	rc = transport_fuse_loop(se, mo) == 0 ? EXIT_OK : EXIT_FAILURE_RUN;
	/* they write to the session: before the session goes */
	transport_fuse_stop_threads(sh, se);
out_unmount:
	fuse_session_unmount(se);
	/* libfuse leaves an aborted connection's mount point in place (a
	 * dead mount): detach it */
	if (transport_fuse_aborted && mnt_path[0] != '\0' && cli_umount(mnt_path, true) != 0)
		log_warn("%s: the aborted mount is still there: run 'fsbridge umount -l %s'",
		    mnt_path, mnt_path);
	/* after the unmount: it may still flush cached writes over the rings */
	fuse_uring_free(transport_fuse_ring);
	transport_fuse_ring = NULL;
	if (sh->passthrough != NULL)
		log_debug("passthrough: %lu opens served in passthrough", sh->passthrough->opens);
	/* what is still open is closed with the session's /dev/fuse */
	sh->passthrough = NULL;
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
out_pid:
	if (pfh != NULL)
		pidfile_remove(pfh);
	return rc;
}
