/*
 * env_file: `launch --env-file FILE`.  Each line is NAME=VALUE (set) or
 * NAME (pass the host's value), like -e; blank lines and lines starting
 * with '#' are skipped; the value is taken as written (no quotes, no
 * expansion).  The entries join the -e list, so a later -e overrides.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env_file.h"

/* NAME is letters, digits and '_', not starting with a digit. */
static bool
valid_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

int
env_file_read(const char *path, struct launch_opts *o, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -errno;
	}
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((size_t)len != strlen(line) || !valid_name(line, strcspn(line, "="))) {
			snprintf(err, errlen, "line %d: expected NAME=VALUE or NAME", lineno);
			rc = -EINVAL;
		} else if (o->nenv == LAUNCH_MAX_ENV) {
			snprintf(err, errlen, "line %d: too many variables (at most %d in all)",
			    lineno, LAUNCH_MAX_ENV);
			rc = -E2BIG;
		} else if ((o->env[o->nenv] = strdup(line)) == NULL) {
			snprintf(err, errlen, "%s", strerror(ENOMEM));
			rc = -ENOMEM;
		} else {
			o->nenv++;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s", strerror(errno));
		rc = -EIO;
	}
	free(line);
	fclose(f);
	return rc;
}
