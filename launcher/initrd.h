/* initrd.h: the guest image of a VM, built by fsbridge-mkinitramfs and cached. */
#ifndef FSB_INITRD_H
#define FSB_INITRD_H

#include <stddef.h>

/* Makes sure state/initrd.img holds an image with the agent for kernel,
 * and the fsb_notify module built with kmod_build (guest-overlay/kmod/
 * build.sh; NULL or "": none), rebuilding it only when one of its inputs
 * changed (key: size and mtime of builder, init, agent, kernel, the
 * module's sources and the kernel's headers); its path into out.  0, or
 * -errno with the builder's first error line in err.  A rebuilt image
 * without the module says why in note (else note is ""). */
int initrd_ensure(const char *state, const char *mkinitramfs, const char *agent,
    const char *kernel, const char *kmod_build, char *out, size_t size,
    char *err, size_t errlen, char *note, size_t notelen);

#endif
