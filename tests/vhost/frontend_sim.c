/*
 * frontend_sim: plays QEMU against the vhost-user-fs transport.  The
 * device runs in a thread of this process with an echo handler (the reply
 * is the request reversed); the test connects to its socket, does the
 * handshake with a memfd as guest RAM, puts chains on the rings and checks
 * the used ring and the reply bytes.  Then the hostile part: bad chains,
 * a broken ring, malformed messages, and reconnecting.  TAP output.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"
#include "vhost/vhost_user.h"
#include "vhost/vu_log.h"
#include "tests/lib/tap.h"

#define F(bit)		(1ull << (bit))
#define ALL_FEATURES	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | \
			 F(VIRTIO_RING_F_INDIRECT_DESC) | F(VHOST_USER_F_PROTOCOL_FEATURES))
#define NREQ		2	/* request queues: queues 0 (hiprio), 1, 2 */
#define NQ		(1 + NREQ)

static struct fe fe;
static char sock_path[108];

static struct {
	unsigned calls[NQ];
	unsigned last_queue;
} stats;


static void
log_to_tap(const char *line)
{
	printf("# fsbridge: vhost: %s\n", line);
	fflush(stdout);
}

/* The device's handler: the reply is the request, reversed. */
static size_t
echo_handler(void *ctx, unsigned qi, const struct vu_chain *c)
{
	static __thread uint8_t buf[64 * 1024];
	size_t n = 0, done = 0;

	for (unsigned i = 0; i < c->out_num && n < sizeof(buf); i++) {
		size_t k = c->out[i].iov_len;

		if (k > sizeof(buf) - n)
			k = sizeof(buf) - n;
		memcpy(buf + n, c->out[i].iov_base, k);
		n += k;
	}
	if (qi < NQ)
		__atomic_add_fetch(&stats.calls[qi], 1, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.last_queue, qi, __ATOMIC_RELAXED);
	if (n >= 7 && memcmp(buf, "NOREPLY", 7) == 0)
		return 0;
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = buf[i];

		buf[i] = buf[n - 1 - i];
		buf[n - 1 - i] = t;
	}
	for (unsigned i = 0; i < c->in_num && done < n; i++) {
		size_t k = c->in[i].iov_len < n - done ? c->in[i].iov_len : n - done;

		memcpy(c->in[i].iov_base, buf + done, k);
		done += k;
	}
	return done;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

/* ---- building chains ---- */

static uint16_t
alloc_desc(unsigned qi)
{
	return (uint16_t)fe.q[qi].next_desc++;
}

/*
 * A good echo request: msg split over nout readable descriptors, a reply
 * area of the same size split over nin writable ones; with indirect, all
 * of them in an indirect table.  Returns the head.
 */
