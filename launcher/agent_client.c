/* agent_client: one command in the VM: EXEC, then streams until EXIT. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent_client.h"
#include "env_secret.h"
#include "guest-overlay/contract/frame_io.h"
#include "guest_text.h"
#include "rawterm.h"
#include "state_dir.h"

extern char **environ;

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static int conn = -1;
static pthread_mutex_t credit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t credit_cond = PTHREAD_COND_INITIALIZER;
static size_t stdin_in_flight;   /* sent, not yet taken by the command */
static bool use_pty;
static bool no_stdin;

static int
send_locked(uint8_t type, const void *p, size_t len)
{
	int rc;

	pthread_mutex_lock(&wlock);
	rc = frame_write(conn, type, 0, p, len);
	pthread_mutex_unlock(&wlock);
	return rc;
}

/* ---- the EXEC request ---- */

struct buf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void
buf_add(struct buf *b, const void *p, size_t len)
{
	if (b->err == 0 && b->len + len > AP_MAX_PAYLOAD)
		b->err = -E2BIG;
	if (b->err == 0 && b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		unsigned char *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->p, cap);
		if (n == NULL)
			b->err = -ENOMEM;
		else
			b->p = n, b->cap = cap;
	}
	if (b->err != 0)
		return;
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void
buf_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4];

	ap_put32(x, v);
	buf_add(b, x, 4);
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s) + 1);
}

/* Is NAME of "NAME=VALUE" set by one of the -e options from `from` on? */
static int
overridden(const char *entry, const struct launch_opts *o, int from)
{
	size_t n = strcspn(entry, "=");

	for (int i = from; i < o->nenv; i++)
		if (strncmp(o->env[i], entry, n) == 0 &&
		    (o->env[i][n] == '=' || o->env[i][n] == '\0'))
			return 1;
	return 0;
}

/* The environment: the host's (unless --no-env; without the names that
 * look like secrets unless --env-all), then -e entries, the last of each
 * name (-e NAME passes a secret-looking one). */
static void
collect_env(const struct launch_opts *o, const char **env, uint32_t *n, uint32_t max)
{
	*n = 0;
	for (char **e = environ; !o->no_env && *e != NULL && *n < max; e++)
		if (!overridden(*e, o, 0) && (o->env_all || !env_secret(*e)))
			env[(*n)++] = *e;
	for (int i = 0; i < o->nenv && *n < max; i++) {
		if (overridden(o->env[i], o, i + 1))
			continue;       /* a later -e (or --env-file line) wins */
		if (strchr(o->env[i], '=') != NULL) {
			env[(*n)++] = o->env[i];
		} else {
			const char *v = getenv(o->env[i]);
			char *kv;

			if (v != NULL && asprintf(&kv, "%s=%s", o->env[i], v) > 0)
				env[(*n)++] = kv;
		}
	}
}

/* ngroups, then this process's supplementary groups (the command's in the guest). */
static void
add_groups(struct buf *b)
{
	gid_t *groups;
	int n = getgroups(0, NULL);

	if (n < 0)
		n = 0;
	groups = calloc((size_t)n + 1, sizeof(*groups));
	if (groups == NULL) {
		b->err = -ENOMEM;
		return;
	}
	n = getgroups(n, groups);
	if (n < 0)
		n = 0;
	buf_u32(b, (uint32_t)n);
	for (int i = 0; i < n; i++)
		buf_u32(b, (uint32_t)groups[i]);
	free(groups);
}

static int
build_exec(struct buf *b, char *const argv[], const struct launch_opts *o)
{
	static const char *env[8192];
	char cwd[4096];
	uint32_t argc = 0, envc;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -errno;
	while (argv[argc] != NULL)
		argc++;
	collect_env(o, env, &envc, sizeof(env) / sizeof(env[0]));
	struct winsize ws = { 0 };

	if (use_pty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
		ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
	buf_u32(b, (uint32_t)getuid());
	buf_u32(b, (uint32_t)getgid());
	buf_u32(b, (use_pty ? AP_EXEC_PTY : 0) | (o->guest_ps ? AP_EXEC_PS : 0) |
	    (o->isolated ? AP_EXEC_ISOLATED : 0));
	buf_u32(b, ws.ws_row);
	buf_u32(b, ws.ws_col);
	buf_u32(b, argc);
	buf_u32(b, envc);
	add_groups(b);
	buf_str(b, cwd);
	for (uint32_t i = 0; i < argc; i++)
		buf_str(b, argv[i]);
	for (uint32_t i = 0; i < envc; i++)
		buf_str(b, env[i]);
	return b->err;
}

/* ---- stdin and signals, each in its own thread ---- */

/* Waits until n more bytes of stdin fit in the window, and takes them. */
static void
stdin_credit(size_t n)
{
	pthread_mutex_lock(&credit_lock);
	while (stdin_in_flight + n > AP_INPUT_WINDOW)
		pthread_cond_wait(&credit_cond, &credit_lock);
	stdin_in_flight += n;
	pthread_mutex_unlock(&credit_lock);
}

static void
stdin_acked(const unsigned char *p, size_t len)
{
	size_t n = len == 4 ? ap_get32(p) : 0;

	pthread_mutex_lock(&credit_lock);
	stdin_in_flight = n > stdin_in_flight ? 0 : stdin_in_flight - n;
	pthread_cond_signal(&credit_cond);
	pthread_mutex_unlock(&credit_lock);
}

static void *
stdin_thread(void *arg)
{
	static unsigned char data[AP_DATA_CHUNK];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, data, sizeof(data));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		stdin_credit((size_t)n);
		if (send_locked(AP_STDIN, data, (size_t)n) != 0)
			return NULL;
	}
	send_locked(AP_STDIN, NULL, 0);
	return NULL;
}

