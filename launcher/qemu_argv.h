/* qemu_argv.h: the QEMU command line of a launch VM. */
#ifndef FSB_QEMU_ARGV_H
#define FSB_QEMU_ARGV_H

#include <stdbool.h>

#include "argvec.h"
#include "mount_spec.h"
#include "volume.h"

struct vm_config {
	const char *state;     /* the state directory (sockets, console) */
	const char *qemu, *kernel, *initrd;
	const char *accel;     /* "kvm" or "tcg" */
	unsigned cpus, mem_mib;
	const struct volume_attach *vols;  /* virtio-blk, serial = name */
	int nvols;
	bool net;              /* virtio-net on passt's socket (state/net.sock) */
	const struct mount_share *mounts;  /* one more vhost-user-fs each, tag m<i> */
	int nmounts;
	int console_fd;        /* QEMU's fd logging the serial console, or -1 */
	bool warm;             /* the machine of a warm start: RAM in state/ram
	                        * (shared), no share, volume or network (they are
	                        * hot-plugged), QMP on state/qmp.sock */
	bool incoming;         /* warm: wait for a saved state (-incoming defer) */
};

/* "off", or "on" (--net=host: "host") and the forwards ("on 8080:80
 * 2222:22"), into out. */
void net_text(bool net, bool host, const char *const *ports, int nports, char *out, size_t size);

/*
 * passt's command line (passt itself is on a: argv[0]): foreground, as
 * this process's uid and gid, IPv4,
 * the guest at 10.0.2.15/24 via 10.0.2.2, DNS queries to 10.0.2.3
 * forwarded to the host's resolver, its socket at sock, each HOST:GUEST
 * forward bound to the host's 127.0.0.1; unless host, the gateway is
 * not mapped to the host (--no-map-gw): the guest cannot reach the
 * host's own services.
 */
void passt_argv(struct argvec *a, const char *sock, bool host,
    const char *const *ports, int nports);

/* true for "HOST:GUEST" with two TCP ports 1-65535. */
bool port_spec_valid(const char *spec);

/* Fills a with the QEMU argv; a->err tells whether it worked. */
void qemu_argv(struct argvec *a, const struct vm_config *c);

#endif
