/*
 * agent: fsbridge-agent, the guest side of `launch` (static, libc only).
 *
 * fsbridge-init runs it (fsbridge.run=/fsbridge-agent) once the shares
 * are mounted.  It opens the virtio-serial port named fsbridge.agent,
 * waits for the host's HELLO (which names the project directory),
 * assembles the guest root (agent_root.c) and answers HELLO.  Then one
 * poll loop serves the frames of launcher/agent_proto.h: each EXEC
 * starts a command in its own session (process group, pipes for stdin,
 * stdout, stderr); output goes back as STDOUT/STDERR frames, the end as
 * EXIT.  HALT stops everything and returns to init, which powers off.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/contract/agent_proto.h"

#define MAX_SESSIONS 64
#define STDIN_BACKLOG_MAX (16u * 1024u * 1024u)  /* a host that ignores ACK: stop reading */

extern char **environ;

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
static int port = -1;
static bool root_ready;
static unsigned char rbuf[AP_HDR_SIZE + AP_MAX_PAYLOAD];
static size_t rlen;

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

/* ---- the port ---- */

/* /dev/vportNpM of the port named AP_PORT_NAME, from sysfs; -errno. */
static int
find_port(char *dev, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int rc = -ENOENT;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char path[512], name[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		if (fgets(name, sizeof(name), f) != NULL)
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (strcmp(name, AP_PORT_NAME) == 0) {
			snprintf(dev, size, "/dev/%s", e->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Opens the port, waiting up to 10 s for the device to appear. */
static int
open_port(void)
{
	char dev[300];

	for (int i = 0; i < 200; i++) {
		if (find_port(dev, sizeof(dev)) == 0) {
			int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);

			if (fd >= 0)
				return fd;
		}
		usleep(50000);
	}
	return -ENODEV;
}

static int
port_write_all(const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(port, p, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = port, .events = POLLOUT };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
send_frame(uint8_t type, uint32_t session, const void *payload, size_t len)
{
	unsigned char hdr[AP_HDR_SIZE];
	struct ap_hdr h = { .type = type, .session = session, .len = (uint32_t)len };
	int rc;

	ap_hdr_pack(hdr, &h);
	rc = port_write_all(hdr, sizeof(hdr));
	if (rc == 0 && len > 0)
		rc = port_write_all(payload, len);
	if (rc != 0)
		agent_log("write to the host: %s", strerror(-rc));
}

static void
send_error(uint32_t session, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_frame(AP_ERROR, session, msg, strlen(msg));
}

/* ---- sessions ---- */

static struct session *
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
	send_frame(type, s->id, buf, (size_t)n);
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
		send_frame(type, s->id, buf, (size_t)n);
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
	send_frame(AP_ACK, session, p, sizeof(p));
}

static void
output_acked(struct session *s, const unsigned char *p, size_t len)
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

static void
stdin_data(struct session *s, const unsigned char *p, size_t len)
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

static size_t
stdin_backlog(void)
{
	size_t total = 0;

	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
			total += sessions[i].inlen - sessions[i].inoff;
	return total;
}

/* ---- EXEC ---- */

struct exec_req {
	uint32_t uid, gid, flags, rows, cols;
	uint32_t ngroups;
	gid_t *groups;		/* the supplementary groups */
	const char *cwd;
	char **argv, **envp;
};

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

static int
parse_exec(unsigned char *payload, size_t len, struct exec_req *r)
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
start_pty(struct session *s, const struct exec_req *r)
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
	s->pty = true;
	s->out_fd = m;
	s->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
	s->err_fd = -1;
	return pid;
}

static pid_t
start_pipes(struct session *s, const struct exec_req *r)
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
	s->in_fd = in[1];
	s->out_fd = out[0];
	s->err_fd = err[0];
	return pid;
}

static void
start_session(uint32_t id, const struct exec_req *r)
{
	struct session *s = session_alloc();
	pid_t pid;

	if (s == NULL || session_find(id) != NULL) {
		send_error(id, "too many commands at once in the guest (%d)", MAX_SESSIONS);
		return;
	}
	*s = (struct session){ .id = id, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	pid = r->flags & AP_EXEC_PTY ? start_pty(s, r) : start_pipes(s, r);
	if (pid < 0) {
		send_error(id, "cannot start the command: %s", strerror((int)-pid));
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

static void
set_winsize(struct session *s, const unsigned char *p, size_t len)
{
	struct winsize ws = { 0 };

	if (!s->pty || len != 8 || s->in_fd < 0)
		return;
	ws.ws_row = (unsigned short)ap_get32(p);
	ws.ws_col = (unsigned short)ap_get32(p + 4);
	ioctl(s->in_fd, TIOCSWINSZ, &ws);
}

/* launch ps: the table in STDOUT frames (acknowledgements of them find
 * no session and are dropped), then EXIT 0. */
static void
send_ps(uint32_t id)
{
	unsigned char exit_frame[8];
	size_t len = 0;
	char *text = agent_ps_text(&len);

	if (text == NULL) {
		send_error(id, "ps: out of memory");
		return;
	}
	for (size_t off = 0; off < len; off += AP_DATA_CHUNK)
		send_frame(AP_STDOUT, id, text + off,
		    len - off < AP_DATA_CHUNK ? len - off : AP_DATA_CHUNK);
	free(text);
	ap_put32(exit_frame, AP_EXITED);
	ap_put32(exit_frame + 4, 0);
	send_frame(AP_EXIT, id, exit_frame, sizeof(exit_frame));
}

static void
handle_exec(uint32_t id, unsigned char *payload, size_t len)
{
	struct exec_req r;

	/* what the host changed before this command is seen by it */
	agent_hints_flush();
	if (!root_ready) {
		send_error(id, "the guest root is not ready");
		return;
	}
	if (parse_exec(payload, len, &r) != 0) {
		send_error(id, "malformed EXEC request");
		return;
	}
	if (r.flags & AP_EXEC_PS)
		send_ps(id);
	else
		start_session(id, &r);
	free(r.argv);
	free(r.envp);
	free(r.groups);
}

/* ---- session 0 ---- */

static void
handle_hello(const unsigned char *payload, size_t len)
{
	unsigned char reply[4];
	char err[512];
	const char *project;
	size_t plen;
	int rc;

	if (len < 5 || payload[len - 1] != '\0') {
		send_error(0, "malformed HELLO");
		return;
	}
	project = (const char *)payload + 4;
	plen = strlen(project) + 1;
	if (!root_ready) {
		if (agent_net_up(err, sizeof(err)) != 0)
			agent_log("network: %s", err);
		if (agent_root_assemble(project, project + plen, len - 4 - plen,
		    err, sizeof(err)) != 0) {
			agent_log("cannot assemble the root: %s", err);
			send_error(0, "guest root: %s", err);
			return;
		}
		root_ready = true;
		agent_log("root assembled, project %s", project);
		if ((rc = agent_net_resolv("")) != 0)	/* in the new root now */
			agent_log("network: /etc/resolv.conf: %s", strerror(-rc));
	}
	ap_put32(reply, AP_VERSION);
	send_frame(AP_HELLO, 0, reply, sizeof(reply));
}

static void __attribute__((noreturn))
halt_guest(void)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
			kill(-sessions[i].pid, SIGKILL);
	sync();
	agent_log("halt requested");
	exit(0);
}

static void
handle_frame(const struct ap_hdr *h, unsigned char *payload)
{
	struct session *s = h->session ? session_find(h->session) : NULL;

	switch (h->type) {
	case AP_HELLO:
		handle_hello(payload, h->len);
		break;
	case AP_HALT:
		halt_guest();
	case AP_EXEC:
		if (h->session != 0)
			handle_exec(h->session, payload, h->len);
		break;
	case AP_STDIN:
		if (s != NULL)
			stdin_data(s, payload, h->len);
		break;
	case AP_ACK:
		if (s != NULL)
			output_acked(s, payload, h->len);
		break;
	case AP_WINSIZE:
		if (s != NULL)
			set_winsize(s, payload, h->len);
		break;
	case AP_HINT:
		if (root_ready)
			agent_hint(payload, h->len);
		break;
	case AP_SIGNAL:
		if (s != NULL && h->len == 4 && kill(-s->pid, (int)ap_get32(payload)) != 0)
			kill(s->pid, (int)ap_get32(payload));
		break;
	default:
		agent_log("ignoring frame type %u", h->type);
	}
}

/* Reads what the port has and handles every complete frame; false when
 * the host is not connected. */
static bool
read_port(void)
{
	ssize_t n = read(port, rbuf + rlen, sizeof(rbuf) - rlen);
	size_t off = 0;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	rlen += (size_t)n;
	while (rlen - off >= AP_HDR_SIZE) {
		struct ap_hdr h;

		if (ap_hdr_unpack(rbuf + off, &h) != 0) {
			agent_log("garbage on the port; dropping %zu bytes", rlen - off);
			off = rlen;
			break;
		}
		if (rlen - off < AP_HDR_SIZE + h.len)
			break;
		handle_frame(&h, rbuf + off + AP_HDR_SIZE);
		off += AP_HDR_SIZE + h.len;
	}
	memmove(rbuf, rbuf + off, rlen - off);
	rlen -= off;
	return true;
}

/* ---- children ---- */

static void
reap_children(int sfd)
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
		send_frame(AP_EXIT, s->id, ex, sizeof(ex));
		session_free(s);
	}
}

/* ---- the loop ---- */

struct watch {
	struct session *s;
	int which;  /* 0 stdin, 1 stdout, 2 stderr */
};

static void
serve(int sfd)
{
	struct pollfd pfd[3 + 3 * MAX_SESSIONS];
	struct watch w[3 + 3 * MAX_SESSIONS];

	for (;;) {
		int n = 0;
		bool port_in = stdin_backlog() < STDIN_BACKLOG_MAX;

		pfd[n++] = (struct pollfd){ .fd = port, .events = port_in ? POLLIN : 0 };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = root_ready ? agent_console_wait_fd() : -1,
		    .events = POLLIN };
		for (int i = 0; i < MAX_SESSIONS; i++) {
			struct session *s = &sessions[i];

			if (!s->used)
				continue;
			if (s->in_fd >= 0 && s->inlen > s->inoff) {
				w[n] = (struct watch){ s, 0 };
				pfd[n++] = (struct pollfd){ .fd = s->in_fd, .events = POLLOUT };
			}
			if (s->unacked >= AP_OUTPUT_WINDOW)
				continue;   /* the host has not caught up */
			if (s->out_fd >= 0) {
				w[n] = (struct watch){ s, 1 };
				pfd[n++] = (struct pollfd){ .fd = s->out_fd, .events = POLLIN };
			}
			if (s->err_fd >= 0) {
				w[n] = (struct watch){ s, 2 };
				pfd[n++] = (struct pollfd){ .fd = s->err_fd, .events = POLLIN };
			}
		}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno != EINTR)
				agent_log("poll: %s", strerror(errno));
			continue;
		}
		/* sessions first: their pollfds point at the current table */
		for (int i = 3; i < n; i++) {
			if (pfd[i].revents == 0 || !w[i].s->used)
				continue;
			if (w[i].which == 0)
				pump_input(w[i].s);
			else if (w[i].which == 1)
				pump_output(w[i].s, &w[i].s->out_fd, AP_STDOUT);
			else
				pump_output(w[i].s, &w[i].s->err_fd, AP_STDERR);
		}
		if (pfd[1].revents)
			reap_children(sfd);
		if (pfd[2].fd >= 0 && pfd[2].revents != 0)
			agent_console_start();
		if (pfd[0].revents & POLLIN) {
			struct pollfd more = { .fd = port, .events = POLLIN };

			if (!read_port())
				usleep(50000);
			/* hints wait until the host has no more to say, or
			 * 200 ms when it keeps talking */
			if (poll(&more, 1, 0) == 0 || agent_hints_due())
				agent_hints_flush();
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			usleep(50000);  /* the host is not connected (yet) */
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
	port = open_port();
	if (port < 0) {
		agent_log("no virtio-serial port named %s (is virtio_console loaded?)",
		    AP_PORT_NAME);
		return 1;
	}
	agent_log("listening on the %s port", AP_PORT_NAME);
	serve(sfd);
}
