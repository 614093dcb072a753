/*
 * fuse_uring: FUSE over io_uring for the host mount (see fuse_uring.h;
 * the protocol in fuse_uring_proto.h, after Linux's fs/fuse/dev_uring.c).
 *
 * The kernel keeps one request queue per possible CPU and hands a
 * request to the queue of the CPU its caller runs on; it uses the rings
 * only once every queue has an entry registered, and until then (and for
 * FORGET and INTERRUPT always) it goes on using /dev/fuse.  So: one
 * thread per queue, pinned to its CPU (the caller and the server then
 * meet on one core, without a cross-CPU wakeup), each with its own ring
 * of FUSE_URING_DEPTH entries.  An entry is a header block and a payload
 * buffer the size of the largest request; the payload sits behind a gap
 * where the in-header and the op struct are copied, so that the request
 * is one contiguous buffer for fuse_session_process_buf() without moving
 * its data.  The reply comes back through the session's writev
 * (fuse_uring_reply, by the thread-local current entry) into the same
 * entry, and COMMIT_AND_FETCH hands it to the kernel while waiting for
 * the next request: one system call a request.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "share.h"
#include "fuse_killpriv.h"
#include "fuse_uring.h"
#include "fuse_uring_proto.h"
#include "log.h"

#define FUSE_URING_DEPTH	8
#define FUSE_URING_PARAM	"/sys/module/fuse/parameters/enable_uring"
/* before the payload: the in-header and the largest op struct */
#define FUSE_URING_GAP		(sizeof(struct fuse_in_header) + FSB_FUSE_URING_OP_IN_OUT_SZ)
/* zeros after a request (names end inside the buffer) */
#define FUSE_URING_PAD		16

struct fuse_uring_queue;

struct fuse_uring_ent {
	struct fuse_uring_queue *q;
	struct fsb_fuse_uring_req_header *hdr;
	char *buf;		/* FUSE_URING_GAP + payload + FUSE_URING_PAD */
	char *payload;
	struct iovec iov[2];	/* what REGISTER gives the kernel */
	uint64_t commit_id;
	enum fsb_fuse_uring_cmd last;
	bool live;		/* registered, not ended by the kernel */
};

struct fuse_uring_queue {
	struct fuse_uring *r;
	unsigned qid;
	struct io_uring ring;
	bool ring_ok;
	int stopfd;		/* eventfd: wakes the thread to stop */
	pthread_t tid;
	bool started;
	unsigned live;
	unsigned long long served;
	struct fuse_uring_ent ent[FUSE_URING_DEPTH];
};

struct fuse_uring {
	struct fuse_session *se;
	int devfd;
	unsigned nq;
	size_t payload;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go, stop;
	bool warned;		/* a registration failure was logged */
	struct fuse_uring_queue *q;
};

/* The request this thread is handling, for its reply. */
struct fuse_uring_cur {
	struct fuse_uring_ent *ent;
	uint64_t unique;
	bool replied;
};

static __thread struct fuse_uring_cur *fuse_uring_current;

int
fuse_uring_probe(const char **why)
{
	struct io_uring ring;
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
	char v = 0;
	int fd, rc;

	fd = open(FUSE_URING_PARAM, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = "this kernel has no FUSE over io_uring (Linux 6.14 or later, "
		    "CONFIG_FUSE_IO_URING; load the fuse module)";
		return -ENOTSUP;
	}
	if (read(fd, &v, 1) != 1)
		v = 0;
	close(fd);
	if (v != 'Y' && v != '1') {
		*why = "FUSE over io_uring is off in the kernel (as root: "
		    "echo 1 > " FUSE_URING_PARAM ")";
		return -ENOTSUP;
	}
	rc = io_uring_queue_init_params(2, &ring, &p);
	if (rc != 0) {
		*why = rc == -EPERM ? "io_uring is not allowed to this process "
		    "(sysctl kernel.io_uring_disabled)" :
		    "io_uring with 128-byte entries cannot be set up here";
		return rc;
	}
	io_uring_queue_exit(&ring);
	return 0;
}

