/* env_secret.h: which host environment variables look like secrets. */
#ifndef FSB_ENV_SECRET_H
#define FSB_ENV_SECRET_H

#include <stdbool.h>

/* Does the variable of this "NAME=VALUE" (or "NAME") entry look like a
 * secret?  Then launch does not carry it into the guest unless it is
 * named with -e NAME or --env-all is given (see launch(1)). */
bool env_secret(const char *entry);

#endif
