/*
 * qemu_argv: the QEMU command line of a launch VM: memfd-backed shared
 * memory (vhost-user needs it), two vhost-user-fs devices (the read-only
 * host root and the read-write project, served by `fsbridge serve` on
 * sockets in the state dir), a virtio-serial port for the agent, the
 * serial console into the state dir, and the kernel command line that
 * makes fsbridge-init mount both shares and run the agent.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/contract/agent_proto.h"
#include "guest-overlay/contract/contract.h"
#include "qemu_argv.h"
#include "state_dir.h"

#define CONSOLE_FDSET 1

static void
add_accel(struct argvec *a, const char *accel)
{
	argvec_add(a, "-accel");
	argvec_add(a, accel);
	argvec_add(a, "-cpu");
	argvec_add(a, strcmp(accel, "kvm") == 0 ? "host" : "max");
}

/* memfd, or (warm) a file in the state dir that a save leaves out of
 * the stream (x-ignore-shared): always share=on, which vhost-user needs
 * (a private mapping would keep the servers from seeing guest writes). */
static void
add_memory(struct argvec *a, const struct vm_config *c)
{
	argvec_add(a, "-m");
	argvec_addf(a, "%u", c->mem_mib);
	argvec_add(a, "-object");
	if (c->warm)
		argvec_addf(a, "memory-backend-file,id=mem,size=%uM,mem-path=%s/%s,share=on",
		    c->mem_mib, c->state, ST_RAM);
	else
		argvec_addf(a, "memory-backend-memfd,id=mem,size=%uM,share=on", c->mem_mib);
	argvec_add(a, "-numa");
	argvec_add(a, "node,memdev=mem");
}

static void
add_share(struct argvec *a, const char *state, const char *id, const char *sock)
{
	argvec_add(a, "-chardev");
	argvec_addf(a, "socket,id=%s,path=%s/%s", id, state, sock);
	argvec_add(a, "-device");
	argvec_addf(a, "vhost-user-fs-pci,chardev=%s,tag=%s", id, id);
}

static void
add_agent_port(struct argvec *a, const char *state)
{
	argvec_add(a, "-device");
	argvec_add(a, "virtio-serial-pci");
	argvec_add(a, "-chardev");
	argvec_addf(a, "socket,id=agent,path=%s/%s,server=on,wait=off", state, ST_AGENT_SOCK);
	argvec_add(a, "-device");
	argvec_add(a, "virtserialport,chardev=agent,name=" AP_PORT_NAME);
}

bool
port_spec_valid(const char *spec)
{
	unsigned host, guest;
	int end = 0;

	return sscanf(spec, "%5u:%5u%n", &host, &guest, &end) == 2 && spec[end] == '\0' &&
	    spec[0] >= '0' && spec[0] <= '9' && host >= 1 && host <= 65535 &&
	    guest >= 1 && guest <= 65535;
}

void
net_text(bool net, bool host, const char *const *ports, int nports, char *out, size_t size)
{
	strlcpy(out, !net ? "off" : host ? "host" : "on", size);
	for (int i = 0; net && i < nports; i++) {
		strlcat(out, " ", size);
		strlcat(out, ports[i], size);
	}
}

static void
add_volumes(struct argvec *a, const struct vm_config *c)
{
	for (int i = 0; i < c->nvols; i++) {
		argvec_add(a, "-drive");
		argvec_addf(a, "file=%s,if=none,id=v%d,format=raw,cache=writeback",
		    c->vols[i].image, i);
		argvec_add(a, "-device");
		argvec_addf(a, "virtio-blk-pci,drive=v%d,serial=%s", i, c->vols[i].name);
	}
}

void
passt_argv(struct argvec *a, const char *sock, bool host, const char *const *ports, int nports)
{
	argvec_add(a, "--foreground");
	argvec_add(a, "--stderr");
	argvec_add(a, "--quiet");
	argvec_add(a, "--ipv4-only");
	/* as the user launch runs as: passt would switch root to nobody,
	 * which cannot bind its socket in the state dir (0700) */
	argvec_add(a, "--runas");
	argvec_addf(a, "%u:%u", (unsigned)getuid(), (unsigned)getgid());
	argvec_add(a, "--socket");
	argvec_add(a, sock);
	argvec_add(a, "--address");
	argvec_add(a, "10.0.2.15");
	argvec_add(a, "--netmask");
	argvec_add(a, "24");
	argvec_add(a, "--gateway");
	argvec_add(a, "10.0.2.2");
	argvec_add(a, "--dns-forward");
	argvec_add(a, "10.0.2.3");
	if (!host)
		argvec_add(a, "--no-map-gw");
	for (int i = 0; i < nports; i++) {
		unsigned hp = 0, gp = 0;

		sscanf(ports[i], "%u:%u", &hp, &gp);
		argvec_add(a, "--tcp-ports");
		argvec_addf(a, "127.0.0.1/%u:%u", hp, gp);
	}
}