/* The kernel's number of queues: its possible CPUs ("0-3" or "0"). */
static unsigned
fuse_uring_possible_cpus(void)
{
	char line[256], *p;
	unsigned long last = 0;
	FILE *f;

	f = fopen("/sys/devices/system/cpu/possible", "re");
	if (f == NULL)
		return (unsigned)get_nprocs_conf();
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return (unsigned)get_nprocs_conf();
	}
	fclose(f);
	/* the highest CPU number is the last number on the line */
	for (p = line; *p != '\0'; p++)
		if (p == line || p[-1] == '-' || p[-1] == ',')
			last = strtoul(p, NULL, 10);
	return (unsigned)last + 1;
}

static int
fuse_uring_queue_ring(struct fuse_uring_queue *q, int devfd)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
		.cq_entries = 2 * (FUSE_URING_DEPTH + 1),
	};
	int rc;

	q->stopfd = eventfd(0, EFD_CLOEXEC);
	if (q->stopfd < 0)
		return -errno;
	rc = io_uring_queue_init_params(FUSE_URING_DEPTH + 1, &q->ring, &p);
	if (rc != 0)
		return rc;
	q->ring_ok = true;
	/* /dev/fuse as fixed file 0: no fd lookup per command */
	return io_uring_register_files(&q->ring, &devfd, 1);
}

int
fuse_uring_new(struct fuse_session *se, int devfd, struct fuse_uring **out)
{
	struct fuse_uring *r;
	unsigned i;
	int rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->se = se;
	r->devfd = devfd;
	r->nq = fuse_uring_possible_cpus();
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->q = calloc(r->nq, sizeof(*r->q));
	if (r->q == NULL) {
		fuse_uring_free(r);
		return -ENOMEM;
	}
	for (i = 0; i < r->nq; i++) {
		r->q[i].r = r;
		r->q[i].qid = i;
		r->q[i].stopfd = -1;
	}
	for (i = 0; i < r->nq; i++) {
		rc = fuse_uring_queue_ring(&r->q[i], devfd);
		if (rc != 0) {
			fuse_uring_free(r);
			return rc;
		}
	}
	*out = r;
	return 0;
}

bool
fuse_uring_init_offered(const void *req, size_t len)
{
	struct fuse_in_header h;
	struct fuse_init_in in;

	if (len < sizeof(h) + offsetof(struct fuse_init_in, flags2) + sizeof(in.flags2))
		return false;
	memcpy(&h, req, sizeof(h));
	if (h.opcode != FUSE_INIT)
		return false;
	memset(&in, 0, sizeof(in));
	memcpy(&in, (const char *)req + sizeof(h),
	    len - sizeof(h) < sizeof(in) ? len - sizeof(h) : sizeof(in));
	return in.major == FUSE_KERNEL_VERSION && (in.flags & FSB_FUSE_INIT_EXT) &&
	    (in.flags2 & FSB_FUSE_OVER_IO_URING_FLAGS2);
}

/* One entry's buffers, sized for the largest request. */
static int
fuse_uring_ent_alloc(struct fuse_uring_ent *e, struct fuse_uring_queue *q, size_t payload)
{
	e->q = q;
	e->hdr = calloc(1, sizeof(*e->hdr));
	e->buf = malloc(FUSE_URING_GAP + payload + FUSE_URING_PAD);
	if (e->hdr == NULL || e->buf == NULL)
		return -ENOMEM;
	e->payload = e->buf + FUSE_URING_GAP;
	e->iov[0].iov_base = e->hdr;
	e->iov[0].iov_len = sizeof(*e->hdr);
	e->iov[1].iov_base = e->payload;
	e->iov[1].iov_len = payload;
	return 0;
}

