/* admin.h: launch boot, status, halt [-f], logs, console and vms. */
#ifndef FSB_ADMIN_H
#define FSB_ADMIN_H

#include "options.h"

/* Each returns launch's exit status. */
int admin_boot(const struct launch_opts *o, const char *state);
int admin_status(const struct launch_opts *o, const char *state);
int admin_halt(const struct launch_opts *o, const char *state);
int admin_show(const char *state, const char *file);   /* logs, console */
int admin_vms(void);

#endif
