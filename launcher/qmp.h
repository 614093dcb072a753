/* qmp.h: a small QMP client for the warm start (supervisor_warm.c). */
#ifndef FSB_QMP_H
#define FSB_QMP_H

#include <stddef.h>

struct qmp {
	int fd;
	char buf[16384];
	size_t len;
};

/* Connects to QEMU's QMP socket at path (retrying until seconds pass),
 * reads the greeting and enters command mode; 0 or -errno. */
int qmp_open(struct qmp *q, const char *path, double seconds);
void qmp_close(struct qmp *q);

/*
 * Sends one command (a JSON object, printf-style) and waits up to
 * seconds for its answer, skipping events.  The answer's line is left in
 * reply (if not NULL).  0 for a "return", -EIO for an "error" (its desc
 * in reply), -ETIMEDOUT, -errno.  With fd >= 0, the descriptor goes with
 * the command (SCM_RIGHTS: getfd).
 */
int qmp_cmd(struct qmp *q, int fd, double seconds, char *reply, size_t size,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* s as the inside of a JSON string (quotes and backslashes escaped,
 * controls as \u00XX) into out; -ENAMETOOLONG. */
int qmp_escape(char *out, size_t size, const char *s);

/* Polls query-migrate until "completed" (0), "failed" (-EIO, the error
 * in why) or seconds (-ETIMEDOUT). */
int qmp_wait_migration(struct qmp *q, double seconds, char *why, size_t size);

#endif
