/* frame_io.h: reads and writes of whole agent-protocol frames (libc only:
 * the launcher and the static guest agent link the same file). */
#ifndef FSB_FRAME_IO_H
#define FSB_FRAME_IO_H

#include <stddef.h>
#include <stdint.h>

#include "guest-overlay/contract/agent_proto.h"
#include "guest-overlay/contract/fdio.h"

/* Writes header and payload completely (on a non-blocking fd, waiting
 * for room when it is full); 0 or -errno. */
int frame_write(int fd, uint8_t type, uint32_t session, const void *payload, size_t len);

/* Reads one frame into buf (AP_MAX_PAYLOAD bytes); 1 for a frame, 0 for
 * end of stream at a frame boundary, -errno otherwise (-EPROTO: garbage). */
int frame_read(int fd, struct ap_hdr *h, unsigned char *buf);

#endif
