/*
 * supervisor: the per-VM process: its life from start to exit (state,
 * log, signals, sizes, volume locks, the image), and how it fails or
 * stops.  Its children are supervisor_children.c, the boot handshake
 * supervisor_boot.c, the running VM supervisor_loop.c; they share one
 * struct sup (supervisor_parts.h), passed explicitly.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-overlay/contract/fdio.h"
#include "initrd.h"
#include "logsink.h"
#include "state_dir.h"
#include "supervisor_parts.h"

/* One line in the log, written at once (the servers and QEMU share it). */
void
sup_log(const char *fmt, ...)
{
	char line[2048];
	time_t now = time(NULL);
	size_t n;
	va_list ap;

	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", localtime(&now));
	n += (size_t)snprintf(line + n, sizeof(line) - n, " supervisor[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	strlcat(line, "\n", sizeof(line));
	write_all(STDERR_FILENO, line, strlen(line));
}

double
sup_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
cleanup(struct sup *sv)
{
	char path[4096];

	/* first, no new client: one that connects while the rest goes (the
	 * RAM file of a warm VM takes a while to unlink) is taken and closed
	 * unheard, and a launch started just after a lost VM would have met
	 * it instead of waiting for the pidfile and starting a new VM */
	state_path(path, sizeof(path), sv->p->state, ST_CTL_SOCK);
	unlink(path);
	if (sv->listen_fd >= 0)
		shutdown(sv->listen_fd, SHUT_RDWR);
	sup_stop_child(&sv->qemu, SIGKILL);
	state_path(path, sizeof(path), sv->p->state, ST_RAM);
	unlink(path);            /* the RAM of a warm VM, once QEMU is gone */
	sup_stop_child(&sv->passt, SIGTERM);
	sup_stop_child(&sv->serve_root, SIGTERM);
	sup_stop_child(&sv->serve_proj, SIGTERM);
	for (int i = 0; i < sv->p->nmounts; i++)
		sup_stop_child(&sv->serve_mount[i], SIGTERM);
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	if (sv->console_fd >= 0)
		close(sv->console_fd);
	sv->console_fd = -1;
	state_clean_stale(sv->p->state);
	for (int i = 0; i < VOLUME_MAX; i++) {
		if (sv->vol_lock[i] >= 0)
			close(sv->vol_lock[i]);
		sv->vol_lock[i] = -1;
	}
	pidfile_remove(sv->p->pfh);
}

/* Last: our end of the log pipes closed, and what is in them written out
 * (launch shows the logs' tails after a failed boot). */
static void
flush_logs(struct sup *sv)
{
	int null = open("/dev/null", O_RDWR);

	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (sv->log_fd >= 0)
		close(sv->log_fd);
	sv->log_fd = -1;
	logsink_wait(sv->log_sink);
	logsink_wait(sv->console_sink);
}

void
sup_note(struct sup *sv, const char *fmt, ...)
{
	char msg[1024] = "note: ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + 6, sizeof(msg) - 8, fmt, ap);
	va_end(ap);
	sup_log("%s", msg + 6);
	strlcat(msg, "\n", sizeof(msg));
	if (sv->p->ready_fd >= 0)
		write_all(sv->p->ready_fd, msg, strlen(msg));
}

void
sup_report_ready(struct sup *sv, const char *line)
{
	if (sv->p->ready_fd < 0)
		return;
	write_all(sv->p->ready_fd, line, strlen(line));
	close(sv->p->ready_fd);
	sv->p->ready_fd = -1;
}

void
sup_fail(struct sup *sv, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	sup_log("error: %s", msg);
	strlcat(msg, "\n", sizeof(msg));
	cleanup(sv);              /* first: launch reports once nothing is left */
	flush_logs(sv);
	sup_report_ready(sv, msg);
	exit(1);
}

/* stdin from /dev/null, stdout and stderr to the log; nothing else of
 * launch's stays open (a pipe on launch's stdout must see EOF). */
static void
detach_stdio(struct sup *sv)
{
	int null = open("/dev/null", O_RDWR), keep1 = sv->p->ready_fd,
	    keep2 = pidfile_fileno(sv->p->pfh);
	DIR *d;
	struct dirent *e;

	sv->log_fd = logsink_start(sv->p->state, ST_LOG, 0, &sv->log_sink);
	dup2(null, 0);
	dup2(sv->log_fd >= 0 ? sv->log_fd : null, 1);
	dup2(sv->log_fd >= 0 ? sv->log_fd : null, 2);
	d = opendir("/proc/self/fd");
	while (d != NULL && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != keep1 && fd != keep2 && fd != sv->log_fd && fd != dirfd(d))
			close(fd);
	}
	if (d != NULL)
		closedir(d);
}