/* virtio-net on passt's socket (passt owns forwards and the policy). */
static void
add_net(struct argvec *a, const struct vm_config *c)
{
	if (!c->net)
		return;
	argvec_add(a, "-netdev");
	argvec_addf(a, "stream,id=n0,server=off,addr.type=unix,addr.path=%s/%s",
	    c->state, ST_NET_SOCK);
	argvec_add(a, "-device");
	argvec_add(a, "virtio-net-pci,netdev=n0");
}

/* One vhost-user-fs device per --mount (tag m<i>, socket m<i>.sock). */
static void
add_mounts(struct argvec *a, const struct vm_config *c)
{
	for (int i = 0; i < c->nmounts; i++) {
		char id[16], sock[32];

		snprintf(id, sizeof(id), FSB_TAG_MOUNT_FMT, i);
		snprintf(sock, sizeof(sock), MOUNT_SOCK_FMT, i);
		add_share(a, c->state, id, sock);
	}
}

/* The kernel command line: fsbridge-init mounts every share, then runs
 * the agent.  Warm: no share (the agent mounts them at WAKE), and
 * acpi=noirq: the PCI interrupt links are not evaluated in AML, which
 * under TCG took seconds for each hot-plugged device. */
static void
add_cmdline(struct argvec *a, const struct vm_config *c)
{
	char line[2048] = "console=ttyS0 quiet panic=-1";

	if (c->warm)
		strlcat(line, " acpi=noirq", sizeof(line));
	else
		strlcat(line, " " FSB_CMDLINE_SHARE FSB_TAG_ROOT ":" FSB_GUEST_ROOT_SHARE ":ro"
		    " " FSB_CMDLINE_SHARE FSB_TAG_PROJ ":" FSB_GUEST_PROJ_SHARE ":rw", sizeof(line));
	for (int i = 0; !c->warm && i < c->nmounts; i++) {
		char one[64];

		snprintf(one, sizeof(one), " " FSB_CMDLINE_SHARE FSB_TAG_MOUNT_FMT ":"
		    FSB_GUEST_MOUNT_FMT ":%s", i, i,
		    c->mounts[i].ro ? "ro" : "rw");
		strlcat(line, one, sizeof(line));
	}
	strlcat(line, " " FSB_CMDLINE_RUN FSB_GUEST_AGENT, sizeof(line));
	argvec_add(a, "-append");
	argvec_add(a, line);
}

void
qemu_argv(struct argvec *a, const struct vm_config *c)
{
	argvec_add(a, c->qemu);
	argvec_add(a, "-M");
	argvec_add(a, "pc");
	add_accel(a, c->accel);
	argvec_add(a, "-smp");
	argvec_addf(a, "%u", c->cpus);
	add_memory(a, c);
	if (!c->warm) {
		add_share(a, c->state, FSB_TAG_ROOT, ST_ROOT_SOCK);
		add_share(a, c->state, FSB_TAG_PROJ, ST_PROJ_SOCK);
		add_mounts(a, c);
	}
	add_agent_port(a, c->state);
	if (!c->warm) {
		add_volumes(a, c);
		add_net(a, c);
	}
	argvec_add(a, "-kernel");
	argvec_add(a, c->kernel);
	argvec_add(a, "-initrd");
	argvec_add(a, c->initrd);
	argvec_add(a, "-nodefaults");
	argvec_add(a, "-no-user-config");
	argvec_add(a, "-display");
	argvec_add(a, "none");
	argvec_add(a, "-no-reboot");
	/* the serial console: a socket for launch console, logged through an
	 * inherited pipe (the supervisor's bounded log of it, logsink.c) */
	if (c->console_fd >= 0) {
		argvec_add(a, "-add-fd");
		argvec_addf(a, "fd=%d,set=%d", c->console_fd, CONSOLE_FDSET);
	}
	argvec_add(a, "-chardev");
	if (c->console_fd >= 0)
		argvec_addf(a, "socket,id=console,path=%s/%s,server=on,wait=off,"
		    "logfile=/dev/fdset/%d,logappend=on", c->state, ST_CONSOLE_SOCK, CONSOLE_FDSET);
	else
		argvec_addf(a, "socket,id=console,path=%s/%s,server=on,wait=off", c->state,
		    ST_CONSOLE_SOCK);
	argvec_add(a, "-serial");
	argvec_add(a, "chardev:console");
	if (c->warm) {
		argvec_add(a, "-qmp");
		argvec_addf(a, "unix:%s/%s,server=on,wait=off", c->state, ST_QMP_SOCK);
	}
	add_cmdline(a, c);
	if (c->incoming) {
		argvec_add(a, "-incoming");
		argvec_add(a, "defer");
	}
}