static uint16_t
build_echo(unsigned qi, const char *msg, unsigned nout, unsigned nin, bool indirect)
{
	size_t len = strlen(msg);
	uint64_t table = 0, out = fe_alloc(&fe, len), in = fe_alloc(&fe, len);
	unsigned n = nout + nin, first, slot;
	uint16_t head;

	memcpy(fe_gpa(&fe, out), msg, len);
	memset(fe_gpa(&fe, in), 0xee, len);
	if (indirect) {
		table = fe_alloc(&fe, n * sizeof(struct vq_desc));
		head = alloc_desc(qi);
		fe_desc(&fe, qi, head, table, n * sizeof(struct vq_desc),
			VIRTQ_DESC_F_INDIRECT, 0);
		first = 0;
	} else {
		head = (uint16_t)fe.q[qi].next_desc;
		fe.q[qi].next_desc += n;
		first = head;
	}
	for (unsigned i = 0; i < n; i++) {
		bool w = i >= nout;
		unsigned parts = w ? nin : nout, k = w ? i - nout : i;
		size_t off = len * k / parts, end = len * (k + 1) / parts;
		uint64_t base = w ? in : out;
		uint16_t flags = (w ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		slot = first + i;
		if (indirect)
			fe_table_desc(&fe, table, slot, base + off, end - off, flags, slot + 1);
		else
			fe_desc(&fe, qi, slot, base + off, end - off, flags, slot + 1);
	}
	return head;
}

/* Is the reply area of the echo chain at head the reverse of msg? */
static bool
echo_reply_ok(unsigned qi, uint16_t head, const char *msg, bool indirect)
{
	struct vq_desc *t = fe.q[qi].desc;
	size_t len = strlen(msg), got = 0;
	char *reply = calloc(1, len + 1);
	unsigned i = head;
	bool good = true;

	if (indirect) {
		t = fe_gpa(&fe, t[head].addr);
		i = 0;
	}
	for (;;) {
		if (t[i].flags & VIRTQ_DESC_F_WRITE) {
			memcpy(reply + got, fe_gpa(&fe, t[i].addr), t[i].len);
			got += t[i].len;
		}
		if (!(t[i].flags & VIRTQ_DESC_F_NEXT))
			break;
		i = t[i].next;
	}
	for (size_t k = 0; k < len; k++)
		good &= reply[k] == msg[len - 1 - k];
	free(reply);
	return good && got == len;
}

/* Submit, kick, wait for n used elements. */
static bool
run(unsigned qi, const uint16_t *heads, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fe_submit(&fe, qi, heads[i], false);
	fe_kick(&fe, qi);
	return fe_wait_used(&fe, qi, n, 2000);
}

/* One good echo request on qi, checked and reaped. */
static bool
echo_once(unsigned qi, const char *msg, unsigned nout, unsigned nin, bool indirect)
{
	uint16_t head;
	struct vq_used_elem e;
	bool good;

	fe_reset_alloc(&fe);
	head = build_echo(qi, msg, nout, nin, indirect);
	if (!run(qi, &head, 1))
		return false;
	e = fe_used(&fe, qi, 0);
	good = e.id == head && e.len == strlen(msg) && echo_reply_ok(qi, head, msg, indirect);
	fe_reap(&fe, qi, 1);
	return good;
}

/* ---- the happy path ---- */

static void
test_handshake(void)
{
	uint64_t v = 0;
	int rc;

	checkf(fe_connect(&fe, sock_path) == 0, "connect to the device socket");
	rc = fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &v);
	checkf(rc == 0 && v == ALL_FEATURES,
	   "GET_FEATURES offers VERSION_1, EVENT_IDX, INDIRECT_DESC, PROTOCOL_FEATURES (0x%llx)",
	   (unsigned long long)v);
	checkf(fe_get_u64(&fe, VHOST_USER_GET_PROTOCOL_FEATURES, &v) == 0 &&
	   (v & F(VHOST_USER_PROTOCOL_F_MQ)) && (v & F(VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
	   !(v & F(VHOST_USER_PROTOCOL_F_CONFIG)),
	   "GET_PROTOCOL_FEATURES offers MQ and REPLY_ACK, not CONFIG");
	rc = fe_get_u64(&fe, VHOST_USER_GET_QUEUE_NUM, &v);
	checkf(rc == 0 && v == NQ,
	   "GET_QUEUE_NUM = 1 + request queues (%llu)", (unsigned long long)v);
	checkf(fe_handshake(&fe, ALL_FEATURES) == 0,
	   "handshake with REPLY_ACK acks: features, SET_MEM_TABLE with 2 fds, 3 queues");
}

static void
test_requests(void)
{
	uint16_t heads[3];
	struct vq_used_elem e[3];
	bool good;

	checkf(echo_once(1, "hello, virtio-fs", 1, 1, false),
	   "a direct 2-descriptor chain is echoed, used len = reply bytes");
	checkf(echo_once(1, "a request in three readable parts and two writable ones", 3, 2, false),
	   "a 5-descriptor chain (3 out, 2 in) is echoed");
	checkf(echo_once(2, "indirect: four descriptors in a table", 2, 2, true),
	   "an indirect chain is echoed (queue 2)");
	__atomic_store_n(&stats.last_queue, 99, __ATOMIC_RELAXED);
	checkf(echo_once(0, "hiprio", 1, 1, false) &&
	   __atomic_load_n(&stats.last_queue, __ATOMIC_RELAXED) == 0,
	   "the hiprio queue 0 is served, handler sees queue index 0");

	fe_reset_alloc(&fe);
	heads[0] = build_echo(1, "NOREPLY forget", 1, 1, false);
	checkf(run(1, heads, 1) && fe_used(&fe, 1, 0).id == heads[0] &&
	   fe_used(&fe, 1, 0).len == 0,
	   "a request the handler does not answer still comes back, with length 0");
	fe_reap(&fe, 1, 1);

	fe_reset_alloc(&fe);
	heads[0] = build_echo(1, "first of a batch", 1, 1, false);
	heads[1] = build_echo(1, "second, indirect", 1, 1, true);
	heads[2] = build_echo(1, "third of a batch, in 2+2", 2, 2, false);
	good = run(1, heads, 3);
	for (unsigned i = 0; i < 3; i++)
		e[i] = fe_used(&fe, 1, i);
	checkf(good && e[0].id == heads[0] && e[1].id == heads[1] && e[2].id == heads[2] &&
	   echo_reply_ok(1, heads[0], "first of a batch", false) &&
	   echo_reply_ok(1, heads[1], "second, indirect", true) &&
	   echo_reply_ok(1, heads[2], "third of a batch, in 2+2", false),
	   "a batch of 3 chains after one kick is served in order");
	fe_reap(&fe, 1, 3);
}

/* ---- hostile chains ---- */

typedef uint16_t (*bad_chain_fn)(unsigned qi);

static uint16_t
in_desc(unsigned qi)
{
	uint16_t i = alloc_desc(qi);

	fe_desc(&fe, qi, i, fe_alloc(&fe, 64), 64, VIRTQ_DESC_F_WRITE, 0);
	return i;
}

/* A readable descriptor (addr, len) followed by a writable one. */
static uint16_t
out_then_in(unsigned qi, uint64_t addr, uint32_t len)
{
	uint16_t h = alloc_desc(qi), w = in_desc(qi);

	fe_desc(&fe, qi, h, addr, len, VIRTQ_DESC_F_NEXT, w);
	return h;
}

static uint16_t bad_outside(unsigned qi) { return out_then_in(qi, 0x80000000ull, 64); }
static uint16_t bad_wrap(unsigned qi) { return out_then_in(qi, UINT64_MAX - 0x3f, 0x80); }
static uint16_t bad_cross_r0(unsigned qi) { return out_then_in(qi, FE_REGION - 32, 64); }
static uint16_t bad_cross_r1(unsigned qi)
{
	return out_then_in(qi, FE_R1_GPA + FE_REGION - 8, 16);
}
static uint16_t bad_huge(unsigned qi) { return out_then_in(qi, 0x100000, 0xfffffff0u); }

static uint16_t
bad_loop(unsigned qi)
{
	uint16_t a = alloc_desc(qi), b = alloc_desc(qi);

	fe_desc(&fe, qi, a, fe_alloc(&fe, 8), 8, VIRTQ_DESC_F_NEXT, b);
	fe_desc(&fe, qi, b, fe_alloc(&fe, 8), 8, VIRTQ_DESC_F_NEXT, a);
	return a;
}

static uint16_t
bad_self_loop(unsigned qi)
{
	uint16_t a = alloc_desc(qi);

	fe_desc(&fe, qi, a, fe_alloc(&fe, 8), 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, a);
	return a;
}

static uint16_t
bad_next_range(unsigned qi)
{
	uint16_t a = alloc_desc(qi);

	fe_desc(&fe, qi, a, fe_alloc(&fe, 8), 8, VIRTQ_DESC_F_NEXT, 40);
	return a;
}

static uint16_t
bad_out_after_in(unsigned qi)
{
	uint16_t a = alloc_desc(qi), b = alloc_desc(qi);

	fe_desc(&fe, qi, a, fe_alloc(&fe, 8), 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, b);
	fe_desc(&fe, qi, b, fe_alloc(&fe, 8), 8, 0, 0);
	return a;
}

/* An indirect descriptor to a table of n entries (n*16 bytes unless len). */
static uint16_t
indirect_to(unsigned qi, unsigned n, uint32_t len, uint16_t first_flags)
{
	uint64_t table = fe_alloc(&fe, (n + 1) * sizeof(struct vq_desc));
	uint16_t h = alloc_desc(qi);

	for (unsigned i = 0; i < n; i++)
		fe_table_desc(&fe, table, i, fe_alloc(&fe, 8), 8,
			      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) | (i == 0 ? first_flags : 0),
			      i + 1);
	fe_desc(&fe, qi, h, table, len, VIRTQ_DESC_F_INDIRECT, 0);
	return h;
}

static uint16_t bad_indirect_long(unsigned qi)
{
	return indirect_to(qi, FE_QSIZE + 1, (FE_QSIZE + 1) * 16, 0);
}
static uint16_t bad_indirect_len(unsigned qi) { return indirect_to(qi, 2, 24, 0); }
static uint16_t bad_indirect_zero(unsigned qi) { return indirect_to(qi, 1, 0, 0); }
static uint16_t bad_indirect_nested(unsigned qi)
{
	return indirect_to(qi, 2, 32, VIRTQ_DESC_F_INDIRECT);
}

static uint16_t
bad_indirect_outside(unsigned qi)
{
	uint16_t h = alloc_desc(qi);

	fe_desc(&fe, qi, h, 0x90000000ull, 64, VIRTQ_DESC_F_INDIRECT, 0);
	return h;
}

static uint16_t
bad_indirect_next(unsigned qi)
{
	uint16_t h = indirect_to(qi, 2, 32, 0), w = in_desc(qi);

	fe.q[qi].desc[h].flags |= VIRTQ_DESC_F_NEXT;
	fe.q[qi].desc[h].next = w;
	return h;
}

/* 15 readable descriptors, then an indirect table of 16: 31 buffers > 16. */
static uint16_t
bad_too_many_buffers(unsigned qi)
{
	uint16_t first = (uint16_t)fe.q[qi].next_desc;

	for (unsigned i = 0; i < FE_QSIZE - 1; i++) {
		uint16_t d = alloc_desc(qi);

		fe_desc(&fe, qi, d, fe_alloc(&fe, 8), 8, VIRTQ_DESC_F_NEXT, d + 1);
	}
	indirect_to(qi, FE_QSIZE, FE_QSIZE * 16, 0);
	return first;
}

/* Five 1 MiB buffers (the same memory) exceed the 4 MiB + 64 KiB cap. */
static uint16_t
bad_too_many_bytes(unsigned qi)
{
	uint16_t first = (uint16_t)fe.q[qi].next_desc;

	for (unsigned i = 0; i < 5; i++) {
		uint16_t d = alloc_desc(qi);

		fe_desc(&fe, qi, d, FE_R1_GPA, 1u << 20, i < 4 ? VIRTQ_DESC_F_NEXT : 0, d + 1);
	}
	return first;
}

static uint16_t bad_head_range(unsigned qi) { return FE_QSIZE + 3; }

static const struct {
	const char *name;
	bad_chain_fn build;
} bad_chains[] = {
	{ "a buffer outside guest memory", bad_outside },
	{ "an address + length that wraps around 2^64", bad_wrap },
	{ "a buffer crossing the end of region 0", bad_cross_r0 },
	{ "a buffer crossing the end of region 1", bad_cross_r1 },
	{ "a huge length (0xfffffff0)", bad_huge },
	{ "a descriptor loop (a -> b -> a)", bad_loop },
	{ "a descriptor pointing to itself", bad_self_loop },
	{ "a next index beyond the queue", bad_next_range },
	{ "a readable descriptor after a writable one", bad_out_after_in },
	{ "an indirect table longer than the queue", bad_indirect_long },
	{ "an indirect table length not a multiple of 16", bad_indirect_len },
	{ "an indirect table of length 0", bad_indirect_zero },
	{ "a nested indirect descriptor", bad_indirect_nested },
	{ "an indirect table outside guest memory", bad_indirect_outside },
	{ "an indirect descriptor with NEXT set", bad_indirect_next },
	{ "a chain with more buffers than the queue size", bad_too_many_buffers },
	{ "a chain over the byte limit", bad_too_many_bytes },
	{ "a head index beyond the queue", bad_head_range },
};

static void
test_bad_chains(void)
{
	for (size_t i = 0; i < sizeof(bad_chains) / sizeof(bad_chains[0]); i++) {
		uint16_t head;
		struct vq_used_elem e;
		bool got;

		fe_reset_alloc(&fe);
		head = bad_chains[i].build(1);
		got = run(1, &head, 1);
		e = fe_used(&fe, 1, 0);
		if (got)
			fe_reap(&fe, 1, 1);
		checkf(got && e.id == head && e.len == 0 && echo_once(1, "still served", 1, 1, false),
		   "refused and returned with length 0, next request served: %s",
		   bad_chains[i].name);
	}
}

/* A bad chain between two good ones in one batch. */
static void
test_bad_in_batch(void)
{
	uint16_t heads[3];
	bool got;

	fe_reset_alloc(&fe);
	heads[0] = build_echo(1, "before the bad one", 1, 1, false);
	heads[1] = bad_loop(1);
	heads[2] = build_echo(1, "after the bad one", 1, 1, false);
	got = run(1, heads, 3);
	checkf(got && fe_used(&fe, 1, 0).id == heads[0] &&
	   fe_used(&fe, 1, 1).id == heads[1] && fe_used(&fe, 1, 1).len == 0 &&
	   fe_used(&fe, 1, 2).id == heads[2] &&
	   echo_reply_ok(1, heads[0], "before the bad one", false) &&
	   echo_reply_ok(1, heads[2], "after the bad one", false),
	   "a bad chain inside a batch: the good ones around it are served");
	if (got)
		fe_reap(&fe, 1, 3);
}

/* ---- notification, ring state ---- */

static void
sleep_ms(int ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

static void
test_event_idx(void)
{
	struct fe_queue *q = &fe.q[1];
	uint16_t avail_event;

	checkf(echo_once(1, "warm up", 1, 1, false), "event idx: a request completes");
	sleep_ms(50);
	memcpy(&avail_event, &q->used->ring[FE_QSIZE], sizeof(avail_event));
	checkf(avail_event == q->avail_idx,
	   "event idx: the device asks for a kick at the next entry (avail_event %u = %u)",
	   avail_event, q->avail_idx);
	fe_take_call(&fe, 1);
	q->avail->ring[FE_QSIZE] = (uint16_t)(q->used_seen + 5);	/* used_event far */
	checkf(echo_once(1, "quiet please", 1, 1, false) && (sleep_ms(50), fe_take_call(&fe, 1) == 0),
	   "event idx: no call when used_event is not reached");
	/* fe_reap set used_event to used_seen: the next one must call */
	checkf(echo_once(1, "call me", 1, 1, false) && (sleep_ms(50), fe_take_call(&fe, 1) > 0),
	   "event idx: a call when used_event is reached");
}

static double
cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define LONG_POLL_USEC	300000	/* long enough for the test to act within it */

/*
 * Polling (vu_dev_set_poll): a chain put on the ring while the worker
 * polls is served without a kick, kicks are suppressed meanwhile (used->flags
 * without EVENT_IDX), and once the bound has passed the worker sleeps:
 * kicks wanted again, no CPU spent while idle.
 */
static void
test_poll(struct vu_dev *dev, const char *how)
{
	struct fe_queue *q = &fe.q[1];
	uint16_t head, avail_event, flags;
	double cpu;
	bool got;

	vu_dev_set_poll(dev, LONG_POLL_USEC);
	fe_take_call(&fe, 1);
	checkf(echo_once(1, "poll on", 1, 1, false), "poll (%s): a request completes with polling on", how);
	flags = __atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE);
	if (!(fe.features & F(VIRTIO_RING_F_EVENT_IDX)))
		checkf(flags & VIRTQ_USED_F_NO_NOTIFY,
		   "poll (%s): while the worker polls, used->flags asks for no kick", how);
	fe_reset_alloc(&fe);
	head = build_echo(1, "no kick needed", 1, 1, false);
	fe_submit(&fe, 1, head, false);
	got = fe_wait_used(&fe, 1, 1, LONG_POLL_USEC / 1000 / 2);
	checkf(got && fe_used(&fe, 1, 0).id == head && echo_reply_ok(1, head, "no kick needed", false),
	   "poll (%s): a chain put on the ring within the poll time is served without a kick", how);
	if (got)
		fe_reap(&fe, 1, 1);
	sleep_ms(LONG_POLL_USEC / 1000 + 200);
	memcpy(&avail_event, &q->used->ring[FE_QSIZE], sizeof(avail_event));
	flags = __atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE);
	checkf((fe.features & F(VIRTIO_RING_F_EVENT_IDX)) ? avail_event == q->avail_idx : !(flags & VIRTQ_USED_F_NO_NOTIFY),
	   "poll (%s): after the poll time the device asks for kicks again", how);
	cpu = cpu_seconds();
	sleep_ms(2000);
	cpu = cpu_seconds() - cpu;
	checkf(cpu < 0.05, "poll (%s): no CPU spent while idle after the poll time "
	   "(%.3f s of CPU in 2 s)", how, cpu);
	fe_reset_alloc(&fe);
	head = build_echo(1, "kick needed again", 1, 1, false);
	fe_submit(&fe, 1, head, false);
	got = fe_wait_used(&fe, 1, 1, 100);
	checkf(!got, "poll (%s): polling stopped: a chain without a kick waits", how);
	fe_kick(&fe, 1);
	got = fe_wait_used(&fe, 1, 1, 2000);
	checkf(got && echo_reply_ok(1, head, "kick needed again", false),
	   "poll (%s): the kick gets it served", how);
	if (got)
		fe_reap(&fe, 1, 1);
	/* the tests after this one run with a short poll: stops while polling */
	vu_dev_set_poll(dev, 1000);
}

