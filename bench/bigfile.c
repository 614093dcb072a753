/*
 * bigfile: the large-file benchmark.  `bigfile [-s MIB] [-n OPS] DIR`
 * times, with CLOCK_MONOTONIC: a sequential write of a new file DIR/w
 * (MIB MiB in 1 MiB writes, no fsync: the path to the page cache), a
 * sequential read of DIR/r (made beforehand, at least MIB MiB: the
 * runner writes it on the host, so a fresh mount reads it from the host's
 * page cache), OPS 4 KiB preads at random 4 KiB-aligned offsets of DIR/r
 * and OPS 4 KiB pwrites at random offsets of DIR/w; prints one line per
 * phase: PHASE OPS USEC_PER_OP TOTAL_USEC MIB_PER_S.  Removes DIR/w.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	(1u << 20)
#define SMALL	4096u

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A fixed sequence of block numbers below nblocks (xorshift64). */
static uint64_t
next_block(uint64_t *state, uint64_t nblocks)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x % nblocks;
}

static void
report(const char *phase, uint64_t ops, uint64_t usec, uint64_t bytes)
{
	double sec = usec > 0 ? (double)usec / 1e6 : 1e-6;

	printf("%s %llu %.3f %llu %.1f\n", phase, (unsigned long long)ops,
	    ops > 0 ? (double)usec / (double)ops : 0.0, (unsigned long long)usec,
	    (double)bytes / (1024.0 * 1024.0) / sec);
}

static int
fail(const char *what, const char *path)
{
	fprintf(stderr, "bigfile: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

int
main(int argc, char **argv)
{
	unsigned long mib = 1024, ops = 20000, i;
	char wpath[4096], rpath[4096];
	uint64_t t0, state = 0x9e3779b97f4a7c15ull, nblocks;
	char *buf;
	ssize_t n;
	int c, fd;

	while ((c = getopt(argc, argv, "s:n:")) != -1) {
		switch (c) {
		case 's': mib = strtoul(optarg, NULL, 10); break;
		case 'n': ops = strtoul(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (argc - optind != 1 || mib == 0 || ops == 0)
		goto usage;
	snprintf(wpath, sizeof(wpath), "%s/w", argv[optind]);
	snprintf(rpath, sizeof(rpath), "%s/r", argv[optind]);
	buf = aligned_alloc(4096, CHUNK);
	if (buf == NULL)
		return 1;
	for (i = 0; i < CHUNK; i++)
		buf[i] = (char)(i * 131 + 7);
	nblocks = (uint64_t)mib * (CHUNK / SMALL);

	fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail("create", wpath);
	t0 = now_usec();
	for (i = 0; i < mib; i++)
		if (write(fd, buf, CHUNK) != CHUNK)
			return fail("write", wpath);
	close(fd);
	report("seq-write", mib, now_usec() - t0, (uint64_t)mib * CHUNK);

	fd = open(rpath, O_RDONLY);
	if (fd < 0)
		return fail("open", rpath);
	t0 = now_usec();
	for (i = 0; i < mib; i++) {
		n = read(fd, buf, CHUNK);
		if (n != CHUNK)
			return n < 0 ? fail("read", rpath) : (fprintf(stderr, "bigfile: %s is smaller than %lu MiB\n", rpath, mib), 1);
	}
	report("seq-read", mib, now_usec() - t0, (uint64_t)mib * CHUNK);
	t0 = now_usec();
	for (i = 0; i < ops; i++)
		if (pread(fd, buf, SMALL, (off_t)(next_block(&state, nblocks) * SMALL)) != SMALL)
			return fail("pread", rpath);
	report("rand-read-4k", ops, now_usec() - t0, (uint64_t)ops * SMALL);
	close(fd);

	fd = open(wpath, O_WRONLY);
	if (fd < 0)
		return fail("open", wpath);
	t0 = now_usec();
	for (i = 0; i < ops; i++)
		if (pwrite(fd, buf, SMALL, (off_t)(next_block(&state, nblocks) * SMALL)) != SMALL)
			return fail("pwrite", wpath);
	close(fd);
	report("rand-write-4k", ops, now_usec() - t0, (uint64_t)ops * SMALL);
	if (unlink(wpath) != 0)
		return fail("unlink", wpath);
	free(buf);
	return 0;
usage:
	fprintf(stderr, "usage: bigfile [-s MIB] [-n OPS] DIR   (DIR/r: at least MIB MiB)\n");
	return 2;
}
