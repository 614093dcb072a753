/*
 * share-policy/policy.c: the decisions a share's policy implies.
 *
 * Owns: read-only checks, symlink creation/visibility/following and hard
 * links of symlinks (link_resolve.c walks where a link leads), which
 * node types may be created or opened, mode filtering (no setuid/setgid
 * unless suid), xattr namespace filtering, uid/gid mapping (and what a
 * host id without a client id may grant), hidden subtrees and
 * request-name checks.
 * Pure functions of their arguments: no I/O, no allocation, no globals.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

int
policy_check_write(const struct policy *p)
{
	return p->read_only ? -EROFS : 0;
}

int
policy_check_symlink_create(const struct policy *p)
{
	if (p->read_only)
		return -EROFS;
	return p->symlinks == POLICY_SYMLINKS_DENY ? -EPERM : 0;
}

int
policy_check_link(const struct policy *p, mode_t mode)
{
	if (p->read_only)
		return -EROFS;
	if (S_ISDIR(mode))
		return -EPERM;
	if (S_ISLNK(mode) && p->symlinks == POLICY_SYMLINKS_DENY)
		return -EPERM;
	return 0;
}

bool
policy_follows_symlinks(const struct policy *p)
{
	return p->symlinks == POLICY_SYMLINKS_FOLLOW;
}

/*
 * Does a relative target, read from a directory link_depth levels below
 * the root, stay at or below the root when its components are applied
 * lexically?  Empty components (repeated or trailing slashes) and "."
 * stay put, ".." climbs one level, anything else descends one.
 */
static bool
target_stays_inside(const char *target, unsigned int link_depth)
{
	unsigned long depth = link_depth;
	const char *c = target;
	size_t len;

	while (*c != '\0') {
		len = strcspn(c, "/");
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (depth == 0)
				return false;
			depth--;
		} else if (len > 0 && !(len == 1 && c[0] == '.')) {
			depth++;
		}
		c += len;
		if (*c == '/')
			c++;
	}
	return true;
}

bool
policy_symlink_visible(const struct policy *p, const char *target, unsigned int link_depth)
{
	if (p->symlinks != POLICY_SYMLINKS_DENY)
		return true;
	if (target == NULL || target[0] == '\0' || target[0] == '/')
		return false;
	return target_stays_inside(target, link_depth);
}

int
policy_check_create_type(const struct policy *p, mode_t mode)
{
	if (p->read_only)
		return -EROFS;
	switch (mode & S_IFMT) {
	case 0:		/* mknod(2): a zero type is a regular file */
	case S_IFREG:
	case S_IFDIR:
		return 0;
	case S_IFLNK:
		return policy_check_symlink_create(p);
	case S_IFIFO:
	case S_IFSOCK:
		return p->specials == POLICY_SPECIALS_NONE ? -EPERM : 0;
	case S_IFCHR:
	case S_IFBLK:
		return p->specials == POLICY_SPECIALS_ALL ? 0 : -EPERM;
	default:
		return -EPERM;
	}
}

int
policy_check_open_type(mode_t mode)
{
	if (S_ISREG(mode) || S_ISDIR(mode))
		return 0;
	return -EPERM;
}

mode_t
policy_filter_mode(const struct policy *p, mode_t mode)
{
	if (p->suid)
		return mode;
	return mode & ~(mode_t)(S_ISUID | S_ISGID);
}

/* The POLICY_XATTR_* bit of a name's namespace, or 0 if it has none we
 * know: the namespace must be followed by '.' and a non-empty rest. */
static unsigned int
xattr_namespace_bit(const char *name)
{
	static const struct {
		const char *prefix;
		unsigned int bit;
	} ns[] = {
		{ "user.", POLICY_XATTR_USER },
		{ "system.", POLICY_XATTR_SYSTEM },
		{ "security.", POLICY_XATTR_SECURITY },
		{ "trusted.", POLICY_XATTR_TRUSTED },
	};
	size_t i, plen;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		plen = strlen(ns[i].prefix);
		if (strncmp(name, ns[i].prefix, plen) == 0 && name[plen] != '\0')
			return ns[i].bit;
	}
	return 0;
}

bool
policy_xattr_allowed(const struct policy *p, const char *name)
{
	if (name == NULL)
		return false;
	return (xattr_namespace_bit(name) & p->xattr_allowed) != 0;
}

