/* agent.h: what the guest agent's files share (guest-overlay/agent/). */
#ifndef FSB_AGENT_H
#define FSB_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ap_hdr;

/* Where the agent assembles the new root (fsbridge-init mounts the shares
 * at FSB_GUEST_*_SHARE of contract.h). */
#define AGENT_UPPER_DIR "/fsb/ovl"
#define AGENT_NEW_ROOT "/fsb/new"

/* Builds the guest root (overlay of the read-only host root on a tmpfs
 * upper, the project share bound at `project`, /proc /sys /dev) and
 * chroots into it; 0, or -errno with a message in err. */
int agent_root_assemble(const char *project, const char *vols, size_t vlen,
    char *err, size_t errlen);

/* Mounts each volume of vols (vlen bytes of NUL-terminated serial and
 * mount point pairs) under AGENT_NEW_ROOT; 0, or -errno with err. */
int agent_volumes_mount(const char *vols, size_t vlen, char *err, size_t errlen);

/* Brings lo up, and eth0 (if there is one: launch --net) with QEMU's
 * user-mode addresses: 10.0.2.15/24, gateway 10.0.2.2.  -errno. */
int agent_net_up(char *err, size_t errlen);
/* With eth0 up: root/etc/resolv.conf names passt's DNS forwarder (root
 * "": the agent's own root, after agent_root_assemble's chroot). */
int agent_net_resolv(const char *root);

/* The guest's processes as a table (launch ps); malloc'd, NULL when out
 * of memory.  *len is its length. */
char *agent_ps_text(size_t *len);

/* A tmpfs at base holding the upper layer of an overlay of the read-only
 * root share, mounted at target (both made as needed); 0, or -errno with
 * a message in err. */
int agent_overlay_mount(const char *base, const char *target, char *err, size_t errlen);

/* Keeps a descriptor of the initramfs root; call before chrooting away. */
int agent_isolate_keep_root(void);
/* That descriptor (the shares' own mounts are below it), or -1. */
int agent_outer_root_fd(void);

/* In a command's child (launch --isolated): a mount namespace of its own
 * and a fresh overlay of the host root with the shared root's mounts
 * bound in it, chrooted into; 0, or -errno with a message in err. */
int agent_isolate_enter(char *err, size_t errlen);

/* The serial console to poll for input while no console shell runs (-1:
 * none); on input, agent_console_start starts the shell (launch console). */
int agent_console_wait_fd(void);
void agent_console_start(void);

/* True when pid was the console shell (waited for again, unless it
 * exited at once). */
bool agent_console_reaped(pid_t pid, int status);

/* A HINT frame: a change the host made (agent_hints.c), queued; on
 * flush the kernel is made to look again at the changed directories and
 * watchers are told (fsb_notify). */
void agent_hint(const unsigned char *payload, size_t len);
void agent_hints_flush(void);
/* True when hints have waited long enough for a quiet host. */
bool agent_hints_due(void);
/* The host has nothing more to say for now: flush once it has been
 * quiet a few ms (one editor save, one flush), or a rename's second half
 * had its moment to come. */
void agent_hints_quiet(void);
/* How long the agent may sleep before hints are due (ms; -1: none). */
int agent_hints_wait_ms(void);

/* A WAKE frame (agent_wake.c): the clock, the RNG reseeded, the
 * hot-plugged shares mounted; an ERROR on session 0 when that fails. */
void agent_wake(const unsigned char *payload, size_t len);

/* The port to the host (agent_port.c): opened non-blocking, waiting up
 * to 10 s for the device (its fd, or -ENODEV); its fd afterwards. */
int agent_port_open(void);
int agent_port_fd(void);

/* Reads what the port has and dispatches every complete frame; false
 * when the host is not connected. */
bool agent_port_read(void);

/* A frame to the host (a failure is logged); an ERROR frame. */
void agent_send(uint8_t type, uint32_t session, const void *payload, size_t len);
void agent_send_error(uint32_t session, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Acts on one frame from the host (agent_dispatch.c). */
void agent_dispatch(const struct ap_hdr *h, unsigned char *payload);

/* True once HELLO has assembled the guest root. */
bool agent_root_ready(void);

/* Prints "fsbridge-agent: ..." on the console. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
