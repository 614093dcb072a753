/* env_file.h: launch --env-file FILE. */
#ifndef FSB_LAUNCH_ENV_FILE_H
#define FSB_LAUNCH_ENV_FILE_H

#include <stddef.h>

#include "options.h"

/* Appends FILE's NAME=VALUE / NAME lines to o's -e list; 0, or -errno
 * with why in err (bad line, too many, unreadable). */
int env_file_read(const char *path, struct launch_opts *o, char *err, size_t errlen);

#endif
