/*
 * relocate: an installed file's path from the directory a program runs
 * from, for a tree installed under another prefix than the configured
 * one.  See relocate.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/image/relocate.h"

/* The next component of *p (skipping slashes): its start and length in
 * *len, *p moved past it; NULL at the end. */
static const char *
component(const char **p, size_t *len)
{
	const char *s = *p + strspn(*p, "/");

	if (*s == '\0')
		return NULL;
	*len = strcspn(s, "/");
	*p = s + *len;
	return s;
}

static int
append(char *out, size_t size, const char *s, size_t len)
{
	size_t used = strlen(out);

	if (used + len + 2 > size)
		return -ENAMETOOLONG;
	out[used] = '/';
	memcpy(out + used + 1, s, len);
	out[used + 1 + len] = '\0';
	return 0;
}

int
relocate(const char *exe, const char *bindir, const char *installed,
    char *out, size_t size)
{
	const char *b = bindir, *i = installed, *bc, *ic, *slash;
	size_t blen = 0, ilen = 0;
	int rc = 0;

	if (exe[0] != '/' || bindir[0] != '/' || installed[0] != '/')
		return -EINVAL;
	slash = strrchr(exe, '/');
	if ((size_t)(slash - exe) + 1 > size)
		return -ENAMETOOLONG;
	memcpy(out, exe, (size_t)(slash - exe));
	out[slash - exe] = '\0';
	/* skip what bindir and installed share */
	for (;;) {
		const char *bs = b, *is = i;

		bc = component(&b, &blen);
		ic = component(&i, &ilen);
		if (bc == NULL || ic == NULL || blen != ilen || memcmp(bc, ic, blen) != 0) {
			b = bs;
			i = is;
			break;
		}
	}
	while (rc == 0 && component(&b, &blen) != NULL)
		rc = append(out, size, "..", 2);
	while (rc == 0 && (ic = component(&i, &ilen)) != NULL)
		rc = append(out, size, ic, ilen);
	return rc;
}

int
relocate_self(const char *bindir, const char *installed, char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = '\0';
	return relocate(self, bindir, installed, out, size);
}
