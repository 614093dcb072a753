/*
 * guest_text_test: attacks on the way a guest's ERROR text reaches the
 * user's terminal and the supervisor's log (launcher/guest_text.c): CSI
 * and OSC escape sequences, a carriage return hiding what came before,
 * bell, NUL, DEL and high-bit bytes, an overlong text.  Nothing but
 * printable ASCII may come out.  TAP.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "guest_text.h"
#include "tests/lib/tap.h"


/* Only printable ASCII (0x20..0x7e) in s. */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
attack(const char *what, const char *text, size_t len)
{
	char out[GUEST_TEXT_BUF];

	check(printable(guest_text(out, text, len)), what);
}

int
main(void)
{
	static char big[3 * GUEST_TEXT_MAX];
	char out[GUEST_TEXT_BUF];
	static const char nul[] = "mount failed\0\x1b[2J";

	check(strcmp(guest_text(out, "mount /mnt: ENOENT", 18), "mount /mnt: ENOENT") == 0,
	    "plain text is shown as it is");
	attack("CSI: clear screen, cursor home", "\x1b[2J\x1b[H", 7);
	attack("OSC: window title", "\x1b]0;pwned\x07", 10);
	attack("OSC 52: write the clipboard", "\x1b]52;c;cm0gLXJmIH4K\x1b\\", 21);
	attack("a carriage return hiding the start of the line", "evil\rfine", 9);
	attack("bell, backspace, DEL", "\a\b\x7f", 3);
	attack("8-bit C1 CSI and other high-bit bytes", "\x9b" "2J \xc3\xa9\xff", 7);
	attack("a newline and a tab (one line in the log)", "a\nb\tc", 5);
	guest_text(out, nul, sizeof(nul) - 1);
	check(printable(out) && strstr(out, "2J") != NULL,
	    "a NUL does not cut the text short: what follows is shown, escaped");
	memset(big, 'x', sizeof(big));
	big[GUEST_TEXT_MAX] = '\x1b';
	guest_text(out, big, sizeof(big));
	check(strlen(out) == GUEST_TEXT_MAX && printable(out),
	    "an overlong text is cut at GUEST_TEXT_MAX bytes");
	memset(big, '\x1b', sizeof(big));
	guest_text(out, big, sizeof(big));
	check(strlen(out) < GUEST_TEXT_BUF && printable(out),
	    "a text of escapes only fits the buffer, escaped");
	return tap_done();
}
