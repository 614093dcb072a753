/*
 * kernel: find the guest kernel's version, image and modules directory.
 * "Newest" compares versions the way ls -v does (strverscmp).  A modules
 * directory may also be given (a kernel built and installed elsewhere,
 * e.g. make modules_install INSTALL_MOD_PATH=...).
 */
#include "config.h"

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/image/kernel.h"

#define VMLINUZ "vmlinuz-"

static char *
path_of(const char *dir, const char *prefix, const char *version)
{
	char *p;

	if (asprintf(&p, "%s/%s%s", dir, prefix, version) < 0)
		return NULL;
	return p;
}

static bool
has_modules_dep(const char *dir)
{
	char *dep;
	bool ok;

	if (asprintf(&dep, "%s/modules.dep", dir) < 0)
		return false;
	ok = access(dep, R_OK) == 0;
	free(dep);
	return ok;
}

static bool
has_modules(const char *version)
{
	char *dir = path_of(KERNEL_MODULES_DIR, "", version);
	bool ok = dir != NULL && has_modules_dep(dir);

	free(dir);
	return ok;
}

static bool
valid_version(const char *v)
{
	return v[0] != '\0' && v[0] != '.' && strchr(v, '/') == NULL;
}

/* The newest VERSION with both /boot/vmlinuz-VERSION and its modules. */
static char *
newest_version(void)
{
	DIR *d = opendir(KERNEL_BOOT_DIR);
	struct dirent *e;
	char *best = NULL;

	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		const char *v = e->d_name + strlen(VMLINUZ);

		if (strncmp(e->d_name, VMLINUZ, strlen(VMLINUZ)) != 0 ||
		    !valid_version(v) || !has_modules(v))
			continue;
		if (best == NULL || strverscmp(v, best) > 0) {
			free(best);
			if ((best = strdup(v)) == NULL)
				break;
		}
	}
	closedir(d);
	return best;
}

/* "/boot/vmlinuz-6.1.0-56-cloud-amd64" gives "6.1.0-56-cloud-amd64";
 * ".../lib/modules/6.1.0-56-cloud-amd64" with no prefix gives the same. */
static char *
version_from_name(const char *path, const char *prefix)
{
	char *copy = strdup(path), *base, *v = NULL;

	if (copy == NULL)
		return NULL;
	base = basename(copy);
	if (strncmp(base, prefix, strlen(prefix)) == 0 &&
	    valid_version(base + strlen(prefix)))
		v = strdup(base + strlen(prefix));
	free(copy);
	return v;
}

static int
pick_version(const struct kernel_request *req, struct kernel *k)
{
	if (req->version != NULL) {
		if (!valid_version(req->version)) {
			warnx("not a kernel version: '%s'", req->version);
			return -EINVAL;
		}
		k->version = strdup(req->version);
	} else if (req->image != NULL) {
		k->version = version_from_name(req->image, VMLINUZ);
		if (k->version == NULL) {
			warnx("cannot tell the kernel version from the name %s "
			    "(expected vmlinuz-VERSION); give it with -k", req->image);
			return -EINVAL;
		}
	} else if (req->moddir != NULL) {
		k->version = version_from_name(req->moddir, "");
		if (k->version == NULL) {
			warnx("cannot tell the kernel version from %s; give it "
			    "with -k", req->moddir);
			return -EINVAL;
		}
	} else if ((k->version = newest_version()) == NULL) {
		warnx("no kernel found: no %s/%sVERSION with %s/VERSION/"
		    "modules.dep (on Debian: apt-get install "
		    "linux-image-cloud-amd64)", KERNEL_BOOT_DIR, VMLINUZ,
		    KERNEL_MODULES_DIR);
		return -ENOENT;
	}
	return k->version ? 0 : -ENOMEM;
}

/* The given image (which must be readable), else /boot/vmlinuz-VERSION
 * if it exists, else none. */
static int
pick_image(const struct kernel_request *req, struct kernel *k)
{
	if (req->image != NULL) {
		if (access(req->image, R_OK) != 0) {
			int rc = -errno;

			warn("kernel image %s", req->image);
			return rc;
		}
		k->image = strdup(req->image);
		return k->image ? 0 : -ENOMEM;
	}
	k->image = path_of(KERNEL_BOOT_DIR, VMLINUZ, k->version);
	if (k->image == NULL)
		return -ENOMEM;
	if (access(k->image, F_OK) != 0) {
		free(k->image);
		k->image = NULL;
	}
	return 0;
}

static int
pick_modules_dir(const struct kernel_request *req, struct kernel *k)
{
	if (req->moddir != NULL)
		k->modules_dir = strdup(req->moddir);
	else
		k->modules_dir = path_of(KERNEL_MODULES_DIR, "", k->version);
	if (k->modules_dir == NULL)
		return -ENOMEM;
	if (!has_modules_dep(k->modules_dir)) {
		warnx("no modules for kernel %s: %s/modules.dep is missing",
		    k->version, k->modules_dir);
		return -ENOENT;
	}
	return 0;
}

int
kernel_pick(const struct kernel_request *req, struct kernel *k)
{
	int rc;

	memset(k, 0, sizeof(*k));
	rc = pick_version(req, k);
	if (rc == 0)
		rc = pick_image(req, k);
	if (rc == 0)
		rc = pick_modules_dir(req, k);
	if (rc != 0)
		kernel_free(k);
	return rc;
}

void
kernel_free(struct kernel *k)
{
	free(k->version);
	free(k->image);
	free(k->modules_dir);
	memset(k, 0, sizeof(*k));
}
