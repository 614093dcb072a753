/* relay: launch clients <-> the guest agent, sessions renumbered here. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-overlay/contract/frame_io.h"
#include "guest_text.h"
#include "relay.h"

struct client {
	int fd;
	uint32_t session;   /* 0 until its EXEC */
	bool ended;         /* EXIT or ERROR went back */
	LIST_ENTRY(client) link;
};

static LIST_HEAD(, client) clients = LIST_HEAD_INITIALIZER(clients);
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;  /* list + client writes */
static pthread_mutex_t agent_lock = PTHREAD_MUTEX_INITIALIZER;    /* agent writes */
static int agent_fd = -1, listen_fd = -1;
static uint32_t next_session = 1;
static atomic_int agent_gone;
static struct {
	void (*fn)(void *);
	void *arg;
} halt_cb;

static int
to_agent(uint8_t type, uint32_t session, const void *p, size_t len)
{
	int rc;

	pthread_mutex_lock(&agent_lock);
	rc = frame_write(agent_fd, type, session, p, len);
	pthread_mutex_unlock(&agent_lock);
	return rc;
}

int
relay_to_agent(int type, const void *payload, unsigned len)
{
	return to_agent((uint8_t)type, 0, payload, len);
}

int
relay_agent_gone(void)
{
	return atomic_load(&agent_gone);
}

static void
client_frame(struct client *c, const struct ap_hdr *h, const unsigned char *buf)
{
	switch (h->type) {
	case AP_EXEC:
		if (c->session != 0)
			break;
		pthread_mutex_lock(&clients_lock);
		c->session = next_session++;
		if (next_session == 0)
			next_session = 1;
		pthread_mutex_unlock(&clients_lock);
		to_agent(AP_EXEC, c->session, buf, h->len);
		break;
	case AP_STDIN:
	case AP_SIGNAL:
	case AP_WINSIZE:
	case AP_ACK:
		if (c->session != 0)
			to_agent(h->type, c->session, buf, h->len);
		break;
	case AP_HALT:
		if (halt_cb.fn != NULL)
			halt_cb.fn(halt_cb.arg);
		break;
	default:
		fprintf(stderr, "supervisor: client sent frame type %u; ignored\n", h->type);
	}
}

static void
client_end(struct client *c)
{
	bool orphaned;
	unsigned char sig[4];

	pthread_mutex_lock(&clients_lock);
	LIST_REMOVE(c, link);
	orphaned = c->session != 0 && !c->ended;
	pthread_mutex_unlock(&clients_lock);
	if (orphaned && !relay_agent_gone()) {
		ap_put32(sig, SIGKILL);
		to_agent(AP_SIGNAL, c->session, sig, sizeof(sig));
	}
	close(c->fd);
	free(c);
}

static void *
client_thread(void *arg)
{
	struct client *c = arg;
	unsigned char *buf = malloc(AP_MAX_PAYLOAD);
	struct ap_hdr h;

	while (buf != NULL && frame_read(c->fd, &h, buf) == 1)
		client_frame(c, &h, buf);
	free(buf);
	client_end(c);
	return NULL;
}

/* Only this user (or root) may run commands in the VM: the state dir
 * is private, and this holds even if it is not. */
static bool
peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	fprintf(stderr, "supervisor: refused a client with uid %u\n", (unsigned)cred.uid);
	return false;
}

static void *
accept_thread(void *arg)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct client *c;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			if (errno == EINVAL)
				return NULL;    /* shut down: the supervisor is stopping */
			fprintf(stderr, "supervisor: accept: %s\n", strerror(errno));
			return NULL;
		}
		if (!peer_allowed(fd)) {
			close(fd);
			continue;
		}
		c = relay_agent_gone() ? NULL : calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		pthread_mutex_lock(&clients_lock);
		LIST_INSERT_HEAD(&clients, c, link);
		pthread_mutex_unlock(&clients_lock);
		if (pthread_create(&t, NULL, client_thread, c) != 0) {
			client_end(c);
			continue;
		}
		pthread_detach(t);
	}
}

/* One agent frame to the client owning its session. */
static void
agent_frame(const struct ap_hdr *h, const unsigned char *buf)
{
	struct client *c;

	if (h->session == 0) {
		if (h->type == AP_ERROR) {
			/* the guest's words, made printable for the log */
			static char text[GUEST_TEXT_BUF];

			fprintf(stderr, "supervisor: agent: %s\n", guest_text(text, buf, h->len));
		}
		return;
	}
	pthread_mutex_lock(&clients_lock);
	LIST_FOREACH(c, &clients, link) {
		if (c->session != h->session)
			continue;
		if (h->type == AP_EXIT || h->type == AP_ERROR)
			c->ended = true;
		frame_write(c->fd, h->type, 0, buf, h->len);
		break;
	}
	pthread_mutex_unlock(&clients_lock);
}

static void *
agent_thread(void *arg)
{
	unsigned char *buf = malloc(AP_MAX_PAYLOAD);
	struct ap_hdr h;
	struct client *c;
	int rc = -ENOMEM;

	while (buf != NULL && (rc = frame_read(agent_fd, &h, buf)) == 1)
		agent_frame(&h, buf);
	fprintf(stderr, "supervisor: agent connection closed (%s)\n",
	    rc == 0 ? "end of stream" : strerror(-rc));
	free(buf);
	atomic_store(&agent_gone, 1);
	pthread_mutex_lock(&clients_lock);
	LIST_FOREACH(c, &clients, link)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&clients_lock);
	return NULL;
}

int
relay_start(int afd, int lfd, void (*on_halt)(void *), void *arg)
{
	pthread_t t;
	int rc;

	agent_fd = afd;
	listen_fd = lfd;
	halt_cb.fn = on_halt;
	halt_cb.arg = arg;
	rc = pthread_create(&t, NULL, agent_thread, NULL);
	if (rc != 0)
		return -rc;
	pthread_detach(t);
	rc = pthread_create(&t, NULL, accept_thread, NULL);
	if (rc != 0)
		return -rc;
	pthread_detach(t);
	return 0;
}
