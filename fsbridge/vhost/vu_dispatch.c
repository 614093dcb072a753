/*
 * vu_dispatch: checks each vhost-user message (header, payload size, fd
 * count) and applies it to the device state; sends the replies the
 * specification asks for and REPLY_ACK acknowledgements.  Every fd that
 * arrives with a message is either kept or closed here.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"

typedef int (*vu_request_fn)(struct vu_dev *dev, const struct vu_msg *msg,
			     int *fds, int nfds, const char **why);

#define VU_SIZE_CHECKED_BY_FN	UINT32_MAX

struct vu_request_info {
	const char *name;
	vu_request_fn fn;
	uint32_t size;		/* exact payload size, or VU_SIZE_CHECKED_BY_FN */
	uint8_t min_fds, max_fds;
	bool replies;		/* the request has its own reply */
};

#define FAIL(err, reason) do { *why = (reason); return -(err); } while (0)

void
vu_close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static struct vu_queue *
queue_at(struct vu_dev *dev, uint32_t index)
{
	return index < dev->nqueues ? &dev->queues[index] : NULL;
}

static void
stop_all(struct vu_dev *dev)
{
	for (unsigned i = 0; i < dev->nqueues; i++)
		vu_queue_stop(&dev->queues[i]);
}

static int
update_all(struct vu_dev *dev)
{
	int rc = 0;

	for (unsigned i = 0; i < dev->nqueues; i++) {
		int r = vu_queue_update(&dev->queues[i]);

		if (r < 0)
			rc = r;
	}
	return rc;
}

/* After the memory table changed: translate every configured ring again. */
static void
remap_all(struct vu_dev *dev)
{
	for (unsigned i = 0; i < dev->nqueues; i++) {
		struct virtqueue *vq = &dev->queues[i].vq;

		if (!vq->addr_set || vq->num == 0)
			continue;
		if (vq_map(vq) < 0)
			vu_log("queue %u: rings are no longer inside guest memory; "
			       "queue stopped", i);
	}
}

static int
reply_u64(struct vu_dev *dev, const struct vu_msg *msg, uint64_t value)
{
	return vu_send_reply(dev, msg->hdr.request, &value, sizeof(value));
}

static int
get_features(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	     const char **why)
{
	return reply_u64(dev, msg, VU_OFFERED_FEATURES);
}

