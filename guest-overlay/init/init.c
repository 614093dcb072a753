/*
 * init: fsbridge-init, PID 1 of the fsbridge guest (static, libc only).
 *
 * In order: mount /proc, /sys and /dev; read the fsbridge.* parameters
 * from /proc/cmdline (the kernel keeps dotted parameters out of init's
 * argv); load the modules listed in /etc/modules.order; mount each
 * virtio-fs share; run the requested program as a child and print
 * "fsbridge-init: exit N"; unmount, sync and power off.  Assembling an
 * overlay root and starting the agent will go between mounting the shares
 * and running the program.
 *
 * PID 1 must never exit (the kernel would panic), so every failure prints
 * one "fsbridge-init: error: ..." line on the console and stops the
 * machine.  Command line: see contract.h and README.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/contract/contract.h"
#include "guest-overlay/contract/mkdir_p.h"

#define PREFIX "fsbridge-init: "
#define MODULES_ORDER "/etc/modules.order"
#define MAX_SHARES 32
#define CMDLINE_MAX 8192
#define GUEST_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct share {
	const char *tag;
	const char *dir;
	bool ro;
};

struct config {
	struct share shares[MAX_SHARES];
	size_t nshares;
	const char *run;
	bool quiet;
	int halt_how;   /* RB_POWER_OFF or RB_AUTOBOOT */
};

static struct config cfg = { .halt_how = RB_POWER_OFF };

/* ---- messages and stopping ---- */

static void
vsay(const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), PREFIX);

	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		int kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

		if (kmsg >= 0) {
			if (write(kmsg, line, (size_t)n) < 0) {
				/* nowhere left to say it */
			}
			close(kmsg);
		}
	}
}

/* Always printed. */
static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/* Printed unless fsbridge.quiet. */
static void __attribute__((format(printf, 1, 2)))
info(const char *fmt, ...)
{
	va_list ap;

	if (cfg.quiet)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn))
halt_machine(void)
{
	sync();
	reboot(cfg.halt_how);
	say("error: cannot stop the machine: %s", strerror(errno));
	for (;;)
		pause();
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	say("error: %s", what);
	halt_machine();
}

static double
uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- file systems ---- */

static void
mount_api_fs(const char *type, const char *dir, unsigned long flags)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	if (mount(type, dir, type, flags, NULL) != 0 && errno != EBUSY)
		die("mount %s on %s: %s", type, dir, strerror(errno));
}

