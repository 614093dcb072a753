/*
 * share-policy/policy_parse.c: building a policy from text and back.
 *
 * Owns: the default policy, `-o` options (policy_apply_option), policy
 * files (policy_parse_buf, exactly as many bytes as were read: a NUL byte
 * is an error, not an end), printing a policy in the file syntax
 * (policy_print), the hide rule list and the names of the enum values.  Both entry points
 * share one key table, so an option means the same in a file and on the
 * command line.  A failed option or file leaves the policy unchanged.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

/* One option split into key and (optional) value; not NUL-terminated. */
struct kv {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
	bool has_val;
};

/* An option key and the function applying it. */
struct key_handler {
	const char *key;
	int (*apply)(struct policy *p, const struct kv *kv, char *err, size_t errlen);
};

static const char *const symlinks_names[] = { "deny", "opaque", "follow" };
static const char *const specials_names[] = { "none", "pipes", "all" };
static const char *const cache_names[] = { "none", "auto", "always" };

static const struct {
	const char *name;
	unsigned int bit;
} xattr_ns[] = {
	{ "user", POLICY_XATTR_USER },
	{ "system", POLICY_XATTR_SYSTEM },
	{ "security", POLICY_XATTR_SECURITY },
	{ "trusted", POLICY_XATTR_TRUSTED },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SHOW_MAX 48	/* bytes of a bad value echoed in a message */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A printable, bounded copy of s[0..len) for a message. */
static const char *
show(char buf[SHOW_MAX], const char *s, size_t len)
{
	size_t i, n = len < SHOW_MAX - 1 ? len : SHOW_MAX - 4;

	for (i = 0; i < n; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static bool
tok_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static const char *
enum_name(const char *const *names, size_t n, unsigned int v)
{
	return v < n ? names[v] : "invalid";
}

const char *
policy_symlinks_name(enum policy_symlinks s)
{
	return enum_name(symlinks_names, NELEM(symlinks_names), (unsigned int)s);
}

const char *
policy_specials_name(enum policy_specials s)
{
	return enum_name(specials_names, NELEM(specials_names), (unsigned int)s);
}

const char *
policy_cache_name(enum policy_cache c)
{
	return enum_name(cache_names, NELEM(cache_names), (unsigned int)c);
}

void
policy_init_default(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->read_only = false;
	p->symlinks = POLICY_SYMLINKS_OPAQUE;
	p->specials = POLICY_SPECIALS_PIPES;
	p->cache = POLICY_CACHE_AUTO;
	p->xattr_allowed = POLICY_XATTR_DEFAULT;
}

/* "ro" and "rw": no value. */
static int
apply_flag(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	char k[SHOW_MAX];

	if (kv->has_val) {
		seterr(err, errlen, "%s takes no value", show(k, kv->key, kv->klen));
		return -EINVAL;
	}
	p->read_only = tok_is(kv->key, kv->klen, "ro");
	return 0;
}

/* "suid" and "nosuid": no value. */
static int
apply_suid(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	char k[SHOW_MAX];

	if (kv->has_val) {
		seterr(err, errlen, "%s takes no value", show(k, kv->key, kv->klen));
		return -EINVAL;
	}
	p->suid = tok_is(kv->key, kv->klen, "suid");
	return 0;
}

/* The index of kv's value in names[0..n), or -EINVAL with a reason. */
static int
parse_enum(const struct kv *kv, const char *const *names, size_t n, char *err, size_t errlen)
{
	char k[SHOW_MAX], v[SHOW_MAX];
	size_t i;

	for (i = 0; kv->has_val && i < n; i++)
		if (tok_is(kv->val, kv->vlen, names[i]))
			return (int)i;
	show(k, kv->key, kv->klen);
	if (!kv->has_val || kv->vlen == 0)
		seterr(err, errlen, "%s needs a value: %s, %s or %s", k, names[0], names[1], names[2]);
	else
		seterr(err, errlen, "%s: '%s' is not %s, %s or %s", k,
		    show(v, kv->val, kv->vlen), names[0], names[1], names[2]);
	return -EINVAL;
}

/* "trust_client": no value. */
static int
apply_trust(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	if (kv->has_val) {
		seterr(err, errlen, "trust_client takes no value");
		return -EINVAL;
	}
	p->trust_client = true;
	return 0;
}

static int
apply_symlinks(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	int v = parse_enum(kv, symlinks_names, NELEM(symlinks_names), err, errlen);

	if (v < 0)
		return v;
	p->symlinks = (enum policy_symlinks)v;
	return 0;
}

static int
apply_specials(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	int v = parse_enum(kv, specials_names, NELEM(specials_names), err, errlen);

	if (v < 0)
		return v;
	p->specials = (enum policy_specials)v;
	return 0;
}

static int
apply_cache(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	int v = parse_enum(kv, cache_names, NELEM(cache_names), err, errlen);

	if (v < 0)
		return v;
	p->cache = (enum policy_cache)v;
	return 0;
}

/* The bit of one xattr namespace name, or 0. */
static unsigned int
xattr_ns_bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NELEM(xattr_ns); i++)
		if (tok_is(s, len, xattr_ns[i].name))
			return xattr_ns[i].bit;
	return 0;
}

/* xattr=none or xattr=NS[:NS...]. */
static int
apply_xattr(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	const char *s = kv->val, *end = kv->val + kv->vlen, *colon;
	unsigned int bits = 0, bit;
	char v[SHOW_MAX];

	if (!kv->has_val || kv->vlen == 0) {
		seterr(err, errlen, "xattr needs a value: none or namespaces "
		    "(user, system, security, trusted) separated by ':'");
		return -EINVAL;
	}
	if (tok_is(kv->val, kv->vlen, "none")) {
		p->xattr_allowed = 0;
		return 0;
	}
	for (;;) {
		colon = memchr(s, ':', (size_t)(end - s));
		if (colon == NULL)
			colon = end;
		bit = xattr_ns_bit(s, (size_t)(colon - s));
		if (bit == 0) {
			seterr(err, errlen, "xattr: '%s' is not a namespace "
			    "(user, system, security, trusted; or none alone)",
			    show(v, s, (size_t)(colon - s)));
			return -EINVAL;
		}
		bits |= bit;
		if (colon == end)
			break;
		s = colon + 1;
	}
	p->xattr_allowed = bits;
	return 0;
}

/* A decimal uint32 filling s[0..len) exactly. */
static bool
parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* CLIENT:HOST[:COUNT] into r; false if malformed. */
static bool
parse_range(const char *s, size_t len, struct policy_idmap_range *r)
{
	const char *end = s + len, *c1, *c2;

	c1 = memchr(s, ':', len);
	if (c1 == NULL)
		return false;
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	r->count = 1;
	if (c2 == NULL)
		c2 = end;
	else if (!parse_u32(c2 + 1, (size_t)(end - c2 - 1), &r->count))
		return false;
	return parse_u32(s, (size_t)(c1 - s), &r->client) &&
	    parse_u32(c1 + 1, (size_t)(c2 - c1 - 1), &r->host);
}

/* Do [a, a+na) and [b, b+nb) share an id? */
static bool
ranges_overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
	return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

/* Why r cannot join map, or NULL if it can. */
static const char *
idmap_refusal(const struct policy_idmap *map, const struct policy_idmap_range *r)
{
	const struct policy_idmap_range *o;
	size_t i;

	if (r->count == 0)
		return "the count must be at least 1";
	/* (uint32_t)-1 is "no id" to chown(2): never a member of a range */
	if ((uint64_t)r->client + r->count > UINT32_MAX ||
	    (uint64_t)r->host + r->count > UINT32_MAX)
		return "the range goes past id 4294967294";
	if (map->nranges >= POLICY_IDMAP_MAX)
		return "too many ranges (at most 16)";
	for (i = 0; i < map->nranges; i++) {
		o = &map->ranges[i];
		if (ranges_overlap(r->client, r->count, o->client, o->count))
			return "its client ids overlap an earlier range";
		if (ranges_overlap(r->host, r->count, o->host, o->count))
			return "its host ids overlap an earlier range";
	}
	return NULL;
}

/* uidmap= and gidmap=: add one range. */
static int
apply_idmap(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	bool uid = tok_is(kv->key, kv->klen, "uidmap");
	struct policy_idmap *map = uid ? &p->uidmap : &p->gidmap;
	const char *key = uid ? "uidmap" : "gidmap", *why;
	struct policy_idmap_range r;
	char v[SHOW_MAX];

	if (!kv->has_val || !parse_range(kv->val, kv->vlen, &r)) {
		seterr(err, errlen, "%s: '%s' is not CLIENT:HOST[:COUNT] (decimal ids)",
		    key, kv->has_val ? show(v, kv->val, kv->vlen) : "");
		return -EINVAL;
	}
	why = idmap_refusal(map, &r);
	if (why != NULL) {
		seterr(err, errlen, "%s: '%s': %s", key, show(v, kv->val, kv->vlen), why);
		return -EINVAL;
	}
	map->ranges[map->nranges++] = r;
	return 0;
}

/*
 * Normalize a hide/expose path s[0..len) into out: no leading, trailing
 * or repeated '/', no "." component; ".." and an empty result (the root
 * itself) are refused.  Returns the length, or -EINVAL with a reason.
 */
static int
hide_normalize(const char *s, size_t len, char *out, size_t outsize, char *err, size_t errlen)
{
	const char *start = s, *end = s + len;
	size_t n = 0, clen;
	char v[SHOW_MAX];

	while (s < end) {
		clen = strcspn(s, "/");
		if (clen > (size_t)(end - s))
			clen = (size_t)(end - s);
		if (clen == 2 && s[0] == '.' && s[1] == '.') {
			seterr(err, errlen, "'%s': no '..' in a hidden path", show(v, start, len));
			return -EINVAL;
		}
		if (memchr(s, '\0', clen) != NULL) {
			seterr(err, errlen, "a NUL in a hidden path");
			return -EINVAL;
		}
		if (clen > 0 && !(clen == 1 && s[0] == '.')) {
			if (n + (n > 0) + clen + 1 > outsize) {
				seterr(err, errlen, "hidden path too long");
				return -EINVAL;
			}
			if (n > 0)
				out[n++] = '/';
			memcpy(out + n, s, clen);
			n += clen;
		}
		s += clen;
		if (s < end)
			s++;	/* the '/' */
	}
	if (n == 0) {
		seterr(err, errlen, "cannot hide the share root itself");
		return -EINVAL;
	}
	out[n] = '\0';
	return (int)n;
}

/* Is rule r the path a (alen bytes) or beneath it? */
static bool
hide_at_or_beneath(const char *r, const char *a, size_t alen)
{
	return strncmp(r, a, alen) == 0 && (r[alen] == '\0' || r[alen] == '/');
}

static int
hide_add(struct policy *p, const char *s, size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *r;
	int n;

	n = hide_normalize(s, len, path, sizeof(path), err, errlen);
	if (n < 0)
		return n;
	for (r = policy_hide_next(p, NULL); r != NULL; r = policy_hide_next(p, r))
		if (strcmp(r, path) == 0)
			return 0;	/* already there */
	if (p->nhide >= POLICY_HIDE_MAX || p->hide_used + (size_t)n + 1 > POLICY_HIDE_BYTES) {
		seterr(err, errlen, "too many hide rules (at most %d, %d bytes)",
		    POLICY_HIDE_MAX, POLICY_HIDE_BYTES);
		return -EINVAL;
	}
	memcpy(p->hide + p->hide_used, path, (size_t)n + 1);
	p->hide_used += (size_t)n + 1;
	p->nhide++;
	return 0;
}

/* Does s[0..len) name the root ("/", ".", "//", "./")? */
static bool
names_root(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != '/' && !(s[i] == '.' && (i + 1 == len || s[i + 1] == '/')))
			return false;
	return true;
}

