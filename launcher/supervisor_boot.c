/*
 * supervisor_boot: QEMU and the boot handshake.  One attempt starts QEMU
 * (qemu_argv.c), connects to the agent's socket, sends HELLO (the
 * project, volumes and mounts) and waits for the agent's HELLO or ERROR;
 * with accel auto a KVM attempt that fails is remembered and TCG tried
 * once (accel.c).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accel.h"
#include "argvec.h"
#include "guest-overlay/contract/contract.h"
#include "guest-overlay/contract/frame_io.h"
#include "guest_text.h"
#include "logsink.h"
#include "qemu_argv.h"
#include "spawn.h"
#include "state_dir.h"
#include "supervisor_parts.h"
#include "usock.h"

int
sup_start_qemu(struct sup *sv, const char *accel)
{
	struct vm_config c = {
		.state = sv->p->state, .qemu = sv->p->paths.qemu, .kernel = sv->p->paths.kernel,
		.initrd = sv->initrd, .accel = accel, .cpus = sv->cpus, .mem_mib = sv->mem_mib,
		.vols = sv->p->vols, .nvols = sv->p->nvols, .net = sv->p->net,
		.mounts = sv->p->mounts, .nmounts = sv->p->nmounts,
		.warm = sv->warm, .incoming = sv->incoming,
	};
	struct argvec a = { 0 };
	char path[4096];

	state_path(path, sizeof(path), sv->p->state, ST_AGENT_SOCK);
	unlink(path);
	if (sv->console_fd < 0)   /* one for every boot attempt, emptied first */
		sv->console_fd = logsink_start(sv->p->state, ST_CONSOLE, 1, &sv->console_sink);
	c.console_fd = sv->console_fd >= 0 ? 3 : -1;
	qemu_argv(&a, &c);
	if (a.err != 0)
		return a.err;
	sup_log("starting QEMU (%s, %u CPUs, %u MiB%s)", accel, sv->cpus, sv->mem_mib,
	    sv->incoming ? ", restoring a saved state" : sv->warm ? ", shares hot-plugged" : "");
	sv->qemu = spawn_fd3(a.v, -1, sv->log_fd, sv->log_fd, sv->console_fd, true);
	argvec_free(&a);
	return sv->qemu < 0 ? (int)sv->qemu : 0;
}

