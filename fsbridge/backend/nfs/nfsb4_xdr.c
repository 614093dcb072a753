/*
 * nfsb4_xdr: the NFS backend's NFSv4 encoding and decoding, with no I/O:
 * NFSv4 statuses as -errno; the attributes our GETATTRs and READDIRs ask
 * for; the fattr4 of a setattr (SETATTR, CREATE); and what a COMPOUND
 * reply brings back (nfsb4_decode: handles, attributes, link targets,
 * READDIR pages), copied into a struct nfsb4_out.
 *
 * libnfs 4.0 sets attributes over NFSv4 by OPENing the object first,
 * which fails for directories and symlinks, and makes no special files:
 * the COMPOUNDs of our own that need these are built by path
 * (nfsb4_path.c) or by handle (nfsb4_fh.c) and run by nfsb_sync.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "nfsb_int.h"

/* What each GETATTR of ours asks for (nfsb4_decode_attrs reads these). */
uint32_t nfsb4_attr_mask[2] = {
	1u << FATTR4_TYPE | 1u << FATTR4_SIZE | 1u << FATTR4_FILEID,
	1u << (FATTR4_MODE - 32) | 1u << (FATTR4_NUMLINKS - 32) |
	    1u << (FATTR4_OWNER - 32) | 1u << (FATTR4_OWNER_GROUP - 32) |
	    1u << (FATTR4_RAWDEV - 32) | 1u << (FATTR4_SPACE_USED - 32) |
	    1u << (FATTR4_TIME_ACCESS - 32) | 1u << (FATTR4_TIME_METADATA - 32) |
	    1u << (FATTR4_TIME_MODIFY - 32),
};

/* What READDIR asks for about each entry: the same, its handle, and an
 * error in place of the attributes of an entry the server cannot read
 * (instead of failing the whole listing). */
uint32_t nfsb4_readdir_mask[2] = {
	1u << FATTR4_TYPE | 1u << FATTR4_SIZE | 1u << FATTR4_FILEID |
	    1u << FATTR4_RDATTR_ERROR | 1u << FATTR4_FILEHANDLE,
	1u << (FATTR4_MODE - 32) | 1u << (FATTR4_NUMLINKS - 32) |
	    1u << (FATTR4_OWNER - 32) | 1u << (FATTR4_OWNER_GROUP - 32) |
	    1u << (FATTR4_RAWDEV - 32) | 1u << (FATTR4_SPACE_USED - 32) |
	    1u << (FATTR4_TIME_ACCESS - 32) | 1u << (FATTR4_TIME_METADATA - 32) |
	    1u << (FATTR4_TIME_MODIFY - 32),
};

/* An NFSv4 status as -errno.  A handle the server no longer knows is
 * ESTALE (libnfs says EIO, which would look like a broken connection). */
int
nfsb4_errno(nfsstat4 status)
{
	switch (status) {
	case NFS4_OK:
		return 0;
	case NFS4ERR_STALE: case NFS4ERR_FHEXPIRED: case NFS4ERR_BADHANDLE:
		return -ESTALE;
	case NFS4ERR_SYMLINK:	/* a LOOKUP from a symlink: not a directory */
		return -ENOTDIR;
	case NFS4ERR_DQUOT:
		return -EDQUOT;
	default:
		return nfsstat4_to_errno((int)status);
	}
}

static int nfsb4_decode_attrs(const fattr4 *fa, struct stat *st, struct nfsb4_fh *fh,
    uint32_t *rderr);
static int nfsb4_decode_page(const READDIR4resok *rd, struct nfsb4_dirpage *page);

/* What a COMPOUND reply brought back, into out (its status, the op that
 * failed, the last GETFH and GETATTR, a READLINK, READDIR entries). */