static int
hide_expose(struct policy *p, const char *s, size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX], v[SHOW_MAX];
	size_t rlen, in = 0, out = 0;
	int n;

	if (names_root(s, len)) {	/* expose=/: every rule goes */
		p->nhide = 0;
		p->hide_used = 0;
		return 0;
	}
	n = hide_normalize(s, len, path, sizeof(path), err, errlen);
	if (n < 0)
		return n;
	if (policy_path_hidden(p, path)) {
		const char *r;

		for (r = policy_hide_next(p, NULL); r != NULL; r = policy_hide_next(p, r))
			if (strcmp(r, path) != 0 && hide_at_or_beneath(path, r, strlen(r)))
				break;
		if (r != NULL) {
			seterr(err, errlen, "'%s' is inside the hidden '%s': expose that instead",
			    show(v, path, (size_t)n), r);
			return -EINVAL;
		}
	}
	while (in < p->hide_used) {
		rlen = strlen(p->hide + in) + 1;
		if (hide_at_or_beneath(p->hide + in, path, (size_t)n)) {
			p->nhide--;
		} else {
			if (out != in)
				memmove(p->hide + out, p->hide + in, rlen);
			out += rlen;
		}
		in += rlen;
	}
	p->hide_used = out;
	return 0;
}

int
policy_hide_add(struct policy *p, const char *path, char *err, size_t errlen)
{
	return path == NULL ? -EINVAL : hide_add(p, path, strlen(path), err, errlen);
}

