/*
 * vu_protocol: the vhost-user wire format (QEMU docs/interop/vhost-user.rst)
 * and the virtio feature bits this device speaks.  Numbers are in the
 * machine's byte order on the socket, as the specification says.
 */
#ifndef FSBRIDGE_VHOST_VU_PROTOCOL_H
#define FSBRIDGE_VHOST_VU_PROTOCOL_H

#include <stdint.h>

/* Header flags. */
#define VHOST_USER_VERSION_MASK		0x3u
#define VHOST_USER_VERSION		0x1u
#define VHOST_USER_REPLY_MASK		(1u << 2)
#define VHOST_USER_NEED_REPLY_MASK	(1u << 3)

/* Front-end request types. */
enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
};

/* Protocol feature bits (VHOST_USER_GET_PROTOCOL_FEATURES). */
#define VHOST_USER_PROTOCOL_F_MQ			0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD			1
#define VHOST_USER_PROTOCOL_F_REPLY_ACK			3
#define VHOST_USER_PROTOCOL_F_CONFIG			9
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS	15

/* Virtio and vhost-user feature bits (VHOST_USER_GET_FEATURES). */
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29
#define VHOST_USER_F_PROTOCOL_FEATURES	30
#define VIRTIO_F_VERSION_1		32

/* SET_VRING_KICK/CALL/ERR u64 payload: index in bits 0-7, "no fd" in bit 8. */
#define VHOST_USER_VRING_IDX_MASK	0xffu
#define VHOST_USER_VRING_NOFD_MASK	(1u << 8)

/* SET_MEM_TABLE carries at most this many regions and fds. */
#define VHOST_MEMORY_BASELINE_NREGIONS	8

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* of the payload that follows */
} __attribute__((packed));

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vhost_user_memory_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_memory_region regions[VHOST_MEMORY_BASELINE_NREGIONS];
};

/* ADD_MEM_REG / REM_MEM_REG payload. */
struct vhost_user_memory_single {
	uint64_t padding;
	struct vhost_user_memory_region region;
};

/* Payloads larger than this are refused before they are read. */
#define VU_MSG_MAX_PAYLOAD	4096u
/* Ancillary fds accepted with one message. */
#define VU_MSG_MAX_FDS		VHOST_MEMORY_BASELINE_NREGIONS

struct vu_msg {
	struct vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_user_vring_state state;
		struct vhost_user_vring_addr addr;
		struct vhost_user_memory memory;
		struct vhost_user_memory_single mem_reg;
		uint8_t raw[VU_MSG_MAX_PAYLOAD];
	} payload;
};

#define VU_HDR_SIZE	((uint32_t)sizeof(struct vhost_user_hdr))

#endif
