/*
 * tests/unit/policy_test: unit tests of the share-policy library.
 *
 * Every decision of policy.c and every parse path of policy_parse.c, as
 * TAP: results are collected first so the plan ("1..N") can lead.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "policy.h"

static FILE *tap;		/* collected result lines */
static char *tap_buf;
static size_t tap_len;
static unsigned int tests_run, tests_failed;

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void is_int(long got, long want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void vok(bool cond, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
vok(bool cond, const char *fmt, va_list ap)
{
	tests_run++;
	if (!cond)
		tests_failed++;
	fprintf(tap, "%sok %u - ", cond ? "" : "not ", tests_run);
	vfprintf(tap, fmt, ap);
	fputc('\n', tap);
}

static void
ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vok(cond, fmt, ap);
	va_end(ap);
}

static void
is_int(long got, long want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vok(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		fprintf(tap, "# got %ld, want %ld\n", got, want);
}

static void
is_str(const char *got, const char *want, const char *desc)
{
	bool same = got != NULL && strcmp(got, want) == 0;

	ok(same, "%s", desc);
	if (!same)
		fprintf(tap, "# got '%s', want '%s'\n", got != NULL ? got : "(null)", want);
}

static struct policy
deflt(void)
{
	struct policy p;

	policy_init_default(&p);
	return p;
}

static bool
idmap_equal(const struct policy_idmap *a, const struct policy_idmap *b)
{
	size_t i;

	if (a->nranges != b->nranges)
		return false;
	for (i = 0; i < a->nranges; i++)
		if (a->ranges[i].client != b->ranges[i].client ||
		    a->ranges[i].host != b->ranges[i].host ||
		    a->ranges[i].count != b->ranges[i].count)
			return false;
	return true;
}

static bool
policy_equal(const struct policy *a, const struct policy *b)
{
	return a->read_only == b->read_only && a->symlinks == b->symlinks &&
	    a->specials == b->specials && a->suid == b->suid && a->cache == b->cache &&
	    a->xattr_allowed == b->xattr_allowed &&
	    idmap_equal(&a->uidmap, &b->uidmap) && idmap_equal(&a->gidmap, &b->gidmap) &&
	    a->nhide == b->nhide && a->hide_used == b->hide_used &&
	    memcmp(a->hide, b->hide, a->hide_used) == 0;
}

/* Apply opt to p; returns the result and leaves the reason in err. */
static int
apply(struct policy *p, const char *opt, char *err, size_t errlen)
{
	err[0] = '\0';
	return policy_apply_option(p, opt, err, errlen);
}

/* policy_print into a malloc'd string. */
static char *
print_policy(const struct policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		abort();
	policy_print(p, f);
	fclose(f);
	return buf;
}

/* ---- decisions ---- */

static void
test_defaults(void)
{
	struct policy p = deflt();

	ok(!p.read_only, "default: read-write");
	ok(p.symlinks == POLICY_SYMLINKS_OPAQUE, "default: symlinks=opaque");
	ok(p.specials == POLICY_SPECIALS_PIPES, "default: specials=pipes");
	ok(p.cache == POLICY_CACHE_AUTO, "default: cache=auto");
	is_int(p.xattr_allowed, POLICY_XATTR_USER | POLICY_XATTR_SYSTEM, "default: xattr=user:system");
	ok(p.uidmap.nranges == 0 && p.gidmap.nranges == 0, "default: no id maps");
}

static void
test_check_write(void)
{
	struct policy p = deflt();

	is_int(policy_check_write(&p), 0, "check_write: rw allows");
	p.read_only = true;
	is_int(policy_check_write(&p), -EROFS, "check_write: ro gives EROFS");
}

static void
test_symlink_create(void)
{
	static const struct {
		enum policy_symlinks mode;
		bool ro;
		int want;
		const char *desc;
	} cases[] = {
		{ POLICY_SYMLINKS_DENY, false, -EPERM, "deny gives EPERM" },
		{ POLICY_SYMLINKS_OPAQUE, false, 0, "opaque allows" },
		{ POLICY_SYMLINKS_FOLLOW, false, 0, "follow allows" },
		{ POLICY_SYMLINKS_DENY, true, -EROFS, "deny+ro gives EROFS first" },
		{ POLICY_SYMLINKS_OPAQUE, true, -EROFS, "opaque+ro gives EROFS" },
		{ POLICY_SYMLINKS_FOLLOW, true, -EROFS, "follow+ro gives EROFS" },
	};
	struct policy p = deflt();
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p.symlinks = cases[i].mode;
		p.read_only = cases[i].ro;
		is_int(policy_check_symlink_create(&p), cases[i].want,
		    "symlink_create: %s", cases[i].desc);
	}
}

static void
test_symlink_visible(void)
{
	static const struct {
		const char *target;
		unsigned int depth;
		bool visible;
	} deny[] = {
		{ "/etc", 0, false },
		{ "/etc", 5, false },
		{ "/", 0, false },
		{ "", 0, false },
		{ "", 3, false },
		{ "x", 0, true },
		{ "../x", 0, false },
		{ "../x", 1, true },
		{ "../../x", 1, false },
		{ "a/../../x", 0, false },
		{ "a/../../x", 1, true },
		{ "a/../../../x", 1, false },
		{ "a/b/../../c", 0, true },
		{ "a/b/../../../c", 0, false },
		{ "./x", 0, true },
		{ ".", 0, true },
		{ "..", 0, false },
		{ "..", 1, true },
		{ "./..", 0, false },
		{ "x/", 0, true },
		{ "../", 0, false },
		{ "../", 1, true },
		{ "a/b/", 0, true },
		{ "a//b", 0, true },
		{ "..//x", 0, false },
		{ "..//x", 1, true },
		{ "a//..//..//x", 0, false },
		{ "a///..", 0, true },
		{ "...", 0, true },
		{ "..x", 0, true },
		{ "x..", 0, true },
		{ ".../../x", 0, true },
		{ "../a/../../x", 2, true },
		{ "../a/../../x", 1, false },
		{ "../../../../x", 4, true },
		{ "../../../../x", 3, false },
	};
	struct policy p = deflt();
	size_t i;

	p.symlinks = POLICY_SYMLINKS_DENY;
	for (i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		ok(policy_symlink_visible(&p, deny[i].target, deny[i].depth) == deny[i].visible,
		    "symlink_visible: deny, \"%s\" at depth %u is %s", deny[i].target,
		    deny[i].depth, deny[i].visible ? "visible" : "hidden");
	ok(!policy_symlink_visible(&p, NULL, 0), "symlink_visible: deny, NULL target hidden");
	p.read_only = true;
	ok(!policy_symlink_visible(&p, "/etc", 0) && policy_symlink_visible(&p, "x", 0),
	    "symlink_visible: deny+ro decides the same way");
	p.read_only = false;

	p.symlinks = POLICY_SYMLINKS_OPAQUE;
	ok(policy_symlink_visible(&p, "/etc", 0) && policy_symlink_visible(&p, "", 0) &&
	    policy_symlink_visible(&p, "../../x", 0),
	    "symlink_visible: opaque shows every link");
	p.symlinks = POLICY_SYMLINKS_FOLLOW;
	ok(policy_symlink_visible(&p, "/etc", 0) && policy_symlink_visible(&p, "", 0) &&
	    policy_symlink_visible(&p, "../../x", 0),
	    "symlink_visible: follow shows every link");
}

/* A small tree for policy_link_resolve's probe: root-relative paths, a
 * directory ("d"), a file ("f") or a link (its target). */
struct fake_node {
	const char *path;
	const char *link;	/* NULL: not a link */
};

static const struct fake_node fake_tree[] = {
	{ "file", NULL }, { "dir", NULL }, { "dir/sub", NULL },
	{ "cdir", NULL }, { "cdir/c2", ".." }, { "c1", "cdir/c2/.." },
	{ "cdir/c4", "../../x" }, { "c3", "cdir/c4" },
	{ "in", "dir" }, { "ichain", "in/sub" }, { "dir/up", "../file" },
	{ "loop1", "loop2" }, { "loop2", "loop1" },
	{ "deep", "dir/sub/../../../x" },
};

struct fake_ctx {
	const char *dir;	/* the link's directory, root-relative ("" root) */
	unsigned int probes;
};

static int
fake_probe(void *ctx, unsigned int up, const char *down, char *buf, size_t size)
{
	struct fake_ctx *fc = ctx;
	char path[256];
	size_t len = strlen(fc->dir), i;

	fc->probes++;
	for (; up > 0; up--) {
		while (len > 0 && fc->dir[len - 1] != '/')
			len--;
		if (len > 0)
			len--;
	}
	snprintf(path, sizeof(path), "%.*s%s%s", (int)len, fc->dir, len > 0 ? "/" : "", down);
	for (i = 0; i < sizeof(fake_tree) / sizeof(fake_tree[0]); i++) {
		if (strcmp(fake_tree[i].path, path) != 0)
			continue;
		if (fake_tree[i].link == NULL)
			return 0;
		snprintf(buf, size, "%s", fake_tree[i].link);
		return 1;
	}
	return -ENOENT;
}

static void
test_link_resolve(void)
{
	static const struct {
		const char *dir;
		unsigned int depth;
		const char *target;
		int want;
		const char *what;
	} cases[] = {
		{ "", 0, "file", 0, "a plain name stays" },
		{ "", 0, "in", 0, "a link to a directory inside stays" },
		{ "", 0, "ichain", 0, "a chain that stays inside stays" },
		{ "dir", 1, "up", 0, "dir/up -> ../file, reached from dir, stays" },
		{ "", 0, "cdir/c2/..", -EXDEV, "c1: cdir/c2 -> .. then .. leaves the root" },
		{ "", 0, "cdir/c4", -EXDEV, "c3: chains to cdir/c4 -> ../../x, out" },
		{ "", 0, "c1", -EXDEV, "a link to c1 is out too" },
		{ "cdir", 1, "..", 0, "cdir/c2 -> .. at depth 1 stays" },
		{ "", 0, "../file", -EXDEV, "../ from the root is out" },
		{ "dir/sub", 2, "../../file", 0, "../../file from depth 2 stays" },
		{ "dir", 1, "../../file", -EXDEV, "../../file from depth 1 is out (a moved directory)" },
		{ "", 0, "loop1", -ELOOP, "a loop of links gives up (ELOOP)" },
		{ "", 0, "nothing/../../x", -EXDEV, "past a missing name the rest is lexical: out" },
		{ "", 0, "nothing/../file", 0, "past a missing name, lexically inside: stays" },
		{ "", 0, "deep", -EXDEV, "a link whose own target climbs out" },
		{ "", 0, "/etc", -EXDEV, "an absolute target is out" },
		{ "", 0, "", -EXDEV, "an empty target is out" },
		{ "", 0, "in/../../x", -EXDEV, "in -> dir, then .. .. leaves the root" },
	};
	struct fake_ctx fc;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fc.dir = cases[i].dir;
		fc.probes = 0;
		is_int(policy_link_resolve(cases[i].target, cases[i].depth, fake_probe, &fc),
		    cases[i].want, "link_resolve: %s", cases[i].what);
	}
	fc.dir = "";
	is_int(policy_link_resolve("cdir/c2/..", 0, NULL, &fc), 0,
	    "link_resolve: without a probe the walk is lexical (c1 looks inside)");
}

static void
test_check_link(void)
{
	struct policy p = deflt();

	is_int(policy_check_link(&p, S_IFREG), 0, "check_link: a file");
	is_int(policy_check_link(&p, S_IFLNK), 0, "check_link: a symlink under opaque");
	is_int(policy_check_link(&p, S_IFDIR), -EPERM, "check_link: a directory: EPERM");
	p.symlinks = POLICY_SYMLINKS_DENY;
	is_int(policy_check_link(&p, S_IFLNK), -EPERM, "check_link: a symlink under deny: EPERM");
	is_int(policy_check_link(&p, S_IFREG), 0, "check_link: a file under deny");
	p.read_only = true;
	is_int(policy_check_link(&p, S_IFREG), -EROFS, "check_link: read-only: EROFS");
}

static void
test_check_combination(void)
{
	struct policy p = deflt();
	char err[256] = "";

	is_int(policy_check_combination(&p, err, sizeof(err)), 0, "combination: the default");
	p.symlinks = POLICY_SYMLINKS_FOLLOW;
	is_int(policy_check_combination(&p, err, sizeof(err)), -EINVAL,
	    "combination: rw + follow without trust_client is refused");
	ok(strstr(err, "trust_client") != NULL && strchr(err, '\n') == NULL,
	    "combination: one line naming trust_client");
	p.read_only = true;
	is_int(policy_check_combination(&p, err, sizeof(err)), 0, "combination: ro + follow");
	p.read_only = false;
	ok(policy_apply_option(&p, "trust_client", err, sizeof(err)) == 0 && p.trust_client,
	    "combination: trust_client parses");
	is_int(policy_check_combination(&p, err, sizeof(err)), 0,
	    "combination: rw + follow + trust_client");
	is_int(policy_apply_option(&p, "trust_client=1", err, sizeof(err)), -EINVAL,
	    "combination: trust_client takes no value");
}

static void
test_follows(void)
{
	struct policy p = deflt();

	p.symlinks = POLICY_SYMLINKS_DENY;
	ok(!policy_follows_symlinks(&p), "follows_symlinks: not under deny");
	p.symlinks = POLICY_SYMLINKS_OPAQUE;
	ok(!policy_follows_symlinks(&p), "follows_symlinks: not under opaque");
	p.symlinks = POLICY_SYMLINKS_FOLLOW;
	ok(policy_follows_symlinks(&p), "follows_symlinks: under follow");
}

static void
test_create_type(void)
{
	static const struct {
		mode_t type;
		const char *name;
		int want[3];	/* under specials none, pipes, all */
	} cases[] = {
		{ S_IFREG, "regular", { 0, 0, 0 } },
		{ 0, "zero type (regular)", { 0, 0, 0 } },
		{ S_IFDIR, "directory", { 0, 0, 0 } },
		{ S_IFIFO, "fifo", { -EPERM, 0, 0 } },
		{ S_IFSOCK, "socket", { -EPERM, 0, 0 } },
		{ S_IFCHR, "char device", { -EPERM, -EPERM, 0 } },
		{ S_IFBLK, "block device", { -EPERM, -EPERM, 0 } },
	};
	static const char *const sp[] = { "none", "pipes", "all" };
	struct policy p = deflt();
	size_t i, s;

	for (s = 0; s < 3; s++) {
		p.specials = (enum policy_specials)s;
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			p.read_only = false;
			is_int(policy_check_create_type(&p, cases[i].type | 0644), cases[i].want[s],
			    "create_type: %s under specials=%s", cases[i].name, sp[s]);
			p.read_only = true;
			is_int(policy_check_create_type(&p, cases[i].type | 0644), -EROFS,
			    "create_type: %s under specials=%s,ro gives EROFS", cases[i].name, sp[s]);
		}
	}
	p = deflt();
	is_int(policy_check_create_type(&p, S_IFCHR | S_ISUID | 0777), -EPERM,
	    "create_type: mode bits do not change the decision");
	p.symlinks = POLICY_SYMLINKS_DENY;
	is_int(policy_check_create_type(&p, S_IFLNK | 0777), -EPERM,
	    "create_type: symlink type follows symlink policy (deny)");
	p.symlinks = POLICY_SYMLINKS_OPAQUE;
	is_int(policy_check_create_type(&p, S_IFLNK | 0777), 0,
	    "create_type: symlink type follows symlink policy (opaque)");
}

