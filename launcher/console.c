/*
 * console: `launch console`, the guest's serial console.
 *
 * QEMU serves the serial port on console.sock in the state dir (and logs
 * everything it prints to the console file).  Attaching connects to that
 * socket and relays the terminal both ways, raw, until Ctrl-] (or, without
 * a terminal, until stdin ends and the console has been quiet for 3
 * seconds).  The guest agent starts a shell there at the first input.
 * One client at a time: console.lock is held while attached.  Without a
 * running VM, or when stdin is not a terminal and --attach was not given,
 * it prints what the console has shown since the VM booted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "admin.h"
#include "console.h"
#include "guest-overlay/contract/fdio.h"
#include "rawterm.h"
#include "state_dir.h"
#include "usock.h"
#include "vm.h"

#define CONSOLE_DETACH_KEY 0x1d   /* Ctrl-] */
#define CONSOLE_QUIET_MS 3000     /* without a terminal: idle time after EOF
                                   * (the guest may be starting its shell) */

/* stdin to the console; false at the end (EOF, error or detach key). */
static bool
from_stdin(int sock, bool tty)
{
	char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	char *key;

	if (n <= 0)
		return false;
	key = tty ? memchr(buf, CONSOLE_DETACH_KEY, (size_t)n) : NULL;
	if (key != NULL)
		n = key - buf;
	if (n > 0 && write_all(sock, buf, (size_t)n) != 0)
		return false;
	return key == NULL;
}

/* Relays until detached; 0, or 1 when the VM went away. */
static int
relay(int sock, bool tty)
{
	struct pollfd pfd[2] = {
		{ .fd = sock, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	bool input_open = true;

	for (;;) {
		char buf[4096];
		ssize_t n;
		int ready = poll(pfd, input_open ? 2 : 1, input_open ? -1 : CONSOLE_QUIET_MS);

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return 1;
		if (ready == 0)
			return 0;       /* quiet since stdin ended */
		if (pfd[0].revents != 0) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return 1;
			if (write_all(STDOUT_FILENO, buf, (size_t)n) != 0)
				return 0;
		}
		if (input_open && pfd[1].revents != 0 && !from_stdin(sock, tty)) {
			if (tty)
				return 0;
			input_open = false;
		}
	}
}

/* Holds console.lock; -1 (with a message) when someone else is attached. */
static int
take_lock(const char *state)
{
	char path[4096];
	int fd;

	state_path(path, sizeof(path), state, ST_CONSOLE_LOCK);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "launch: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "launch: another 'launch console' is attached to this VM\n");
		close(fd);
		return -1;
	}
	return fd;
}

int
console_attach(const char *state, bool force_attach)
{
	char path[4096];
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	int sock, lock, rc;

	if (vm_running(state) < 0 || (!tty && !force_attach))
		return admin_show(state, ST_CONSOLE);
	lock = take_lock(state);
	if (lock < 0)
		return 1;
	state_path(path, sizeof(path), state, ST_CONSOLE_SOCK);
	sock = usock_connect(path);
	if (sock < 0) {
		fprintf(stderr, "launch: %s: %s (is the VM still booting?)\n", path,
		    strerror(-sock));
		close(lock);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (tty) {
		fprintf(stderr, "Connected to the guest's console; Ctrl-] detaches.\r\n");
		rawterm_enter();
	}
	rc = relay(sock, tty);
	rawterm_leave();
	if (tty)
		fprintf(stderr, "\nDetached from the guest's console.\n");
	if (rc != 0)
		fprintf(stderr, "launch: the VM went away\n");
	close(sock);
	close(lock);
	return rc;
}
