/*
 * share-policy: the policy of one share and the decisions it implies.
 *
 * Pure decisions: nothing here opens, stats or otherwise touches a file.
 * The file server asks these functions "may I?" and "what mode/uid does
 * this become?"; parsing of `-o` option strings and of policy files also
 * lives here (policy_parse.c), so `fsbridge policy check` and the mount
 * share one reading of a policy.
 */
#ifndef SHARE_POLICY_POLICY_H
#define SHARE_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum policy_symlinks {
	POLICY_SYMLINKS_DENY,	/* no creation; links leading out are hidden */
	POLICY_SYMLINKS_OPAQUE,	/* default: stored verbatim, never followed */
	POLICY_SYMLINKS_FOLLOW,	/* trusted: the server follows targets */
};

enum policy_specials {
	POLICY_SPECIALS_NONE,	/* no fifo, socket or device may be created */
	POLICY_SPECIALS_PIPES,	/* default: fifos and sockets, no devices */
	POLICY_SPECIALS_ALL,	/* devices too (the server must be able to) */
};

enum policy_cache {
	POLICY_CACHE_NONE,
	POLICY_CACHE_AUTO,	/* default */
	POLICY_CACHE_ALWAYS,
};

/* xattr namespaces, as bits of policy.xattr_allowed */
#define POLICY_XATTR_USER	0x1u
#define POLICY_XATTR_SYSTEM	0x2u
#define POLICY_XATTR_SECURITY	0x4u
#define POLICY_XATTR_TRUSTED	0x8u
#define POLICY_XATTR_DEFAULT	(POLICY_XATTR_USER | POLICY_XATTR_SYSTEM)

#define POLICY_IDMAP_MAX 16

/* hide=PATH rules: at most this many, their normalized paths (each with
 * its NUL) in at most this many bytes */
#define POLICY_HIDE_MAX 256
#define POLICY_HIDE_BYTES 16384

/* One range of an id map: client ids [client, client+count) are host ids
 * [host, host+count). */
struct policy_idmap_range {
	uint32_t client;
	uint32_t host;
	uint32_t count;
};

struct policy_idmap {
	size_t nranges;
	struct policy_idmap_range ranges[POLICY_IDMAP_MAX];
};

struct policy {
	bool read_only;
	enum policy_symlinks symlinks;
	bool trust_client;	/* the client may steer the server (follow on rw) */
	enum policy_specials specials;
	bool suid;		/* trusted: setuid/setgid bits may be set and kept */
	enum policy_cache cache;
	unsigned int xattr_allowed;	/* POLICY_XATTR_* bits */
	struct policy_idmap uidmap;	/* empty: identity */
	struct policy_idmap gidmap;
	/* hidden subtrees: nhide paths relative to the share root, each
	 * normalized ("a/b": no leading, trailing or double '/', no "." or
	 * ".." component) and NUL-terminated, one after the other */
	unsigned int nhide;
	size_t hide_used;
	char hide[POLICY_HIDE_BYTES];
};

/*
 * Where a node stands relative to the hide rules: path[0..len) is its
 * path from the share root (len 0: the root itself), and a prefix of a
 * rule, pointing into the policy's own hide buffer (so it lives as long
 * as the policy).  path == NULL: no rule lies beneath the node.
 */
struct policy_hide_pos {
	const char *path;
	size_t len;
};

enum policy_hide {
	POLICY_HIDE_NONE,	/* visible, no rule beneath it */
	POLICY_HIDE_ON_PATH,	/* visible, a rule lies beneath it */
	POLICY_HIDE_HIDDEN,	/* the node is a hidden path */
};

/* Ids that a map cannot translate become this (the kernel's overflow id). */
#define POLICY_ID_NOBODY 65534u

/* --- construction and parsing (policy_parse.c) --- */

/* The default policy: rw, symlinks=opaque, specials=pipes, nosuid,
 * cache=auto, xattr=user:system, no id maps. */
void policy_init_default(struct policy *p);

/*
 * Apply one option "key" or "key=value" to a policy.  Keys:
 *   ro, rw, symlinks=deny|opaque|follow, trust_client,
 *   specials=none|pipes|all, suid, nosuid,
 *   cache=none|auto|always, xattr=none|NS[:NS...] (NS: user, system,
 *   security, trusted), uidmap=CLIENT:HOST[:COUNT], gidmap=... (each
 *   uidmap/gidmap option adds one range; ranges may not overlap on the
 *   client side nor on the host side, COUNT >= 1, and no range may reach
 *   id 4294967295, which chown(2) reads as "no change"),
 *   hide=PATH (PATH, relative to the share root, a leading '/' allowed,
 *   and everything beneath it are hidden: absent from listings, ENOENT
 *   to lookups; repeatable), expose=PATH (drops every earlier hide rule
 *   at or beneath PATH, so expose=/ drops them all; PATH inside a
 *   hidden path is an error).
 * Returns 0, -ENOENT for a key that is not a policy key (so the caller may
 * treat it as one of its own), or -EINVAL for a policy key with a bad
 * value; then a one-line reason is written to err (if errlen > 0).
 * On any error the policy is left unchanged.
 */
