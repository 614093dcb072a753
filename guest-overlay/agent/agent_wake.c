/*
 * agent_wake: the WAKE frame (contract/agent_proto.h).  A VM booted with
 * no share, or restored from a saved state (launch(1), "warm start"),
 * gets its shares hot-plugged just before it runs again; WAKE then sets
 * the clock (a restored guest's is the one of the save), reseeds the
 * kernel's RNG (every restore of one state starts from the same CRNG
 * state), waits until every hot-plugged virtio-fs device is bound (a
 * mount before that only fills the kernel log with "tag not found") and
 * mounts each share where fsbridge-init would have.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/contract/agent_proto.h"
#include "guest-overlay/contract/mkdir_p.h"

#define VIRTIOFS_DRIVER "/sys/bus/virtio/drivers/virtiofs"
#define BIND_WAIT_MS 60000   /* TCG under load: hot-plug takes seconds */

static void
set_clock(const unsigned char *p)
{
	struct timespec ts = {
		.tv_sec = (time_t)((uint64_t)ap_get32(p) | (uint64_t)ap_get32(p + 4) << 32),
		.tv_nsec = (long)ap_get32(p + 8),
	};

	if (ts.tv_nsec >= 1000000000L || clock_settime(CLOCK_REALTIME, &ts) != 0)
		agent_log("cannot set the clock: %s", strerror(errno));
}

static void
reseed(const unsigned char *seed, uint32_t n)
{
	struct {
		struct rand_pool_info info;
		unsigned char buf[AP_WAKE_SEED];
	} e;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

	if (n > AP_WAKE_SEED)
		n = AP_WAKE_SEED;
	e.info.entropy_count = (int)n * 8;
	e.info.buf_size = (int)n;
	memcpy(e.buf, seed, n);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &e.info) != 0 || ioctl(fd, RNDRESEEDCRNG) != 0)
		agent_log("cannot reseed the RNG: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* How many virtio-fs devices the driver has bound. */
static int
bound_devices(void)
{
	DIR *d = opendir(VIRTIOFS_DRIVER);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "virtio", 6) == 0)
			n++;
	closedir(d);
	return n;
}

static int
wait_bound(int want, char *err, size_t errlen)
{
	for (int ms = 0; bound_devices() < want; ms += 5) {
		if (ms >= BIND_WAIT_MS) {
			snprintf(err, errlen, "%d of %d virtio-fs devices after %d s", bound_devices(),
			    want, BIND_WAIT_MS / 1000);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
	return 0;
}

/* A device seen bound can still be unknown by its tag for a moment
 * (seen once in ten starts under load): EINVAL is retried for a while. */
static int
mount_retrying(const char *tag, const char *dir, unsigned long flags)
{
	for (int ms = 0;; ms += 20) {
		if (mount(tag, dir, "virtiofs", flags, NULL) == 0)
			return 0;
		if (errno != EINVAL || ms >= BIND_WAIT_MS / 6)
			return -1;
		usleep(20000);
	}
}

/* The share triples of a WAKE payload: count them, or mount them. */
static int
shares(const char *p, size_t len, bool do_mount, char *err, size_t errlen)
{
	const char *end = p + len;
	int n = 0;

	while (p < end) {
		const char *tag = p, *dir = tag + strlen(tag) + 1, *mode = dir + strlen(dir) + 1;
		int rc;

		if (mode >= end || dir[0] != '/' ||
		    (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)) {
			snprintf(err, errlen, "malformed WAKE share list");
			return -EINVAL;
		}
		p = mode + strlen(mode) + 1;
		n++;
		if (!do_mount)
			continue;
		if ((rc = mkdir_p(dir)) != 0) {
			snprintf(err, errlen, "mkdir %s: %s", dir, strerror(-rc));
			return rc;
		}
		if (mount_retrying(tag, dir, strcmp(mode, "ro") == 0 ? MS_RDONLY : 0) != 0) {
			rc = -errno;
			snprintf(err, errlen, "mount virtio-fs tag '%s' on %s: %s", tag, dir,
			    strerror(errno));
			return rc;
		}
	}
	return n;
}

void
agent_wake(const unsigned char *payload, size_t len)
{
	char err[512];
	uint32_t n;
	int count, rc;

	if (len < AP_WAKE_FIXED || (n = ap_get32(payload + 12)) > len - AP_WAKE_FIXED ||
	    (len > AP_WAKE_FIXED + n && payload[len - 1] != '\0')) {
		agent_send_error(0, "malformed WAKE");
		return;
	}
	set_clock(payload);
	reseed(payload + AP_WAKE_FIXED, n);
	payload += AP_WAKE_FIXED + n;
	len -= AP_WAKE_FIXED + n;
	count = shares((const char *)payload, len, false, err, sizeof(err));
	rc = count < 0 ? count : wait_bound(count, err, sizeof(err));
	if (rc == 0)
		rc = shares((const char *)payload, len, true, err, sizeof(err));
	if (rc < 0) {
		agent_log("wake: %s", err);
		agent_send_error(0, "guest shares: %s", err);
		return;
	}
	agent_log("woken: clock set, RNG reseeded, %d shares mounted", count);
}
