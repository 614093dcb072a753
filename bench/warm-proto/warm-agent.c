/*
 * warm-agent: the warm-start prototype's guest program (static), run by
 * fsbridge-init as fsbridge.run=/warm-agent with NO fsbridge.share=: the
 * guest boots with no vhost-user-fs device and waits here on the agent
 * port; the host saves the VM in this state, and after a restore tells it
 * which hot-plugged tags to mount.  One request a line, one reply a line:
 *   PING                       -> PONG
 *   TIME SEC NSEC              -> OK (CLOCK_REALTIME set: a restored guest's clock is stale)
 *   SEED HEX                   -> OK (host randomness mixed in, CRNG reseeded: every
 *                                 restore of one state would otherwise share RNG state)
 *   MOUNT TAG DIR ro|rw        -> OK MS (virtiofs TAG at DIR, retried while the hot-plugged
 *                                 device is still being probed; MS = the wait)
 *   UMOUNT DIR                 -> OK
 *   CAT PATH                   -> DATA first line of PATH
 *   RUN ROOT PATH [ARG...]     -> EXIT N (PATH run chrooted in ROOT, stdio on /dev/null)
 *   BLK SERIAL                 -> OK vdX (the virtio-blk disk with that serial, waited for)
 *   UPTIME                     -> OK boottime-seconds
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_NAME "fsbridge.agent"

static int port = -1;
static int mounted;      /* virtiofs mounts made: the next needs one more bound device */
static unsigned long long start_us;   /* kmsg records before warm-agent started are the boot's */

static double
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
open_port(void)
{
	for (int i = 0; i < 1000; i++) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[512], name[64] = "";
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
			if ((f = fopen(path, "re")) == NULL)
				continue;
			if (fgets(name, sizeof(name), f) != NULL)
				name[strcspn(name, "\n")] = '\0';
			fclose(f);
			if (strcmp(name, PORT_NAME) == 0) {
				snprintf(path, sizeof(path), "/dev/%s", e->d_name);
				closedir(d);
				return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			}
		}
		if (d != NULL)
			closedir(d);
		usleep(10000);
	}
	return -1;
}

static void
reply(const char *fmt, ...)
{
	char buf[4200];
	va_list ap;
	size_t n, off = 0;

	va_start(ap, fmt);
	n = (size_t)vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	while (off < n) {
		ssize_t w = write(port, buf + off, n - off);

		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = port, .events = POLLOUT };
			poll(&p, 1, 100);
		} else
			return;
	}
}

static void
mkdir_p(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strchr(buf + 1, '/');; p = strchr(p + 1, '/')) {
		if (p != NULL)
			*p = '\0';
		mkdir(buf, 0755);
		if (p == NULL)
			return;
		*p = '/';
	}
}

static void
do_mount(char *tag, char *dir, char *mode)
{
	double start = ms_now();

	if (tag == NULL || dir == NULL) {
		reply("ERR usage");
		return;
	}
	mkdir_p(dir);
	for (;;) {
		/* the hot-plugged device is bound when virtiofs lists it */
		DIR *d = opendir("/sys/bus/virtio/drivers/virtiofs");
		struct dirent *e;
		int bound = 0;

		while (d != NULL && (e = readdir(d)) != NULL)
			bound += strncmp(e->d_name, "virtio", 6) == 0;
		if (d != NULL)
			closedir(d);
		if (bound > mounted || ms_now() - start > 10000)
			break;
		usleep(2000);
	}
	for (;;) {
		if (mount(tag, dir, "virtiofs", mode && strcmp(mode, "ro") == 0 ? MS_RDONLY : 0,
		    NULL) == 0)
			break;
		if ((errno != EINVAL && errno != ENOENT && errno != ENODEV) ||
		    ms_now() - start > 10000) {
			reply("ERR mount %s: %s", tag, strerror(errno));
			return;
		}
		usleep(1000);
	}
	mounted++;
	reply("OK %.1f", ms_now() - start);
}

static void
do_blk(const char *serial)
{
	double start = ms_now();

	for (;;) {
		DIR *d = opendir("/sys/block");
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[512], s[128] = "";
			FILE *f;

			snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
			if ((f = fopen(path, "re")) == NULL)
				continue;
			if (fgets(s, sizeof(s), f) != NULL)
				s[strcspn(s, "\n")] = '\0';
			fclose(f);
			if (strcmp(s, serial) == 0) {
				reply("OK %s %.1f", e->d_name, ms_now() - start);
				closedir(d);
				return;
			}
		}
		if (d != NULL)
			closedir(d);
		if (ms_now() - start > 10000) {
			reply("ERR no disk with serial %s", serial);
			return;
		}
		usleep(1000);
	}
}

