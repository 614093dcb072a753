/* mount_spec.h: `--mount HOST:GUEST[:ro|rw][:symlinks=POLICY]` extra shares. */
#ifndef FSB_LAUNCH_MOUNT_SPEC_H
#define FSB_LAUNCH_MOUNT_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#define MOUNT_MAX 8                     /* --mount options per VM */
#define MOUNT_SOCK_FMT "m%d.sock"       /* the server's socket in the state dir */

struct mount_share {
	char host[4096];        /* resolved, an existing directory */
	char guest[1024];       /* absolute path in the guest root */
	bool ro;
	char symlinks[8];       /* deny, opaque, follow, or "" (the server's default) */
};

/* Parses spec into m (resolving HOST); 0, or -errno with why in err
 * (-EINVAL for bad syntax). */
int mount_parse_spec(const char *spec, struct mount_share *m, char *err, size_t errlen);

/* The `fsbridge serve -o` options of m ("ro,symlinks=deny"), or "" for none. */
void mount_serve_opts(const struct mount_share *m, char *out, size_t size);

/* "HOST:GUEST:rw:symlinks=... ..." (what the state dir's mounts holds). */
void mount_list_text(const struct mount_share *m, int n, char *out, size_t size);

#endif