/* -ECHILD (with why) once QEMU has exited. */
int
sup_qemu_check(struct sup *sv, char *why, size_t size)
{
	int status;

	if (sv->qemu > 0 && waitpid(sv->qemu, &status, WNOHANG) == sv->qemu) {
		sv->qemu = 0;
		snprintf(why, size, "QEMU exited (%s %d; see " ST_LOG " in the state dir)",
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ECHILD;
	}
	return 0;
}

int
sup_connect_agent(struct sup *sv, double end, char *why, size_t size)
{
	char path[4096];

	state_path(path, sizeof(path), sv->p->state, ST_AGENT_SOCK);
	for (;;) {
		int fd = usock_connect(path), rc;

		if (fd >= 0)
			return fd;
		rc = sup_qemu_check(sv, why, size);
		if (rc != 0)
			return rc;
		if (sup_now() > end) {
			snprintf(why, size, "no agent socket from QEMU");
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
}

/* HELLO: version, project, then a serial and a mount point per volume,
 * then per --mount the directory where fsbridge-init mounted its share
 * (a path: volume names never start with '/') and the mount point. */
int
sup_send_hello(struct sup *sv, int fd)
{
	static unsigned char buf[4 + 4096 + (VOLUME_MAX + MOUNT_MAX) * (VOLUME_NAME_MAX + 1 + 1024)];
	size_t len = 4;

	ap_put32(buf, AP_VERSION);
	memcpy(buf + len, sv->p->paths.project, strlen(sv->p->paths.project) + 1);
	len += strlen(sv->p->paths.project) + 1;
	for (int i = 0; i < sv->p->nvols; i++) {
		memcpy(buf + len, sv->p->vols[i].name, strlen(sv->p->vols[i].name) + 1);
		len += strlen(sv->p->vols[i].name) + 1;
		memcpy(buf + len, sv->p->vols[i].guest, strlen(sv->p->vols[i].guest) + 1);
		len += strlen(sv->p->vols[i].guest) + 1;
	}
	for (int i = 0; i < sv->p->nmounts; i++) {
		len += (size_t)sprintf((char *)buf + len, FSB_GUEST_MOUNT_FMT, i) + 1;
		memcpy(buf + len, sv->p->mounts[i].guest, strlen(sv->p->mounts[i].guest) + 1);
		len += strlen(sv->p->mounts[i].guest) + 1;
	}
	return frame_write(fd, AP_HELLO, 0, buf, len);
}

/* The agent connection closed while booting: QEMU is usually exiting;
 * give it a moment so that why says how it ended. */
static int
connection_lost(struct sup *sv, int rc, char *why, size_t size)
{
	for (int i = 0; i < 40; i++) {
		if (sup_qemu_check(sv, why, size) != 0)
			return -ECHILD;
		usleep(50000);
	}
	snprintf(why, size, "the agent connection closed");
	return rc < 0 ? rc : -EPIPE;
}

/* Waits for the agent's frame of this type on session 0 (or an ERROR)
 * until end; -errno with why. */
int
sup_await_frame(struct sup *sv, int fd, int type, double end, char *why, size_t size)
{
	static unsigned char buf[AP_MAX_PAYLOAD];
	struct ap_hdr h;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int rc = sup_qemu_check(sv, why, size);

		if (rc != 0)
			return rc;
		if (sup_now() > end) {
			snprintf(why, size, "the guest agent did not answer in time");
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		rc = frame_read(fd, &h, buf);
		if (rc <= 0)
			return connection_lost(sv, rc, why, size);
		if (h.session == 0 && h.type == type)
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
boot(struct sup *sv, const char *accel, double seconds, char *why, size_t size)
{
	double t0 = sup_now(), end = t0 + seconds;
	int rc = sup_start_qemu(sv, accel);

	if (rc != 0) {
		snprintf(why, size, "cannot start QEMU: %s", strerror(-rc));
		return rc;
	}
	sv->agent_fd = sup_connect_agent(sv, end, why, size);
	if (sv->agent_fd < 0)
		return sv->agent_fd;
	rc = sv->warm ? frame_write(sv->agent_fd, AP_PING, 0, NULL, 0) :
	    sup_send_hello(sv, sv->agent_fd);
	if (rc == 0)
		rc = sup_await_frame(sv, sv->agent_fd, sv->warm ? AP_PING : AP_HELLO, end, why, size);
	else
		snprintf(why, size, "agent socket: %s", strerror(-rc));
	if (rc == 0)
		sup_log("guest ready %.2f s after QEMU started (%s)", sup_now() - t0, accel);
	return rc;
}

static void
abandon_boot(struct sup *sv)
{
	if (sv->agent_fd >= 0)
		close(sv->agent_fd);
	sv->agent_fd = -1;
	sup_stop_child(&sv->qemu, SIGKILL);
}

/* Boots with the requested accelerator; auto falls back to TCG once.
 * Warm (sv->warm): the machine with no share, up to the agent's PING. */
void
sup_boot_vm(struct sup *sv)
{
	bool probe;
	const char *accel = accel_first(sv->p->accel, sv->p->state, &probe);
	char why[768];
	int rc = boot(sv, accel, probe ? ACCEL_PROBE_SECONDS : BOOT_TIMEOUT_SECONDS, why, sizeof(why));

	if (rc != 0 && probe) {
		sup_log("KVM guest failed (%s); remembering that and using TCG", why);
		accel_remember(sv->p->state, false, why);
		abandon_boot(sv);
		accel = "tcg";
		rc = boot(sv, accel, BOOT_TIMEOUT_SECONDS, why, sizeof(why));
	} else if (rc == 0 && probe) {
		accel_remember(sv->p->state, true, "");
	}
	if (rc != 0)
		sup_fail(sv, "the VM did not start: %s", why);
	state_write(sv->p->state, ST_ACCEL, accel);
}
