/*
 * kernel: which guest kernel an image is built for.  A kernel is usable
 * when /boot/vmlinuz-VERSION has /lib/modules/VERSION/modules.dep beside
 * it (the running host kernel may well have neither).  Functions return 0
 * or -errno and print what went wrong.
 */
#ifndef GUEST_OVERLAY_KERNEL_H
#define GUEST_OVERLAY_KERNEL_H

#define KERNEL_BOOT_DIR "/boot"
#define KERNEL_MODULES_DIR "/lib/modules"

struct kernel {
	char *version;     /* "6.1.0-56-cloud-amd64" */
	char *image;       /* /boot/vmlinuz-VERSION, or NULL if absent */
	char *modules_dir; /* /lib/modules/VERSION or --moddir */
};

struct kernel_request {
	const char *version; /* -k VERSION */
	const char *image;   /* --kernel IMAGE */
	const char *moddir;  /* --moddir DIR, instead of /lib/modules/VERSION */
};

/* From the version, the image name, the modules directory's name (in that
 * order of preference) or, with none given, the newest usable kernel in
 * /boot.  The image may be absent when a version or directory is given. */
int kernel_pick(const struct kernel_request *req, struct kernel *k);
void kernel_free(struct kernel *k);

#endif
