/* doctor.h: `launch doctor`, a check of everything a boot needs. */
#ifndef FSB_DOCTOR_H
#define FSB_DOCTOR_H

#include "options.h"

/* One line per check (ok / FAIL: what to do); 0 when all pass, else 1. */
int doctor(const struct launch_opts *o, const char *state);

#endif
