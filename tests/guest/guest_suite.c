/*
 * guest_suite: runs inside a QEMU guest (static, fsbridge.run=/guest_suite)
 * whose /mnt is an fsbridge virtio-fs share.  It runs the POSIX
 * comparison (/posix_compare, also static) between a tmpfs directory and
 * the share, then attacks the share from the guest side: a device node,
 * setuid bits, symlinks that lead out, a hard link to a file outside the
 * share.  Every line it prints that starts with "guest-tap: " is a TAP
 * line for the host to collect; it ends with "guest-suite: done".
 *
 * Run as /guest_suite-user, the same against a server acting as an
 * ordinary host user, the guest's root mapped to that user (serve.sh as
 * fsb-user): where the host kernel wants root, it expects the user's
 * answers -- chown to other ids fails (posix_compare --model user-server),
 * and root's write clears the setuid bit (the server has no CAP_FSETID).
 *
 * Run as /writer (the same binary under another name), it appends
 * numbered lines to /mnt/writer.log for ever, fsyncs every 50 lines and
 * prints "writer: acked N" after each fsync: the host kills the guest
 * and checks that every acknowledged line is on the host file.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARE "/mnt"

/* The server acts as an ordinary host user (/guest_suite-user). */
static bool user_server;

static void
tap(int ok, const char *what, int err)
{
	if (ok)
		printf("guest-tap: ok - %s\n", what);
	else
		printf("guest-tap: not ok - %s # errno %d (%s)\n", what, err, strerror(err));
	fflush(stdout);
}

/* Start /posix_compare REF TEST with its output on a pipe (no shell in
 * the guest). */
static FILE *
start_posix_compare(pid_t *pid)
{
	int pfd[2];

	if (pipe(pfd) != 0)
		return NULL;
	*pid = fork();
	if (*pid < 0)
		return NULL;
	if (*pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (user_server)
			execl("/posix_compare", "posix_compare", "--model", "user-server", "/ref",
			    SHARE "/posix", (char *)NULL);
		else
			execl("/posix_compare", "posix_compare", "/ref", SHARE "/posix", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	return fdopen(pfd[0], "r");
}

/* Run /posix_compare REF TEST and prefix its TAP lines. */
static void
run_posix_compare(void)
{
	char line[4096];
	int status = 0;
	pid_t pid;
	FILE *p;

	mkdir("/ref", 0755);
	if (mount("tmpfs", "/ref", "tmpfs", 0, "size=64m") != 0) {
		tap(0, "mount a tmpfs for the reference side", errno);
		return;
	}
	mkdir(SHARE "/posix", 0755);
	p = start_posix_compare(&pid);
	if (p == NULL) {
		tap(0, "start /posix_compare", errno);
		return;
	}
	while (fgets(line, sizeof(line), p) != NULL) {
		if (strncmp(line, "ok ", 3) == 0 || strncmp(line, "not ok ", 7) == 0 ||
		    line[0] == '#')
			printf("guest-tap: %s", line);
	}
	fclose(p);
	waitpid(pid, &status, 0);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0, "posix_compare exits 0", 0);
}

static void
attack_share(void)
{
	struct stat st;
	char target[64];
	ssize_t n;
	int fd, rc;

	rc = mknod(SHARE "/dev-null", S_IFCHR | 0666, makedev(1, 3));
	tap(rc != 0 && errno == EPERM, "mknod of a device node is refused (EPERM)", errno);

	fd = open(SHARE "/suid", O_WRONLY | O_CREAT | O_TRUNC, 04755);
	if (fd >= 0)
		close(fd);
	rc = chmod(SHARE "/suid", 06755);
	tap(stat(SHARE "/suid", &st) == 0 && !(st.st_mode & (S_ISUID | S_ISGID)),
	    "setuid/setgid bits are never set through the share", errno);

	rc = symlink("/etc/passwd", SHARE "/abs-link");
	n = readlink(SHARE "/abs-link", target, sizeof(target) - 1);
	if (n >= 0)
		target[n] = '\0';
	tap(rc == 0 && n > 0 && strcmp(target, "/etc/passwd") == 0,
	    "an absolute symlink is stored verbatim (opaque)", errno);
	rc = symlink("../../../../../../etc", SHARE "/up-link");
	tap(rc == 0, "a climbing symlink is stored verbatim", errno);
	/* writing through the links lands in the guest's own /etc, a tmpfs
	 * root here: the host checks nothing outside its share changed */
	fd = open(SHARE "/up-link/fsbridge-escape", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);

	rc = link("/init", SHARE "/hardlink-out");
	tap(rc != 0 && errno == EXDEV, "a hard link from outside the share fails (EXDEV)", errno);
	rc = mkdir(SHARE "/../escape-dir", 0755);
	tap(1, "mkdir through .. stays in the guest's namespace", 0);
	(void)rc;
}

/* Append a byte to path; 0 or an errno. */
static int
append_byte(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	int rc = 0;

	if (fd < 0)
		return errno;
	if (write(fd, "x", 1) != 1)
		rc = errno;
	close(fd);
	return rc;
}

/* The mode bits of path, or -1. */
static int
mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/*
 * Setuid/setgid files the host made (the share never sets those bits):
 * a write or truncate by a user without CAP_FSETID clears setuid, and
 * setgid when it is group-executable; root's write keeps them -- as on a
 * local disk, whoever clears them (the guest kernel, or the server when
 * FUSE_HANDLE_KILLPRIV_V2 is negotiated).
 */
static void
suid_writes(void)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		int rc = 0;

		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(100);
		rc |= append_byte(SHARE "/kill-write") != 0;
		rc |= (truncate(SHARE "/kill-trunc", 0) != 0) << 1;
		rc |= (append_byte(SHARE "/keep-sgid") != 0) << 2;
		_exit(rc);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "an unprivileged user writes and truncates the host's setuid files", 0);
	tap(mode_of(SHARE "/kill-write") == 0777,
	    "a write by an unprivileged user clears setuid and (group-executable) setgid", 0);
	tap(mode_of(SHARE "/kill-trunc") == 0777,
	    "a truncate by an unprivileged user clears setuid", 0);
	tap(mode_of(SHARE "/keep-sgid") == 02766,
	    "setgid without group execute stays after an unprivileged write", 0);
	if (user_server)
		tap(append_byte(SHARE "/keep-root") == 0 && mode_of(SHARE "/keep-root") == 0755,
		    "root's write clears the setuid bit: the server has no CAP_FSETID on the "
		    "host", 0);
	else
		tap(append_byte(SHARE "/keep-root") == 0 && mode_of(SHARE "/keep-root") == 04755,
		    "root's write keeps the setuid bit (CAP_FSETID)", 0);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool
