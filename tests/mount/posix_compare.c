/* tests/mount/posix_compare.c — owned by the POSIX behaviour suite
 * (tests/mount/posix.{sh,inc}).
 *
 * posix_compare REF TEST runs one table of scripted steps twice: inside REF
 * (a plain native directory) and inside TEST (a FUSE mount of an empty
 * source directory).  Every step runs in a forked child, in a fresh
 * subdirectory named after the step, and writes what it saw into a record:
 * one "key=value" line per observation (return value or errno, stat fields,
 * data hashes, sorted name sets, ...).  The two records are compared line by
 * line ("~key" lines are numbers compared roughly: st_blocks) and the result
 * is printed as TAP.  Inode numbers, st_dev, st_blksize and timestamps the
 * step did not set are never recorded raw; only relations between them are.
 *
 * The last step writes the file posix_compare.marker in the top directory,
 * for the caller to look for in the mount's source directory.
 *
 * posix_compare --model NAME REF TEST: REF answers some calls as the
 * model NAME says a backend must (see "the model" below).
 *
 * posix_compare --count prints the number of test points and exits.
 * posix_compare --suid REF TEST also compares the setuid/setgid steps (for
 * a mount with -o suid); without it they are skipped.
 * POSIX_COMPARE_VERBOSE=1 prints both full records of every step.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define STEP_TIMEOUT 120        /* seconds one side of one step may take */
#define REC_MAX (256 * 1024)    /* bytes of one record */
#define REC_VAL (32 * 1024)     /* bytes of one value */
#define KiB 1024LL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define FNV0 14695981039346656037ULL
#define MARKER "posix_compare.marker"   /* written in the top directory */

/* ---------------------------------------------------------------- records */

struct rec {
	size_t len;
	char buf[REC_MAX];
};

/* Records live in shared anonymous memory so a step child that crashes or
 * hangs still leaves what it saw so far to the parent. */
static struct rec *rec_new(void)
{
	struct rec *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED) {
		perror("posix_compare: mmap");
		exit(2);
	}
	r->len = 0;
	r->buf[0] = '\0';
	return r;
}

static void rec_free(struct rec *r)
{
	munmap(r, sizeof *r);
}

