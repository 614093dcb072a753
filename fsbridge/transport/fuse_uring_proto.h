/*
 * fuse_uring_proto: the FUSE-over-io_uring protocol as Linux 6.14
 * defines it in <linux/fuse.h> (kernel protocol 7.42; unchanged through
 * 6.18), which Debian 12's uapi headers predate.  Only what the host
 * mount's ring transport (fuse_uring.c) uses.
 *
 * A server that answers INIT with FUSE_OVER_IO_URING (flags2, with
 * FUSE_INIT_EXT) registers, per CPU, ring entries on /dev/fuse with
 * IORING_OP_URING_CMD on 128-byte SQEs: the SQE's command area holds a
 * struct fuse_uring_cmd_req, its addr an iovec pair (headers, payload).
 * A completed REGISTER or COMMIT_AND_FETCH hands the entry a request;
 * COMMIT_AND_FETCH gives the reply back and waits for the next one.
 */
#ifndef FSBRIDGE_FUSE_URING_PROTO_H
#define FSBRIDGE_FUSE_URING_PROTO_H

#include <stdint.h>

/* INIT: bit 41 of the 64-bit flags, so bit 9 of fuse_init_{in,out}.flags2 */
#define FSB_FUSE_INIT_EXT		(1u << 30)
#define FSB_FUSE_OVER_IO_URING_FLAGS2	(1u << 9)

/* the kernel's minimum payload buffer (FUSE_MIN_READ_BUFFER) */
#define FSB_FUSE_URING_MIN_PAYLOAD	8192

#define FSB_FUSE_URING_IN_OUT_HEADER_SZ	128
#define FSB_FUSE_URING_OP_IN_OUT_SZ	128

struct fsb_fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;	/* the request's unique, to give back */
	uint32_t payload_sz;	/* bytes used in the payload buffer */
	uint32_t padding;
	uint64_t reserved;
};

/* iov[0] of a ring entry: the kernel writes fuse_in_header into in_out
 * and the request's first argument (its fixed-size struct) into op_in;
 * the server writes fuse_out_header back into in_out. */
struct fsb_fuse_uring_req_header {
	char in_out[FSB_FUSE_URING_IN_OUT_HEADER_SZ];
	char op_in[FSB_FUSE_URING_OP_IN_OUT_SZ];
	struct fsb_fuse_uring_ent_in_out ring_ent_in_out;
};

enum fsb_fuse_uring_cmd {
	FSB_FUSE_IO_URING_CMD_INVALID = 0,
	FSB_FUSE_IO_URING_CMD_REGISTER = 1,
	FSB_FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/* the command area of the SQE (at most 80 bytes) */
struct fsb_fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;	/* COMMIT_AND_FETCH: the request answered */
	uint16_t qid;		/* the queue: the CPU it serves */
	uint8_t padding[6];
};

#endif
