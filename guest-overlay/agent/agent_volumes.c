/*
 * agent_volumes: mounts the launch volumes in the new root.  The host
 * attaches each volume as a virtio-blk disk whose serial is the volume's
 * name; the disk is /dev/vdX where /sys/block/vdX/serial holds it.
 * An entry whose name is a path (launch --mount) is a share that
 * fsbridge-init mounted there: it is bound at its mount point.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/contract/mkdir_p.h"

#define DISK_WAIT_STEPS 100       /* x 50 ms */

/* /dev/vdX whose serial is name into dev; -ENOENT. */
static int
find_disk(const char *name, char *dev, size_t size)
{
	struct dirent *e;
	DIR *d = opendir("/sys/block");
	int rc = -ENOENT;

	while (d != NULL && rc != 0 && (e = readdir(d)) != NULL) {
		char path[512], serial[64] = "";
		ssize_t n;
		int fd;

		if (strncmp(e->d_name, "vd", 2) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, serial, sizeof(serial) - 1);
		close(fd);
		serial[n > 0 ? n : 0] = '\0';
		serial[strcspn(serial, "\n")] = '\0';
		if (strcmp(serial, name) == 0) {
			snprintf(dev, size, "/dev/%s", e->d_name);
			rc = 0;
		}
	}
	if (d != NULL)
		closedir(d);
	return rc;
}

static int
mount_volume(const char *name, const char *guest, char *err, size_t errlen)
{
	char dev[300], dir[4096];
	int rc = -ENOENT;

	for (int i = 0; i < DISK_WAIT_STEPS && rc != 0; i++) {
		rc = find_disk(name, dev, sizeof(dev));
		if (rc == 0 && access(dev, F_OK) != 0)
			rc = -ENOENT;
		if (rc != 0)
			usleep(50000);
	}
	if (rc != 0) {
		snprintf(err, errlen, "volume %s: no disk with that serial", name);
		return rc;
	}
	if (snprintf(dir, sizeof(dir), "%s%s", AGENT_NEW_ROOT, guest) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "volume %s: path too long", name);
		return -ENAMETOOLONG;
	}
	rc = mkdir_p(dir);
	if (rc == 0 && mount(dev, dir, "ext4", MS_NOATIME, NULL) != 0)
		rc = -errno;
	if (rc != 0)
		snprintf(err, errlen, "volume %s (%s) on %s: %s", name, dev, guest, strerror(-rc));
	return rc;
}

/* Binds the share mounted at src (a --mount) at guest in the new root. */
static int
bind_share(const char *src, const char *guest, char *err, size_t errlen)
{
	char dir[4096];
	int rc;

	if (snprintf(dir, sizeof(dir), "%s%s", AGENT_NEW_ROOT, guest) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "mount %s: path too long", guest);
		return -ENAMETOOLONG;
	}
	rc = mkdir_p(dir);
	if (rc == 0 && mount(src, dir, NULL, MS_BIND, NULL) != 0)
		rc = -errno;
	if (rc != 0)
		snprintf(err, errlen, "mount %s on %s: %s", src, guest, strerror(-rc));
	return rc;
}

int
agent_volumes_mount(const char *list, size_t len, char *err, size_t errlen)
{
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *name = p, *guest = p + strlen(p) + 1;
		int rc;

		if (guest >= end || guest[0] != '/') {
			snprintf(err, errlen, "malformed volume list");
			return -EINVAL;
		}
		if (name[0] == '/')
			rc = bind_share(name, guest, err, errlen);
		else
			rc = mount_volume(name, guest, err, errlen);
		if (rc != 0)
			return rc;
		agent_log("%s %s mounted on %s", name[0] == '/' ? "share" : "volume", name, guest);
		p = guest + strlen(guest) + 1;
	}
	return 0;
}
