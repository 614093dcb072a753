/*
 * frontend: the tests' stand-in for QEMU (see frontend.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

#define RING_BASE	0x10000ull
#define RING_STRIDE	0x4000ull
#define DATA_BASE	0x100000ull

void *
fe_gpa(struct fe *fe, uint64_t gpa)
{
	if (gpa < FE_REGION)
		return fe->ram + gpa;
	if (gpa >= FE_R1_GPA && gpa - FE_R1_GPA < FE_REGION)
		return fe->ram + FE_REGION + (gpa - FE_R1_GPA);
	return NULL;
}

static uint64_t
uaddr_of(struct fe *fe, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)fe_gpa(fe, gpa);
}

int
fe_init(struct fe *fe, unsigned nqueues)
{
	memset(fe, 0, sizeof(*fe));
	fe->sock = -1;
	fe->nqueues = nqueues;
	fe->memfd = memfd_create("fe-guest-ram", MFD_CLOEXEC);
	if (fe->memfd < 0)
		return -errno;
	if (ftruncate(fe->memfd, 2 * FE_REGION) < 0)
		return -errno;
	fe->ram = mmap(NULL, 2 * FE_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, 0);
	if (fe->ram == MAP_FAILED)
		return -errno;
	for (unsigned i = 0; i < FE_MAX_QUEUES; i++)
		fe->q[i].kick_fd = fe->q[i].call_fd = -1;
	for (unsigned i = 0; i < nqueues; i++) {
		struct fe_queue *q = &fe->q[i];

		q->desc_gpa = RING_BASE + i * RING_STRIDE;
		q->avail_gpa = q->desc_gpa + 0x1000;
		q->used_gpa = q->desc_gpa + 0x2000;
		q->desc = fe_gpa(fe, q->desc_gpa);
		q->avail = fe_gpa(fe, q->avail_gpa);
		q->used = fe_gpa(fe, q->used_gpa);
	}
	fe_reset_alloc(fe);
	return 0;
}

void
fe_fini(struct fe *fe)
{
	fe_disconnect(fe);
	munmap(fe->ram, 2 * FE_REGION);
	close(fe->memfd);
}

int
fe_connect(struct fe *fe, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fe->sock < 0)
		return -errno;
	if (connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fe->sock);
		fe->sock = -1;
		return rc;
	}
	return 0;
}

void
fe_disconnect(struct fe *fe)
{
	if (fe->sock >= 0)
		close(fe->sock);
	fe->sock = -1;
	for (unsigned i = 0; i < FE_MAX_QUEUES; i++) {
		if (fe->q[i].kick_fd >= 0)
			close(fe->q[i].kick_fd);
		if (fe->q[i].call_fd >= 0)
			close(fe->q[i].call_fd);
		fe->q[i].kick_fd = fe->q[i].call_fd = -1;
	}
}

int
fe_send(struct fe *fe, uint32_t request, uint32_t flags, const void *payload,
	uint32_t size, const int *fds, int nfds)
{
	struct vhost_user_hdr h = { .request = request, .flags = flags, .size = size };
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = payload != NULL ? size : 0 },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	struct cmsghdr *c;

	if (nfds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fe->sock, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static int
read_exact(int fd, void *buf, size_t len, int ms)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		done += (size_t)n;
	}
	return 0;
}

int
fe_recv_reply(struct fe *fe, uint32_t request, void *payload, uint32_t size)
{
	struct vhost_user_hdr h;
	int rc;

	rc = read_exact(fe->sock, &h, sizeof(h), 2000);
	if (rc < 0)
		return rc;
	if (h.request != request || h.flags != (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK) ||
	    h.size != size)
		return -EPROTO;
	return read_exact(fe->sock, payload, size, 2000);
}

int
fe_get_u64(struct fe *fe, uint32_t request, uint64_t *v)
{
	int rc = fe_send(fe, request, VHOST_USER_VERSION, NULL, 0, NULL, 0);

	return rc < 0 ? rc : fe_recv_reply(fe, request, v, sizeof(*v));
}

/* Ask for an ack when REPLY_ACK is on, and check it. */
static int
send_acked(struct fe *fe, uint32_t request, const void *payload, uint32_t size,
	   const int *fds, int nfds)
{
	bool ack = fe->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	uint64_t status;
	int rc;

	rc = fe_send(fe, request, VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY_MASK : 0),
		     payload, size, fds, nfds);
	if (rc < 0 || !ack)
		return rc;
	rc = fe_recv_reply(fe, request, &status, sizeof(status));
	if (rc < 0)
		return rc;
	return status == 0 ? 0 : -EIO;
}

int
fe_set_u64(struct fe *fe, uint32_t request, uint64_t v)
{
	return send_acked(fe, request, &v, sizeof(v), NULL, 0);
}

int
fe_set_state(struct fe *fe, uint32_t request, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state st = { .index = index, .num = num };

	return send_acked(fe, request, &st, sizeof(st), NULL, 0);
}

