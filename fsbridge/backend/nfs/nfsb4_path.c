/*
 * nfsb4_path: the NFS backend's NFSv4 COMPOUNDs by path, for nodes
 * without a handle and for finding a handle again: each starts at the
 * server's root (PUTROOTFH) and LOOKUPs every component of the export
 * and of the path, none of which ever follows a symlink.
 *   walk      PUTROOTFH LOOKUP... GETFH GETATTR
 *   setattr   PUTROOTFH LOOKUP... SETATTR (anonymous stateid)
 *   link      PUTROOTFH LOOKUP...(old) SAVEFH PUTROOTFH LOOKUP...(dir) LINK
 *   mknod     PUTROOTFH LOOKUP...(dir) CREATE (a fifo, socket or device)
 * A request is built on the heap (struct nfsb4_req: as many ops as the
 * paths have names, and copies of the names) and run by nfsb_sync.c.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "nfsb_int.h"

/* A COMPOUND being built: its ops and the strings they point into. */
struct nfsb4_req {
	nfs_argop4 *ops;
	unsigned int n, max;
	unsigned int nbufs;
	char bufs[6][NFSB_PATH_MAX];
	uint32_t mask[2];
	struct nfsb4_xdr attrs;
};

static unsigned int
nfsb4_count_names(const char *path)
{
	unsigned int n = 0;

	for (; *path != '\0'; path++)
		if (*path != '/' && (path[1] == '/' || path[1] == '\0'))
			n++;
	return n;
}

static struct nfsb4_req *
nfsb4_req_new(unsigned int max)
{
	struct nfsb4_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->max = max;
	r->ops = calloc(max, sizeof(*r->ops));
	if (r->ops == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

static void
nfsb4_req_free(struct nfsb4_req *r)
{
	if (r == NULL)
		return;
	free(r->ops);
	free(r);
}

/* The next op of r, or NULL if r is full. */
static nfs_argop4 *
nfsb4_req_op(struct nfsb4_req *r, nfs_opnum4 op)
{
	if (r->n >= r->max)
		return NULL;
	r->ops[r->n].argop = op;
	return &r->ops[r->n++];
}

/* A string kept as long as r, or NULL. */
static char *
nfsb4_req_str(struct nfsb4_req *r, const char *s)
{
	if (r->nbufs >= 6 || strlen(s) >= NFSB_PATH_MAX)
		return NULL;
	strcpy(r->bufs[r->nbufs], s);
	return r->bufs[r->nbufs++];
}

/* An op about name (copied into r), or NULL if r is full. */
static nfs_argop4 *
nfsb4_req_named(struct nfsb4_req *r, nfs_opnum4 opnum, const char *name,
    char **copy)
{
	*copy = nfsb4_req_str(r, name);
	return *copy != NULL ? nfsb4_req_op(r, opnum) : NULL;
}

/* LOOKUP ops for each name of path (none ever follows a symlink). */
static int
nfsb4_req_lookups(struct nfsb4_req *r, const char *path)
{
	char *copy, *save = NULL, *name;
	nfs_argop4 *op;

	copy = nfsb4_req_str(r, path);
	if (copy == NULL)
		return -ENAMETOOLONG;
	for (name = strtok_r(copy, "/", &save); name != NULL; name = strtok_r(NULL, "/", &save)) {
		op = nfsb4_req_op(r, OP_LOOKUP);
		if (op == NULL)
			return -ENAMETOOLONG;
		op->nfs_argop4_u.oplookup.objname.utf8string_len = (u_int)strlen(name);
		op->nfs_argop4_u.oplookup.objname.utf8string_val = name;
	}
	return 0;
}

/* Make path (relative to the export) the current filehandle. */
static int
nfsb4_req_walk(struct nfsb4_req *r, struct backend_nfs *nb, const char *path)
{
	int rc;

	if (nfsb4_req_op(r, OP_PUTROOTFH) == NULL)
		return -ENAMETOOLONG;
	rc = nfsb4_req_lookups(r, nb->export);
	return rc != 0 ? rc : nfsb4_req_lookups(r, path);
}

/* A request with room for walks to p1 (and p2, or NULL) plus `extra`
 * ops, walked to p1: NULL (*rc -ENOMEM), or r (*rc the walk's). */
static struct nfsb4_req *
nfsb4_req_at(struct backend_nfs *nb, const char *p1, const char *p2,
    unsigned int extra, int *rc)
{
	unsigned int n = extra + 2 * (1 + nfsb4_count_names(nb->export));
	struct nfsb4_req *r;

	n += nfsb4_count_names(p1) + (p2 != NULL ? nfsb4_count_names(p2) : 0);
	r = nfsb4_req_new(n);
	*rc = r != NULL ? nfsb4_req_walk(r, nb, p1) : -ENOMEM;
	return r;
}

static int
nfsb4_req_run(struct nfsb4_req *r, struct nfsb_conn *c, struct nfsb4_out *out)
{
	return nfsb4_compound(c, r->ops, r->n, out);
}

/* PUTROOTFH LOOKUP... GETFH GETATTR: path (relative to the export) by
 * LOOKUPs from the server's root, none following a link. */
int
nfsb4_walk(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    struct nfsb4_out *o)
{
	struct nfsb4_req *r;
	nfs_argop4 *op;
	int rc;

	memset(o, 0, sizeof(*o));
	r = nfsb4_req_at(nb, path, NULL, 2, &rc);
	if (r == NULL)
		return rc;
	if (rc == 0 && (nfsb4_req_op(r, OP_GETFH) == NULL ||
	    (op = nfsb4_req_op(r, OP_GETATTR)) == NULL))
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		op->nfs_argop4_u.opgetattr.attr_request.bitmap4_len = 2;
		op->nfs_argop4_u.opgetattr.attr_request.bitmap4_val = nfsb4_attr_mask;
		rc = nfsb4_req_run(r, c, o);
	}
	nfsb4_req_free(r);
	free(o->link);
	o->link = NULL;
	if (rc == 0 && (o->fh.len == 0 || !o->has_st))
		rc = -EIO;
	return rc;
}

int
nfsb4_setattr(struct backend_nfs *nb, struct nfsb_conn *c, const char *path,
    const struct backend_setattr *sa)
{
	struct nfsb4_req *r;
	nfs_argop4 *op;
	int rc;

	r = nfsb4_req_at(nb, path, NULL, 1, &rc);
	if (r == NULL)
		return rc;
	if (rc == 0 && (op = nfsb4_req_op(r, OP_SETATTR)) == NULL)
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		memset(&op->nfs_argop4_u.opsetattr.stateid, 0, sizeof(stateid4));	/* anonymous */
		nfsb4_fattr(&op->nfs_argop4_u.opsetattr.obj_attributes, sa, r->mask, &r->attrs);
		rc = nfsb4_req_run(r, c, NULL);
	}
	nfsb4_req_free(r);
	return rc;
}

