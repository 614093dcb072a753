/* hint_relay.h: a share server's change hints relayed to the guest agent. */
#ifndef FSB_HINT_RELAY_H
#define FSB_HINT_RELAY_H

/* Reads fd (the read end of the server's --hints-fd pipe; closed at its
 * end) in a thread of its own, sending each path below guest_root to the
 * agent as a HINT frame.  0 or -errno. */
int hint_relay_start(int fd, const char *guest_root);

#endif
