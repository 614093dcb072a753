/*
 * warmctl: the warm-start prototype's host helper (no socat/nc needed).
 *
 *   warmctl qmp SOCK CMD...      one QMP session: the greeting, qmp_capabilities,
 *                                then each CMD (a JSON object) in turn, its
 *                                reply printed; "WAITMIG" polls query-migrate
 *                                until completed (exit 1 on failed), "WAITRUN"
 *                                polls query-status until running.
 *                                Exit 1 at the first {"error":...}.
 *   warmctl agent SOCK LINE...   the prototype agent (warm-agent.c): connects
 *                                (retrying 10 s), PINGs until PONG, then sends
 *                                each LINE and prints the one-line reply; exit 1
 *                                on a reply starting with ERR.
 * Every step is timestamped on stderr (ms since warmctl started) with -v.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double t0;
static int verbose;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
note(const char *what, const char *s)
{
	if (verbose)
		fprintf(stderr, "[%8.1f ms] %s %s\n", now() - t0, what, s);
}

static int
connect_retry(const char *path, double ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double end = now() + ms;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "warmctl: %s: path too long\n", path);
		exit(2);
	}
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (now() > end) {
			fprintf(stderr, "warmctl: connect %s: %s\n", path, strerror(errno));
			exit(1);
		}
		usleep(2000);
	}
}

/* One line (without \r\n) into buf; -1 at EOF or timeout. */
static char rbuf[1 << 20];
static size_t rlen;

static int
read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	for (;;) {
		char *nl = memchr(rbuf, '\n', rlen);

		if (nl != NULL) {
			size_t n = (size_t)(nl - rbuf);

			if (n >= size)
				n = size - 1;
			memcpy(buf, rbuf, n);
			buf[n] = '\0';
			if (n > 0 && buf[n - 1] == '\r')
				buf[n - 1] = '\0';
			rlen -= (size_t)(nl - rbuf) + 1;
			memmove(rbuf, nl + 1, rlen);
			return 0;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		ssize_t r = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (r <= 0)
			return -1;
		rlen += (size_t)r;
	}
}

static void
send_line(int fd, const char *s)
{
	char buf[8192];
	int n = snprintf(buf, sizeof(buf), "%s\n", s);

	if (write(fd, buf, (size_t)n) != n) {
		perror("warmctl: write");
		exit(1);
	}
}

/* A QMP command's reply (events skipped). */
static void
qmp_cmd(int fd, const char *cmd, char *reply, size_t size)
{
	send_line(fd, cmd);
	for (;;) {
		if (read_line(fd, reply, size, 120000) != 0) {
			fprintf(stderr, "warmctl: QMP closed or silent after %s\n", cmd);
			exit(1);
		}
		if (strncmp(reply, "{\"return\"", 9) == 0 || strncmp(reply, "{\"error\"", 8) == 0)
			return;
		note("event", reply);
	}
}

static int
qmp_main(int argc, char **argv)
{
	char line[65536];
	int fd = connect_retry(argv[0], 10000);

	if (read_line(fd, line, sizeof(line), 10000) != 0)
		return 1;
	qmp_cmd(fd, "{\"execute\":\"qmp_capabilities\"}", line, sizeof(line));
	note("qmp", "connected");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "WAITMIG") == 0 || strcmp(argv[i], "WAITRUN") == 0) {
			int mig = argv[i][4] == 'M';

			for (;;) {
				qmp_cmd(fd, mig ? "{\"execute\":\"query-migrate\"}" :
				    "{\"execute\":\"query-status\"}", line, sizeof(line));
				if (mig && strstr(line, "\"status\": \"completed\"") != NULL)
					break;
				if (mig && strstr(line, "\"status\": \"failed\"") != NULL) {
					printf("%s\n", line);
					return 1;
				}
				if (!mig && strstr(line, "\"status\": \"running\"") != NULL)
					break;
				usleep(2000);
			}
			note(argv[i], line);
			printf("%s\n", line);
			continue;
		}
		qmp_cmd(fd, argv[i], line, sizeof(line));
		note(argv[i], line);
		if (strncmp(line, "{\"error\"", 8) == 0) {
			fprintf(stderr, "warmctl: %s -> %s\n", argv[i], line);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static int
agent_main(int argc, char **argv)
{
	char line[65536];
	int fd = connect_retry(argv[0], 10000);

	note("agent", "connected");
	for (int tries = 0;; tries++) {
		send_line(fd, "PING");
		if (read_line(fd, line, sizeof(line), 100) == 0 && strcmp(line, "PONG") == 0)
			break;
		if (tries > 600) {
			fprintf(stderr, "warmctl: no PONG from the agent\n");
			return 1;
		}
	}
	note("agent", "PONG");
	/* PINGs sent while the guest was not yet reading may be answered late */
	for (int i = 1; i < argc; i++) {
		send_line(fd, argv[i]);
		do {
			if (read_line(fd, line, sizeof(line), 120000) != 0) {
				fprintf(stderr, "warmctl: agent closed or silent after %s\n", argv[i]);
				return 1;
			}
		} while (strcmp(line, "PONG") == 0);
		note(argv[i], line);
		printf("%s\n", line);
		if (strncmp(line, "ERR", 3) == 0)
			return 1;
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	t0 = now();
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argv++;
		argc--;
	}
	if (argc >= 3 && strcmp(argv[1], "qmp") == 0)
		return qmp_main(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "agent") == 0)
		return agent_main(argc - 2, argv + 2);
	fprintf(stderr, "usage: warmctl [-v] qmp SOCK CMD... | agent SOCK LINE...\n");
	return 2;
}
