/* initrd: the cached guest image (fsbridge-init + fsbridge-agent + modules). */
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
    const char *kernel)
{
	key[0] = '\0';
	key_add(key, size, mki);
	key_add(key, size, init);
	key_add(key, size, agent);
	key_add(key, size, kernel);
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
	char path[4096], old[20000];
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

static int
build(const char *mki, const char *init, const char *agent, const char *kernel,
    const char *out, int err_fd)
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
    const char *kernel, const char *out, char *err, size_t errlen)
{
	char path[4096];
	int fd, rc;

	state_path(path, sizeof(path), state, ST_INITRD_ERR);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = build(mki, init, agent, kernel, out, fd);
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
    const char *kernel, char *out, size_t size, char *err, size_t errlen)
{
	char key[20000], keypath[4096], init[4096];
	int rc = state_path(out, size, state, ST_INITRD);

	if (rc != 0)
		return rc;
	if (locate_init(mkinitramfs, init, sizeof(init)) != 0)
		init[0] = '\0';
	make_key(key, sizeof(key), mkinitramfs, init, agent, kernel);
	if (access(out, R_OK) == 0 && key_matches(state, key))
		return 0;
	state_path(keypath, sizeof(keypath), state, ST_INITRD_KEY);
	unlink(keypath);
	rc = build_logged(state, mkinitramfs, init, agent, kernel, out, err, errlen);
	if (rc == 0)
		rc = state_write(state, ST_INITRD_KEY, key);
	return rc;
}
