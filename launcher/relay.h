/*
 * relay.h: the supervisor's switchboard between `launch` clients on the
 * control socket and the one agent connection.  Each client's EXEC gets
 * a fresh session number; the agent's frames go back to the client that
 * owns the session.  A client that goes away takes its command with it
 * (SIGKILL in the guest).
 */
#ifndef FSB_RELAY_H
#define FSB_RELAY_H

/* Starts the accept and agent-reader threads; on_halt(arg) runs (in a
 * client's thread) when a client asks for HALT.  0 or -errno. */
int relay_start(int agent_fd, int listen_fd, void (*on_halt)(void *), void *arg);

/* Sends a session-0 frame to the agent; 0 or -errno. */
int relay_to_agent(int type, const void *payload, unsigned len);

/* True once the agent connection has closed. */
int relay_agent_gone(void);

#endif
