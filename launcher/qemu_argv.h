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
	bool net;              /* -netdev user + virtio-net */
	const char *const *ports;  /* HOST:GUEST, forwarded from 127.0.0.1 */
	int nports;
	const struct mount_share *mounts;  /* one more vhost-user-fs each, tag m<i> */
	int nmounts;
	int console_fd;        /* QEMU's fd logging the serial console, or -1 */
};

/* "off", or "on" and the forwards ("on 8080:80 2222:22"), into out. */
void net_text(bool net, const char *const *ports, int nports, char *out, size_t size);

/* true for "HOST:GUEST" with two TCP ports 1-65535. */
bool port_spec_valid(const char *spec);

/* Fills a with the QEMU argv; a->err tells whether it worked. */
void qemu_argv(struct argvec *a, const struct vm_config *c);

#endif