static void
test_vring_base(void)
{
	struct vhost_user_vring_state st = { .index = 1 };
	uint16_t head;
	bool stopped;

	fe_send(&fe, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	checkf(fe_recv_reply(&fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st)) == 0 &&
	   st.index == 1 && st.num == fe.q[1].avail_idx,
	   "GET_VRING_BASE returns the next avail index (%u)", st.num);
	fe_reset_alloc(&fe);
	head = build_echo(1, "after stop", 1, 1, false);
	fe_submit(&fe, 1, head, true);
	stopped = !fe_wait_used(&fe, 1, 1, 200);
	checkf(stopped, "after GET_VRING_BASE the ring is stopped (a kick does nothing)");
	checkf(fe_setup_queue(&fe, 1, (uint16_t)st.num) == 0 && fe_wait_used(&fe, 1, 1, 2000) &&
	   fe_used(&fe, 1, 0).id == head && echo_reply_ok(1, head, "after stop", false),
	   "restarted at that base, the pending chain is served");
	fe_reap(&fe, 1, 1);
}

static void
test_broken_ring(void)
{
	struct fe_queue *q = &fe.q[2];
	uint16_t saved = q->avail_idx;
	struct vhost_user_vring_state st = { .index = 2 };

	__atomic_store_n(&q->avail->idx, (uint16_t)(saved + 100), __ATOMIC_RELEASE);
	fe_kick(&fe, 2);
	sleep_ms(100);
	checkf(echo_once(1, "queue 1 lives on", 1, 1, false),
	   "an avail index 100 ahead breaks only its own queue; queue 1 is served");
	fe_send(&fe, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	checkf(fe_recv_reply(&fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st)) == 0 && st.num == saved,
	   "the broken queue reports its base %u, nothing was consumed", st.num);
	__atomic_store_n(&q->avail->idx, saved, __ATOMIC_RELEASE);
	checkf(fe_setup_queue(&fe, 2, saved) == 0 && echo_once(2, "queue 2 again", 1, 1, false),
	   "set up again, the queue works");
}

