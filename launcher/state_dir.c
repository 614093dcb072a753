/* state_dir: where a VM's state lives, and reading/writing its small files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/contract/fdio.h"
#include "mount_spec.h"
#include "safe_dir.h"
#include "state_dir.h"

int
state_dir_resolve(const struct launch_opts *o, char *dir, size_t size)
{
	const char *env = getenv("FSBRIDGE_STATE_DIR");
	const char *name = o->name ? o->name : "default";
	char root[4096];
	int n;

	char cwd[4096];
	const char *given = o->state ? o->state : env != NULL && env[0] != '\0' ? env : NULL;

	if (given != NULL && given[0] != '/') {   /* the supervisor works in / */
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -errno;
		n = snprintf(dir, size, "%s/%s", cwd, given);
	} else if (given != NULL) {
		n = snprintf(dir, size, "%s", given);
	} else {
		int rc = state_dir_root(root, sizeof(root));

		if (rc != 0)
			return rc;
		n = snprintf(dir, size, "%s/%s", root, name);
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
state_dir_root(char *dir, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(dir, size, "/run/fsbridge/vm");
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, size, "%s/fsbridge/vm", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(dir, size, "%s/.local/state/fsbridge/vm", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
state_dir_create(const char *dir, char *why, size_t size)
{
	return safe_dir_create(dir, why, size);
}

int
state_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
state_read(const char *dir, const char *name, char *out, size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	int fd, rc = state_path(path, sizeof(path), dir, name);

	if (rc != 0)
		return rc;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (f == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (fgets(out, (int)size, f) == NULL)
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

int
state_write(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, rc = state_path(path, sizeof(path), dir, name);

	if (rc == 0 && snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		rc = -ENAMETOOLONG;
	if (rc != 0)
		return rc;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int
state_uint(const char *dir, const char *name, unsigned dflt, unsigned min,
    unsigned max, unsigned *out)
{
	char text[64], *end;
	unsigned long v;
	int rc = state_read(dir, name, text, sizeof(text));

	if (rc == -ENOENT) {
		snprintf(text, sizeof(text), "%u\n", dflt);
		rc = state_write(dir, name, text);
		*out = dflt;
		return rc;
	}
	if (rc != 0)
		return rc;
	errno = 0;
	v = strtoul(text, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

void
state_clean_stale(const char *dir)
{
	static const char *const stale[] = {
		ST_CTL_SOCK, ST_AGENT_SOCK, ST_ROOT_SOCK, ST_PROJ_SOCK, ST_CONSOLE_SOCK, ST_CONSOLE_LOCK, ST_PROJECT, ST_ROOT, ST_ACCEL,
		ST_VOLUMES, ST_NET, ST_MOUNTS, ST_QMP_SOCK, ST_RAM,
	};
	char path[PATH_MAX], sock[32];

	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++)
		if (state_path(path, sizeof(path), dir, stale[i]) == 0)
			unlink(path);
	for (int i = 0; i < MOUNT_MAX; i++) {
		snprintf(sock, sizeof(sock), MOUNT_SOCK_FMT, i);
		if (state_path(path, sizeof(path), dir, sock) == 0)
			unlink(path);
	}
}
