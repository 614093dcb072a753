/* spawn.h: starting helper programs (QEMU, fsbridge serve, the image builder). */
#ifndef FSB_SPAWN_H
#define FSB_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Starts argv[0] (a path) with the given stdin/stdout/stderr (-1: /dev/null);
 * with die_with_parent, the child gets SIGKILL when the caller dies.
 * The pid, or -errno. */
pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd, bool die_with_parent);

/* The same, with fd3 (if not -1) as the child's descriptor 3. */
pid_t spawn_fd3(char *const argv[], int in_fd, int out_fd, int err_fd, int fd3,
    bool die_with_parent);

/* Runs argv to completion with stderr to err_fd; its first stdout line
 * (if out) goes to out.  0 when it exits 0, -EIO otherwise, -errno. */
int run_capture(char *const argv[], int err_fd, char *out, size_t size);

/* waitpid without EINTR; the status, or -errno. */
int wait_status(pid_t pid);

#endif
