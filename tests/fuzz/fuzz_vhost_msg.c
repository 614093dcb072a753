/*
 * fuzz_vhost_msg: libFuzzer target for the vhost-user message dispatcher.
 * The input is a stream of messages handed to vu_handle_message() as the
 * socket layer would; no socket, no worker threads.  Each record is one
 * byte giving the number of fds (mod 10; more than 8 are refused like the
 * socket layer does), the 12-byte header, and hdr.size payload bytes.  The
 * fds are fresh dups of a 1 MiB memfd (for SET_MEM_TABLE and ADD_MEM_REG)
 * or of an eventfd (for anything else).  A refused message ends the
 * "connection": the state is reset and the stream goes on.  After each
 * input no fd may be left open.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"

#define GUEST_SIZE	(1u << 20)

static struct vu_dev *dev;
static int memfd = -1, evfd = -1, lowest_free_fd;

/* Log lines are noise while fuzzing; FUZZ_VERBOSE=1 shows them. */
static void
quiet(const char *line)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "vhost: %s\n", line);
}

static size_t
handler(void *ctx, unsigned queue_index, const struct vu_chain *chain)
{
	return 0;
}

static int
first_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void
setup_once(void)
{
	if (dev != NULL)
		return;
	vu_set_log_fn(quiet);
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (memfd < 0 || evfd < 0 || ftruncate(memfd, GUEST_SIZE) < 0 ||
	    vu_dev_create(2, handler, NULL, &dev) < 0)
		abort();
	dev->threadless = true;
	dev->conn_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (dev->conn_fd < 0)
		abort();
	lowest_free_fd = first_free_fd();
}

static int
make_fds(uint32_t request, int *fds, int n)
{
	bool mem = request == VHOST_USER_SET_MEM_TABLE || request == VHOST_USER_ADD_MEM_REG;

	for (int i = 0; i < n; i++) {
		fds[i] = fcntl(mem ? memfd : evfd, F_DUPFD_CLOEXEC, 0);
		if (fds[i] < 0)
			abort();
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vu_msg msg;
	int fds[VU_MSG_MAX_FDS];
	size_t pos = 0;

	setup_once();
	while (size - pos >= 1 + VU_HDR_SIZE) {
		int nfds = data[pos] % 10;
		size_t take;

		memcpy(&msg.hdr, data + pos + 1, VU_HDR_SIZE);
		pos += 1 + VU_HDR_SIZE;
		take = msg.hdr.size <= VU_MSG_MAX_PAYLOAD ? msg.hdr.size : 0;
		if (take > size - pos)
			break;	/* cut short: the connection ends */
		memset(&msg.payload, 0, sizeof(msg.payload));
		memcpy(&msg.payload, data + pos, take);
		pos += take;
		if (nfds > VU_MSG_MAX_FDS) {
			vu_conn_reset(dev);	/* the socket layer drops it */
			continue;
		}
		make_fds(msg.hdr.request, fds, nfds);
		if (vu_handle_message(dev, &msg, fds, nfds) < 0)
			vu_conn_reset(dev);
	}
	vu_conn_reset(dev);
	if (first_free_fd() != lowest_free_fd)
		abort();	/* an fd was leaked */
	return 0;
}
