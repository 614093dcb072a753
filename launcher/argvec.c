/* argvec: a growable, NULL-terminated vector of owned strings (argv). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argvec.h"

static void
argvec_take(struct argvec *a, char *s)
{
	if (a->err == 0 && s == NULL)
		a->err = -ENOMEM;
	if (a->err != 0) {
		free(s);
		return;
	}
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		char **v = reallocarray(a->v, cap, sizeof(*v));

		if (v == NULL) {
			a->err = -ENOMEM;
			free(s);
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void
argvec_add(struct argvec *a, const char *s)
{
	argvec_take(a, strdup(s));
}

void
argvec_addf(struct argvec *a, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	argvec_take(a, s);
}

void
argvec_free(struct argvec *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	*a = (struct argvec){ 0 };
}