static void
test_mem_table_replace(void)
{
	struct vhost_user_memory m;
	uint32_t size;
	uint64_t ack = 1;

	fe_mem_table(&fe, &m, &size);
	fe_send(&fe, VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK,
		&m, size, (int[]){ fe.memfd, fe.memfd }, 2);
	checkf(fe_recv_reply(&fe, VHOST_USER_SET_MEM_TABLE, &ack, 8) == 0 && ack == 0 &&
	   echo_once(1, "after the new table", 1, 1, false) &&
	   echo_once(2, "queue 2 too", 2, 1, true),
	   "SET_MEM_TABLE while the rings run: they are remapped and go on");
}

/* ---- other connections ---- */

static void
test_reconnect_plain(void)
{
	uint16_t head;
	bool got;

	fe_disconnect(&fe);
	checkf(fe_connect(&fe, sock_path) == 0 &&
	   fe_handshake(&fe, F(VIRTIO_F_VERSION_1) | F(VHOST_USER_F_PROTOCOL_FEATURES)) == 0,
	   "a second front-end connects after the first left, handshake without "
	   "EVENT_IDX and INDIRECT_DESC");
	checkf(echo_once(1, "second connection", 2, 2, false), "the second front-end is served");
	fe_reset_alloc(&fe);
	head = build_echo(1, "indirect not negotiated", 1, 1, true);
	got = run(1, &head, 1);
	checkf(got && fe_used(&fe, 1, 0).len == 0,
	   "an indirect chain is refused when INDIRECT_DESC was not negotiated");
	if (got)
		fe_reap(&fe, 1, 1);
	fe_take_call(&fe, 1);
	fe.q[1].avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	checkf(echo_once(1, "no interrupt", 1, 1, false) && (sleep_ms(50), fe_take_call(&fe, 1) == 0),
	   "without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT suppresses the call");
	fe.q[1].avail->flags = 0;
	checkf(echo_once(1, "interrupt", 1, 1, false) && (sleep_ms(50), fe_take_call(&fe, 1) > 0),
	   "without EVENT_IDX: a call after each used buffer otherwise");
}