static int
set_features(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	     const char **why)
{
	uint64_t f = msg->payload.u64;

	if (f & ~VU_OFFERED_FEATURES)
		FAIL(EINVAL, "feature bits that were not offered");
	dev->features = f;
	dev->features_acked = true;
	for (unsigned i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];

		vu_queue_stop(q);
		vq_set_features(&q->vq, f & (1ull << VIRTIO_RING_F_EVENT_IDX),
				f & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
		/* without protocol features a ring is enabled from the start */
		if (!(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
			q->enabled = true;
	}
	return update_all(dev);
}

static int
set_owner(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	  const char **why)
{
	dev->owner = true;
	return 0;
}

/* Deprecated by the specification: we stop and disable every ring. */
static int
reset_owner(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	    const char **why)
{
	for (unsigned i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->queues[i];

		vu_queue_stop(q);
		if (q->kick_fd >= 0)
			close(q->kick_fd);
		q->kick_fd = -1;
		q->enabled = false;
	}
	return 0;
}

static void
region_from_wire(struct vu_mem_desc *d, const struct vhost_user_memory_region *w)
{
	d->gpa = w->guest_phys_addr;
	d->size = w->memory_size;
	d->uaddr = w->userspace_addr;
	d->mmap_offset = w->mmap_offset;
}

static int
set_mem_table(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	      const char **why)
{
	struct vu_mem_desc descs[VHOST_MEMORY_BASELINE_NREGIONS];
	uint32_t n;
	int rc;

	if (msg->hdr.size < offsetof(struct vhost_user_memory, regions))
		FAIL(EINVAL, "payload too short for a memory table");
	n = msg->payload.memory.nregions;
	if (n > VHOST_MEMORY_BASELINE_NREGIONS)
		FAIL(EINVAL, "more than 8 regions");
	if (msg->hdr.size != offsetof(struct vhost_user_memory, regions) +
			     n * sizeof(struct vhost_user_memory_region))
		FAIL(EINVAL, "payload size does not match the region count");
	if ((uint32_t)nfds != n)
		FAIL(EINVAL, "region count and fd count differ");
	for (uint32_t i = 0; i < n; i++)
		region_from_wire(&descs[i], &msg->payload.memory.regions[i]);
	stop_all(dev);
	rc = vu_mem_set_table(&dev->mem, descs, n, fds);
	if (rc < 0) {
		update_all(dev);
		FAIL(-rc, "a region could not be mapped (bad size, offset or fd)");
	}
	remap_all(dev);
	return update_all(dev);
}

static int
add_mem_reg(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	    const char **why)
{
	struct vu_mem_desc d;
	int rc;

	region_from_wire(&d, &msg->payload.mem_reg.region);
	stop_all(dev);
	rc = vu_mem_add_region(&dev->mem, &d, fds[0]);
	if (rc < 0) {
		update_all(dev);
		FAIL(-rc, "the region could not be mapped (bad size, offset, overlap or fd)");
	}
	remap_all(dev);
	return update_all(dev);
}

static int
rem_mem_reg(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	    const char **why)
{
	struct vu_mem_desc d;

	region_from_wire(&d, &msg->payload.mem_reg.region);
	stop_all(dev);
	if (vu_mem_remove_region(&dev->mem, &d) < 0)
		vu_log("REM_MEM_REG: no region at guest address 0x%llx size 0x%llx",
		       (unsigned long long)d.gpa, (unsigned long long)d.size);
	remap_all(dev);
	return update_all(dev);
}

static int
set_vring_num(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	      const char **why)
{
	struct vu_queue *q = queue_at(dev, msg->payload.state.index);
	uint32_t num = msg->payload.state.num;
	int rc;

	if (q == NULL)
		FAIL(EINVAL, "queue index out of range");
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)) != 0)
		FAIL(EINVAL, "queue size is not a power of two up to 32768");
	vu_queue_stop(q);
	rc = vq_set_num(&q->vq, num);
	if (rc < 0)
		FAIL(-rc, "rings do not fit guest memory for this size");
	return vu_queue_update(q);
}

static int
set_vring_addr(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	       const char **why)
{
	const struct vhost_user_vring_addr *a = &msg->payload.addr;
	struct vu_queue *q = queue_at(dev, a->index);

	if (q == NULL)
		FAIL(EINVAL, "queue index out of range");
	vu_queue_stop(q);
	if (vq_set_addr(&q->vq, a->desc_user_addr, a->avail_user_addr,
			a->used_user_addr) < 0)
		FAIL(EFAULT, "ring addresses are not inside guest memory (or misaligned)");
	return vu_queue_update(q);
}

static int
set_vring_base(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	       const char **why)
{
	struct vu_queue *q = queue_at(dev, msg->payload.state.index);

	if (q == NULL)
		FAIL(EINVAL, "queue index out of range");
	if (msg->payload.state.num > UINT16_MAX)
		FAIL(EINVAL, "ring base above 65535");
	vu_queue_stop(q);
	vq_set_base(&q->vq, (uint16_t)msg->payload.state.num);
	return vu_queue_update(q);
}

/* Stops the ring and reports where it stopped. */
static int
get_vring_base(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	       const char **why)
{
	struct vu_queue *q = queue_at(dev, msg->payload.state.index);
	struct vhost_user_vring_state st;

	if (q == NULL)
		FAIL(EINVAL, "queue index out of range");
	vu_queue_stop(q);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	q->kick_fd = -1;
	st.index = msg->payload.state.index;
	st.num = vq_get_base(&q->vq);
	return vu_send_reply(dev, msg->hdr.request, &st, sizeof(st));
}

/*
 * The u64 of SET_VRING_KICK/CALL/ERR: the queue, and the fd (or -1 when
 * the "no fd" bit is set).  The fd is taken out of fds.
 */
static int
vring_fd_arg(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	     struct vu_queue **q, int *fd, const char **why)
{
	uint64_t v = msg->payload.u64;
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;

	if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
		FAIL(EINVAL, "unknown bits in the ring fd payload");
	*q = queue_at(dev, v & VHOST_USER_VRING_IDX_MASK);
	if (*q == NULL)
		FAIL(EINVAL, "queue index out of range");
	if (nfds != (nofd ? 0 : 1))
		FAIL(EINVAL, "fd count does not match the no-fd flag");
	*fd = nofd ? -1 : fds[0];
	if (!nofd)
		fds[0] = -1;
	return 0;
}

