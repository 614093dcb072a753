/*
 * guest_text: a guest's words (an ERROR frame's text) made safe to print
 * on the user's terminal or in the supervisor's log.  See guest_text.c.
 */
#ifndef FSB_GUEST_TEXT_H
#define FSB_GUEST_TEXT_H

#include <stddef.h>

/* At most this much of a guest's text is shown ... */
#define GUEST_TEXT_MAX 1024
/* ... in a buffer this large (each byte may become a 4-byte escape). */
#define GUEST_TEXT_BUF (4 * GUEST_TEXT_MAX + 1)

/* The first GUEST_TEXT_MAX bytes of text (len bytes, any bytes at all)
 * into out, every byte that is not printable ASCII written as a C-style
 * escape; returns out. */
const char *guest_text(char out[GUEST_TEXT_BUF], const void *text, size_t len);

#endif
