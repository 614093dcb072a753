/*
 * fake_guest: stands in for QEMU (launch --qemu) as a hostile guest that
 * has replaced its agent: it serves the agent socket named in the QEMU
 * argv and answers what $FAKE_GUEST says, so the tests can see what
 * launch makes of frames no honest agent sends.
 *
 *   FAKE_GUEST=boot-error   ERROR on session 0 with $FAKE_GUEST_TEXT
 *                           instead of HELLO
 *
 * else HELLO, and each command (launch -- WORD N) is answered by WORD:
 *
 *   killed N    EXIT killed by signal N
 *   exited N    EXIT with code N
 *   flood N     N ERROR frames of $FAKE_GUEST_TEXT on session 0 (the
 *               supervisor logs them), then EXIT 0
 *   console N   N KiB of text to the serial console's log (descriptor 3,
 *               as QEMU's -add-fd gets it), then EXIT 0
 *
 * It exits on HALT or when the supervisor hangs up.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-overlay/contract/frame_io.h"
#include "launcher/usock.h"

/* The path of the "socket,id=agent,path=P,..." chardev in argv. */
static const char *
agent_path(int argc, char **argv, char *out, size_t size)
{
	for (int i = 1; i < argc; i++) {
		const char *p = strstr(argv[i], "id=agent,path=");

		if (strncmp(argv[i], "socket,", 7) == 0 && p != NULL) {
			snprintf(out, size, "%s", p + strlen("id=agent,path="));
			out[strcspn(out, ",")] = '\0';
			return out;
		}
	}
	return NULL;
}

static void
reply_exit(int fd, uint32_t session, uint32_t how, uint32_t value)
{
	unsigned char ex[8];

	ap_put32(ex, how);
	ap_put32(ex + 4, value);
	frame_write(fd, AP_EXIT, session, ex, sizeof(ex));
}

/* argv[0] and argv[1] (as a number) of an EXEC payload; 0 or -1. */
static int
exec_words(const unsigned char *p, size_t len, char *word, size_t size, unsigned long *n)
{
	const char *s = (const char *)p + AP_EXEC_FIXED, *end = (const char *)p + len;

	if (len <= AP_EXEC_FIXED || ap_get32(p + 20) < 2 || memchr(s, '\0', (size_t)(end - s)) == NULL)
		return -1;
	s += strlen(s) + 1;                     /* the cwd */
	if (s >= end || memchr(s, '\0', (size_t)(end - s)) == NULL)
		return -1;
	snprintf(word, size, "%s", s);
	s += strlen(s) + 1;
	if (s >= end || memchr(s, '\0', (size_t)(end - s)) == NULL)
		return -1;
	*n = strtoul(s, NULL, 10);
	return 0;
}

int
main(int argc, char **argv)
{
	static unsigned char buf[AP_MAX_PAYLOAD];
	const char *mode = getenv("FAKE_GUEST"), *text = getenv("FAKE_GUEST_TEXT");
	char path[4096], how[32];
	unsigned long n;
	struct ap_hdr h;
	int lfd, fd;

	if (agent_path(argc, argv, path, sizeof(path)) == NULL)
		return 2;
	lfd = usock_listen(path);
	fd = lfd < 0 ? -1 : accept(lfd, NULL, NULL);
	if (fd < 0)
		return 1;
	if (text == NULL)
		text = "";
	while (frame_read(fd, &h, buf) == 1) {
		if (h.type == AP_HELLO && mode != NULL && strcmp(mode, "boot-error") == 0) {
			frame_write(fd, AP_ERROR, 0, text, strlen(text));
		} else if (h.type == AP_HELLO) {
			unsigned char v[4];

			ap_put32(v, AP_VERSION);
			frame_write(fd, AP_HELLO, 0, v, sizeof(v));
		} else if (h.type == AP_EXEC && exec_words(buf, h.len, how, sizeof(how), &n) != 0) {
			reply_exit(fd, h.session, AP_EXITED, 99);
		} else if (h.type == AP_EXEC && strcmp(how, "killed") == 0) {
			reply_exit(fd, h.session, AP_KILLED, (uint32_t)n);
		} else if (h.type == AP_EXEC && strcmp(how, "exited") == 0) {
			reply_exit(fd, h.session, AP_EXITED, (uint32_t)n);
		} else if (h.type == AP_EXEC && strcmp(how, "flood") == 0) {
			for (unsigned long i = 0; i < n; i++)
				frame_write(fd, AP_ERROR, 0, text, strlen(text));
			reply_exit(fd, h.session, AP_EXITED, 0);
		} else if (h.type == AP_EXEC && strcmp(how, "console") == 0) {
			char line[1024];

			memset(line, 'x', sizeof(line) - 1);
			line[sizeof(line) - 1] = '\n';
			for (unsigned long i = 0; i < n; i++)
				if (write_all(3, line, sizeof(line)) != 0)
					break;
			reply_exit(fd, h.session, AP_EXITED, 0);
		} else if (h.type == AP_HALT) {
			break;
		}
	}
	return 0;
}