static void rec_add(struct rec *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rec_add(struct rec *r, const char *key, const char *fmt, ...)
{
	static char val[REC_VAL];
	size_t room = sizeof r->buf - r->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(val, sizeof val, fmt, ap);
	va_end(ap);
	n = snprintf(r->buf + r->len, room, "%s=%s\n", key, val);
	if (n < 0)
		return;
	r->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void rec_append(struct rec *r, const struct rec *src)
{
	size_t room = sizeof r->buf - r->len - 1;
	size_t n = src->len < room ? src->len : room;

	memcpy(r->buf + r->len, src->buf, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

/* A key built from a format, for keys that name a path or a parameter. */
static const char *kf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *kf(const char *fmt, ...)
{
	static char key[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	return key;
}

static const char *ename(int e)
{
	static char num[32];
	const char *s = strerrorname_np(e);

	if (s)
		return s;
	snprintf(num, sizeof num, "errno%d", e);
	return num;
}

/* Bytes made safe for a record and for TAP: no spaces, no control bytes,
 * none of the list punctuation ",[]" and no "#". */
static void esc(char *out, size_t outsz, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < outsz; i++) {
		unsigned char c = p[i];

		if (c > 0x20 && c < 0x7f && !strchr("\\,[]#=", c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Success or errno; the value itself is not compared (fds, pointers). */
static void rec_ok(struct rec *r, const char *key, long long rc)
{
	int e = errno;

	if (rc < 0)
		rec_add(r, key, "-1 %s", ename(e));
	else
		rec_add(r, key, "ok");
	errno = e;
}

/* The exact return value, or errno. */
static void rec_val(struct rec *r, const char *key, long long rc)
{
	int e = errno;

	if (rc < 0)
		rec_add(r, key, "-1 %s", ename(e));
	else
		rec_add(r, key, "%lld", rc);
	errno = e;
}

static void rec_bool(struct rec *r, const char *key, int cond)
{
	rec_add(r, key, "%s", cond ? "yes" : "no");
}

static char ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	default: return '?';
	}
}

/* Type+mode, nlink, size, uid, gid exactly; st_blocks roughly. */
static void rec_st(struct rec *r, const char *key, const struct stat *st)
{
	char rough[600];

	snprintf(rough, sizeof rough, "~%s.blocks", key);
	/* a directory's size is the filesystem's business, not POSIX's */
	rec_add(r, key, "%c%04o nlink:%ju size:%jd uid:%ju gid:%ju",
		ftype(st->st_mode), (unsigned)(st->st_mode & 07777),
		(uintmax_t)st->st_nlink, S_ISDIR(st->st_mode) ? (intmax_t)-1 : (intmax_t)st->st_size,
		(uintmax_t)st->st_uid, (uintmax_t)st->st_gid);
	rec_add(r, rough, "%jd", (intmax_t)st->st_blocks);
}

static void rec_lstat(struct rec *r, const char *key, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		rec_ok(r, key, -1);
	else
		rec_st(r, key, &st);
}

static void rec_stat(struct rec *r, const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		rec_ok(r, key, -1);
	else
		rec_st(r, key, &st);
}

static void rec_fstat(struct rec *r, const char *key, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		rec_ok(r, key, -1);
	else
		rec_st(r, key, &st);
}

static void rec_hash(struct rec *r, const char *key, long long len, uint64_t h,
		     const void *head, size_t headlen)
{
	char e[200];

	esc(e, sizeof e, head, headlen);
	rec_add(r, key, "len:%lld fnv:%016" PRIx64 " head:%s", len, h, e);
}

/* Bytes a call returned (n is its return value: length or -1). */
static void rec_data(struct rec *r, const char *key, const void *p, ssize_t n)
{
	if (n < 0) {
		rec_ok(r, key, -1);
		return;
	}
	rec_hash(r, key, n, fnv(FNV0, p, (size_t)n), p, n < 40 ? (size_t)n : 40);
}

/* The whole content of a file, read through a fresh open. */
static void rec_file(struct rec *r, const char *key, const char *path)
{
	static unsigned char buf[256 * 1024];
	unsigned char head[40];
	size_t hl = 0;
	uint64_t h = FNV0;
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		rec_ok(r, key, -1);
		return;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		size_t take = sizeof head - hl < (size_t)n ? sizeof head - hl : (size_t)n;

		memcpy(head + hl, buf, take);
		hl += take;
		h = fnv(h, buf, (size_t)n);
		total += n;
	}
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		rec_ok(r, key, -1);
		return;
	}
	close(fd);
	rec_hash(r, key, total, h, head, hl);
}

/* Explicitly set timestamps, to the nanosecond. */
static void rec_times(struct rec *r, const char *key, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		rec_ok(r, key, -1);
		return;
	}
	rec_add(r, key, "atime:%jd.%09ld mtime:%jd.%09ld",
		(intmax_t)st.st_atim.tv_sec, st.st_atim.tv_nsec,
		(intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* ------------------------------------------------------------- name sets */

struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *s)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 64;
		ns->v = realloc(ns->v, ns->cap * sizeof *ns->v);
		if (!ns->v)
			abort();
	}
	ns->v[ns->n] = strdup(s);
	if (!ns->v[ns->n])
		abort();
	ns->n++;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_sort(struct names *ns)
{
	if (ns->n)
		qsort(ns->v, ns->n, sizeof *ns->v, cmpstr);
}

static int names_equal(struct names *a, struct names *b)
{
	names_sort(a);
	names_sort(b);
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return 1;
}

static char dtype(unsigned char t)
{
	switch (t) {
	case DT_REG: return 'f';
	case DT_DIR: return 'd';
	case DT_LNK: return 'l';
	case DT_FIFO: return 'p';
	case DT_SOCK: return 's';
	case DT_CHR: return 'c';
	case DT_BLK: return 'b';
	default: return '?';
	}
}

/* Reads the rest of a directory stream as "name/type" entries; returns 0
 * or the errno readdir ended with. */
static int names_read(DIR *d, struct names *ns, size_t max)
{
	char e[1200], item[1300];
	struct dirent *de;

	while (ns->n < max) {
		errno = 0;
		de = readdir(d);
		if (!de)
			return errno;
		esc(e, sizeof e, de->d_name, strlen(de->d_name));
		snprintf(item, sizeof item, "%s/%c", e, dtype(de->d_type));
		names_add(ns, item);
	}
	return 0;
}

/* A sorted set of names as "n:COUNT [a,b,...]". */
static void rec_names(struct rec *r, const char *key, struct names *ns)
{
	size_t cap = 16, len = 0;
	char *s;

	names_sort(ns);
	for (size_t i = 0; i < ns->n; i++)
		cap += strlen(ns->v[i]) + 1;
	s = malloc(cap);
	if (!s)
		abort();
	s[0] = '\0';
	for (size_t i = 0; i < ns->n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? "," : "", ns->v[i]);
	rec_add(r, key, "n:%zu [%s]", ns->n, s);
	free(s);
}

static void rec_dir(struct rec *r, const char *key, const char *path)
{
	struct names ns = { 0 };
	DIR *d = opendir(path);
	int err;

	if (!d) {
		rec_ok(r, key, -1);
		return;
	}
	err = names_read(d, &ns, SIZE_MAX);
	closedir(d);
	if (err) {
		errno = err;
		rec_ok(r, key, -1);
	} else {
		rec_names(r, key, &ns);
	}
	names_free(&ns);
}

/* ------------------------------------------------------------ the model */

/*
 * posix_compare --model NAME REF TEST: a backend that answers some calls
 * otherwise than a native filesystem, by design, is compared with what it
 * must answer instead.  On the REF side only, the calls below give the
 * model's answer where the filesystem would be reached; where the kernel
 * decides before any filesystem (a missing path, a name too long, user.*
 * on a symlink, bad flags, a length of 0) they are made for real, and
 * fail the same way on both sides, changing nothing.  Everything else a
 * step records (stat, contents, listings) is observed for real on both
 * sides, so the point passes only if the mount gives exactly the model's
 * answers and nothing else differs.
 *
 *   nfs4.0   NFSv4.0 (RFC 7530): no extended attributes (RFC 8276 is
 *            NFSv4.2): setxattr EOPNOTSUPP, getxattr/removexattr
 *            ENODATA, listxattr empty; no ALLOCATE/DEALLOCATE: fallocate
 *            EOPNOTSUPP; no SEEK: no holes, SEEK_DATA at off and
 *            SEEK_HOLE at the end for off below the size, ENXIO past it;
 *            no atomic exchange: RENAME_EXCHANGE EINVAL.
 *   user-server
 *            a server acting as one ordinary host user, the client's
 *            root mapped to that user (uidmap=0:UID, gidmap=0:GID), as
 *            tests/guest/serve.sh runs it without root: it cannot give a
 *            file any other owner or group (the host kernel wants
 *            CAP_CHOWN), so chown/lchown/fchown to an id other than 0
 *            (or -1) fail with EPERM.
 */
static const char *model;	/* NULL: REF is the reference, as it is */
static int on_ref;		/* this side is REF */

/* REF answers as the model name says. */
static int modelled(const char *name)
{
	return model != NULL && on_ref && strcmp(model, name) == 0;
}

static int fail_with(int e)
{
	errno = e;
	return -1;
}

/* Would the kernel refuse an xattr call on path before asking the
 * filesystem?  follow: path's final symlink is followed; write: a set or
 * remove (user.* on anything but a file or directory is EPERM). */
static int xattr_vfs_refuses(const char *path, int fd, const char *name,
			     int follow, int write)
{
	struct stat st;
	int rc;

	if (name != NULL && strlen(name) > 255)
		return 1;
	rc = fd >= 0 ? fstat(fd, &st) : follow ? stat(path, &st) : lstat(path, &st);
	if (rc < 0)
		return 1;
	if (name != NULL && strncmp(name, "user.", 5) == 0 &&
	    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 1;	/* EPERM (write) or ENODATA (read) */
	if (name != NULL && write && strncmp(name, "user.", 5) != 0 &&
	    strncmp(name, "trusted.", 8) != 0 && strncmp(name, "security.", 9) != 0 &&
	    strncmp(name, "system.", 7) != 0)
		return 1;	/* no filesystem knows the namespace */
	return 0;
}

static int m_setxattr(const char *path, int fd, int follow, const char *name,
		      const void *v, size_t n, int flags)
{
	if (modelled("nfs4.0") && !xattr_vfs_refuses(path, fd, name, follow, 1))
		return fail_with(EOPNOTSUPP);
	if (fd >= 0)
		return fsetxattr(fd, name, v, n, flags);
	return follow ? setxattr(path, name, v, n, flags) : lsetxattr(path, name, v, n, flags);
}

static ssize_t m_getxattr(const char *path, int fd, int follow, const char *name,
			  void *buf, size_t size)
{
	if (modelled("nfs4.0") && !xattr_vfs_refuses(path, fd, name, follow, 0))
		return fail_with(ENODATA);
	if (fd >= 0)
		return fgetxattr(fd, name, buf, size);
	return follow ? getxattr(path, name, buf, size) : lgetxattr(path, name, buf, size);
}

static ssize_t m_listxattr(const char *path, int fd, int follow, char *buf, size_t size)
{
	if (modelled("nfs4.0") && !xattr_vfs_refuses(path, fd, NULL, follow, 0))
		return 0;
	if (fd >= 0)
		return flistxattr(fd, buf, size);
	return follow ? listxattr(path, buf, size) : llistxattr(path, buf, size);
}

static int m_removexattr(const char *path, int fd, int follow, const char *name)
{
	if (modelled("nfs4.0") && !xattr_vfs_refuses(path, fd, name, follow, 1))
		return fail_with(ENODATA);
	if (fd >= 0)
		return fremovexattr(fd, name);
	return follow ? removexattr(path, name) : lremovexattr(path, name);
}

#define x_setxattr(p, n, v, s, f)	m_setxattr(p, -1, 1, n, v, s, f)
#define x_lsetxattr(p, n, v, s, f)	m_setxattr(p, -1, 0, n, v, s, f)
#define x_fsetxattr(fd, n, v, s, f)	m_setxattr(NULL, fd, 0, n, v, s, f)
#define x_getxattr(p, n, b, s)		m_getxattr(p, -1, 1, n, b, s)
#define x_lgetxattr(p, n, b, s)		m_getxattr(p, -1, 0, n, b, s)
#define x_fgetxattr(fd, n, b, s)	m_getxattr(NULL, fd, 0, n, b, s)
#define x_listxattr(p, b, s)		m_listxattr(p, -1, 1, b, s)
#define x_llistxattr(p, b, s)		m_listxattr(p, -1, 0, b, s)
#define x_flistxattr(fd, b, s)		m_listxattr(NULL, fd, 0, b, s)
#define x_removexattr(p, n)		m_removexattr(p, -1, 1, n)
#define x_fremovexattr(fd, n)		m_removexattr(NULL, fd, 0, n)

static int x_fallocate(int fd, int mode, off_t off, off_t len)
{
	struct stat st;

	/* the kernel's own checks: EINVAL for a bad range, EOPNOTSUPP for a
	 * punch without KEEP_SIZE */
	if (modelled("nfs4.0") && off >= 0 && len > 0 && fstat(fd, &st) == 0 &&
	    !((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)))
		return fail_with(EOPNOTSUPP);
	return fallocate(fd, mode, off, len);
}

static off_t x_lseek(int fd, off_t off, int whence)
{
	struct stat st;

	if (!modelled("nfs4.0") || (whence != SEEK_DATA && whence != SEEK_HOLE) ||
	    fstat(fd, &st) < 0)
		return lseek(fd, off, whence);
	if (off < 0 || off >= st.st_size)
		return fail_with(ENXIO);
	return lseek(fd, whence == SEEK_DATA ? off : st.st_size, SEEK_SET);
}

static int x_renameat2(const char *from, const char *to, unsigned int flags)
{
	struct stat st;

	/* with both names there and valid flags the filesystem decides */
	if (modelled("nfs4.0") && (flags & RENAME_EXCHANGE) && !(flags & ~RENAME_EXCHANGE) &&
	    lstat(from, &st) == 0 && lstat(to, &st) == 0)
		return fail_with(EINVAL);
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, flags);
}

/* chown, lchown (follow 0) or fchown (fd >= 0); the kernel's own answers
 * (a missing path) are made for real. */
static int x_chown_any(const char *path, int fd, int follow, uid_t u, gid_t g)
{
	struct stat st;
	int other = (u != (uid_t)-1 && u != 0) || (g != (gid_t)-1 && g != 0);

	if (modelled("user-server") && other &&
	    (fd >= 0 ? fstat(fd, &st) : follow ? stat(path, &st) : lstat(path, &st)) == 0)
		return fail_with(EPERM);
	if (fd >= 0)
		return fchown(fd, u, g);
	return follow ? chown(path, u, g) : lchown(path, u, g);
}

#define x_chown(p, u, g)	x_chown_any(p, -1, 1, u, g)
#define x_lchown(p, u, g)	x_chown_any(p, -1, 0, u, g)
#define x_fchown(fd, u, g)	x_chown_any(NULL, fd, 0, u, g)

/* The set of xattr names of a path (not following a final symlink). */
static void rec_xlist(struct rec *r, const char *key, const char *path)
{
	struct names ns = { 0 };
	char buf[8192];
	ssize_t n = x_llistxattr(path, buf, sizeof buf);

	if (n < 0) {
		rec_ok(r, key, -1);
		return;
	}
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		names_add(&ns, buf + i);
	rec_names(r, key, &ns);
	names_free(&ns);
}

/* --------------------------------------------------------------- helpers */

static void fill(void *data, size_t n, uint32_t seed)
{
	unsigned char *p = data;
	uint32_t x = (seed * 2654435761u) | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static int put(const char *path, const void *data, size_t n)
{
	ssize_t w = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int e;

	if (fd < 0)
		return -1;
	if (n)
		w = write(fd, data, n);
	e = w < 0 ? errno : EIO;
	if (close(fd) < 0)
		return -1;
	if (w != (ssize_t)n) {
		errno = e;
		return -1;
	}
	return 0;
}

/* Creates a file holding text, recording success. */
static void mk(struct rec *r, const char *path, const char *text)
{
	rec_ok(r, kf("create %s", path), put(path, text, strlen(text)));
}

/* open() then close(); returns the fd number or -1 with errno. */
static int open_close(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags, mode);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int same_ino(const char *a, const char *b)
{
	struct stat sa, sb;

	return lstat(a, &sa) == 0 && lstat(b, &sb) == 0 && sa.st_ino == sb.st_ino;
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

/* Runs fn in a forked child with its own record, then appends that record
 * (whatever the child got to before exiting, crashing or timing out). */
static void in_child(struct rec *r, void (*fn)(struct rec *, void *), void *arg)
{
	struct rec *c = rec_new();
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		rec_ok(r, "fork", -1);
		rec_free(c);
		return;
	}
	if (pid == 0) {
		alarm(STEP_TIMEOUT);
		fn(c, arg);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rec_append(r, c);
	if (WIFSIGNALED(status))
		rec_add(r, "child", "killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status))
		rec_add(r, "child", "exit %d", WEXITSTATUS(status));
	rec_free(c);
}

/* ---------------------------------------------------- steps: open flags */

static void st_creat(struct rec *r)
{
	rec_ok(r, "open(O_CREAT,0640)", open_close("f", O_CREAT | O_WRONLY, 0640));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "open(O_CREAT,0777) umask 022", open_close("g", O_CREAT | O_RDWR, 0777));
	rec_lstat(r, "stat g", "g");
	rec_ok(r, "creat(0600)", open_close("h", O_CREAT | O_WRONLY | O_TRUNC, 0600));
	rec_lstat(r, "stat h", "h");
	rec_dir(r, "readdir .", ".");
}

static void st_open_excl(struct rec *r)
{
	mk(r, "f", "data");
	rec_ok(r, "O_CREAT|O_EXCL existing",
	       open_close("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	rec_ok(r, "O_CREAT existing", open_close("f", O_CREAT | O_WRONLY, 0600));
	rec_file(r, "f not truncated", "f");
	rec_lstat(r, "stat f mode kept", "f");
	rec_ok(r, "symlink dangling", symlink("nowhere", "dangling"));
	rec_ok(r, "O_CREAT|O_EXCL on dangling symlink",
	       open_close("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
	rec_lstat(r, "stat nowhere (not created)", "nowhere");
	rec_ok(r, "O_CREAT through dangling symlink",
	       open_close("dangling", O_CREAT | O_WRONLY, 0644));
	rec_lstat(r, "stat nowhere (created)", "nowhere");
	rec_ok(r, "O_CREAT|O_EXCL new", open_close("new", O_CREAT | O_EXCL | O_WRONLY, 0644));
	rec_lstat(r, "stat new", "new");
}

static void st_trunc(struct rec *r)
{
	char data[1000];
	int fd;

	fill(data, sizeof data, 1);
	rec_ok(r, "create f", put("f", data, sizeof data));
	rec_lstat(r, "stat before", "f");
	fd = open("f", O_WRONLY | O_TRUNC);
	rec_ok(r, "open(O_TRUNC)", fd);
	rec_fstat(r, "fstat after O_TRUNC", fd);
	rec_val(r, "write", write(fd, "xyz", 3));
	rec_ok(r, "close", close(fd));
	rec_file(r, "content", "f");
	rec_ok(r, "open(O_RDONLY|O_TRUNC) missing", open_close("missing", O_RDONLY | O_TRUNC, 0));
}

static void st_append(struct rec *r)
{
	char buf[64];
	int fd;

	mk(r, "f", "hello");
	fd = open("f", O_WRONLY | O_APPEND);
	rec_ok(r, "open(O_APPEND)", fd);
	rec_val(r, "lseek(0,SET)", lseek(fd, 0, SEEK_SET));
	rec_val(r, "write world", write(fd, "world", 5));
	rec_val(r, "lseek(0,CUR)", lseek(fd, 0, SEEK_CUR));
	rec_val(r, "pwrite XY at 0 (appends on Linux)", pwrite(fd, "XY", 2, 0));
	rec_val(r, "lseek(0,CUR) after pwrite", lseek(fd, 0, SEEK_CUR));
	rec_ok(r, "close", close(fd));
	rec_file(r, "content", "f");
	fd = open("f", O_RDWR | O_APPEND);
	rec_ok(r, "open(O_RDWR|O_APPEND)", fd);
	rec_data(r, "read from start", buf, read(fd, buf, 5));
	rec_val(r, "write !", write(fd, "!", 1));
	rec_val(r, "lseek(0,CUR) after append", lseek(fd, 0, SEEK_CUR));
	rec_data(r, "pread all", buf, pread(fd, buf, sizeof buf, 0));
	rec_ok(r, "close", close(fd));
	rec_lstat(r, "stat", "f");
}

static void st_rw(struct rec *r)
{
	char pat[100], buf[512];
	int fd, fd2;

	fill(pat, sizeof pat, 2);
	fd = open("f", O_RDWR | O_CREAT | O_EXCL, 0644);
	rec_ok(r, "open", fd);
	rec_val(r, "write 100", write(fd, pat, sizeof pat));
	rec_val(r, "lseek(0,CUR)", lseek(fd, 0, SEEK_CUR));
	rec_data(r, "pread(20@10)", buf, pread(fd, buf, 20, 10));
	rec_val(r, "pwrite(4@50)", pwrite(fd, "ZZZZ", 4, 50));
	rec_val(r, "lseek(0,CUR) unchanged", lseek(fd, 0, SEEK_CUR));
	rec_data(r, "read at EOF", buf, read(fd, buf, sizeof buf));
	rec_val(r, "lseek(0,SET)", lseek(fd, 0, SEEK_SET));
	rec_data(r, "read all", buf, read(fd, buf, sizeof buf));
	rec_val(r, "pwrite(3@200) past EOF", pwrite(fd, "end", 3, 200));
	rec_fstat(r, "fstat", fd);
	rec_data(r, "pread all with hole", buf, pread(fd, buf, sizeof buf, 0));
	rec_data(r, "pread past EOF", buf, pread(fd, buf, 10, 1000));
	rec_val(r, "lseek(-1,SET)", lseek(fd, -1, SEEK_SET));
	rec_val(r, "lseek(10,END)", lseek(fd, 10, SEEK_END));
	rec_ok(r, "close", close(fd));
	fd = open("f", O_RDONLY);
	rec_val(r, "write on O_RDONLY", write(fd, "x", 1));
	close(fd);
	fd = open("f", O_WRONLY);
	rec_val(r, "read on O_WRONLY", read(fd, buf, 1));
	fd2 = open("f", O_RDONLY);
	rec_val(r, "pwrite via one fd", pwrite(fd, "COHERENT", 8, 20));
	rec_data(r, "pread via another fd", buf, pread(fd2, buf, 8, 20));
	close(fd2);
	close(fd);
	rec_file(r, "content", "f");
}

/* ------------------------------------------------ steps: offsets, holes */

static void rec_sparse(struct rec *r, const char *key, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		rec_ok(r, key, -1);
	else
		rec_bool(r, key, st.st_blocks * 512LL < MiB);
}

static void st_bigoff(struct rec *r)
{
	const off_t off = 5 * GiB;
	char buf[64];
	int fd = open("big", O_RDWR | O_CREAT, 0644);

	rec_ok(r, "open", fd);
	rec_val(r, "pwrite 1 byte at 5GiB", pwrite(fd, "x", 1, off));
	rec_fstat(r, "fstat", fd);
	rec_sparse(r, "sparse (blocks < 1MiB)", fd);
	rec_data(r, "pread(16@5GiB-7)", buf, pread(fd, buf, 16, off - 7));
	rec_data(r, "pread(4@4GiB)", buf, pread(fd, buf, 4, 4 * GiB));
	rec_val(r, "lseek(0,END)", lseek(fd, 0, SEEK_END));
	rec_val(r, "pwrite 1 byte at 6GiB", pwrite(fd, "y", 1, 6 * GiB));
	rec_ok(r, "fsync", fsync(fd));
	rec_ok(r, "close", close(fd));
	rec_lstat(r, "stat after close", "big");
	fd = open("big", O_RDONLY);
	rec_sparse(r, "sparse after close", fd);
	rec_data(r, "pread(2@6GiB-1)", buf, pread(fd, buf, 2, 6 * GiB - 1));
	close(fd);
	rec_ok(r, "truncate to 4GiB+3", truncate("big", 4 * GiB + 3));
	rec_lstat(r, "stat after truncate", "big");
	fd = open("big", O_RDONLY);
	rec_data(r, "pread(8@4GiB)", buf, pread(fd, buf, 8, 4 * GiB));
	close(fd);
}

static void seek_probe(struct rec *r, int do_sync)
{
	char data[4096];
	int fd = open("s", O_RDWR | O_CREAT, 0644);

	fill(data, sizeof data, 3);
	rec_ok(r, "open", fd);
	rec_val(r, "pwrite 4KiB@0", pwrite(fd, data, sizeof data, 0));
	rec_val(r, "pwrite 4KiB@1MiB", pwrite(fd, data, sizeof data, MiB));
	rec_ok(r, "ftruncate 2MiB", ftruncate(fd, 2 * MiB));
	if (do_sync)
		rec_ok(r, "fsync", fsync(fd));
	rec_val(r, "SEEK_DATA from 0", x_lseek(fd, 0, SEEK_DATA));
	rec_val(r, "SEEK_HOLE from 0", x_lseek(fd, 0, SEEK_HOLE));
	rec_val(r, "SEEK_DATA from 4KiB", x_lseek(fd, 4096, SEEK_DATA));
	rec_val(r, "SEEK_HOLE from 1MiB", x_lseek(fd, MiB, SEEK_HOLE));
	rec_val(r, "SEEK_DATA from 1MiB+4KiB", x_lseek(fd, MiB + 4096, SEEK_DATA));
	rec_val(r, "SEEK_HOLE from 2MiB-1", x_lseek(fd, 2 * MiB - 1, SEEK_HOLE));
	rec_val(r, "SEEK_HOLE from 2MiB (EOF)", x_lseek(fd, 2 * MiB, SEEK_HOLE));
	rec_val(r, "SEEK_DATA from 3MiB", x_lseek(fd, 3 * MiB, SEEK_DATA));
	rec_ok(r, "close", close(fd));
}

static void st_seek_synced(struct rec *r)
{
	seek_probe(r, 1);
}

static void st_seek_fresh(struct rec *r)
{
	seek_probe(r, 0);
}

/* --------------------------------------------------- steps: fallocate */

static void st_falloc(struct rec *r)
{
	int fd = open("f", O_RDWR | O_CREAT, 0644);

	rec_ok(r, "open", fd);
	rec_ok(r, "fallocate(0, 0, 1MiB)", x_fallocate(fd, 0, 0, MiB));
	rec_fstat(r, "fstat", fd);
	rec_file(r, "content (zeros)", "f");
	rec_ok(r, "fallocate(0, 2MiB, 4KiB)", x_fallocate(fd, 0, 2 * MiB, 4096));
	rec_fstat(r, "fstat grown", fd);
	rec_ok(r, "fallocate len 0", x_fallocate(fd, 0, 0, 0));
	rec_ok(r, "close", close(fd));
}

static void st_falloc_keep(struct rec *r)
{
	char data[100];
	int fd;

	fill(data, sizeof data, 4);
	rec_ok(r, "create f", put("f", data, sizeof data));
	fd = open("f", O_RDWR);
	rec_ok(r, "fallocate(KEEP_SIZE, 0, 1MiB)", x_fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, MiB));
	rec_fstat(r, "fstat (size kept, blocks up)", fd);
	rec_ok(r, "close", close(fd));
	rec_file(r, "content", "f");
	rec_lstat(r, "stat after close", "f");
}

static void st_falloc_punch(struct rec *r)
{
	static char data[MiB];
	char buf[16];
	int fd = open("f", O_RDWR | O_CREAT, 0644);

	fill(data, sizeof data, 5);
	rec_ok(r, "open", fd);
	rec_val(r, "write 1MiB", write(fd, data, sizeof data));
	rec_ok(r, "fsync", fsync(fd));
	rec_fstat(r, "fstat before", fd);
	rec_ok(r, "fallocate(PUNCH_HOLE|KEEP_SIZE, 64KiB, 128KiB)",
	       x_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 64 * KiB, 128 * KiB));
	rec_fstat(r, "fstat after punch", fd);
	rec_data(r, "pread(16@64KiB)", buf, pread(fd, buf, sizeof buf, 64 * KiB));
	rec_val(r, "SEEK_HOLE from 0", x_lseek(fd, 0, SEEK_HOLE));
	rec_val(r, "SEEK_DATA from 64KiB", x_lseek(fd, 64 * KiB, SEEK_DATA));
	rec_ok(r, "fallocate(PUNCH_HOLE) without KEEP_SIZE",
	       x_fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	rec_ok(r, "close", close(fd));
	rec_file(r, "content", "f");
}

/* ---------------------------------------------------- steps: truncation */

static void st_ftruncate(struct rec *r)
{
	int fd;

	mk(r, "f", "0123456789");
	fd = open("f", O_RDWR);
	rec_ok(r, "ftruncate grow 100000", ftruncate(fd, 100000));
	rec_fstat(r, "fstat grown", fd);
	rec_file(r, "content grown", "f");
	rec_ok(r, "ftruncate shrink 5", ftruncate(fd, 5));
	rec_fstat(r, "fstat shrunk", fd);
	rec_file(r, "content shrunk", "f");
	rec_ok(r, "ftruncate -1", ftruncate(fd, -1));
	rec_ok(r, "close", close(fd));
	fd = open("f", O_RDONLY);
	rec_ok(r, "ftruncate on O_RDONLY fd", ftruncate(fd, 0));
	close(fd);
	rec_lstat(r, "stat after", "f");
}

static void st_truncate(struct rec *r)
{
	mk(r, "f", "0123456789");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "truncate grow 70000", truncate("f", 70000));
	rec_lstat(r, "stat grown", "f");
	rec_file(r, "content grown", "f");
	rec_ok(r, "truncate shrink 3", truncate("f", 3));
	rec_lstat(r, "stat shrunk", "f");
	rec_file(r, "content shrunk", "f");
	rec_ok(r, "truncate 0", truncate("f", 0));
	rec_lstat(r, "stat empty", "f");
	rec_ok(r, "truncate missing", truncate("missing", 0));
	rec_ok(r, "truncate dir", truncate("d", 0));
}

/* ------------------------------------------------- steps: attributes */

static void st_chmod(struct rec *r)
{
	int fd;

	mk(r, "f", "x");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "chmod f 0600", chmod("f", 0600));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chmod f 0755", chmod("f", 0755));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chmod d 0700", chmod("d", 0700));
	rec_lstat(r, "stat d", "d");
	rec_ok(r, "chmod d 01777", chmod("d", 01777));
	rec_lstat(r, "stat d", "d");
	fd = open("f", O_RDONLY);
	rec_ok(r, "fchmod 0444", fchmod(fd, 0444));
	rec_fstat(r, "fstat f", fd);
	close(fd);
	rec_ok(r, "fchmodat f 0640", fchmodat(AT_FDCWD, "f", 0640, 0));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chmod missing", chmod("missing", 0644));
}

static void st_chown(struct rec *r)
{
	int fd;

	mk(r, "f", "x");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "symlink l", symlink("f", "l"));
	rec_ok(r, "chown f 0:0 (same)", x_chown("f", 0, 0));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chown f 1234:5678", x_chown("f", 1234, 5678));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chown f -1:42", x_chown("f", (uid_t)-1, 42));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "lchown l 4321:8765", x_lchown("l", 4321, 8765));
	rec_lstat(r, "stat l", "l");
	rec_lstat(r, "stat f untouched", "f");
	rec_ok(r, "chown d 1000:1000", x_chown("d", 1000, 1000));
	rec_lstat(r, "stat d", "d");
	fd = open("f", O_RDONLY);
	rec_ok(r, "fchown 0:0", x_fchown(fd, 0, 0));
	rec_fstat(r, "fstat f", fd);
	close(fd);
	rec_ok(r, "chown missing", x_chown("missing", 0, 0));
}

/* POSIX lets chown(-1, -1) leave the times; Linux file systems set ctime
 * (pjdfstest's chown/00.t notes it). */
static void st_chown_noop(struct rec *r)
{
	struct stat a, b;

	mk(r, "f", "x");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	for (int i = 0; i < 2; i++) {
		const char *p = i == 0 ? "f" : "d";

		lstat(p, &a);
		usleep(20000);
		rec_ok(r, kf("chown %s -1:-1", p), chown(p, (uid_t)-1, (gid_t)-1));
		lstat(p, &b);
		rec_bool(r, kf("chown %s -1:-1 changed ctime", p),
			 b.st_ctim.tv_sec != a.st_ctim.tv_sec || b.st_ctim.tv_nsec != a.st_ctim.tv_nsec);
		rec_lstat(r, kf("stat %s", p), p);
	}
}

/* --------------------------------------------- steps: setuid and setgid
 * Compared only with --suid (a mount that keeps the bits: -o suid); a
 * share without it drops them by design and these points are skipped. */

#define SUID_UID 1234   /* an ordinary user, in none of the groups below */
#define SUID_GROUP 4321 /* a group root and SUID_UID are not members of */

/* Run fn as SUID_UID:SUID_UID with no supplementary groups and no
 * capabilities, in a child; its observations go into r. */
static void as_other(struct rec *r, void (*fn)(struct rec *, void *), void *arg)
{
	struct rec *c = rec_new();
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(SUID_UID) < 0 || setuid(SUID_UID) < 0)
			_exit(3);
		fn(c, arg);
		_exit(0);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rec_append(r, c);
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		rec_add(r, "child", "as_other failed");
	rec_free(c);
}

static void st_suid_mode(struct rec *r)
{
	int fd;

	mk(r, "f", "x");
	rec_ok(r, "chmod f 04755", chmod("f", 04755));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chmod f 02755", chmod("f", 02755));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "chmod f 02745", chmod("f", 02745));
	rec_lstat(r, "stat f (setgid, no group x)", "f");
	rec_ok(r, "chmod f 07777", chmod("f", 07777));
	rec_lstat(r, "stat f", "f");
	fd = open("f", O_RDONLY);
	rec_ok(r, "fchmod 06711", fchmod(fd, 06711));
	rec_fstat(r, "fstat f", fd);
	close(fd);
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "chmod d 02755", chmod("d", 02755));
	rec_lstat(r, "stat d", "d");
	rec_ok(r, "chmod d 06755", chmod("d", 06755));
	rec_lstat(r, "stat d", "d");
	fd = open("c", O_CREAT | O_WRONLY | O_EXCL, 06755);
	rec_ok(r, "open O_CREAT 06755", fd);
	close(fd);
	rec_lstat(r, "stat c", "c");
	rec_ok(r, "mkdir m 02755", mkdir("m", 02755));
	rec_lstat(r, "stat m", "m");
	rec_ok(r, "mknod n S_IFREG|06755", mknod("n", S_IFREG | 06755, 0));
	rec_lstat(r, "stat n", "n");
	rec_ok(r, "mknod p S_IFIFO|02754", mknod("p", S_IFIFO | 02754, 0));
	rec_lstat(r, "stat p", "p");
}

static void other_creates(struct rec *r, void *arg)
{
	int fd;

	(void)arg;
	fd = open("sg/u", O_CREAT | O_WRONLY | O_EXCL, 02775);
	rec_ok(r, "other: open O_CREAT sg/u 02775", fd);
	close(fd);
	rec_ok(r, "other: mkdir sg/ud", mkdir("sg/ud", 0755));
	rec_ok(r, "other: chmod sg/u 02775 (not in the group)", chmod("sg/u", 02775));
}

static void st_suid_inherit(struct rec *r)
{
	int fd;

	rec_ok(r, "mkdir sg", mkdir("sg", 0777));
	rec_ok(r, "chown sg 0:4321", chown("sg", 0, SUID_GROUP));
	rec_ok(r, "chmod sg 02777", chmod("sg", 02777));
	rec_lstat(r, "stat sg", "sg");
	fd = open("sg/f", O_CREAT | O_WRONLY | O_EXCL, 0644);
	rec_ok(r, "open O_CREAT sg/f 0644", fd);
	close(fd);
	rec_lstat(r, "stat sg/f (the directory's group)", "sg/f");
	fd = open("sg/x", O_CREAT | O_WRONLY | O_EXCL, 02755);
	rec_ok(r, "open O_CREAT sg/x 02755 as root", fd);
	close(fd);
	rec_lstat(r, "stat sg/x", "sg/x");
	rec_ok(r, "mkdir sg/sub", mkdir("sg/sub", 0755));
	rec_lstat(r, "stat sg/sub (setgid inherited)", "sg/sub");
	rec_ok(r, "mknod sg/p fifo", mknod("sg/p", S_IFIFO | 0644, 0));
	rec_lstat(r, "stat sg/p", "sg/p");
	as_other(r, other_creates, NULL);
	rec_lstat(r, "stat sg/u (setgid dropped: not a member)", "sg/u");
	rec_lstat(r, "stat sg/ud", "sg/ud");
}

static void other_writes(struct rec *r, void *arg)
{
	int fd;

	(void)arg;
	fd = open("w", O_WRONLY | O_APPEND);
	rec_ok(r, "other: write w", fd < 0 ? -1 : write(fd, "y", 1));
	close(fd);
	fd = open("wg", O_WRONLY | O_APPEND);
	rec_ok(r, "other: write wg", fd < 0 ? -1 : write(fd, "y", 1));
	close(fd);
	rec_ok(r, "other: truncate t", truncate("t", 0));
	fd = open("o", O_WRONLY | O_TRUNC);
	rec_ok(r, "other: open O_TRUNC o", fd);
	close(fd);
}

static void st_suid_kill(struct rec *r)
{
	static const struct { const char *name; mode_t mode; } files[] = {
		{ "w", 06777 }, { "wg", 02767 }, { "t", 06777 }, { "o", 04777 },
		{ "root", 06755 }, { "own", 06755 }, { "ownd", 02755 },
	};
	int fd;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		mk(r, files[i].name, "x");
		/* wg's group is one the writer is not in */
		rec_ok(r, kf("chown %s", files[i].name),
		       chown(files[i].name, i < 4 ? SUID_UID : 0,
			     i == 1 ? SUID_GROUP : i < 4 ? SUID_UID : 0));
		rec_ok(r, kf("chmod %s", files[i].name), chmod(files[i].name, files[i].mode));
	}
	as_other(r, other_writes, NULL);
	rec_lstat(r, "stat w (write: setuid and group-x setgid dropped)", "w");
	rec_lstat(r, "stat wg (write: setgid without group x, not a member)", "wg");
	rec_lstat(r, "stat t (truncate)", "t");
	rec_lstat(r, "stat o (O_TRUNC)", "o");
	fd = open("root", O_WRONLY | O_APPEND);
	rec_ok(r, "root: write root", fd < 0 ? -1 : write(fd, "y", 1));
	close(fd);
	rec_lstat(r, "stat root (root keeps them)", "root");
	rec_ok(r, "root: chown own 1234:1234", chown("own", SUID_UID, SUID_UID));
	rec_lstat(r, "stat own (chown drops them)", "own");
	rec_ok(r, "unlink ownd", unlink("ownd"));
	rec_ok(r, "mkdir ownd", mkdir("ownd", 0755));
	rec_ok(r, "chmod ownd 02755", chmod("ownd", 02755));
	rec_ok(r, "root: chown ownd 1234:1234", chown("ownd", SUID_UID, SUID_UID));
	rec_lstat(r, "stat ownd (a directory keeps setgid)", "ownd");
}

