/*
 * mkdir_p: mkdir -p of an absolute path.  libc only: fsbridge-init (the
 * share mount points) and fsbridge-agent (the new root, volumes,
 * --isolated) link the same file.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "guest-overlay/contract/mkdir_p.h"

int
mkdir_p(const char *path)
{
	char buf[4096];
	char *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = strchr(buf + 1, '/');; p = strchr(p + 1, '/')) {
		if (p != NULL)
			*p = '\0';
		if (buf[0] != '\0' && mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		if (p == NULL)
			return 0;
		*p = '/';
	}
}
