/*
 * vm.h: reaching the VM of a state dir from `launch`: connect to its
 * supervisor, or become the one that starts it (the pidfile decides who,
 * so two launches at once boot one VM), or wait for the one booting.
 */
#ifndef FSB_VM_H
#define FSB_VM_H

#include <stdbool.h>
#include <sys/types.h>

#include "options.h"

/* A connection to the running VM's control socket, booting it first if
 * needed; -errno after printing one "launch: ..." line. */
int vm_connect(const struct launch_opts *o, const char *state);

/* 0 when the working directory is in the running VM's project (writes
 * there reach the host); else -EXDEV after one "launch: ..." line. */
int vm_check_cwd(const char *state);

/* The supervisor's pid if one holds the pidfile (0 if it has not written
 * it yet), or -1 when nothing runs (stale state is cleaned then). */
pid_t vm_running(const char *state);

/* Prints the last n lines of state/name to stderr, indented. */
void vm_print_tail(const char *state, const char *name, int n);

#endif