static int
send_mem_reg(uint32_t request, uint64_t gpa, uint64_t uaddr, uint64_t off, int fd)
{
	struct vhost_user_memory_single r = {
		.region = { .guest_phys_addr = gpa, .memory_size = FE_REGION,
			    .userspace_addr = uaddr, .mmap_offset = off },
	};
	uint64_t ack = 1;
	int rc;

	rc = fe_send(&fe, request, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, &r,
		     sizeof(r), &fd, fd >= 0 ? 1 : 0);
	if (rc == 0)
		rc = fe_recv_reply(&fe, request, &ack, 8);
	return rc < 0 ? rc : (int)ack;
}

/* CONFIGURE_MEM_SLOTS: the table built with ADD_MEM_REG, shrunk by REM_MEM_REG. */
static void
test_mem_slots(void)
{
	uint64_t v = 0, feats = ALL_FEATURES;
	uint64_t u0 = (uint64_t)(uintptr_t)fe.ram, u1 = u0 + FE_REGION;
	uint64_t pf = F(VHOST_USER_PROTOCOL_F_MQ) | F(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
		      F(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	uint16_t head;
	bool got, good;

	fe_disconnect(&fe);
	fe.protocol_features = 0;
	good = fe_connect(&fe, sock_path) == 0 &&
	       fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &v) == 0 &&
	       fe_set_u64(&fe, VHOST_USER_SET_PROTOCOL_FEATURES, pf) == 0 &&
	       (fe.protocol_features = pf, fe_get_u64(&fe, VHOST_USER_GET_MAX_MEM_SLOTS, &v)) == 0;
	checkf(good && v == 32, "CONFIGURE_MEM_SLOTS: GET_MAX_MEM_SLOTS = %llu", (unsigned long long)v);
	checkf(fe_set_u64(&fe, VHOST_USER_SET_FEATURES, feats) == 0 &&
	   send_mem_reg(VHOST_USER_ADD_MEM_REG, 0, u0, 0, fe.memfd) == 0 &&
	   send_mem_reg(VHOST_USER_ADD_MEM_REG, FE_R1_GPA, u1, FE_REGION, fe.memfd) == 0,
	   "ADD_MEM_REG twice is acked");
	for (unsigned i = 0; i < NQ; i++) {
		memset(fe.q[i].desc, 0, 0x3000);
		fe.q[i].avail_idx = fe.q[i].used_seen = 0;
	}
	checkf(fe_setup_queue(&fe, 1, 0) == 0 && echo_once(1, "memory from ADD_MEM_REG", 1, 1, false),
	   "rings in added regions work");
	fe_reset_alloc(&fe);
	head = out_then_in(1, FE_R1_GPA + 4096, 64);
	got = run(1, &head, 1);
	checkf(got && fe_used(&fe, 1, 0).len > 0, "a buffer in region 1 is served");
	if (got)
		fe_reap(&fe, 1, 1);
	checkf(send_mem_reg(VHOST_USER_REM_MEM_REG, FE_R1_GPA, u1, 0, -1) == 0,
	   "REM_MEM_REG of region 1 is acked");
	fe_reset_alloc(&fe);
	head = out_then_in(1, FE_R1_GPA + 4096, 64);
	got = run(1, &head, 1);
	checkf(got && fe_used(&fe, 1, 0).len == 0 && (fe_reap(&fe, 1, 1), true) &&
	   echo_once(1, "region 0 still there", 1, 1, false),
	   "after REM_MEM_REG a buffer there is refused, region 0 still served");
}

/* ---- malformed messages: each one drops the connection, leaks no fd ---- */

static int fd_baseline;

typedef void (*malformed_fn)(void);

static void
handshake_to_mem(void)
{
	uint64_t v;

	fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &v);
	fe_send(&fe, VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, &(uint64_t){ ALL_FEATURES },
		8, NULL, 0);
}

