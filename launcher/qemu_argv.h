/* qemu_argv.h: the QEMU command line of a launch VM. */
#ifndef FSB_QEMU_ARGV_H
#define FSB_QEMU_ARGV_H

#include "argvec.h"

struct vm_config {
	const char *state;     /* the state directory (sockets, console) */
	const char *qemu, *kernel, *initrd;
	const char *accel;     /* "kvm" or "tcg" */
	unsigned cpus, mem_mib;
};

/* Fills a with the QEMU argv; a->err tells whether it worked. */
void qemu_argv(struct argvec *a, const struct vm_config *c);

#endif
