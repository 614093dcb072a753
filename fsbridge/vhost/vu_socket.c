/*
 * vu_socket: the Unix socket side of the transport: creating the listening
 * socket (0600; refusing a live socket, another user's or a file of another
 * type at its path; removing a stale one of ours), reading one message
 * with its SCM_RIGHTS fds, and writing replies.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"

int
vu_wait_readable(int fd, int stop_fd)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents)
			return -ECANCELED;
		if (pfd[0].revents)
			return 0;
	}
}

/* Read exactly len bytes; 0 at EOF before the first byte, -EPIPE after. */
static int
read_full(int fd, int stop_fd, void *buf, size_t len, bool eof_ok)
{
	size_t done = 0;
	ssize_t n;
	int rc;

	while (done < len) {
		rc = vu_wait_readable(fd, stop_fd);
		if (rc < 0)
			return rc;
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return done == 0 && eof_ok ? 0 : -EPIPE;
		done += (size_t)n;
	}
	return 1;
}

/* Collect the SCM_RIGHTS fds of mh; -EPROTO if some did not fit. */
static int
take_fds(struct msghdr *mh, int *fds, int *nfds)
{
	bool lost = (mh->msg_flags & MSG_CTRUNC) != 0;

	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < VU_MSG_MAX_FDS)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				lost = true;
			}
		}
	}
	return lost ? -EPROTO : 0;
}

/* The header and its fds (which arrive with the header's first byte). */
static int
read_header(int conn_fd, int stop_fd, struct vu_msg *msg, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MSG_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &msg->hdr, .iov_len = VU_HDR_SIZE };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int rc;

	*nfds = 0;
	do {
		rc = vu_wait_readable(conn_fd, stop_fd);
		if (rc < 0)
			return rc;
		n = recvmsg(conn_fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && (errno == EINTR || errno == EAGAIN));
	if (n < 0)
		return -errno;
	rc = take_fds(&mh, fds, nfds);
	if (rc < 0)
		return rc;
	if (n == 0)
		return 0;
	if ((size_t)n < VU_HDR_SIZE) {
		rc = read_full(conn_fd, stop_fd, (char *)&msg->hdr + n, VU_HDR_SIZE - n, false);
		if (rc < 0)
			return rc;
	}
	return 1;
}

int
vu_read_msg(int conn_fd, int stop_fd, struct vu_msg *msg, int *fds, int *nfds)
{
	int rc;

	rc = read_header(conn_fd, stop_fd, msg, fds, nfds);
	if (rc > 0 && msg->hdr.size > VU_MSG_MAX_PAYLOAD)
		rc = -EMSGSIZE;
	if (rc > 0 && msg->hdr.size > 0)
		rc = read_full(conn_fd, stop_fd, &msg->payload, msg->hdr.size, false);
	if (rc <= 0)
		vu_close_fds(fds, *nfds);
	if (rc <= 0)
		*nfds = 0;
	return rc;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int
vu_send_reply(struct vu_dev *dev, uint32_t request, const void *payload, uint32_t size)
{
	struct {
		struct vhost_user_hdr hdr;
		uint8_t payload[sizeof(struct vhost_user_vring_addr)];
	} __attribute__((packed)) reply;

	if (dev->conn_fd < 0 || size > sizeof(reply.payload))
		return -EINVAL;
	reply.hdr.request = request;
	reply.hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	reply.hdr.size = size;
	memcpy(reply.payload, payload, size);
	return write_all(dev->conn_fd, &reply, VU_HDR_SIZE + size);
}

/*
 * Whatever is at path already: nothing (0); a stale socket of our own that
 * nobody listens on (removed: 0); or refused and left alone: a live socket
 * (-EADDRINUSE), another user's socket (-EPERM), anything that is not a
 * socket, a symbolic link included (-EEXIST).
 */
static int
clear_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (st.st_uid != geteuid())
		return -EPERM;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS)
		rc = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		rc = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	else
		rc = -errno;
	close(fd);
	return rc;
}

int
vu_listen_unix(const char *path, int *out_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = clear_stale_socket(path, &sa);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The file is born 0600: no moment in which another user could
	 * connect.  (The umask is the process's; no other thread runs yet.) */
	old_mask = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc < 0 || listen(fd, 1) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*out_fd = fd;
	return 0;
}