bool
fe_wait_eof(struct fe *fe, int ms)
{
	char buf[256];

	for (;;) {
		struct pollfd p = { .fd = fe->sock, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return false;
		n = read(fe->sock, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
	}
}

void
fe_mem_table(struct fe *fe, struct vhost_user_memory *m, uint32_t *size)
{
	memset(m, 0, sizeof(*m));
	m->nregions = 2;
	m->regions[0] = (struct vhost_user_memory_region){
		.guest_phys_addr = 0, .memory_size = FE_REGION,
		.userspace_addr = uaddr_of(fe, 0), .mmap_offset = 0,
	};
	m->regions[1] = (struct vhost_user_memory_region){
		.guest_phys_addr = FE_R1_GPA, .memory_size = FE_REGION,
		.userspace_addr = uaddr_of(fe, FE_R1_GPA), .mmap_offset = FE_REGION,
	};
	*size = 8 + 2 * sizeof(struct vhost_user_memory_region);
}

int
fe_setup_queue(struct fe *fe, unsigned qi, uint16_t base)
{
	struct fe_queue *q = &fe->q[qi];
	struct vhost_user_vring_addr a = {
		.index = qi,
		.desc_user_addr = uaddr_of(fe, q->desc_gpa),
		.used_user_addr = uaddr_of(fe, q->used_gpa),
		.avail_user_addr = uaddr_of(fe, q->avail_gpa),
	};
	uint64_t v;
	int rc;

	if (q->kick_fd < 0)
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->call_fd < 0)
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((rc = fe_set_state(fe, VHOST_USER_SET_VRING_NUM, qi, FE_QSIZE)) < 0 ||
	    (rc = fe_set_state(fe, VHOST_USER_SET_VRING_BASE, qi, base)) < 0 ||
	    (rc = send_acked(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0)) < 0)
		return rc;
	v = qi;
	if ((rc = send_acked(fe, VHOST_USER_SET_VRING_KICK, &v, 8, &q->kick_fd, 1)) < 0 ||
	    (rc = send_acked(fe, VHOST_USER_SET_VRING_CALL, &v, 8, &q->call_fd, 1)) < 0)
		return rc;
	return fe_set_state(fe, VHOST_USER_SET_VRING_ENABLE, qi, 1);
}

int
fe_handshake(struct fe *fe, uint64_t features)
{
	struct vhost_user_memory m;
	uint64_t v;
	uint32_t size;
	int rc;

	fe->protocol_features = 0;
	for (unsigned i = 0; i < fe->nqueues; i++) {
		struct fe_queue *q = &fe->q[i];

		memset(q->desc, 0, 0x3000);
		q->avail_idx = q->used_seen = 0;
	}
	if ((rc = fe_get_u64(fe, VHOST_USER_GET_FEATURES, &v)) < 0)
		return rc;
	if ((features & ~v) != 0)
		return -ENOTSUP;
	if ((rc = fe_send(fe, VHOST_USER_SET_OWNER, VHOST_USER_VERSION, NULL, 0, NULL, 0)) < 0 ||
	    (rc = fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v)) < 0)
		return rc;
	v &= (1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	if ((rc = fe_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, v)) < 0)
		return rc;
	fe->protocol_features = v;
	fe->features = features;
	if ((rc = fe_get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &v)) < 0)
		return rc;
	if (v < fe->nqueues)
		return -ENOTSUP;
	if ((rc = fe_set_u64(fe, VHOST_USER_SET_FEATURES, features)) < 0)
		return rc;
	fe_mem_table(fe, &m, &size);
	if ((rc = send_acked(fe, VHOST_USER_SET_MEM_TABLE, &m, size,
			     (int[]){ fe->memfd, fe->memfd }, 2)) < 0)
		return rc;
	for (unsigned i = 0; i < fe->nqueues; i++) {
		if ((rc = fe_setup_queue(fe, i, 0)) < 0)
			return rc;
	}
	return 0;
}

void
fe_reset_alloc(struct fe *fe)
{
	fe->data_next = DATA_BASE;
	for (unsigned i = 0; i < FE_MAX_QUEUES; i++)
		fe->q[i].next_desc = 0;
}

uint64_t
fe_alloc(struct fe *fe, size_t len)
{
	uint64_t gpa = fe->data_next;

	fe->data_next = (fe->data_next + len + 63) & ~63ull;
	return gpa;
}

void
fe_table_desc(struct fe *fe, uint64_t table_gpa, unsigned i, uint64_t addr,
	      uint32_t len, uint16_t flags, uint16_t next)
{
	struct vq_desc *d = (struct vq_desc *)fe_gpa(fe, table_gpa) + i;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void
fe_desc(struct fe *fe, unsigned qi, unsigned i, uint64_t addr, uint32_t len,
	uint16_t flags, uint16_t next)
{
	fe_table_desc(fe, fe->q[qi].desc_gpa, i, addr, len, flags, next);
}

void
fe_kick(struct fe *fe, unsigned qi)
{
	uint64_t one = 1;

	if (write(fe->q[qi].kick_fd, &one, sizeof(one)) < 0) {
		/* saturated counter: the device wakes anyway */
	}
}

void
fe_submit(struct fe *fe, unsigned qi, uint16_t head, bool kick)
{
	struct fe_queue *q = &fe->q[qi];

	q->avail->ring[q->avail_idx % FE_QSIZE] = head;
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	if (kick)
		fe_kick(fe, qi);
}

bool
fe_wait_used(struct fe *fe, unsigned qi, unsigned n, int ms)
{
	struct fe_queue *q = &fe->q[qi];
	struct timespec pause = { .tv_nsec = 1000000 };

	for (int waited = 0; waited <= ms; waited++) {
		uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

		if ((uint16_t)(idx - q->used_seen) >= n)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

struct vq_used_elem
fe_used(struct fe *fe, unsigned qi, unsigned k)
{
	struct fe_queue *q = &fe->q[qi];

	return q->used->ring[(uint16_t)(q->used_seen + k) % FE_QSIZE];
}

void
fe_reap(struct fe *fe, unsigned qi, unsigned n)
{
	struct fe_queue *q = &fe->q[qi];

	q->used_seen += n;
	/* like a driver with EVENT_IDX: call me when the next one is used */
	q->avail->ring[FE_QSIZE] = q->used_seen;
}

uint64_t
fe_take_call(struct fe *fe, unsigned qi)
{
	uint64_t v = 0;

	if (read(fe->q[qi].call_fd, &v, sizeof(v)) < 0)
		return 0;
	return v;
}