static void st_utimens(struct rec *r)
{
	struct timespec t1[2] = { { 1000000000, 123456789 }, { 1100000000, 987654321 } };
	struct timespec t2[2] = { { 1200000000, 5 }, { 1300000000, 6 } };
	int fd;

	mk(r, "f", "x");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "symlink l", symlink("f", "l"));
	rec_ok(r, "utimensat f", utimensat(AT_FDCWD, "f", t1, 0));
	rec_times(r, "times f", "f");
	rec_ok(r, "utimensat d", utimensat(AT_FDCWD, "d", t1, 0));
	rec_times(r, "times d", "d");
	rec_ok(r, "utimensat l NOFOLLOW", utimensat(AT_FDCWD, "l", t2, AT_SYMLINK_NOFOLLOW));
	rec_times(r, "times l", "l");
	rec_times(r, "times f untouched", "f");
	fd = open("f", O_RDONLY);
	rec_ok(r, "futimens", futimens(fd, t2));
	close(fd);
	rec_times(r, "times f", "f");
	rec_ok(r, "utimensat missing", utimensat(AT_FDCWD, "missing", t1, 0));
}

static int is_now(const struct timespec *t)
{
	time_t now = time(NULL);

	/* "old" times are years back; an hour either way allows for a
	 * guest whose clock is not the host's (UTIME_NOW is the server's) */
	return t->tv_sec >= now - 3600 && t->tv_sec <= now + 3600;
}

