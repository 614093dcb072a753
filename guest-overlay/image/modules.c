/*
 * modules: parse modules.dep ("kernel/a/x.ko: kernel/b/y.ko ...", each
 * module with every module it needs) and modules.builtin (one path a
 * line), and order a closure so that every module comes after the ones it
 * needs.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-overlay/image/modules.h"

enum { MARK_NONE, MARK_ACTIVE, MARK_DONE };

/* "kernel/drivers/virtio/virtio-pci.ko.zst" and "virtio-pci" both name
 * "virtio_pci". */
static char *
module_name(const char *path)
{
	const char *base = strrchr(path, '/');
	char *name, *p;

	base = base ? base + 1 : path;
	name = strndup(base, strcspn(base, "."));
	if (name == NULL)
		return NULL;
	for (p = name; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	return name;
}

static int
kmod_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kmod *)a)->name,
	    ((const struct kmod *)b)->name);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static FILE *
open_in(const char *dir, const char *file, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, file);
	return fopen(path, "re");
}

static int
grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	nv = reallocarray(*v, ncap, size);
	if (nv == NULL)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* The names after the colon of one modules.dep line. */
static int
parse_deps(struct kmod *m, char *list)
{
	size_t cap = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(list, " \t\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\n", &save)) {
		if (grow((void **)&m->deps, &cap, m->ndeps, sizeof(char *)) != 0)
			return -ENOMEM;
		m->deps[m->ndeps] = module_name(tok);
		if (m->deps[m->ndeps] == NULL)
			return -ENOMEM;
		m->ndeps++;
	}
	return 0;
}

static int
parse_dep_line(struct kmod *m, char *line)
{
	char *colon = strchr(line, ':');

	memset(m, 0, sizeof(*m));
	if (colon == NULL)
		return -EINVAL;
	*colon = '\0';
	m->path = strdup(line);
	m->name = module_name(line);
	if (m->path == NULL || m->name == NULL)
		return -ENOMEM;
	return parse_deps(m, colon + 1);
}

static void
kmod_free(struct kmod *m)
{
	size_t i;

	for (i = 0; i < m->ndeps; i++)
		free(m->deps[i]);
	free(m->deps);
	free(m->name);
	free(m->path);
}

static int
load_dep(struct kmod_index *ix)
{
	char path[4096], *line = NULL;
	size_t linecap = 0, cap = 0;
	unsigned lineno = 0;
	FILE *f = open_in(ix->dir, "modules.dep", path, sizeof(path));
	int rc = 0;

	if (f == NULL) {
		rc = -errno;
		warn("%s", path);
		return rc;
	}
	while (rc == 0 && getline(&line, &linecap, f) > 0) {
		lineno++;
		if (line[strspn(line, " \t\n")] == '\0')
			continue;
		rc = grow((void **)&ix->mods, &cap, ix->nmods, sizeof(struct kmod));
		if (rc == 0) {
			rc = parse_dep_line(&ix->mods[ix->nmods], line);
			ix->nmods++;
		}
		if (rc == -EINVAL)
			warnx("%s:%u: not a modules.dep line", path, lineno);
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	free(line);
	fclose(f);
	if (rc == 0)
		qsort(ix->mods, ix->nmods, sizeof(struct kmod), kmod_cmp);
	return rc;
}

/* modules.builtin is optional: without it nothing is built in. */
static int
load_builtin(struct kmod_index *ix)
{
	char path[4096], *line = NULL;
	size_t linecap = 0, cap = 0;
	FILE *f = open_in(ix->dir, "modules.builtin", path, sizeof(path));
	int rc = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && getline(&line, &linecap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		rc = grow((void **)&ix->builtin, &cap, ix->nbuiltin, sizeof(char *));
		if (rc == 0 && (ix->builtin[ix->nbuiltin] = module_name(line)) == NULL)
			rc = -ENOMEM;
		if (rc == 0)
			ix->nbuiltin++;
	}
	free(line);
	fclose(f);
	if (rc == 0)
		qsort(ix->builtin, ix->nbuiltin, sizeof(char *), str_cmp);
	return rc;
}

int
kmod_index_load(struct kmod_index *ix, const char *dir)
{
	int rc;

	memset(ix, 0, sizeof(*ix));
	ix->dir = strdup(dir);
	if (ix->dir == NULL)
		return -ENOMEM;
	rc = load_dep(ix);
	if (rc == 0 && (rc = load_builtin(ix)) != 0)
		warnx("%s/modules.builtin: %s", dir, strerror(-rc));
	if (rc != 0)
		kmod_index_free(ix);
	return rc;
}

void
kmod_index_free(struct kmod_index *ix)
{
	size_t i;

	for (i = 0; i < ix->nmods; i++)
		kmod_free(&ix->mods[i]);
	for (i = 0; i < ix->nbuiltin; i++)
		free(ix->builtin[i]);
	free(ix->mods);
	free(ix->builtin);
	free(ix->order);
	free(ix->dir);
	memset(ix, 0, sizeof(*ix));
}

static struct kmod *
find(const struct kmod_index *ix, const char *name)
{
	struct kmod key = { .name = (char *)name };

	return bsearch(&key, ix->mods, ix->nmods, sizeof(struct kmod), kmod_cmp);
}

bool
kmod_is_builtin(const struct kmod_index *ix, const char *name)
{
	return bsearch(&name, ix->builtin, ix->nbuiltin, sizeof(char *),
	    str_cmp) != NULL;
}

/* Depth first: what m needs goes into the order before m.  modules.dep
 * lists the needed modules last-loaded first, so walk them backwards. */
static int
visit(struct kmod_index *ix, struct kmod *m)
{
	size_t i;
	int rc;

	if (m->mark == MARK_DONE)
		return 0;
	if (m->mark == MARK_ACTIVE) {
		warnx("module %s: dependency loop in %s/modules.dep", m->name, ix->dir);
		return -ELOOP;
	}
	m->mark = MARK_ACTIVE;
	for (i = m->ndeps; i-- > 0;) {
		struct kmod *d = find(ix, m->deps[i]);

		if (d == NULL) {
			if (kmod_is_builtin(ix, m->deps[i]))
				continue;
			warnx("module %s (needed by %s) not found in %s",
			    m->deps[i], m->name, ix->dir);
			return -ENOENT;
		}
		if ((rc = visit(ix, d)) != 0)
			return rc;
	}
	if (grow((void **)&ix->order, &ix->order_cap, ix->norder,
	    sizeof(struct kmod *)) != 0)
		return -ENOMEM;
	ix->order[ix->norder++] = m;
	m->mark = MARK_DONE;
	return 0;
}

int
kmod_require(struct kmod_index *ix, const char *name)
{
	char *norm = module_name(name);
	struct kmod *m;
	int rc;

	if (norm == NULL)
		return -ENOMEM;
	m = find(ix, norm);
	if (m != NULL)
		rc = visit(ix, m);
	else if (kmod_is_builtin(ix, norm))
		rc = KMOD_BUILTIN;
	else {
		warnx("module %s not found in %s (neither in modules.dep nor "
		    "in modules.builtin)", name, ix->dir);
		rc = -ENOENT;
	}
	free(norm);
	return rc;
}
