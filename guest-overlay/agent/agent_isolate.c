/*
 * agent_isolate: launch --isolated, a fresh overlay for one command.
 *
 * The shared guest root (agent_root.c) is an overlay whose tmpfs upper
 * lives as long as the VM: whatever one command writes outside the
 * project stays for the next.  An isolated command instead gets, in a
 * mount namespace of its own, a second overlay of the same read-only host
 * root on a new tmpfs, with every mount of the shared root (project,
 * --mount shares, volumes, /proc, /sys, /dev...) bound at the same place.
 * Writes to the project and the volumes still reach them; every other
 * write lands in that tmpfs, which the kernel frees when the namespace's
 * last process exits.
 *
 * The agent keeps a descriptor of the initramfs root (taken before its
 * chroot) so that the command's child can step back out of the shared
 * root to build its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/contract/mkdir_p.h"

#define ISO_DIR "/fsb/iso"
#define ISO_ROOT ISO_DIR "/root"

static int outer_root_fd = -1;

int
agent_outer_root_fd(void)
{
	return outer_root_fd;
}

int
agent_isolate_keep_root(void)
{
	outer_root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return outer_root_fd < 0 ? -errno : 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Binds one mount of the shared root at the same place in ours. */
static int
bind_one(const char *mountpoint, char *err, size_t errlen)
{
	static const char prefix[] = AGENT_NEW_ROOT "/";
	char target[4096];
	struct stat st;

	if (snprintf(target, sizeof(target), ISO_ROOT "/%s",
	    mountpoint + sizeof(prefix) - 1) >= (int)sizeof(target))
		return -ENAMETOOLONG;
	if (stat(mountpoint, &st) != 0) {
		snprintf(err, errlen, "%s: %s", mountpoint, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		int rc = mkdir_p(target);

		if (rc != 0) {
			snprintf(err, errlen, "mkdir %s: %s", target, strerror(-rc));
			return rc;
		}
	}
	if (mount(mountpoint, target, NULL, MS_BIND, NULL) != 0) {
		snprintf(err, errlen, "bind %s: %s", mountpoint, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Every mount strictly below the shared root, in mount order (parents
 * before children), bound under ours. */
static int
bind_submounts(char *err, size_t errlen)
{
	static const char prefix[] = AGENT_NEW_ROOT "/";
	char line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "/proc/self/mountinfo: %s", strerror(errno));
		return -errno;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *field = line, *mountpoint = NULL;

		/* id parent major:minor root MOUNTPOINT ... */
		for (int i = 0; i < 5 && field != NULL; i++) {
			mountpoint = strsep(&field, " ");
		}
		if (field == NULL || mountpoint == NULL)
			continue;
		unescape_octal(mountpoint);
		if (strncmp(mountpoint, prefix, sizeof(prefix) - 1) == 0)
			rc = bind_one(mountpoint, err, errlen);
	}
	fclose(f);
	return rc;
}

int
agent_isolate_enter(char *err, size_t errlen)
{
	int rc;

	err[0] = '\0';
	if (outer_root_fd < 0) {
		snprintf(err, errlen, "the agent lost its root");
		return -EBADF;
	}
	/* back to the initramfs root first: unshare() then moves our root
	 * and working directory into the new namespace's copy of it */
	if (fchdir(outer_root_fd) != 0 || chroot(".") != 0 || unshare(CLONE_NEWNS) != 0) {
		snprintf(err, errlen, "new mount namespace: %s", strerror(errno));
		return -errno;
	}
	/* nothing we mount from here on is seen by the agent or other commands */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(err, errlen, "private mounts: %s", strerror(errno));
		return -errno;
	}
	rc = agent_overlay_mount(ISO_DIR, ISO_ROOT, err, errlen);
	if (rc == 0)
		rc = bind_submounts(err, errlen);
	if (rc != 0)
		return rc;
	if (chroot(ISO_ROOT) != 0 || chdir("/") != 0) {
		snprintf(err, errlen, "chroot " ISO_ROOT ": %s", strerror(errno));
		return -errno;
	}
	return 0;
}
