/*
 * hide_list: the root share's hide rules, built on the host at boot.
 *
 * Owns the default list (see launch(1), "WHAT THE GUEST DOES NOT SEE"):
 * the shadow password and group files and their backups, the host's ssh
 * host keys, /proc /sys /dev /run (the guest mounts its own), every other
 * user's home, /root unless the user is root, the user's credential
 * stores, and the fsbridge state and volume directories; then --policy
 * FILE and --hide/--expose.  Each path is hidden as written and, when a
 * symlink leads to it, at its real location too (the server never
 * follows a symlink, the guest kernel does).  The server enforces the
 * rules (share-policy hide=, fsbridge/fs_hide.c); this file only decides
 * them.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hide_list.h"
#include "state_dir.h"

/* Credential stores in the user's home. */
static const char *const home_secrets[] = {
	".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker/config.json",
	".netrc", ".git-credentials", ".pgpass", ".pypirc", ".vault-token",
	".cargo/credentials", ".cargo/credentials.toml",
	".config/gcloud", ".config/gh", ".config/hub", ".config/op",
	".password-store", ".local/share/password-store", ".local/share/keyrings",
	".mozilla", ".config/google-chrome", ".config/chromium",
	".config/BraveSoftware", ".thunderbird",
	".local/state/fsbridge", ".local/share/fsbridge",
};

/* Host files and trees a command has no business reading. */
static const char *const system_secrets[] = {
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/security/opasswd",
	"/proc", "/sys", "/dev", "/run",
};

struct build {
	struct policy *p;
	const char *root;	/* realpath of the shared tree */
	size_t rootlen;		/* 0 for "/" */
	char *err;
	size_t errlen;
};

