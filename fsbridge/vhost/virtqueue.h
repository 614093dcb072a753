/*
 * virtqueue: one split virtqueue (virtio 1.x, 2.7) seen from the device:
 * ring setup from the front-end's addresses, popping the next available
 * descriptor chain into iovecs with hard bounds, returning it on the used
 * ring, and event-idx aware notification of the driver.
 *
 * One thread at a time works a queue (its worker); the device changes the
 * setup only while that worker is stopped.  The call fd alone may be
 * replaced while the worker runs, under call_lock.
 */
#ifndef FSBRIDGE_VHOST_VIRTQUEUE_H
#define FSBRIDGE_VHOST_VIRTQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vhost/vu_memory.h"

/* Descriptor flags. */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
/* avail->flags: the driver wants no interrupt (without EVENT_IDX). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1
/* used->flags: the device wants no kick (without EVENT_IDX). */
#define VIRTQ_USED_F_NO_NOTIFY	1

/* Largest queue size the specification allows. */
#define VQ_MAX_SIZE		32768u
/* Largest total length of one chain, out and in parts together. */
#define VQ_MAX_CHAIN_BYTES	((size_t)4 * 1024 * 1024 + 64 * 1024)

/* Guest memory layout (little-endian fields). */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* then used_event */
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[];	/* then avail_event */
};

/* Ring sizes in bytes for a queue of num entries (with the event fields). */
#define VQ_DESC_BYTES(num)	((uint64_t)(num) * sizeof(struct vq_desc))
#define VQ_AVAIL_BYTES(num)	(4 + 2 * (uint64_t)(num) + 2)
#define VQ_USED_BYTES(num)	(4 + 8 * (uint64_t)(num) + 2)

/* One popped chain; its iovecs live in the queue and last until the next pop. */
struct vq_request {
	uint16_t head;
	struct iovec *out;	/* driver-readable buffers: the request */
	unsigned out_num;
	struct iovec *in;	/* device-writable buffers: room for the reply */
	unsigned in_num;
	size_t out_len, in_len;
};

struct virtqueue {
	unsigned index;
	const struct vu_memory *mem;

	unsigned num;			/* 0 until SET_VRING_NUM */
	bool addr_set;
	uint64_t desc_uaddr, avail_uaddr, used_uaddr;
	struct vq_desc *desc;		/* NULL until the rings translate */
	struct vq_avail *avail;
	struct vq_used *used;

	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;			/* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	uint16_t last_avail_idx;	/* next avail entry we take */
	uint16_t shadow_avail_idx;	/* avail->idx as last read */
	uint16_t used_idx;		/* next used entry we fill */
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool broken;			/* ring state is insane: work no more */

	struct iovec *iov;		/* num entries, out part then in part */
	unsigned iov_cap;

	pthread_mutex_t call_lock;
	int call_fd;			/* -1: no notification */

	uint64_t bad_chains;		/* refused chains, for rate-limited logs */
};

void vq_init(struct virtqueue *vq, unsigned index, const struct vu_memory *mem);
/* Back to the state after vq_init (closes call_fd, frees iovecs). */
void vq_reset(struct virtqueue *vq);
void vq_destroy(struct virtqueue *vq);

/* SET_VRING_NUM: a power of two, 1..VQ_MAX_SIZE.  -EINVAL or -ENOMEM. */
int vq_set_num(struct virtqueue *vq, unsigned num);
/* SET_VRING_ADDR: front-end user addresses; translated now.  -EFAULT/-EINVAL. */
int vq_set_addr(struct virtqueue *vq, uint64_t desc, uint64_t avail, uint64_t used);
/* Translate the stored addresses again (after the memory table changed). */
int vq_map(struct virtqueue *vq);
/* SET_VRING_BASE / GET_VRING_BASE. */
void vq_set_base(struct virtqueue *vq, uint16_t base);
uint16_t vq_get_base(const struct virtqueue *vq);
void vq_set_features(struct virtqueue *vq, bool event_idx, bool indirect);
/* Replace the call eventfd; the old one is closed.  -1 for none. */
void vq_set_call_fd(struct virtqueue *vq, int fd);

/* Set up and translated: chains can be popped. */
bool vq_ready(const struct virtqueue *vq);

/*
 * Take the next available chain.  Returns 1 with *req filled, 0 when the
 * ring is empty, -EIO when the ring is broken (the avail index moved by
 * more than the queue size) or not ready.  A malformed chain is logged,
 * given back on the used ring with length 0, and skipped.
 */
int vq_pop(struct virtqueue *vq, struct vq_request *req);

/*
 * Walk the chain starting at head into *req (no ring index changes).
 * 0, or -EINVAL/-EFAULT/-ELOOP/-E2BIG with *why set to a short reason.
 */
int vq_walk_chain(struct virtqueue *vq, uint16_t head, struct vq_request *req,
		  const char **why);

/* Put (head, len) on the used ring and publish it. */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Signal the call eventfd if the driver wants to hear about used buffers. */
void vq_notify(struct virtqueue *vq);
/*
 * Before sleeping on the kick fd: ask the driver for a kick on the next
 * buffer (avail_event) and check the ring once more.  True when more
 * chains are already available.
 */
bool vq_enable_notify(struct virtqueue *vq);
/*
 * Before polling the ring instead of sleeping: ask the driver not to kick.
 * With EVENT_IDX nothing is written: avail_event stays where the last
 * vq_enable_notify put it, behind the entries taken since, so the driver
 * does not kick again until vq_enable_notify moves it; without EVENT_IDX
 * VIRTQ_USED_F_NO_NOTIFY is set in used->flags (vq_enable_notify clears it).
 */
void vq_disable_notify(struct virtqueue *vq);
/* Are chains available that we have not taken (one acquire load of avail->idx)? */
bool vq_avail_pending(const struct virtqueue *vq);

/* vring_need_event() of the virtio spec: did new_idx pass event_idx since old_idx? */
static inline bool
vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
