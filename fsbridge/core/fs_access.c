/*
 * fs_access: the checks the server makes itself, whatever the client's
 * kernel decided, for nodes whose host owner has no client id under the
 * share's uidmap/gidmap ("foreign" nodes, shown as owned by 65534).
 *
 * The client kernel checks permissions against the attributes we show
 * (default_permissions), and those are folded (policy_mode_to_client) so
 * that a caller whose ids equal the shown 65534 is "other".  But a kernel
 * also lets its root override modes, and lets the shown owner chmod,
 * chown or set times; the server runs with rights of its own (root, for
 * a mount with allow_other).  So for a foreign node the server grants
 * only what policy_check_foreign_access and _owner allow.  With no id
 * map every host id has a client id and nothing here costs a stat.
 *
 * Also the caller's own host ids, through the same maps: the owner of
 * what it creates (fs_cred), and its uid for a sticky directory.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"

static bool
fs_idmapped(const struct share *sh)
{
	return sh->policy.uidmap.nranges != 0 || sh->policy.gidmap.nranges != 0;
}

int
fs_check_access(struct share *sh, struct inode *in, unsigned int want)
{
	struct stat st;
	int rc;

	if (!fs_idmapped(sh) || want == 0)
		return 0;
	rc = sh->backend->ops->getattr(sh->backend, in, &st);
	if (rc != 0)
		return rc;
	return policy_check_foreign_access(&sh->policy, st.st_uid, st.st_gid,
	    st.st_mode, want);
}

unsigned int
fs_access_of_flags(int flags)
{
	unsigned int want = 0;

	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		want = R_OK;
		break;
	case O_WRONLY:
		want = W_OK;
		break;
	default:
		want = R_OK | W_OK;
		break;
	}
	if (flags & O_TRUNC)
		want |= W_OK;
	return want;
}

int
fs_check_setattr(struct share *sh, struct inode *in, int to_set)
{
	struct stat st;
	int rc;

	if (!fs_idmapped(sh))
		return 0;
	rc = sh->backend->ops->getattr(sh->backend, in, &st);
	if (rc != 0)
		return rc;
	/* the owner's rights: mode, ids, times other than "now" */
	if ((to_set & (FSB_SET_MODE | FSB_SET_UID | FSB_SET_GID)) ||
	    ((to_set & FSB_SET_ATIME) && !(to_set & FSB_SET_ATIME_NOW)) ||
	    ((to_set & FSB_SET_MTIME) && !(to_set & FSB_SET_MTIME_NOW))) {
		rc = policy_check_foreign_owner(&sh->policy, st.st_uid);
		if (rc != 0)
			return rc;
	}
	/* a size, or times set to now: whoever may write */
	if (to_set & (FSB_SET_SIZE | FSB_SET_ATIME | FSB_SET_MTIME))
		return policy_check_foreign_access(&sh->policy, st.st_uid,
		    st.st_gid, st.st_mode, W_OK);
	return 0;
}

int
fs_check_xattr(struct share *sh, struct inode *in, const char *name, bool set)
{
	struct stat st;
	int rc;

	if (!fs_idmapped(sh))
		return 0;
	rc = sh->backend->ops->getattr(sh->backend, in, &st);
	if (rc != 0)
		return rc;
	/* system.* (ACLs) is the owner's; user.* and the rest go with the
	 * right to read or write the file */
	if (set && strncmp(name, "system.", 7) == 0)
		return policy_check_foreign_owner(&sh->policy, st.st_uid);
	return policy_check_foreign_access(&sh->policy, st.st_uid, st.st_gid,
	    st.st_mode, set ? W_OK : R_OK);
}

int
fs_check_removal(struct share *sh, struct inode *dir, const char *name,
    uint32_t caller_host_uid)
{
	struct backend_entry be;
	struct stat dst;
	bool foreign;
	int rc;

	if (!fs_idmapped(sh))
		return 0;
	rc = sh->backend->ops->getattr(sh->backend, dir, &dst);
	if (rc != 0)
		return rc;
	rc = policy_check_foreign_access(&sh->policy, dst.st_uid, dst.st_gid,
	    dst.st_mode, W_OK | X_OK);
	if (rc != 0 || !(dst.st_mode & S_ISVTX))
		return rc;
	/* sticky: a foreign victim is not the caller's to remove, unless
	 * the caller owns the directory */
	if (sh->backend->ops->lookup(sh->backend, dir, name, false, &be) != 0)
		return 0;	/* the removal itself will say why */
	foreign = !policy_uid_has_client(&sh->policy, be.st.st_uid);
	sh->backend->ops->node_release(sh->backend, be.bdata);
	if (foreign && caller_host_uid != dst.st_uid)
		return -EPERM;
	return 0;
}

/*
 * The host ids a node the caller creates gets.  A caller whose uid or gid
 * has no host id may create nothing: -EACCES (its node would otherwise
 * belong to a real host user, 65534).
 */
int
fs_cred(fuse_req_t req, struct backend_cred *cred)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct share *sh = SHARE(req);

	cred->uid = policy_uid_to_host(&sh->policy, ctx->uid);
	cred->gid = policy_gid_to_host(&sh->policy, ctx->gid);
	if (!policy_uid_has_host(&sh->policy, ctx->uid) ||
	    !policy_gid_has_host(&sh->policy, ctx->gid))
		return -EACCES;
	return 0;
}

/* The caller's host uid, or UINT32_MAX when it has none. */
uint32_t
fs_caller_host_uid(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct share *sh = SHARE(req);

	if (!policy_uid_has_host(&sh->policy, ctx->uid))
		return UINT32_MAX;
	return policy_uid_to_host(&sh->policy, ctx->uid);
}