static void rec_now(struct rec *r, const char *key, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		rec_ok(r, key, -1);
		return;
	}
	rec_add(r, key, "atime:%s mtime:%s", is_now(&st.st_atim) ? "now" : "old",
		is_now(&st.st_mtim) ? "now" : "old");
}

/* One explicitly set timestamp: 'a' for atime, 'm' for mtime. */
static void rec_time(struct rec *r, const char *key, const char *path, char which)
{
	struct stat st;
	const struct timespec *t;

	if (lstat(path, &st) < 0) {
		rec_ok(r, key, -1);
		return;
	}
	t = which == 'a' ? &st.st_atim : &st.st_mtim;
	rec_add(r, key, "%jd.%09ld", (intmax_t)t->tv_sec, t->tv_nsec);
}

static void st_utime_now(struct rec *r)
{
	struct timespec set[2] = { { 1000000000, 111 }, { 1100000000, 222 } };
	struct timespec omit_now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec omit_omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

	mk(r, "f", "x");
	rec_ok(r, "utimensat explicit", utimensat(AT_FDCWD, "f", set, 0));
	rec_ok(r, "utimensat OMIT,NOW", utimensat(AT_FDCWD, "f", omit_now, 0));
	rec_now(r, "now/old", "f");
	rec_time(r, "atime kept exactly", "f", 'a');
	rec_ok(r, "utimensat explicit", utimensat(AT_FDCWD, "f", set, 0));
	rec_ok(r, "utimensat NOW,OMIT", utimensat(AT_FDCWD, "f", now_omit, 0));
	rec_now(r, "now/old", "f");
	rec_time(r, "mtime kept exactly", "f", 'm');
	rec_ok(r, "utimensat OMIT,OMIT", utimensat(AT_FDCWD, "f", omit_omit, 0));
	rec_now(r, "now/old", "f");
	rec_time(r, "mtime still kept", "f", 'm');
	rec_ok(r, "utimensat explicit", utimensat(AT_FDCWD, "f", set, 0));
	rec_ok(r, "utimensat NULL", utimensat(AT_FDCWD, "f", NULL, 0));
	rec_now(r, "now/old", "f");
}

/* ------------------------------------------- steps: directories, unlink */

static void st_mkdir(struct rec *r)
{
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_lstat(r, "stat d", "d");
	rec_ok(r, "mkdir d again", mkdir("d", 0755));
	rec_ok(r, "mkdir d/sub", mkdir("d/sub", 0700));
	rec_lstat(r, "stat d (nlink 3)", "d");
	rec_lstat(r, "stat d/sub", "d/sub");
	rec_ok(r, "mkdir m 0777 (umask 022)", mkdir("m", 0777));
	rec_lstat(r, "stat m", "m");
	rec_ok(r, "rmdir non-empty d", rmdir("d"));
	mk(r, "f", "x");
	rec_ok(r, "rmdir file", rmdir("f"));
	rec_ok(r, "mkdir over file", mkdir("f", 0755));
	rec_ok(r, "mkdir under file", mkdir("f/x", 0755));
	rec_ok(r, "mkdir under missing", mkdir("missing/x", 0755));
	rec_ok(r, "rmdir d/sub", rmdir("d/sub"));
	rec_lstat(r, "stat d (nlink 2)", "d");
	rec_ok(r, "rmdir d", rmdir("d"));
	rec_ok(r, "rmdir d again", rmdir("d"));
	rec_ok(r, "rmdir .", rmdir("."));
	rec_lstat(r, "stat .", ".");
	rec_dir(r, "readdir .", ".");
}

