/* agent.h: what the guest agent's files share (guest-overlay/agent*.c). */
#ifndef FSB_AGENT_H
#define FSB_AGENT_H

#include <stddef.h>

/* Where fsbridge-init mounts the shares (kernel command line written by
 * the launcher) and where the agent assembles the new root. */
#define AGENT_ROOT_SHARE "/fsb/root"
#define AGENT_PROJ_SHARE "/fsb/proj"
#define AGENT_UPPER_DIR "/fsb/ovl"
#define AGENT_NEW_ROOT "/fsb/new"

/* Builds the guest root (overlay of the read-only host root on a tmpfs
 * upper, the project share bound at `project`, /proc /sys /dev) and
 * chroots into it; 0, or -errno with a message in err. */
int agent_root_assemble(const char *project, char *err, size_t errlen);

/* Prints "fsbridge-agent: ..." on the console. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
