/*
 * supervisor_loop: the running VM.  The state dir is told what it runs
 * (project, root, volumes, mounts, network), the control socket is
 * opened and relay.c serves `launch` clients on it; then the supervisor
 * watches until QEMU exits, a signal or a halt that takes too long stops
 * it, or a file server dies.
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "guest-overlay/contract/agent_proto.h"
#include "qemu_argv.h"
#include "relay.h"
#include "state_dir.h"
#include "supervisor_parts.h"
#include "usock.h"

static void
request_halt(void *arg)
{
	struct sup *sv = arg;

	if (atomic_exchange(&sv->halting, 1))
		return;
	sup_log("halt requested");
	sv->halt_deadline = time(NULL) + HALT_TIMEOUT_SECONDS;
	relay_to_agent(AP_HALT, NULL, 0);
}

void
sup_serve_clients(struct sup *sv)
{
	char path[4096], text[4200];
	int rc;

	snprintf(text, sizeof(text), "%s\n", sv->p->paths.project);
	state_write(sv->p->state, ST_PROJECT, text);
	snprintf(text, sizeof(text), "%s\n", sv->p->paths.root);
	state_write(sv->p->state, ST_ROOT, text);
	volume_list_text(sv->p->vols, sv->p->nvols, text, sizeof(text) - 1);
	strlcat(text, "\n", sizeof(text));
	state_write(sv->p->state, ST_VOLUMES, text);
	{
		static char mtext[8192];

		mount_list_text(sv->p->mounts, sv->p->nmounts, mtext, sizeof(mtext) - 1);
		strlcat(mtext, "\n", sizeof(mtext));
		state_write(sv->p->state, ST_MOUNTS, mtext);
	}
	net_text(sv->p->net, sv->p->net_host, sv->p->ports, sv->p->nports, text, sizeof(text) - 1);
	strlcat(text, "\n", sizeof(text));
	state_write(sv->p->state, ST_NET, text);
	state_path(path, sizeof(path), sv->p->state, ST_CTL_SOCK);
	sv->listen_fd = usock_listen(path);
	if (sv->listen_fd < 0)
		sup_fail(sv, "%s: %s", path, strerror(-sv->listen_fd));
	rc = relay_start(sv->agent_fd, sv->listen_fd, request_halt, sv);
	if (rc != 0)
		sup_fail(sv, "threads: %s", strerror(-rc));
	sup_report_ready(sv, "ok\n");
}

/* Until QEMU exits: signals stop it, a halt that takes too long kills it,
 * a file server that dies takes the VM with it. */
void
sup_watch(struct sup *sv, const sigset_t *set)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	char why[512];

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			sup_log("signal %d: stopping the VM now", sig);
			break;
		}
		if (sup_qemu_check(sv, why, sizeof(why)) != 0) {
			sup_log("%s", why);
			break;
		}
		if (atomic_load(&sv->halting) && time(NULL) > sv->halt_deadline) {
			sup_log("the guest did not power off in %d s: killing it", HALT_TIMEOUT_SECONDS);
			break;
		}
		if (sup_server_gone(sv)) {
			sup_log("a file server exited: stopping the VM");
			break;
		}
	}
}