static int
set_vring_kick(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	       const char **why)
{
	struct vu_queue *q;
	int fd, rc;

	rc = vring_fd_arg(dev, msg, fds, nfds, &q, &fd, why);
	if (rc < 0)
		return rc;
	vu_queue_stop(q);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	q->kick_fd = fd;
	if (fd < 0)
		vu_log("queue %u: polling mode (no kick fd) is not supported; "
		       "queue stays stopped", q->vq.index);
	return vu_queue_update(q);
}

static int
set_vring_call(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	       const char **why)
{
	struct vu_queue *q;
	int fd, rc;

	rc = vring_fd_arg(dev, msg, fds, nfds, &q, &fd, why);
	if (rc < 0)
		return rc;
	vq_set_call_fd(&q->vq, fd);
	return 0;
}

static int
set_vring_err(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	      const char **why)
{
	struct vu_queue *q;
	int fd, rc;

	rc = vring_fd_arg(dev, msg, fds, nfds, &q, &fd, why);
	if (rc < 0)
		return rc;
	vu_queue_stop(q);
	if (q->err_fd >= 0)
		close(q->err_fd);
	q->err_fd = fd;
	return vu_queue_update(q);
}

static int
get_protocol_features(struct vu_dev *dev, const struct vu_msg *msg, int *fds,
		      int nfds, const char **why)
{
	return reply_u64(dev, msg, VU_OFFERED_PROTOCOL_FEATURES);
}

static int
set_protocol_features(struct vu_dev *dev, const struct vu_msg *msg, int *fds,
		      int nfds, const char **why)
{
	if (msg->payload.u64 & ~VU_OFFERED_PROTOCOL_FEATURES)
		FAIL(EINVAL, "protocol feature bits that were not offered");
	dev->protocol_features = msg->payload.u64;
	return 0;
}

static int
get_queue_num(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
	      const char **why)
{
	return reply_u64(dev, msg, dev->nqueues);
}

static int
set_vring_enable(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
		 const char **why)
{
	struct vu_queue *q = queue_at(dev, msg->payload.state.index);

	if (q == NULL)
		FAIL(EINVAL, "queue index out of range");
	if (msg->payload.state.num > 1)
		FAIL(EINVAL, "enable flag other than 0 or 1");
	vu_queue_stop(q);
	q->enabled = msg->payload.state.num == 1;
	return vu_queue_update(q);
}

static int
get_max_mem_slots(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds,
		  const char **why)
{
	return reply_u64(dev, msg, VU_MEM_MAX_REGIONS);
}

#define U64	sizeof(uint64_t)
#define STATE	sizeof(struct vhost_user_vring_state)
#define ADDR	sizeof(struct vhost_user_vring_addr)
#define MEMREG	sizeof(struct vhost_user_memory_single)