static void st_unlink(struct rec *r)
{
	mk(r, "f", "x");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	mk(r, "d/inner", "y");
	rec_ok(r, "unlink f", unlink("f"));
	rec_lstat(r, "stat f", "f");
	rec_ok(r, "unlink dir", unlink("d"));
	rec_ok(r, "unlink missing", unlink("missing"));
	mk(r, "g", "z");
	rec_ok(r, "unlink under file", unlink("g/x"));
	rec_ok(r, "unlink d/inner", unlink("d/inner"));
	rec_ok(r, "unlinkat(AT_REMOVEDIR) d", unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
	rec_ok(r, "unlinkat(AT_REMOVEDIR) file", unlinkat(AT_FDCWD, "g", AT_REMOVEDIR));
	rec_dir(r, "readdir .", ".");
}

static void st_unlink_open(struct rec *r)
{
	char buf[64];
	int fd = open("f", O_RDWR | O_CREAT, 0644);

	rec_ok(r, "open", fd);
	rec_val(r, "write", write(fd, "still here", 10));
	rec_ok(r, "unlink while open", unlink("f"));
	rec_fstat(r, "fstat (nlink 0)", fd);
	rec_data(r, "pread", buf, pread(fd, buf, sizeof buf, 0));
	rec_val(r, "pwrite after unlink", pwrite(fd, "!", 1, 10));
	rec_data(r, "pread again", buf, pread(fd, buf, sizeof buf, 0));
	rec_dir(r, "readdir . while open", ".");
	rec_ok(r, "close", close(fd));
	rec_dir(r, "readdir . after close", ".");
	rec_lstat(r, "stat f", "f");
}

/* -------------------------------------------------------- steps: rename */

static void st_rename_plain(struct rec *r)
{
	ino_t ino;

	mk(r, "a", "alpha");
	ino = ino_of("a");
	rec_ok(r, "rename a b", rename("a", "b"));
	rec_lstat(r, "stat a", "a");
	rec_file(r, "content b", "b");
	rec_bool(r, "b keeps a's inode", ino && ino_of("b") == ino);
	rec_ok(r, "rename missing", rename("missing", "c"));
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "rename b d/b", rename("b", "d/b"));
	rec_file(r, "content d/b", "d/b");
	rec_dir(r, "readdir .", ".");
	rec_dir(r, "readdir d", "d");
}

static void st_rename_over(struct rec *r)
{
	ino_t ino;

	mk(r, "a", "alpha");
	mk(r, "b", "bravo-longer");
	ino = ino_of("a");
	rec_ok(r, "rename a over b", rename("a", "b"));
	rec_lstat(r, "stat a", "a");
	rec_lstat(r, "stat b", "b");
	rec_file(r, "content b", "b");
	rec_bool(r, "b has a's inode", ino && ino_of("b") == ino);
	rec_dir(r, "readdir .", ".");
}

static void st_rename_dir_empty(struct rec *r)
{
	rec_ok(r, "mkdir s", mkdir("s", 0755));
	mk(r, "s/x", "x");
	rec_ok(r, "mkdir t", mkdir("t", 0700));
	rec_ok(r, "rename s over empty t", rename("s", "t"));
	rec_lstat(r, "stat s", "s");
	rec_lstat(r, "stat t", "t");
	rec_dir(r, "readdir t", "t");
	rec_file(r, "content t/x", "t/x");
	rec_lstat(r, "stat . (nlink)", ".");
}

static void st_rename_dir_full(struct rec *r)
{
	rec_ok(r, "mkdir s", mkdir("s", 0755));
	rec_ok(r, "mkdir t", mkdir("t", 0755));
	mk(r, "t/y", "y");
	rec_ok(r, "rename s over non-empty t", rename("s", "t"));
	rec_lstat(r, "stat s", "s");
	rec_dir(r, "readdir t", "t");
	rec_ok(r, "rename t over s (empty)", rename("t", "s"));
	rec_dir(r, "readdir s", "s");
	rec_dir(r, "readdir .", ".");
}

static void st_rename_kind(struct rec *r)
{
	mk(r, "f", "file");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "rename file over dir", rename("f", "d"));
	rec_ok(r, "rename dir over file", rename("d", "f"));
	rec_lstat(r, "stat f", "f");
	rec_lstat(r, "stat d", "d");
	rec_ok(r, "rename dir into itself", rename("d", "d/sub"));
	rec_dir(r, "readdir .", ".");
}

static void st_rename_noreplace(struct rec *r)
{
	mk(r, "a", "alpha");
	mk(r, "b", "bravo");
	rec_ok(r, "symlink dangling", symlink("nowhere", "dangling"));
	rec_ok(r, "RENAME_NOREPLACE onto file",
	       renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
	rec_ok(r, "RENAME_NOREPLACE onto dangling symlink",
	       renameat2(AT_FDCWD, "a", AT_FDCWD, "dangling", RENAME_NOREPLACE));
	rec_file(r, "content a", "a");
	rec_file(r, "content b", "b");
	rec_ok(r, "RENAME_NOREPLACE to free name",
	       renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
	rec_file(r, "content c", "c");
	rec_dir(r, "readdir .", ".");
}

static void st_rename_exchange(struct rec *r)
{
	ino_t fi, di;

	mk(r, "f", "file");
	rec_ok(r, "mkdir d", mkdir("d", 0750));
	mk(r, "d/inner", "in");
	fi = ino_of("f");
	di = ino_of("d");
	rec_ok(r, "RENAME_EXCHANGE f d", x_renameat2("f", "d", RENAME_EXCHANGE));
	rec_lstat(r, "stat f (now the dir)", "f");
	rec_lstat(r, "stat d (now the file)", "d");
	rec_file(r, "content d", "d");
	rec_dir(r, "readdir f", "f");
	rec_bool(r, "inodes swapped", fi && di && ino_of("f") == di && ino_of("d") == fi);
	rec_ok(r, "RENAME_EXCHANGE with missing",
	       x_renameat2("f", "missing", RENAME_EXCHANGE));
	rec_ok(r, "RENAME_EXCHANGE|NOREPLACE",
	       x_renameat2("f", "d", RENAME_EXCHANGE | RENAME_NOREPLACE));
	rec_dir(r, "readdir .", ".");
}

static void st_rename_self(struct rec *r)
{
	mk(r, "a", "alpha");
	rec_ok(r, "rename a a", rename("a", "a"));
	rec_file(r, "content a", "a");
	rec_ok(r, "link a b", link("a", "b"));
	rec_ok(r, "rename a b (same inode)", rename("a", "b"));
	rec_lstat(r, "stat a", "a");
	rec_lstat(r, "stat b", "b");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "rename d d", rename("d", "d"));
	rec_ok(r, "rename . x", rename(".", "x"));
	rec_dir(r, "readdir .", ".");
}

/* --------------------------------------------------- steps: links */

static void st_hardlink(struct rec *r)
{
	int fd;

	mk(r, "a", "shared data");
	mk(r, "other", "other");
	rec_ok(r, "link a b", link("a", "b"));
	rec_lstat(r, "stat a", "a");
	rec_lstat(r, "stat b", "b");
	rec_bool(r, "a and b share an inode", same_ino("a", "b"));
	rec_bool(r, "a and other differ", !same_ino("a", "other"));
	rec_ok(r, "link onto existing", link("a", "other"));
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "link dir", link("d", "dl"));
	rec_ok(r, "link missing", link("missing", "x"));
	fd = open("b", O_WRONLY | O_APPEND);
	rec_val(r, "append via b", write(fd, "!", 1));
	close(fd);
	rec_file(r, "content a", "a");
	rec_ok(r, "unlink a", unlink("a"));
	rec_lstat(r, "stat b", "b");
	rec_file(r, "content b", "b");
	rec_ok(r, "link b c", link("b", "c"));
	rec_ok(r, "link c e", link("c", "e"));
	rec_lstat(r, "stat c (nlink 3)", "c");
	rec_bool(r, "b,c,e share an inode", same_ino("b", "c") && same_ino("c", "e"));
	rec_ok(r, "symlink sl", symlink("a-target", "sl"));
	rec_ok(r, "linkat symlink (no follow)", linkat(AT_FDCWD, "sl", AT_FDCWD, "sl2", 0));
	rec_lstat(r, "stat sl2", "sl2");
	rec_bool(r, "sl and sl2 share an inode", same_ino("sl", "sl2"));
	rec_dir(r, "readdir .", ".");
}

static void rec_readlink(struct rec *r, const char *key, const char *path)
{
	char buf[4096];

	rec_data(r, key, buf, readlink(path, buf, sizeof buf));
}

static void st_symlink(struct rec *r)
{
	static const char *const targets[][2] = {
		{ "abs", "/etc/passwd" },
		{ "dangling", "no/such/target" },
		{ "rel", "target" },
		{ "odd", "../odd name\twith\001bytes/" },
		{ "dots", "../../.." },
	};
	char longt[1001], buf[16];
	int fd;

	mk(r, "target", "T");
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		rec_ok(r, kf("symlink %s", targets[i][0]), symlink(targets[i][1], targets[i][0]));
		rec_readlink(r, kf("readlink %s", targets[i][0]), targets[i][0]);
		rec_lstat(r, kf("lstat %s", targets[i][0]), targets[i][0]);
	}
	memset(longt, 'x', sizeof longt - 1);
	longt[sizeof longt - 1] = '\0';
	for (size_t i = 8; i < sizeof longt - 1; i += 9)
		longt[i] = '/';
	rec_ok(r, "symlink long (1000 bytes)", symlink(longt, "long"));
	rec_readlink(r, "readlink long", "long");
	rec_lstat(r, "lstat long", "long");
	rec_stat(r, "stat through rel", "rel");
	rec_stat(r, "stat through dangling", "dangling");
	rec_ok(r, "symlink onto existing", symlink("x", "target"));
	rec_ok(r, "symlink empty target", symlink("", "empty"));
	rec_readlink(r, "readlink regular file", "target");
	rec_readlink(r, "readlink missing", "missing");
	rec_data(r, "readlink bufsiz 4", buf, readlink("abs", buf, 4));
	rec_ok(r, "open rel O_NOFOLLOW", open_close("rel", O_RDONLY | O_NOFOLLOW, 0));
	fd = open("rel", O_RDONLY);
	rec_data(r, "read through rel", buf, read(fd, buf, sizeof buf));
	close(fd);
	rec_dir(r, "readdir .", ".");
}

/* -------------------------------------------------------- steps: readdir */

/* Makes dir with n empty files f000.., returning how many failed. */
static int make_files(const char *dir, int n)
{
	char path[64];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%03d", dir, i);
		if (open_close(path, O_CREAT | O_WRONLY, 0644) < 0)
			bad++;
	}
	return bad;
}

static void st_readdir_many(struct rec *r)
{
	char path[64];

	rec_ok(r, "mkdir big", mkdir("big", 0755));
	rec_val(r, "failed creates of 300", make_files("big", 300));
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof path, "big/d%d", i);
		rec_ok(r, kf("mkdir %s", path), mkdir(path, 0755));
	}
	rec_ok(r, "symlink big/s0", symlink("f000", "big/s0"));
	rec_ok(r, "mknod fifo big/p0", mknod("big/p0", S_IFIFO | 0644, 0));
	rec_dir(r, "readdir big", "big");
	rec_lstat(r, "stat big", "big");
}

static void st_readdir_seek(struct rec *r)
{
	struct names one = { 0 }, two = { 0 }, skip = { 0 }, a = { 0 }, b = { 0 };
	long pos;
	DIR *d;

	rec_ok(r, "mkdir big", mkdir("big", 0755));
	rec_val(r, "failed creates of 300", make_files("big", 300));
	d = opendir("big");
	if (!d) {
		rec_ok(r, "opendir", -1);
		return;
	}
	rec_val(r, "readdir pass 1 errno", names_read(d, &one, SIZE_MAX));
	rec_val(r, "entries pass 1", (long long)one.n);
	rewinddir(d);
	names_read(d, &skip, 100);
	pos = telldir(d);
	names_read(d, &a, 1);
	names_read(d, &skip, 105);
	seekdir(d, pos);
	names_read(d, &b, 1);
	rec_bool(r, "entry after seekdir(telldir) matches", a.n == 1 && names_equal(&a, &b));
	rewinddir(d);
	rec_val(r, "readdir pass 2 errno", names_read(d, &two, SIZE_MAX));
	rec_bool(r, "pass 2 set equals pass 1", names_equal(&one, &two));
	rec_names(r, "names", &two);
	closedir(d);
	names_free(&one);
	names_free(&two);
	names_free(&skip);
	names_free(&a);
	names_free(&b);
}

