/*
 * agent_main: fsbridge-agent, the guest side of `launch` (static, libc
 * only).
 *
 * fsbridge-init runs it (fsbridge.run=/fsbridge-agent) once the shares
 * are mounted.  It opens the virtio-serial port named fsbridge.agent
 * (agent_port.c), waits for the host's HELLO (which names the project
 * directory), assembles the guest root (agent_root.c) and answers HELLO
 * (agent_dispatch.c).  Then this one poll loop serves the frames of
 * contract/agent_proto.h: each EXEC starts a command in its own session
 * (agent_spawn.c, agent_session.c: process group, pipes or a pty for
 * stdin, stdout, stderr); output goes back as STDOUT/STDERR frames, the
 * end as EXIT.  HALT stops everything and returns to init, which powers
 * off.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/agent/agent_session.h"
#include "guest-overlay/contract/agent_proto.h"

#define STDIN_BACKLOG_MAX (16u * 1024u * 1024u)  /* a host that ignores ACK: stop reading */

void
agent_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "fsbridge-agent: ");

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* no console: nothing to do */
	}
}

static void
serve(int sfd)
{
	struct pollfd pfd[3 + 3 * MAX_SESSIONS];
	struct session_watch w[3 + 3 * MAX_SESSIONS];
	int port = agent_port_fd();

	for (;;) {
		int n = 0;
		bool port_in = sessions_stdin_backlog() < STDIN_BACKLOG_MAX;

		pfd[n++] = (struct pollfd){ .fd = port, .events = port_in ? POLLIN : 0 };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = agent_root_ready() ? agent_console_wait_fd() : -1,
		    .events = POLLIN };
		n = sessions_poll_add(pfd, w, n);
		if (poll(pfd, (nfds_t)n, agent_hints_wait_ms()) < 0) {
			if (errno != EINTR)
				agent_log("poll: %s", strerror(errno));
			continue;
		}
		/* sessions first: their pollfds point at the current table */
		sessions_poll_run(pfd, w, 3, n);
		if (pfd[1].revents)
			sessions_reap(sfd);
		if (pfd[2].fd >= 0 && pfd[2].revents != 0)
			agent_console_start();
		if (pfd[0].revents & POLLIN) {
			struct pollfd more = { .fd = port, .events = POLLIN };

			if (!agent_port_read())
				usleep(50000);
			/* hints wait until the host has no more to say, or
			 * a moment when it keeps talking */
			if (agent_hints_due())
				agent_hints_flush();
			else if (poll(&more, 1, 0) == 0)
				agent_hints_quiet();
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			usleep(10000);  /* the host is not connected (yet): a restored
			                 * guest is connected within ms of running */
		} else if (agent_hints_wait_ms() >= 0) {
			agent_hints_quiet();	/* a quiet moment: what waited is due */
		}
	}
}

static int
child_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
main(void)
{
	int sfd = child_signals();

	if (sfd < 0) {
		agent_log("signalfd: %s", strerror(errno));
		return 1;
	}
	if (agent_port_open() < 0) {
		agent_log("no virtio-serial port named %s (is virtio_console loaded?)",
		    AP_PORT_NAME);
		return 1;
	}
	agent_log("listening on the %s port", AP_PORT_NAME);
	serve(sfd);
}
