/*
 * warm_plug: the per-launch devices of a VM that started warm (launch(1),
 * Warm start), hot-plugged over QMP before it runs again: the network
 * (virtio-net on passt's socket), the volumes (virtio-blk, serial = the
 * volume's name) and the shares (vhost-user-fs: the root, the project,
 * each --mount).  The saved machine has none of them, so nothing of them
 * is ever in a saved state.
 *
 * Where they go: a device plugged in slot 7 (the fifth share, after
 * virtio-serial in slot 2) was never bound; most likely because the
 * guest runs with acpi=noirq and so routes INTx through SeaBIOS's $PIR
 * table, which lists slots 1 to 6 only (inferred, not traced in the
 * guest).  So the devices are packed as functions of slots 3 to 6, eight
 * to a slot, function 0 plugged last: its ACPI notification makes the
 * guest scan the whole slot and bind its functions in order.  The
 * network and the volumes come first, in slot 3 with at least one share
 * after them: the agent's WAKE waits until every share is bound, and by
 * then the guest has bound the functions before them too (eth0 and the
 * volumes' disks exist before HELLO brings up the network and mounts).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guest-overlay/contract/contract.h"
#include "qmp.h"
#include "state_dir.h"
#include "supervisor_parts.h"

#define QMP_SECONDS 30
#define PLUG_FIRST_SLOT 3
#define PLUG_LAST_SLOT 6
#define PLUG_FUNCS 8

/* Device d of the plug order: the network, the volumes, the shares. */
enum kind { K_NET, K_VOL, K_SHARE };

static enum kind
kind_of(const struct sup *sv, int d, int *i)
{
	int net = sv->p->net ? 1 : 0;

	if (d < net) {
		*i = 0;
		return K_NET;
	}
	if (d < net + sv->p->nvols) {
		*i = d - net;
		return K_VOL;
	}
	*i = d - net - sv->p->nvols;
	return K_SHARE;
}

static int
ndevices(const struct sup *sv)
{
	return (sv->p->net ? 1 : 0) + sv->p->nvols + 2 + sv->p->nmounts;
}

bool
sup_warm_plug_fits(const struct sup *sv)
{
	/* slot 3 must hold a share after the network and volumes */
	return (sv->p->net ? 1 : 0) + sv->p->nvols < PLUG_FUNCS &&
	    ndevices(sv) <= (PLUG_LAST_SLOT - PLUG_FIRST_SLOT + 1) * PLUG_FUNCS;
}

/* The "addr" (and "multifunction") members of device d's device_add. */
static void
address(int d, bool multi, char *out, size_t size)
{
	snprintf(out, size, "\"addr\":\"%d.%d\"%s", PLUG_FIRST_SLOT + d / PLUG_FUNCS,
	    d % PLUG_FUNCS, multi ? ",\"multifunction\":\"on\"" : "");
}

/* Share i (0 root, 1 project, 2.. the --mounts): its socket as a chardev,
 * then the vhost-user-fs device. */
static int
plug_share(struct sup *sv, struct qmp *q, int i, const char *addr, char *reply, size_t size)
{
	char tag[16], name[32], sock[4200], esc[8500];
	int m = i - 2, rc;

	snprintf(tag, sizeof(tag), m == -2 ? FSB_TAG_ROOT : m == -1 ? FSB_TAG_PROJ :
	    FSB_TAG_MOUNT_FMT, m);
	snprintf(name, sizeof(name), m == -2 ? ST_ROOT_SOCK : m == -1 ? ST_PROJ_SOCK :
	    MOUNT_SOCK_FMT, m);
	state_path(sock, sizeof(sock), sv->p->state, name);
	rc = qmp_escape(esc, sizeof(esc), sock);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, size,
		    "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"%s\",\"backend\":"
		    "{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":"
		    "{\"path\":\"%s\"}},\"server\":false}}}}", tag, esc);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, size,
		    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-user-fs-pci\","
		    "\"id\":\"fs-%s\",\"chardev\":\"%s\",\"tag\":\"%s\",%s}}", tag, tag, tag, addr);
	return rc;
}

/* Volume i: its image as a raw block node (what the booted machine's
 * -drive format=raw,cache=writeback is), then virtio-blk with its name
 * as the serial (the agent finds the disk by it). */
static int
plug_volume(struct sup *sv, struct qmp *q, int i, const char *addr, char *reply, size_t size)
{
	char esc[8500], serial[2 * sizeof(sv->p->vols[i].name)];
	int rc = qmp_escape(esc, sizeof(esc), sv->p->vols[i].image);

	if (rc == 0)
		rc = qmp_escape(serial, sizeof(serial), sv->p->vols[i].name);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, size,
		    "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\","
		    "\"node-name\":\"v%d\",\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}}",
		    i, esc);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, size,
		    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
		    "\"id\":\"blk-v%d\",\"drive\":\"v%d\",\"serial\":\"%s\",%s}}", i, i, serial, addr);
	return rc;
}

/* The network: a stream netdev on passt's socket, then virtio-net. */
static int
plug_net(struct sup *sv, struct qmp *q, const char *addr, char *reply, size_t size)
{
	char sock[4200], esc[8500];
	int rc;

	state_path(sock, sizeof(sock), sv->p->state, ST_NET_SOCK);
	rc = qmp_escape(esc, sizeof(esc), sock);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, size,
		    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"stream\",\"id\":\"n0\","
		    "\"server\":false,\"addr\":{\"type\":\"unix\",\"path\":\"%s\"}}}", esc);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, size,
		    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\","
		    "\"id\":\"net0\",\"netdev\":\"n0\",%s}}", addr);
	return rc;
}

int
sup_warm_plug(struct sup *sv, struct qmp *q, char *why, size_t size)
{
	char reply[1024], addr[64];
	int n = ndevices(sv), rc = 0;

	if (!sup_warm_plug_fits(sv)) {
		snprintf(why, size, "hot-plug: too many devices (%d)", n);
		return -E2BIG;
	}
	for (int first = 0; rc == 0 && first < n; first += PLUG_FUNCS) {
		int last = first + PLUG_FUNCS < n ? first + PLUG_FUNCS - 1 : n - 1;

		for (int d = last; rc == 0 && d >= first; d--) {
			int i;

			address(d, d == first && last > first, addr, sizeof(addr));
			switch (kind_of(sv, d, &i)) {
			case K_NET:
				rc = plug_net(sv, q, addr, reply, sizeof(reply));
				break;
			case K_VOL:
				rc = plug_volume(sv, q, i, addr, reply, sizeof(reply));
				break;
			case K_SHARE:
				rc = plug_share(sv, q, i, addr, reply, sizeof(reply));
				break;
			}
		}
	}
	if (rc != 0)
		snprintf(why, size, "hot-plug: %.300s", rc == -EIO ? reply : strerror(-rc));
	return rc;
}
