/*
 * vu_worker: one thread per virtqueue, made when the ring first starts and
 * kept until the device goes away.  While the ring runs the thread sleeps
 * on the queue's kick eventfd, pops chains, runs the handler on each,
 * gives the chain back on the used ring and notifies the driver; while it
 * is stopped the thread is parked.  The device stops the ring (wake
 * eventfd, then wait until the worker has left it) before it changes
 * anything the worker uses.
 *
 * With vu_dev_set_poll(), a request queue's worker that has emptied its
 * ring does not go to sleep at once: with the driver's kicks suppressed it
 * spins on avail->idx for up to poll_usec, and only then asks for kicks
 * again and sleeps.  A guest that sends its next request within that time
 * saves its kick (a VM exit) and our wake-up; an idle guest costs at most
 * poll_usec of CPU after its last request.  The hiprio queue (FORGETs,
 * INTERRUPTs: nobody waits for them) never polls.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vhost/vu_dev.h"
#include "vhost/vu_log.h"

static bool
stop_requested(struct vu_queue *q)
{
	return __atomic_load_n(&q->stop, __ATOMIC_ACQUIRE);
}

static void
run_handler(struct vu_queue *q, const struct vq_request *req)
{
	struct vu_dev *dev = q->dev;
	struct vu_chain chain = {
		.out = req->out, .out_num = req->out_num,
		.in = req->in, .in_num = req->in_num,
		.out_len = req->out_len, .in_len = req->in_len,
	};
	size_t written = dev->handler(dev->ctx, q->vq.index, &chain);

	if (written > req->in_len) {
		vu_log("queue %u: handler claims %zu bytes written into %zu; clamped",
		       q->vq.index, written, req->in_len);
		written = req->in_len;
	}
	vq_push(&q->vq, req->head, (uint32_t)written);
	vq_notify(&q->vq);
}

/* Tell the front-end that this ring is dead (VHOST_USER_SET_VRING_ERR). */
static void
signal_ring_error(struct vu_queue *q)
{
	static const uint64_t one = 1;

	if (q->err_fd >= 0 && write(q->err_fd, &one, sizeof(one)) < 0) {
		/* nothing more we can do: the log line is already out */
	}
}

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()	__builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax()	__asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax()	__atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * The ring is empty: watch avail->idx for up to usec with kicks
 * suppressed.  True when chains came; false when the time is up or the
 * ring is to stop (the caller then asks for kicks again).
 */
static bool
poll_ring(struct vu_queue *q, unsigned usec)
{
	uint64_t end = now_ns() + (uint64_t)usec * 1000u;
	unsigned spins = 0;

	vq_disable_notify(&q->vq);
	for (;;) {
		if (vq_avail_pending(&q->vq))
			return true;
		if (stop_requested(q))
			return false;
		cpu_relax();
		/* the clock every 32 turns: a few hundred ns late at most */
		if ((++spins & 31) == 0 && now_ns() >= end)
			return false;
	}
}

/* Work the ring until it is empty (and stays so for the poll time); -EIO when it is broken. */
static int
drain_ring(struct vu_queue *q)
{
	unsigned usec = q->vq.index == 0 ? 0 :
		__atomic_load_n(&q->dev->poll_usec, __ATOMIC_RELAXED);
	bool polled = false;
	struct vq_request req;
	int rc;

	while (!stop_requested(q)) {
		rc = vq_pop(&q->vq, &req);
		if (rc > 0) {
			run_handler(q, &req);
			polled = false;
			continue;
		}
		if (rc == -EAGAIN)
			continue;
		if (rc < 0) {
			signal_ring_error(q);
			return -EIO;
		}
		if (usec > 0 && !polled) {
			polled = true;
			if (poll_ring(q, usec))
				continue;
		}
		if (!vq_enable_notify(&q->vq))
			return 0;
	}
	return 0;
}

static void
drain_eventfd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: someone else's read got it; nothing to do */
	}
}

/* Serve the ring until stopped: drain, then sleep on the kick fd. */
static void
serve_ring(struct vu_queue *q)
{
	struct pollfd pfd[2];
	bool broken;

	broken = drain_ring(q) < 0;
	while (!stop_requested(q)) {
		pfd[0] = (struct pollfd){ .fd = q->wake_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = broken ? -1 : q->kick_fd, .events = POLLIN };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			vu_log("queue %u: poll failed (errno %d); ring left alone",
			       q->vq.index, errno);
			return;
		}
		if (pfd[0].revents)
			return;
		if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			vu_log("queue %u: kick fd failed; ring left alone", q->vq.index);
			return;
		}
		if (pfd[1].revents & POLLIN) {
			drain_eventfd(q->kick_fd);
			broken = drain_ring(q) < 0;
		}
	}
}

/* The thread: park until a start, serve the ring until its stop, repeat. */
static void *
worker_main(void *arg)
{
	struct vu_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (q->run_gen == q->done_gen && !q->exiting)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->exiting)
			break;
		q->done_gen = q->run_gen;
		q->active = true;
		pthread_mutex_unlock(&q->lock);
		serve_ring(q);
		pthread_mutex_lock(&q->lock);
		q->active = false;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static bool
queue_runnable(const struct vu_queue *q)
{
	return !q->dev->threadless && q->kick_fd >= 0 && q->enabled &&
	       vq_ready(&q->vq);
}

static int
make_thread(struct vu_queue *q)
{
	sigset_t all, old;
	int rc;

	/* signals are for the main thread (vu_dev_stop from a handler) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->thread, NULL, worker_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		vu_log("queue %u: cannot start a worker thread (errno %d)", q->vq.index, rc);
		return -rc;
	}
	q->thread_made = true;
	return 0;
}

static int
queue_start(struct vu_queue *q)
{
	int rc;

	if (!q->thread_made && (rc = make_thread(q)) < 0)
		return rc;
	__atomic_store_n(&q->stop, false, __ATOMIC_RELEASE);
	pthread_mutex_lock(&q->lock);
	q->run_gen++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	q->running = true;
	return 0;
}

void
vu_queue_stop(struct vu_queue *q)
{
	static const uint64_t one = 1;

	if (!q->running)
		return;
	__atomic_store_n(&q->stop, true, __ATOMIC_RELEASE);
	if (write(q->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is not 0 then: the worker wakes anyway */
	}
	pthread_mutex_lock(&q->lock);
	q->done_gen = q->run_gen;	/* a start not taken up yet is void */
	while (q->active)
		pthread_cond_wait(&q->cond, &q->lock);
	pthread_mutex_unlock(&q->lock);
	drain_eventfd(q->wake_fd);
	q->running = false;
}

void
vu_queue_worker_init(struct vu_queue *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->run_gen = q->done_gen = 0;
	q->active = q->exiting = q->thread_made = q->running = false;
}

void
vu_queue_worker_fini(struct vu_queue *q)
{
	vu_queue_stop(q);
	if (q->thread_made) {
		pthread_mutex_lock(&q->lock);
		q->exiting = true;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
		q->thread_made = false;
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

int
vu_queue_update(struct vu_queue *q)
{
	bool runnable = queue_runnable(q);

	if (q->running && !runnable)
		vu_queue_stop(q);
	if (!q->running && runnable)
		return queue_start(q);
	return 0;
}
