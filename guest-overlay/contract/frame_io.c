/* frame_io: reads and writes of whole agent-protocol frames (libc only:
 * the launcher and the static guest agent link the same file). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "guest-overlay/contract/frame_io.h"

/* A non-blocking fd (the agent's port) is full: wait a while for room. */
static void
wait_writable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	poll(&pfd, 1, 1000);
}

int
frame_write(int fd, uint8_t type, uint32_t session, const void *payload, size_t len)
{
	unsigned char hdr[AP_HDR_SIZE];
	struct ap_hdr h = { .type = type, .session = session, .len = (uint32_t)len };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	int i = 0;

	if (len > AP_MAX_PAYLOAD)
		return -EMSGSIZE;
	ap_hdr_pack(hdr, &h);
	while (i < 2) {
		ssize_t n = writev(fd, iov + i, 2 - i);

		if (n < 0 && errno == EAGAIN) {
			wait_writable(fd);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		while (i < 2 && (size_t)n >= iov[i].iov_len) {
			n -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	return 0;
}

int
frame_read(int fd, struct ap_hdr *h, unsigned char *buf)
{
	unsigned char hdr[AP_HDR_SIZE];
	ssize_t n = read_exact(fd, hdr, sizeof(hdr));
	int rc;

	if (n <= 0)
		return (int)n;
	rc = ap_hdr_unpack(hdr, h);
	if (rc != 0)
		return rc;
	if (h->len == 0)
		return 1;
	n = read_exact(fd, buf, h->len);
	if (n == 0)
		return -EPIPE;
	return n < 0 ? (int)n : 1;
}