int
policy_expose(struct policy *p, const char *path, char *err, size_t errlen)
{
	return path == NULL ? -EINVAL : hide_expose(p, path, strlen(path), err, errlen);
}

/* hide=PATH and expose=PATH. */
static int
apply_hide(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	bool hide = tok_is(kv->key, kv->klen, "hide");

	if (!kv->has_val || kv->vlen == 0) {
		seterr(err, errlen, "%s needs a path", hide ? "hide" : "expose");
		return -EINVAL;
	}
	return hide ? hide_add(p, kv->val, kv->vlen, err, errlen) :
	    hide_expose(p, kv->val, kv->vlen, err, errlen);
}

static const struct key_handler key_handlers[] = {
	{ "ro", apply_flag },
	{ "rw", apply_flag },
	{ "symlinks", apply_symlinks },
	{ "trust_client", apply_trust },
	{ "specials", apply_specials },
	{ "suid", apply_suid },
	{ "nosuid", apply_suid },
	{ "cache", apply_cache },
	{ "xattr", apply_xattr },
	{ "uidmap", apply_idmap },
	{ "gidmap", apply_idmap },
	{ "hide", apply_hide },
	{ "expose", apply_hide },
};

/* Apply one split option; -ENOENT if its key is not ours. */
static int
apply_kv(struct policy *p, const struct kv *kv, char *err, size_t errlen)
{
	char k[SHOW_MAX];
	size_t i;

	for (i = 0; i < NELEM(key_handlers); i++)
		if (tok_is(kv->key, kv->klen, key_handlers[i].key))
			return key_handlers[i].apply(p, kv, err, errlen);
	seterr(err, errlen, "unknown key '%s'", show(k, kv->key, kv->klen));
	return -ENOENT;
}

