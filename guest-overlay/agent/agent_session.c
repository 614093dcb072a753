/*
 * agent_session: the agent's commands in flight, a table of sessions.
 * Each moves its command's output to the host as STDOUT/STDERR frames
 * (at most AP_OUTPUT_WINDOW bytes unacknowledged: past that its pipes are
 * not read until the host's ACK), feeds it the host's STDIN frames (and
 * acknowledges what it took), and ends with EXIT once the command has
 * exited and its pipes are drained.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/agent/agent_session.h"
#include "guest-overlay/contract/agent_proto.h"

struct session {
	bool used;
	uint32_t id;
	pid_t pid;
	int in_fd, out_fd, err_fd;   /* -1 once closed */
	bool pty;                    /* in_fd is a dup of out_fd, the master */
	size_t unacked;              /* output sent, not yet acknowledged */
	unsigned char *inbuf;        /* stdin not yet taken by the command */
	size_t inlen, inoff;
	bool in_eof;
};

static struct session sessions[MAX_SESSIONS];

struct session *
session_find(uint32_t id)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && sessions[i].id == id)
			return &sessions[i];
	return NULL;
}

static struct session *
session_alloc(void)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (!sessions[i].used)
			return &sessions[i];
	return NULL;
}

static struct session *
session_by_pid(pid_t pid)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && sessions[i].pid == pid)
			return &sessions[i];
	return NULL;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
session_free(struct session *s)
{
	close_fd(&s->in_fd);
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	free(s->inbuf);
	memset(s, 0, sizeof(*s));
}

/* Reads what the command wrote on fd and sends it; closes fd at end
 * of stream. */
