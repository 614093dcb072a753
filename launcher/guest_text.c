/*
 * guest_text: owns how a guest's own text reaches a human.  Once a guest
 * has replaced its agent it can send any frame, and an ERROR frame's
 * text is printed on the user's terminal (launch) or written to the
 * supervisor's log: escape sequences there could rewrite the screen, set
 * the window title, hide lines behind a carriage return or, with some
 * terminals, reach the clipboard.  So every byte that is not printable
 * ASCII -- control characters, DEL, bytes with the high bit, newlines
 * and tabs too -- is written as a C-style escape (strnvisx), and at most
 * GUEST_TEXT_MAX bytes are shown.
 */
#include "config.h"

#define LIBBSD_OPENBSD_VIS 1
#include <vis.h>

#include "guest_text.h"

const char *
guest_text(char out[GUEST_TEXT_BUF], const void *text, size_t len)
{
	if (len > GUEST_TEXT_MAX)
		len = GUEST_TEXT_MAX;
	if (strnvisx(out, GUEST_TEXT_BUF, text, len,
	    VIS_CSTYLE | VIS_NL | VIS_TAB | VIS_OCTAL) < 0)
		out[0] = '\0';
	return out;
}
