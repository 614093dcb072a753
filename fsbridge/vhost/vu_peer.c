/*
 * vu_peer: who may be the device's front-end.  The front-end hands us its
 * memory and we read and write the share on its behalf with our own
 * rights, so it must be us: a connecting peer is let in only if its
 * SO_PEERCRED uid is the server's own, root's, or one allowed with
 * vu_dev_allow_uids(); anyone else is logged and hung up on.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"

int
vu_dev_allow_uids(struct vu_dev *dev, const uid_t *uids, size_t n)
{
	uid_t *copy;

	if (n == 0)
		return 0;
	copy = reallocarray(dev->allow_uids, dev->nallow + n, sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy + dev->nallow, uids, n * sizeof(*copy));
	dev->allow_uids = copy;
	dev->nallow += n;
	/* Others must be able to connect(2) to be checked at all: the file
	 * mode opens, the uid check below stays the gate. */
	if (dev->socket_path != NULL && chmod(dev->socket_path, 0666) < 0)
		return -errno;
	return 0;
}

static bool
uid_allowed(const struct vu_dev *dev, uid_t uid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < dev->nallow; i++)
		if (dev->allow_uids[i] == uid)
			return true;
	return false;
}

bool
vu_peer_allowed(struct vu_dev *dev, int conn_fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(conn_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		vu_log("refused a front-end: its credentials are unknown (%s)",
		       len != sizeof(cred) ? "short answer" : strerror(errno));
		return false;
	}
	if (uid_allowed(dev, cred.uid))
		return true;
	vu_log("refused a front-end: uid %u (pid %d) is not this server's user "
	       "(--allow-uid lets another user in)", (unsigned)cred.uid, (int)cred.pid);
	return false;
}