static void
pump_output(struct session *s, int *fd, uint8_t type)
{
	static unsigned char buf[AP_DATA_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	agent_send(type, s->id, buf, (size_t)n);
	s->unacked += (size_t)n;
}

/* Everything still in a pipe once the command has exited. */
static void
drain_fd(struct session *s, int *fd, uint8_t type)
{
	static unsigned char buf[AP_DATA_CHUNK];

	while (*fd >= 0) {
		ssize_t n = read(*fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(fd);
			return;
		}
		agent_send(type, s->id, buf, (size_t)n);
	}
}

static void
drain_output(struct session *s)
{
	drain_fd(s, &s->out_fd, AP_STDOUT);
	drain_fd(s, &s->err_fd, AP_STDERR);
}

static void
send_ack(uint32_t session, size_t bytes)
{
	unsigned char p[4];

	ap_put32(p, (uint32_t)bytes);
	agent_send(AP_ACK, session, p, sizeof(p));
}

void
session_acked(struct session *s, const unsigned char *p, size_t len)
{
	uint32_t n = len == 4 ? ap_get32(p) : 0;

	s->unacked = n > s->unacked ? 0 : s->unacked - n;
}

/* Feeds the command's stdin from the buffer and acknowledges what it
 * took (or what was dropped because it closed its stdin); closes the
 * pipe after EOF. */
static void
pump_input(struct session *s)
{
	size_t before = s->inoff;

	while (s->in_fd >= 0 && s->inoff < s->inlen) {
		ssize_t n = write(s->in_fd, s->inbuf + s->inoff, s->inlen - s->inoff);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {            /* EPIPE: the command closed its stdin */
			close_fd(&s->in_fd);
			break;
		}
		s->inoff += (size_t)n;
	}
	if (s->in_fd < 0)
		s->inoff = s->inlen;
	if (s->inoff > before)
		send_ack(s->id, s->inoff - before);
	if (s->inoff == s->inlen) {
		s->inoff = s->inlen = 0;
		if (s->in_eof)
			close_fd(&s->in_fd);
	}
}

void
session_stdin(struct session *s, const unsigned char *p, size_t len)
{
	static const unsigned char eof_char = 4;   /* ^D: EOF on a terminal */

	if (len == 0 && s->pty) {
		p = &eof_char;
		len = 1;
	}
	if (len == 0) {
		s->in_eof = true;
	} else if (s->in_fd < 0) {
		send_ack(s->id, len);   /* nobody reads it: the host may go on */
	} else {
		unsigned char *nb;

		if (s->inoff > 0) {
			memmove(s->inbuf, s->inbuf + s->inoff, s->inlen - s->inoff);
			s->inlen -= s->inoff;
			s->inoff = 0;
		}
		nb = realloc(s->inbuf, s->inlen + len);
		if (nb == NULL) {
			agent_log("session %u: out of memory for stdin", s->id);
			return;
		}
		s->inbuf = nb;
		memcpy(s->inbuf + s->inlen, p, len);
		s->inlen += len;
	}
	pump_input(s);
}

size_t
sessions_stdin_backlog(void)
{
	size_t total = 0;

	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
			total += sessions[i].inlen - sessions[i].inoff;
	return total;
}

void
session_start(uint32_t id, const struct exec_req *r)
{
	struct session *s = session_alloc();
	struct spawn_fds fds = { .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	pid_t pid;

	if (s == NULL || session_find(id) != NULL) {
		agent_send_error(id, "too many commands at once in the guest (%d)", MAX_SESSIONS);
		return;
	}
	pid = exec_start(r, &fds);
	*s = (struct session){ .id = id, .in_fd = fds.in_fd, .out_fd = fds.out_fd,
	    .err_fd = fds.err_fd, .pty = fds.pty };
	if (pid < 0) {
		agent_send_error(id, "cannot start the command: %s", strerror((int)-pid));
		session_free(s);
		return;
	}
	s->used = true;
	s->pid = pid;
	fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	if (s->err_fd >= 0)
		fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
}

void
session_winsize(struct session *s, const unsigned char *p, size_t len)
{
	struct winsize ws = { 0 };

	if (!s->pty || len != 8 || s->in_fd < 0)
		return;
	ws.ws_row = (unsigned short)ap_get32(p);
	ws.ws_col = (unsigned short)ap_get32(p + 4);
	ioctl(s->in_fd, TIOCSWINSZ, &ws);
}

void
session_signal(struct session *s, int sig)
{
	if (kill(-s->pid, sig) != 0)
		kill(s->pid, sig);
}

void
sessions_kill_all(void)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
			kill(-sessions[i].pid, SIGKILL);
}

void
sessions_reap(int sfd)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(sfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct session *s = session_by_pid(pid);
		unsigned char ex[8];

		if (s == NULL) {
			agent_console_reaped(pid, status);
			continue;
		}
		drain_output(s);
		if (WIFSIGNALED(status)) {
			ap_put32(ex, AP_KILLED);
			ap_put32(ex + 4, (uint32_t)WTERMSIG(status));
		} else {
			ap_put32(ex, AP_EXITED);
			ap_put32(ex + 4, (uint32_t)WEXITSTATUS(status));
		}
		agent_send(AP_EXIT, s->id, ex, sizeof(ex));
		session_free(s);
	}
}

int
sessions_poll_add(struct pollfd *pfd, struct session_watch *w, int n)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &sessions[i];

		if (!s->used)
			continue;
		if (s->in_fd >= 0 && s->inlen > s->inoff) {
			w[n] = (struct session_watch){ s, 0 };
			pfd[n++] = (struct pollfd){ .fd = s->in_fd, .events = POLLOUT };
		}
		if (s->unacked >= AP_OUTPUT_WINDOW)
			continue;   /* the host has not caught up */
		if (s->out_fd >= 0) {
			w[n] = (struct session_watch){ s, 1 };
			pfd[n++] = (struct pollfd){ .fd = s->out_fd, .events = POLLIN };
		}
		if (s->err_fd >= 0) {
			w[n] = (struct session_watch){ s, 2 };
			pfd[n++] = (struct pollfd){ .fd = s->err_fd, .events = POLLIN };
		}
	}
	return n;
}

void
sessions_poll_run(const struct pollfd *pfd, const struct session_watch *w, int from, int n)
{
	for (int i = from; i < n; i++) {
		if (pfd[i].revents == 0 || !w[i].s->used)
			continue;
		if (w[i].which == 0)
			pump_input(w[i].s);
		else if (w[i].which == 1)
			pump_output(w[i].s, &w[i].s->out_fd, AP_STDOUT);
		else
			pump_output(w[i].s, &w[i].s->err_fd, AP_STDERR);
	}
}