/* Queue a REGISTER or COMMIT_AND_FETCH for e (submitted by the loop). */
static int
fuse_uring_prep(struct fuse_uring_ent *e, enum fsb_fuse_uring_cmd cmd)
{
	struct fuse_uring_queue *q = e->q;
	struct fsb_fuse_uring_cmd_req req = { .qid = (uint16_t)q->qid };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (sqe == NULL)
		return -EBUSY;	/* cannot happen: an SQE per entry */
	if (cmd == FSB_FUSE_IO_URING_CMD_REGISTER)
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 0, e->iov, 2, 0);
	else
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 0, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->cmd_op = cmd;
	req.commit_id = cmd == FSB_FUSE_IO_URING_CMD_COMMIT_AND_FETCH ? e->commit_id : 0;
	memset(sqe->cmd, 0, 80);
	memcpy(sqe->cmd, &req, sizeof(req));
	io_uring_sqe_set_data(sqe, e);
	e->last = cmd;
	return 0;
}

/* The reply, from fuse_uring_reply; none at all means a bug in an op:
 * the kernel would wait for it forever, so it gets EIO. */
static void
fuse_uring_no_reply(struct fuse_uring_ent *e, uint64_t unique, uint32_t opcode)
{
	struct fuse_out_header oh = { .len = sizeof(oh), .error = -EIO, .unique = unique };

	log_warn("io_uring: opcode %u got no reply: EIO", opcode);
	memcpy(e->hdr->in_out, &oh, sizeof(oh));
	e->hdr->ring_ent_in_out.payload_sz = 0;
}

