/*
 * agent_session.h: the agent's commands in flight (agent_session.c), one
 * session each: its pipes or pty, the output window the host has not
 * acknowledged, the stdin the command has not taken yet.
 */
#ifndef FSB_AGENT_SESSION_H
#define FSB_AGENT_SESSION_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "guest-overlay/agent/agent_spawn.h"

#define MAX_SESSIONS 64

struct session;

/* A pollfd of a session's: which of its ends it watches. */
struct session_watch {
	struct session *s;
	int which;  /* 0 stdin, 1 stdout, 2 stderr */
};

struct session *session_find(uint32_t id);

/* Starts r's command as session id; an ERROR frame when it cannot. */
void session_start(uint32_t id, const struct exec_req *r);

/* STDIN, ACK, WINSIZE and SIGNAL frames of a session. */
void session_stdin(struct session *s, const unsigned char *p, size_t len);
void session_acked(struct session *s, const unsigned char *p, size_t len);
void session_winsize(struct session *s, const unsigned char *p, size_t len);
void session_signal(struct session *s, int sig);

/* SIGKILL to every command's process group (HALT). */
void sessions_kill_all(void);

/* Waits for exited children: EXIT frames for commands (after what is
 * left of their output), the console shell's to agent_console.c. */
void sessions_reap(int sfd);

/* Stdin waiting in every session: the port is not read beyond a bound. */
size_t sessions_stdin_backlog(void);

/* Adds the pollfds of every session's ends that can move now (output
 * only within the window) at pfd[n], w[n]; the new n. */
int sessions_poll_add(struct pollfd *pfd, struct session_watch *w, int n);

/* Moves data on the ends pfd[from..n) found ready. */
void sessions_poll_run(const struct pollfd *pfd, const struct session_watch *w, int from, int n);

#endif
