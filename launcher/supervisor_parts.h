/*
 * supervisor_parts.h: what the supervisor's files share (supervisor.c,
 * supervisor_children.c, supervisor_boot.c, supervisor_loop.c): the one
 * VM's state, passed to every part explicitly.
 */
#ifndef FSB_SUPERVISOR_PARTS_H
#define FSB_SUPERVISOR_PARTS_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "supervisor.h"

struct sup {
	struct sup_params *p;
	pid_t qemu, serve_root, serve_proj, serve_mount[MOUNT_MAX], log_sink, console_sink, passt;
	int agent_fd, listen_fd, log_fd, console_fd;
	int vol_lock[VOLUME_MAX];	/* the volumes' shared locks, -1: none */
	unsigned cpus, mem_mib;
	char initrd[4096];
	bool warm, incoming;	/* the warm start's machine; restoring into it */
	pid_t prep;		/* copying a saved RAM file ahead (warm) */
	atomic_int halting;	/* set from a client's thread (relay.c) */
	time_t halt_deadline;
};

/* supervisor.c: one line in the log; monotonic seconds; launch's answer
 * ("ok\n" or one error line, once); an error line in the log and to
 * launch, everything stopped, exit 1. */
void sup_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double sup_now(void);
void sup_report_ready(struct sup *sv, const char *line);
void sup_fail(struct sup *sv, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

/* supervisor_children.c: the file servers (waiting for their sockets),
 * passt for --net; a child stopped with sig (SIGKILL after 5 s); true
 * when a file server has exited. */
void sup_start_servers(struct sup *sv);
void sup_start_net(struct sup *sv);
void sup_stop_child(pid_t *pid, int sig);
bool sup_server_gone(struct sup *sv);

/* supervisor_boot.c: QEMU up and the agent's HELLO, or sup_fail; -ECHILD
 * (with why) once QEMU has exited. */
void sup_boot_vm(struct sup *sv);
int sup_qemu_check(struct sup *sv, char *why, size_t size);
int sup_start_qemu(struct sup *sv, const char *accel);
int sup_connect_agent(struct sup *sv, double end, char *why, size_t size);
int sup_send_hello(struct sup *sv, int fd);
int sup_await_frame(struct sup *sv, int fd, int type, double end, char *why, size_t size);

/* supervisor_warm.c: true when this VM can start warm (no volume, no
 * network, not --cold, a known accelerator); then starts it: restored
 * from a matching saved state, else booted and saved first; shares
 * hot-plugged, the agent woken, HELLO answered, or sup_fail. */
bool sup_warm_possible(struct sup *sv);
void sup_warm_start(struct sup *sv);
/* warm_plug.c: whether the per-launch devices fit the hot-plug slots, and
 * plugging them (-errno with why) */
struct qmp;
bool sup_warm_plug_fits(const struct sup *sv);
int sup_warm_plug(struct sup *sv, struct qmp *q, char *why, size_t size);

/* supervisor.c: a line for the log and for launch's terminal. */
void sup_note(struct sup *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* supervisor_loop.c: the state dir told, launch clients served on
 * ctl.sock; then until QEMU exits or must be stopped. */
void sup_serve_clients(struct sup *sv);
void sup_watch(struct sup *sv, const sigset_t *set);

#endif
