/*
 * peer_probe: a front-end that only asks, for the tests of who may use a
 * server's socket (serve_peer.sh), run as one user or another.
 *
 *   peer_probe ask SOCKET    connect and send GET_FEATURES: exit 0 if it
 *                            was answered, 2 if connect() failed, 3 if
 *                            the server hung up or gave no answer
 *   peer_probe bind SOCKET   leave a socket file nobody listens on at SOCKET
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frontend.h"

static int
ask(const char *path)
{
	struct fe fe;
	uint64_t features;
	int rc;

	rc = fe_init(&fe, 1);
	if (rc < 0) {
		fprintf(stderr, "peer_probe: guest memory: %s\n", strerror(-rc));
		return 1;
	}
	rc = fe_connect(&fe, path);
	if (rc < 0) {
		printf("connect: %s\n", strerror(-rc));
		fe_fini(&fe);
		return 2;
	}
	rc = fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &features);
	fe_fini(&fe);
	if (rc < 0) {
		printf("GET_FEATURES: %s\n", strerror(-rc));
		return 3;
	}
	printf("features 0x%" PRIx64 "\n", features);
	return 0;
}

static int
bind_only(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "peer_probe: bind %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "ask") == 0)
		return ask(argv[2]);
	if (argc == 3 && strcmp(argv[1], "bind") == 0)
		return bind_only(argv[2]);
	fprintf(stderr, "usage: peer_probe ask|bind SOCKET\n");
	return 1;
}
