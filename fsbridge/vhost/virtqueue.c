/*
 * virtqueue: split virtqueue rings in guest memory: setup, bounded chain
 * walking, used ring updates and driver notification (see virtqueue.h).
 *
 * Guest memory can change under us at any time, so every descriptor is
 * copied out once before it is looked at, and every index read from the
 * guest is checked before it is used.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhost/virtqueue.h"
#include "vhost/vu_log.h"

void
vq_init(struct virtqueue *vq, unsigned index, const struct vu_memory *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->mem = mem;
	vq->call_fd = -1;
	pthread_mutex_init(&vq->call_lock, NULL);
}

void
vq_reset(struct virtqueue *vq)
{
	unsigned index = vq->index;
	const struct vu_memory *mem = vq->mem;

	vq_set_call_fd(vq, -1);
	free(vq->iov);
	pthread_mutex_destroy(&vq->call_lock);
	vq_init(vq, index, mem);
}

void
vq_destroy(struct virtqueue *vq)
{
	vq_set_call_fd(vq, -1);
	free(vq->iov);
	vq->iov = NULL;
	pthread_mutex_destroy(&vq->call_lock);
}

int
vq_set_num(struct virtqueue *vq, unsigned num)
{
	struct iovec *iov;

	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)) != 0)
		return -EINVAL;
	if (num != vq->iov_cap) {
		iov = reallocarray(vq->iov, num, sizeof(*iov));
		if (iov == NULL)
			return -ENOMEM;
		vq->iov = iov;
		vq->iov_cap = num;
	}
	vq->num = num;
	if (vq->addr_set)
		return vq_map(vq);
	return 0;
}

static void
vq_unmap(struct virtqueue *vq)
{
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

int
vq_map(struct virtqueue *vq)
{
	void *desc, *avail, *used;

	vq_unmap(vq);
	if (vq->num == 0 || !vq->addr_set)
		return -EINVAL;
	desc = vu_mem_uaddr_to_ptr(vq->mem, vq->desc_uaddr, VQ_DESC_BYTES(vq->num));
	avail = vu_mem_uaddr_to_ptr(vq->mem, vq->avail_uaddr, VQ_AVAIL_BYTES(vq->num));
	used = vu_mem_uaddr_to_ptr(vq->mem, vq->used_uaddr, VQ_USED_BYTES(vq->num));
	if (desc == NULL || avail == NULL || used == NULL)
		return -EFAULT;
	/* the index fields are accessed atomically: they must be aligned */
	if ((uintptr_t)avail % 2 != 0 || (uintptr_t)used % 4 != 0)
		return -EINVAL;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	vq->shadow_avail_idx = vq->last_avail_idx;	/* read avail->idx afresh */
	vq->signalled_used_valid = false;
	vq->broken = false;
	return 0;
}

int
vq_set_addr(struct virtqueue *vq, uint64_t desc, uint64_t avail, uint64_t used)
{
	vq->desc_uaddr = desc;
	vq->avail_uaddr = avail;
	vq->used_uaddr = used;
	vq->addr_set = true;
	return vq_map(vq);
}

void
vq_set_base(struct virtqueue *vq, uint16_t base)
{
	vq->last_avail_idx = base;
	vq->shadow_avail_idx = base;
	vq->broken = false;
}

uint16_t
vq_get_base(const struct virtqueue *vq)
{
	return vq->last_avail_idx;
}

void
vq_set_features(struct virtqueue *vq, bool event_idx, bool indirect)
{
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->signalled_used_valid = false;
}

void
vq_set_call_fd(struct virtqueue *vq, int fd)
{
	int old;

	pthread_mutex_lock(&vq->call_lock);
	old = vq->call_fd;
	vq->call_fd = fd;
	pthread_mutex_unlock(&vq->call_lock);
	if (old >= 0)
		close(old);
}

bool
vq_ready(const struct virtqueue *vq)
{
	return vq->num != 0 && vq->desc != NULL && vq->avail != NULL &&
	       vq->used != NULL;
}

