/*
 * nfsb4_fh: the NFS backend's NFSv4 requests by file handle (PUTFH), and
 * finding a handle again when the server no longer knows it.
 *
 * Over NFSv4 a node keeps the server's file handle (all but those found
 * by following a link, which have none and are reached by path), and
 * these requests start from the handles of the nodes they are about
 * (PUTFH), never from a path:
 *   lookup          PUTFH(dir) LOOKUP(name) GETFH GETATTR
 *   getattr         PUTFH GETATTR
 *   setattr         PUTFH SETATTR GETATTR (anonymous stateid)
 *   readlink        PUTFH READLINK
 *   mkdir, symlink, mknod of a special file
 *                   PUTFH(dir) CREATE GETFH GETATTR
 *   unlink, rmdir   PUTFH(dir) LOOKUP VERIFY|NVERIFY(type) PUTFH(dir) REMOVE
 *   rename          PUTFH(olddir) SAVEFH PUTFH(newdir) RENAME
 *   link            PUTFH(node) SAVEFH PUTFH(newdir) LINK LOOKUP GETFH GETATTR
 *   O_TRUNC at open PUTFH SETATTR(size 0), once the file is open by path
 *   opendir/readdir PUTFH(dir) READDIR(cookie, cookieverf), a page (64 KiB)
 *                   at a time as it is read, asking for each entry's
 *                   attributes and FILEHANDLE (and RDATTR_ERROR): an entry
 *                   comes back with a node, so READDIRPLUS makes no LOOKUP
 *                   (one that came without them is looked up by handle)
 * so none of them follows, or even meets, a symlink on the way: a
 * directory replaced by a link on the server since we looked it up is
 * not walked through.  A handle the server no longer knows (STALE,
 * FHEXPIRED, BADHANDLE: a server without persistent handles restarted,
 * or, with Ganesha's VFS FSAL, a directory renamed behind its back) is
 * found again by walking the node's last-known path (kept by the inode
 * table, inode_table_location) with LOOKUPs from the server's root, and
 * kept only if the same fileid is there; the request is made again once
 * (it never ran: its PUTFH failed).  Otherwise it fails with ESTALE.
 * Whether a request is made again after a lost connection is said where
 * it is made (nfsb4_again: NFSB4_IDEMPOTENT for lookup, getattr,
 * readlink, readdir; NFSB4_ONCE or NFSB4_STALE_ONLY for the mutations:
 * nfsb_conn.c says why).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "nfsb_int.h"

#define NFSB4_OPS_MAX	8

/* A COMPOUND by handle, built on the stack.  The handles and names its
 * ops point to are the caller's, alive until it has run. */
struct nfsb4_cmp {
	nfs_argop4 ops[NFSB4_OPS_MAX];
	unsigned int n;
	bool overflow;
	uint32_t mask[2];		/* SETATTR/CREATE attributes */
	struct nfsb4_xdr attrs;
	uint32_t vmask;			/* [N]VERIFY: the type is a directory */
	char vtype[4];
	struct nfsb4_dirpage *page;	/* READDIR's entries go here */
	struct nfsb4_fh fhs[2];		/* copies of the nodes' handles */
	unsigned int nfh;
};

static nfs_argop4 *
nfsb4_op(struct nfsb4_cmp *m, nfs_opnum4 opnum)
{
	nfs_argop4 *op;

	if (m->n >= NFSB4_OPS_MAX) {
		m->overflow = true;	/* a bug: refused by nfsb4_cmp_run */
		op = &m->ops[NFSB4_OPS_MAX - 1];
	} else
		op = &m->ops[m->n++];
	memset(op, 0, sizeof(*op));
	op->argop = opnum;
	return op;
}

static void
nfsb4_str(utf8string *u, const char *s)
{
	u->utf8string_len = (u_int)strlen(s);
	u->utf8string_val = (char *)s;
}

static void
nfsb4_putfh(struct nfsb4_cmp *m, const struct nfsb4_fh *fh)
{
	nfs_fh4 *o = &nfsb4_op(m, OP_PUTFH)->nfs_argop4_u.opputfh.object;

	o->nfs_fh4_len = fh->len;
	o->nfs_fh4_val = (char *)fh->val;
}

/* PUTFH of in's handle, as it is now (a copy kept in m: another thread
 * may find in's handle again meanwhile). */
static void
nfsb4_putfh_node(struct backend_nfs *nb, struct nfsb4_cmp *m, struct inode *in)
{
	struct nfsb4_fh *fh = &m->fhs[m->nfh < 2 ? m->nfh++ : 1];

	nfsb_node_fh(nb, in, fh);
	nfsb4_putfh(m, fh);
}