static const struct vu_request_info requests[] = {
	[VHOST_USER_GET_FEATURES] = { "GET_FEATURES", get_features, 0, 0, 0, true },
	[VHOST_USER_SET_FEATURES] = { "SET_FEATURES", set_features, U64, 0, 0, false },
	[VHOST_USER_SET_OWNER] = { "SET_OWNER", set_owner, 0, 0, 0, false },
	[VHOST_USER_RESET_OWNER] = { "RESET_OWNER", reset_owner, 0, 0, 0, false },
	[VHOST_USER_SET_MEM_TABLE] = { "SET_MEM_TABLE", set_mem_table,
		VU_SIZE_CHECKED_BY_FN, 0, VHOST_MEMORY_BASELINE_NREGIONS, false },
	[VHOST_USER_SET_VRING_NUM] = { "SET_VRING_NUM", set_vring_num, STATE, 0, 0, false },
	[VHOST_USER_SET_VRING_ADDR] = { "SET_VRING_ADDR", set_vring_addr, ADDR, 0, 0, false },
	[VHOST_USER_SET_VRING_BASE] = { "SET_VRING_BASE", set_vring_base, STATE, 0, 0, false },
	[VHOST_USER_GET_VRING_BASE] = { "GET_VRING_BASE", get_vring_base, STATE, 0, 0, true },
	[VHOST_USER_SET_VRING_KICK] = { "SET_VRING_KICK", set_vring_kick, U64, 0, 1, false },
	[VHOST_USER_SET_VRING_CALL] = { "SET_VRING_CALL", set_vring_call, U64, 0, 1, false },
	[VHOST_USER_SET_VRING_ERR] = { "SET_VRING_ERR", set_vring_err, U64, 0, 1, false },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES",
		get_protocol_features, 0, 0, 0, true },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES",
		set_protocol_features, U64, 0, 0, false },
	[VHOST_USER_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", get_queue_num, 0, 0, 0, true },
	[VHOST_USER_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", set_vring_enable, STATE, 0, 0, false },
	[VHOST_USER_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", get_max_mem_slots, 0, 0, 0, true },
	[VHOST_USER_ADD_MEM_REG] = { "ADD_MEM_REG", add_mem_reg, MEMREG, 1, 1, false },
	/* the specification lets a front-end send (useless) fd here */
	[VHOST_USER_REM_MEM_REG] = { "REM_MEM_REG", rem_mem_reg, MEMREG, 0, 1, false },
};

static const struct vu_request_info *
request_info(uint32_t request)
{
	if (request >= sizeof(requests) / sizeof(requests[0]))
		return NULL;
	if (requests[request].fn == NULL)
		return NULL;
	return &requests[request];
}

/* Header and framing checks that need no request knowledge. */
static const char *
check_header(const struct vhost_user_hdr *h)
{
	if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return "bad version in flags";
	if (h->flags & ~(VHOST_USER_VERSION_MASK | VHOST_USER_NEED_REPLY_MASK))
		return "unknown or reply bits in flags";
	if (h->size > VU_MSG_MAX_PAYLOAD)
		return "payload larger than the limit";
	return NULL;
}

static const char *
check_shape(const struct vu_request_info *info, const struct vu_msg *msg, int nfds)
{
	if (info->size != VU_SIZE_CHECKED_BY_FN && msg->hdr.size != info->size)
		return "payload size does not match the request";
	if (nfds < info->min_fds || nfds > info->max_fds)
		return "wrong number of fds for the request";
	return NULL;
}

static bool
wants_ack(const struct vu_dev *dev, const struct vu_request_info *info,
	  const struct vu_msg *msg)
{
	return !info->replies && (msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
	       (dev->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
}

static void
trace(const struct vu_msg *msg, const struct vu_request_info *info, int nfds)
{
	const struct vhost_user_vring_state *st = &msg->payload.state;
	uint32_t r = msg->hdr.request;
	bool is_state = r == VHOST_USER_SET_VRING_NUM || r == VHOST_USER_SET_VRING_BASE ||
			r == VHOST_USER_GET_VRING_BASE || r == VHOST_USER_SET_VRING_ENABLE;

	if (is_state)
		vu_log("%s index %u num %u", info->name, st->index, st->num);
	else if (msg->hdr.size == sizeof(uint64_t))
		vu_log("%s 0x%llx (%d fds)%s", info->name,
		       (unsigned long long)msg->payload.u64, nfds,
		       msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK ? " need_reply" : "");
	else
		vu_log("%s (%u bytes, %d fds)%s", info->name, msg->hdr.size, nfds,
		       msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK ? " need_reply" : "");
}

int
vu_handle_message(struct vu_dev *dev, const struct vu_msg *msg, int *fds, int nfds)
{
	const struct vu_request_info *info = NULL;
	const char *why;
	int rc = -EINVAL, ack;

	why = check_header(&msg->hdr);
	if (why == NULL) {
		info = request_info(msg->hdr.request);
		why = info == NULL ? "unknown request type" : check_shape(info, msg, nfds);
	}
	if (why == NULL) {
		if (dev->debug)
			trace(msg, info, nfds);
		rc = info->fn(dev, msg, fds, nfds, &why);
		if (wants_ack(dev, info, msg)) {
			ack = vu_send_reply(dev, msg->hdr.request, &(uint64_t){ rc < 0 }, U64);
			if (rc == 0)
				rc = ack;
		}
	}
	vu_close_fds(fds, nfds);
	if (rc < 0) {
		vu_log("request %u (%s, %u bytes, %d fds) refused: %s; dropping the "
		       "connection", msg->hdr.request, info != NULL ? info->name : "?",
		       msg->hdr.size, nfds, why != NULL ? why : "cannot reply");
		return rc;
	}
	return 0;
}
