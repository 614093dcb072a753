/* spawn: starting helper programs with chosen descriptors, and waiting. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

/* In the child: fd onto target, /dev/null when fd is -1. */
static void
child_fd(int fd, int target)
{
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd >= 0 && fd != target)
		dup2(fd, target);
}

pid_t
spawn_fd3(char *const argv[], int in_fd, int out_fd, int err_fd, int fd3,
    bool die_with_parent)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (die_with_parent) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(127);
		}
		child_fd(in_fd, 0);
		child_fd(out_fd, 1);
		child_fd(err_fd, 2);
		if (fd3 >= 0 && fd3 != 3)
			dup2(fd3, 3);
		if (fd3 >= 0)
			fcntl(3, F_SETFD, 0);
		closefrom(fd3 >= 0 ? 4 : 3);
		execv(argv[0], argv);
		dprintf(2, "launch: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

pid_t
spawn(char *const argv[], int in_fd, int out_fd, int err_fd, bool die_with_parent)
{
	return spawn_fd3(argv, in_fd, out_fd, err_fd, -1, die_with_parent);
}

int
wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

int
run_capture(char *const argv[], int err_fd, char *out, size_t size)
{
	int p[2], status;
	pid_t pid;
	size_t got = 0;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	pid = spawn(argv, -1, p[1], err_fd, false);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return (int)pid;
	}
	for (;;) {
		char buf[512];
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; out != NULL && i < n && got + 1 < size; i++)
			out[got++] = buf[i];
	}
	close(p[0]);
	if (out != NULL && size > 0) {
		out[got] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	status = wait_status(pid);
	if (status < 0)
		return status;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