static void
nfsb4_lookup(struct nfsb4_cmp *m, const char *name)
{
	nfsb4_str(&nfsb4_op(m, OP_LOOKUP)->nfs_argop4_u.oplookup.objname, name);
}

static void
nfsb4_getattr(struct nfsb4_cmp *m)
{
	bitmap4 *b = &nfsb4_op(m, OP_GETATTR)->nfs_argop4_u.opgetattr.attr_request;

	b->bitmap4_len = 2;
	b->bitmap4_val = nfsb4_attr_mask;
}

/* The handle and attributes of the current object. */
static void
nfsb4_getfh_attrs(struct nfsb4_cmp *m)
{
	nfsb4_op(m, OP_GETFH);
	nfsb4_getattr(m);
}

/* VERIFY (or NVERIFY) that the current object is a directory. */
static void
nfsb4_verify_dir(struct nfsb4_cmp *m, bool is_dir)
{
	nfs_argop4 *op = nfsb4_op(m, is_dir ? OP_VERIFY : OP_NVERIFY);
	fattr4 *fa = is_dir ? &op->nfs_argop4_u.opverify.obj_attributes :
	    &op->nfs_argop4_u.opnverify.obj_attributes;
	uint32_t be = htonl(NF4DIR);

	m->vmask = 1u << FATTR4_TYPE;
	memcpy(m->vtype, &be, 4);
	fa->attrmask.bitmap4_len = 1;
	fa->attrmask.bitmap4_val = &m->vmask;
	fa->attr_vals.attrlist4_len = 4;
	fa->attr_vals.attrlist4_val = m->vtype;
}

static int
nfsb4_cmp_run(struct nfsb_conn *c, struct nfsb4_cmp *m, struct nfsb4_out *out)
{
	memset(out, 0, sizeof(*out));
	out->page = m->page;
	if (m->overflow)
		return -EIO;
	return nfsb4_compound(c, m->ops, m->n, out);
}

/* The attributes a request by handle brought back, checked to be in's. */
static int
nfsb4_same(struct inode *in, const struct nfsb4_out *o, struct stat *st)
{
	struct nfsb_node *n = nfsb_node_of(in);

	if (!o->has_st)
		return -EIO;
	if (!n->root && (uint64_t)o->st.st_ino != n->ino)
		return -ESTALE;
	*st = o->st;
	return 0;
}

/*
 * Find in's handle again by its last-known path after the server said
 * it no longer knows the old one: 0 if the same fileid is there.
 */
static int
nfsb4_rewalk(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in)
{
	struct nfsb_node *n = nfsb_node_of(in);
	char path[NFSB_PATH_MAX];
	struct nfsb4_out o;
	int rc;

	rc = nfsb_path(nb, in, path, sizeof(path));
	if (rc == 0)
		rc = nfsb4_walk(nb, c, path, &o);
	if (rc == 0 && !n->root && (uint64_t)o.st.st_ino != n->ino)
		rc = -ESTALE;
	if (rc == -ENOENT || rc == -ENOTDIR)
		rc = -ESTALE;
	if (rc == 0) {
		pthread_mutex_lock(&nb->fh_lock);
		n->fh = o.fh;
		pthread_mutex_unlock(&nb->fh_lock);
	}
	return rc;
}

/*
 * After a request by handle about a (and b) failed with rc: if the
 * server did not know a handle, find them again; true if the request
 * should be made once more (it never ran: its PUTFH failed).
 */
static bool
nfsb4_stale_retry(struct backend_nfs *nb, struct nfsb_conn *c, int rc, int *tries,
    struct inode *a, struct inode *b)
{
	if (rc != -ESTALE || (*tries)++ > 0 || c->nfs == NULL)
		return false;
	if (nfsb4_rewalk(nb, c, a) != 0)
		return false;
	return b == NULL || b == a || nfsb4_rewalk(nb, c, b) == 0;
}

/*
 * After a request by handle about a (and b) returned *rc on c: make it
 * again?  Once if the server no longer knew a handle, found again (the
 * request never ran: its PUTFH failed).  After a lost connection, as
 * redo says: NFSB4_IDEMPOTENT again once, NFSB4_ONCE not (it may have
 * run: -EIO, nfsb_conn_retry), NFSB4_STALE_ONLY left to the caller.
 */
bool
nfsb4_again(struct backend_nfs *nb, struct nfsb_conn *c, int *rc,
    struct nfsb4_tries *t, enum nfsb4_redo redo, struct inode *a, struct inode *b)
{
	int once = 1;

