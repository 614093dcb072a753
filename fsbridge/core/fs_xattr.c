/*
 * fs_xattr: extended attributes (SETXATTR, GETXATTR, LISTXATTR,
 * REMOVEXATTR) under the share's xattr= namespaces.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs_int.h"

/* A name the policy refuses: in a namespace Linux knows, the policy says
 * no (EPERM); in any other, no filesystem could store it (EOPNOTSUPP). */
static int
fs_xattr_refusal(const char *name)
{
	static const char *const known[] = { "user.", "system.", "security.", "trusted." };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(name, known[i], strlen(known[i])) == 0)
			return -EPERM;
	return -EOPNOTSUPP;
}

/*
 * xattr=none: ENOSYS, after which the client's kernel answers every xattr
 * call itself (EOPNOTSUPP, as a file system without xattrs) and stops
 * asking -- it otherwise asks for security.capability before every write.
 */
static bool
fs_no_xattrs(fuse_req_t req, struct share *sh)
{
	if (sh->policy.xattr_allowed != 0)
		return false;
	fuse_reply_err(req, ENOSYS);
	return true;
}

/*
 * The frame of SETXATTR (set) and REMOVEXATTR: a name the policy refuses
 * is EPERM/EOPNOTSUPP to set, ENODATA to remove.
 */
static void
fs_xattr_change(fuse_req_t req, fuse_ino_t ino, bool set, const char *name,
    const char *value, size_t size, int flags)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	int rc;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	rc = policy_check_write(&sh->policy);
	if (rc == 0 && !policy_xattr_allowed(&sh->policy, name))
		rc = set ? fs_xattr_refusal(name) : -ENODATA;
	if (rc == 0)
		rc = fs_check_xattr(sh, in, name, true);
	if (rc == 0) {
		fs_watch_self_begin(sh, in, NULL);
		rc = set ?
		    sh->backend->ops->setxattr(sh->backend, in, name, value, size, flags) :
		    sh->backend->ops->removexattr(sh->backend, in, name);
		fs_watch_self_end(sh, in, NULL);
	}
	fs_put(sh, in);
	fuse_reply_err(req, -rc);
}

void
fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
    size_t size, int flags)
{
	fs_xattr_change(req, ino, true, name, value, size, flags);
}

/* Reply to a size query (size 0) or with the data. */
static void
fs_reply_xattr_data(fuse_req_t req, size_t size, ssize_t n, const char *buf)
{
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void
fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	char *buf = NULL;
	ssize_t n;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	if (!policy_xattr_allowed(&sh->policy, name))
		n = -ENODATA;
	else if ((n = fs_check_xattr(sh, in, name, false)) != 0)
		;
	else if (size > 0 && (buf = malloc(size)) == NULL)
		n = -ENOMEM;
	else
		n = sh->backend->ops->getxattr(sh->backend, in, name, buf, size);
	fs_put(sh, in);
	fs_reply_xattr_data(req, size, n, buf);
	free(buf);
}

void
fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct share *sh = SHARE(req);
	struct inode *in;
	char *buf = NULL;
	ssize_t n, full;

	if (fs_no_xattrs(req, sh))
		return;
	in = fs_inode_or_estale(req, sh, ino);
	if (in == NULL)
		return;
	/* the filtered list is never longer than the whole one: read all of
	 * it, filter, then answer the size the client asked about */
	full = sh->backend->ops->listxattr(sh->backend, in, NULL, 0);
	n = full;
	if (full > 0) {
		buf = malloc((size_t)full);
		n = buf == NULL ? -ENOMEM :
		    sh->backend->ops->listxattr(sh->backend, in, buf, (size_t)full);
		if (n > 0)
			n = (ssize_t)policy_xattr_filter_list(&sh->policy, buf, (size_t)n);
	}
	fs_put(sh, in);
	if (n >= 0 && size > 0 && (size_t)n > size)
		n = -ERANGE;
	fs_reply_xattr_data(req, size, n, buf);
	free(buf);
}

void
fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fs_xattr_change(req, ino, false, name, NULL, 0, 0);
}
