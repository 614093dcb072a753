/*
 * fuse_conn: find a mount's FUSE connection number and abort it through
 * fusectl.  See fuse_conn.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_conn.h"

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void
fuse_conn_unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

long
fuse_conn_of(const char *mnt)
{
	char want[PATH_MAX], *line = NULL, *f[6], *save, *p;
	unsigned int major, minor;
	size_t cap = 0;
	long conn = -ENOENT;
	FILE *fp;
	int i;

	if (realpath(mnt, want) == NULL)
		return -errno;
	fp = fopen("/proc/self/mountinfo", "re");
	if (fp == NULL)
		return -errno;
	/* "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...": the last match is
	 * the one on top */
	while (getline(&line, &cap, fp) > 0) {
		p = line;
		for (i = 0; i < 6 && (f[i] = strtok_r(p, " \n", &save)) != NULL; i++)
			p = NULL;
		if (i < 6)
			continue;
		fuse_conn_unescape(f[4]);
		if (strcmp(f[4], want) == 0 && sscanf(f[2], "%u:%u", &major, &minor) == 2)
			conn = minor;
	}
	free(line);
	fclose(fp);
	return conn;
}

int
fuse_conn_abort(long conn)
{
	char path[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%ld/abort", conn);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		rc = -errno;
	close(fd);
	return rc;
}