static void
test_open_type(void)
{
	is_int(policy_check_open_type(S_IFREG | 0644), 0, "open_type: regular file");
	is_int(policy_check_open_type(S_IFDIR | 0755), 0, "open_type: directory");
	is_int(policy_check_open_type(S_IFIFO | 0644), -EPERM, "open_type: fifo refused");
	is_int(policy_check_open_type(S_IFSOCK | 0644), -EPERM, "open_type: socket refused");
	is_int(policy_check_open_type(S_IFCHR | 0666), -EPERM, "open_type: char device refused");
	is_int(policy_check_open_type(S_IFBLK | 0660), -EPERM, "open_type: block device refused");
	is_int(policy_check_open_type(S_IFLNK | 0777), -EPERM, "open_type: symlink refused");
	is_int(policy_check_open_type(0644), -EPERM, "open_type: no type refused");
}

static void
test_filter_mode(void)
{
	struct policy p = deflt();

	is_int(policy_filter_mode(&p, 04755), 0755, "filter_mode: setuid stripped");
	is_int(policy_filter_mode(&p, 02755), 0755, "filter_mode: setgid stripped");
	is_int(policy_filter_mode(&p, 07777), 01777, "filter_mode: sticky and rwx kept");
	is_int(policy_filter_mode(&p, S_IFDIR | 02775), S_IFDIR | 0775,
	    "filter_mode: setgid stripped on directories, type kept");
	is_int(policy_filter_mode(&p, S_IFREG | 0640), S_IFREG | 0640, "filter_mode: plain mode unchanged");
	is_int(policy_filter_mode(&p, 0), 0, "filter_mode: zero stays zero");
	p.read_only = true;
	p.specials = POLICY_SPECIALS_ALL;
	is_int(policy_filter_mode(&p, 06777), 0777, "filter_mode: same under any policy but suid");
	p.suid = true;
	is_int(policy_filter_mode(&p, 06777), 06777, "filter_mode: suid keeps setuid and setgid");
	is_int(policy_filter_mode(&p, S_IFDIR | 02775), S_IFDIR | 02775,
	    "filter_mode: suid keeps setgid on directories");
}

