/* locate: finding QEMU, the kernel, our helper programs and the project dir.
 * Installed helpers are found also when the whole tree was installed under
 * another prefix than the configured one (guest-overlay/image/relocate.h). */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "guest-overlay/image/relocate.h"
#include "locate.h"
#include "spawn.h"

static int
copy_path(char *out, size_t size, const char *path)
{
	return strlcpy(out, path, size) >= size ? -ENAMETOOLONG : 0;
}

static int
is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int
locate_tool(const char *env, const char *build_rel, const char *installed,
    char *out, size_t size)
{
	const char *v = env ? getenv(env) : NULL;
	char self[4096], cand[8300], moved[4096];
	ssize_t n;

	if (v != NULL && v[0] != '\0')
		return is_executable(v) ? copy_path(out, size, v) : -ENOENT;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (relocate(self, FSB_BINDIR, installed, moved, sizeof(moved)) != 0)
			moved[0] = '\0';
		snprintf(cand, sizeof(cand), "%s/../%s", dirname(self), build_rel);
		if (is_executable(cand))
			return realpath(cand, out) && strlen(out) < size ? 0 : -ENAMETOOLONG;
		if (moved[0] != '\0' && is_executable(moved))
			return realpath(moved, out) && strlen(out) < size ? 0 : -ENAMETOOLONG;
	}
	return is_executable(installed) ? copy_path(out, size, installed) : -ENOENT;
}

int
locate_init(const char *mkinitramfs, char *out, size_t size)
{
	char *argv[] = { (char *)mkinitramfs, "--print-init", NULL };
	int rc = run_capture(argv, -1, out, size);

	if (rc == 0 && out[0] == '\0')
		rc = -ENOENT;
	if (rc == 0 && !is_executable(out))
		rc = -ENOENT;
	return rc == -EIO ? -ENOENT : rc;
}

/* name searched on PATH when it has no slash. */
static int
search_path(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int rc = -ENOENT;

	if (strchr(name, '/') != NULL) {
		if (!is_executable(name))
			return -ENOENT;
		return realpath(name, out) && strlen(out) < size ? 0 : -ENAMETOOLONG;
	}
	copy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (copy == NULL)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char cand[4096];

		if (snprintf(cand, sizeof(cand), "%s/%s", dir, name) < (int)sizeof(cand) &&
		    is_executable(cand)) {
			rc = copy_path(out, size, cand);
			break;
		}
	}
	free(copy);
	return rc;
}

int
locate_qemu(const char *opt, char *out, size_t size)
{
	const char *env = getenv("FSBRIDGE_QEMU");
	char name[128];
	struct utsname u;

	if (opt != NULL)
		return search_path(opt, out, size);
	if (env != NULL && env[0] != '\0')
		return search_path(env, out, size);
	if (uname(&u) != 0)
		return -errno;
	snprintf(name, sizeof(name), "qemu-system-%s", u.machine);
	return search_path(name, out, size);
}

int
locate_passt(char *out, size_t size)
{
	const char *v = getenv("FSBRIDGE_PASST");

	return search_path(v != NULL && v[0] != '\0' ? v : "passt", out, size);
}

int
locate_kernel(const char *opt, const char *mkinitramfs, char *out, size_t size)
{
	char *argv[] = { (char *)mkinitramfs, "--print-kernel", NULL };
	struct stat st;
	int rc;

	if (opt != NULL) {
		if (stat(opt, &st) != 0)
			return -errno;
		return realpath(opt, out) && strlen(out) < size ? 0 : -ENAMETOOLONG;
	}
	rc = run_capture(argv, -1, out, size);
	if (rc == 0 && out[0] == '\0')
		rc = -ENOENT;
	return rc == -EIO ? -ENOENT : rc;
}

int
locate_kernel_readable(const char *kernel, char *fix, size_t size)
{
	struct stat st;

	if (access(kernel, R_OK) == 0)
		return 0;
	if (errno != EACCES || stat(kernel, &st) != 0) {
		snprintf(fix, size, "%s", strerror(errno));
		return -errno;
	}
	/* Debian and Ubuntu may install /boot/vmlinuz-* as 0600 root */
	snprintf(fix, size, "not readable by you (mode %04o, owner uid %u); as root, "
	    "chmod 0644 %s (a kernel update installs the next one the same way), or give "
	    "--kernel a readable copy keeping its name vmlinuz-VERSION", (unsigned)(st.st_mode & 07777),
	    (unsigned)st.st_uid, kernel);
	return -EACCES;
}

/* dir marks a project: it holds a .git of the user's, and is itself the
 * user's and not sticky.  A .git that another user planted (in /tmp, or
 * in any directory of theirs) must not widen the read-write share. */
static int
has_git(const char *dir)
{
	char p[4200];
	struct stat st, dst;
	uid_t me = geteuid();

	snprintf(p, sizeof(p), "%s/.git", strcmp(dir, "/") ? dir : "");
	return lstat(p, &st) == 0 && st.st_uid == me &&
	    lstat(dir, &dst) == 0 && S_ISDIR(dst.st_mode) && dst.st_uid == me &&
	    !(dst.st_mode & S_ISVTX);
}

/* path made absolute and resolved into dir (PATH_MAX bytes), which must
 * be a directory (-ENOTDIR); -errno. */
static int
resolve_dir(const char *path, char *dir)
{
	struct stat st;

	if (realpath(path, dir) == NULL)
		return -errno;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return 0;
}

int
locate_project(const char *opt, char *out, size_t size)
{
	char cwd[PATH_MAX], probe[PATH_MAX];

	if (opt != NULL) {
		int rc = resolve_dir(opt, cwd);

		if (rc != 0)
			return rc;
	} else if (getcwd(cwd, sizeof(cwd)) == NULL) {
		return -errno;
	}
	strlcpy(probe, cwd, sizeof(probe));
	if (opt == NULL) {
		while (strcmp(probe, "/") != 0 && !has_git(probe)) {
			char up[4096];

			strlcpy(up, probe, sizeof(up));
			strlcpy(probe, dirname(up), sizeof(probe));
		}
		if (strcmp(probe, "/") == 0)
			strlcpy(probe, cwd, sizeof(probe));
	}
	if (strcmp(probe, "/") == 0)
		return -EINVAL;
	return copy_path(out, size, probe);
}

int
locate_root(const char *opt, char *out, size_t size)
{
	char path[PATH_MAX];
	int rc;

	if (opt == NULL)
		return copy_path(out, size, "/");
	rc = resolve_dir(opt, path);
	return rc != 0 ? rc : copy_path(out, size, path);
}
