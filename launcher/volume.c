/* volume: naming, sizing, creating and formatting volume images. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argvec.h"
#include "spawn.h"
#include "state_dir.h"
#include "volume.h"

#define EXT4_MAGIC_OFFSET 1080   /* superblock at 1024, s_magic at +56 */

int
volume_dir(char *out, size_t size, char *why, size_t whylen)
{
	const char *env = getenv("FSBRIDGE_VOLUME_DIR"), *xdg = getenv("XDG_STATE_HOME"),
	    *home = getenv("HOME");
	int n;

	if (env != NULL && env[0] != '\0')
		n = snprintf(out, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(out, size, "/run/fsbridge/volumes");
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, size, "%s/fsbridge/volumes", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, size, "%s/.local/state/fsbridge/volumes", home);
	else {
		snprintf(why, whylen, "no HOME (set FSBRIDGE_VOLUME_DIR)");
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= size) {
		snprintf(why, whylen, "path too long");
		return -ENAMETOOLONG;
	}
	return state_dir_create(out, why, whylen);
}

int
volume_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > VOLUME_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && strchr("_.-", name[i]) == NULL)
			return -EINVAL;
	return 0;
}

int
volume_parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end != '\0' || v == 0 || v > (ULLONG_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int
volume_image(char *out, size_t size, const char *name, char *why, size_t whylen)
{
	char dir[4096];
	int rc = volume_name_valid(name);

	if (rc != 0)
		snprintf(why, whylen, "bad volume name (1-%d of letters, digits, _ . -)",
		    VOLUME_NAME_MAX);
	if (rc == 0)
		rc = volume_dir(dir, sizeof(dir), why, whylen);
	if (rc == 0 && (size_t)snprintf(out, size, "%s/%s.img", dir, name) >= size)
		rc = -ENAMETOOLONG;
	return rc;
}

int
volume_parse_spec(const char *spec, struct volume_attach *v, char *err, size_t errlen)
{
	const char *c1 = strchr(spec, ':'), *c2;
	size_t nlen, glen;

	memset(v, 0, sizeof(*v));
	if (c1 == NULL) {
		snprintf(err, errlen, "expected NAME:GUEST[:SIZE]");
		return -EINVAL;
	}
	c2 = strchr(c1 + 1, ':');
	nlen = (size_t)(c1 - spec);
	glen = c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (nlen > VOLUME_NAME_MAX) {
		snprintf(err, errlen, "the name is longer than %d characters", VOLUME_NAME_MAX);
		return -EINVAL;
	}
	memcpy(v->name, spec, nlen);
	if (volume_name_valid(v->name) != 0) {
		snprintf(err, errlen, "bad volume name (letters, digits, _ . -)");
		return -EINVAL;
	}
	if (glen < 2 || glen >= sizeof(v->guest) || c1[1] != '/') {
		snprintf(err, errlen, "GUEST must be an absolute path other than /");
		return -EINVAL;
	}
	memcpy(v->guest, c1 + 1, glen);
	if (strpbrk(v->guest, " \t\n") != NULL || strstr(v->guest, "/..") != NULL) {
		snprintf(err, errlen, "GUEST must not hold blanks or '..'");
		return -EINVAL;
	}
	if (c2 != NULL && volume_parse_size(c2 + 1, &v->size) != 0) {
		snprintf(err, errlen, "bad SIZE '%s' (e.g. 10G, 512M)", c2 + 1);
		return -EINVAL;
	}
	return 0;
}

int
volume_create(const char *image, uint64_t size)
{
	int fd = open(image, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		unlink(image);
	return rc;
}

/* 0 when image is a regular file of ours (mkfs.ext4 -F may format it),
 * not a symlink, a device or somebody else's file; -errno. */
static int
is_own_file(const char *image)
{
	struct stat st;

	if (lstat(image, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return st.st_uid == geteuid() ? 0 : -EPERM;
}

/* 1 when the image holds an ext2/3/4 superblock, 0 if not, -errno. */
static int
has_ext4(const char *image)
{
	unsigned char m[2];
	int fd = open(image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, m, 2, EXT4_MAGIC_OFFSET);
	close(fd);
	return n == 2 && m[0] == 0x53 && m[1] == 0xef;
}

static int
mkfs(const char *image, const char *name)
{
	static const char *const tools[] = { "/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4" };
	struct argvec a = { 0 };
	const char *tool = "mkfs.ext4";
	int rc;

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (access(tools[i], X_OK) == 0)
			tool = tools[i];
	if (tool[0] != '/')
		return -ENOENT;
	argvec_add(&a, tool);
	argvec_add(&a, "-q");
	argvec_add(&a, "-F");
	argvec_add(&a, "-L");
	argvec_add(&a, name);
	argvec_add(&a, "-E");
	argvec_addf(&a, "root_owner=%u:%u", (unsigned)getuid(), (unsigned)getgid());
	argvec_add(&a, image);
	rc = a.err ? a.err : run_capture(a.v, -1, NULL, 0);
	argvec_free(&a);
	return rc;
}

int
volume_prepare(const struct volume_attach *v, char *err, size_t errlen)
{
	int rc = volume_create(v->image, v->size ? v->size : VOLUME_DEFAULT_SIZE);

	if (rc != 0 && rc != -EEXIST) {
		snprintf(err, errlen, "%s: %s", v->image, strerror(-rc));
		return rc;
	}
	if (volume_busy(v->image) == 1) {
		snprintf(err, errlen, "in use by another running VM (halt it first)");
		return -EBUSY;
	}
	rc = is_own_file(v->image);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", v->image, rc == -EINVAL ? "not a regular file "
		    "(refusing to format it)" : rc == -EPERM ? "not your file (refusing to "
		    "format it)" : strerror(-rc));
		return rc;
	}
	rc = has_ext4(v->image);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", v->image, strerror(-rc));
		return rc;
	}
	if (rc == 1)
		return 0;
	rc = mkfs(v->image, v->name);
	if (rc != 0)
		snprintf(err, errlen, "mkfs.ext4 %s: %s", v->image, rc == -ENOENT ?
		    "mkfs.ext4 not found (install e2fsprogs)" : "failed");
	return rc;
}

void
volume_list_text(const struct volume_attach *v, int n, char *out, size_t size)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strlcat(out, " ", size);
		strlcat(out, v[i].name, size);
		strlcat(out, ":", size);
		strlcat(out, v[i].guest, size);
	}
}

int
volume_lock(const char *image)
{
	int fd = open(image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return fd;
	rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	close(fd);
	return rc;
}

int
volume_busy(const char *image)
{
	int fd = open(image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		rc = errno == EWOULDBLOCK ? 1 : -errno;
	close(fd);
	return rc;
}