static void
test_xattr_allowed(void)
{
	struct policy p = deflt();

	ok(policy_xattr_allowed(&p, "user.x"), "xattr: user.x allowed by default");
	ok(policy_xattr_allowed(&p, "system.posix_acl_access"), "xattr: system.* allowed by default");
	ok(!policy_xattr_allowed(&p, "trusted.x"), "xattr: trusted.x denied by default");
	ok(!policy_xattr_allowed(&p, "security.x"), "xattr: security.x denied by default");
	ok(!policy_xattr_allowed(&p, "user"), "xattr: \"user\" with no dot denied");
	ok(!policy_xattr_allowed(&p, "user."), "xattr: \"user.\" with no name denied");
	ok(!policy_xattr_allowed(&p, ""), "xattr: empty name denied");
	ok(!policy_xattr_allowed(&p, NULL), "xattr: NULL name denied");
	ok(!policy_xattr_allowed(&p, "usr.x"), "xattr: unknown namespace denied");
	ok(!policy_xattr_allowed(&p, "User.x"), "xattr: namespace is case-sensitive");
	ok(!policy_xattr_allowed(&p, "userx.y"), "xattr: namespace must end at the dot");
	ok(policy_xattr_allowed(&p, "user.a.b"), "xattr: namespace is before the first dot");
	ok(!policy_xattr_allowed(&p, ".user.x"), "xattr: leading dot denied");

	p.xattr_allowed = POLICY_XATTR_TRUSTED | POLICY_XATTR_SECURITY;
	ok(policy_xattr_allowed(&p, "trusted.x") && policy_xattr_allowed(&p, "security.selinux"),
	    "xattr: trusted and security allowed when set");
	ok(!policy_xattr_allowed(&p, "user.x") && !policy_xattr_allowed(&p, "system.x"),
	    "xattr: user and system denied when not set");
	p.xattr_allowed = 0;
	ok(!policy_xattr_allowed(&p, "user.x"), "xattr: none denies user.x");
}

static void
test_xattr_filter(void)
{
	static const char in[] = "user.a\0trusted.t\0system.s\0security.c\0user.b\0user\0";
	static const char want[] = "user.a\0system.s\0user.b\0";
	struct policy p = deflt();
	char buf[sizeof(in)];
	size_t n;

	memcpy(buf, in, sizeof(in));
	n = policy_xattr_filter_list(&p, buf, sizeof(in) - 1);
	ok(n == sizeof(want) - 1 && memcmp(buf, want, n) == 0,
	    "xattr_filter: keeps allowed names in order");
	n = policy_xattr_filter_list(&p, buf, 0);
	is_int((long)n, 0, "xattr_filter: empty list stays empty");
	memcpy(buf, "trusted.a\0security.b\0", 21);
	is_int((long)policy_xattr_filter_list(&p, buf, 21), 0, "xattr_filter: all denied gives 0");
	memcpy(buf, "user.a\0user.b\0", 14);
	n = policy_xattr_filter_list(&p, buf, 14);
	ok(n == 14 && memcmp(buf, "user.a\0user.b\0", 14) == 0, "xattr_filter: all allowed unchanged");
	memcpy(buf, "user.a\0\0user.b\0", 15);
	n = policy_xattr_filter_list(&p, buf, 15);
	ok(n == 14 && memcmp(buf, "user.a\0user.b\0", 14) == 0, "xattr_filter: empty names dropped");
	memcpy(buf, "user.a\0user.b", 13);
	n = policy_xattr_filter_list(&p, buf, 13);
	ok(n == 7 && memcmp(buf, "user.a\0", 7) == 0, "xattr_filter: unterminated tail dropped");
	p.xattr_allowed = 0;
	memcpy(buf, in, sizeof(in));
	is_int((long)policy_xattr_filter_list(&p, buf, sizeof(in) - 1), 0,
	    "xattr_filter: xattr=none empties the list");
}

static void
test_idmap(void)
{
	struct policy p = deflt();
	char err[256];

	ok(policy_uid_to_host(&p, 1000) == 1000 && policy_uid_to_client(&p, 0) == 0 &&
	    policy_gid_to_host(&p, 4294967295u) == 4294967295u && policy_gid_to_client(&p, 7) == 7,
	    "idmap: empty maps are identity");
	is_int(apply(&p, "uidmap=0:100000:65536", err, sizeof(err)), 0, "idmap: add uid range");
	is_int(apply(&p, "uidmap=70000:1000", err, sizeof(err)), 0, "idmap: add single uid");
	is_int(apply(&p, "gidmap=1000:2000:10", err, sizeof(err)), 0, "idmap: add gid range");
	is_int(policy_uid_to_host(&p, 0), 100000, "idmap: uid 0 -> 100000");
	is_int(policy_uid_to_host(&p, 65535), 165535, "idmap: uid 65535 -> 165535 (last of range)");
	is_int(policy_uid_to_host(&p, 65536), POLICY_ID_NOBODY, "idmap: uid past range -> nobody");
	is_int(policy_uid_to_host(&p, 70000), 1000, "idmap: single uid maps");
	is_int(policy_uid_to_host(&p, 70001), POLICY_ID_NOBODY, "idmap: next to single uid -> nobody");
	is_int(policy_uid_to_client(&p, 100000), 0, "idmap: host 100000 -> client 0");
	is_int(policy_uid_to_client(&p, 1000), 70000, "idmap: host 1000 -> client 70000");
	is_int(policy_uid_to_client(&p, 99999), POLICY_ID_NOBODY, "idmap: unmapped host uid -> nobody");
	is_int(policy_uid_to_client(&p, 0), POLICY_ID_NOBODY, "idmap: host root unmapped -> nobody");
	is_int(policy_gid_to_host(&p, 1009), 2009, "idmap: gid 1009 -> 2009");
	is_int(policy_gid_to_host(&p, 999), POLICY_ID_NOBODY, "idmap: gid below range -> nobody");
	is_int(policy_gid_to_host(&p, 1010), POLICY_ID_NOBODY, "idmap: gid above range -> nobody");
	is_int(policy_gid_to_client(&p, 2000), 1000, "idmap: host gid 2000 -> 1000");
	is_int(policy_gid_to_client(&p, 1000), POLICY_ID_NOBODY, "idmap: unmapped host gid -> nobody");
	is_int(policy_uid_to_host(&p, 4294967295u), POLICY_ID_NOBODY, "idmap: uid -1 -> nobody");
	ok(policy_gid_to_host(&p, 5) == POLICY_ID_NOBODY && policy_uid_to_host(&p, 5) == 100005,
	    "idmap: uid and gid maps are separate");
}

