/* state_cmd.h: launch save [NAME], launch state ls | rm NAME... */
#ifndef FSB_STATE_CMD_H
#define FSB_STATE_CMD_H

#include "options.h"

/* argv: the words after "save" / "state"; launch's exit status. */
int state_save_cmd(struct launch_opts *o, int argc, char **argv, const char *state);
int state_cmd(int argc, char **argv, const char *state);

#endif
