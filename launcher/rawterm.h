/* rawterm.h: stdin's terminal in raw mode (keys pass as typed) and back. */
#ifndef FSB_LAUNCH_RAWTERM_H
#define FSB_LAUNCH_RAWTERM_H

/* Raw mode on stdin's terminal (nothing if it is none); idempotent. */
void rawterm_enter(void);
/* The mode stdin had before rawterm_enter, if it changed it. */
void rawterm_leave(void);

#endif
