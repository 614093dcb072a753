/*
 * agent_root: the guest's root as the host's.  The read-only host root
 * share is the lower layer of an overlay whose upper is a tmpfs (writes
 * outside the project are allowed and vanish at halt); the read-write
 * project share is bound at its host path; /proc, /sys, /dev, /dev/pts,
 * /dev/shm and /run are fresh; the volumes are mounted (agent_volumes.c).  Then the agent chroots into it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/contract/contract.h"
#include "guest-overlay/contract/mkdir_p.h"

/* mkdir -p dir, then mount; -errno with the step in err. */
static int
mount_at(const char *src, const char *dir, const char *type, unsigned long flags,
    const char *data, char *err, size_t errlen)
{
	int rc = mkdir_p(dir);

	if (rc != 0) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (mount(src, dir, type, flags, data) != 0) {
		rc = -errno;
		snprintf(err, errlen, "mount %s on %s: %s", type ? type : src, dir,
		    strerror(errno));
		return rc;
	}
	return 0;
}

int
agent_overlay_mount(const char *base, const char *target, char *err, size_t errlen)
{
	char upper[4096], work[4096], opts[8400];
	int rc;

	if (snprintf(upper, sizeof(upper), "%s/upper", base) >= (int)sizeof(upper) ||
	    snprintf(work, sizeof(work), "%s/work", base) >= (int)sizeof(work) ||
	    snprintf(opts, sizeof(opts), "lowerdir=" FSB_GUEST_ROOT_SHARE ",upperdir=%s,workdir=%s",
	    upper, work) >= (int)sizeof(opts)) {
		snprintf(err, errlen, "%s: path too long", base);
		return -ENAMETOOLONG;
	}
	err[0] = '\0';
	rc = mount_at("tmpfs", base, "tmpfs", 0, "mode=0755", err, errlen);
	if (rc == 0)
		rc = mkdir_p(upper);
	if (rc == 0)
		rc = mkdir_p(work);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "overlay upper: %s", strerror(-rc));
	if (rc == 0)
		rc = mount_at("overlay", target, "overlay", 0, opts, err, errlen);
	return rc;
}

static int
bind_project(const char *project, char *err, size_t errlen)
{
	char dir[4096];

	if (project[0] != '/' || strcmp(project, "/") == 0) {
		snprintf(err, errlen, "bad project directory '%s'", project);
		return -EINVAL;
	}
	if (snprintf(dir, sizeof(dir), "%s%s", AGENT_NEW_ROOT, project) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "project path too long");
		return -ENAMETOOLONG;
	}
	return mount_at(FSB_GUEST_PROJ_SHARE, dir, NULL, MS_BIND, NULL, err, errlen);
}

static int
mount_api_filesystems(char *err, size_t errlen)
{
	static const struct {
		const char *type, *dir, *data;
		unsigned long flags;
	} fs[] = {
		{ "proc", AGENT_NEW_ROOT "/proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "sysfs", AGENT_NEW_ROOT "/sys", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "devtmpfs", AGENT_NEW_ROOT "/dev", NULL, MS_NOSUID },
		{ "devpts", AGENT_NEW_ROOT "/dev/pts", "gid=5,mode=620,ptmxmode=666", MS_NOSUID | MS_NOEXEC },
		{ "tmpfs", AGENT_NEW_ROOT "/dev/shm", "mode=1777", MS_NOSUID | MS_NODEV },
		/* the guest's own /run: the host's is hidden (launch(1)) */
		{ "tmpfs", AGENT_NEW_ROOT "/run", "mode=0755", MS_NOSUID | MS_NODEV },
	};

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		int rc = mount_at(fs[i].type, fs[i].dir, fs[i].type, fs[i].flags,
		    fs[i].data, err, errlen);

		if (rc != 0)
			return rc;
	}
	return 0;
}

int
agent_root_assemble(const char *project, const char *vols, size_t vlen,
    char *err, size_t errlen)
{
	int rc;

	err[0] = '\0';
	rc = agent_overlay_mount(AGENT_UPPER_DIR, AGENT_NEW_ROOT, err, errlen);
	if (rc == 0)
		rc = bind_project(project, err, errlen);
	if (rc == 0)
		rc = agent_volumes_mount(vols, vlen, err, errlen);
	if (rc == 0)
		rc = mount_api_filesystems(err, errlen);
	if (rc == 0 && (rc = agent_isolate_keep_root()) != 0)
		snprintf(err, errlen, "open /: %s", strerror(-rc));
	if (rc != 0)
		return rc;
	if (chroot(AGENT_NEW_ROOT) != 0 || chdir("/") != 0) {
		rc = -errno;
		snprintf(err, errlen, "chroot %s: %s", AGENT_NEW_ROOT, strerror(errno));
		return rc;
	}
	return 0;
}
