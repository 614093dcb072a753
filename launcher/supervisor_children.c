/*
 * supervisor_children: the supervisor's child processes besides QEMU: one
 * `fsbridge serve` per share (the root read-only, the project, each
 * --mount), each with its hints on a pipe to hint_relay.c, and passt for
 * --net; starting them, waiting for their sockets, seeing one die, and
 * stopping them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argvec.h"
#include "hide_list.h"
#include "hint_relay.h"
#include "qemu_argv.h"
#include "spawn.h"
#include "state_dir.h"
#include "supervisor_parts.h"

void
sup_stop_child(pid_t *pid, int sig)
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

/*
 * One `fsbridge serve` for dir on state/sock.  With guest (the share's
 * place in the guest), the server watches dir and its hints (what changed
 * on the host) come back on a pipe, its stdin, to hint_relay.c, which
 * passes them on to the agent: names and attributes in the guest are then
 * cached long and still refreshed when the host changes them.
 */
static pid_t
start_serve(struct sup *sv, const char *sock, const char *opts, const char *dir, const char *guest,
    const char *const *exclude, int nexclude)
{
	struct argvec a = { 0 };
	int hints[2] = { -1, -1 };
	pid_t pid;

	if (guest != NULL && pipe2(hints, O_CLOEXEC) != 0)
		sup_fail(sv, "pipe: %s", strerror(errno));
	/* the reader first: a server whose hints nobody reads would let the
	 * guest cache long without ever being told */
	if (guest != NULL && hint_relay_start(hints[0], guest, exclude, nexclude) != 0) {
		sup_log("no change hints for %s: the guest revalidates every second", dir);
		close(hints[0]);
		close(hints[1]);
		hints[1] = -1;
		guest = NULL;
	}

	argvec_add(&a, sv->p->paths.fsbridge);
	argvec_add(&a, "serve");
	argvec_add(&a, "--socket");
	argvec_addf(&a, "%s/%s", sv->p->state, sock);
	if (guest != NULL)
		argvec_add(&a, "--hints-fd=0");
	if (opts != NULL) {
		argvec_add(&a, "-o");
		argvec_add(&a, opts);
	}
	argvec_add(&a, dir);
	if (a.err != 0)
		sup_fail(sv, "out of memory");
	pid = spawn(a.v, hints[1], sv->log_fd, sv->log_fd, true);
	argvec_free(&a);
	if (pid < 0)
		sup_fail(sv, "cannot start fsbridge serve: %s", strerror((int)-pid));
	if (guest != NULL)
		close(hints[1]);
	return pid;
}

/* Waits until state/name is a socket, while pid lives. */
static void
wait_socket(struct sup *sv, const char *name, pid_t pid, double seconds)
{
	char path[4096];
	double end = sup_now() + seconds;
	struct stat st;

	state_path(path, sizeof(path), sv->p->state, name);
	while (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			sup_fail(sv, "the server for %s exited (see %s/%s)", name, sv->p->state, ST_LOG);
		if (sup_now() > end)
			sup_fail(sv, "%s did not appear within %.0f s", name, seconds);
		usleep(20000);
	}
}

void
sup_start_servers(struct sup *sv)
{
	char *text = hide_list_text(&sv->p->root_policy), rootopts[4200];
	const char *covered[1 + MOUNT_MAX + VOLUME_MAX];
	int ncovered = 0;

	/* the root share's rules go to the server through a file: hide
	 * paths may hold ',' (the -o separator) */
	if (text == NULL || state_write(sv->p->state, ST_ROOT_POLICY, text) != 0)
		sup_fail(sv, "cannot write %s/%s", sv->p->state, ST_ROOT_POLICY);
	free(text);
	snprintf(rootopts, sizeof(rootopts), "policy=%s/%s", sv->p->state, ST_ROOT_POLICY);
	/* the root share is watched too (a host package upgrade is seen at
	 * once); what the other shares and the volumes cover in the guest is
	 * theirs to tell */
	covered[ncovered++] = sv->p->paths.project;
	for (int i = 0; i < sv->p->nmounts; i++)
		covered[ncovered++] = sv->p->mounts[i].guest;
	for (int i = 0; i < sv->p->nvols; i++)
		covered[ncovered++] = sv->p->vols[i].guest;
	sv->serve_root = start_serve(sv, ST_ROOT_SOCK, rootopts, sv->p->paths.root, "/",
	    covered, ncovered);
	sv->serve_proj = start_serve(sv, ST_PROJ_SOCK, NULL, sv->p->paths.project,
	    sv->p->paths.project, NULL, 0);
	wait_socket(sv, ST_ROOT_SOCK, sv->serve_root, 10);
	wait_socket(sv, ST_PROJ_SOCK, sv->serve_proj, 10);
	sup_log("serving / (read-only) and %s (read-write)", sv->p->paths.project);
	for (int i = 0; i < sv->p->nmounts; i++) {
		char sock[32], opts[64];

		snprintf(sock, sizeof(sock), MOUNT_SOCK_FMT, i);
		mount_serve_opts(&sv->p->mounts[i], opts, sizeof(opts));
		sv->serve_mount[i] = start_serve(sv, sock, opts[0] ? opts : NULL, sv->p->mounts[i].host,
		    sv->p->mounts[i].guest, NULL, 0);
		wait_socket(sv, sock, sv->serve_mount[i], 10);
		sup_log("serving %s (%s) at %s", sv->p->mounts[i].host, opts[0] ? opts : "rw",
		    sv->p->mounts[i].guest);
	}
}

/* --net: passt, the guest's user-mode network, on state/net.sock; QEMU
 * connects to it.  It lives as long as the supervisor (a QEMU restarted
 * by the accelerator fallback connects again). */
void
sup_start_net(struct sup *sv)
{
	struct argvec a = { 0 };
	char sock[4200];

	if (!sv->p->net)
		return;
	state_path(sock, sizeof(sock), sv->p->state, ST_NET_SOCK);
	unlink(sock);
	argvec_add(&a, sv->p->paths.passt);
	passt_argv(&a, sock, sv->p->net_host, sv->p->ports, sv->p->nports);
	if (a.err != 0)
		sup_fail(sv, "out of memory");
	sup_log("network: passt%s%s", sv->p->net_host ? " (host loopback reachable at 10.0.2.2)" :
	    " --no-map-gw", sv->p->nports ? ", forwards:" : "");
	for (int i = 0; i < sv->p->nports; i++)
		sup_log("forward 127.0.0.1:%s", sv->p->ports[i]);
	sv->passt = spawn(a.v, -1, sv->log_fd, sv->log_fd, true);
	argvec_free(&a);
	if (sv->passt < 0)
		sup_fail(sv, "cannot start passt: %s", strerror((int)-sv->passt));
	wait_socket(sv, ST_NET_SOCK, sv->passt, 10);
}

static bool
server_gone(pid_t *pid)
{
	if (*pid <= 0 || waitpid(*pid, NULL, WNOHANG) != *pid)
		return false;
	*pid = 0;
	return true;
}

bool
sup_server_gone(struct sup *sv)
{
	if (server_gone(&sv->serve_root) || server_gone(&sv->serve_proj))
		return true;
	for (int i = 0; i < sv->p->nmounts; i++)
		if (server_gone(&sv->serve_mount[i]))
			return true;
	return false;
}