static void st_readdir_unlink(struct rec *r)
{
	struct names first = { 0 }, rest = { 0 }, after = { 0 };
	char path[64];
	int bad = 0;
	DIR *d;

	rec_ok(r, "mkdir u", mkdir("u", 0755));
	rec_val(r, "failed creates of 200", make_files("u", 200));
	d = opendir("u");
	if (!d) {
		rec_ok(r, "opendir", -1);
		return;
	}
	rec_val(r, "readdir 50 errno", names_read(d, &first, 50));
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof path, "u/f%03d", i);
		if (unlink(path) < 0)
			bad++;
	}
	rec_val(r, "failed unlinks", bad);
	rec_val(r, "readdir to end after unlinks errno", names_read(d, &rest, 1000));
	rec_bool(r, "iteration ended", rest.n < 1000);
	rewinddir(d);
	rec_val(r, "readdir after rewinddir errno", names_read(d, &after, SIZE_MAX));
	rec_names(r, "names after rewinddir", &after);
	closedir(d);
	rec_ok(r, "rmdir u", rmdir("u"));
	names_free(&first);
	names_free(&rest);
	names_free(&after);
}

/* ----------------------------------------------- steps: statfs, syncing */

static void st_statfs(struct rec *r)
{
	struct statfs sf;
	struct statvfs sv;
	int fd;

	rec_ok(r, "statfs .", statfs(".", &sf));
	rec_bool(r, "f_bsize > 0", sf.f_bsize > 0);
	rec_ok(r, "statvfs .", statvfs(".", &sv));
	rec_add(r, "f_namemax", "%lu", sv.f_namemax);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	rec_ok(r, "fstatfs", fstatfs(fd, &sf));
	close(fd);
}

static void st_fsync(struct rec *r)
{
	int fd = open("f", O_RDWR | O_CREAT, 0644);
	int dfd;

	rec_ok(r, "open", fd);
	rec_val(r, "write", write(fd, "sync me", 7));
	rec_ok(r, "fsync", fsync(fd));
	rec_ok(r, "fdatasync", fdatasync(fd));
	rec_ok(r, "sync_file_range", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	rec_ok(r, "syncfs", syncfs(fd));
	rec_ok(r, "close", close(fd));
	fd = open("f", O_RDONLY);
	rec_ok(r, "fsync on O_RDONLY fd", fsync(fd));
	close(fd);
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	rec_ok(r, "open . O_DIRECTORY", dfd);
	rec_ok(r, "fsync dir", fsync(dfd));
	rec_ok(r, "fdatasync dir", fdatasync(dfd));
	rec_ok(r, "close dir", close(dfd));
	rec_file(r, "content", "f");
}

/* --------------------------------------------------------- steps: xattrs */

static void st_xattr_flags(struct rec *r)
{
	char buf[4096], big[2000];

	fill(big, sizeof big, 6);
	mk(r, "f", "x");
	rec_ok(r, "setxattr user.a", x_setxattr("f", "user.a", "v1", 2, 0));
	rec_ok(r, "XATTR_CREATE existing", x_setxattr("f", "user.a", "v2", 2, XATTR_CREATE));
	rec_ok(r, "XATTR_REPLACE missing", x_setxattr("f", "user.b", "v", 1, XATTR_REPLACE));
	rec_ok(r, "XATTR_REPLACE existing", x_setxattr("f", "user.a", "value-two", 9, XATTR_REPLACE));
	rec_ok(r, "XATTR_CREATE new", x_setxattr("f", "user.c", "c", 1, XATTR_CREATE));
	rec_val(r, "getxattr size query", x_getxattr("f", "user.a", NULL, 0));
	rec_val(r, "getxattr small buffer", x_getxattr("f", "user.a", buf, 4));
	rec_data(r, "getxattr user.a", buf, x_getxattr("f", "user.a", buf, sizeof buf));
	rec_data(r, "getxattr user.c", buf, x_getxattr("f", "user.c", buf, sizeof buf));
	rec_val(r, "getxattr missing", x_getxattr("f", "user.missing", buf, sizeof buf));
	rec_val(r, "getxattr missing size query", x_getxattr("f", "user.missing", NULL, 0));
	rec_ok(r, "setxattr empty value", x_setxattr("f", "user.empty", "", 0, 0));
	rec_val(r, "getxattr empty value", x_getxattr("f", "user.empty", buf, sizeof buf));
	rec_ok(r, "setxattr 2000-byte value", x_setxattr("f", "user.big", big, sizeof big, 0));
	rec_data(r, "getxattr 2000-byte value", buf, x_getxattr("f", "user.big", buf, sizeof buf));
	rec_ok(r, "setxattr unknown namespace", x_setxattr("f", "bogus.x", "v", 1, 0));
	rec_ok(r, "setxattr on missing file", x_setxattr("missing", "user.a", "v", 1, 0));
	rec_val(r, "getxattr on missing file", x_getxattr("missing", "user.a", buf, sizeof buf));
}

static void st_xattr_list(struct rec *r)
{
	char buf[256];

	mk(r, "f", "x");
	rec_xlist(r, "list fresh file", "f");
	rec_ok(r, "set user.a", x_setxattr("f", "user.a", "1", 1, 0));
	rec_ok(r, "set user.bb", x_setxattr("f", "user.bb", "22", 2, 0));
	rec_ok(r, "set user.ccc", x_setxattr("f", "user.ccc", "333", 3, 0));
	rec_val(r, "listxattr size query", x_listxattr("f", NULL, 0));
	rec_val(r, "listxattr small buffer", x_listxattr("f", buf, 3));
	rec_xlist(r, "list", "f");
	rec_ok(r, "removexattr user.bb", x_removexattr("f", "user.bb"));
	rec_xlist(r, "list after remove", "f");
	rec_ok(r, "removexattr user.bb again", x_removexattr("f", "user.bb"));
	rec_val(r, "getxattr removed", x_getxattr("f", "user.bb", buf, sizeof buf));
	rec_ok(r, "removexattr on missing file", x_removexattr("missing", "user.a"));
}

static void st_xattr_other(struct rec *r)
{
	char buf[256], name[300];
	int fd;

	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "setxattr dir", x_setxattr("d", "user.d", "dir", 3, 0));
	rec_data(r, "getxattr dir", buf, x_getxattr("d", "user.d", buf, sizeof buf));
	rec_xlist(r, "list dir", "d");
	mk(r, "f", "x");
	fd = open("f", O_RDONLY);
	rec_ok(r, "fsetxattr", x_fsetxattr(fd, "user.fd", "viafd", 5, 0));
	rec_data(r, "fgetxattr", buf, x_fgetxattr(fd, "user.fd", buf, sizeof buf));
	rec_val(r, "flistxattr size", x_flistxattr(fd, NULL, 0));
	rec_ok(r, "fremovexattr", x_fremovexattr(fd, "user.fd"));
	rec_val(r, "fgetxattr removed", x_fgetxattr(fd, "user.fd", buf, sizeof buf));
	close(fd);
	rec_ok(r, "symlink l", symlink("f", "l"));
	rec_ok(r, "lsetxattr user.* on symlink", x_lsetxattr("l", "user.l", "x", 1, 0));
	rec_val(r, "lgetxattr on symlink", x_lgetxattr("l", "user.l", buf, sizeof buf));
	rec_ok(r, "setxattr through symlink", x_setxattr("l", "user.via", "v", 1, 0));
	rec_data(r, "getxattr target", buf, x_getxattr("f", "user.via", buf, sizeof buf));
	snprintf(name, sizeof name, "user.%0251d", 0);
	rec_ok(r, "setxattr 256-byte name", x_setxattr("f", name, "v", 1, 0));
	rec_xlist(r, "list f", "f");
}

/* ---------------------------------------------------------- steps: locks */

static void child_flock(struct rec *r, void *arg)
{
	int fd = open("f", O_RDWR);

	(void)arg;
	rec_ok(r, "child: flock(LOCK_SH|LOCK_NB)", flock(fd, LOCK_SH | LOCK_NB));
}

static void st_flock(struct rec *r)
{
	int fd1, fd2;

	mk(r, "f", "lock me");
	fd1 = open("f", O_RDWR);
	fd2 = open("f", O_RDWR);
	rec_ok(r, "open twice", fd1 < 0 ? fd1 : fd2);
	rec_ok(r, "fd1 LOCK_EX", flock(fd1, LOCK_EX));
	rec_ok(r, "fd2 LOCK_EX|LOCK_NB", flock(fd2, LOCK_EX | LOCK_NB));
	rec_ok(r, "fd2 LOCK_SH|LOCK_NB", flock(fd2, LOCK_SH | LOCK_NB));
	in_child(r, child_flock, NULL);
	rec_ok(r, "fd1 LOCK_UN", flock(fd1, LOCK_UN));
	rec_ok(r, "fd2 LOCK_SH|LOCK_NB", flock(fd2, LOCK_SH | LOCK_NB));
	rec_ok(r, "fd1 LOCK_SH|LOCK_NB", flock(fd1, LOCK_SH | LOCK_NB));
	rec_ok(r, "fd1 upgrade LOCK_EX|LOCK_NB", flock(fd1, LOCK_EX | LOCK_NB));
	close(fd2);
	rec_ok(r, "fd1 LOCK_EX|LOCK_NB after fd2 closed", flock(fd1, LOCK_EX | LOCK_NB));
	close(fd1);
}

/* F_SETLK on a conflicting lock; EACCES is folded into EAGAIN (POSIX
 * allows either). */
static void rec_setlk(struct rec *r, const char *key, int fd, int cmd, short type,
		      off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	int rc = fcntl(fd, cmd, &fl);

	if (rc < 0 && errno == EACCES)
		errno = EAGAIN;
	rec_ok(r, key, rc);
}

static void rec_getlk(struct rec *r, const char *key, int fd, int cmd, pid_t holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1000 };

	if (fcntl(fd, cmd, &fl) < 0) {
		rec_ok(r, key, -1);
		return;
	}
	rec_add(r, key, "type:%s start:%jd len:%jd pid:%s",
		fl.l_type == F_UNLCK ? "UNLCK" : fl.l_type == F_WRLCK ? "WRLCK" : "RDLCK",
		(intmax_t)fl.l_start, (intmax_t)fl.l_len,
		fl.l_pid == holder ? "holder" : fl.l_pid == -1 ? "-1" : "other");
}

static void child_posix_conflict(struct rec *r, void *arg)
{
	int fd = open("f", O_RDWR);

	(void)arg;
	rec_ok(r, "child: open", fd);
	rec_setlk(r, "child: F_SETLK WR [0,50) conflicts", fd, F_SETLK, F_WRLCK, 0, 50);
	rec_setlk(r, "child: F_SETLK RD [50,60) conflicts", fd, F_SETLK, F_RDLCK, 50, 10);
	rec_getlk(r, "child: F_GETLK WR [0,1000)", fd, F_GETLK, getppid());
	rec_setlk(r, "child: F_SETLK RD [200,300) free", fd, F_SETLK, F_RDLCK, 200, 100);
	rec_setlk(r, "child: F_SETLK WR [100,110) adjacent", fd, F_SETLK, F_WRLCK, 100, 10);
}

static void child_posix_free(struct rec *r, void *arg)
{
	int fd = open("f", O_RDWR);

	(void)arg;
	rec_setlk(r, "child: F_SETLK WR [0,50) after unlock", fd, F_SETLK, F_WRLCK, 0, 50);
	rec_getlk(r, "child: F_GETLK", fd, F_GETLK, getppid());
}

static void st_posix_lock(struct rec *r)
{
	static char data[1000];
	int fd;

	rec_ok(r, "create f", put("f", data, sizeof data));
	fd = open("f", O_RDWR);
	rec_setlk(r, "F_SETLK WR [10,100)", fd, F_SETLK, F_WRLCK, 10, 90);
	in_child(r, child_posix_conflict, NULL);
	rec_getlk(r, "own F_GETLK", fd, F_GETLK, getpid());
	rec_setlk(r, "F_SETLK UNLCK", fd, F_SETLK, F_UNLCK, 0, 0);
	in_child(r, child_posix_free, NULL);
	rec_ok(r, "close", close(fd));
}

