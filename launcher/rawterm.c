/* rawterm: stdin's terminal in raw mode and back (launch -t, console). */
#include "config.h"

#include <stdbool.h>
#include <termios.h>
#include <unistd.h>

#include "rawterm.h"

static struct termios saved_tio;
static bool raw_mode;

void
rawterm_enter(void)
{
	struct termios t;

	if (raw_mode || tcgetattr(STDIN_FILENO, &saved_tio) != 0)
		return;
	t = saved_tio;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0)
		raw_mode = true;
}

void
rawterm_leave(void)
{
	if (raw_mode)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
	raw_mode = false;
}
