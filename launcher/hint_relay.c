/*
 * hint_relay: a share's change hints, from its file server to the guest
 * agent.  `fsbridge serve --hints-fd 0` writes, on a pipe, the paths it
 * saw change on the host relative to the share's root (NUL-terminated;
 * "/" when it lost track); a thread per share turns each into an
 * absolute guest path (the share's place in the guest + the path) and
 * sends it to the agent as a HINT frame (an empty one for "/").
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/contract/agent_proto.h"
#include "guest-overlay/contract/contract.h"
#include "hint_relay.h"
#include "relay.h"

struct hint_share {
	int fd;
	char guest[4096];
};

static void
send_hint(const struct hint_share *h, const char *rel)
{
	char path[8192];
	int n;

	if (strcmp(rel, FSB_HINT_LOST) == 0) {
		relay_to_agent(AP_HINT, NULL, 0);
		return;
	}
	n = snprintf(path, sizeof(path), "%s%s%s", h->guest,
	    rel[0] != '\0' && strcmp(h->guest, "/") != 0 ? "/" : "", rel);
	if (n < 0 || (size_t)n >= sizeof(path) || (size_t)n + 1 > AP_MAX_PAYLOAD)
		relay_to_agent(AP_HINT, NULL, 0);
	else
		relay_to_agent(AP_HINT, path, (unsigned)n + 1);
}

static void *
hint_thread(void *arg)
{
	struct hint_share *h = arg;
	static __thread char buf[65536];
	size_t len = 0;
	ssize_t n;

	while ((n = read(h->fd, buf + len, sizeof(buf) - len)) != 0) {
		char *rec, *end;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
		rec = buf;
		while ((end = memchr(rec, '\0', len - (size_t)(rec - buf))) != NULL) {
			send_hint(h, rec);
			rec = end + 1;
		}
		len -= (size_t)(rec - buf);
		memmove(buf, rec, len);
		if (len == sizeof(buf)) {	/* no record is that long */
			relay_to_agent(AP_HINT, NULL, 0);
			len = 0;
		}
	}
	close(h->fd);
	free(h);
	return NULL;
}

int
hint_relay_start(int fd, const char *guest_root)
{
	struct hint_share *h = calloc(1, sizeof(*h));
	pthread_t t;
	int rc;

	if (h == NULL)
		return -ENOMEM;
	h->fd = fd;
	if (strlcpy(h->guest, guest_root, sizeof(h->guest)) >= sizeof(h->guest)) {
		free(h);
		return -ENAMETOOLONG;
	}
	rc = pthread_create(&t, NULL, hint_thread, h);
	if (rc != 0) {
		free(h);
		return -rc;
	}
	pthread_detach(t);
	return 0;
}