static void
test_idmap_round_trip(void)
{
	struct policy p = deflt();
	uint32_t id, bad = 0;
	char err[256];

	apply(&p, "uidmap=0:100000:1000", err, sizeof(err));
	apply(&p, "uidmap=5000:1000:50", err, sizeof(err));
	for (id = 0; id < 6000; id++) {
		uint32_t h = policy_uid_to_host(&p, id);

		if (h != POLICY_ID_NOBODY && policy_uid_to_client(&p, h) != id)
			bad++;
		if (h == POLICY_ID_NOBODY && (id < 1000 || (id >= 5000 && id < 5050)))
			bad++;
	}
	is_int(bad, 0, "idmap: client->host->client round trips over every mapped id");
	for (id = 99000, bad = 0; id < 102000; id++) {
		uint32_t c = policy_uid_to_client(&p, id);

		if (c != POLICY_ID_NOBODY && policy_uid_to_host(&p, c) != id)
			bad++;
	}
	is_int(bad, 0, "idmap: host->client->host round trips");
}

static void
test_idmap_foreign(void)
{
	struct policy p = deflt();
	char err[256];

	ok(policy_uid_has_host(&p, 65534) && policy_uid_has_client(&p, 0) &&
	    policy_gid_has_client(&p, 12345),
	    "foreign: with empty maps every id has a mapping");
	is_int(policy_mode_to_client(&p, 0, 0, 0100600), 0100600,
	    "foreign: empty maps show the mode as it is");
	is_int(policy_check_foreign_access(&p, 0, 0, 0600, R_OK), 0,
	    "foreign: empty maps leave access to the client kernel");
	is_int(policy_check_foreign_owner(&p, 0), 0, "foreign: empty maps: no owner refusal");

	apply(&p, "uidmap=0:1000:1000", err, sizeof(err));
	apply(&p, "gidmap=0:1000:1000", err, sizeof(err));
	ok(!policy_uid_has_host(&p, 65534) && policy_uid_has_host(&p, 999) &&
	    !policy_uid_has_host(&p, 1000), "foreign: has_host follows the client side");
	ok(!policy_uid_has_client(&p, 0) && !policy_uid_has_client(&p, 65534) &&
	    policy_uid_has_client(&p, 1000) && policy_uid_has_client(&p, 1999) &&
	    !policy_uid_has_client(&p, 2000), "foreign: has_client follows the host side");
	ok(!policy_gid_has_client(&p, 0) && policy_gid_has_host(&p, 5) &&
	    !policy_gid_has_host(&p, 65534), "foreign: gids the same");
	is_int(policy_mode_to_client(&p, 0, 0, 0100600), 0100000,
	    "foreign: unmapped owner and group: 0600 is shown 0000");
	is_int(policy_mode_to_client(&p, 0, 1000, 0104754), 0104454,
	    "foreign: unmapped owner: owner bits become other's, setuid kept");
	is_int(policy_mode_to_client(&p, 1000, 0, 040750), 040700,
	    "foreign: unmapped group: group bits become other's");
	is_int(policy_mode_to_client(&p, 1000, 1000, 0100640), 0100640,
	    "foreign: mapped owner and group: mode as it is");
	is_int(policy_check_foreign_access(&p, 0, 0, 0600, R_OK), -EACCES,
	    "foreign: unmapped owner 0600: no read, for anyone");
	is_int(policy_check_foreign_access(&p, 0, 0, 0604, R_OK), 0,
	    "foreign: unmapped owner, other may read: read");
	is_int(policy_check_foreign_access(&p, 0, 0, 0604, R_OK | W_OK), -EACCES,
	    "foreign: unmapped owner, other may read only: no write");
	is_int(policy_check_foreign_access(&p, 0, 0, 0670, R_OK), -EACCES,
	    "foreign: unmapped owner and group: the group bits grant nothing");
	is_int(policy_check_foreign_access(&p, 0, 1000, 0670, R_OK | W_OK | X_OK), 0,
	    "foreign: unmapped owner, mapped group: the group bits may be a member's");
	is_int(policy_check_foreign_access(&p, 1000, 0, 0600, R_OK | W_OK), 0,
	    "foreign: mapped owner: left to the client kernel");
	is_int(policy_check_foreign_owner(&p, 0), -EPERM, "foreign: unmapped owner: no owner rights");
	is_int(policy_check_foreign_owner(&p, 65534), -EPERM,
	    "foreign: host nobody (unmapped) is no client's either");
	is_int(policy_check_foreign_owner(&p, 1500), 0, "foreign: mapped owner: owner rights stand");
}

static void
test_check_name(void)
{
	char name[300];

	is_int(policy_check_name(""), -EINVAL, "name: empty refused");
	is_int(policy_check_name("."), -EINVAL, "name: \".\" refused");
	is_int(policy_check_name(".."), -EINVAL, "name: \"..\" refused");
	is_int(policy_check_name("a/b"), -EINVAL, "name: \"a/b\" refused");
	is_int(policy_check_name("/"), -EINVAL, "name: \"/\" refused");
	is_int(policy_check_name("a/"), -EINVAL, "name: trailing slash refused");
	is_int(policy_check_name(NULL), -EINVAL, "name: NULL refused");
	is_int(policy_check_name("..."), 0, "name: \"...\" ok");
	is_int(policy_check_name(".hidden"), 0, "name: \".hidden\" ok");
	is_int(policy_check_name("a b\tc"), 0, "name: spaces are fine");
	memset(name, 'n', sizeof(name));
	name[NAME_MAX] = '\0';
	is_int(policy_check_name(name), 0, "name: 255 bytes ok");
	name[NAME_MAX] = 'n';
	name[NAME_MAX + 1] = '\0';
	is_int(policy_check_name(name), -ENAMETOOLONG, "name: 256 bytes gives ENAMETOOLONG");
	name[299] = '\0';
	is_int(policy_check_name(name), -ENAMETOOLONG, "name: 299 bytes gives ENAMETOOLONG");
}

/* ---- parsing ---- */

/* Apply opt to a default policy: expect -EINVAL, a reason naming
 * `mention`, and the policy unchanged. */
static void
expect_bad(const char *opt, const char *mention)
{
	struct policy p = deflt(), before = deflt();
	char err[256], shown[128];
	size_t i;
	int rc;

	for (i = 0; opt[i] != '\0' && i < sizeof(shown) - 1; i++)
		shown[i] = opt[i] >= 0x20 && opt[i] < 0x7f ? opt[i] : '?';
	shown[i] = '\0';
	rc = apply(&p, opt, err, sizeof(err));
	ok(rc == -EINVAL && strstr(err, mention) != NULL && strchr(err, '\n') == NULL &&
	    policy_equal(&p, &before), "apply_option: \"%s\" gives EINVAL, reason mentions '%s'",
	    shown, mention);
	if (rc != -EINVAL || strstr(err, mention) == NULL)
		fprintf(tap, "# rc %d, reason '%s'\n", rc, err);
}