int policy_apply_option(struct policy *p, const char *opt, char *err, size_t errlen);

/* The longest line a policy file may have, in bytes. */
#define POLICY_LINE_MAX 4096

/*
 * Parse a policy file's text, all size bytes of it: one option per line
 * ("key" or "key = value", spaces around '=' allowed), '#' starts a
 * comment, blank lines ignored, a "\r\n" line end is as good as "\n", the
 * last line needs no newline.  A NUL byte anywhere, or a line longer than
 * POLICY_LINE_MAX, is an error.  On error returns -EINVAL and writes
 * "line N: reason" to err.  Unknown keys are errors here.  The lines are
 * applied on top of *p (start from policy_init_default for a file alone);
 * on error *p is left unchanged.
 */
int policy_parse_buf(struct policy *p, const char *text, size_t size, char *err, size_t errlen);
/* policy_parse_buf of a C string (its text up to the NUL). */
int policy_parse_text(struct policy *p, const char *text, char *err, size_t errlen);

/*
 * Is the policy, with all its options applied, one a server may run?
 * symlinks=follow on a writable share is refused unless trust_client is
 * set: the client could create `esc -> /` and have the server follow it
 * on the host.  0, or -EINVAL with a one-line reason in err.
 */
int policy_check_combination(const struct policy *p, char *err, size_t errlen);

/* Write the effective policy, one "key = value" per line ("ro"/"rw"
 * alone), in the file syntax: parsed into a default policy, the output
 * gives back the same policy. */
void policy_print(const struct policy *p, FILE *out);

const char *policy_symlinks_name(enum policy_symlinks s);
const char *policy_specials_name(enum policy_specials s);
const char *policy_cache_name(enum policy_cache c);

/* hide=PATH / expose=PATH, as the options (policy_apply_option) do. */
int policy_hide_add(struct policy *p, const char *path, char *err, size_t errlen);
int policy_expose(struct policy *p, const char *path, char *err, size_t errlen);

/* The hide rules in order: policy_hide_next(p, NULL) is the first,
 * NULL after the last. */
const char *policy_hide_next(const struct policy *p, const char *prev);

/* --- decisions (policy.c) --- */

/* The share root's position: on the path of every rule, or (no rules)
 * path NULL. */
struct policy_hide_pos policy_hide_root(const struct policy *p);

/*
 * The child `name` of a directory at `dir`: hidden, on a rule's path
 * (*child is then its position), or neither (*child->path NULL).  A dir
 * with no rule beneath it gives NONE at once: the cost falls only on
 * the directories that lead to hidden paths.
 */
enum policy_hide policy_hide_child(const struct policy *p, struct policy_hide_pos dir,
    const char *name, struct policy_hide_pos *child);

/* Is the path (relative to the root, '/'-separated, leading '/' and
 * repeated '/' allowed) hidden, or inside a hidden path? */
bool policy_path_hidden(const struct policy *p, const char *path);


/* May a mutation happen at all?  0 or -EROFS. */
int policy_check_write(const struct policy *p);

/* May a symlink be created?  0, -EROFS or -EPERM (deny). */
int policy_check_symlink_create(const struct policy *p);

/*
 * Is an existing symlink visible?  link_depth is the number of
 * directories between the share root and the directory holding the link
 * (0: the link is in the root).  Under deny, a link whose target is
 * absolute, empty, or climbs (lexically, by its ".." components) above
 * the share root is hidden; under opaque and follow every link is
 * visible.  Lexically: empty components (repeated or trailing '/') and
 * "." stay put, ".." climbs one, any other name descends one, and the
 * link is hidden if the walk ever climbs above the root ("a/../../x" at
 * depth 1 stays inside; at depth 0 it does not).
 */
bool policy_symlink_visible(const struct policy *p, const char *target, unsigned int link_depth);

/*
 * Where does a link really lead (symlinks=deny)?  The link's target is
 * walked from the link's directory, link_depth levels below the root, as
 * a kernel would: "." and empty components stay, ".." climbs, a name
 * descends and, if the probe finds a symlink there, its target is walked
 * in its place from the directory holding it (at most
 * POLICY_LINK_RESOLVE_MAX links).  The probe is asked about each path
 * reached, as `up` levels above the link's directory and then down
 * through `down` (names joined by '/', no "." or ".."; "" for that
 * directory itself is never asked): 0 if something other than a symlink
 * is there, 1 and the link's target in buf if a symlink, -ENOENT or
 * -ENOTDIR if nothing is (the rest of the walk is then lexical), another
 * -errno to give up.  A NULL probe walks lexically.
 * Returns 0 if the walk stays at or below the root, -EXDEV if it climbs
 * above it or meets an absolute or empty target, -ELOOP past the bound,
 * or the probe's or another -errno: anything but 0 means "leads out".
 */
