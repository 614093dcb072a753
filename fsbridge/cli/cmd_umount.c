/*
 * cmd_umount: `fsbridge umount [-l] MNT`: unmount an fsbridge mount,
 * refusing anything that is not one.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* Is path (canonical) the mount point of a FUSE mount of ours? */
static bool
umount_is_fsbridge(const char *path)
{
	char line[4096], mnt[PATH_MAX], fstype[256];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sep = strstr(line, " - ");

		/* fields: id parent major:minor root mountpoint ... - fstype */
		if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		if (strcmp(mnt, path) == 0 && strcmp(fstype, "fuse.fsbridge") == 0)
			found = true;
	}
	fclose(f);
	return found;
}

static int
umount_with_fusermount(const char *mnt, bool lazy)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", lazy ? "-uz" : "-u", "--", mnt, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int
cli_umount(const char *path, bool lazy)
{
	if (geteuid() == 0)
		return umount2(path, lazy ? MNT_DETACH : 0) != 0 ? -errno : 0;
	return umount_with_fusermount(path, lazy);
}

/* The canonical path of a mount point that cannot be stat'ed (a dead
 * FUSE mount): its parent's canonical path plus its last component. */
static int
umount_resolve_dead(const char *arg, char *out, size_t len)
{
	char copy[PATH_MAX], parent[PATH_MAX];
	char *slash, *base;

	if (strlcpy(copy, arg, sizeof(copy)) >= sizeof(copy))
		return -1;
	while ((slash = strrchr(copy, '/')) != NULL && slash[1] == '\0' && slash != copy)
		*slash = '\0';		/* trailing slashes */
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		base = copy;
		strcpy(parent, ".");
	} else {
		*slash = '\0';
		base = slash + 1;
		strlcpy(parent, slash == copy ? "/" : copy, sizeof(parent));
	}
	if (realpath(parent, out) == NULL)
		return -1;
	if (strcmp(out, "/") != 0 && strlcat(out, "/", len) >= len)
		return -1;
	if (strlcat(out, base, len) >= len)
		return -1;
	errno = ENOTCONN;
	return 0;
}

int
cmd_umount(int argc, char **argv)
{
	char path[PATH_MAX];
	bool lazy = false;
	int i = 1, rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: fsbridge umount [-l] MNT\nUnmount an fsbridge mount; -l detaches it now and\nfinishes when it is no longer busy.\n");
		return EXIT_OK;
	}
	if (i < argc && strcmp(argv[i], "-l") == 0) {
		lazy = true;
		i++;
	}
	if (argc - i != 1) {
		fprintf(stderr, "fsbridge: usage: fsbridge umount [-l] MNT\n");
		return EXIT_USAGE;
	}
	if (realpath(argv[i], path) == NULL) {
		/* a dead mount cannot be resolved itself: resolve its parent */
		if (errno != ENOTCONN || umount_resolve_dead(argv[i], path, sizeof(path)) != 0) {
			fprintf(stderr, "fsbridge: %s: %s\n", argv[i], strerror(errno));
			return EXIT_FAILURE_RUN;
		}
	}
	if (!umount_is_fsbridge(path)) {
		fprintf(stderr, "fsbridge: %s: not an fsbridge mount\n", argv[i]);
		return EXIT_FAILURE_RUN;
	}
	rc = cli_umount(path, lazy);
	if (rc == -EBUSY) {
		fprintf(stderr, "fsbridge: %s: busy (close the files open there, or use 'fsbridge umount -l')\n", argv[i]);
		return EXIT_FAILURE_RUN;
	}
	if (rc != 0) {
		fprintf(stderr, "fsbridge: %s: %s\n", argv[i], strerror(-rc));
		return EXIT_FAILURE_RUN;
	}
	return EXIT_OK;
}