static void
test_apply_flags(void)
{
	struct policy p = deflt();
	char err[256];

	is_int(apply(&p, "ro", err, sizeof(err)), 0, "apply_option: ro accepted");
	ok(p.read_only, "apply_option: ro sets read_only");
	is_int(apply(&p, "rw", err, sizeof(err)), 0, "apply_option: rw accepted");
	ok(!p.read_only, "apply_option: rw clears read_only");
	ok(!p.suid, "apply_option: nosuid by default");
	is_int(apply(&p, "suid", err, sizeof(err)), 0, "apply_option: suid accepted");
	ok(p.suid, "apply_option: suid sets suid");
	is_int(apply(&p, "nosuid", err, sizeof(err)), 0, "apply_option: nosuid accepted");
	ok(!p.suid, "apply_option: nosuid clears suid");
	expect_bad("suid=yes", "suid takes no value");
	expect_bad("ro=1", "ro takes no value");
	expect_bad("rw=", "rw takes no value");
}

/* A long bad value is echoed shortened, so the reason stays one line. */
static void
test_long_value(void)
{
	struct policy p = deflt();
	char opt[300], err[512];

	memcpy(opt, "cache=", 6);
	memset(opt + 6, 'x', 200);
	opt[206] = '\0';
	apply(&p, opt, err, sizeof(err));
	ok(strstr(err, "xxx...'") != NULL && strlen(err) < 100,
	    "apply_option: a long bad value is shortened in the reason");
}

static void
test_apply_enums(void)
{
	static const struct {
		const char *opt;
		int field;	/* 0 symlinks, 1 specials, 2 cache */
		int want;
	} good[] = {
		{ "symlinks=deny", 0, POLICY_SYMLINKS_DENY },
		{ "symlinks=opaque", 0, POLICY_SYMLINKS_OPAQUE },
		{ "symlinks=follow", 0, POLICY_SYMLINKS_FOLLOW },
		{ "specials=none", 1, POLICY_SPECIALS_NONE },
		{ "specials=pipes", 1, POLICY_SPECIALS_PIPES },
		{ "specials=all", 1, POLICY_SPECIALS_ALL },
		{ "cache=none", 2, POLICY_CACHE_NONE },
		{ "cache=auto", 2, POLICY_CACHE_AUTO },
		{ "cache=always", 2, POLICY_CACHE_ALWAYS },
	};
	struct policy p;
	char err[256];
	size_t i;
	int rc, got;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = deflt();
		p.symlinks = (enum policy_symlinks)9;	/* so the default does not pass by luck */
		p.specials = (enum policy_specials)9;
		p.cache = (enum policy_cache)9;
		rc = apply(&p, good[i].opt, err, sizeof(err));
		got = good[i].field == 0 ? (int)p.symlinks : good[i].field == 1 ? (int)p.specials : (int)p.cache;
		ok(rc == 0 && got == good[i].want, "apply_option: %s", good[i].opt);
	}
	expect_bad("symlinks=bogus", "'bogus' is not deny, opaque or follow");
	expect_bad("symlinks=", "symlinks needs a value");
	expect_bad("symlinks", "symlinks needs a value");
	expect_bad("symlinks=Deny", "'Deny'");
	expect_bad("symlinks=deny ", "'deny '");
	expect_bad("specials=devices", "'devices' is not none, pipes or all");
	expect_bad("specials", "specials needs a value");
	expect_bad("cache=sometimes", "'sometimes' is not none, auto or always");
	expect_bad("cache=", "cache needs a value");
	expect_bad("symlinks=\x1b[2J", "'?[2J'");
	test_long_value();
}

static void
test_apply_xattr(void)
{
	static const struct {
		const char *opt;
		unsigned int want;
	} good[] = {
		{ "xattr=none", 0 },
		{ "xattr=user", POLICY_XATTR_USER },
		{ "xattr=system", POLICY_XATTR_SYSTEM },
		{ "xattr=security", POLICY_XATTR_SECURITY },
		{ "xattr=trusted", POLICY_XATTR_TRUSTED },
		{ "xattr=user:system", POLICY_XATTR_DEFAULT },
		{ "xattr=trusted:user", POLICY_XATTR_TRUSTED | POLICY_XATTR_USER },
		{ "xattr=user:system:security:trusted", 0xfu },
		{ "xattr=user:user", POLICY_XATTR_USER },
	};
	struct policy p;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = deflt();
		p.xattr_allowed = 0x100;
		ok(apply(&p, good[i].opt, err, sizeof(err)) == 0 && p.xattr_allowed == good[i].want,
		    "apply_option: %s", good[i].opt);
	}
	expect_bad("xattr=", "xattr needs a value");
	expect_bad("xattr", "xattr needs a value");
	expect_bad("xattr=bogus", "'bogus' is not a namespace");
	expect_bad("xattr=user:", "'' is not a namespace");
	expect_bad("xattr=:user", "'' is not a namespace");
	expect_bad("xattr=user::system", "'' is not a namespace");
	expect_bad("xattr=none:user", "'none' is not a namespace");
	expect_bad("xattr=user:osx", "'osx' is not a namespace");
}

static void
test_apply_idmap(void)
{
	struct policy p = deflt();
	char err[256], opt[64];
	int i, rc = 0;

	is_int(apply(&p, "uidmap=1000:2000", err, sizeof(err)), 0, "apply_option: uidmap=C:H");
	ok(p.uidmap.nranges == 1 && p.uidmap.ranges[0].client == 1000 &&
	    p.uidmap.ranges[0].host == 2000 && p.uidmap.ranges[0].count == 1,
	    "apply_option: count defaults to 1");
	is_int(apply(&p, "uidmap=0:100000:1000", err, sizeof(err)), 0, "apply_option: uidmap=C:H:N");
	ok(p.uidmap.nranges == 2 && p.uidmap.ranges[1].count == 1000, "apply_option: range appended");
	is_int(apply(&p, "gidmap=1:1:4294967295", err, sizeof(err)), -EINVAL,
	    "apply_option: range reaching id 4294967295 refused");
	is_int(apply(&p, "gidmap=0:0:4294967295", err, sizeof(err)), 0,
	    "apply_option: range of every id up to 4294967294 accepted");
	is_int(policy_gid_to_client(&p, 4294967294u), 4294967294u, "idmap: full range maps the top id");
	is_int(apply(&p, "gidmap=007:8", err, sizeof(err)), -EINVAL,
	    "apply_option: gidmap overlapping the full range refused");

	p = deflt();
	apply(&p, "uidmap=100:1000:10", err, sizeof(err));
	is_int(apply(&p, "uidmap=109:5000", err, sizeof(err)), -EINVAL,
	    "apply_option: client ids overlapping at the end refused");
	ok(strstr(err, "client ids overlap") != NULL, "apply_option: overlap reason is readable");
	is_int(apply(&p, "uidmap=90:6000:11", err, sizeof(err)), -EINVAL,
	    "apply_option: client ids overlapping at the start refused");
	is_int(apply(&p, "uidmap=0:6000:1000", err, sizeof(err)), -EINVAL,
	    "apply_option: range containing another refused");
	is_int(apply(&p, "uidmap=7000:1005", err, sizeof(err)), -EINVAL,
	    "apply_option: host ids overlapping refused");
	ok(strstr(err, "host ids overlap") != NULL, "apply_option: host overlap reason is readable");
	is_int(apply(&p, "uidmap=110:1010:5", err, sizeof(err)), 0,
	    "apply_option: adjacent range accepted");
	is_int(apply(&p, "uidmap=90:990:10", err, sizeof(err)), 0,
	    "apply_option: adjacent range below accepted");
	is_int((long)p.uidmap.nranges, 3, "apply_option: refused ranges were not added");
	is_int(apply(&p, "gidmap=100:1000:10", err, sizeof(err)), 0,
	    "apply_option: gid ranges independent of uid ranges");

	p = deflt();
	for (i = 0; i < POLICY_IDMAP_MAX && rc == 0; i++) {
		snprintf(opt, sizeof(opt), "gidmap=%d:%d:10", i * 10, 1000 + i * 10);
		rc = apply(&p, opt, err, sizeof(err));
	}
	is_int(rc, 0, "apply_option: 16 ranges accepted");
	is_int(apply(&p, "gidmap=5000:5000", err, sizeof(err)), -EINVAL, "apply_option: 17th range refused");
	ok(strstr(err, "too many") != NULL, "apply_option: too-many reason is readable");

	expect_bad("uidmap=1000", "is not CLIENT:HOST[:COUNT]");
	expect_bad("uidmap=", "is not CLIENT:HOST[:COUNT]");
	expect_bad("uidmap", "is not CLIENT:HOST[:COUNT]");
	expect_bad("uidmap=a:b", "'a:b'");
	expect_bad("uidmap=1:2:3:4", "'1:2:3:4'");
	expect_bad("uidmap=-1:2", "'-1:2'");
	expect_bad("uidmap=+1:2", "'+1:2'");
	expect_bad("uidmap=1:2:", "'1:2:'");
	expect_bad("uidmap=:2", "':2'");
	expect_bad("uidmap=1:", "'1:'");
	expect_bad("uidmap= 1:2", "' 1:2'");
	expect_bad("uidmap=4294967296:0", "'4294967296:0'");
	expect_bad("uidmap=1:2:0", "count must be at least 1");
	expect_bad("uidmap=4294967295:0", "past id 4294967294");
	expect_bad("gidmap=0:4294967290:10", "past id 4294967294");
	expect_bad("gidmap=0x10:0", "'0x10:0'");
}

