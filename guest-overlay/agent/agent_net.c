/*
 * agent_net: the guest's network for `launch --net`: lo up, and eth0
 * (virtio-net on passt, present only with --net) at 10.0.2.15/24 with a
 * default route through 10.0.2.2, by ioctl; the guest root's
 * /etc/resolv.conf names passt's DNS forwarder, 10.0.2.3 (the host's
 * may name a resolver on its loopback, which the guest cannot reach).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-overlay/agent/agent.h"

#define NET_ADDR "10.0.2.15"
#define NET_MASK "255.255.255.0"
#define NET_GATEWAY "10.0.2.2"
#define NET_DNS "10.0.2.3"

static void
set_in(struct sockaddr *sa, const char *addr)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;

	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &in->sin_addr);
}

static int
if_up(int s, const char *name)
{
	struct ifreq r;

	memset(&r, 0, sizeof(r));
	strncpy(r.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFFLAGS, &r) != 0)
		return -errno;
	r.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &r) != 0 ? -errno : 0;
}

static int
if_addr(int s, const char *name, unsigned long req, const char *addr)
{
	struct ifreq r;

	memset(&r, 0, sizeof(r));
	strncpy(r.ifr_name, name, IFNAMSIZ - 1);
	set_in(&r.ifr_addr, addr);
	return ioctl(s, req, &r) != 0 ? -errno : 0;
}

static int
default_route(int s)
{
	struct rtentry rt;

	memset(&rt, 0, sizeof(rt));
	set_in(&rt.rt_dst, "0.0.0.0");
	set_in(&rt.rt_genmask, "0.0.0.0");
	set_in(&rt.rt_gateway, NET_GATEWAY);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	return ioctl(s, SIOCADDRT, &rt) != 0 && errno != EEXIST ? -errno : 0;
}

int
agent_net_up(char *err, size_t errlen)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;
	const char *step = "lo";

	if (s < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	rc = if_up(s, "lo");
	if (rc == 0 && if_nametoindex("eth0") == 0) {
		close(s);
		return 0;
	}
	if (rc == 0 && (rc = if_addr(s, "eth0", SIOCSIFADDR, NET_ADDR)) != 0)
		step = "eth0 address";
	if (rc == 0 && (rc = if_addr(s, "eth0", SIOCSIFNETMASK, NET_MASK)) != 0)
		step = "eth0 netmask";
	if (rc == 0 && (rc = if_up(s, "eth0")) != 0)
		step = "eth0 up";
	if (rc == 0 && (rc = default_route(s)) != 0)
		step = "default route";
	close(s);
	if (rc != 0)
		snprintf(err, errlen, "%s: %s", step, strerror(-rc));
	else
		agent_log("eth0 up: " NET_ADDR "/24 via " NET_GATEWAY);
	return rc;
}

int
agent_net_resolv(const char *root)
{
	static const char text[] = "# written by fsbridge-agent: passt's DNS forwarder\n"
	    "nameserver " NET_DNS "\n";
	char path[512];
	int fd, rc = 0;

	if (if_nametoindex("eth0") == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/etc/resolv.conf", root);
	unlink(path);	/* often a symlink into the host's /run */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
		rc = -EIO;
	close(fd);
	return rc;
}
