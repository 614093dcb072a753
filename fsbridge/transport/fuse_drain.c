/*
 * fuse_drain: answer whatever still comes on /dev/fuse with EIO while the
 * server shuts down.  See fuse_drain.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuse_drain.h"

/* A read of /dev/fuse must hold the largest request: libfuse's own
 * buffer (FUSE_MAX_MAX_PAGES pages of payload and a page of headers). */
#define DRAIN_BUFSIZE (256 * 4096 + 4096)

struct fuse_drain {
	pthread_t thread;
	int fd;
	bool stop;
	unsigned long answered;
	char *buf;
};

static void *
fuse_drain_main(void *arg)
{
	struct fuse_drain *d = arg;
	struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
	struct fuse_out_header out;
	struct fuse_in_header in;
	ssize_t n;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		/* non-blocking: a request poll() saw may be gone by now (its
		 * caller killed), and a blocking read would then wait for the
		 * next one, past the stop */
		n = read(d->fd, d->buf, DRAIN_BUFSIZE);
		if (n < 0 && (errno == ENODEV || errno == EBADF))
			break;		/* the connection is gone */
		if (n < (ssize_t)sizeof(in))
			continue;
		in = *(struct fuse_in_header *)(void *)d->buf;
		/* these take no reply */
		if (in.opcode == FUSE_FORGET || in.opcode == FUSE_BATCH_FORGET ||
		    in.opcode == FUSE_INTERRUPT)
			continue;
		out.len = sizeof(out);
		out.error = -EIO;
		out.unique = in.unique;
		if (write(d->fd, &out, sizeof(out)) == (ssize_t)sizeof(out))
			d->answered++;
	}
	return NULL;
}

struct fuse_drain *
fuse_drain_start(int fd)
{
	struct fuse_drain *d = calloc(1, sizeof(*d));
	sigset_t all, old;
	int e, fl;

	if (d == NULL)
		return NULL;
	d->fd = fd;
	/* (nothing else reads the fd now; it is closed at the unmount) */
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	d->buf = malloc(DRAIN_BUFSIZE);
	if (d->buf == NULL) {
		free(d);
		return NULL;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&d->thread, NULL, fuse_drain_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		free(d->buf);
		free(d);
		return NULL;
	}
	return d;
}

unsigned long
fuse_drain_stop(struct fuse_drain *d)
{
	unsigned long n;

	if (d == NULL)
		return 0;
	__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
	pthread_join(d->thread, NULL);
	n = d->answered;
	free(d->buf);
	free(d);
	return n;
}
