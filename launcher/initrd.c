/*
 * initrd: the cached guest image (fsbridge-init + fsbridge-agent +
 * modules, and the fsb_notify module built for the guest kernel when its
 * headers are there: guest-overlay/kmod/build.sh).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argvec.h"
#include "guest-overlay/contract/contract.h"
#include "initrd.h"
#include "locate.h"
#include "spawn.h"
#include "state_dir.h"

/* Beyond fsbridge-mkinitramfs's defaults: ext4 for volumes, virtio_net
 * for --net (part of the cache key, so a change rebuilds the image). */
static const char *const extra_modules[] = { "ext4", "virtio_net" };

/* The fsb_notify module's sources for the guest kernel: build.sh (""
 * when launch has none), the files it builds from, and the kernel
 * headers' Makefile (their presence decides). */
struct kmod_src {
	char build[4096];
	char version[256];
	char files[3][4200];
	char headers[4400];
};

static void
kmod_src_init(struct kmod_src *km, const char *build, const char *kernel)
{
	static const char *const names[] = { "Kbuild", "fsb_notify.c", "fsb_notify.h" };
	const char *base = strrchr(kernel, '/');
	char dir[4096];

	memset(km, 0, sizeof(*km));
	base = base != NULL ? base + 1 : kernel;
	if (build == NULL || build[0] == '\0' || strncmp(base, "vmlinuz-", 8) != 0 ||
	    strlcpy(km->version, base + 8, sizeof(km->version)) >= sizeof(km->version) ||
	    strlcpy(dir, build, sizeof(dir)) >= sizeof(dir))
		return;
	strlcpy(km->build, build, sizeof(km->build));
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		snprintf(km->files[i], sizeof(km->files[i]), "%s/%s", dir, names[i]);
	snprintf(km->headers, sizeof(km->headers), "/lib/modules/%s/build/Makefile",
	    km->version);
}

/* " path:size:mtime" appended to key (or ":missing"). */
static void
key_add(char *key, size_t size, const char *path)
{
	char part[4400];
	struct stat st;

	if (stat(path, &st) == 0)
		snprintf(part, sizeof(part), "%s:%lld:%lld.%09ld\n", path, (long long)st.st_size,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	else
		snprintf(part, sizeof(part), "%s:missing\n", path);
	strlcat(key, part, size);
}

/* init: the fsbridge-init the builder takes ("" if none: the build fails
 * and says why). */
static void
make_key(char *key, size_t size, const char *mki, const char *init, const char *agent,
    const char *kernel, const struct kmod_src *km)
{
	key[0] = '\0';
	key_add(key, size, mki);
	key_add(key, size, init);
	key_add(key, size, agent);
	key_add(key, size, kernel);
	if (km->build[0] != '\0') {
		key_add(key, size, km->build);
		for (size_t i = 0; i < sizeof(km->files) / sizeof(km->files[0]); i++)
			key_add(key, size, km->files[i]);
		key_add(key, size, km->headers);
	}
	strlcat(key, "modules:", size);
	for (size_t i = 0; i < sizeof(extra_modules) / sizeof(extra_modules[0]); i++) {
		strlcat(key, " ", size);
		strlcat(key, extra_modules[i], size);
	}
	strlcat(key, "\n", size);
}

/* The whole key file (several lines) equals key? */
static int
key_matches(const char *state, const char *key)
{
	char path[4096], old[30000];
	size_t n;
	FILE *f;

	if (state_path(path, sizeof(path), state, ST_INITRD_KEY) != 0)
		return 0;
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	n = fread(old, 1, sizeof(old) - 1, f);
	fclose(f);
	old[n] = '\0';
	return strcmp(old, key) == 0;
}

/* Builds fsb_notify into state/kmod; 0 with its path in ko, else -errno
 * with why in note (its build messages are in state/kmod/build.log). */
static int
build_kmod(const char *state, const struct kmod_src *km, char *ko, size_t size,
    char *note, size_t notelen)
{
	char dir[4096], errpath[4096], *argv[4];
	int fd, rc;

	if (km->build[0] == '\0') {
		snprintf(note, notelen, "fsb_notify's sources are not installed "
		    "(guest-overlay/kmod; reinstall fsbridge)");
		return -ENOENT;
	}
	if (state_path(dir, sizeof(dir), state, "kmod") != 0 ||
	    state_path(errpath, sizeof(errpath), state, "kmod.err") != 0)
		return -ENAMETOOLONG;
	argv[0] = (char *)km->build;
	argv[1] = (char *)km->version;
	argv[2] = dir;
	argv[3] = NULL;
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = run_capture(argv, fd, ko, size);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && ko[0] != '\0')
		return 0;
	if (state_read(state, "kmod.err", note, notelen) != 0 || note[0] == '\0')
		snprintf(note, notelen, "fsb_notify did not build for kernel %s", km->version);
	return rc != 0 ? rc : -EIO;
}

