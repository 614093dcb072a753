/*
 * logsink: owns keeping a log file in the state dir bounded.  What may
 * grow a log is not ours to restrain -- a guest writing to its serial
 * console, ERROR frames, a share server's warnings about a hostile guest,
 * QEMU -- so the writers get the write end of a pipe, and a small process
 * of its own copies the pipe into the file.  When the file would pass
 * LOG_MAX_BYTES it becomes NAME.1 (replacing the previous one) and a new
 * file starts: a state dir (in /run as root) holds at most twice that
 * per log.  The process lives until every writer has closed the pipe, so
 * what QEMU says as it dies is kept.  Files are opened O_NOFOLLOW.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/contract/fdio.h"
#include "logsink.h"
#include "state_dir.h"

static int
open_log(const char *path, int flags)
{
	return open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0600);
}

/* path becomes path.1 and a new, empty path is opened; the fd or -1. */
static int
rotate(int fd, const char *path)
{
	char old[4200];

	snprintf(old, sizeof(old), "%s.1", path);
	close(fd);
	if (rename(path, old) != 0)
		unlink(path);
	return open_log(path, O_EXCL | O_APPEND);
}

static void __attribute__((noreturn))
copy_loop(int in, const char *path, int truncate)
{
	static char buf[64 * 1024];
	int out = open_log(path, O_APPEND | (truncate ? O_TRUNC : 0));
	struct stat st;
	off_t size = out >= 0 && fstat(out, &st) == 0 ? st.st_size : 0;

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out >= 0 && size + n > LOG_MAX_BYTES) {
			out = rotate(out, path);
			size = 0;
		}
		if (out >= 0 && write_all(out, buf, (size_t)n) == 0)
			size += n;
	}
	_exit(0);
}

int
logsink_start(const char *dir, const char *name, int truncate, pid_t *pid)
{
	char path[4096];
	int p[2], rc = state_path(path, sizeof(path), dir, name);

	if (rc != 0)
		return rc;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (*pid == 0) {
		sigset_t none;
		int null;

		close(p[1]);
		if (p[0] != 3 && dup2(p[0], 3) < 0)
			_exit(1);
		null = open("/dev/null", O_RDWR);
		for (int fd = 0; fd < 3 && null >= 0; fd++)
			dup2(null, fd);     /* nothing of launch's stdio kept open */
		closefrom(4);
		/* the supervisor's signals are not ours: we end at EOF */
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		copy_loop(3, path, truncate);
	}
	close(p[0]);
	return p[1];
}

void
logsink_wait(pid_t pid)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };

	for (int i = 0; pid > 0 && i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		nanosleep(&step, NULL);
	}
}
