/*
 * fuzz_desc_chain: libFuzzer target for the split-virtqueue chain walker.
 * The input is a small header and a guest memory image; the rings sit at
 * the start of the image, and the walker pops every chain it can.  Every
 * iovec it hands out must lie inside one guest memory region, and the
 * limits (buffers, bytes) must hold; anything else aborts.
 *
 * Input: u8 log2 queue size (mod 6), u8 features (bit 0 EVENT_IDX, bit 1
 * INDIRECT_DESC), u16 starting avail index, then the memory image: bytes
 * 0..32K are region A at guest address 0, 32K..64K region B at 0x10000.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhost/virtqueue.h"
#include "vhost/vu_log.h"
#include "vhost/vu_memory.h"

#define REGION		(32u * 1024)
#define GPA_A		0x0ull
#define GPA_B		0x10000ull
#define UADDR_A		0x7f0000000000ull
#define UADDR_B		(UADDR_A + REGION)
#define MAX_POPS	64

static uint8_t guest[2 * REGION] __attribute__((aligned(4096)));

/* Log lines are noise while fuzzing; FUZZ_VERBOSE=1 shows them. */
static void
quiet(const char *line)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "vhost: %s\n", line);
}

static void
check_iov(const struct iovec *iov)
{
	const uint8_t *p = iov->iov_base;
	bool in_a = p >= guest && p + iov->iov_len <= guest + REGION;
	bool in_b = p >= guest + REGION && p + iov->iov_len <= guest + 2 * REGION;

	if (iov->iov_len == 0 || !(in_a || in_b))
		abort();
}

/* Check the request, touch all of it (ASan sees any stray pointer). */
static uint32_t
use_request(const struct virtqueue *vq, const struct vq_request *req)
{
	size_t out = 0, in = 0;
	volatile uint8_t sink = 0;

	if (req->out_num + req->in_num > vq->num || req->in != req->out + req->out_num)
		abort();
	for (unsigned i = 0; i < req->out_num; i++) {
		check_iov(&req->out[i]);
		out += req->out[i].iov_len;
		for (size_t k = 0; k < req->out[i].iov_len; k += 512)
			sink ^= ((const uint8_t *)req->out[i].iov_base)[k];
	}
	for (unsigned i = 0; i < req->in_num; i++) {
		check_iov(&req->in[i]);
		in += req->in[i].iov_len;
		memset(req->in[i].iov_base, 0x5a, req->in[i].iov_len);
	}
	if (out != req->out_len || in != req->in_len || out + in > VQ_MAX_CHAIN_BYTES)
		abort();
	(void)sink;
	return (uint32_t)(in / 2);
}

static void
setup_memory(struct vu_memory *mem)
{
	struct vu_mem_desc a = { .gpa = GPA_A, .size = REGION, .uaddr = UADDR_A };
	struct vu_mem_desc b = { .gpa = GPA_B, .size = REGION, .uaddr = UADDR_B };

	vu_mem_init(mem);
	if (vu_mem_add_borrowed(mem, &a, guest) < 0 ||
	    vu_mem_add_borrowed(mem, &b, guest + REGION) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vu_memory mem;
	struct virtqueue vq;
	struct vq_request req;
	unsigned num;
	uint64_t avail, used;
	uint16_t base;

	if (size < 4)
		return 0;
	vu_set_log_fn(quiet);
	setup_memory(&mem);
	num = 1u << (data[0] % 6);
	memcpy(&base, data + 2, sizeof(base));
	memset(guest, 0, sizeof(guest));
	memcpy(guest, data + 4, size - 4 < sizeof(guest) ? size - 4 : sizeof(guest));

	vq_init(&vq, 1, &mem);
	vq_set_features(&vq, data[1] & 1, data[1] & 2);
	avail = UADDR_A + VQ_DESC_BYTES(num);
	used = (avail + VQ_AVAIL_BYTES(num) + 3) & ~3ull;
	if (vq_set_num(&vq, num) < 0 || vq_set_addr(&vq, UADDR_A, avail, used) < 0)
		abort();
	vq_set_base(&vq, base);
	for (int i = 0; i < MAX_POPS; i++) {
		int rc = vq_pop(&vq, &req);

		if (rc > 0) {
			vq_push(&vq, req.head, use_request(&vq, &req));
			vq_notify(&vq);
		} else if (rc == 0) {
			if (!vq_enable_notify(&vq))
				break;
		} else if (rc != -EAGAIN) {
			break;
		}
	}
	vq_destroy(&vq);
	return 0;
}