/* Is a at or beneath b (both absolute, canonical)? */
static bool
at_or_beneath(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (strcmp(b, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* The real location of path: realpath of its longest existing prefix,
 * the rest appended.  false if none can be had. */
static bool
canonical(const char *path, char *out, size_t size)
{
	char head[PATH_MAX], tail[PATH_MAX] = "", res[PATH_MAX], *slash;

	if (strlcpy(head, path, sizeof(head)) >= sizeof(head))
		return false;
	for (;;) {
		if (realpath(head, res) != NULL)
			break;
		slash = strrchr(head, '/');
		if (slash == NULL || slash == head)
			return false;
		char t[PATH_MAX];

		snprintf(t, sizeof(t), "%s%s", slash, tail);
		strlcpy(tail, t, sizeof(tail));
		*slash = '\0';
	}
	return snprintf(out, size, "%s%s", strcmp(res, "/") == 0 && tail[0] ? "" : res,
	    tail) < (int)size;
}

/* Apply hide (or expose) of one absolute host path, relative to the
 * root; a path outside the root is no rule of this share. */
static int
apply_one(struct build *b, const char *path, bool expose)
{
	const char *rel;

	if (!at_or_beneath(path, b->root))
		return 0;
	if (strcmp(path, b->root) == 0)	/* the root: expose drops every rule */
		return expose ? policy_expose(b->p, "/", b->err, b->errlen) : 0;
	rel = path + b->rootlen;
	return expose ? policy_expose(b->p, rel, b->err, b->errlen) :
	    policy_hide_add(b->p, rel, b->err, b->errlen);
}

/* A host path as written and at its real location. */
static int
apply_path(struct build *b, const char *path, bool expose)
{
	char abs[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX];
	int rc;

	if (path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -errno;
		if (strlcpy(abs, cwd, sizeof(abs)) >= sizeof(abs) ||
		    strlcat(abs, "/", sizeof(abs)) >= sizeof(abs) ||
		    strlcat(abs, path, sizeof(abs)) >= sizeof(abs))
			return -ENAMETOOLONG;
	} else if (strlcpy(abs, path, sizeof(abs)) >= sizeof(abs)) {
		return -ENAMETOOLONG;
	}
	rc = apply_one(b, abs, expose);
	if (rc == 0 && canonical(abs, real, sizeof(real)) && strcmp(real, abs) != 0)
		rc = apply_one(b, real, expose);
	return rc;
}

static int
hide_in(struct build *b, const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;
	return apply_path(b, path, false);
}

/* The homes of the other users: under /home, or owned by their (non-root)
 * user, or root's; never one holding the user's home.  (A project or
 * --mount inside one is its own share and stays visible.) */
static int
hide_other_homes(struct build *b, uid_t me, const char *myhome)
{
	struct passwd *pw;
	struct stat st;
	char real[PATH_MAX];
	int rc = 0;

	setpwent();
	while (rc == 0 && (pw = getpwent()) != NULL) {
		if (pw->pw_uid == me || pw->pw_dir == NULL || pw->pw_dir[0] != '/' ||
		    strcmp(pw->pw_dir, "/") == 0 || stat(pw->pw_dir, &st) != 0 ||
		    !S_ISDIR(st.st_mode) || realpath(pw->pw_dir, real) == NULL)
			continue;
		if (!(strncmp(real, "/home/", 6) == 0 || pw->pw_uid == 0 ||
		    st.st_uid == pw->pw_uid))
			continue;
		if (myhome[0] && at_or_beneath(myhome, real))
			continue;
		rc = apply_path(b, pw->pw_dir, false);
	}
	endpwent();
	return rc;
}

/* The user's credential stores, in $HOME and in the passwd home. */
static int
hide_home_secrets(struct build *b, const char *home)
{
	size_t i;
	int rc = 0;

	if (home == NULL || home[0] != '/')
		return 0;
	for (i = 0; rc == 0 && i < sizeof(home_secrets) / sizeof(home_secrets[0]); i++)
		rc = hide_in(b, home, home_secrets[i]);
	return rc;
}

/* This VM's state dir, the default state root (its "fsbridge" parent:
 * vm/ and volumes/) and the volume directory. */
static int
hide_state(struct build *b, const char *state)
{
	const char *env[] = { "FSBRIDGE_STATE_DIR", "FSBRIDGE_VOLUME_DIR" };
	char root[PATH_MAX], *slash;
	int rc;
	size_t i;

	rc = apply_path(b, state, false);
	if (rc == 0 && state_dir_root(root, sizeof(root)) == 0) {
		slash = strrchr(root, '/');	/* .../fsbridge/vm */
		if (slash != NULL && slash != root)
			*slash = '\0';
		rc = apply_path(b, root, false);
	}
	for (i = 0; rc == 0 && i < sizeof(env) / sizeof(env[0]); i++)
		if (getenv(env[i]) != NULL && getenv(env[i])[0] != '\0')
			rc = apply_path(b, getenv(env[i]), false);
	return rc;
}

static int
hide_defaults(struct build *b, const char *state)
{
	const char *home = getenv("HOME");
	struct passwd *me = getpwuid(getuid());
	char myhome[PATH_MAX] = "";
	glob_t g;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < sizeof(system_secrets) / sizeof(system_secrets[0]); i++)
		rc = apply_path(b, system_secrets[i], false);
	if (rc == 0 && glob("/etc/ssh/ssh_host_*_key", 0, NULL, &g) == 0) {
		for (i = 0; rc == 0 && i < g.gl_pathc; i++)
			rc = apply_path(b, g.gl_pathv[i], false);
		globfree(&g);
	}
	if (home != NULL && home[0] == '/' && realpath(home, myhome) == NULL)
		strlcpy(myhome, home, sizeof(myhome));
	if (rc == 0)
		rc = hide_other_homes(b, getuid(), myhome);
	if (rc == 0 && getuid() != 0)
		rc = apply_path(b, "/root", false);
	if (rc == 0)
		rc = hide_home_secrets(b, home);
	if (rc == 0 && me != NULL && (home == NULL || strcmp(me->pw_dir, home) != 0))
		rc = hide_home_secrets(b, me->pw_dir);
	if (rc == 0)
		rc = hide_state(b, state);
	return rc;
}

/* --policy FILE: its hide/expose lines (and any other policy key) on
 * top of the defaults; the root share stays read-only. */
static int
apply_policy_file(struct build *b, const char *file)
{
	char *text;
	FILE *f = fopen(file, "re");
	long n;
	int rc;

	if (f == NULL) {
		snprintf(b->err, b->errlen, "%s: %s", file, strerror(errno));
		return -errno;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = n >= 0 && n < (1 << 20) ? calloc(1, (size_t)n + 1) : NULL;
	if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
		snprintf(b->err, b->errlen, "%s: cannot read it", file);
		free(text);
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	rc = policy_parse_text(b->p, text, b->err, b->errlen);
	free(text);
	b->p->read_only = true;
	return rc;
}

int
hide_list_build(const struct launch_opts *o, const char *root, const char *state,
    struct policy *p, char *err, size_t errlen)
{
	char realroot[PATH_MAX];
	struct build b = { .p = p, .err = err, .errlen = errlen };
	int i, rc;

	err[0] = '\0';
	policy_init_default(p);
	p->read_only = true;
	p->symlinks = POLICY_SYMLINKS_OPAQUE;
	if (realpath(root, realroot) == NULL) {
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		return -errno;
	}
	b.root = realroot;
	b.rootlen = strcmp(realroot, "/") == 0 ? 0 : strlen(realroot);
	rc = hide_defaults(&b, state);
	if (rc == 0 && o->policy != NULL)
		rc = apply_policy_file(&b, o->policy);
	for (i = 0; rc == 0 && i < o->nhide; i++)
		rc = apply_path(&b, o->hide[i], o->expose[i]);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(-rc));
	return rc;
}

void
hide_list_print(const struct policy *p, const char *prefix)
{
	const char *r;

	for (r = policy_hide_next(p, NULL); r != NULL; r = policy_hide_next(p, r))
		printf("%s/%s\n", prefix, r);
}

char *
hide_list_text(const struct policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	policy_print(p, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
hide_list_read(const char *state, struct policy *p)
{
	static char text[POLICY_HIDE_BYTES * 2];
	char err[256], path[PATH_MAX];
	size_t n;
	FILE *f;
	int rc;

	rc = state_path(path, sizeof(path), state, ST_ROOT_POLICY);
	if (rc != 0)
		return rc;
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	policy_init_default(p);
	return policy_parse_text(p, text, err, sizeof(err));
}
