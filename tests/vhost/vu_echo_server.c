/*
 * vu_echo_server: a manual harness that serves a vhost-user-fs socket with
 * a handler that answers nothing and logs the shape of each chain (and the
 * FUSE opcode in the first out bytes).  For checking the handshake and the
 * data path against a real QEMU:
 *
 *   vu_echo_server SOCKET [REQUEST_QUEUES]
 *   qemu-system-x86_64 ... -chardev socket,id=c,path=SOCKET \
 *       -device vhost-user-fs-pci,chardev=c,tag=test
 *
 * Every vhost-user message is logged.  SIGINT/SIGTERM stop it.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhost/vhost_user.h"

static struct vu_dev *dev;

static void
on_signal(int sig)
{
	(void)sig;
	vu_dev_stop(dev);
}

static size_t
log_chain(void *ctx, unsigned qi, const struct vu_chain *c)
{
	uint32_t len = 0, opcode = 0;
	uint64_t unique = 0;

	if (c->out_num > 0 && c->out[0].iov_len >= 16) {
		memcpy(&len, c->out[0].iov_base, 4);
		memcpy(&opcode, (char *)c->out[0].iov_base + 4, 4);
		memcpy(&unique, (char *)c->out[0].iov_base + 8, 8);
	}
	fprintf(stderr, "chain on queue %u: %u out (%zu bytes), %u in (%zu bytes); "
		"fuse len %u opcode %u unique %llu\n", qi, c->out_num, c->out_len,
		c->in_num, c->in_len, len, opcode, (unsigned long long)unique);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned queues = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: vu_echo_server SOCKET [REQUEST_QUEUES]\n");
		return 2;
	}
	rc = vu_dev_new(argv[1], queues, log_chain, NULL, &dev);
	if (rc < 0) {
		fprintf(stderr, "vu_echo_server: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	vu_dev_set_debug(dev, true);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	rc = vu_dev_serve(dev, false);
	vu_dev_free(dev);
	return rc < 0 ? 1 : 0;
}