static int
build(const char *mki, const char *init, const char *agent, const char *kernel,
    const char *ko, const char *out, int err_fd)
{
	struct argvec a = { 0 };
	int rc;

	argvec_add(&a, mki);
	argvec_add(&a, "-q");
	if (init[0] != '\0') {
		/* the very file the key names */
		argvec_add(&a, "--init");
		argvec_add(&a, init);
	}
	argvec_add(&a, "--kernel");
	argvec_add(&a, kernel);
	for (size_t i = 0; i < sizeof(extra_modules) / sizeof(extra_modules[0]); i++) {
		argvec_add(&a, "-m");
		argvec_add(&a, extra_modules[i]);
	}
	if (ko[0] != '\0') {
		argvec_add(&a, "--add-module");
		argvec_add(&a, ko);
	}
	argvec_add(&a, "-a");
	argvec_addf(&a, "%s:" FSB_GUEST_AGENT, agent);
	argvec_add(&a, "-o");
	argvec_add(&a, out);
	rc = a.err ? a.err : run_capture(a.v, err_fd, NULL, 0);
	argvec_free(&a);
	return rc;
}

/* The builder's stderr goes to state/initrd.err; its first line to err. */
static int
build_logged(const char *state, const char *mki, const char *init, const char *agent,
    const char *kernel, const char *ko, const char *out, char *err, size_t errlen)
{
	char path[4096];
	int fd, rc;

	state_path(path, sizeof(path), state, ST_INITRD_ERR);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = build(mki, init, agent, kernel, ko, out, fd);
	if (fd >= 0)
		close(fd);
	err[0] = '\0';
	if (rc != 0 && state_read(state, ST_INITRD_ERR, err, errlen) != 0)
		err[0] = '\0';
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(-rc));
	return rc;
}

int
initrd_ensure(const char *state, const char *mkinitramfs, const char *agent,
    const char *kernel, const char *kmod_build, char *out, size_t size,
    char *err, size_t errlen, char *note, size_t notelen)
{
	char key[30000], keypath[4096], init[4096], ko[4096] = "";
	struct kmod_src km;
	int rc = state_path(out, size, state, ST_INITRD);

	note[0] = '\0';
	if (rc != 0)
		return rc;
	if (locate_init(mkinitramfs, init, sizeof(init)) != 0)
		init[0] = '\0';
	kmod_src_init(&km, kmod_build, kernel);
	make_key(key, sizeof(key), mkinitramfs, init, agent, kernel, &km);
	if (access(out, R_OK) == 0 && key_matches(state, key))
		return 0;
	state_path(keypath, sizeof(keypath), state, ST_INITRD_KEY);
	unlink(keypath);
	if (build_kmod(state, &km, ko, sizeof(ko), note, notelen) != 0)
		ko[0] = '\0';
	rc = build_logged(state, mkinitramfs, init, agent, kernel, ko, out, err, errlen);
	if (rc == 0)
		rc = state_write(state, ST_INITRD_KEY, key);
	return rc;
}