static void
send_raw(uint32_t request, uint32_t flags, const void *p, uint32_t size, const int *fds,
	 int nfds)
{
	fe_send(&fe, request, flags, p, size, fds, nfds);
}

static void m_bad_version(void) { send_raw(VHOST_USER_GET_FEATURES, 0x2, NULL, 0, NULL, 0); }
static void m_reply_flag(void)
{
	send_raw(VHOST_USER_GET_FEATURES, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
		 NULL, 0, NULL, 0);
}
static void m_size_mismatch(void)
{
	send_raw(VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION, &(uint32_t){ 1 }, 4, NULL, 0);
}
static void m_oversize(void)
{
	send_raw(VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, NULL, 1u << 20, NULL, 0);
}
static void m_unknown(void) { send_raw(99, VHOST_USER_VERSION, NULL, 0, NULL, 0); }

static void
mem_table_with(unsigned nregions, uint64_t off1, int nfds, const int *fds)
{
	struct vhost_user_memory m;
	uint32_t size;

	fe_mem_table(&fe, &m, &size);
	m.regions[1].mmap_offset = off1;
	m.nregions = nregions;
	size = 8 + nregions * sizeof(struct vhost_user_memory_region);
	handshake_to_mem();
	send_raw(VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, size, fds, nfds);
}

