/* mount_spec: parsing and printing `--mount HOST:GUEST[:ro|rw][:symlinks=POLICY]`. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mount_spec.h"

/* One of the trailing fields: ro, rw or symlinks=POLICY; false if bad. */
static bool
apply_field(const char *f, size_t n, struct mount_share *m)
{
	static const char *const policies[] = { "deny", "opaque", "follow" };

	if (n == 2 && (strncmp(f, "ro", 2) == 0 || strncmp(f, "rw", 2) == 0)) {
		m->ro = f[1] == 'o';
		return true;
	}
	if (n > 9 && strncmp(f, "symlinks=", 9) == 0)
		for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
			if (n - 9 == strlen(policies[i]) && strncmp(f + 9, policies[i], n - 9) == 0) {
				strlcpy(m->symlinks, policies[i], sizeof(m->symlinks));
				return true;
			}
	return false;
}

static int
bad(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

/* HOST up to its first unescaped ':' ("\:" is a colon, "\\" a
 * backslash; an nfs:// URL's own colons, and a :PORT, are not separators); the
 * separator's position, or NULL when HOST is empty or too long. */
static const char *
take_host(const char *spec, char *host, size_t size)
{
	const char *p = spec;
	size_t n = 0;

	if (strncmp(spec, "nfs://", 6) == 0) {
		/* the URL's SERVER[:PORT] part, up to its first '/' */
		size_t server = 6 + strcspn(spec + 6, "/");

		if (server >= size)
			return NULL;
		memcpy(host, spec, server);
		n = server;
		p += server;
	}
	for (; *p != '\0' && *p != ':'; p++) {
		if (p[0] == '\\' && (p[1] == ':' || p[1] == '\\'))
			p++;
		if (n + 1 >= size)
			return NULL;
		host[n++] = *p;
	}
	host[n] = '\0';
	return n == 0 || *p != ':' ? NULL : p;
}

/* HOST resolved into m->host: an existing directory, or an nfs:// URL
 * (which fsbridge serve checks when it starts). */
static int
resolve_host(const char *host, struct mount_share *m, char *err, size_t errlen)
{
	struct stat st;

	if (strncmp(host, "nfs://", 6) == 0) {
		if (strlcpy(m->host, host, sizeof(m->host)) >= sizeof(m->host))
			return bad(err, errlen, "HOST URL too long");
		return 0;
	}
	if (realpath(host, m->host) == NULL || stat(m->host, &st) != 0) {
		snprintf(err, errlen, "%s: %s", host, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", host);
		return -ENOTDIR;
	}
	return 0;
}

int
mount_parse_spec(const char *spec, struct mount_share *m, char *err, size_t errlen)
{
	char host[4096];
	const char *c1, *g, *p;
	size_t glen;

	memset(m, 0, sizeof(*m));
	c1 = take_host(spec, host, sizeof(host));
	if (c1 == NULL)
		return bad(err, errlen, "expected HOST:GUEST[:ro|rw][:symlinks=deny|opaque|follow] "
		    "(write a ':' in HOST as '\\:')");
	g = c1 + 1;
	glen = strcspn(g, ":");
	if (glen == 0 || g[0] != '/')
		return bad(err, errlen, "GUEST must be an absolute path");
	while (glen > 1 && g[glen - 1] == '/')
		glen--;
	if (glen == 1 || glen >= sizeof(m->guest) || strstr(g, "/..") != NULL)
		return bad(err, errlen, "GUEST must be a directory below / without '..'");
	memcpy(m->guest, g, glen);
	for (p = g + strcspn(g, ":"); *p == ':';) {
		size_t n = strcspn(p + 1, ":");

		if (!apply_field(p + 1, n, m))
			return bad(err, errlen, "expected ro, rw or symlinks=deny|opaque|follow "
			    "after HOST:GUEST");
		p += 1 + n;
	}
	/* the guest is not trusted: it must not make links the server follows */
	if (!m->ro && strcmp(m->symlinks, "follow") == 0)
		return bad(err, errlen, "symlinks=follow needs :ro (on a writable share the guest "
		    "could make a link to / and have the server follow it)");
	return resolve_host(host, m, err, errlen);
}

void
mount_serve_opts(const struct mount_share *m, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s", m->ro ? "ro" : "",
	    m->ro && m->symlinks[0] ? "," : "", m->symlinks[0] ? "symlinks=" : "", m->symlinks);
}

void
mount_list_text(const struct mount_share *m, int n, char *out, size_t size)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char one[5200];

		snprintf(one, sizeof(one), "%s%s:%s:%s%s%s", i ? " " : "", m[i].host, m[i].guest,
		    m[i].ro ? "ro" : "rw", m[i].symlinks[0] ? ":symlinks=" : "", m[i].symlinks);
		strlcat(out, one, size);
	}
}
