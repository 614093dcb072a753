/* locate.h: finding QEMU, the kernel, our helper programs and the project. */
#ifndef FSB_LOCATE_H
#define FSB_LOCATE_H

#include <stddef.h>

/* Every program and path a boot needs, found before anything starts. */
struct boot_paths {
	char qemu[4096];
	char kernel[4096];
	char fsbridge[4096];
	char mkinitramfs[4096];
	char agent[4096];
	char project[4096];
	char root[4096];     /* the guest's read-only root: / or --root */
	char passt[4096];    /* --net: the passt program */
	char kmod_build[4096]; /* fsb_notify's build.sh, "" if none */
};

/* A helper program: $env if set, else next to launch in the build tree
 * (../build_rel from launch's directory), else installed: where it is
 * from launch's own directory if the tree was installed under another
 * prefix (relocate.h), else at installed.  -ENOENT. */
int locate_tool(const char *env, const char *build_rel, const char *installed,
    char *out, size_t size);

/* FSBRIDGE_PASST, else passt on PATH; -ENOENT. */
int locate_passt(char *out, size_t size);
/* The fsbridge-init that the image builder mkinitramfs puts in the image,
 * as it finds it itself (`mkinitramfs --print-init`): the one path both
 * launch doctor checks and the image cache key names.  -ENOENT. */
int locate_init(const char *mkinitramfs, char *out, size_t size);

/* --qemu / FSBRIDGE_QEMU / qemu-system-<machine> on PATH; -ENOENT. */
int locate_qemu(const char *opt, char *out, size_t size);

/* --kernel (must exist), else `fsbridge-mkinitramfs --print-kernel`. */
int locate_kernel(const char *opt, const char *mkinitramfs, char *out, size_t size);

/* Can this user read the kernel image (QEMU, run as the user, loads it)?
 * 0, or -errno with what to do about it in fix. */
int locate_kernel_readable(const char *kernel, char *fix, size_t size);

/* --project, else the nearest parent of the working directory holding
 * a .git owned by the user, itself owned by the user and not sticky
 * (never /tmp), else the working directory; never "/" (-EINVAL). */
int locate_project(const char *opt, char *out, size_t size);

/* --root DIR resolved (a directory), else "/"; -errno. */
int locate_root(const char *opt, char *out, size_t size);

#endif