static void m_regions_vs_fds(void) { mem_table_with(2, FE_REGION, 1, &fe.memfd); }
static void m_beyond_fd(void)
{
	mem_table_with(2, 2 * FE_REGION - 4096, 2, (int[]){ fe.memfd, fe.memfd });
}

static void
m_too_many_regions(void)
{
	uint8_t buf[8 + 9 * 32] = { 0 };

	buf[0] = 9;
	send_raw(VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, buf, sizeof(buf), NULL, 0);
}

static void
m_too_many_fds(void)
{
	int fds[9];

	for (int i = 0; i < 9; i++)
		fds[i] = fe.memfd;
	mem_table_with(8, FE_REGION, 9, fds);
}

static void
m_not_a_file(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	mem_table_with(2, FE_REGION, 2, (int[]){ fe.memfd, efd });
	close(efd);
}

static void
m_zero_region(void)
{
	struct vhost_user_memory m = { .nregions = 1 };

	m.regions[0].userspace_addr = 0x1000;
	send_raw(VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, 8 + 32, &fe.memfd, 1);
}

static void
m_overlap(void)
{
	struct vhost_user_memory m;
	uint32_t size;

	fe_mem_table(&fe, &m, &size);
	m.regions[1].guest_phys_addr = FE_REGION - 4096;
	send_raw(VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, size,
		 (int[]){ fe.memfd, fe.memfd }, 2);
}

static void
m_kick_index(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	send_raw(VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, &(uint64_t){ 200 }, 8, &efd, 1);
	close(efd);
}

static void
m_kick_no_fd(void)
{
	send_raw(VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, &(uint64_t){ 1 }, 8, NULL, 0);
}

static void
m_vring_num(void)
{
	struct vhost_user_vring_state st = { .index = 1, .num = 1000 };

	send_raw(VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
}

static void
m_addr_outside(void)
{
	struct vhost_user_memory m;
	struct vhost_user_vring_state st = { .index = 1, .num = FE_QSIZE };
	struct vhost_user_vring_addr a = {
		.index = 1, .desc_user_addr = 0x10, .used_user_addr = 0x20, .avail_user_addr = 0x30,
	};
	uint32_t size;

	handshake_to_mem();
	fe_mem_table(&fe, &m, &size);
	send_raw(VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, &m, size,
		 (int[]){ fe.memfd, fe.memfd }, 2);
	send_raw(VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION, &st, sizeof(st), NULL, 0);
	send_raw(VHOST_USER_SET_VRING_ADDR, VHOST_USER_VERSION, &a, sizeof(a), NULL, 0);
}

static void
m_fd_with_get(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	send_raw(VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, NULL, 0, &efd, 1);
	close(efd);
}

static void
m_unoffered_feature(void)
{
	send_raw(VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, &(uint64_t){ F(0) }, 8, NULL, 0);
}

static void
m_truncated(void)
{
	struct vhost_user_hdr h = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 8 };
	char half[sizeof(h) + 4] = { 0 };

	memcpy(half, &h, sizeof(h));
	if (write(fe.sock, half, sizeof(half)) < 0)
		return;
	shutdown(fe.sock, SHUT_WR);
}

static void
m_add_reg_no_fd(void)
{
	struct vhost_user_memory_single r = { .region = { .memory_size = 4096 } };

	send_raw(VHOST_USER_ADD_MEM_REG, VHOST_USER_VERSION, &r, sizeof(r), NULL, 0);
}