static void
test_apply_unknown(void)
{
	struct policy p = deflt(), before = deflt();
	char err[256];

	is_int(apply(&p, "allow_other", err, sizeof(err)), -ENOENT, "apply_option: unknown key gives ENOENT");
	is_int(apply(&p, "policy=/x", err, sizeof(err)), -ENOENT, "apply_option: policy= is not a policy key");
	is_int(apply(&p, "threads=4", err, sizeof(err)), -ENOENT, "apply_option: threads= gives ENOENT");
	is_int(apply(&p, "RO", err, sizeof(err)), -ENOENT, "apply_option: keys are case-sensitive");
	is_int(apply(&p, "", err, sizeof(err)), -ENOENT, "apply_option: empty option gives ENOENT");
	is_int(apply(&p, "=deny", err, sizeof(err)), -ENOENT, "apply_option: empty key gives ENOENT");
	is_int(apply(&p, "symlinksx=deny", err, sizeof(err)), -ENOENT, "apply_option: key prefix match is not a key");
	ok(policy_equal(&p, &before), "apply_option: unknown keys leave the policy alone");
	is_int(policy_apply_option(&p, "symlinks=bogus", NULL, 0), -EINVAL,
	    "apply_option: NULL err buffer is allowed");
	strcpy(err, "xyz");
	policy_apply_option(&p, "symlinks=bogus", err, 2);
	is_str(err, "s", "apply_option: reason truncated to errlen");
	is_int(policy_apply_option(&p, NULL, err, sizeof(err)), -EINVAL, "apply_option: NULL option refused");
}

