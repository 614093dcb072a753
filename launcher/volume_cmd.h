/* volume_cmd.h: `launch volume ls | create | rm | export | import`. */
#ifndef FSB_VOLUME_CMD_H
#define FSB_VOLUME_CMD_H

/* argv: the words after "volume"; launch's exit status. */
int volume_cmd(int argc, char **argv);

#endif
