/* initrd.h: the guest image of a VM, built by fsbridge-mkinitramfs and cached. */
#ifndef FSB_INITRD_H
#define FSB_INITRD_H

#include <stddef.h>

/* Makes sure state/initrd.img holds an image with the agent for kernel,
 * rebuilding it only when one of its inputs changed (key: size and
 * mtime of builder, init, agent and kernel); its path into out.
 * 0, or -errno with the builder's first error line in err. */
int initrd_ensure(const char *state, const char *mkinitramfs, const char *agent,
    const char *kernel, char *out, size_t size, char *err, size_t errlen);

#endif
