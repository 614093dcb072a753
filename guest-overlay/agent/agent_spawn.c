/*
 * agent_spawn: an EXEC request's command.  exec_parse splits the payload
 * (agent_proto.h: ids, flags, terminal size, groups, cwd, argv, env);
 * exec_start forks a child that takes the launch user's ids, enters the
 * cwd (and, with --isolated, its own overlay of the root) and becomes
 * the command, on three pipes or on a new pseudo-terminal of its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/agent/agent_spawn.h"
#include "guest-overlay/contract/agent_proto.h"

extern char **environ;

/* Splits count NUL-terminated strings off [*p, end); NULL if malformed. */
static char **
take_strings(const char **p, const char *end, uint32_t count)
{
	char **v;

	if (count > AP_MAX_PAYLOAD)
		return NULL;
	v = calloc((size_t)count + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		const char *nul = memchr(*p, '\0', (size_t)(end - *p));

		if (nul == NULL) {
			free(v);
			return NULL;
		}
		v[i] = (char *)*p;
		*p = nul + 1;
	}
	return v;
}

int
exec_parse(unsigned char *payload, size_t len, struct exec_req *r)
{
	const char *p = (const char *)payload + AP_EXEC_FIXED, *end = (const char *)payload + len;
	const char *nul;
	uint32_t argc, envc;

	memset(r, 0, sizeof(*r));
	if (len < AP_EXEC_FIXED + 1 || payload[len - 1] != '\0')
		return -EPROTO;
	r->uid = ap_get32(payload);
	r->gid = ap_get32(payload + 4);
	r->flags = ap_get32(payload + 8);
	r->rows = ap_get32(payload + 12);
	r->cols = ap_get32(payload + 16);
	argc = ap_get32(payload + 20);
	envc = ap_get32(payload + 24);
	r->ngroups = ap_get32(payload + 28);
	if (r->ngroups > AP_MAX_GROUPS || (size_t)(end - p) < (size_t)r->ngroups * 4)
		return -EPROTO;
	r->groups = calloc((size_t)r->ngroups + 1, sizeof(*r->groups));
	if (r->groups == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->ngroups; i++, p += 4)
		r->groups[i] = (gid_t)ap_get32((const unsigned char *)p);
	nul = memchr(p, '\0', (size_t)(end - p));
	if (argc == 0 || nul == NULL) {
		free(r->groups);
		return -EPROTO;
	}
	r->cwd = p;
	p = nul + 1;
	r->argv = take_strings(&p, end, argc);
	r->envp = r->argv ? take_strings(&p, end, envc) : NULL;
	if (r->envp == NULL) {
		free(r->argv);
		free(r->groups);
		return -EPROTO;
	}
	return 0;
}

static void __attribute__((noreturn))
child_fail(const char *what, const char *arg, int code)
{
	dprintf(STDERR_FILENO, "launch: %s %s: %s\n", what, arg, strerror(errno));
	_exit(code);
}

/* In the child: becomes the command. */
static void __attribute__((noreturn))
child_exec(const struct exec_req *r, int in, int out, int err)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (r->flags & AP_EXEC_ISOLATED) {
		char why[512];

		if (agent_isolate_enter(why, sizeof(why)) != 0) {
			dprintf(STDERR_FILENO, "launch: --isolated: %s\n", why);
			_exit(126);
		}
	}
	closefrom(3);
	if (chdir(r->cwd) != 0)
		child_fail("cannot enter", r->cwd, 126);
	/* the launch user's ids, groups first (they need the privilege the
	 * uid change gives up) */
	if (setgroups(r->ngroups, r->groups) != 0)
		child_fail("setgroups", "", 126);
	if (setgid(r->gid) != 0)
		child_fail("setgid", "", 126);
	if (setuid(r->uid) != 0)
		child_fail("setuid", "", 126);
	environ = r->envp;
	execvp(r->argv[0], r->argv);
	child_fail("cannot run", r->argv[0], errno == ENOENT ? 127 : 126);
}

static int
make_pipes(int in[2], int out[2], int err[2])
{
	if (pipe2(in, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]), close(in[1]);
		return -errno;
	}
	if (pipe2(err, O_CLOEXEC) != 0) {
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		return -errno;
	}
	return 0;
}

/* In the child: a new session whose controlling terminal is the slave. */
static void __attribute__((noreturn))
child_exec_pty(const struct exec_req *r, const char *slave)
{
	int fd;

	setsid();
	fd = open(slave, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) != 0)
		child_fail("terminal", slave, 126);
	child_exec(r, fd, fd, fd);
}

/* A pseudo-terminal of the requested size: the master, the slave's name. */
static int
make_pty(const struct exec_req *r, char *slave, size_t size)
{
	struct winsize ws = { .ws_row = (unsigned short)r->rows, .ws_col = (unsigned short)r->cols };
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), rc;

	if (m < 0)
		return -errno;
	if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, slave, size) != 0) {
		rc = -errno;
		close(m);
		return rc;
	}
	if (r->rows != 0 && r->cols != 0)
		ioctl(m, TIOCSWINSZ, &ws);
	return m;
}

static pid_t
start_pty(const struct exec_req *r, struct spawn_fds *fds)
{
	char slave[128];
	int m = make_pty(r, slave, sizeof(slave));
	pid_t pid;

	if (m < 0)
		return m;
	pid = fork();
	if (pid == 0)
		child_exec_pty(r, slave);
	if (pid < 0) {
		close(m);
		return -errno;
	}
	fds->pty = true;
	fds->out_fd = m;
	fds->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
	fds->err_fd = -1;
	return pid;
}

static pid_t
start_pipes(const struct exec_req *r, struct spawn_fds *fds)
{
	int in[2], out[2], err[2], rc = make_pipes(in, out, err);
	pid_t pid;

	if (rc != 0)
		return rc;
	pid = fork();
	if (pid == 0) {
		setsid();
		child_exec(r, in[0], out[1], err[1]);
	}
	close(in[0]), close(out[1]), close(err[1]);
	if (pid < 0) {
		close(in[1]), close(out[0]), close(err[0]);
		return -errno;
	}
	fds->in_fd = in[1];
	fds->out_fd = out[0];
	fds->err_fd = err[0];
	return pid;
}

void
exec_free(struct exec_req *r)
{
	free(r->argv);
	free(r->envp);
	free(r->groups);
}

pid_t
exec_start(const struct exec_req *r, struct spawn_fds *fds)
{
	return r->flags & AP_EXEC_PTY ? start_pty(r, fds) : start_pipes(r, fds);
}
