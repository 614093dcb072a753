/*
 * guest_bench: runs inside a benchmark guest (static, as
 * fsbridge.run=/guest_bench).  If the guest has a virtio-blk disk
 * (/dev/vda) it mounts it (ext4) at /disk and benchmarks there; otherwise
 * it benchmarks the virtio-fs share at /mnt.  It runs /smallfile with
 * --json and prints each of its lines prefixed "bench: " for the host.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *
bench_dir(void)
{
	struct stat st;

	if (stat("/dev/vda", &st) != 0)
		return "/mnt";
	mkdir("/disk", 0755);
	if (mount("/dev/vda", "/disk", "ext4", 0, NULL) != 0) {
		printf("bench: error: mount /dev/vda: %s\n", strerror(errno));
		return NULL;
	}
	mkdir("/disk/bench", 0755);	/* smallfile wants an empty directory */
	return "/disk/bench";
}

int
main(void)
{
	char line[512], files[32], size[32];
	const char *dir;
	int pfd[2], status;
	FILE *in;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	dir = bench_dir();
	if (dir == NULL || pipe(pfd) != 0)
		return 1;
	snprintf(files, sizeof(files), "%d", FSB_GUEST_BENCH_FILES);
	snprintf(size, sizeof(size), "%d", FSB_GUEST_BENCH_SIZE);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execl("/smallfile", "smallfile", "-n", files, "-s", size, "-d", "20", "--json", "--mark", dir,
		    (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	while (in != NULL && fgets(line, sizeof(line), in) != NULL)
		printf("bench: %s", line);
	waitpid(pid, &status, 0);
	if (strncmp(dir, "/disk", 5) == 0)
		umount("/disk");
	sync();
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
