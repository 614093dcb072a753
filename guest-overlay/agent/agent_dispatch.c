/*
 * agent_dispatch: what the agent does with each frame from the host.
 * Session 0: HELLO (assemble the guest root once, answer with our
 * version), HALT (stop every command, sync, return to init, which powers
 * off), HINT (agent_hints.c), PING (answered: the agent is up), WAKE
 * (agent_wake.c: clock, RNG, hot-plugged shares).  A command's session: EXEC (start it, or
 * with AP_EXEC_PS send the process table), STDIN, ACK, WINSIZE, SIGNAL
 * (agent_session.c).
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"
#include "guest-overlay/agent/agent_session.h"
#include "guest-overlay/agent/agent_spawn.h"
#include "guest-overlay/contract/agent_proto.h"

static bool root_ready;

bool
agent_root_ready(void)
{
	return root_ready;
}

/* launch ps: the table in STDOUT frames (acknowledgements of them find
 * no session and are dropped), then EXIT 0. */
static void
send_ps(uint32_t id)
{
	unsigned char exit_frame[8];
	size_t len = 0;
	char *text = agent_ps_text(&len);

	if (text == NULL) {
		agent_send_error(id, "ps: out of memory");
		return;
	}
	for (size_t off = 0; off < len; off += AP_DATA_CHUNK)
		agent_send(AP_STDOUT, id, text + off,
		    len - off < AP_DATA_CHUNK ? len - off : AP_DATA_CHUNK);
	free(text);
	ap_put32(exit_frame, AP_EXITED);
	ap_put32(exit_frame + 4, 0);
	agent_send(AP_EXIT, id, exit_frame, sizeof(exit_frame));
}

static void
handle_exec(uint32_t id, unsigned char *payload, size_t len)
{
	struct exec_req r;

	/* what the host changed before this command is seen by it */
	agent_hints_flush();
	if (!root_ready) {
		agent_send_error(id, "the guest root is not ready");
		return;
	}
	if (exec_parse(payload, len, &r) != 0) {
		agent_send_error(id, "malformed EXEC request");
		return;
	}
	if (r.flags & AP_EXEC_PS)
		send_ps(id);
	else
		session_start(id, &r);
	exec_free(&r);
}

static void
handle_hello(const unsigned char *payload, size_t len)
{
	unsigned char reply[4];
	char err[512];
	const char *project;
	size_t plen;
	int rc;

	if (len < 5 || payload[len - 1] != '\0') {
		agent_send_error(0, "malformed HELLO");
		return;
	}
	project = (const char *)payload + 4;
	plen = strlen(project) + 1;
	if (!root_ready) {
		if (agent_net_up(err, sizeof(err)) != 0)
			agent_log("network: %s", err);
		if (agent_root_assemble(project, project + plen, len - 4 - plen,
		    err, sizeof(err)) != 0) {
			agent_log("cannot assemble the root: %s", err);
			agent_send_error(0, "guest root: %s", err);
			return;
		}
		root_ready = true;
		agent_log("root assembled, project %s", project);
		if ((rc = agent_net_resolv("")) != 0)	/* in the new root now */
			agent_log("network: /etc/resolv.conf: %s", strerror(-rc));
	}
	ap_put32(reply, AP_VERSION);
	agent_send(AP_HELLO, 0, reply, sizeof(reply));
}

static void __attribute__((noreturn))
halt_guest(void)
{
	sessions_kill_all();
	sync();
	agent_log("halt requested");
	exit(0);
}

void
agent_dispatch(const struct ap_hdr *h, unsigned char *payload)
{
	struct session *s = h->session ? session_find(h->session) : NULL;

	switch (h->type) {
	case AP_HELLO:
		handle_hello(payload, h->len);
		break;
	case AP_HALT:
		halt_guest();
	case AP_EXEC:
		if (h->session != 0)
			handle_exec(h->session, payload, h->len);
		break;
	case AP_STDIN:
		if (s != NULL)
			session_stdin(s, payload, h->len);
		break;
	case AP_ACK:
		if (s != NULL)
			session_acked(s, payload, h->len);
		break;
	case AP_WINSIZE:
		if (s != NULL)
			session_winsize(s, payload, h->len);
		break;
	case AP_HINT:
		if (root_ready)
			agent_hint(payload, h->len);
		break;
	case AP_PING:
		if (h->session == 0)
			agent_send(AP_PING, 0, NULL, 0);
		break;
	case AP_WAKE:
		if (h->session == 0 && !root_ready)
			agent_wake(payload, h->len);
		break;
	case AP_SIGNAL:
		if (s != NULL && h->len == 4)
			session_signal(s, (int)ap_get32(payload));
		break;
	default:
		agent_log("ignoring frame type %u", h->type);
	}
}

