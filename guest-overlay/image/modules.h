/*
 * modules: a kernel's module index (/lib/modules/VERSION/modules.dep and
 * modules.builtin) and the closure of a set of modules in load order.
 * Soft dependencies (modules.softdep) are not followed: name them too.
 * Functions return 0 or -errno and print what went wrong.
 */
#ifndef GUEST_OVERLAY_MODULES_H
#define GUEST_OVERLAY_MODULES_H

#include <stdbool.h>
#include <stddef.h>

struct kmod {
	char *name;    /* "virtio_pci": '-' written as '_' */
	char *path;    /* as in modules.dep, relative to the index dir */
	char **deps;   /* names of the modules it needs */
	size_t ndeps;
	int mark;      /* resolution state */
};

struct kmod_index {
	char *dir;             /* /lib/modules/VERSION */
	struct kmod *mods;     /* sorted by name */
	size_t nmods;
	char **builtin;        /* sorted names of built-in modules */
	size_t nbuiltin;
	struct kmod **order;   /* modules required so far, in load order */
	size_t norder;
	size_t order_cap;
};

/* Reads dir/modules.dep (required) and dir/modules.builtin (optional). */
int kmod_index_load(struct kmod_index *ix, const char *dir);
void kmod_index_free(struct kmod_index *ix);
bool kmod_is_builtin(const struct kmod_index *ix, const char *name);
/* Appends name and everything it needs, not yet in ix->order, to
 * ix->order in load order.  Returns KMOD_BUILTIN and adds nothing for a
 * built-in module; -ENOENT (printed) for a module the kernel lacks. */
#define KMOD_BUILTIN 1
int kmod_require(struct kmod_index *ix, const char *name);

#endif
