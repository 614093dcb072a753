/*
 * agent_port: the agent's end of the virtio-serial port named
 * AP_PORT_NAME: finding and opening it (non-blocking), writing frames
 * (contract/frame_io.c) and reading them: what the port has is gathered
 * until a frame is whole, then handed to agent_dispatch.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/contract/frame_io.h"

static int port = -1;
static unsigned char rbuf[AP_HDR_SIZE + AP_MAX_PAYLOAD];
static size_t rlen;

/* /dev/vportNpM of the port named AP_PORT_NAME, from sysfs; -errno. */
static int
find_port(char *dev, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int rc = -ENOENT;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char path[512], name[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		if (fgets(name, sizeof(name), f) != NULL)
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (strcmp(name, AP_PORT_NAME) == 0) {
			snprintf(dev, size, "/dev/%s", e->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Opens the port, waiting up to 10 s for the device to appear. */
int
agent_port_open(void)
{
	char dev[300];

	for (int i = 0; i < 200; i++) {
		if (find_port(dev, sizeof(dev)) == 0) {
			port = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (port >= 0)
				return port;
		}
		usleep(50000);
	}
	return -ENODEV;
}

int
agent_port_fd(void)
{
	return port;
}

void
agent_send(uint8_t type, uint32_t session, const void *payload, size_t len)
{
	int rc = frame_write(port, type, session, payload, len);

	if (rc != 0)
		agent_log("write to the host: %s", strerror(-rc));
}

void
agent_send_error(uint32_t session, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_send(AP_ERROR, session, msg, strlen(msg));
}

/* Reads what the port has and handles every complete frame; false when
 * the host is not connected. */
bool
agent_port_read(void)
{
	ssize_t n = read(port, rbuf + rlen, sizeof(rbuf) - rlen);
	size_t off = 0;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	rlen += (size_t)n;
	while (rlen - off >= AP_HDR_SIZE) {
		struct ap_hdr h;

		if (ap_hdr_unpack(rbuf + off, &h) != 0) {
			agent_log("garbage on the port; dropping %zu bytes", rlen - off);
			off = rlen;
			break;
		}
		if (rlen - off < AP_HDR_SIZE + h.len)
			break;
		agent_dispatch(&h, rbuf + off + AP_HDR_SIZE);
		off += AP_HDR_SIZE + h.len;
	}
	memmove(rbuf, rbuf + off, rlen - off);
	rlen -= off;
	return true;
}

