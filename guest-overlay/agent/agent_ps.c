/*
 * agent_ps: `launch ps` in the guest: the processes of /proc as a table
 * (PID, state, command line; [comm] for kernel threads).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"

/* The first size-1 bytes of a file, NUL-terminated; its length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < size - 1 && (n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

/* The state letter and [comm] from /proc/PID/stat. */
static int
stat_fields(const char *pid, char *state, char *comm, size_t size)
{
	char path[300], buf[1024], *lp, *rp;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (lp == NULL || rp == NULL || rp < lp || rp[1] != ' ')
		return -1;
	*state = rp[2];
	*rp = '\0';
	snprintf(comm, size, "[%s]", lp + 1);
	return 0;
}

static void
append(char **text, size_t *len, size_t *cap, const char *line)
{
	size_t n = strlen(line);

	if (*len + n + 1 > *cap) {
		size_t ncap = (*cap + n + 1) * 2;
		char *p = realloc(*text, ncap);

		if (p == NULL)
			return;
		*text = p;
		*cap = ncap;
	}
	memcpy(*text + *len, line, n + 1);
	*len += n;
}

char *
agent_ps_text(size_t *len)
{
	char *text = NULL, line[4400], cmd[4096], comm[64], path[300], state;
	size_t cap = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");

	*len = 0;
	append(&text, len, &cap, "  PID S COMMAND\n");
	while (d != NULL && (e = readdir(d)) != NULL) {
		ssize_t n;

		if (!isdigit((unsigned char)e->d_name[0]) ||
		    stat_fields(e->d_name, &state, comm, sizeof(comm)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		n = read_small(path, cmd, sizeof(cmd));
		for (ssize_t i = 0; i < n; i++)
			if (cmd[i] == '\0' || cmd[i] == '\n')
				cmd[i] = ' ';
		while (n > 0 && cmd[n - 1] == ' ')
			cmd[--n] = '\0';
		snprintf(line, sizeof(line), "%5s %c %s\n", e->d_name, state, n > 0 ? cmd : comm);
		append(&text, len, &cap, line);
	}
	if (d != NULL)
		closedir(d);
	return text;
}