static void
mount_basics(void)
{
	mount_api_fs("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	mount_api_fs("sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	mount_api_fs("devtmpfs", "/dev", MS_NOSUID);
}

/* stdin, stdout and stderr on the console, in case the kernel could not
 * open it before /dev was mounted; /dev/kmsg as the last resort. */
static void
console_setup(void)
{
	int fd;

	if (fcntl(STDOUT_FILENO, F_GETFD) >= 0 && fcntl(STDERR_FILENO, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0)
		return;
	for (int i = 0; i <= 2; i++)
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void
mount_share(const struct share *s)
{
	int rc = mkdir_p(s->dir);

	if (rc != 0)
		die("mkdir %s: %s", s->dir, strerror(-rc));
	if (mount(s->tag, s->dir, "virtiofs", s->ro ? MS_RDONLY : 0, NULL) != 0)
		die("mount virtio-fs tag '%s' on %s: %s%s", s->tag, s->dir,
		    strerror(errno), errno == EINVAL ?
		    " (is there a vhost-user-fs device with this tag?)" : "");
	info("mounted %s on %s%s", s->tag, s->dir, s->ro ? " (read-only)" : "");
}

static void
unmount_shares(void)
{
	for (size_t i = cfg.nshares; i-- > 0;)
		if (umount2(cfg.shares[i].dir, 0) != 0)
			say("unmount %s: %s", cfg.shares[i].dir, strerror(errno));
}

/* ---- kernel modules ---- */

static void
load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("module %s: %s", path, strerror(errno));
	if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
		die("load module %s: %s", path, strerror(errno));
	close(fd);
}

/* One module path a line, dependencies first; no file, no modules. */
static void
load_modules(void)
{
	FILE *f = fopen(MODULES_ORDER, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned n = 0;

	if (f == NULL && errno == ENOENT)
		return;
	if (f == NULL)
		die("%s: %s", MODULES_ORDER, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		load_module(line);
		n++;
	}
	free(line);
	fclose(f);
	info("loaded %u modules", n);
}

/* ---- kernel command line ---- */

static void
read_cmdline(char *buf, size_t size)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die("/proc/cmdline: %s", strerror(errno));
	n = read(fd, buf, size - 1);
	if (n < 0)
		die("/proc/cmdline: %s", strerror(errno));
	close(fd);
	buf[n] = '\0';
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* The next word, in place, with double quotes removed as the kernel
 * does (a="b c" is one word); NULL at the end. */
static char *
next_word(char **cursor)
{
	char *s = *cursor, *word, *out;
	bool quoted = false;

	while (is_space(*s))
		s++;
	if (*s == '\0')
		return NULL;
	word = out = s;
	for (; *s != '\0'; s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && is_space(*s)) {
			s++;
			break;
		}
		*out++ = *s;
	}
	*out = '\0';
	*cursor = s;
	return word;
}

/* TAG:/DIR[:ro|:rw], split in place. */
static void
parse_share(char *val)
{
	struct share *s = &cfg.shares[cfg.nshares];
	char *colon = strchr(val, ':'), *opt;

	if (cfg.nshares == MAX_SHARES)
		die("more than %d " FSB_CMDLINE_SHARE " parameters", MAX_SHARES);
	if (colon == NULL || colon == val || colon[1] != '/')
		die(FSB_CMDLINE_SHARE "%s: expected TAG:/DIR[:ro]", val);
	*colon = '\0';
	s->tag = val;
	s->dir = colon + 1;
	opt = strchr(colon + 1, ':');
	if (opt != NULL) {
		*opt++ = '\0';
		if (strcmp(opt, "ro") != 0 && strcmp(opt, "rw") != 0)
			die(FSB_CMDLINE_SHARE "%s:%s: unknown option '%s' (ro or rw)",
			    s->tag, s->dir, opt);
		s->ro = strcmp(opt, "ro") == 0;
	}
	cfg.nshares++;
}

static void
parse_run(const char *val)
{
	if (val[0] != '/')
		die(FSB_CMDLINE_RUN "%s: expected an absolute path", val);
	cfg.run = val;
}

static void
parse_halt(const char *val)
{
	if (strcmp(val, "poweroff") == 0)
		cfg.halt_how = RB_POWER_OFF;
	else if (strcmp(val, "reboot") == 0)
		cfg.halt_how = RB_AUTOBOOT;
	else
		die(FSB_CMDLINE_HALT "%s: expected poweroff or reboot", val);
}

/* One fsbridge.* parameter; anything else is the kernel's business. */
static void
apply_word(char *word)
{
	if (strncmp(word, FSB_CMDLINE_PREFIX, FSB_KEYLEN(FSB_CMDLINE_PREFIX)) != 0)
		return;
	if (strncmp(word, FSB_CMDLINE_SHARE, FSB_KEYLEN(FSB_CMDLINE_SHARE)) == 0)
		parse_share(word + FSB_KEYLEN(FSB_CMDLINE_SHARE));
	else if (strncmp(word, FSB_CMDLINE_RUN, FSB_KEYLEN(FSB_CMDLINE_RUN)) == 0)
		parse_run(word + FSB_KEYLEN(FSB_CMDLINE_RUN));
	else if (strcmp(word, FSB_CMDLINE_QUIET) == 0)
		cfg.quiet = true;
	else if (strncmp(word, FSB_CMDLINE_HALT, FSB_KEYLEN(FSB_CMDLINE_HALT)) == 0)
		parse_halt(word + FSB_KEYLEN(FSB_CMDLINE_HALT));
	else
		die("unknown or malformed kernel parameter '%s'", word);
}

/* Parameters after "--" are init's arguments, not ours. */
static void
parse_cmdline(char *buf)
{
	char *cursor = buf, *word;

	while ((word = next_word(&cursor)) != NULL && strcmp(word, "--") != 0)
		apply_word(word);
}

/* ---- the program ---- */

/* Waits for pid, reaping any other child (orphans come to PID 1). */
static int
wait_for(pid_t pid)
{
	int status;

	for (;;) {
		pid_t r = waitpid(-1, &status, 0);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			die("wait for %s: %s", cfg.run, strerror(errno));
	}
}

static int
run_program(const char *path)
{
	char *argv[] = { (char *)path, NULL };
	pid_t pid;

	info("running %s, %.2f s after boot", path, uptime());
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		execv(path, argv);
		say("error: exec %s: %s", path, strerror(errno));
		_exit(127);
	}
	return wait_for(pid);
}

static void
report_status(int status)
{
	if (WIFEXITED(status))
		say("exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		say("signal %d", WTERMSIG(status));
	else
		say("status 0x%x", (unsigned)status);
}

int
main(void)
{
	static char cmdline[CMDLINE_MAX];

	if (getpid() != 1) {
		fprintf(stderr, PREFIX "not PID 1: this is the fsbridge guest's "
		    "init, not a command to run on a host\n");
		return 1;
	}
	mount_basics();
	console_setup();
	read_cmdline(cmdline, sizeof(cmdline));
	parse_cmdline(cmdline);
	load_modules();
	for (size_t i = 0; i < cfg.nshares; i++)
		mount_share(&cfg.shares[i]);
	setenv("PATH", GUEST_PATH, 0);
	if (cfg.run != NULL)
		report_status(run_program(cfg.run));
	else
		info("nothing to run (no " FSB_CMDLINE_RUN ")");
	unmount_shares();
	halt_machine();
}
