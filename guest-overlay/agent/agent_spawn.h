/* agent_spawn.h: an EXEC request, and starting its command (agent_spawn.c). */
#ifndef FSB_AGENT_SPAWN_H
#define FSB_AGENT_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct exec_req {
	uint32_t uid, gid, flags, rows, cols;
	uint32_t ngroups;
	gid_t *groups;		/* the supplementary groups */
	const char *cwd;
	char **argv, **envp;
};

/* The command's ends: stdin, stdout, stderr (-1 when there is none). */
struct spawn_fds {
	int in_fd, out_fd, err_fd;
	bool pty;		/* in_fd is a dup of out_fd, the master */
};

/* Parses an EXEC payload (pointing into it); 0, -EPROTO or -ENOMEM. */
int exec_parse(unsigned char *payload, size_t len, struct exec_req *r);
void exec_free(struct exec_req *r);

/* Starts the command in a session of its own, on pipes or (AP_EXEC_PTY)
 * on a new pseudo-terminal; its pid with *fds filled, or -errno. */
pid_t exec_start(const struct exec_req *r, struct spawn_fds *fds);

#endif
