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

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
umount_unescape(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

bool
cli_fsbridge_mount(const char *path, unsigned int *minor)
{
	char mnt[PATH_MAX], fstype[256];
	unsigned int maj, min;
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - ");

		/* fields: id parent major:minor root mountpoint ... - fstype */
		if (sep == NULL || sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &min, mnt) != 3 ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		umount_unescape(mnt);
		if (strcmp(mnt, path) == 0 && strcmp(fstype, "fuse.fsbridge") == 0) {
			found = true;
			if (minor != NULL)
				*minor = min;	/* the last one mounted there */
		}
	}
	free(line);
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
	if (!cli_fsbridge_mount(path, NULL)) {
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