static void
block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
read_sizes(struct sup *sv)
{
	int rc = state_uint(sv->p->state, ST_CPU, DEFAULT_CPUS, 1, 256, &sv->cpus);

	if (rc != 0)
		sup_fail(sv, "%s/%s: %s (expected a number of CPUs, 1-256)", sv->p->state, ST_CPU,
		    rc == -EINVAL ? "not a number in range" : strerror(-rc));
	rc = state_uint(sv->p->state, ST_MEM, DEFAULT_MEM_MIB, 128, 1u << 20, &sv->mem_mib);
	if (rc != 0)
		sup_fail(sv, "%s/%s: %s (expected MiB of memory, at least 128)", sv->p->state, ST_MEM,
		    rc == -EINVAL ? "not a number in range" : strerror(-rc));
}

/* Shared locks on the images for the VM's life (volume rm/export and
 * other VMs see them in use), let go in cleanup before the pidfile: once
 * launch sees the VM stopped, its volumes are free. */
static void
lock_volumes(struct sup *sv)
{
	for (int i = 0; i < sv->p->nvols; i++) {
		int fd = volume_lock(sv->p->vols[i].image);

		if (fd == -EBUSY)
			sup_fail(sv, "volume %s is in use by another running VM (halt it first)",
			    sv->p->vols[i].name);
		if (fd < 0)
			sup_fail(sv, "volume %s: %s", sv->p->vols[i].image, strerror(-fd));
		sv->vol_lock[i] = fd;
	}
}

/* ---- the whole life ---- */

void
supervisor_main(struct sup_params *p)
{
	struct sup sup = { .p = p, .agent_fd = -1, .listen_fd = -1, .log_fd = -1,
	    .console_fd = -1 }, *sv = &sup;
	char why[512], note[600];
	sigset_t set;
	int rc;

	for (int i = 0; i < VOLUME_MAX; i++)
		sv->vol_lock[i] = -1;
	detach_stdio(sv);
	block_signals(&set);
	if (pidfile_write(p->pfh) != 0)
		sup_fail(sv, "pidfile: %s", strerror(errno));
	sup_log("starting: project %s, accel %s%s", p->paths.project, p->accel,
	    p->net ? ", network" : "");
	for (int i = 0; i < p->nvols; i++)
		sup_log("volume %s (%s) at %s", p->vols[i].name, p->vols[i].image, p->vols[i].guest);
	for (int i = 0; i < p->nmounts; i++)
		sup_log("mount %s at %s (%s)", p->mounts[i].host, p->mounts[i].guest,
		    p->mounts[i].ro ? "ro" : "rw");
	read_sizes(sv);
	lock_volumes(sv);
	rc = initrd_ensure(p->state, p->paths.mkinitramfs, p->paths.agent, p->paths.kernel,
	    p->paths.kmod_build, sv->initrd, sizeof(sv->initrd), why, sizeof(why),
	    note, sizeof(note));
	if (rc != 0)
		sup_fail(sv, "cannot build the guest image: %s", why);
	if (note[0] != '\0')
		sup_note(sv, "file watchers in the guest will not hear of host edits: %s "
		    "(launch doctor)", note);
	sup_start_servers(sv);
	sup_start_net(sv);
	if (sup_warm_possible(sv))
		sup_warm_start(sv);
	else
		sup_boot_vm(sv);
	close(sv->console_fd);    /* QEMU holds the console log's pipe alone */
	sv->console_fd = -1;
	sup_serve_clients(sv);
	sup_watch(sv, &set);
	cleanup(sv);
	sup_log("stopped");
	flush_logs(sv);
	exit(0);
}
