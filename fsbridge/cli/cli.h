/*
 * cli: the fsbridge subcommands and the exit codes they share.
 */
#ifndef FSBRIDGE_CLI_H
#define FSBRIDGE_CLI_H

#include <stdbool.h>

#define EXIT_OK		0
#define EXIT_FAILURE_RUN 1	/* the work failed: bad path, mount failed */
#define EXIT_USAGE	2	/* bad command line: option, value, arguments */

int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
/* Unmount the FUSE mount at path (a canonical path; lazy: detach it):
 * umount2 as root, fusermount3 otherwise.  0 or -errno. */
int cli_umount(const char *path, bool lazy);
/* Is path (canonical) the mount point of an fsbridge FUSE mount?  Read
 * from /proc/self/mountinfo, which asks nothing of the file system;
 * *minor (if not NULL): the minor of the last one's device, its fusectl
 * connection id. */
bool cli_fsbridge_mount(const char *path, unsigned int *minor);
int cmd_policy(int argc, char **argv);
int cmd_serve(int argc, char **argv);

struct policy;
/* Apply a policy file on top of p; 0 or an exit code (message printed). */
int cli_apply_policy_file(struct policy *p, const char *path);
/* The whole policy, all options applied: 0, or EXIT_USAGE with a one-line
 * message (policy_check_combination). */
int cli_check_policy(const struct policy *p);
/* Parse seconds ("1", "0.25") in [0, 86400]; 0 or -EINVAL. */
int cli_parse_seconds(const char *s, double *out);
/* Parse a whole decimal number in [min, max]; 0 or -EINVAL. */
int cli_parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out);

/*
 * Read a whole policy file (a regular file of at most 1 MiB) into *text
 * (free it; NUL-terminated after *len bytes, which may hold NULs too).
 * A fifo, device or directory is refused (-EINVAL) without blocking;
 * cli_read_file_error() says why in words.
 */
int cli_read_file(const char *path, char **text, size_t *len);
const char *cli_read_file_error(int rc);

#endif