static void
do_run(char **args)
{
	pid_t pid;
	int status;

	if (args[0] == NULL || args[1] == NULL) {
		reply("ERR usage");
		return;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (chroot(args[0]) != 0 || chdir("/") != 0)
			_exit(126);
		execv(args[1], args + 1);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	reply("EXIT %d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void
do_seed(const char *hex)
{
	struct {
		struct rand_pool_info info;
		unsigned char buf[256];
	} e = { 0 };
	size_t n = 0;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

	while (hex[2 * n] && hex[2 * n + 1] && n < sizeof(e.buf)) {
		unsigned v;
		sscanf(hex + 2 * n, "%2x", &v);
		e.buf[n++] = (unsigned char)v;
	}
	e.info.entropy_count = (int)n * 8;
	e.info.buf_size = (int)n;
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &e) != 0 || ioctl(fd, RNDRESEEDCRNG) != 0)
		reply("ERR seed: %s", strerror(errno));
	else
		reply("OK %zu", n);
	if (fd >= 0)
		close(fd);
}

/* The kernel log since boot, records joined by " | " (stamps in us). */
static void
do_dmesg(void)
{
	static char out[4000];
	char rec[1024];
	size_t len = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ssize_t r;

	out[0] = '\0';
	while (fd >= 0 && (r = read(fd, rec, sizeof(rec) - 1)) > 0) {
		char *semi, *nl;
		unsigned long long us = 0;

		rec[r] = '\0';
		if ((nl = strchr(rec, '\n')) != NULL)
			*nl = '\0';
		semi = strchr(rec, ';');
		sscanf(rec, "%*u,%*u,%llu", &us);
		if (semi == NULL || us < start_us || strstr(semi, "not found") != NULL)
			continue;
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%.3f %s",
		    len ? " | " : "", us / 1e6, semi + 1);
		if (len >= sizeof(out) - 1)
			break;
	}
	if (fd >= 0)
		close(fd);
	reply("OK %s", out);
}

static void
handle(char *line)
{
	char *args[64];
	int n = 0;

	for (char *tok = strtok(line, " "); tok != NULL && n < 63; tok = strtok(NULL, " "))
		args[n++] = tok;
	args[n] = NULL;
	if (n == 0)
		return;
	if (strcmp(args[0], "PING") == 0) {
		reply("PONG");
	} else if (strcmp(args[0], "TIME") == 0 && n == 3) {
		struct timespec ts = { atoll(args[1]), atol(args[2]) };
		if (clock_settime(CLOCK_REALTIME, &ts) != 0)
			reply("ERR settime: %s", strerror(errno));
		else
			reply("OK");
	} else if (strcmp(args[0], "SEED") == 0 && n == 2) {
		do_seed(args[1]);
	} else if (strcmp(args[0], "MOUNT") == 0) {
		do_mount(args[1], args[2], args[3]);
	} else if (strcmp(args[0], "UMOUNT") == 0 && n == 2) {
		if (umount2(args[1], 0) != 0)
			reply("ERR umount: %s", strerror(errno));
		else
			reply("OK");
	} else if (strcmp(args[0], "CAT") == 0 && n == 2) {
		char buf[1024] = "";
		FILE *f = fopen(args[1], "re");
		if (f == NULL) {
			reply("ERR %s: %s", args[1], strerror(errno));
			return;
		}
		if (fgets(buf, sizeof(buf), f) != NULL)
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
		reply("DATA %s", buf);
	} else if (strcmp(args[0], "RUN") == 0) {
		do_run(args + 1);
	} else if (strcmp(args[0], "BLK") == 0 && n == 2) {
		do_blk(args[1]);
	} else if (strcmp(args[0], "DMESG") == 0) {
		do_dmesg();
	} else if (strcmp(args[0], "UPTIME") == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		reply("OK %ld.%03ld", (long)ts.tv_sec, ts.tv_nsec / 1000000);
	} else {
		reply("ERR unknown request %s", args[0]);
	}
}

int
main(void)
{
	static char buf[65536];
	size_t len = 0;

	start_us = (unsigned long long)(ms_now() * 1000);
	port = open_port();
	if (port < 0) {
		fprintf(stderr, "warm-agent: no port %s\n", PORT_NAME);
		return 1;
	}
	fprintf(stderr, "warm-agent: waiting on %s\n", PORT_NAME);
	for (;;) {
		struct pollfd p = { .fd = port, .events = POLLIN };

		if (poll(&p, 1, -1) < 0)
			continue;
		if (!(p.revents & POLLIN)) {
			usleep(5000);   /* host not connected (POLLHUP): poll again soon */
			continue;
		}
		ssize_t r = read(port, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0) {
			usleep(5000);
			continue;
		}
		len += (size_t)r;
		char *nl;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			handle(buf);
			len -= (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
}