/* LINK: the current filehandle of oldpath saved, then the new directory. */
int
nfsb4_link(struct backend_nfs *nb, struct nfsb_conn *c, const char *oldpath,
    const char *newdir, const char *newname)
{
	struct nfsb4_req *r;
	nfs_argop4 *op = NULL;
	char *name;
	int rc;

	r = nfsb4_req_at(nb, oldpath, newdir, 2, &rc);
	if (r == NULL)
		return rc;
	if (rc == 0 && nfsb4_req_op(r, OP_SAVEFH) == NULL)
		rc = -ENAMETOOLONG;
	if (rc == 0)
		rc = nfsb4_req_walk(r, nb, newdir);
	if (rc == 0 && (op = nfsb4_req_named(r, OP_LINK, newname, &name)) == NULL)
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		op->nfs_argop4_u.oplink.newname.utf8string_len = (u_int)strlen(name);
		op->nfs_argop4_u.oplink.newname.utf8string_val = name;
		rc = nfsb4_req_run(r, c, NULL);
	}
	nfsb4_req_free(r);
	return rc;
}

/* CREATE of a fifo, socket or device node in dir. */
int
nfsb4_mknod(struct backend_nfs *nb, struct nfsb_conn *c, const char *dir,
    const char *name, mode_t mode, dev_t rdev)
{
	struct backend_setattr sa = { .valid = FSB_SET_MODE, .mode = mode & 07777 };
	CREATE4args *ca;
	struct nfsb4_req *r;
	nfs_argop4 *op = NULL;
	char *nm;
	int rc;

	r = nfsb4_req_at(nb, dir, NULL, 1, &rc);
	if (r == NULL)
		return rc;
	if (rc == 0 && (op = nfsb4_req_named(r, OP_CREATE, name, &nm)) == NULL)
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		ca = &op->nfs_argop4_u.opcreate;
		/* special files only: directories and links are made otherwise */
		if (S_ISDIR(mode) || S_ISLNK(mode) ||
		    nfsb4_mode_type(mode, &ca->objtype.type) != 0)
			rc = -EINVAL;
		ca->objtype.createtype4_u.devdata.specdata1 = major(rdev);
		ca->objtype.createtype4_u.devdata.specdata2 = minor(rdev);
		ca->objname.utf8string_len = (u_int)strlen(nm);
		ca->objname.utf8string_val = nm;
		nfsb4_fattr(&ca->createattrs, &sa, r->mask, &r->attrs);
	}
	if (rc == 0)
		rc = nfsb4_req_run(r, c, NULL);
	nfsb4_req_free(r);
	return rc;
}
