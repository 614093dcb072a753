/* console.h: launch console, attached to the guest's serial console. */
#ifndef FSB_LAUNCH_CONSOLE_H
#define FSB_LAUNCH_CONSOLE_H

#include <stdbool.h>

/* Attaches to the running VM's console when stdin is a terminal (or
 * force_attach), else prints the console output; an exit status. */
int console_attach(const char *state, bool force_attach);

#endif