int
nfsb4_decode(const COMPOUND4res *res, struct nfsb4_out *out)
{
	const nfs_resop4 *r;
	const nfs_fh4 *fh;
	const linktext4 *lt;
	u_int i;
	int rc;

	out->status = res->status;
	for (i = 0; i < res->resarray.resarray_len; i++) {
		r = &res->resarray.resarray_val[i];
		out->failed = r->resop;
		switch (r->resop) {
		case OP_GETFH:
			if (r->nfs_resop4_u.opgetfh.status != NFS4_OK)
				break;
			fh = &r->nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object;
			if (fh->nfs_fh4_len == 0 || fh->nfs_fh4_len > NFS4_FHSIZE)
				return -EIO;
			out->fh.len = fh->nfs_fh4_len;
			memcpy(out->fh.val, fh->nfs_fh4_val, fh->nfs_fh4_len);
			break;
		case OP_GETATTR:
			if (r->nfs_resop4_u.opgetattr.status != NFS4_OK)
				break;
			if (nfsb4_decode_attrs(&r->nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes,
			    &out->st, NULL, NULL) != 0)
				return -EIO;
			out->has_st = true;
			break;
		case OP_READDIR:
			if (r->nfs_resop4_u.opreaddir.status != NFS4_OK || out->page == NULL)
				break;
			rc = nfsb4_decode_page(&r->nfs_resop4_u.opreaddir.READDIR4res_u.resok4,
			    out->page);
			if (rc != 0)
				return rc;
			break;
		case OP_READLINK:
			if (r->nfs_resop4_u.opreadlink.status != NFS4_OK)
				break;
			lt = &r->nfs_resop4_u.opreadlink.READLINK4res_u.resok4.link;
			free(out->link);
			out->link = strndup(lt->utf8string_val, lt->utf8string_len);
			if (out->link == NULL)
				return -ENOMEM;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void
xdr_u32(struct nfsb4_xdr *x, uint32_t v)
{
	uint32_t be = htonl(v);

	memcpy(x->buf + x->len, &be, 4);
	x->len += 4;
}

static void
xdr_u64(struct nfsb4_xdr *x, uint64_t v)
{
	xdr_u32(x, (uint32_t)(v >> 32));
	xdr_u32(x, (uint32_t)v);
}

static void
xdr_id(struct nfsb4_xdr *x, unsigned int id)
{
	char s[16];
	size_t n = (size_t)snprintf(s, sizeof(s), "%u", id);

	xdr_u32(x, (uint32_t)n);
	memset(x->buf + x->len, 0, (n + 3) & ~(size_t)3);
	memcpy(x->buf + x->len, s, n);
	x->len += (n + 3) & ~(size_t)3;
}

/* settime4: the server's clock, or the given time. */
static void
xdr_settime(struct nfsb4_xdr *x, bool now, const struct timespec *ts)
{
	if (now) {
		xdr_u32(x, SET_TO_SERVER_TIME4);
		return;
	}
	xdr_u32(x, SET_TO_CLIENT_TIME4);
	xdr_u64(x, (uint64_t)ts->tv_sec);
	xdr_u32(x, (uint32_t)ts->tv_nsec);
}

/* The fattr4 of a setattr: bitmap words and values (ascending order). */
static void
nfsb4_encode_setattr(const struct backend_setattr *sa, uint32_t mask[2], struct nfsb4_xdr *x)
{
	mask[0] = mask[1] = 0;
	x->len = 0;
	if (sa->valid & FSB_SET_SIZE) {
		mask[0] |= 1u << FATTR4_SIZE;
		xdr_u64(x, (uint64_t)sa->size);
	}
	if (sa->valid & FSB_SET_MODE) {
		mask[1] |= 1u << (FATTR4_MODE - 32);
		xdr_u32(x, sa->mode & 07777);
	}
	if (sa->valid & FSB_SET_UID) {
		mask[1] |= 1u << (FATTR4_OWNER - 32);
		xdr_id(x, sa->uid);
	}
	if (sa->valid & FSB_SET_GID) {
		mask[1] |= 1u << (FATTR4_OWNER_GROUP - 32);
		xdr_id(x, sa->gid);
	}
	if (sa->valid & (FSB_SET_ATIME | FSB_SET_ATIME_NOW)) {
		mask[1] |= 1u << (FATTR4_TIME_ACCESS_SET - 32);
		xdr_settime(x, sa->valid & FSB_SET_ATIME_NOW, &sa->atime);
	}
	if (sa->valid & (FSB_SET_MTIME | FSB_SET_MTIME_NOW)) {
		mask[1] |= 1u << (FATTR4_TIME_MODIFY_SET - 32);
		xdr_settime(x, sa->valid & FSB_SET_MTIME_NOW, &sa->mtime);
	}
}

/* fa: the attributes of sa, encoded into mask and x (which must live
 * until the COMPOUND holding fa has run). */
void
nfsb4_fattr(fattr4 *fa, const struct backend_setattr *sa, uint32_t mask[2],
    struct nfsb4_xdr *x)
{
	nfsb4_encode_setattr(sa, mask, x);
	fa->attrmask.bitmap4_len = 2;
	fa->attrmask.bitmap4_val = mask;
	fa->attr_vals.attrlist4_len = (u_int)x->len;
	fa->attr_vals.attrlist4_val = x->buf;
}

int
nfsb4_mode_type(mode_t mode, nfs_ftype4 *type)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: *type = NF4DIR; return 0;
	case S_IFLNK: *type = NF4LNK; return 0;
	case S_IFIFO: *type = NF4FIFO; return 0;
	case S_IFSOCK: *type = NF4SOCK; return 0;
	case S_IFCHR: *type = NF4CHR; return 0;
	case S_IFBLK: *type = NF4BLK; return 0;
	}
	return -EINVAL;
}

/* Reading XDR. */
struct nfsb4_rd {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint32_t
rd_u32(struct nfsb4_rd *r)
{
	uint32_t v;

	if (r->left < 4) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, 4);
	r->p += 4;
	r->left -= 4;
	return ntohl(v);
}

static uint64_t
rd_u64(struct nfsb4_rd *r)
{
	uint64_t hi = rd_u32(r);

	return hi << 32 | rd_u32(r);
}

/* An owner or group: a number (Ganesha's Only_Numeric_Owners), else
 * nobody, as libnfs has it. */
static uint32_t
rd_id(struct nfsb4_rd *r)
{
	uint32_t len = rd_u32(r), i;
	size_t padded = ((size_t)len + 3) & ~(size_t)3;
	uint64_t id = 0;
	bool num = len > 0 && len <= 10;

	if (r->bad || padded > r->left) {
		r->bad = true;
		return 0;
	}
	for (i = 0; num && i < len; i++) {
		if (r->p[i] < '0' || r->p[i] > '9')
			num = false;
		id = id * 10 + (uint64_t)(r->p[i] - '0');
	}
	r->p += padded;
	r->left -= padded;
	return num && id < UINT32_MAX ? (uint32_t)id : 65534;
}

static void
rd_time(struct nfsb4_rd *r, struct timespec *ts)
{
	ts->tv_sec = (time_t)(int64_t)rd_u64(r);
	ts->tv_nsec = (long)rd_u32(r);
}

static mode_t
nfsb4_type_mode(uint32_t type)
{
	switch (type) {
	case NF4REG: return S_IFREG;
	case NF4DIR: return S_IFDIR;
	case NF4BLK: return S_IFBLK;
	case NF4CHR: return S_IFCHR;
	case NF4LNK: return S_IFLNK;
	case NF4SOCK: return S_IFSOCK;
	case NF4FIFO: return S_IFIFO;
	}
	return 0;
}

/* A filehandle attribute (nfs_fh4). */
static void
rd_fh(struct nfsb4_rd *r, struct nfsb4_fh *fh)
{
	uint32_t len = rd_u32(r);
	size_t padded = ((size_t)len + 3) & ~(size_t)3;

	if (r->bad || len == 0 || len > NFS4_FHSIZE || padded > r->left) {
		r->bad = true;
		return;
	}
	fh->len = len;
	memcpy(fh->val, r->p, len);
	r->p += padded;
	r->left -= padded;
}

/* A fattr4 holding (some of) nfsb4_attr_mask as a stat, the way
 * nfsb_stat_convert makes one.  fh and rderr (or NULL: then they are not
 * expected) receive the FILEHANDLE and RDATTR_ERROR of a READDIR entry. */
static int
nfsb4_decode_attrs(const fattr4 *fa, struct stat *st, struct nfsb4_fh *fh, uint32_t *rderr)
{
	struct nfsb4_rd r = {
		(const unsigned char *)fa->attr_vals.attrlist4_val,
		fa->attr_vals.attrlist4_len, false
	};
	uint32_t type = 0, word, major;
	uint64_t used = 0;
	unsigned int bit;

	memset(st, 0, sizeof(*st));
	st->st_blksize = 4096;
	for (bit = 0; bit < 64 && !r.bad; bit++) {
		word = bit / 32 < fa->attrmask.bitmap4_len ? fa->attrmask.bitmap4_val[bit / 32] : 0;
		if (!(word & (1u << (bit % 32))))
			continue;
		switch (bit) {
		case FATTR4_TYPE: type = rd_u32(&r); break;
		case FATTR4_SIZE: st->st_size = (off_t)rd_u64(&r); break;
		case FATTR4_FILEID: st->st_ino = (ino_t)rd_u64(&r); break;
		case FATTR4_MODE: st->st_mode |= (mode_t)(rd_u32(&r) & 07777); break;
		case FATTR4_NUMLINKS: st->st_nlink = (nlink_t)rd_u32(&r); break;
		case FATTR4_OWNER: st->st_uid = (uid_t)rd_id(&r); break;
		case FATTR4_OWNER_GROUP: st->st_gid = (gid_t)rd_id(&r); break;
		case FATTR4_RAWDEV:
			major = rd_u32(&r);
			st->st_rdev = makedev(major, rd_u32(&r));
			break;
		case FATTR4_SPACE_USED: used = rd_u64(&r); break;
		case FATTR4_TIME_ACCESS: rd_time(&r, &st->st_atim); break;
		case FATTR4_TIME_METADATA: rd_time(&r, &st->st_ctim); break;
		case FATTR4_TIME_MODIFY: rd_time(&r, &st->st_mtim); break;
		case FATTR4_RDATTR_ERROR:
			if (rderr == NULL)
				return -EIO;
			*rderr = rd_u32(&r);
			break;
		case FATTR4_FILEHANDLE:
			if (fh == NULL)
				return -EIO;
			rd_fh(&r, fh);
			break;
		default:
			return -EIO;	/* not asked for: its size is unknown */
		}
	}
	if (r.bad)
		return -EIO;
	st->st_mode |= nfsb4_type_mode(type);
	st->st_blocks = (blkcnt_t)((used + 511) / 512);
	return 0;
}

/* Is name, as a server listed it, a single component we can serve? */
static bool
nfsb4_name_ok(const char *name, u_int len)
{
	if (len == 0 || len > NAME_MAX || memchr(name, '/', len) != NULL ||
	    memchr(name, '\0', len) != NULL)
		return false;
	return !(name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')));
}

/* Free the entries of a page (it can be filled again). */
void
nfsb4_page_clear(struct nfsb4_dirpage *page)
{
	size_t i;

	for (i = 0; i < page->n; i++)
		free(page->ents[i].name);
	page->n = 0;
	page->eof = false;
}

/* Copy a READDIR reply's entries into page (after those it holds). */
static int
nfsb4_decode_page(const READDIR4resok *rd, struct nfsb4_dirpage *page)
{
	const uint32_t need[2] = {
		1u << FATTR4_TYPE | 1u << FATTR4_FILEID | 1u << FATTR4_FILEHANDLE,
		1u << (FATTR4_MODE - 32),
	};
	const entry4 *e;
	struct nfsb4_dirent *d, *grown;
	const bitmap4 *got;
	uint32_t rderr;
	size_t cap;

	memcpy(page->verf, rd->cookieverf, sizeof(page->verf));
	/* a page without entries that is not the last would have us ask
	 * for it forever */
	page->eof = rd->reply.eof != 0 || rd->reply.entries == NULL;
	for (e = rd->reply.entries; e != NULL; e = e->nextentry) {
		page->cookie = e->cookie;
		if (!nfsb4_name_ok(e->name.utf8string_val, e->name.utf8string_len))
			continue;
		if (page->n == page->cap) {
			cap = page->cap != 0 ? 2 * page->cap : 64;
			grown = realloc(page->ents, cap * sizeof(*grown));
			if (grown == NULL)
				return -ENOMEM;
			page->ents = grown;
			page->cap = cap;
		}
		d = &page->ents[page->n];
		memset(d, 0, sizeof(*d));
		d->name = strndup(e->name.utf8string_val, e->name.utf8string_len);
		if (d->name == NULL)
			return -ENOMEM;
		d->cookie = e->cookie;
		rderr = NFS4_OK;
		got = &e->attrs.attrmask;
		/* the attributes are complete, or the entry will be
		 * looked up on its own */
		d->full = nfsb4_decode_attrs(&e->attrs, &d->st, &d->fh, &rderr) == 0 &&
		    rderr == NFS4_OK && d->fh.len != 0 && got->bitmap4_len >= 2 &&
		    (got->bitmap4_val[0] & need[0]) == need[0] &&
		    (got->bitmap4_val[1] & need[1]) == need[1];
		page->n++;
	}
	return 0;
}