static void st_ofd_lock(struct rec *r)
{
	int fd1, fd2;

	mk(r, "f", "ofd locks");
	fd1 = open("f", O_RDWR);
	fd2 = open("f", O_RDWR);
	rec_setlk(r, "fd1 F_OFD_SETLK WR [0,100)", fd1, F_OFD_SETLK, F_WRLCK, 0, 100);
	rec_setlk(r, "fd2 F_OFD_SETLK WR [50,60)", fd2, F_OFD_SETLK, F_WRLCK, 50, 10);
	rec_getlk(r, "fd2 F_OFD_GETLK", fd2, F_OFD_GETLK, 0);
	rec_setlk(r, "fd1 F_OFD_SETLK UNLCK", fd1, F_OFD_SETLK, F_UNLCK, 0, 0);
	rec_setlk(r, "fd2 F_OFD_SETLK WR [50,60) again", fd2, F_OFD_SETLK, F_WRLCK, 50, 10);
	close(fd1);
	close(fd2);
}

/* ------------------------------------------------- steps: copy, mmap */

static void st_copy_range(struct rec *r)
{
	static char data[64 * KiB];
	loff_t oi = 1000, oo = 500;
	int in, out;

	fill(data, sizeof data, 7);
	rec_ok(r, "create src", put("src", data, sizeof data));
	mk(r, "dst", "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	in = open("src", O_RDONLY);
	out = open("dst", O_WRONLY);
	rec_val(r, "copy_file_range 40000", copy_file_range(in, &oi, out, &oo, 40000, 0));
	rec_add(r, "offsets", "in:%jd out:%jd", (intmax_t)oi, (intmax_t)oo);
	oi = 60000;
	rec_val(r, "copy_file_range past EOF", copy_file_range(in, &oi, out, &oo, 10000, 0));
	rec_val(r, "copy_file_range len 0", copy_file_range(in, &oi, out, &oo, 0, 0));
	rec_val(r, "lseek out to end", lseek(out, 0, SEEK_END));
	rec_val(r, "copy_file_range with file offsets", copy_file_range(in, NULL, out, NULL, 100, 0));
	rec_add(r, "file offsets", "in:%jd out:%jd", (intmax_t)lseek(in, 0, SEEK_CUR),
		(intmax_t)lseek(out, 0, SEEK_CUR));
	rec_ok(r, "close out", close(out));
	close(in);
	rec_lstat(r, "stat dst", "dst");
	rec_file(r, "content dst", "dst");
}

static void st_mmap_read(struct rec *r)
{
	static char data[3 * 4096 + 100];
	int fd;
	void *p;

	fill(data, sizeof data, 8);
	rec_ok(r, "create f", put("f", data, sizeof data));
	fd = open("f", O_RDONLY);
	p = mmap(NULL, sizeof data, PROT_READ, MAP_SHARED, fd, 0);
	rec_ok(r, "mmap MAP_SHARED read", p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED) {
		rec_data(r, "mapped bytes", p, sizeof data);
		munmap(p, sizeof data);
	} else {
		rec_add(r, "mapped bytes", "(not mapped)");
	}
	p = mmap(NULL, sizeof data, PROT_READ, MAP_PRIVATE, fd, 0);
	rec_ok(r, "mmap MAP_PRIVATE read", p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED) {
		rec_data(r, "mapped bytes", p, sizeof data);
		munmap(p, sizeof data);
	} else {
		rec_add(r, "mapped bytes", "(not mapped)");
	}
	close(fd);
}

static void st_mmap_write(struct rec *r)
{
	static char buf[64 * KiB];
	const size_t len = sizeof buf;
	char *p;
	int fd = open("f", O_RDWR | O_CREAT, 0644);

	rec_ok(r, "open", fd);
	rec_ok(r, "ftruncate 64KiB", ftruncate(fd, (off_t)len));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rec_ok(r, "mmap MAP_SHARED read/write", p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED) {
		fill(p, len, 9);
		rec_ok(r, "msync MS_SYNC", msync(p, len, MS_SYNC));
		rec_val(r, "pwrite HELLO@100", pwrite(fd, "HELLO", 5, 100));
		rec_data(r, "mapping sees pwrite", p + 100, 5);
		munmap(p, len);
	} else {
		rec_add(r, "msync MS_SYNC", "(not mapped)");
		rec_add(r, "pwrite HELLO@100", "(not mapped)");
		rec_add(r, "mapping sees pwrite", "(not mapped)");
	}
	rec_data(r, "pread same fd", buf, pread(fd, buf, len, 0));
	rec_ok(r, "close", close(fd));
	rec_file(r, "content via fresh open", "f");
	rec_lstat(r, "stat", "f");
}

/* ---------------------------------------------- steps: errors, specials */

static void st_open_errors(struct rec *r)
{
	mk(r, "f", "x");
	rec_ok(r, "mkdir d", mkdir("d", 0755));
	rec_ok(r, "O_DIRECTORY on file", open_close("f", O_RDONLY | O_DIRECTORY, 0));
	rec_ok(r, "open missing", open_close("missing", O_RDONLY, 0));
	rec_ok(r, "open missing/x", open_close("missing/x", O_RDONLY, 0));
	rec_ok(r, "open f/x", open_close("f/x", O_RDONLY, 0));
	rec_ok(r, "open f/", open_close("f/", O_RDONLY, 0));
	rec_ok(r, "open dir O_WRONLY", open_close("d", O_WRONLY, 0));
	rec_ok(r, "open dir O_RDONLY|O_DIRECTORY", open_close("d", O_RDONLY | O_DIRECTORY, 0));
	rec_ok(r, "O_CREAT on dir", open_close("d", O_RDWR | O_CREAT, 0644));
	rec_ok(r, "O_CREAT name/", open_close("newdir/", O_WRONLY | O_CREAT, 0644));
	rec_dir(r, "readdir .", ".");
}

static void st_name_max(struct rec *r)
{
	char n255[256], n256[257];

	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n256, 'b', 256);
	n256[256] = '\0';
	rec_ok(r, "create 256-char name", open_close(n256, O_CREAT | O_WRONLY, 0644));
	rec_ok(r, "mkdir 256-char name", mkdir(n256, 0755));
	rec_lstat(r, "lstat 256-char name", n256);
	rec_ok(r, "symlink to 256-char name", symlink("x", n256));
	rec_ok(r, "create 255-char name", open_close(n255, O_CREAT | O_WRONLY, 0644));
	rec_lstat(r, "lstat 255-char name", n255);
	rec_ok(r, "rename to 256-char name", rename(n255, n256));
	rec_ok(r, "link to 256-char name", link(n255, n256));
	rec_dir(r, "readdir .", ".");
}

static void st_mknod(struct rec *r)
{
	rec_ok(r, "mknod S_IFIFO 0640", mknod("fifo", S_IFIFO | 0640, 0));
	rec_lstat(r, "stat fifo", "fifo");
	rec_ok(r, "mkfifo existing", mkfifo("fifo", 0644));
	rec_ok(r, "open fifo O_RDONLY|O_NONBLOCK", open_close("fifo", O_RDONLY | O_NONBLOCK, 0));
	rec_ok(r, "mknod S_IFREG 0600", mknod("reg", S_IFREG | 0600, 0));
	rec_lstat(r, "stat reg", "reg");
	rec_dir(r, "readdir .", ".");
}

static void st_access(struct rec *r)
{
	mk(r, "f", "x");
	mk(r, "x", "#!/bin/sh\n");
	mk(r, "z", "z");
	rec_ok(r, "chmod x 0755", chmod("x", 0755));
	rec_ok(r, "chmod z 0", chmod("z", 0));
	rec_ok(r, "access f F_OK", access("f", F_OK));
	rec_ok(r, "access f R_OK|W_OK", access("f", R_OK | W_OK));
	rec_ok(r, "access f X_OK", access("f", X_OK));
	rec_ok(r, "access x X_OK", access("x", X_OK));
	rec_ok(r, "access z R_OK|W_OK (root)", access("z", R_OK | W_OK));
	rec_ok(r, "access z X_OK", access("z", X_OK));
	rec_ok(r, "access . X_OK|W_OK", access(".", X_OK | W_OK));
	rec_ok(r, "access missing", access("missing", F_OK));
	rec_ok(r, "faccessat AT_EACCESS", faccessat(AT_FDCWD, "f", R_OK, AT_EACCESS));
}

/* ------------------------------------------------- steps: bulk, marker */

