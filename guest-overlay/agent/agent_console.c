/*
 * agent_console: a shell on the guest's serial console, for
 * `launch console`.  Once the root is assembled the agent waits for input
 * on the console (a client typed something: nothing is started before,
 * so a boot pays nothing for it), then starts the shell there, in the
 * root, as the guest's root user (who has no more rights on the host than
 * the user whose file servers serve the shares); the shell reads the
 * pending input itself.  When it exits the agent waits again, unless it
 * did not last a second (no shell in this root: logged once).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"

#define CONSOLE_TTY "/dev/ttyS0"
#define CONSOLE_SHELL "/bin/sh"

static pid_t console_pid = -1;
static time_t console_started;
static int console_wait = -1;	/* the console, polled for input */
static bool console_broken;	/* the shell could not run: stop waiting */

static void __attribute__((noreturn))
console_child(void)
{
	static char *const argv[] = { "-sh", NULL };
	static char *const envp[] = {
		"HOME=/root", "TERM=vt220", "USER=root", "LOGNAME=root", "SHELL=" CONSOLE_SHELL,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL,
	};
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	fd = open(CONSOLE_TTY, O_RDWR | O_NOCTTY);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 1) != 0)
		_exit(126);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	closefrom(3);
	if (chdir("/root") != 0 && chdir("/") != 0)
		_exit(126);
	execve(CONSOLE_SHELL, argv, envp);
	_exit(127);
}

int
agent_console_wait_fd(void)
{
	if (console_wait < 0 && console_pid < 0 && !console_broken)
		console_wait = open(CONSOLE_TTY, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	return console_wait;
}

void
agent_console_start(void)
{
	pid_t pid;

	if (console_wait >= 0)
		close(console_wait);
	console_wait = -1;
	pid = fork();

	if (pid < 0) {
		agent_log("console shell: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		console_child();
	console_pid = pid;
	console_started = time(NULL);
}

bool
agent_console_reaped(pid_t pid, int status)
{
	if (pid != console_pid)
		return false;
	console_pid = -1;
	if (time(NULL) - console_started < 1) {
		agent_log("the console shell (%s) exited at once (status 0x%x); "
		    "no shell on the console", CONSOLE_SHELL, (unsigned)status);
		console_broken = true;
	}
	return true;
}