#define POLICY_LINK_RESOLVE_MAX 40
typedef int (*policy_link_probe)(void *ctx, unsigned int up, const char *down,
    char *buf, size_t size);
int policy_link_resolve(const char *target, unsigned int link_depth,
    policy_link_probe probe, void *ctx);

/* May the client hard-link this node (type in mode)?  0, -EROFS, or
 * -EPERM for a directory and, under symlinks=deny, for a symlink (a link
 * made elsewhere could lead out from there). */
int policy_check_link(const struct policy *p, mode_t mode);

/* Should the server follow symlinks on the host (symlinks=follow)? */
bool policy_follows_symlinks(const struct policy *p);

/*
 * May a node of this type (S_IFREG, S_IFDIR, S_IFIFO, S_IFSOCK, S_IFCHR,
 * S_IFBLK in `mode`) be created by mknod/create/mkdir?  0, -EROFS or
 * -EPERM.  -EROFS comes first.  A zero type counts as S_IFREG (as for
 * mknod(2)); S_IFLNK gets policy_check_symlink_create's answer.
 */
int policy_check_create_type(const struct policy *p, mode_t mode);

/* May the server open this node on the host for a client?  Only regular
 * files and directories: 0; fifos, sockets and devices: -EPERM (they are
 * never opened on the host). */
int policy_check_open_type(mode_t mode);

/* The mode bits a create/mkdir/mknod/chmod may set: S_ISUID and S_ISGID
 * removed (on directories too: setgid is not gained through a share),
 * unless the share is trusted with them (suid): then mode as it is. */
mode_t policy_filter_mode(const struct policy *p, mode_t mode);

/* xattr names.  Namespace is the part before the first '.'.
 * policy_xattr_allowed: may this name be read or written?  A name without
 * a '.', or with nothing after it ("user."), is never allowed. */
bool policy_xattr_allowed(const struct policy *p, const char *name);

/* Filter a listxattr buffer (NUL-separated names) in place, keeping the
 * allowed names in order; returns the new length.  A last name without
 * its NUL is dropped. */
size_t policy_xattr_filter_list(const struct policy *p, char *list, size_t len);

/* id mapping.  Identity when the map is empty; an id outside every range
 * maps to POLICY_ID_NOBODY in either direction. */
uint32_t policy_uid_to_host(const struct policy *p, uint32_t client_uid);
uint32_t policy_uid_to_client(const struct policy *p, uint32_t host_uid);
uint32_t policy_gid_to_host(const struct policy *p, uint32_t client_gid);
uint32_t policy_gid_to_client(const struct policy *p, uint32_t host_gid);

/* Has this id a mapping, from the client side (_has_host) or from the
 * host side (_has_client)?  Always, with an empty map. */
bool policy_uid_has_host(const struct policy *p, uint32_t client_uid);
bool policy_gid_has_host(const struct policy *p, uint32_t client_gid);
bool policy_uid_has_client(const struct policy *p, uint32_t host_uid);
bool policy_gid_has_client(const struct policy *p, uint32_t host_gid);

/*
 * Host ids without a client id.  A host owner (group) with no client id
 * is shown as POLICY_ID_NOBODY, an id a real client process may have:
 * such an owner (group) must give nobody its rights.  So:
 *
 * policy_mode_to_client: the mode a client is shown for a node of these
 * host ids and mode: the owner bits (rwx) replaced by the other bits when
 * the owner has no client id, the group bits likewise when the group has
 * none; a client kernel that checks permissions against the shown
 * attributes (default_permissions) then treats a caller whose ids equal
 * the shown 65534 as "other".
 *
 * policy_check_foreign_access: what the server itself enforces for such
 * a node, whoever the caller says it is (the client's root included):
 * when the host owner has no client id, an access `want` (R_OK, W_OK,
 * X_OK bits) is allowed only if the other bits grant it, or the group
 * bits with a group that has a client id (a member may be asking).  0 or
 * -EACCES.  A node whose owner has a client id is left to the client
 * kernel's check: 0.
 *
 * policy_check_foreign_owner: the owner's rights (chmod, chown, chgrp,
 * setting times, ACLs) on a node whose host owner has no client id
 * belong to no client: -EPERM; otherwise 0.
 */
mode_t policy_mode_to_client(const struct policy *p, uint32_t host_uid,
    uint32_t host_gid, mode_t mode);
int policy_check_foreign_access(const struct policy *p, uint32_t host_uid,
    uint32_t host_gid, mode_t mode, unsigned int want);
int policy_check_foreign_owner(const struct policy *p, uint32_t host_uid);

/*
 * A name from a request must be exactly one path component: not empty,
 * not "." or "..", no '/', shorter than NAME_MAX+1 bytes.  0 or -EINVAL
 * (-ENAMETOOLONG for a long name).
 */
int policy_check_name(const char *name);

#endif