static void
test_parse_text(void)
{
	struct policy p, want;
	char err[256];
	int rc;

	p = deflt();
	want = deflt();
	is_int(policy_parse_text(&p, "", err, sizeof(err)), 0, "parse_text: empty text ok");
	ok(policy_equal(&p, &want), "parse_text: empty text changes nothing");
	is_int(policy_parse_text(&p, "\n\n  \t\n# only a comment\n   # indented comment\n",
	    err, sizeof(err)), 0, "parse_text: blank lines and comments ok");
	ok(policy_equal(&p, &want), "parse_text: blank lines and comments change nothing");

	rc = policy_parse_text(&p,
	    "# a read-only view of a vendored tree\n"
	    "ro\n"
	    "symlinks = deny\n"
	    "  specials=none   \n"
	    "cache\t=\talways # trailing comment\n"
	    "xattr =user:trusted\r\n"
	    "uidmap= 1000:2000:5\n"
	    "\n"
	    "gidmap   =   10:20\n"
	    "rw # then back\n"
	    "ro", err, sizeof(err));
	is_int(rc, 0, "parse_text: a full file with spaces, tabs, CRLF, comments parses");
	want.read_only = true;
	want.symlinks = POLICY_SYMLINKS_DENY;
	want.specials = POLICY_SPECIALS_NONE;
	want.cache = POLICY_CACHE_ALWAYS;
	want.xattr_allowed = POLICY_XATTR_USER | POLICY_XATTR_TRUSTED;
	want.uidmap.nranges = 1;
	want.uidmap.ranges[0] = (struct policy_idmap_range){ 1000, 2000, 5 };
	want.gidmap.nranges = 1;
	want.gidmap.ranges[0] = (struct policy_idmap_range){ 10, 20, 1 };
	ok(policy_equal(&p, &want), "parse_text: the file gives the expected policy");

	p = deflt();
	rc = policy_parse_text(&p, "ro\n\n# c\nallow_other\nsymlinks=deny\n", err, sizeof(err));
	is_int(rc, -EINVAL, "parse_text: unknown key is an error (EINVAL)");
	is_str(err, "line 4: unknown key 'allow_other'", "parse_text: unknown key reason names line 4");
	want = deflt();
	ok(policy_equal(&p, &want), "parse_text: a failed file leaves the policy unchanged");

	rc = policy_parse_text(&p, "ro\nsymlinks = bogus\n", err, sizeof(err));
	is_int(rc, -EINVAL, "parse_text: bad value is an error");
	is_str(err, "line 2: symlinks: 'bogus' is not deny, opaque or follow",
	    "parse_text: bad value reason names line and value");
	rc = policy_parse_text(&p, "= deny\n", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 1: missing key before '='", "parse_text: missing key");
	rc = policy_parse_text(&p, "symlinks =\n", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 1: symlinks needs a value: deny, opaque or follow",
	    "parse_text: missing value");
	rc = policy_parse_text(&p, "ro = yes\n", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 1: ro takes no value", "parse_text: value on ro");
	rc = policy_parse_text(&p, "sym links = deny\n", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 1: unknown key 'sym links'", "parse_text: space inside key");
	rc = policy_parse_text(&p, "symlinks = de ny\n", err, sizeof(err));
	is_int(rc, -EINVAL, "parse_text: space inside value refused");
	rc = policy_parse_text(&p, "uidmap = 1:1:5\nuidmap = 3:10\n", err, sizeof(err));
	ok(rc == -EINVAL && strncmp(err, "line 2: uidmap", 14) == 0,
	    "parse_text: overlapping id ranges refused with line number");
	rc = policy_parse_text(&p, "policy = other.policy\n", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 1: unknown key 'policy'", "parse_text: policy= not allowed in a file");
	rc = policy_parse_text(&p, "ro\r\n\r\nbad\r\n", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 3: unknown key 'bad'", "parse_text: CRLF lines counted right");
	rc = policy_parse_text(&p, "ro\nsymlinks=deny\nbad", err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 3: unknown key 'bad'", "parse_text: last line without newline checked");
	is_int(policy_parse_text(&p, NULL, err, sizeof(err)), -EINVAL, "parse_text: NULL text refused");
	want = deflt();
	ok(policy_equal(&p, &want), "parse_text: failed files left the policy unchanged");

	p = deflt();
	p.read_only = true;
	p.symlinks = POLICY_SYMLINKS_FOLLOW;
	is_int(policy_parse_text(&p, "symlinks = deny\n", err, sizeof(err)), 0,
	    "parse_text: applies onto the given policy");
	ok(p.read_only && p.symlinks == POLICY_SYMLINKS_DENY, "parse_text: keeps what the file does not set");
}

/* policy_parse_buf reads exactly the bytes given: a NUL is an error, not
 * the end of the file (which used to drop every option after it). */
static void
test_parse_buf(void)
{
	static const char nul[] = "symlinks = opaque\n\0\nro\nsymlinks = deny\n";
	static const char nul_in_line[] = "ro\nsymlinks = deny\0 # x\n";
	static const char crlf[] = "ro\r\nsymlinks=deny";
	struct policy p, want;
	char err[256], *exact, *long_line;
	int rc;

	p = deflt();
	want = deflt();
	rc = policy_parse_buf(&p, nul, sizeof(nul) - 1, err, sizeof(err));
	is_int(rc, -EINVAL, "parse_buf: a NUL byte on a line of its own is an error");
	is_str(rc == -EINVAL ? err : "", "line 2: NUL byte (a policy file is text)",
	    "parse_buf: the NUL byte's line is named");
	ok(policy_equal(&p, &want), "parse_buf: a file with a NUL changes nothing");
	rc = policy_parse_buf(&p, nul_in_line, sizeof(nul_in_line) - 1, err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 2: NUL byte (a policy file is text)",
	    "parse_buf: a NUL inside a line is an error too");
	rc = policy_parse_buf(&p, "ro\n\0", 4, err, sizeof(err));
	is_str(rc == -EINVAL ? err : "", "line 2: NUL byte (a policy file is text)",
	    "parse_buf: a NUL as the last byte is an error");
	ok(policy_equal(&p, &want), "parse_buf: failed files left the policy unchanged");

	/* exactly size bytes, not NUL-terminated: nothing past them is read */
	exact = malloc(sizeof(crlf) - 1);
	if (exact != NULL) {
		memcpy(exact, crlf, sizeof(crlf) - 1);
		rc = policy_parse_buf(&p, exact, sizeof(crlf) - 1, err, sizeof(err));
		is_int(rc, 0, "parse_buf: CRLF and a last line without newline, unterminated buffer");
		ok(p.read_only && p.symlinks == POLICY_SYMLINKS_DENY,
		    "parse_buf: both lines applied");
		free(exact);
	}
	p = deflt();
	is_int(policy_parse_buf(&p, "", 0, err, sizeof(err)), 0, "parse_buf: empty file ok");

	long_line = malloc(POLICY_LINE_MAX + 8);
	if (long_line != NULL) {
		memset(long_line, ' ', POLICY_LINE_MAX + 8);
		memcpy(long_line + POLICY_LINE_MAX + 6, "ro", 2);
		rc = policy_parse_buf(&p, long_line, POLICY_LINE_MAX + 8, err, sizeof(err));
		is_int(rc, -EINVAL, "parse_buf: a line longer than POLICY_LINE_MAX is an error");
		ok(rc == -EINVAL && strstr(err, "line 1: longer than") == err,
		    "parse_buf: the long line is named");
		memset(long_line, '#', POLICY_LINE_MAX);
		long_line[POLICY_LINE_MAX] = '\n';
		memcpy(long_line + POLICY_LINE_MAX + 1, "ro", 2);
		is_int(policy_parse_buf(&p, long_line, POLICY_LINE_MAX + 3, err, sizeof(err)), 0,
		    "parse_buf: a line of exactly POLICY_LINE_MAX bytes is fine");
		ok(p.read_only, "parse_buf: and the line after it applies");
		free(long_line);
	}
}

/* Print p, parse it into a default policy, compare. */
static void
round_trip(const struct policy *p, const char *desc)
{
	struct policy back = deflt();
	char err[256], *text = print_policy(p);
	int rc;

	err[0] = '\0';
	rc = policy_parse_text(&back, text, err, sizeof(err));
	ok(rc == 0 && policy_equal(p, &back), "print: round trip of %s", desc);
	if (rc != 0)
		fprintf(tap, "# %s\n", err);
	free(text);
}

/* ---- hide rules ---- */

/* The decision for the path a/b/c, walked from the root one name at a
 * time as the server does: the last answer. */
static enum policy_hide
walk(const struct policy *p, const char *path)
{
	struct policy_hide_pos pos = policy_hide_root(p), next;
	enum policy_hide res = POLICY_HIDE_NONE;
	char buf[256], *save = NULL, *c;

	snprintf(buf, sizeof(buf), "%s", path);
	for (c = strtok_r(buf, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		res = policy_hide_child(p, pos, c, &next);
		if (res != POLICY_HIDE_ON_PATH)
			return res;
		pos = next;
	}
	return res;
}

static void
test_hide(void)
{
	struct policy p = deflt(), q;
	struct policy_hide_pos root, pos;
	char err[256], *text;
	const char *r;
	int i, rc;

	root = policy_hide_root(&p);
	ok(root.path == NULL && p.nhide == 0, "hide: none by default, the root has no rule beneath");
	ok(policy_hide_child(&p, root, "etc", &pos) == POLICY_HIDE_NONE && pos.path == NULL,
	    "hide: no rules, nothing hidden");
	ok(apply(&p, "hide=/etc/shadow", err, sizeof(err)) == 0, "hide: /etc/shadow accepted");
	ok(apply(&p, "hide=home//alice/", err, sizeof(err)) == 0, "hide: home//alice/ accepted");
	ok(apply(&p, "hide=./home/bob/./.ssh", err, sizeof(err)) == 0, "hide: ./home/bob/./.ssh accepted");
	ok(apply(&p, "hide=/etc/shadow", err, sizeof(err)) == 0 && p.nhide == 3,
	    "hide: a repeated rule is kept once");
	r = policy_hide_next(&p, NULL);
	is_str(r, "etc/shadow", "hide: normalized: no leading '/'");
	r = policy_hide_next(&p, r);
	is_str(r, "home/alice", "hide: normalized: no double or trailing '/'");
	r = policy_hide_next(&p, r);
	is_str(r, "home/bob/.ssh", "hide: normalized: no '.' component");
	ok(policy_hide_next(&p, r) == NULL, "hide: three rules");

	ok(walk(&p, "etc") == POLICY_HIDE_ON_PATH, "hide: etc is on a rule's path");
	ok(walk(&p, "etc/shadow") == POLICY_HIDE_HIDDEN, "hide: etc/shadow hidden");
	ok(walk(&p, "etc/shadow-") == POLICY_HIDE_NONE, "hide: etc/shadow- is another name");
	ok(walk(&p, "etc/passwd") == POLICY_HIDE_NONE, "hide: etc/passwd visible");
	ok(walk(&p, "etcx") == POLICY_HIDE_NONE && walk(&p, "et") == POLICY_HIDE_NONE,
	    "hide: a prefix of a name is not the name");
	ok(walk(&p, "home/alice") == POLICY_HIDE_HIDDEN, "hide: home/alice hidden");
	ok(walk(&p, "home/alicia") == POLICY_HIDE_NONE, "hide: home/alicia visible");
	ok(walk(&p, "home/bob") == POLICY_HIDE_ON_PATH, "hide: home/bob on a path");
	ok(walk(&p, "home/bob/.ssh") == POLICY_HIDE_HIDDEN, "hide: home/bob/.ssh hidden");
	ok(walk(&p, "home/bob/src") == POLICY_HIDE_NONE, "hide: home/bob/src visible, no rule beneath");
	pos.path = NULL;
	ok(policy_hide_child(&p, pos, "shadow", &pos) == POLICY_HIDE_NONE,
	    "hide: a node with no rule beneath hides no child");
	pos = policy_hide_root(&p);
	policy_hide_child(&p, pos, "home", &pos);
	ok(pos.path != NULL && pos.len == 4 && strncmp(pos.path, "home", 4) == 0,
	    "hide: a position is the rule prefix");
	ok(policy_path_hidden(&p, "/etc/shadow") && policy_path_hidden(&p, "home/alice/x/y") &&
	    policy_path_hidden(&p, "//home//bob/.ssh/id_rsa") && !policy_path_hidden(&p, "/home/bob") &&
	    !policy_path_hidden(&p, "/") && !policy_path_hidden(&p, "/etc"),
	    "hide: path_hidden: inside a hidden path, not its parents");

	/* a shorter rule hides what a longer one only passes through */
	ok(apply(&p, "hide=home/bob", err, sizeof(err)) == 0 &&
	    walk(&p, "home/bob") == POLICY_HIDE_HIDDEN, "hide: home/bob added hides home/bob");

	/* expose */
	q = p;
	ok(apply(&q, "expose=/home", err, sizeof(err)) == 0 && q.nhide == 1 &&
	    walk(&q, "home/alice") == POLICY_HIDE_NONE && walk(&q, "etc/shadow") == POLICY_HIDE_HIDDEN,
	    "expose: /home drops every rule beneath it");
	q = p;
	ok(apply(&q, "expose=etc/shadow", err, sizeof(err)) == 0 && q.nhide == 3 &&
	    walk(&q, "etc") == POLICY_HIDE_NONE, "expose: etc/shadow drops that rule only");
	ok(apply(&q, "expose=/var/nothing", err, sizeof(err)) == 0 && q.nhide == 3,
	    "expose: a path no rule names changes nothing");
	ok(apply(&q, "expose=/", err, sizeof(err)) == 0 && q.nhide == 0 && q.hide_used == 0 &&
	    policy_hide_root(&q).path == NULL, "expose: / drops every rule");
	q = p;
	rc = apply(&q, "expose=home/alice/.bashrc", err, sizeof(err));
	ok(rc == -EINVAL && strstr(err, "home/alice") != NULL && policy_equal(&q, &p),
	    "expose: a path inside a hidden one refused, naming it");
	ok(apply(&q, "hide", err, sizeof(err)) == -EINVAL && apply(&q, "hide=", err, sizeof(err)) == -EINVAL,
	    "hide: needs a path");
	ok(apply(&q, "hide=/", err, sizeof(err)) == -EINVAL && apply(&q, "hide=.//.", err, sizeof(err)) == -EINVAL,
	    "hide: the root itself refused");
	ok(apply(&q, "hide=a/../etc/shadow", err, sizeof(err)) == -EINVAL && policy_equal(&q, &p),
	    "hide: '..' refused");

	/* in a file, printed and parsed back */
	q = deflt();
	rc = policy_parse_text(&q, "ro\nhide = /etc/gshadow\nhide=/root # root's home\n"
	    "hide = /tmp/x\nexpose = /tmp\n", err, sizeof(err));
	ok(rc == 0 && q.nhide == 2 && walk(&q, "root") == POLICY_HIDE_HIDDEN &&
	    walk(&q, "tmp/x") == POLICY_HIDE_NONE, "hide: rules in a policy file, expose after hide");
	text = print_policy(&q);
	ok(strstr(text, "hide = /etc/gshadow\nhide = /root\n") != NULL, "print: hide rules, in order");
	free(text);
	round_trip(&q, "hide rules");
	text = print_policy(&p);
	ok(strstr(text, "# hide: none") == NULL, "print: no 'none' line with rules");
	free(text);

	/* bounds */
	q = deflt();
	for (i = 0, rc = 0; i < POLICY_HIDE_MAX && rc == 0; i++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "hide=d/%d", i);
		rc = apply(&q, opt, err, sizeof(err));
	}
	ok(rc == 0 && q.nhide == POLICY_HIDE_MAX, "hide: %d rules fit", POLICY_HIDE_MAX);
	p = q;
	ok(apply(&q, "hide=one/more", err, sizeof(err)) == -EINVAL && policy_equal(&q, &p),
	    "hide: one rule too many refused, policy unchanged");
	ok(walk(&q, "d/255") == POLICY_HIDE_HIDDEN && walk(&q, "d/256") == POLICY_HIDE_NONE,
	    "hide: the last rule works");
}

static void
test_print(void)
{
	struct policy p = deflt();
	char err[256], *text;

	text = print_policy(&p);
	is_str(text, "rw\nsymlinks = opaque\nspecials = pipes\nnosuid\ncache = auto\nxattr = user:system\n"
	    "# uidmap: none (ids pass unchanged)\n# gidmap: none (ids pass unchanged)\n"
	    "# hide: none\n",
	    "print: default policy text");
	free(text);
	round_trip(&p, "the default policy");

	p.read_only = true;
	p.symlinks = POLICY_SYMLINKS_DENY;
	p.specials = POLICY_SPECIALS_NONE;
	p.cache = POLICY_CACHE_NONE;
	p.xattr_allowed = 0;
	round_trip(&p, "ro, deny, none, none, xattr=none");
	text = print_policy(&p);
	ok(strstr(text, "\nxattr = none\n") != NULL, "print: no namespaces prints xattr = none");
	free(text);

	p = deflt();
	p.symlinks = POLICY_SYMLINKS_FOLLOW;
	p.specials = POLICY_SPECIALS_ALL;
	p.suid = true;
	p.cache = POLICY_CACHE_ALWAYS;
	p.xattr_allowed = POLICY_XATTR_USER | POLICY_XATTR_SYSTEM | POLICY_XATTR_SECURITY | POLICY_XATTR_TRUSTED;
	apply(&p, "uidmap=0:100000:65536", err, sizeof(err));
	apply(&p, "uidmap=70000:1000", err, sizeof(err));
	apply(&p, "gidmap=5:6:7", err, sizeof(err));
	round_trip(&p, "follow, all, always, every namespace, id maps");
	text = print_policy(&p);
	ok(strstr(text, "uidmap = 0:100000:65536\nuidmap = 70000:1000:1\ngidmap = 5:6:7\n") != NULL,
	    "print: id ranges in order, with counts");
	ok(strstr(text, "xattr = user:system:security:trusted\n") != NULL, "print: namespaces listed in order");
	free(text);

	p = deflt();
	p.xattr_allowed = POLICY_XATTR_SECURITY;
	round_trip(&p, "xattr=security alone");
}

static void
test_names(void)
{
	is_str(policy_symlinks_name(POLICY_SYMLINKS_DENY), "deny", "name: symlinks deny");
	is_str(policy_symlinks_name(POLICY_SYMLINKS_OPAQUE), "opaque", "name: symlinks opaque");
	is_str(policy_symlinks_name(POLICY_SYMLINKS_FOLLOW), "follow", "name: symlinks follow");
	is_str(policy_specials_name(POLICY_SPECIALS_NONE), "none", "name: specials none");
	is_str(policy_specials_name(POLICY_SPECIALS_PIPES), "pipes", "name: specials pipes");
	is_str(policy_specials_name(POLICY_SPECIALS_ALL), "all", "name: specials all");
	is_str(policy_cache_name(POLICY_CACHE_NONE), "none", "name: cache none");
	is_str(policy_cache_name(POLICY_CACHE_AUTO), "auto", "name: cache auto");
	is_str(policy_cache_name(POLICY_CACHE_ALWAYS), "always", "name: cache always");
	ok(policy_symlinks_name((enum policy_symlinks)42) != NULL &&
	    policy_specials_name((enum policy_specials)42) != NULL &&
	    policy_cache_name((enum policy_cache)-1) != NULL,
	    "name: out-of-range values still give a string");
}

int
main(void)
{
	tap = open_memstream(&tap_buf, &tap_len);
	if (tap == NULL)
		return 99;
	test_defaults();
	test_check_write();
	test_symlink_create();
	test_symlink_visible();
	test_follows();
	test_link_resolve();
	test_check_link();
	test_check_combination();
	test_create_type();
	test_open_type();
	test_filter_mode();
	test_xattr_allowed();
	test_xattr_filter();
	test_idmap();
	test_idmap_round_trip();
	test_idmap_foreign();
	test_check_name();
	test_apply_flags();
	test_apply_enums();
	test_apply_xattr();
	test_apply_idmap();
	test_apply_unknown();
	test_parse_text();
	test_parse_buf();
	test_print();
	test_hide();
	test_names();
	fclose(tap);
	printf("1..%u\n%s", tests_run, tap_buf);
	free(tap_buf);
	if (tests_failed > 0)
		printf("# %u of %u failed\n", tests_failed, tests_run);
	return tests_failed == 0 ? 0 : 1;
}