	if (nfsb4_stale_retry(nb, c, *rc, &t->stale, a, b))
		return true;
	switch (redo) {
	case NFSB4_IDEMPOTENT:
		return nfsb_conn_retry(nb, c, rc, true, &t->conn);
	case NFSB4_ONCE:
		nfsb_conn_retry(nb, c, rc, false, &once);	/* never true */
		break;
	case NFSB4_STALE_ONLY:
		break;
	}
	return false;
}

/* A new node from what a request by handle brought back. */
int
nfsb4_entry(struct backend_nfs *nb, const struct nfsb4_out *o, struct backend_entry *out)
{
	struct nfsb_node *n;

	if (!o->has_st || o->fh.len == 0)
		return -EIO;
	out->st = o->st;
	nfsb_key_entry(nb, &out->st);
	n = nfsb_node_new(&out->st, false);
	if (n == NULL)
		return -ENOMEM;
	n->fh = o->fh;
	out->bdata = n;
	return 0;
}

/* PUTFH(dir) LOOKUP(name) GETFH GETATTR: dir/name, never followed. */
int
nfsb4_fh_lookup(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *dir,
    const char *name, struct nfsb4_out *o)
{
	struct nfsb4_cmp m = { .n = 0 };

	nfsb4_putfh_node(nb, &m, dir);
	nfsb4_lookup(&m, name);
	nfsb4_getfh_attrs(&m);
	return nfsb4_cmp_run(c, &m, o);
}

/* PUTFH GETATTR */
int
nfsb4_fh_getattr(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    struct stat *st)
{
	struct nfsb4_cmp m = { .n = 0 };
	struct nfsb4_out o;
	int rc;

	nfsb4_putfh_node(nb, &m, in);
	nfsb4_getattr(&m);
	rc = nfsb4_cmp_run(c, &m, &o);
	return rc != 0 ? rc : nfsb4_same(in, &o, st);
}

/* PUTFH SETATTR(anonymous stateid) GETATTR */
int
nfsb4_fh_setattr_at(struct backend_nfs *nb, struct nfsb_conn *c, const struct nfsb4_fh *fh,
    const struct backend_setattr *sa, struct nfsb4_out *o)
{
	struct nfsb4_cmp m = { .n = 0 };
	nfs_argop4 *op;

	nfsb4_putfh(&m, fh);
	op = nfsb4_op(&m, OP_SETATTR);
	nfsb4_fattr(&op->nfs_argop4_u.opsetattr.obj_attributes, sa, m.mask, &m.attrs);
	nfsb4_getattr(&m);
	return nfsb4_cmp_run(c, &m, o);
}

int
nfsb4_fh_setattr(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    const struct backend_setattr *sa, struct stat *st)
{
	struct nfsb4_fh fh;
	struct nfsb4_out o;
	int rc;

	nfsb_node_fh(nb, in, &fh);
	rc = nfsb4_fh_setattr_at(nb, c, &fh, sa, &o);
	if (rc != 0)
		return rc;
	return st != NULL ? nfsb4_same(in, &o, st) : 0;
}

/* PUTFH READLINK: the target, exactly as long as the server says. */
int
nfsb4_fh_readlink(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    char **target)
{
	struct nfsb4_cmp m = { .n = 0 };
	struct nfsb4_out o;
	int rc;

	nfsb4_putfh_node(nb, &m, in);
	nfsb4_op(&m, OP_READLINK);
	rc = nfsb4_cmp_run(c, &m, &o);
	if (rc == 0 && o.link == NULL)
		rc = -EIO;
	if (rc != 0) {
		free(o.link);
		return rc;
	}
	*target = o.link;
	return 0;
}

/* PUTFH(dir) CREATE(name) GETFH GETATTR: a directory, symlink or
 * special file. */
int
nfsb4_fh_create(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *dir,
    const char *name, mode_t mode, dev_t rdev, const char *target, struct nfsb4_out *o)
{
	struct backend_setattr sa = { .valid = FSB_SET_MODE, .mode = mode & 07777 };
	struct nfsb4_cmp m = { .n = 0 };
	CREATE4args *ca;

	nfsb4_putfh_node(nb, &m, dir);
	ca = &nfsb4_op(&m, OP_CREATE)->nfs_argop4_u.opcreate;
	if (nfsb4_mode_type(mode, &ca->objtype.type) != 0)
		return -EINVAL;
	if (S_ISLNK(mode))
		nfsb4_str(&ca->objtype.createtype4_u.linkdata, target);
	else {
		ca->objtype.createtype4_u.devdata.specdata1 = major(rdev);
		ca->objtype.createtype4_u.devdata.specdata2 = minor(rdev);
		nfsb4_fattr(&ca->createattrs, &sa, m.mask, &m.attrs);
	}
	nfsb4_str(&ca->objname, name);
	nfsb4_getfh_attrs(&m);
	return nfsb4_cmp_run(c, &m, o);
}