size_t
policy_xattr_filter_list(const struct policy *p, char *list, size_t len)
{
	size_t in = 0, out = 0, n;
	const char *nul;

	while (in < len) {
		nul = memchr(list + in, '\0', len - in);
		if (nul == NULL)
			break;	/* an unterminated tail is dropped */
		n = (size_t)(nul - (list + in)) + 1;
		if (policy_xattr_allowed(p, list + in)) {
			if (out != in)
				memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

/* Translate id through map, from the client side (to_host) or back,
 * into *out; false (and *out POLICY_ID_NOBODY) if no range holds it. */
static bool
idmap_find(const struct policy_idmap *map, uint32_t id, bool to_host, uint32_t *out)
{
	const struct policy_idmap_range *r;
	uint32_t from, to;
	size_t i;

	*out = id;
	if (map->nranges == 0)
		return true;
	for (i = 0; i < map->nranges && i < POLICY_IDMAP_MAX; i++) {
		r = &map->ranges[i];
		from = to_host ? r->client : r->host;
		to = to_host ? r->host : r->client;
		if (id >= from && id - from < r->count) {
			*out = to + (id - from);
			return true;
		}
	}
	*out = POLICY_ID_NOBODY;
	return false;
}

static uint32_t
idmap_translate(const struct policy_idmap *map, uint32_t id, bool to_host)
{
	uint32_t out;

	(void)idmap_find(map, id, to_host, &out);
	return out;
}

static bool
idmap_has(const struct policy_idmap *map, uint32_t id, bool to_host)
{
	uint32_t out;

	return idmap_find(map, id, to_host, &out);
}

bool
policy_uid_has_host(const struct policy *p, uint32_t client_uid)
{
	return idmap_has(&p->uidmap, client_uid, true);
}

bool
policy_gid_has_host(const struct policy *p, uint32_t client_gid)
{
	return idmap_has(&p->gidmap, client_gid, true);
}

bool
policy_uid_has_client(const struct policy *p, uint32_t host_uid)
{
	return idmap_has(&p->uidmap, host_uid, false);
}

bool
policy_gid_has_client(const struct policy *p, uint32_t host_gid)
{
	return idmap_has(&p->gidmap, host_gid, false);
}

mode_t
policy_mode_to_client(const struct policy *p, uint32_t host_uid, uint32_t host_gid,
    mode_t mode)
{
	mode_t other = mode & S_IRWXO;

	if (!policy_uid_has_client(p, host_uid))
		mode = (mode & ~(mode_t)S_IRWXU) | (other << 6);
	if (!policy_gid_has_client(p, host_gid))
		mode = (mode & ~(mode_t)S_IRWXG) | (other << 3);
	return mode;
}

int
policy_check_foreign_access(const struct policy *p, uint32_t host_uid,
    uint32_t host_gid, mode_t mode, unsigned int want)
{
	unsigned int granted;

	if (policy_uid_has_client(p, host_uid))
		return 0;
	granted = mode & S_IRWXO;
	if (policy_gid_has_client(p, host_gid))
		granted |= (mode & S_IRWXG) >> 3;
	want &= R_OK | W_OK | X_OK;
	return (want & ~granted) != 0 ? -EACCES : 0;
}

int
policy_check_foreign_owner(const struct policy *p, uint32_t host_uid)
{
	return policy_uid_has_client(p, host_uid) ? 0 : -EPERM;
}

uint32_t
policy_uid_to_host(const struct policy *p, uint32_t client_uid)
{
	return idmap_translate(&p->uidmap, client_uid, true);
}

uint32_t
policy_uid_to_client(const struct policy *p, uint32_t host_uid)
{
	return idmap_translate(&p->uidmap, host_uid, false);
}

uint32_t
policy_gid_to_host(const struct policy *p, uint32_t client_gid)
{
	return idmap_translate(&p->gidmap, client_gid, true);
}

uint32_t
policy_gid_to_client(const struct policy *p, uint32_t host_gid)
{
	return idmap_translate(&p->gidmap, host_gid, false);
}

int
policy_check_name(const char *name)
{
	size_t len;

	if (name == NULL)
		return -EINVAL;
	len = strnlen(name, NAME_MAX + 1);
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (memchr(name, '/', len) != NULL)
		return -EINVAL;
	return 0;
}

const char *
policy_hide_next(const struct policy *p, const char *prev)
{
	const char *next;

	if (p->nhide == 0)
		return NULL;
	if (prev == NULL)
		return p->hide;
	next = prev + strlen(prev) + 1;
	return next < p->hide + p->hide_used ? next : NULL;
}

struct policy_hide_pos
policy_hide_root(const struct policy *p)
{
	struct policy_hide_pos pos = { NULL, 0 };

	if (p->nhide > 0)
		pos.path = p->hide;
	return pos;
}

enum policy_hide
policy_hide_child(const struct policy *p, struct policy_hide_pos dir,
    const char *name, struct policy_hide_pos *child)
{
	enum policy_hide res = POLICY_HIDE_NONE;
	size_t nlen, clen;
	const char *r, *rest;

	child->path = NULL;
	child->len = 0;
	if (dir.path == NULL)
		return POLICY_HIDE_NONE;
	nlen = strlen(name);
	for (r = policy_hide_next(p, NULL); r != NULL; r = policy_hide_next(p, r)) {
		if (dir.len == 0) {
			rest = r;
		} else {
			if (strncmp(r, dir.path, dir.len) != 0 || r[dir.len] != '/')
				continue;
			rest = r + dir.len + 1;
		}
		/* the first byte first: most rules part there */
		if (rest[0] != name[0] || strncmp(rest, name, nlen) != 0 ||
		    (rest[nlen] != '/' && rest[nlen] != '\0'))
			continue;
		clen = nlen;
		if (rest[clen] == '\0') {
			child->path = NULL;
			child->len = 0;
			return POLICY_HIDE_HIDDEN;
		}
		if (res == POLICY_HIDE_NONE) {
			res = POLICY_HIDE_ON_PATH;
			child->path = r;
			child->len = (size_t)(rest - r) + clen;
		}
	}
	return res;
}

bool
policy_path_hidden(const struct policy *p, const char *path)
{
	struct policy_hide_pos pos = policy_hide_root(p), next;
	char comp[NAME_MAX + 1];
	size_t len;

	while (*path != '\0') {
		len = strcspn(path, "/");
		if (len > NAME_MAX)
			return false;
		if (len > 0 && !(len == 1 && path[0] == '.')) {
			memcpy(comp, path, len);
			comp[len] = '\0';
			switch (policy_hide_child(p, pos, comp, &next)) {
			case POLICY_HIDE_HIDDEN:
				return true;
			case POLICY_HIDE_NONE:
				return false;
			case POLICY_HIDE_ON_PATH:
				pos = next;
				break;
			}
		}
		path += len;
		if (*path == '/')
			path++;
	}
	return false;
}