/* A request arrived in e: hand it to the session, queue its commit. */
static void
fuse_uring_handle(struct fuse_uring_ent *e)
{
	struct fuse_uring_queue *q = e->q;
	struct fuse_in_header h;
	struct fuse_uring_cur cur = { .ent = e };
	struct fuse_buf fbuf = { 0 };
	size_t pl, op;
	char *start;

	memcpy(&h, e->hdr->in_out, sizeof(h));
	e->commit_id = e->hdr->ring_ent_in_out.commit_id;
	pl = e->hdr->ring_ent_in_out.payload_sz;
	/* in.h.len counts the op struct (in op_in) and the payload */
	if (pl > e->iov[1].iov_len || h.len < sizeof(h) + pl ||
	    (op = h.len - sizeof(h) - pl) > FSB_FUSE_URING_OP_IN_OUT_SZ) {
		log_warn("io_uring: queue %u: opcode %u: length %u with a payload of %zu: refused",
		    q->qid, h.opcode, h.len, pl);
		fuse_uring_no_reply(e, h.unique, h.opcode);
		fuse_uring_prep(e, FSB_FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
		return;
	}
	start = e->payload - sizeof(h) - op;
	memcpy(start, &h, sizeof(h));
	memcpy(start + sizeof(h), e->hdr->op_in, op);
	memset(e->payload + pl, 0, FUSE_URING_PAD);
	fbuf.mem = start;
	fbuf.size = h.len;
	cur.unique = h.unique;
	fs_request_kill_suidgid = fuse_killpriv_request_kills(start, h.len);
	fuse_uring_current = &cur;
	fuse_session_process_buf(q->r->se, &fbuf);
	fuse_uring_current = NULL;
	fs_request_kill_suidgid = false;
	q->served++;
	if (!cur.replied)
		fuse_uring_no_reply(e, h.unique, h.opcode);
	fuse_uring_prep(e, FSB_FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
}

/* Copy len bytes from offset off of an iovec list into dst. */
static void
fuse_uring_gather(void *dst, const struct iovec *iov, int count, size_t off, size_t len)
{
	char *d = dst;
	int i;

	for (i = 0; i < count && len > 0; i++) {
		size_t n = iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len)
			n = len;
		memmove(d, (const char *)iov[i].iov_base + off, n);
		d += n;
		len -= n;
		off = 0;
	}
}

ssize_t
fuse_uring_reply(const struct iovec *iov, int count)
{
	struct fuse_uring_cur *cur = fuse_uring_current;
	struct fuse_out_header oh;
	struct fuse_uring_ent *e;
	size_t total = 0, body;
	int i;

	if (cur == NULL || cur->replied)
		return -1;
	for (i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (total < sizeof(oh))
		return -1;
	fuse_uring_gather(&oh, iov, count, 0, sizeof(oh));
	if (oh.unique != cur->unique)
		return -1;	/* e.g. libfuse answering an INTERRUPT */
	e = cur->ent;
	body = total - sizeof(oh);
	if (body > e->iov[1].iov_len) {
		log_warn("io_uring: reply of %zu bytes does not fit the entry's %zu: EIO",
		    body, e->iov[1].iov_len);
		oh.error = -EIO;
		body = 0;
	} else {
		fuse_uring_gather(e->payload, iov, count, sizeof(oh), body);
	}
	oh.len = (uint32_t)(sizeof(oh) + body);
	memcpy(e->hdr->in_out, &oh, sizeof(oh));
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)body;
	cur->replied = true;
	return (ssize_t)total;
}

/* One completion; false once the queue has nothing left to serve. */
static bool
fuse_uring_complete(struct fuse_uring_queue *q, struct io_uring_cqe *cqe)
{
	struct fuse_uring_ent *e = io_uring_cqe_get_data(cqe);
	struct fuse_uring *r = q->r;
	int res = cqe->res;

	if (e == NULL)
		return false;	/* the stop eventfd */
	if (res == 0) {
		fuse_uring_handle(e);
		return true;
	}
	if (res == -EAGAIN || res == -EINTR) {
		fuse_uring_prep(e, e->last);
		return true;
	}
	/* -ENOTCONN/-ECONNABORTED: the connection ended (unmounted) */
	if (res != -ENOTCONN && res != -ECONNABORTED && res != -ECANCELED) {
		pthread_mutex_lock(&r->lock);
		if (!r->warned)
			log_warn("io_uring: queue %u: %s: %s%s", q->qid,
			    e->last == FSB_FUSE_IO_URING_CMD_REGISTER ? "register" : "commit",
			    strerror(-res), e->last == FSB_FUSE_IO_URING_CMD_REGISTER ?
			    " (the kernel goes on over /dev/fuse)" : "");
		r->warned = true;
		pthread_mutex_unlock(&r->lock);
	}
	if (e->live) {
		e->live = false;
		q->live--;
	}
	return q->live > 0;
}

static void
fuse_uring_pin(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* a CPU this process may not use: the queue is served from elsewhere */
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static void *
fuse_uring_thread(void *arg)
{
	struct fuse_uring_queue *q = arg;
	struct fuse_uring *r = q->r;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned i, head, n;
	bool more = true;
	char name[16];

	snprintf(name, sizeof(name), "fsb-uring-%u", q->qid);
	pthread_setname_np(pthread_self(), name);
	fuse_uring_pin(q->qid);
	pthread_mutex_lock(&r->lock);
	while (!r->go && !r->stop)
		pthread_cond_wait(&r->cond, &r->lock);
	more = !r->stop;
	pthread_mutex_unlock(&r->lock);
	if (!more)
		return NULL;
	sqe = io_uring_get_sqe(&q->ring);
	io_uring_prep_poll_add(sqe, q->stopfd, POLLIN);
	io_uring_sqe_set_data(sqe, NULL);
	for (i = 0; i < FUSE_URING_DEPTH; i++) {
		fuse_uring_prep(&q->ent[i], FSB_FUSE_IO_URING_CMD_REGISTER);
		q->ent[i].live = true;
	}
	q->live = FUSE_URING_DEPTH;
	while (more) {
		int rc = io_uring_submit_and_wait(&q->ring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			log_error("io_uring: queue %u: %s", q->qid, strerror(-rc));
			break;
		}
		n = 0;
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			n++;
			if (!fuse_uring_complete(q, cqe)) {
				more = false;
				break;
			}
		}
		io_uring_cq_advance(&q->ring, n);
	}
	return NULL;
}

int
fuse_uring_init_reply(struct fuse_uring *r, void *reply, size_t len)
{
	struct fuse_out_header oh;
	struct fuse_init_out out;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, payload;
	sigset_t all, old;
	unsigned i, j;
	int rc;

	if (len < sizeof(oh) + offsetof(struct fuse_init_out, flags2) + sizeof(out.flags2))
		return -EINVAL;
	memcpy(&oh, reply, sizeof(oh));
	if (oh.error != 0 || oh.len != len)
		return -EINVAL;
	memset(&out, 0, sizeof(out));
	memcpy(&out, (char *)reply + sizeof(oh),
	    len - sizeof(oh) < sizeof(out) ? len - sizeof(oh) : sizeof(out));
	/* the kernel's largest request: max_write, or max_pages pages
	 * (32 without FUSE_MAX_PAGES), at least FUSE_MIN_READ_BUFFER */
	pages = (out.flags & FUSE_MAX_PAGES) && out.max_pages > 0 ? out.max_pages : 32;
	payload = pages * page;
	if (payload < out.max_write)
		payload = out.max_write;
	if (payload < FSB_FUSE_URING_MIN_PAYLOAD)
		payload = FSB_FUSE_URING_MIN_PAYLOAD;
	r->payload = payload;
	for (i = 0; i < r->nq; i++)
		for (j = 0; j < FUSE_URING_DEPTH; j++)
			if (fuse_uring_ent_alloc(&r->q[i].ent[j], &r->q[i], payload) != 0)
				return -ENOMEM;
	/* signals stay with the main thread (libfuse's loop watches them) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0, rc = 0; i < r->nq && rc == 0; i++) {
		rc = pthread_create(&r->q[i].tid, NULL, fuse_uring_thread, &r->q[i]);
		r->q[i].started = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;	/* fuse_uring_free stops those started */
	out.flags |= FSB_FUSE_INIT_EXT;
	out.flags2 |= FSB_FUSE_OVER_IO_URING_FLAGS2;
	memcpy((char *)reply + sizeof(oh) + offsetof(struct fuse_init_out, flags),
	    &out.flags, sizeof(out.flags));
	memcpy((char *)reply + sizeof(oh) + offsetof(struct fuse_init_out, flags2),
	    &out.flags2, sizeof(out.flags2));
	return 0;
}

void
fuse_uring_go(struct fuse_uring *r)
{
	log_debug("io_uring: %u queue%s of %d entries, %zu-byte payloads", r->nq,
	    r->nq == 1 ? "" : "s", FUSE_URING_DEPTH, r->payload);
	pthread_mutex_lock(&r->lock);
	r->go = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void
fuse_uring_free(struct fuse_uring *r)
{
	unsigned long long served = 0;
	uint64_t one = 1;
	unsigned i, j;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; r->q != NULL && i < r->nq; i++) {
		struct fuse_uring_queue *q = &r->q[i];

		if (q->started) {
			if (write(q->stopfd, &one, sizeof(one)) != sizeof(one))
				log_warn("io_uring: queue %u: cannot wake it to stop", i);
			pthread_join(q->tid, NULL);
		}
		served += q->served;
		if (q->ring_ok)
			io_uring_queue_exit(&q->ring);
		if (q->stopfd >= 0)
			close(q->stopfd);
		for (j = 0; j < FUSE_URING_DEPTH; j++) {
			free(q->ent[j].hdr);
			free(q->ent[j].buf);
		}
	}
	if (r->go)
		log_debug("io_uring: %llu requests served over io_uring", served);
	free(r->q);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