int
policy_apply_option(struct policy *p, const char *opt, char *err, size_t errlen)
{
	const char *eq;
	struct kv kv;

	if (opt == NULL) {
		seterr(err, errlen, "no option");
		return -EINVAL;
	}
	eq = strchr(opt, '=');
	kv.key = opt;
	kv.klen = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
	kv.has_val = eq != NULL;
	kv.val = eq != NULL ? eq + 1 : "";
	kv.vlen = strlen(kv.val);
	return apply_kv(p, &kv, err, errlen);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Narrow s[0..*len) to its part without surrounding white space. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && is_space(s[0]))
		s++, (*len)--;
	while (*len > 0 && is_space(s[*len - 1]))
		(*len)--;
	return s;
}

/* One line of a policy file, without its '\n'. */
static int
parse_line(struct policy *p, const char *line, size_t len, char *err, size_t errlen)
{
	const char *hash = memchr(line, '#', len), *eq;
	struct kv kv;

	if (hash != NULL)
		len = (size_t)(hash - line);
	line = trim(line, &len);
	if (len == 0)
		return 0;
	eq = memchr(line, '=', len);
	kv.klen = eq != NULL ? (size_t)(eq - line) : len;
	kv.key = trim(line, &kv.klen);
	kv.has_val = eq != NULL;
	kv.vlen = eq != NULL ? len - (size_t)(eq + 1 - line) : 0;
	kv.val = eq != NULL ? trim(eq + 1, &kv.vlen) : "";
	if (kv.klen == 0) {
		seterr(err, errlen, "missing key before '='");
		return -EINVAL;
	}
	return apply_kv(p, &kv, err, errlen) == 0 ? 0 : -EINVAL;
}