static void st_tenmeg(struct rec *r)
{
	static unsigned char buf[MiB];
	uint64_t want = FNV0, got = FNV0;
	long long total = 0, in = 0;
	ssize_t n;
	int fd = open("ten", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	rec_ok(r, "open", fd);
	for (int i = 0; i < 10; i++) {
		fill(buf, sizeof buf, 100 + (uint32_t)i);
		want = fnv(want, buf, sizeof buf);
		for (size_t o = 0; o < sizeof buf; o += (size_t)n) {
			n = write(fd, buf + o, sizeof buf - o);
			if (n <= 0)
				break;
			total += n;
		}
	}
	rec_val(r, "bytes written", total);
	rec_ok(r, "fsync", fsync(fd));
	rec_ok(r, "close", close(fd));
	rec_lstat(r, "stat", "ten");
	fd = open("ten", O_RDONLY);
	while ((n = read(fd, buf, 65521)) > 0) {
		got = fnv(got, buf, (size_t)n);
		in += n;
	}
	rec_val(r, "bytes read (last read rc)", n < 0 ? n : in);
	rec_bool(r, "checksum matches what was written", got == want);
	rec_data(r, "pread(100@3MiB+7)", buf, pread(fd, buf, 100, 3 * MiB + 7));
	close(fd);
}

static void st_marker(struct rec *r)
{
	static const char text[] = "fsbridge posix_compare marker\n\001\002\377 binary tail\n";

	rec_ok(r, "write ../" MARKER, put("../" MARKER, text, sizeof text - 1));
	rec_file(r, "content ../" MARKER, "../" MARKER);
}

/* ------------------------------------------------------------ the table */

struct step {
	const char *id;         /* name of the step's subdirectory */
	const char *desc;       /* TAP description */
	void (*fn)(struct rec *);
	int suid;               /* compared only with --suid */
};

static const struct step steps[] = {
	{ "creat", "open O_CREAT creates with mode minus umask", st_creat },
	{ "excl", "O_CREAT|O_EXCL on existing gives EEXIST", st_open_excl },
	{ "trunc", "O_TRUNC truncates", st_trunc },
	{ "append", "O_APPEND writes at the end", st_append },
	{ "rw", "write/read/pread/pwrite and positions", st_rw },
	{ "bigoff", "offsets beyond 4 GiB (pwrite at 5 GiB), sparse", st_bigoff },
	{ "seek", "lseek SEEK_DATA/SEEK_HOLE on a sparse file after fsync", st_seek_synced },
	{ "seekfresh", "lseek SEEK_DATA/SEEK_HOLE on freshly written data", st_seek_fresh },
	{ "falloc", "fallocate default mode", st_falloc },
	{ "fallockeep", "fallocate FALLOC_FL_KEEP_SIZE", st_falloc_keep },
	{ "punch", "fallocate FALLOC_FL_PUNCH_HOLE|KEEP_SIZE", st_falloc_punch },
	{ "ftrunc", "ftruncate grow and shrink", st_ftruncate },
	{ "truncate", "truncate grow and shrink", st_truncate },
	{ "chmod", "chmod/fchmod on files and directories", st_chmod },
	{ "chown", "chown/lchown/fchown to same and other ids", st_chown },
	{ "chownnoop", "chown to -1:-1 sets ctime", st_chown_noop },
	{ "utimens", "utimensat/futimens with explicit times", st_utimens },
	{ "utimenow", "utimensat UTIME_NOW/UTIME_OMIT", st_utime_now },
	{ "mkdir", "mkdir/rmdir incl. EEXIST ENOTEMPTY ENOTDIR", st_mkdir },
	{ "unlink", "unlink incl. EISDIR on a directory", st_unlink },
	{ "unlinkopen", "unlinked open file stays usable and leaves readdir", st_unlink_open },
	{ "renplain", "rename plain", st_rename_plain },
	{ "renover", "rename over an existing file", st_rename_over },
	{ "rendirempty", "rename directory over an empty directory", st_rename_dir_empty },
	{ "rendirfull", "rename directory over a non-empty directory gives ENOTEMPTY", st_rename_dir_full },
	{ "renkind", "rename file over dir EISDIR, dir over file ENOTDIR", st_rename_kind },
	{ "rennorepl", "renameat2 RENAME_NOREPLACE", st_rename_noreplace },
	{ "renexch", "renameat2 RENAME_EXCHANGE file with dir", st_rename_exchange },
	{ "renself", "rename to self and between hard links", st_rename_self },
	{ "hardlink", "hard links: nlink, shared inode, unlink one", st_hardlink },
	{ "symlink", "symlink/readlink verbatim, lstat", st_symlink },
	{ "readdir", "readdir after 300 creates", st_readdir_many },
	{ "seekdir", "telldir/seekdir/rewinddir consistency", st_readdir_seek },
	{ "dirunlink", "readdir continues after unlinks during iteration", st_readdir_unlink },
	{ "statfs", "statfs/statvfs/fstatfs", st_statfs },
	{ "fsync", "fsync/fdatasync on files and directories", st_fsync },
	{ "xflags", "xattr create/replace flags, size query, ERANGE, ENODATA", st_xattr_flags },
	{ "xlist", "listxattr and removexattr", st_xattr_list },
	{ "xother", "xattrs on dirs, via fd, on symlinks", st_xattr_other },
	{ "flock", "flock LOCK_EX blocks LOCK_NB on another open", st_flock },
	{ "posixlock", "fcntl F_SETLK conflict from a child, F_GETLK holder", st_posix_lock },
	{ "ofdlock", "fcntl OFD locks between two opens", st_ofd_lock },
	{ "copyrange", "copy_file_range between two files", st_copy_range },
	{ "mmapread", "mmap read of a file", st_mmap_read },
	{ "mmapwrite", "mmap write + msync, read back", st_mmap_write },
	{ "openerr", "open errors: ENOTDIR ENOENT EISDIR", st_open_errors },
	{ "namemax", "256-byte names give ENAMETOOLONG, 255 work", st_name_max },
	{ "mknod", "mknod of a fifo and a regular file", st_mknod },
	{ "access", "access/faccessat as root", st_access },
	{ "suidmode", "setuid/setgid by chmod, fchmod, create, mknod", st_suid_mode, 1 },
	{ "suidinherit", "setgid directories: group and setgid inherited, dropped for non-members",
	  st_suid_inherit, 1 },
	{ "suidkill", "who clears setuid/setgid: writes, truncates, chown", st_suid_kill, 1 },
	{ "tenmeg", "10 MiB file write/read checksum", st_tenmeg },
	{ "marker", "marker file in the top directory", st_marker },
};

#define NSTEPS (sizeof steps / sizeof steps[0])

/* --------------------------------------------------------- running */

struct side {
	const char *root;
	const struct step *step;
};

static void side_fn(struct rec *r, void *arg)
{
	const struct side *s = arg;

	if (chdir(s->root) < 0) {
		rec_ok(r, "chdir root", -1);
		return;
	}
	if (mkdir(s->step->id, 0755) < 0 || chdir(s->step->id) < 0) {
		rec_ok(r, "setup step dir", -1);
		return;
	}
	rec_add(r, "setup", "ok");
	s->step->fn(r);
}

static void run_side(struct rec *out, const char *root, const struct step *step, int ref)
{
	struct side s = { root, step };

	on_ref = ref;
	out->len = 0;
	out->buf[0] = '\0';
	in_child(out, side_fn, &s);
}

/* ------------------------------------------------------- comparing */

struct lines {
	char *copy;
	char **v;
	size_t n;
};

static void lines_split(struct lines *l, const struct rec *r)
{
	size_t cap = 1;

	l->copy = strndup(r->buf, r->len);
	if (!l->copy)
		abort();
	for (size_t i = 0; i < r->len; i++)
		cap += r->buf[i] == '\n';
	l->v = calloc(cap, sizeof *l->v);
	if (!l->v)
		abort();
	l->n = 0;
	for (char *p = l->copy, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		l->v[l->n++] = p;
		if (!nl)
			break;
		*nl = '\0';
	}
}

static void lines_free(struct lines *l)
{
	free(l->copy);
	free(l->v);
}

/* "~key=N" lines are equal within 4 KiB + 1/8 (st_blocks); others exactly. */
static int line_eq(const char *a, const char *b)
{
	const char *ea, *eb;
	long long x, y, big, diff;

	if (strcmp(a, b) == 0)
		return 1;
	ea = strchr(a, '=');
	eb = strchr(b, '=');
	if (a[0] != '~' || !ea || !eb || ea - a != eb - b || strncmp(a, b, (size_t)(ea - a)))
		return 0;
	x = atoll(ea + 1);
	y = atoll(eb + 1);
	big = x > y ? x : y;
	diff = x > y ? x - y : y - x;
	return diff <= 8 + big / 8;
}

static const char *val_of(const char *line)
{
	const char *eq = line ? strchr(line, '=') : NULL;

	return eq ? eq + 1 : line ? line : "(missing)";
}

/* For "n:K [a,b,...]" values, prints the elements found on one side only. */
static void diag_list(const char *a, const char *b)
{
	const char *la = strchr(a, '['), *lb = strchr(b, '[');
	const char *sides[2][2] = { { la, lb }, { lb, la } };
	const char *label[2] = { "only in ref", "only in test" };

	if (!la || !lb)
		return;
	for (int s = 0; s < 2; s++) {
		const char *p = sides[s][0] + 1, *other = sides[s][1];
		int shown = 0;

		printf("#     %s:", label[s]);
		while (*p && *p != ']' && shown < 20) {
			size_t n = strcspn(p, ",]");
			char pat[1400];

			snprintf(pat, sizeof pat, "%.*s", (int)n, p);
			int found = 0;
			for (const char *q = other + 1; *q && *q != ']';) {
				size_t m = strcspn(q, ",]");

				if (m == n && strncmp(q, p, n) == 0)
					found = 1;
				q += m;
				if (*q == ',')
					q++;
			}
			if (!found) {
				printf(" %.80s", pat);
				shown++;
			}
			p += n;
			if (*p == ',')
				p++;
		}
		printf("\n");
	}
}

static void diag_record(const char *label, const struct rec *r)
{
	struct lines l;

	lines_split(&l, r);
	for (size_t i = 0; i < l.n; i++)
		printf("#   %s %.300s\n", label, l.v[i]);
	lines_free(&l);
}

/* Once the two records stop naming the same observations, pairing lines
 * means nothing: show what is left of each side instead. */
static void diag_rest(const struct lines *a, const struct lines *b, size_t from)
{
	const struct lines *side[2] = { a, b };
	const char *label[2] = { "ref ", "test" };

	printf("#   (records diverge here; the rest of each side follows)\n");
	for (int s = 0; s < 2; s++)
		for (size_t i = from; i < side[s]->n && i < from + 12; i++)
			printf("#   %s %.300s\n", label[s], side[s]->v[i]);
}

/* A record that fails whatever the other side saw: the step could not
 * start, or a child died.  Returns the line that says so. */
static const char *broken(const struct lines *l)
{
	if (l->n == 0 || strcmp(l->v[0], "setup=ok"))
		return l->n ? l->v[0] : "(empty record)";
	for (size_t i = 1; i < l->n; i++)
		if (strncmp(l->v[i], "child=", 6) == 0)
			return l->v[i];
	return NULL;
}

static int report(size_t num, const struct step *s, const struct rec *ref,
		  const struct rec *test)
{
	struct lines a, b;
	size_t n, first = SIZE_MAX, shown = 0;
	const char *ba, *bb;

	lines_split(&a, ref);
	lines_split(&b, test);
	n = a.n > b.n ? a.n : b.n;
	for (size_t i = 0; i < n && first == SIZE_MAX; i++)
		if (i >= a.n || i >= b.n || !line_eq(a.v[i], b.v[i]))
			first = i;
	ba = broken(&a);
	bb = broken(&b);
	if (ba || bb) {
		printf("not ok %zu - %s # step broken: ref=%.160s test=%.160s\n", num, s->desc,
		       ba ? ba : "fine", bb ? bb : "fine");
		first = first == SIZE_MAX ? 0 : first;
	} else if (first == SIZE_MAX) {
		printf("ok %zu - %s\n", num, s->desc);
	} else if (first < a.n && (model == NULL || strcmp(model, "nfs4.0") != 0) &&
		   strstr(s->desc, "xattr") != NULL &&
		   strstr(val_of(a.v[first]), "EOPNOTSUPP") != NULL) {
		/* e.g. a guest's tmpfs without user xattrs as the reference */
		printf("ok %zu - %s # SKIP the reference filesystem has no such xattrs\n",
		       num, s->desc);
		first = SIZE_MAX;
	} else {
		const char *key = first < a.n ? a.v[first] : b.v[first];
		int klen = (int)strcspn(key, "=");

		printf("not ok %zu - %s # at '%.*s': ref=%.160s test=%.160s\n", num, s->desc,
		       klen, key, val_of(first < a.n ? a.v[first] : NULL),
		       val_of(first < b.n ? b.v[first] : NULL));
	}
	if (first != SIZE_MAX) {
		for (size_t i = first; i < n && shown < 25; i++) {
			const char *x = i < a.n ? a.v[i] : "(missing)";
			const char *y = i < b.n ? b.v[i] : "(missing)";

			if (i < a.n && i < b.n && line_eq(x, y))
				continue;
			if (strcspn(x, "=") != strcspn(y, "=") || strncmp(x, y, strcspn(x, "="))) {
				diag_rest(&a, &b, i);
				break;
			}
			printf("#   ref:  %.400s\n#   test: %.400s\n", x, y);
			diag_list(x, y);
			shown++;
		}
	}
	if (getenv("POSIX_COMPARE_VERBOSE")) {
		diag_record("ref ", ref);
		diag_record("test", test);
	}
	lines_free(&a);
	lines_free(&b);
	return first != SIZE_MAX;
}

int main(int argc, char **argv)
{
	struct rec *ref, *test;
	int failed = 0, suid = 0;

	if (argc == 2 && strcmp(argv[1], "--count") == 0) {
		printf("%zu\n", NSTEPS);
		return 0;
	}
	for (;;) {
		if (argc >= 4 && strcmp(argv[1], "--model") == 0) {
			if (strcmp(argv[2], "nfs4.0") != 0 && strcmp(argv[2], "user-server") != 0) {
				fprintf(stderr, "posix_compare: unknown model %s (known: nfs4.0, "
				    "user-server)\n", argv[2]);
				return 2;
			}
			model = argv[2];
			argv += 2;
			argc -= 2;
		} else if (argc >= 3 && strcmp(argv[1], "--suid") == 0) {
			suid = 1;
			argv++;
			argc--;
		} else
			break;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: posix_compare [--model nfs4.0|user-server] [--suid] REF TEST | "
		    "posix_compare --count\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	ref = rec_new();
	test = rec_new();
	printf("1..%zu\n", NSTEPS);
	for (size_t i = 0; i < NSTEPS; i++) {
		if (steps[i].suid && !suid) {
			printf("ok %zu - %s # SKIP the share drops setuid/setgid (no --suid)\n",
			       i + 1, steps[i].desc);
			continue;
		}
		run_side(ref, argv[1], &steps[i], 1);
		run_side(test, argv[2], &steps[i], 0);
		failed += report(i + 1, &steps[i], ref, test);
	}
	rec_free(ref);
	rec_free(test);
	return failed ? 1 : 0;
}