static const struct {
	const char *name;
	malformed_fn send;
} malformed[] = {
	{ "version bits 2 in flags", m_bad_version },
	{ "the reply flag on a request", m_reply_flag },
	{ "SET_VRING_NUM with a 4-byte payload", m_size_mismatch },
	{ "a 1 MiB payload size", m_oversize },
	{ "unknown request type 99", m_unknown },
	{ "SET_MEM_TABLE with 2 regions and 1 fd", m_regions_vs_fds },
	{ "a region whose mmap offset + size is beyond the fd size", m_beyond_fd },
	{ "SET_MEM_TABLE with 9 regions", m_too_many_regions },
	{ "SET_MEM_TABLE with 9 fds", m_too_many_fds },
	{ "a region backed by an eventfd", m_not_a_file },
	{ "a region of size 0", m_zero_region },
	{ "overlapping regions", m_overlap },
	{ "SET_VRING_KICK for queue 200", m_kick_index },
	{ "SET_VRING_KICK without fd and without the no-fd flag", m_kick_no_fd },
	{ "SET_VRING_NUM 1000 (not a power of two)", m_vring_num },
	{ "SET_VRING_ADDR outside guest memory", m_addr_outside },
	{ "GET_FEATURES carrying an fd", m_fd_with_get },
	{ "SET_FEATURES with a bit not offered", m_unoffered_feature },
	{ "a message cut short by EOF", m_truncated },
	{ "ADD_MEM_REG without its fd", m_add_reg_no_fd },
};

static int
count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool
fds_back_to_baseline(void)
{
	for (int i = 0; i < 200; i++) {
		if (count_fds() == fd_baseline)
			return true;
		sleep_ms(5);
	}
	return false;
}

static void
test_malformed(void)
{
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		bool dropped;

		fe.protocol_features = 0;
		if (fe_connect(&fe, sock_path) < 0) {
			checkf(false, "connect for: %s", malformed[i].name);
			continue;
		}
		malformed[i].send();
		dropped = fe_wait_eof(&fe, 2000);
		fe_disconnect(&fe);
		if (!fds_back_to_baseline())
			printf("# open fds: %d, expected %d\n", count_fds(), fd_baseline);
		checkf(dropped && count_fds() == fd_baseline,
		   "connection dropped, no fd leaked: %s", malformed[i].name);
	}
	checkf(fe_connect(&fe, sock_path) == 0 && fe_handshake(&fe, ALL_FEATURES) == 0 &&
	   echo_once(1, "after all that", 1, 1, false) &&
	   echo_once(2, "still fine", 1, 2, true),
	   "after the malformed messages a new front-end is served");
	/* main + serve thread + one worker per queue, after many ring restarts */
	checkf(count_threads() == 2 + NQ, "threads stay bounded: %d (main, serve, %d workers)",
	   count_threads(), NQ);
}

/* ---- the socket path ---- */

static void *
serve_thread(void *arg)
{
	vu_dev_serve(arg, false);
	return NULL;
}

static void
test_socket_path(const char *dir)
{
	char path[128];
	struct vu_dev *other;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	checkf(vu_dev_new(sock_path, 1, echo_handler, NULL, &other) == -EADDRINUSE,
	   "a second device on a live socket is refused (-EADDRINUSE)");
	snprintf(path, sizeof(path), "%s/regular", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	checkf(vu_dev_new(path, 1, echo_handler, NULL, &other) == -EEXIST,
	   "a path holding a regular file is refused (-EEXIST), the file stays");
	unlink(path);
	snprintf(path, sizeof(path), "%s/stale", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);	/* dir is short */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	rc = rc == 0 ? vu_dev_new(path, 1, echo_handler, NULL, &other) : -1;
	checkf(rc == 0, "a stale socket is removed and the path reused");
	if (rc == 0)
		vu_dev_free(other);
	checkf(vu_dev_new(path, 0, echo_handler, NULL, &other) == -EINVAL &&
	   vu_dev_new(path, VU_MAX_REQUEST_QUEUES + 1, echo_handler, NULL, &other) == -EINVAL,
	   "0 or too many request queues are refused");
}

int
main(void)
{
	char dir[] = "/tmp/vhost-sim.XXXXXX";
	struct vu_dev *dev;
	pthread_t serve;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	vu_set_log_fn(log_to_tap);
	if (mkdtemp(dir) == NULL || fe_init(&fe, NQ) < 0) {
		printf("1..0 # SKIP cannot create a temporary dir or a memfd\n");
		return 0;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/vhost.sock", dir);
	rc = vu_dev_new(sock_path, NREQ, echo_handler, NULL, &dev);
	checkf(rc == 0, "the device listens on %s", "its socket");
	if (rc < 0) {
		printf("1..%d\n", tap_test_no);
		return 1;
	}
	pthread_create(&serve, NULL, serve_thread, dev);
	fd_baseline = count_fds();

	test_handshake();
	test_requests();
	test_bad_chains();
	test_bad_in_batch();
	test_event_idx();
	test_poll(dev, "event idx");
	test_vring_base();
	test_broken_ring();
	test_mem_table_replace();
	test_reconnect_plain();
	test_poll(dev, "no event idx");
	test_mem_slots();
	fe_disconnect(&fe);
	test_malformed();
	fe_disconnect(&fe);
	test_socket_path(dir);

	vu_dev_stop(dev);
	checkf(pthread_join(serve, NULL) == 0, "vu_dev_stop ends vu_dev_serve");
	vu_dev_free(dev);
	checkf(access(sock_path, F_OK) < 0, "vu_dev_free removes the socket");
	fe_fini(&fe);
	rmdir(dir);
	return tap_done();
}
