/*
 * qmp: talking to QEMU over its QMP socket, one command at a time: the
 * greeting and qmp_capabilities, a command and its answer (events are
 * skipped), a descriptor passed with getfd, and waiting for a migration.
 * Answers are matched by text (QEMU writes one JSON object a line), not
 * parsed: the warm start needs only return/error and a migration status.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "usock.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The next line (without its newline) into line; -ETIMEDOUT, -EPIPE. */
static int
read_line(struct qmp *q, double end, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		double left = end - now();
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - q->buf);

			snprintf(line, size, "%.*s", (int)l, q->buf);
			memmove(q->buf, nl + 1, q->len - l - 1);
			q->len -= l + 1;
			return 0;
		}
		if (q->len == sizeof(q->buf))
			q->len = 0;     /* a line longer than we care for */
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		q->len += (size_t)n;
	}
}

static int
send_text(struct qmp *q, int fd, const char *text)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(q->fd, &m, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return -EPIPE;
	return 0;
}

int
qmp_cmd(struct qmp *q, int fd, double seconds, char *reply, size_t size, const char *fmt, ...)
{
	char cmd[8192], line[sizeof(q->buf)];
	double end = now() + seconds;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 1)
		return -ENAMETOOLONG;
	strcat(cmd, "\n");
	if ((rc = send_text(q, fd, cmd)) != 0)
		return rc;
	for (;;) {
		if ((rc = read_line(q, end, line, sizeof(line))) != 0)
			return rc;
		if (strncmp(line, "{\"event\"", 8) == 0)
			continue;
		if (reply != NULL)
			snprintf(reply, size, "%s", line);
		if (strncmp(line, "{\"return\"", 9) == 0)
			return 0;
		if (strncmp(line, "{\"error\"", 8) == 0)
			return -EIO;
	}
}

int
qmp_open(struct qmp *q, const char *path, double seconds)
{
	double end = now() + seconds;
	char line[sizeof(q->buf)];
	int rc;

	q->len = 0;
	while ((q->fd = usock_connect(path)) < 0) {
		if (now() > end)
			return q->fd;
		usleep(10000);
	}
	rc = read_line(q, end, line, sizeof(line));
	if (rc == 0 && strncmp(line, "{\"QMP\"", 6) != 0)
		rc = -EPROTO;
	if (rc == 0)
		rc = qmp_cmd(q, -1, end - now(), NULL, 0, "{\"execute\":\"qmp_capabilities\"}");
	if (rc != 0)
		qmp_close(q);
	return rc;
}

void
qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

int
qmp_escape(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		char one[8];
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			snprintf(one, sizeof(one), "\\%c", c);
		else if (c < 0x20)
			snprintf(one, sizeof(one), "\\u%04x", c);
		else
			snprintf(one, sizeof(one), "%c", c);
		if (n + strlen(one) + 1 > size)
			return -ENAMETOOLONG;
		memcpy(out + n, one, strlen(one));
		n += strlen(one);
	}
	out[n] = '\0';
	return 0;
}

int
qmp_wait_migration(struct qmp *q, double seconds, char *why, size_t size)
{
	double end = now() + seconds;
	char reply[sizeof(q->buf)];

	for (;;) {
		int rc = qmp_cmd(q, -1, end - now() > 0 ? end - now() : 0.01, reply, sizeof(reply),
		    "{\"execute\":\"query-migrate\"}");

		if (rc != 0) {
			snprintf(why, size, "query-migrate: %s", rc == -EIO ? reply : strerror(-rc));
			return rc == -EIO ? -EIO : rc;
		}
		if (strstr(reply, "\"status\": \"completed\"") != NULL)
			return 0;
		if (strstr(reply, "\"status\": \"failed\"") != NULL) {
			const char *e = strstr(reply, "\"error-desc\": \"");

			snprintf(why, size, "migration failed%s%.200s", e ? ": " : "", e ? e + 15 : "");
			return -EIO;
		}
		if (now() > end) {
			snprintf(why, size, "migration not done in %.0f s", seconds);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
}
