/*
 * frontend: a small vhost-user front-end for the tests, playing QEMU's
 * part: guest RAM in a memfd (two regions), the vhost-user handshake,
 * split rings laid out in guest memory, and building, submitting and
 * reaping descriptor chains.
 */
#ifndef FSBRIDGE_TESTS_VHOST_FRONTEND_H
#define FSBRIDGE_TESTS_VHOST_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost/virtqueue.h"
#include "vhost/vu_protocol.h"

/* Guest RAM: region 0 at gpa 0, region 1 at FE_R1_GPA, each FE_REGION bytes. */
#define FE_REGION	(4u << 20)
#define FE_R1_GPA	0x40000000ull
#define FE_MAX_QUEUES	4
#define FE_QSIZE	16

struct fe_queue {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	uint16_t avail_idx;	/* ours, the driver's */
	uint16_t used_seen;	/* used entries reaped */
	unsigned next_desc;	/* descriptor allocator, reset per batch */
	int kick_fd, call_fd;
};

struct fe {
	int sock;
	int memfd;
	uint8_t *ram;		/* both regions, 2 * FE_REGION bytes */
	uint64_t data_next;	/* bump allocator in region 0 for buffers */
	unsigned nqueues;
	uint64_t features;
	uint64_t protocol_features;
	struct fe_queue q[FE_MAX_QUEUES];
};

/* Create guest RAM and rings (no connection yet). */
int fe_init(struct fe *fe, unsigned nqueues);
void fe_fini(struct fe *fe);
/* Connect to the device's socket; -errno. */
int fe_connect(struct fe *fe, const char *path);
/* Close the connection and the ring eventfds; guest RAM stays. */
void fe_disconnect(struct fe *fe);

/* Send one message with optional fds; -errno. */
int fe_send(struct fe *fe, uint32_t request, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, int nfds);
/* Receive a reply for request into payload (exactly size bytes); -errno. */
int fe_recv_reply(struct fe *fe, uint32_t request, void *payload, uint32_t size);
int fe_get_u64(struct fe *fe, uint32_t request, uint64_t *v);
int fe_set_u64(struct fe *fe, uint32_t request, uint64_t v);
int fe_set_state(struct fe *fe, uint32_t request, uint32_t index, uint32_t num);
/* Wait for the device to close the connection (true) within ms. */
bool fe_wait_eof(struct fe *fe, int ms);

/* The memory table message for the two regions (payload and size). */
void fe_mem_table(struct fe *fe, struct vhost_user_memory *m, uint32_t *size);
/* Everything up to running rings; features are what we ack. */
int fe_handshake(struct fe *fe, uint64_t features);
/* Set one queue up (NUM, BASE, ADDR, KICK, CALL, ENABLE). */
int fe_setup_queue(struct fe *fe, unsigned qi, uint16_t base);

/* Guest memory helpers. */
void *fe_gpa(struct fe *fe, uint64_t gpa);
uint64_t fe_alloc(struct fe *fe, size_t len);	/* region-0 buffer gpa */
void fe_reset_alloc(struct fe *fe);

/* Write descriptor i of queue qi (or of the table at table_gpa if non-zero). */
void fe_desc(struct fe *fe, unsigned qi, unsigned i, uint64_t addr, uint32_t len,
	     uint16_t flags, uint16_t next);
void fe_table_desc(struct fe *fe, uint64_t table_gpa, unsigned i, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next);
/* Put head on the avail ring and publish it; kick if asked. */
void fe_submit(struct fe *fe, unsigned qi, uint16_t head, bool kick);
void fe_kick(struct fe *fe, unsigned qi);
/* Wait until used->idx reaches used_seen + n; false on timeout. */
bool fe_wait_used(struct fe *fe, unsigned qi, unsigned n, int ms);
/* The k-th used element not yet reaped (k from 0); then advance with fe_reap. */
struct vq_used_elem fe_used(struct fe *fe, unsigned qi, unsigned k);
void fe_reap(struct fe *fe, unsigned qi, unsigned n);
/* Read and clear the call eventfd's counter (0 when not signalled). */
uint64_t fe_take_call(struct fe *fe, unsigned qi);

#endif
