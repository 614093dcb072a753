/*
 * tap.h: the TAP helpers of the C tests: check() and checkf() print one
 * numbered ok / not ok line, tap_diag() a comment line, tap_done() the
 * plan and the exit status.  One copy per test program (static), so a
 * test includes it from its one source file that prints results.
 */
#ifndef FSB_TESTS_LIB_TAP_H
#define FSB_TESTS_LIB_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_test_no, tap_failures;

static void checkf(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));

static void __attribute__((unused))
check(int ok, const char *what)
{
	tap_test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", tap_test_no, what);
	fflush(stdout);
	if (!ok)
		tap_failures++;
}

/* check() with a printf-style description. */
static void
checkf(int ok, const char *fmt, ...)
{
	va_list ap;

	tap_test_no++;
	printf("%sok %d - ", ok ? "" : "not ", tap_test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		tap_failures++;
}

/* A "# ..." line: what the reader of a failure needs. */
static void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Print the plan (the number of checks run); the exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_test_no);
	return tap_failures != 0;
}

#endif