file_says(const char *path, const char *text)
{
	char buf[128];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

/*
 * Run as /watcher: read /mnt/change.txt (caching it), say "watcher:
 * ready", then poll until the host has changed it to `want` and print
 * how long that took to be seen.  As /watcher-own it first writes
 * "before\n" itself: the pages its write leaves cached must not outlive
 * the host's same-size edit ("after!\n").
 */
static int
run_watcher(double limit_ms, const char *want, bool own)
{
	double t0;
	int fd;

	if (own) {
		fd = open(SHARE "/change.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "before\n", 7) != 7) {
			printf("watcher: writing change.txt: %s\n", strerror(errno));
			return 1;
		}
		close(fd);
	}
	if (!file_says(SHARE "/change.txt", "before\n")) {
		printf("watcher: change.txt does not say 'before'\n");
		return 1;
	}
	printf("watcher: ready\n");
	t0 = now_ms();
	while (!file_says(SHARE "/change.txt", want)) {
		if (now_ms() - t0 > limit_ms) {
			printf("watcher: not seen within %.0f s\n", limit_ms / 1000);
			return 1;
		}
		usleep(5000);
	}
	printf("watcher: seen after %.0f ms\n", now_ms() - t0);
	return 0;
}

static int
run_writer(void)
{
	char line[64];
	unsigned long i;
	int fd;

	fd = open(SHARE "/writer.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0) {
		printf("writer: open: %s\n", strerror(errno));
		return 1;
	}
	for (i = 1; i < 100000000; i++) {
		int len = snprintf(line, sizeof(line), "line %lu\n", i);

		if (write(fd, line, (size_t)len) != len) {
			printf("writer: write: %s\n", strerror(errno));
			return 1;
		}
		if (i % 50 == 0) {
			if (fsync(fd) != 0) {
				printf("writer: fsync: %s\n", strerror(errno));
				return 1;
			}
			printf("writer: acked %lu\n", i);
		}
	}
	return 0;
}

/*
 * What the guest removes itself stays usable the POSIX way: a working
 * directory removed under the process and a file replaced by a rename
 * still stat (nlink 0) -- the server's ESTALE is for objects that vanish
 * on the host, never for the guest's own removals.
 */
static void
own_removals(void)
{
	struct stat st;
	int fd, rc;

	rc = mkdir(SHARE "/gone-dir", 0755);
	if (rc == 0)
		rc = chdir(SHARE "/gone-dir");
	if (rc == 0)
		rc = rmdir(SHARE "/gone-dir");
	if (rc == 0)
		rc = stat(".", &st);
	tap(rc == 0 && st.st_nlink == 0, "stat(\".\") in a directory the guest removed: nlink 0",
	    errno);
	if (chdir("/") != 0)
		tap(0, "chdir /", errno);

	fd = open(SHARE "/replaced", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	fd = open(SHARE "/replacement", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	rc = stat(SHARE "/replaced", &st) == 0 ? 0 : -1;	/* cache it */
	if (rc == 0)
		rc = rename(SHARE "/replacement", SHARE "/replaced");
	if (rc == 0)
		rc = stat(SHARE "/replaced", &st);
	tap(rc == 0 && st.st_nlink == 1, "a file the guest renamed over stats as the new one", errno);
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 0 && strcmp(argv[0], "/writer") == 0)
		return run_writer();
	if (argc > 0 && strcmp(argv[0], "/watcher") == 0)
		return run_watcher(20000, "changed\n", false);
	if (argc > 0 && strcmp(argv[0], "/watcher-own") == 0)
		return run_watcher(20000, "after!\n", true);
	if (argc > 0 && strcmp(argv[0], "/watcher4") == 0)
		return run_watcher(4000, "changed\n", false);
	if (argc > 0 && strcmp(argv[0], "/idle") == 0) {
		/* a few requests, then a guest that leaves its share alone */
		tap(access(SHARE, F_OK) == 0, "idle: the share is there", errno);
		printf("idle: start\n");
		sleep(4);
		printf("idle: done\n");
		return 0;
	}
	user_server = argc > 0 && strcmp(argv[0], "/guest_suite-user") == 0;
	run_posix_compare();
	attack_share();
	suid_writes();
	own_removals();
	printf("guest-suite: done\n");
	return 0;
}
