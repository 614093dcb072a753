/*
 * tap.h: the TAP helpers of the small C unit tests (request_check_test,
 * killpriv_test, guest_text_test): check() prints one numbered ok / not
 * ok line, tap_done() the plan and the exit status.  One copy per test
 * program (static), so it is included by the test's one source file.
 */
#ifndef FSB_TESTS_UNIT_TAP_H
#define FSB_TESTS_UNIT_TAP_H

#include <stdio.h>

static int tap_test_no, tap_failures;

static void
check(int ok, const char *what)
{
	tap_test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", tap_test_no, what);
	if (!ok)
		tap_failures++;
}

/* Print the plan (the number of checks run); the exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_test_no);
	return tap_failures != 0;
}

#endif
