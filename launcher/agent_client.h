/*
 * agent_client.h: running one command in the VM over a control-socket
 * connection, as if it ran here: argv, environment, working directory,
 * ids, stdin/stdout/stderr (pipes, or a pseudo-terminal with the local
 * terminal in raw mode and its size following SIGWINCH), signals (INT,
 * TERM, HUP, QUIT forwarded) and the exit status (exit N -> N, killed by
 * signal S -> 128 + S).
 */
#ifndef FSB_AGENT_CLIENT_H
#define FSB_AGENT_CLIENT_H

#include "options.h"

/* Runs argv over fd (closed on return); the exit status for launch,
 * LAUNCH_EXIT_FAIL after one "launch: ..." line when it could not. */
int agent_run(int fd, char *const argv[], const struct launch_opts *o, const char *state);

#endif
