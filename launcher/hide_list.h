/* hide_list.h: what the guest's read-only host root hides (hide=PATH rules). */
#ifndef FSB_HIDE_LIST_H
#define FSB_HIDE_LIST_H

#include <stddef.h>

#include "options.h"
#include "policy.h"

/*
 * The root share's policy: ro, symlinks=opaque, the default hide list
 * for the host tree `root` (rules only for paths beneath it), then
 * --policy FILE, then --hide/--expose in command-line order.  `state` is
 * this VM's state directory (hidden too).  -errno with a reason in err.
 */
int hide_list_build(const struct launch_opts *o, const char *root, const char *state,
    struct policy *p, char *err, size_t errlen);

/* Print the rules, one "PREFIX/path" line each (launch status, doctor). */
void hide_list_print(const struct policy *p, const char *prefix);

/* The policy in the file syntax, malloc'd (NULL on ENOMEM): what the
 * supervisor writes to the state dir and compares a later launch with. */
char *hide_list_text(const struct policy *p);

/* Read the running VM's root policy from its state dir; -errno. */
int hide_list_read(const char *state, struct policy *p);

#endif