/* One descriptor, copied out of guest memory exactly once. */
static void
read_desc(const struct vq_desc *src, struct vq_desc *d)
{
	memcpy(d, src, sizeof(*d));
	/* the compiler may not go back to guest memory for d's fields */
	__asm__ __volatile__("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

struct walk {
	const struct vq_desc *table;
	unsigned table_size;
	unsigned steps;		/* descriptors taken from this table */
	bool in_indirect;
	bool seen_in;
	unsigned nout, nin;
	size_t out_len, in_len;
};

#define WALK_FAIL(err, reason) do { *why = (reason); return -(err); } while (0)

/* Switch the walk to the indirect table that d points to. */
static int
walk_enter_indirect(struct virtqueue *vq, struct walk *w, const struct vq_desc *d,
		    const char **why)
{
	const struct vq_desc *t;

	if (!vq->indirect)
		WALK_FAIL(EINVAL, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (w->in_indirect)
		WALK_FAIL(EINVAL, "nested indirect descriptor");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		WALK_FAIL(EINVAL, "indirect descriptor with NEXT");
	if (d->len == 0 || d->len % sizeof(struct vq_desc) != 0)
		WALK_FAIL(EINVAL, "indirect table length not a multiple of 16");
	if (d->len / sizeof(struct vq_desc) > vq->num)
		WALK_FAIL(E2BIG, "indirect table longer than the queue");
	t = vu_mem_gpa_to_ptr(vq->mem, d->addr, d->len);
	if (t == NULL)
		WALK_FAIL(EFAULT, "indirect table outside guest memory");
	w->table = t;
	w->table_size = d->len / sizeof(struct vq_desc);
	w->steps = 0;
	w->in_indirect = true;
	return 0;
}

/* Add the buffer d describes to the out or in part of the request. */
static int
walk_add_buffer(struct virtqueue *vq, struct walk *w, const struct vq_desc *d,
		const char **why)
{
	bool writable = (d->flags & VIRTQ_DESC_F_WRITE) != 0;
	void *p;

	if (!writable && w->seen_in)
		WALK_FAIL(EINVAL, "readable descriptor after a writable one");
	w->seen_in |= writable;
	if (d->len == 0)
		return 0;
	if (d->len > VQ_MAX_CHAIN_BYTES - (w->out_len + w->in_len))
		WALK_FAIL(E2BIG, "chain longer than the byte limit");
	p = vu_mem_gpa_to_ptr(vq->mem, d->addr, d->len);
	if (p == NULL)
		WALK_FAIL(EFAULT, "buffer outside guest memory");
	if (w->nout + w->nin >= vq->iov_cap)
		WALK_FAIL(E2BIG, "more buffers than the queue size");
	vq->iov[w->nout + w->nin] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (writable) {
		w->nin++;
		w->in_len += d->len;
	} else {
		w->nout++;
		w->out_len += d->len;
	}
	return 0;
}

int
vq_walk_chain(struct virtqueue *vq, uint16_t head, struct vq_request *req,
	      const char **why)
{
	struct walk w = { .table = vq->desc, .table_size = vq->num };
	unsigned idx = head;
	struct vq_desc d;
	int rc;

	*why = NULL;
	if (!vq_ready(vq))
		WALK_FAIL(EINVAL, "queue not set up");
	if (idx >= vq->num)
		WALK_FAIL(EINVAL, "head index beyond the queue size");
	for (;;) {
		if (++w.steps > w.table_size)
			WALK_FAIL(ELOOP, "chain longer than its table (a loop)");
		read_desc(&w.table[idx], &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			rc = walk_enter_indirect(vq, &w, &d, why);
			if (rc < 0)
				return rc;
			idx = 0;
			continue;
		}
		rc = walk_add_buffer(vq, &w, &d, why);
		if (rc < 0)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		idx = d.next;
		if (idx >= w.table_size)
			WALK_FAIL(EINVAL, "next index beyond the table");
	}
	req->head = head;
	req->out = vq->iov;
	req->out_num = w.nout;
	req->in = vq->iov + w.nout;
	req->in_num = w.nin;
	req->out_len = w.out_len;
	req->in_len = w.in_len;
	return 0;
}

static uint16_t
load_avail_idx(const struct virtqueue *vq)
{
	/* acquire: the ring entries and descriptors are read after this */
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

/* Read avail->idx again; a jump larger than the queue breaks the ring. */
static int
refresh_avail(struct virtqueue *vq)
{
	uint16_t idx = load_avail_idx(vq);

	if ((uint16_t)(idx - vq->last_avail_idx) > vq->num) {
		vu_log("queue %u: avail index %u is %u entries past %u, more than "
		       "the queue size %u; queue stopped", vq->index, idx,
		       (uint16_t)(idx - vq->last_avail_idx), vq->last_avail_idx, vq->num);
		vq->broken = true;
		return -EIO;
	}
	vq->shadow_avail_idx = idx;
	return 0;
}

static void
refuse_chain(struct virtqueue *vq, uint16_t head, const char *why)
{
	vq->bad_chains++;
	if (vq->bad_chains <= 16 || (vq->bad_chains & 1023) == 0)
		vu_log("queue %u: chain at head %u refused (%s), returned empty "
		       "[%llu refused so far]", vq->index, head, why,
		       (unsigned long long)vq->bad_chains);
	vq_push(vq, head, 0);
	vq_notify(vq);
}

int
vq_pop(struct virtqueue *vq, struct vq_request *req)
{
	const char *why;
	uint16_t head;

	if (!vq_ready(vq) || vq->broken)
		return -EIO;
	if (vq->last_avail_idx == vq->shadow_avail_idx) {
		if (refresh_avail(vq) < 0)
			return -EIO;
		if (vq->last_avail_idx == vq->shadow_avail_idx)
			return 0;
	}
	head = le16toh(__atomic_load_n(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)],
				       __ATOMIC_RELAXED));
	vq->last_avail_idx++;
	if (vq_walk_chain(vq, head, req, &why) == 0)
		return 1;
	refuse_chain(vq, head, why);
	return -EAGAIN;
}

void
vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	struct vq_used_elem *e = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* release: the element is visible before the index that covers it */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

static bool
driver_wants_call(struct virtqueue *vq)
{
	uint16_t old, event;
	bool valid;

	if (!vq->event_idx)
		return !(le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED)) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	event = le16toh(__atomic_load_n(&vq->avail->ring[vq->num], __ATOMIC_RELAXED));
	return !valid || vq_need_event(event, vq->used_idx, old);
}

void
vq_notify(struct virtqueue *vq)
{
	static const uint64_t one = 1;

	/* our used->idx store must be visible before we read used_event/flags */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!driver_wants_call(vq))
		return;
	pthread_mutex_lock(&vq->call_lock);
	if (vq->call_fd >= 0 && write(vq->call_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the driver will look anyway */
	}
	pthread_mutex_unlock(&vq->call_lock);
}

bool
vq_enable_notify(struct virtqueue *vq)
{
	uint16_t *avail_event;

	if (!vq_ready(vq) || vq->broken)
		return false;
	if (vq->event_idx) {
		/* the u16 right after the used ring's num elements */
		avail_event = (uint16_t *)((uint8_t *)vq->used + VQ_USED_BYTES(vq->num) - 2);
		__atomic_store_n(avail_event, htole16(vq->last_avail_idx), __ATOMIC_RELAXED);
	} else {
		/* we own used->flags: whatever vq_disable_notify left there goes */
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	}
	/* the avail_event (flags) store must be visible before we read avail->idx */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load_avail_idx(vq) != vq->last_avail_idx;
}

void
vq_disable_notify(struct virtqueue *vq)
{
	if (!vq_ready(vq) || vq->broken || vq->event_idx)
		return;
	__atomic_store_n(&vq->used->flags, htole16(VIRTQ_USED_F_NO_NOTIFY), __ATOMIC_RELAXED);
}

bool
vq_avail_pending(const struct virtqueue *vq)
{
	if (!vq_ready(vq) || vq->broken)
		return false;
	return load_avail_idx(vq) != vq->last_avail_idx;
}