int
policy_parse_buf(struct policy *p, const char *text, size_t size, char *err, size_t errlen)
{
	struct policy work = *p;
	const char *end = text + size, *nl;
	char reason[256];
	unsigned int lineno = 0;
	size_t len;

	if (text == NULL) {
		seterr(err, errlen, "no text");
		return -EINVAL;
	}
	while (text < end) {
		lineno++;
		nl = memchr(text, '\n', (size_t)(end - text));
		len = nl != NULL ? (size_t)(nl - text) : (size_t)(end - text);
		/* a NUL would end the text early for any C string reader:
		 * the options after it would silently not apply */
		if (memchr(text, '\0', len) != NULL) {
			seterr(err, errlen, "line %u: NUL byte (a policy file is text)", lineno);
			return -EINVAL;
		}
		if (len > POLICY_LINE_MAX) {
			seterr(err, errlen, "line %u: longer than %d bytes", lineno, POLICY_LINE_MAX);
			return -EINVAL;
		}
		if (parse_line(&work, text, len, reason, sizeof(reason)) != 0) {
			seterr(err, errlen, "line %u: %s", lineno, reason);
			return -EINVAL;
		}
		text += len + (nl != NULL);
	}
	*p = work;
	return 0;
}

int
policy_parse_text(struct policy *p, const char *text, char *err, size_t errlen)
{
	return policy_parse_buf(p, text, text != NULL ? strlen(text) : 0, err, errlen);
}

/* "none" or the allowed namespaces joined by ':'. */
static const char *
xattr_value(unsigned int bits, char *buf, size_t size)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < NELEM(xattr_ns); i++) {
		if ((bits & xattr_ns[i].bit) == 0)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, ":", size);
		strlcat(buf, xattr_ns[i].name, size);
	}
	return buf[0] != '\0' ? buf : "none";
}

static void
print_idmap(const char *key, const struct policy_idmap *map, FILE *out)
{
	const struct policy_idmap_range *r;
	size_t i;

	if (map->nranges == 0)
		fprintf(out, "# %s: none (ids pass unchanged)\n", key);
	for (i = 0; i < map->nranges && i < POLICY_IDMAP_MAX; i++) {
		r = &map->ranges[i];
		fprintf(out, "%s = %u:%u:%u\n", key, (unsigned int)r->client,
		    (unsigned int)r->host, (unsigned int)r->count);
	}
}

int
policy_check_combination(const struct policy *p, char *err, size_t errlen)
{
	if (p->symlinks == POLICY_SYMLINKS_FOLLOW && !p->read_only && !p->trust_client) {
		seterr(err, errlen, "symlinks=follow on a writable share needs trust_client "
		    "(the client could make a link to / and have the server follow it); "
		    "add ro, or trust_client if the client is trusted");
		return -EINVAL;
	}
	return 0;
}

void
policy_print(const struct policy *p, FILE *out)
{
	char xbuf[64];
	const char *r;

	fprintf(out, "%s\n", p->read_only ? "ro" : "rw");
	fprintf(out, "symlinks = %s\n", policy_symlinks_name(p->symlinks));
	if (p->trust_client)
		fprintf(out, "trust_client\n");
	fprintf(out, "specials = %s\n", policy_specials_name(p->specials));
	fprintf(out, "%s\n", p->suid ? "suid" : "nosuid");
	fprintf(out, "cache = %s\n", policy_cache_name(p->cache));
	fprintf(out, "xattr = %s\n", xattr_value(p->xattr_allowed, xbuf, sizeof(xbuf)));
	print_idmap("uidmap", &p->uidmap, out);
	print_idmap("gidmap", &p->gidmap, out);
	if (p->nhide == 0)
		fprintf(out, "# hide: none\n");
	for (r = policy_hide_next(p, NULL); r != NULL; r = policy_hide_next(p, r))
		fprintf(out, "hide = /%s\n", r);
}
