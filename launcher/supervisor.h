/*
 * supervisor.h: the per-VM background process.  It owns the VM's life:
 * builds or reuses the guest image, starts `fsbridge serve` for the
 * read-only host root and the read-write project, starts QEMU, waits for
 * the agent's HELLO, then relays `launch` clients on ctl.sock until QEMU
 * exits (HALT, SIGTERM, a crash) and cleans the state dir up.
 */
#ifndef FSB_SUPERVISOR_H
#define FSB_SUPERVISOR_H

#include <libutil.h>
#include <stdbool.h>

#include "locate.h"
#include "mount_spec.h"
#include "policy.h"
#include "volume.h"

#define BOOT_TIMEOUT_SECONDS 300
#define HALT_TIMEOUT_SECONDS 30

struct sup_params {
	char state[4096];
	struct boot_paths paths;
	const char *accel;      /* requested: kvm, tcg or auto */
	struct pidfh *pfh;      /* the state dir's pidfile, locked */
	int ready_fd;           /* gets "ok\n" or one error line, then closed */
	struct volume_attach vols[VOLUME_MAX];  /* prepared images to attach */
	int nvols;
	bool net;               /* networking through passt */
	bool net_host;          /* --net=host: with the host's loopback at 10.0.2.2 */
	const char *const *ports;  /* HOST:GUEST TCP forwards */
	int nports;
	struct mount_share mounts[MOUNT_MAX];  /* --mount: one server each */
	int nmounts;
	struct policy root_policy;  /* ro, symlinks=opaque, the hide rules */
	bool cold;              /* --cold: boot, no saved state used or made */
	const char *save_name;  /* launch save NAME: boot and save as NAME */
};

/* Runs the supervisor in this (already detached) process; never returns. */
void supervisor_main(struct sup_params *p) __attribute__((noreturn));

#endif