static void
forward_signal(int sig)
{
	unsigned char p[4];

	ap_put32(p, (uint32_t)sig);
	send_locked(AP_SIGNAL, p, sizeof(p));
}

/* The local terminal's size to the guest's pseudo-terminal. */
static void
forward_winsize(void)
{
	struct winsize ws;
	unsigned char p[8];

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 &&
	    ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0)
		return;
	ap_put32(p, ws.ws_row);
	ap_put32(p + 4, ws.ws_col);
	send_locked(AP_WINSIZE, p, sizeof(p));
}

static void *
signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	while (sigwait(set, &sig) == 0) {
		if (sig == SIGWINCH)
			forward_winsize();
		else
			forward_signal(sig);
	}
	return NULL;
}

/* Keys go to the guest's terminal as they are typed (^C included). */
static void
terminal_raw(void)
{
	if (use_pty && !no_stdin && isatty(STDIN_FILENO))
		rawterm_enter();
}

/* A signal ignored when launch started stays ignored (as a background
 * job's SIGINT): it is not forwarded either. */
static int
ignored(int sig)
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

static int
start_threads(bool with_stdin)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	static sigset_t set;
	pthread_t t;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		if (!ignored(forwarded[i]))
			sigaddset(&set, forwarded[i]);
	if (use_pty)
		sigaddset(&set, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&t, NULL, signal_thread, &set) != 0)
		return -EAGAIN;
	if (!with_stdin)
		return send_locked(AP_STDIN, NULL, 0);
	return pthread_create(&t, NULL, stdin_thread, NULL) != 0 ? -EAGAIN : 0;
}

/* ---- output and the end ---- */

/* Writes guest output, then acknowledges it (the agent sends more);
 * a closed stdout/stderr here means SIGPIPE there, as the command would
 * have got locally. */
static void
output(int fd, const unsigned char *p, size_t len, int *broken)
{
	unsigned char ack[4];

	if (!*broken && write_all(fd, p, len) == -EPIPE) {
		*broken = 1;
		forward_signal(SIGPIPE);
	}
	ap_put32(ack, (uint32_t)len);
	send_locked(AP_ACK, ack, sizeof(ack));
}

/* The status an EXIT frame reports, as launch's own: exited N (0-255)
 * gives N, killed by signal S (1-64) gives 128+S.  Anything else comes
 * from a guest that lies -- "killed by 256" would give 128+256 = 0 after
 * the kernel keeps the low byte -- so it is an error, never a success. */
static int
exit_code(const unsigned char *p, size_t len)
{
	uint32_t how = len >= 8 ? ap_get32(p) : UINT32_MAX, v = len >= 8 ? ap_get32(p + 4) : 0;

	if (how == AP_EXITED && v <= 255)
		return (int)v;
	if (how == AP_KILLED && v >= 1 && v <= AP_SIGNAL_MAX)
		return 128 + (int)v;
	fprintf(stderr, "launch: the guest reported an impossible exit status (%s %u); "
	    "exiting %d\n", how == AP_EXITED ? "exit" : how == AP_KILLED ? "signal" : "?",
	    (unsigned)v, LAUNCH_EXIT_FAIL);
	return LAUNCH_EXIT_FAIL;
}

static int
stream(const char *state)
{
	static unsigned char buf[AP_MAX_PAYLOAD];
	int broken[3] = { 0 };
	struct ap_hdr h;
	int rc;

	while ((rc = frame_read(conn, &h, buf)) == 1) {
		switch (h.type) {
		case AP_STDOUT:
			output(STDOUT_FILENO, buf, h.len, &broken[1]);
			break;
		case AP_STDERR:
			output(STDERR_FILENO, buf, h.len, &broken[2]);
			break;
		case AP_ACK:
			stdin_acked(buf, h.len);
			break;
		case AP_EXIT:
			return exit_code(buf, h.len);
		case AP_ERROR: {
			/* the guest's words: printable, never terminal controls */
			static char text[GUEST_TEXT_BUF];

			fprintf(stderr, "launch: %s\n", guest_text(text, buf, h.len));
			return LAUNCH_EXIT_FAIL;
		}
		}
	}
	fprintf(stderr, "launch: lost the VM while the command ran (see %s/%s and %s)\n",
	    state, ST_LOG, ST_CONSOLE);
	return LAUNCH_EXIT_FAIL;
}

int
agent_run(int fd, char *const argv[], const struct launch_opts *o, const char *state)
{
	struct buf b = { 0 };
	int rc;

	conn = fd;
	no_stdin = o->no_stdin;
	use_pty = o->tty == 1 ||
	    (o->tty == -1 && !o->no_stdin && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
	rc = build_exec(&b, argv, o);
	if (rc == 0)
		rc = send_locked(AP_EXEC, b.p, b.len);
	if (rc == 0)
		rc = start_threads(!o->no_stdin);
	free(b.p);
	if (rc != 0) {
		fprintf(stderr, "launch: cannot send the command: %s\n", strerror(-rc));
		return LAUNCH_EXIT_FAIL;
	}
	terminal_raw();
	rc = stream(state);
	rawterm_leave();
	return rc;
}
