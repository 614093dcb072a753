/* argvec.h: a growable, NULL-terminated vector of owned strings. */
#ifndef FSB_ARGVEC_H
#define FSB_ARGVEC_H

#include <stddef.h>

struct argvec {
	char **v;
	size_t n, cap;
	int err;  /* first -errno met while adding; later adds are no-ops */
};

void argvec_add(struct argvec *a, const char *s);
void argvec_addf(struct argvec *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void argvec_free(struct argvec *a);

#endif
