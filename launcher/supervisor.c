/* supervisor: the per-VM process: image, file servers, QEMU, boot, relay, halt. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "argvec.h"
#include "guest-overlay/contract/contract.h"
#include "guest-overlay/contract/frame_io.h"
#include "guest_text.h"
#include "hide_list.h"
#include "hint_relay.h"
#include "initrd.h"
#include "logsink.h"
#include "qemu_argv.h"
#include "relay.h"
#include "spawn.h"
#include "state_dir.h"
#include "supervisor.h"
#include "usock.h"

static struct {
	struct sup_params *p;
	pid_t qemu, serve_root, serve_proj, serve_mount[MOUNT_MAX], log_sink, console_sink, passt;
	int agent_fd, listen_fd, log_fd, console_fd;
	unsigned cpus, mem_mib;
	char initrd[4096];
	atomic_int halting;
	time_t halt_deadline;
} S = { .agent_fd = -1, .listen_fd = -1, .log_fd = -1, .console_fd = -1 };

/* One line in the log, written at once (the servers and QEMU share it). */
static void __attribute__((format(printf, 1, 2)))
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

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- stopping ---- */

static void
stop_child(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	for (int i = 0; i < 50; i++) {
		pid_t r = waitpid(*pid, NULL, WNOHANG);

		if (r == *pid || (r < 0 && errno == ECHILD)) {
			*pid = 0;
			return;
		}
		usleep(100000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static void
cleanup(void)
{
	char path[4096];

	stop_child(&S.qemu, SIGKILL);
	stop_child(&S.passt, SIGTERM);
	stop_child(&S.serve_root, SIGTERM);
	stop_child(&S.serve_proj, SIGTERM);
	for (int i = 0; i < S.p->nmounts; i++)
		stop_child(&S.serve_mount[i], SIGTERM);
	if (S.listen_fd >= 0)
		close(S.listen_fd);
	if (S.console_fd >= 0)
		close(S.console_fd);
	S.console_fd = -1;
	state_path(path, sizeof(path), S.p->state, ST_CTL_SOCK);
	unlink(path);
	state_clean_stale(S.p->state);
	pidfile_remove(S.p->pfh);
}

/* Last: our end of the log pipes closed, and what is in them written out
 * (launch shows the logs' tails after a failed boot). */
static void
flush_logs(void)
{
	int null = open("/dev/null", O_RDWR);

	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (S.log_fd >= 0)
		close(S.log_fd);
	S.log_fd = -1;
	logsink_wait(S.log_sink);
	logsink_wait(S.console_sink);
}

static void
report_ready(const char *line)
{
	if (S.p->ready_fd < 0)
		return;
	write_all(S.p->ready_fd, line, strlen(line));
	close(S.p->ready_fd);
	S.p->ready_fd = -1;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	sup_log("error: %s", msg);
	strlcat(msg, "\n", sizeof(msg));
	cleanup();              /* first: launch reports once nothing is left */
	flush_logs();
	report_ready(msg);
	exit(1);
}

/* ---- the process itself ---- */

/* stdin from /dev/null, stdout and stderr to the log; nothing else of
 * launch's stays open (a pipe on launch's stdout must see EOF). */
static void
detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR), keep1 = S.p->ready_fd,
	    keep2 = pidfile_fileno(S.p->pfh);
	DIR *d;
	struct dirent *e;

	S.log_fd = logsink_start(S.p->state, ST_LOG, 0, &S.log_sink);
	dup2(null, 0);
	dup2(S.log_fd >= 0 ? S.log_fd : null, 1);
	dup2(S.log_fd >= 0 ? S.log_fd : null, 2);
	d = opendir("/proc/self/fd");
	while (d != NULL && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != keep1 && fd != keep2 && fd != S.log_fd && fd != dirfd(d))
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
read_sizes(void)
{
	int rc = state_uint(S.p->state, ST_CPU, DEFAULT_CPUS, 1, 256, &S.cpus);

	if (rc != 0)
		fail("%s/%s: %s (expected a number of CPUs, 1-256)", S.p->state, ST_CPU,
		    rc == -EINVAL ? "not a number in range" : strerror(-rc));
	rc = state_uint(S.p->state, ST_MEM, DEFAULT_MEM_MIB, 128, 1u << 20, &S.mem_mib);
	if (rc != 0)
		fail("%s/%s: %s (expected MiB of memory, at least 128)", S.p->state, ST_MEM,
		    rc == -EINVAL ? "not a number in range" : strerror(-rc));
}

/* ---- volumes ---- */

/* Shared locks on the images for the VM's life (volume rm/export and
 * other VMs see them in use); the fds stay open until exit. */
static void
lock_volumes(void)
{
	for (int i = 0; i < S.p->nvols; i++) {
		int fd = volume_lock(S.p->vols[i].image);

		if (fd == -EBUSY)
			fail("volume %s is in use by another running VM (halt it first)",
			    S.p->vols[i].name);
		if (fd < 0)
			fail("volume %s: %s", S.p->vols[i].image, strerror(-fd));
	}
}

/* ---- file servers ---- */

/*
 * One `fsbridge serve` for dir on state/sock.  With guest (the share's
 * place in the guest), the server watches dir and its hints (what changed
 * on the host) come back on a pipe, its stdin, to hint_relay.c, which
 * passes them on to the agent: names and attributes in the guest are then
 * cached long and still refreshed when the host changes them.
 */
static pid_t
start_serve(const char *sock, const char *opts, const char *dir, const char *guest)
{
	struct argvec a = { 0 };
	int hints[2] = { -1, -1 };
	pid_t pid;

	if (guest != NULL && pipe2(hints, O_CLOEXEC) != 0)
		fail("pipe: %s", strerror(errno));
	/* the reader first: a server whose hints nobody reads would let the
	 * guest cache long without ever being told */
	if (guest != NULL && hint_relay_start(hints[0], guest) != 0) {
		sup_log("no change hints for %s: the guest revalidates every second", dir);
		close(hints[0]);
		close(hints[1]);
		hints[1] = -1;
		guest = NULL;
	}

	argvec_add(&a, S.p->paths.fsbridge);
	argvec_add(&a, "serve");
	argvec_add(&a, "--socket");
	argvec_addf(&a, "%s/%s", S.p->state, sock);
	if (guest != NULL)
		argvec_add(&a, "--hints-fd=0");
	if (opts != NULL) {
		argvec_add(&a, "-o");
		argvec_add(&a, opts);
	}
	argvec_add(&a, dir);
	if (a.err != 0)
		fail("out of memory");
	pid = spawn(a.v, hints[1], S.log_fd, S.log_fd, true);
	argvec_free(&a);
	if (pid < 0)
		fail("cannot start fsbridge serve: %s", strerror((int)-pid));
	if (guest != NULL)
		close(hints[1]);
	return pid;
}

/* Waits until state/name is a socket, while pid lives. */
static void
wait_socket(const char *name, pid_t pid, double seconds)
{
	char path[4096];
	double end = now_s() + seconds;
	struct stat st;

	state_path(path, sizeof(path), S.p->state, name);
	while (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			fail("the server for %s exited (see %s/%s)", name, S.p->state, ST_LOG);
		if (now_s() > end)
			fail("%s did not appear within %.0f s", name, seconds);
		usleep(20000);
	}
}

static void
start_servers(void)
{
	char *text = hide_list_text(&S.p->root_policy), rootopts[4200];

	/* the root share's rules go to the server through a file: hide
	 * paths may hold ',' (the -o separator) */
	if (text == NULL || state_write(S.p->state, ST_ROOT_POLICY, text) != 0)
		fail("cannot write %s/%s", S.p->state, ST_ROOT_POLICY);
	free(text);
	snprintf(rootopts, sizeof(rootopts), "policy=%s/%s", S.p->state, ST_ROOT_POLICY);
	S.serve_root = start_serve(ST_ROOT_SOCK, rootopts, S.p->paths.root, NULL);
	S.serve_proj = start_serve(ST_PROJ_SOCK, NULL, S.p->paths.project, S.p->paths.project);
	wait_socket(ST_ROOT_SOCK, S.serve_root, 10);
	wait_socket(ST_PROJ_SOCK, S.serve_proj, 10);
	sup_log("serving / (read-only) and %s (read-write)", S.p->paths.project);
	for (int i = 0; i < S.p->nmounts; i++) {
		char sock[32], opts[64];

		snprintf(sock, sizeof(sock), MOUNT_SOCK_FMT, i);
		mount_serve_opts(&S.p->mounts[i], opts, sizeof(opts));
		S.serve_mount[i] = start_serve(sock, opts[0] ? opts : NULL, S.p->mounts[i].host,
		    S.p->mounts[i].guest);
		wait_socket(sock, S.serve_mount[i], 10);
		sup_log("serving %s (%s) at %s", S.p->mounts[i].host, opts[0] ? opts : "rw",
		    S.p->mounts[i].guest);
	}
}

/* ---- the network ---- */

/* --net: passt, the guest's user-mode network, on state/net.sock; QEMU
 * connects to it.  It lives as long as the supervisor (a QEMU restarted
 * by the accelerator fallback connects again). */
static void
start_net(void)
{
	struct argvec a = { 0 };
	char sock[4200];

	if (!S.p->net)
		return;
	state_path(sock, sizeof(sock), S.p->state, ST_NET_SOCK);
	unlink(sock);
	argvec_add(&a, S.p->paths.passt);
	passt_argv(&a, sock, S.p->net_host, S.p->ports, S.p->nports);
	if (a.err != 0)
		fail("out of memory");
	sup_log("network: passt%s%s", S.p->net_host ? " (host loopback reachable at 10.0.2.2)" :
	    " --no-map-gw", S.p->nports ? ", forwards:" : "");
	for (int i = 0; i < S.p->nports; i++)
		sup_log("forward 127.0.0.1:%s", S.p->ports[i]);
	S.passt = spawn(a.v, -1, S.log_fd, S.log_fd, true);
	argvec_free(&a);
	if (S.passt < 0)
		fail("cannot start passt: %s", strerror((int)-S.passt));
	wait_socket(ST_NET_SOCK, S.passt, 10);
}

/* ---- QEMU and the agent ---- */

static int
start_qemu(const char *accel)
{
	struct vm_config c = {
		.state = S.p->state, .qemu = S.p->paths.qemu, .kernel = S.p->paths.kernel,
		.initrd = S.initrd, .accel = accel, .cpus = S.cpus, .mem_mib = S.mem_mib,
		.vols = S.p->vols, .nvols = S.p->nvols, .net = S.p->net,
		.mounts = S.p->mounts, .nmounts = S.p->nmounts,
	};
	struct argvec a = { 0 };
	char path[4096];

	state_path(path, sizeof(path), S.p->state, ST_AGENT_SOCK);
	unlink(path);
	if (S.console_fd < 0)   /* one for every boot attempt, emptied first */
		S.console_fd = logsink_start(S.p->state, ST_CONSOLE, 1, &S.console_sink);
	c.console_fd = S.console_fd >= 0 ? 3 : -1;
	qemu_argv(&a, &c);
	if (a.err != 0)
		return a.err;
	sup_log("starting QEMU (%s, %u CPUs, %u MiB)", accel, S.cpus, S.mem_mib);
	S.qemu = spawn_fd3(a.v, -1, S.log_fd, S.log_fd, S.console_fd, true);
	argvec_free(&a);
	return S.qemu < 0 ? (int)S.qemu : 0;
}

/* -ECHILD (with why) once QEMU has exited. */
static int
qemu_check(char *why, size_t size)
{
	int status;

	if (S.qemu > 0 && waitpid(S.qemu, &status, WNOHANG) == S.qemu) {
		S.qemu = 0;
		snprintf(why, size, "QEMU exited (%s %d; see " ST_LOG " in the state dir)",
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ECHILD;
	}
	return 0;
}

static int
connect_agent(double end, char *why, size_t size)
{
	char path[4096];

	state_path(path, sizeof(path), S.p->state, ST_AGENT_SOCK);
	for (;;) {
		int fd = usock_connect(path), rc;

		if (fd >= 0)
			return fd;
		rc = qemu_check(why, size);
		if (rc != 0)
			return rc;
		if (now_s() > end) {
			snprintf(why, size, "no agent socket from QEMU");
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
}

/* HELLO: version, project, then a serial and a mount point per volume,
 * then per --mount the directory where fsbridge-init mounted its share
 * (a path: volume names never start with '/') and the mount point. */
static int
send_hello(int fd)
{
	static unsigned char buf[4 + 4096 + (VOLUME_MAX + MOUNT_MAX) * (VOLUME_NAME_MAX + 1 + 1024)];
	size_t len = 4;

	ap_put32(buf, AP_VERSION);
	memcpy(buf + len, S.p->paths.project, strlen(S.p->paths.project) + 1);
	len += strlen(S.p->paths.project) + 1;
	for (int i = 0; i < S.p->nvols; i++) {
		memcpy(buf + len, S.p->vols[i].name, strlen(S.p->vols[i].name) + 1);
		len += strlen(S.p->vols[i].name) + 1;
		memcpy(buf + len, S.p->vols[i].guest, strlen(S.p->vols[i].guest) + 1);
		len += strlen(S.p->vols[i].guest) + 1;
	}
	for (int i = 0; i < S.p->nmounts; i++) {
		len += (size_t)sprintf((char *)buf + len, FSB_GUEST_MOUNT_FMT, i) + 1;
		memcpy(buf + len, S.p->mounts[i].guest, strlen(S.p->mounts[i].guest) + 1);
		len += strlen(S.p->mounts[i].guest) + 1;
	}
	return frame_write(fd, AP_HELLO, 0, buf, len);
}

/* The agent connection closed while booting: QEMU is usually exiting;
 * give it a moment so that why says how it ended. */
static int
connection_lost(int rc, char *why, size_t size)
{
	for (int i = 0; i < 40; i++) {
		if (qemu_check(why, size) != 0)
			return -ECHILD;
		usleep(50000);
	}
	snprintf(why, size, "the agent connection closed");
	return rc < 0 ? rc : -EPIPE;
}

/* Waits for the agent's HELLO (or ERROR) until end; -errno with why. */
static int
await_hello(int fd, double end, char *why, size_t size)
{
	static unsigned char buf[AP_MAX_PAYLOAD];
	struct ap_hdr h;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int rc = qemu_check(why, size);

		if (rc != 0)
			return rc;
		if (now_s() > end) {
			snprintf(why, size, "the guest agent did not answer in time");
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		rc = frame_read(fd, &h, buf);
		if (rc <= 0)
			return connection_lost(rc, why, size);
		if (h.session == 0 && h.type == AP_HELLO)
			return 0;
		if (h.session == 0 && h.type == AP_ERROR) {
			/* the guest's words reach the user's terminal: printable only */
			static char text[GUEST_TEXT_BUF];

			snprintf(why, size, "in the guest: %s", guest_text(text, buf, h.len));
			return -EPROTO;
		}
	}
}

/* One boot attempt: QEMU up and the agent's HELLO within seconds. */
static int
boot(const char *accel, double seconds, char *why, size_t size)
{
	double t0 = now_s(), end = t0 + seconds;
	int rc = start_qemu(accel);

	if (rc != 0) {
		snprintf(why, size, "cannot start QEMU: %s", strerror(-rc));
		return rc;
	}
	S.agent_fd = connect_agent(end, why, size);
	if (S.agent_fd < 0)
		return S.agent_fd;
	rc = send_hello(S.agent_fd);
	if (rc == 0)
		rc = await_hello(S.agent_fd, end, why, size);
	else
		snprintf(why, size, "agent socket: %s", strerror(-rc));
	if (rc == 0)
		sup_log("guest ready %.2f s after QEMU started (%s)", now_s() - t0, accel);
	return rc;
}

static void
abandon_boot(void)
{
	if (S.agent_fd >= 0)
		close(S.agent_fd);
	S.agent_fd = -1;
	stop_child(&S.qemu, SIGKILL);
}

/* Boots with the requested accelerator; auto falls back to TCG once. */
static void
boot_vm(void)
{
	bool probe;
	const char *accel = accel_first(S.p->accel, S.p->state, &probe);
	char why[768];
	int rc = boot(accel, probe ? ACCEL_PROBE_SECONDS : BOOT_TIMEOUT_SECONDS, why, sizeof(why));

	if (rc != 0 && probe) {
		sup_log("KVM guest failed (%s); remembering that and using TCG", why);
		accel_remember(S.p->state, false, why);
		abandon_boot();
		accel = "tcg";
		rc = boot(accel, BOOT_TIMEOUT_SECONDS, why, sizeof(why));
	} else if (rc == 0 && probe) {
		accel_remember(S.p->state, true, "");
	}
	if (rc != 0)
		fail("the VM did not start: %s", why);
	state_write(S.p->state, ST_ACCEL, accel);
}

/* ---- running ---- */

static void
request_halt(void)
{
	if (atomic_exchange(&S.halting, 1))
		return;
	sup_log("halt requested");
	S.halt_deadline = time(NULL) + HALT_TIMEOUT_SECONDS;
	relay_to_agent(AP_HALT, NULL, 0);
}

static void
serve_clients(void)
{
	char path[4096], text[4200];
	int rc;

	snprintf(text, sizeof(text), "%s\n", S.p->paths.project);
	state_write(S.p->state, ST_PROJECT, text);
	snprintf(text, sizeof(text), "%s\n", S.p->paths.root);
	state_write(S.p->state, ST_ROOT, text);
	volume_list_text(S.p->vols, S.p->nvols, text, sizeof(text) - 1);
	strlcat(text, "\n", sizeof(text));
	state_write(S.p->state, ST_VOLUMES, text);
	{
		static char mtext[8192];

		mount_list_text(S.p->mounts, S.p->nmounts, mtext, sizeof(mtext) - 1);
		strlcat(mtext, "\n", sizeof(mtext));
		state_write(S.p->state, ST_MOUNTS, mtext);
	}
	net_text(S.p->net, S.p->net_host, S.p->ports, S.p->nports, text, sizeof(text) - 1);
	strlcat(text, "\n", sizeof(text));
	state_write(S.p->state, ST_NET, text);
	state_path(path, sizeof(path), S.p->state, ST_CTL_SOCK);
	S.listen_fd = usock_listen(path);
	if (S.listen_fd < 0)
		fail("%s: %s", path, strerror(-S.listen_fd));
	rc = relay_start(S.agent_fd, S.listen_fd, request_halt);
	if (rc != 0)
		fail("threads: %s", strerror(-rc));
	report_ready("ok\n");
}

static bool
server_gone(pid_t *pid)
{
	if (*pid <= 0 || waitpid(*pid, NULL, WNOHANG) != *pid)
		return false;
	*pid = 0;
	return true;
}

static bool
mount_gone(void)
{
	for (int i = 0; i < S.p->nmounts; i++)
		if (server_gone(&S.serve_mount[i]))
			return true;
	return false;
}

/* Until QEMU exits: signals stop it, a halt that takes too long kills it,
 * a file server that dies takes the VM with it. */
static void
watch(const sigset_t *set)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	char why[512];

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			sup_log("signal %d: stopping the VM now", sig);
			break;
		}
		if (qemu_check(why, sizeof(why)) != 0) {
			sup_log("%s", why);
			break;
		}
		if (atomic_load(&S.halting) && time(NULL) > S.halt_deadline) {
			sup_log("the guest did not power off in %d s: killing it", HALT_TIMEOUT_SECONDS);
			break;
		}
		if (server_gone(&S.serve_root) || server_gone(&S.serve_proj) || mount_gone()) {
			sup_log("a file server exited: stopping the VM");
			break;
		}
	}
}

void
supervisor_main(struct sup_params *p)
{
	char why[512];
	sigset_t set;
	int rc;

	S.p = p;
	detach_stdio();
	block_signals(&set);
	if (pidfile_write(p->pfh) != 0)
		fail("pidfile: %s", strerror(errno));
	sup_log("starting: project %s, accel %s%s", p->paths.project, p->accel,
	    p->net ? ", network" : "");
	for (int i = 0; i < p->nvols; i++)
		sup_log("volume %s (%s) at %s", p->vols[i].name, p->vols[i].image, p->vols[i].guest);
	for (int i = 0; i < p->nmounts; i++)
		sup_log("mount %s at %s (%s)", p->mounts[i].host, p->mounts[i].guest,
		    p->mounts[i].ro ? "ro" : "rw");
	read_sizes();
	lock_volumes();
	rc = initrd_ensure(p->state, p->paths.mkinitramfs, p->paths.agent, p->paths.kernel,
	    S.initrd, sizeof(S.initrd), why, sizeof(why));
	if (rc != 0)
		fail("cannot build the guest image: %s", why);
	start_servers();
	start_net();
	boot_vm();
	close(S.console_fd);    /* QEMU holds the console log's pipe alone */
	S.console_fd = -1;
	serve_clients();
	watch(&set);
	cleanup();
	sup_log("stopped");
	flush_logs();
	exit(0);
}