/* PUTFH(dir) LOOKUP(name) [N]VERIFY(a directory) PUTFH(dir) REMOVE(name):
 * the type is checked in the same request that removes. */
int
nfsb4_fh_remove(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *dir,
    const char *name, bool is_dir)
{
	struct nfsb4_cmp m = { .n = 0 };
	struct nfsb4_out o;
	int rc;

	nfsb4_putfh_node(nb, &m, dir);
	nfsb4_lookup(&m, name);
	nfsb4_verify_dir(&m, is_dir);
	nfsb4_putfh(&m, &m.fhs[0]);
	nfsb4_str(&nfsb4_op(&m, OP_REMOVE)->nfs_argop4_u.opremove.target, name);
	rc = nfsb4_cmp_run(c, &m, &o);
	if (o.status == NFS4ERR_NOT_SAME && o.failed == OP_VERIFY)
		rc = -ENOTDIR;
	else if (o.status == NFS4ERR_SAME && o.failed == OP_NVERIFY)
		rc = -EISDIR;
	return rc;
}

/* PUTFH(olddir) SAVEFH PUTFH(newdir) RENAME */
int
nfsb4_fh_rename(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *olddir,
    const char *oldname, struct inode *newdir, const char *newname)
{
	struct nfsb4_cmp m = { .n = 0 };
	struct nfsb4_out o;
	RENAME4args *ra;

	nfsb4_putfh_node(nb, &m, olddir);
	nfsb4_op(&m, OP_SAVEFH);
	nfsb4_putfh_node(nb, &m, newdir);
	ra = &nfsb4_op(&m, OP_RENAME)->nfs_argop4_u.oprename;
	nfsb4_str(&ra->oldname, oldname);
	nfsb4_str(&ra->newname, newname);
	return nfsb4_cmp_run(c, &m, &o);
}

/* PUTFH(in) SAVEFH PUTFH(newdir) LINK LOOKUP GETFH GETATTR */
int
nfsb4_fh_link(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *in,
    struct inode *newdir, const char *newname, struct nfsb4_out *o)
{
	struct nfsb4_cmp m = { .n = 0 };

	nfsb4_putfh_node(nb, &m, in);
	nfsb4_op(&m, OP_SAVEFH);
	nfsb4_putfh_node(nb, &m, newdir);
	nfsb4_str(&nfsb4_op(&m, OP_LINK)->nfs_argop4_u.oplink.newname, newname);
	nfsb4_lookup(&m, newname);
	nfsb4_getfh_attrs(&m);
	return nfsb4_cmp_run(c, &m, o);
}

/* How much of a listing one READDIR asks for: its names and cookies, and
 * the whole reply (libnfs takes replies of up to 1 MiB). */
#define NFSB4_READDIR_DIRCOUNT	16384
#define NFSB4_READDIR_MAXCOUNT	65536

/* PUTFH(dir) READDIR(cookie): the next page of dir's listing, each entry
 * with its attributes and handle.  page is emptied first. */
int
nfsb4_fh_readdir(struct backend_nfs *nb, struct nfsb_conn *c, struct inode *dir,
    uint64_t cookie, const char *verf, struct nfsb4_dirpage *page)
{
	struct nfsb4_cmp m = { .n = 0 };
	struct nfsb4_out o;
	READDIR4args *ra;
	int rc;

	nfsb4_page_clear(page);
	nfsb4_putfh_node(nb, &m, dir);
	ra = &nfsb4_op(&m, OP_READDIR)->nfs_argop4_u.opreaddir;
	ra->cookie = cookie;
	memcpy(ra->cookieverf, verf, sizeof(ra->cookieverf));
	ra->dircount = NFSB4_READDIR_DIRCOUNT;
	ra->maxcount = NFSB4_READDIR_MAXCOUNT;
	ra->attr_request.bitmap4_len = 2;
	ra->attr_request.bitmap4_val = nfsb4_readdir_mask;
	m.page = page;
	rc = nfsb4_cmp_run(c, &m, &o);
	if (o.status == NFS4ERR_BAD_COOKIE || o.status == NFS4ERR_NOT_SAME)
		return -EAGAIN;		/* the directory changed: start again */
	return rc;
}
