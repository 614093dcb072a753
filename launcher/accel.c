/* accel: choosing KVM or TCG, and remembering a KVM that cannot run guests. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel.h"
#include "state_dir.h"

bool
accel_valid(const char *name)
{
	return strcmp(name, "kvm") == 0 || strcmp(name, "tcg") == 0 || strcmp(name, "auto") == 0;
}

bool
accel_kvm_usable(char *why, size_t size)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), v;

	if (fd < 0) {
		snprintf(why, size, "/dev/kvm: %s", strerror(errno));
		return false;
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (v != KVM_API_VERSION) {
		snprintf(why, size, "/dev/kvm: API version %d, not %d", v, KVM_API_VERSION);
		return false;
	}
	return true;
}

const char *
accel_first(const char *requested, const char *state, bool *probe)
{
	char verdict[256], why[256];

	*probe = false;
	if (strcmp(requested, "auto") != 0)
		return requested;
	if (!accel_kvm_usable(why, sizeof(why)))
		return "tcg";
	if (state_read(state, ST_KVM_VERDICT, verdict, sizeof(verdict)) == 0) {
		if (strcmp(verdict, "works") == 0)
			return "kvm";
		if (strncmp(verdict, "broken", 6) == 0)
			return "tcg";
	}
	*probe = true;
	return "kvm";
}

void
accel_remember(const char *state, bool works, const char *why)
{
	char text[512];

	snprintf(text, sizeof(text), "%s%s%s\n", works ? "works" : "broken",
	    works ? "" : ": ", works ? "" : why);
	state_write(state, ST_KVM_VERDICT, text);
}
