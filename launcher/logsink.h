/* logsink.h: a log file in the state dir, bounded (see logsink.c). */
#ifndef FSB_LOGSINK_H
#define FSB_LOGSINK_H

#include <sys/types.h>

/* A log passes this size only by becoming NAME.1 (one kept). */
#define LOG_MAX_BYTES (1024 * 1024)

/* Starts the process that copies a pipe into dir/name (emptied first
 * with truncate, else appended to); the pipe's write end (close-on-exec)
 * and the process's pid in *pid, or -errno. */
int logsink_start(const char *dir, const char *name, int truncate, pid_t *pid);

/* Waits (at most 2 s) for the process to end, after the last writer has
 * closed the pipe: what was written is then in the file. */
void logsink_wait(pid_t pid);

#endif
