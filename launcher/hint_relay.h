/* hint_relay.h: a share server's change hints relayed to the guest agent. */
#ifndef FSB_HINT_RELAY_H
#define FSB_HINT_RELAY_H

/* Reads fd (the read end of the server's --hints-fd pipe; closed at its
 * end) in a thread of its own, sending each change below guest_root to
 * the agent as a HINT frame, except those at or below one of the
 * nexclude guest paths of exclude (covered by another share: the root
 * share under the project, say).  0 or -errno. */
int hint_relay_start(int fd, const char *guest_root, const char *const *exclude, int nexclude);

#endif
