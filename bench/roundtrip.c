/*
 * roundtrip: what one request and its reply cost on this machine, the
 * floor under every FUSE round trip.  `roundtrip [-n N] [-c CPU] [FILE...]`
 * prints, in µs per round trip (median of 5 runs of N each):
 *
 *   pipe, one CPU      two processes pinned to CPU, a byte each way over
 *                      two pipes: two context switches between address
 *                      spaces, as a FUSE request served on the requester's
 *                      CPU (io_uring) takes at the least
 *   pipe, two CPUs     the same, each process on its own CPU: the
 *                      cross-CPU wake-up /dev/fuse's reader threads take
 *   fstat FILE         fstat(2) of FILE opened once, pinned to CPU: on a
 *                      mount with attributes never cached (cache=none),
 *                      one GETATTR each
 *
 * Owns nothing but its processes; prints a line per measurement.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

static const char *progname = "roundtrip";

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp_double);
	return v[RUNS / 2];
}

/* One run of n ping-pongs; the echoing child on echo_cpu. */
static int
pipe_run(long n, int cpu, int echo_cpu, double *us)
{
	int ping[2], pong[2], status;
	char c = 'x';
	double t0;
	pid_t pid;

	if (pipe(ping) != 0 || pipe(pong) != 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(ping[1]);
		close(pong[0]);
		if (pin(echo_cpu) != 0)
			_exit(1);
		while (read(ping[0], &c, 1) == 1)
			if (write(pong[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(ping[0]);
	close(pong[1]);
	if (pin(cpu) != 0)
		return -errno;
	/* a few to wake everything up */
	for (int i = 0; i < 100; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return -EIO;
	t0 = now_us();
	for (long i = 0; i < n; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return -EIO;
	*us = (now_us() - t0) / (double)n;
	close(ping[1]);
	close(pong[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ECHILD;
	return 0;
}

static int
fstat_run(int fd, long n, double *us)
{
	struct stat st;
	double t0;

	for (int i = 0; i < 100; i++)
		if (fstat(fd, &st) != 0)
			return -errno;
	t0 = now_us();
	for (long i = 0; i < n; i++)
		if (fstat(fd, &st) != 0)
			return -errno;
	*us = (now_us() - t0) / (double)n;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-n N] [-c CPU] [FILE...]\n"
	    "  prints µs per round trip, median of %d runs of N (default 20000):\n"
	    "  pipe ping-pong between two processes on CPU (default 0), then\n"
	    "  between CPU and another CPU, then fstat(2) of each FILE on CPU\n",
	    progname, RUNS);
}

int
main(int argc, char **argv)
{
	double v[RUNS];
	long n = 20000, ncpu;
	int opt, cpu = 0, other, rc;

	while ((opt = getopt(argc, argv, "n:c:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1 || n > 100000000 || cpu < 0 || cpu >= ncpu) {
		fprintf(stderr, "%s: -n must be 1..100000000 and -c a CPU of 0..%ld\n",
		    progname, ncpu - 1);
		return 2;
	}
	other = (cpu + 1) % (int)ncpu;

	for (int r = 0; r < RUNS; r++)
		if ((rc = pipe_run(n, cpu, cpu, &v[r])) != 0)
			goto pipe_failed;
	printf("pipe, one CPU\t%.2f\n", median(v));
	if (other != cpu) {
		for (int r = 0; r < RUNS; r++)
			if ((rc = pipe_run(n, cpu, other, &v[r])) != 0)
				goto pipe_failed;
		printf("pipe, two CPUs\t%.2f\n", median(v));
	}
	if (pin(cpu) != 0) {
		fprintf(stderr, "%s: pinning to CPU %d: %s\n", progname, cpu, strerror(errno));
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, argv[i], strerror(errno));
			return 1;
		}
		for (int r = 0; r < RUNS; r++) {
			if ((rc = fstat_run(fd, n, &v[r])) != 0) {
				fprintf(stderr, "%s: fstat %s: %s\n", progname, argv[i], strerror(-rc));
				close(fd);
				return 1;
			}
		}
		close(fd);
		printf("fstat %s\t%.2f\n", argv[i], median(v));
	}
	return 0;

pipe_failed:
	fprintf(stderr, "%s: pipe ping-pong: %s\n", progname, strerror(-rc));
	return 1;
}
