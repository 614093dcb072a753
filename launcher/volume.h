/*
 * volume.h: persistent volumes: sparse raw images named NAME.img in the
 * volume directory ($FSBRIDGE_VOLUME_DIR, else /run/fsbridge/volumes as
 * root, else $XDG_STATE_HOME/fsbridge/volumes, beside the vm/ dir of the
 * VM state dirs), attached to a VM as virtio-blk with serial NAME and
 * formatted ext4 on first use.
 */
#ifndef FSB_VOLUME_H
#define FSB_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#define VOLUME_NAME_MAX 20          /* a virtio-blk serial holds 20 bytes */
#define VOLUME_DEFAULT_SIZE (8ull << 30)
#define VOLUME_MAX 8                /* --volume options per VM */

struct volume_attach {
	char name[VOLUME_NAME_MAX + 1];
	char guest[1024];               /* absolute path in the guest */
	char image[4096];               /* the image file on the host */
	uint64_t size;                  /* for creation; 0: the default */
};

/* The volume directory (created, mode 0700; refused when another user
 * could change it, see safe_dir.h); -errno with a reason in why. */
int volume_dir(char *out, size_t size, char *why, size_t whylen);

/* 0 for a name of 1-20 characters [A-Za-z0-9_.-] not starting with '.'. */
int volume_name_valid(const char *name);

/* "10G", "512M", "4096" (bytes) and K/M/G/T suffixes; -EINVAL. */
int volume_parse_size(const char *text, uint64_t *out);

/* dir/NAME.img into out; -EINVAL for a bad name, -errno of volume_dir,
 * with a reason in why. */
int volume_image(char *out, size_t size, const char *name, char *why, size_t whylen);

/* Parses NAME:GUEST[:SIZE]; -EINVAL with the reason in err. */
int volume_parse_spec(const char *spec, struct volume_attach *v, char *err, size_t errlen);

/* Creates the sparse image of size bytes (-EEXIST if it exists). */
int volume_create(const char *image, uint64_t size);

/* Makes v->image exist (created at v->size) and hold an ext4 file
 * system (mkfs.ext4 when it has none yet); -errno with why in err. */
int volume_prepare(const struct volume_attach *v, char *err, size_t errlen);

/* A running VM holds a shared flock on each of its images: volume_lock
 * takes it (an fd to keep open, -EBUSY when another holds it exclusively,
 * -errno); volume_busy tells whether any VM holds one (1, 0, -errno). */
int volume_lock(const char *image);
int volume_busy(const char *image);

/* "NAME:GUEST NAME:GUEST..." (what ST_VOLUMES holds) into out. */
void volume_list_text(const struct volume_attach *v, int n, char *out, size_t size);

#endif
