/*
 * fs_prefill: what host processes do with the directories they list, and
 * small files' contents pushed into the host client's page cache right
 * after a listing (FUSE_NOTIFY_STORE) for a process that reads the files
 * it lists (tar, grep -r, cp -r).  Its reads of them then cost no round
 * trip, nor the GETATTR the kernel sends at the next stat after every
 * read it asked the server for (a read marks atime stale:
 * fuse_invalidate_atime, whatever the mount's atime options).
 *
 * Who: a process (pid) that looks up two names in a directory within a
 * second of listing it "uses" the entries it lists: every chunk of its
 * later listings carries attributes (fs_dir.c; others get them in a
 * listing's first chunk only, as READDIRPLUS_AUTO would give them).  One
 * that reads, from offset 0, two files within a second of a listing is a
 * "walker": its listings carry attributes and are prefilled.  ls, find
 * and du cost nothing more.
 * What: the regular files of 1..PREFILL_FILE_MAX bytes that the listing
 * introduced to the kernel (their first lookup: the kernel holds no
 * pages of them, so nothing it cached, let alone wrote, is overwritten),
 * at most PREFILL_JOB_FILES / PREFILL_JOB_BYTES per listing chunk.
 * Where: the host mount only (a guest's virtio-fs takes no
 * notifications), in no-open mode without writeback caching (no dirty
 * pages a store could overwrite), not on a share with id maps (there the
 * server checks reads of foreign files itself: fs_access.c), and where
 * the backend reads host fds (the local one, not NFS).  Reads from the
 * page cache are checked by the kernel against the attributes it holds
 * (default_permissions), as for pages any earlier read left.
 * How: one thread of its own, fed a bounded queue, so that a request
 * thread never waits on a page lock that a READ in flight holds (when
 * the loop has stopped, after a signal, the transport answers what
 * still comes while it stops this thread: fuse_drain.c).  A file is the
 * listed inode's own fd reopened (no name to swap, never another kind
 * of file) and must still
 * show the size, mtime and ctime listed, with no host change reported
 * and no request of the client on it since (its request and write
 * counts, fs_int.h), before its data is stored; if a write or a host
 * change comes before the store is done, the pages go again.  What no
 * check can see: a write(2) (or a store through a shared mapping) into
 * the file's pages in the few µs of one store, before the server has
 * read the WRITE (or before writeback): the store's bytes would replace
 * the written ones.  It takes a program that writes a file the listing
 * just introduced, at that moment, without the server having seen any
 * request on it since (reading it first, a truncating open or a
 * page fault's READ all make the store skip or drop the file).
 * Per thread, not per process: FUSE requests carry the caller's thread
 * id, so a program that lists on one thread and reads on others (a
 * thread pool) is neither a user nor a walker.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "fs_int.h"
#include "log.h"

#define PREFILL_FILE_MAX	(64 * 1024)
#define PREFILL_JOB_FILES	512
#define PREFILL_JOB_BYTES	(4 * 1024 * 1024)
#define PREFILL_QUEUE_MAX	16	/* jobs waiting; more are dropped */
#define PREFILL_PIDS		8	/* processes followed */
#define PREFILL_WINDOW_NS	1000000000ULL
#define PREFILL_ENOENT_WAIT_US	20	/* waits for the lister to make the */
#define PREFILL_ENOENT_BUDGET_US 20000	/* inodes, doubling up to 2 ms */
#define PREFILL_TAKE_AFTER	2	/* lookups or reads after a listing */

struct fs_prefill_item {
	struct inode *in;	/* pinned */
	struct stat st;		/* as listed */
	uint64_t requests;	/* in->requests, ->writes and ->changes when listed */
	uint64_t writes;
	uint64_t changes;
};

struct fs_prefill_job {
	TAILQ_ENTRY(fs_prefill_job) link;
	unsigned int n;
	size_t bytes;
	struct fs_prefill_item items[PREFILL_JOB_FILES];
};

struct fs_prefill_pid {
	pid_t pid;
	uint64_t listed_ns;	/* its last listing */
	uint64_t listed_dir;	/* ... of this directory */
	uint64_t used_ns;	/* its last listing, lookup or read: the oldest goes */
	unsigned int lookups;	/* names looked up in it soon after a listing */
	unsigned int reads;	/* files read from 0 soon after a listing */
	bool user;		/* uses the entries it lists: full listings */
	bool walker;		/* reads the files it lists: prefill */
};

struct fs_prefill {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool store;		/* prefill=on: store files' data */
	unsigned int test_delay_us;	/* between a file's read and its store */
	bool running;
	bool failed;		/* its thread could not be started */
	bool stopping;
	TAILQ_HEAD(, fs_prefill_job) queue;
	unsigned int queued;
	struct fs_prefill_pid pids[PREFILL_PIDS];
	uint64_t read_nodeid;	/* the last file a walker read from the server */
	unsigned long passed;	/* files not stored: a walker read past them */
	unsigned long stored;	/* files stored */
	unsigned long dropped;	/* files changed meanwhile: dropped again */
	unsigned long skipped;	/* jobs dropped for a full queue */
	unsigned long forgotten;	/* files the kernel no longer held */
};

static uint64_t
fs_prefill_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int
fs_prefill_init(struct share *sh, bool store)
{
	struct fs_prefill *p;
	const char *env;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	TAILQ_INIT(&p->queue);
	p->store = store;
	/* a test hook (tests/mount/prefill.sh): a host change while a
	 * store is under way, made easy to hit */
	if ((env = secure_getenv("FSBRIDGE_TEST_PREFILL_DELAY_MS")) != NULL) {
		unsigned long ms = strtoul(env, NULL, 10);

		p->test_delay_us = (unsigned int)(ms < 10000 ? ms : 10000) * 1000;
	}
	sh->prefill = p;
	return 0;
}

/* Can this share store files' data at all (see the top of the file)? */
static bool
fs_prefill_can_store(const struct share *sh)
{
	return sh->prefill->store && sh->se != NULL && sh->host_pids &&
	    sh->no_open && !sh->writeback &&
	    sh->policy.uidmap.nranges == 0 && sh->policy.gidmap.nranges == 0;
}

/* The entry of pid, made (in place of the least recently used) if new. */
static struct fs_prefill_pid *
fs_prefill_pid(struct fs_prefill *p, pid_t pid, bool make)
{
	struct fs_prefill_pid *e, *old = &p->pids[0];
	int i;

	for (i = 0; i < PREFILL_PIDS; i++) {
		e = &p->pids[i];
		if (e->pid == pid)
			return e;
		if (e->used_ns < old->used_ns)
			old = e;
	}
	if (!make)
		return NULL;
	memset(old, 0, sizeof(*old));
	old->pid = pid;
	return old;
}

unsigned int
fs_prefill_listing(struct share *sh, fuse_req_t req, uint64_t dir)
{
	struct fs_prefill *p = sh->prefill;
	struct fs_prefill_pid *e;
	pid_t pid = fuse_req_ctx(req)->pid;
	unsigned int how = 0;

	if (p == NULL || pid <= 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	e = fs_prefill_pid(p, pid, true);
	e->listed_ns = e->used_ns = fs_prefill_now();
	e->listed_dir = dir;
	if (e->user || e->walker)
		how |= FS_LISTING_FULL;
	if (e->walker && fs_prefill_can_store(sh))
		how |= FS_LISTING_PREFILL;
	pthread_mutex_unlock(&p->lock);
	return how;
}

/*
 * The caller of req looked up a name in dir (lookup) or read a file from
 * offset 0 (nodeid): soon after it listed that directory (a read: any
 * directory), that makes it a user of the entries it lists (two lookups)
 * or a walker (two reads).
 */
static void
fs_prefill_note(struct share *sh, fuse_req_t req, uint64_t dir, uint64_t nodeid)
{
	struct fs_prefill *p = sh->prefill;
	struct fs_prefill_pid *e;
	pid_t pid = fuse_req_ctx(req)->pid;
	uint64_t now;

	if (p == NULL || pid <= 0)
		return;
	now = fs_prefill_now();
	pthread_mutex_lock(&p->lock);
	e = fs_prefill_pid(p, pid, false);
	if (e != NULL && nodeid != 0 && e->walker) {
		/* where the walker is (fs_prefill_next) */
		e->used_ns = now;
		__atomic_store_n(&p->read_nodeid, nodeid, __ATOMIC_RELAXED);
	} else if (e != NULL && now - e->listed_ns < PREFILL_WINDOW_NS &&
	    (nodeid != 0 || (dir == e->listed_dir && !e->user))) {
		e->used_ns = now;
		if (nodeid != 0 && ++e->reads >= PREFILL_TAKE_AFTER) {
			e->walker = true;
			log_debug("prefill: pid %d reads the files it lists", (int)pid);
		} else if (nodeid == 0 && ++e->lookups >= PREFILL_TAKE_AFTER) {
			e->user = true;
			log_debug("prefill: pid %d uses the entries it lists", (int)pid);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void
fs_prefill_note_read(struct share *sh, fuse_req_t req, uint64_t nodeid, off_t off)
{
	if (off == 0)
		fs_prefill_note(sh, req, 0, nodeid);
}

void
fs_prefill_note_lookup(struct share *sh, fuse_req_t req, uint64_t dir)
{
	fs_prefill_note(sh, req, dir, 0);
}

struct fs_prefill_job *
fs_prefill_job_new(void)
{
	struct fs_prefill_job *job = malloc(sizeof(*job));

	if (job != NULL) {
		job->n = 0;
		job->bytes = 0;
	}
	return job;
}

/* With the table lock held: has nothing changed in's data since it was
 * listed (no write by the client, no host change seen)?  And (all) has
 * nothing at all been asked of it, and does the client still hold it as
 * it did then (a file the lister read or looked up meanwhile needs no
 * store, and its pages may be the kernel's)? */
static bool
fs_prefill_untouched(const struct fs_prefill_item *it, bool all)
{
	const struct inode *in = it->in;

	if (in->stale || in->changes != it->changes ||
	    __atomic_load_n(&in->writes, __ATOMIC_RELAXED) != it->writes)
		return false;
	return !all || (in->nlookup == 1 && in->opens == 0 &&
	    __atomic_load_n(&in->requests, __ATOMIC_RELAXED) == it->requests);
}

void
fs_prefill_job_add(struct share *sh, struct fs_prefill_job *job, struct inode *in,
    const struct stat *st)
{
	struct fs_prefill_item *it;
	bool first;

	if (job == NULL || !S_ISREG(st->st_mode) || !S_ISREG(in->type) || st->st_size <= 0 ||
	    st->st_size > PREFILL_FILE_MAX || job->n >= PREFILL_JOB_FILES ||
	    job->bytes + (size_t)st->st_size > PREFILL_JOB_BYTES)
		return;
	it = &job->items[job->n];
	it->in = in;
	/* the kernel's first lookup of it: it holds no pages of it */
	pthread_mutex_lock(&sh->inodes.lock);
	it->requests = __atomic_load_n(&in->requests, __ATOMIC_RELAXED);
	it->writes = __atomic_load_n(&in->writes, __ATOMIC_RELAXED);
	it->changes = in->changes;
	first = fs_prefill_untouched(it, true);
	pthread_mutex_unlock(&sh->inodes.lock);
	if (!first)
		return;
	inode_table_pin(&sh->inodes, in);
	it->st = *st;
	job->n++;
	job->bytes += (size_t)st->st_size;
}

static void
fs_prefill_job_free(struct share *sh, struct fs_prefill_job *job)
{
	unsigned int i;

	for (i = 0; i < job->n; i++)
		fs_put(sh, job->items[i].in);
	free(job);
}

/* The data version a listing showed: type, size, mtime and ctime. */
static bool
fs_prefill_same(const struct stat *a, const struct stat *b)
{
	return (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT) && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static bool
fs_prefill_stopping(struct fs_prefill *p)
{
	return __atomic_load_n(&p->stopping, __ATOMIC_RELAXED);
}

static bool
fs_prefill_still_untouched(struct share *sh, const struct fs_prefill_item *it, bool all)
{
	bool yes;

	pthread_mutex_lock(&sh->inodes.lock);
	yes = fs_prefill_untouched(it, all);
	pthread_mutex_unlock(&sh->inodes.lock);
	return yes;
}

/* Hand the kernel the file's data; -ENOENT for a while after the listing
 * (its inodes are made by the lister once it runs again), and for good
 * if the kernel has forgotten the node. */
static int
fs_prefill_store(struct share *sh, uint64_t nodeid, struct fuse_bufvec *bv)
{
	unsigned int wait_us = PREFILL_ENOENT_WAIT_US, waited = 0;
	int rc;

	while ((rc = fuse_lowlevel_notify_store(sh->se, nodeid, 0, bv, 0)) == -ENOENT &&
	    waited < PREFILL_ENOENT_BUDGET_US && !fs_prefill_stopping(sh->prefill)) {
		usleep(wait_us);
		waited += wait_us;
		if (wait_us < 2000)
			wait_us *= 2;
	}
	return rc;
}

/* Store one file's data (buf holds PREFILL_FILE_MAX + 1 bytes); false if
 * it was not stored. */
static bool
fs_prefill_one(struct share *sh, struct fs_prefill_item *it, char *buf)
{
	const struct backend_ops *ops = sh->backend->ops;
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	struct backend_file bf;
	struct stat st;
	bool stored = false;
	ssize_t n;
	int rc;

	/* the listed inode itself (its own fd reopened: no name to swap
	 * and never another kind of file); O_NONBLOCK: a lease holder is
	 * not waited for (its lease break is still started, as for any
	 * read of the file through the server) */
	if (ops->open(sh->backend, it->in, O_RDONLY | O_NOATIME | O_NONBLOCK, &bf) != 0)
		return false;
	if (bf.fd < 0)		/* a remote backend: a read is a round trip of its own */
		goto out;
	if (fstat(bf.fd, &st) != 0 || !fs_prefill_same(&it->st, &st))
		goto out;	/* changed since it was listed */
	n = ops->read(sh->backend, &bf, buf, PREFILL_FILE_MAX + 1, 0);
	if (n != it->st.st_size)
		goto out;
	bv.buf[0].mem = buf;
	bv.buf[0].size = (size_t)n;
	/* nothing the client asked of it meanwhile (a READ, a WRITE whose
	 * pages we would overwrite, a SETATTR...), nor a host change */
	if (!fs_prefill_still_untouched(sh, it, true))
		goto out;
	if (sh->prefill->test_delay_us > 0) {	/* tests: widen the race below */
		log_debug("prefill: test hook: node %llu read, its store held %u ms",
		    (unsigned long long)it->in->nodeid, sh->prefill->test_delay_us / 1000);
		usleep(sh->prefill->test_delay_us);
	}
	if ((rc = fs_prefill_store(sh, it->in->nodeid, &bv)) != 0) {
		pthread_mutex_lock(&sh->prefill->lock);
		if (rc == -ENOENT)	/* forgotten: no pages to overwrite */
			sh->prefill->forgotten++;
		pthread_mutex_unlock(&sh->prefill->lock);
		goto out;
	}
	stored = true;
	/* and still so once the data is there, or the pages go again (a
	 * READ that came meanwhile is not counted: it only reads what we
	 * stored; dropping the pages for it cost tar a third of its stores
	 * and a GETATTR for each) */
	if (fstat(bf.fd, &st) != 0 || !fs_prefill_same(&it->st, &st) ||
	    !fs_prefill_still_untouched(sh, it, false)) {
		fuse_lowlevel_notify_inval_inode(sh->se, it->in->nodeid, 0, 0);
		stored = false;
		pthread_mutex_lock(&sh->prefill->lock);
		sh->prefill->dropped++;
		pthread_mutex_unlock(&sh->prefill->lock);
	}
out:
	ops->release(sh->backend, &bf);
	return stored;
}

/*
 * The next item of job to store, from i on.  A walker that read a file of
 * the job from the server is ahead of us: storing what it has passed
 * would be wasted, and following right behind it we would lose every
 * race (our store waits on the page its READ holds), so skip past it.
 */
static unsigned int
fs_prefill_next(struct fs_prefill *p, struct fs_prefill_job *job, unsigned int i)
{
	uint64_t read = __atomic_load_n(&p->read_nodeid, __ATOMIC_RELAXED);
	unsigned int j;

	if (read == 0)
		return i;
	for (j = i; j < job->n; j++)
		if (job->items[j].in->nodeid == read) {
			p->passed += j + 1 - i;
			return j + 1;
		}
	return i;
}

static void *
fs_prefill_main(void *arg)
{
	struct share *sh = arg;
	struct fs_prefill *p = sh->prefill;
	struct fs_prefill_job *job;
	unsigned int i, stored;
	char *buf;

	buf = malloc(PREFILL_FILE_MAX + 1);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (TAILQ_EMPTY(&p->queue) && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		job = TAILQ_FIRST(&p->queue);
		if (job == NULL)
			break;		/* stopping, nothing left */
		TAILQ_REMOVE(&p->queue, job, link);
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		stored = 0;
		for (i = 0; buf != NULL && !fs_prefill_stopping(p); i++) {
			i = fs_prefill_next(p, job, i);
			if (i >= job->n)
				break;
			if (fs_prefill_one(sh, &job->items[i], buf))
				stored++;
		}
		fs_prefill_job_free(sh, job);
		pthread_mutex_lock(&p->lock);
		p->stored += stored;
	}
	pthread_mutex_unlock(&p->lock);
	free(buf);
	return NULL;
}

void
fs_prefill_job_submit(struct share *sh, struct fs_prefill_job *job, bool delivered)
{
	struct fs_prefill *p = sh->prefill;

	if (job == NULL)
		return;
	if (job->n == 0 || !delivered) {	/* not delivered: interrupted */
		fs_prefill_job_free(sh, job);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (!p->running && !p->stopping && !p->failed) {
		sigset_t all, old;
		int e;

		/* signals stay with the main thread */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&p->thread, NULL, fs_prefill_main, sh);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e == 0)
			p->running = true;
		else {
			p->failed = true;
			log_warn("prefill: cannot start its thread (%s): nothing is prefilled",
			    strerror(e));
		}
	}
	if (!p->running || p->stopping || p->queued >= PREFILL_QUEUE_MAX) {
		p->skipped++;
		pthread_mutex_unlock(&p->lock);
		fs_prefill_job_free(sh, job);
		return;
	}
	TAILQ_INSERT_TAIL(&p->queue, job, link);
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

bool
fs_prefill_stop(struct share *sh, int timeout_ms)
{
	struct fs_prefill *p = sh->prefill;
	struct fs_prefill_job *job;
	struct timespec until;

	if (p == NULL)
		return true;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->running) {
		/* a store may wait on a page a READ holds: the transport
		 * answers requests meanwhile (fuse_drain.c), and aborts the
		 * connection if one was read and dropped (transport_fuse.c) */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (timeout_ms < 0)
			pthread_join(p->thread, NULL);
		else if (pthread_timedjoin_np(p->thread, NULL, &until) != 0)
			return false;
		p->running = false;
	}
	while ((job = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, job, link);
		fs_prefill_job_free(sh, job);
	}
	if (p->stored > 0 || p->dropped > 0 || p->passed > 0 || p->skipped > 0 ||
	    p->forgotten > 0)
		log_debug("prefill: %lu files stored, %lu dropped again (changed), "
		    "%lu passed by the reader, %lu listings skipped (queue full), "
		    "%lu not stored (the kernel no longer held them)",
		    p->stored, p->dropped, p->passed, p->skipped, p->forgotten);
	p->stored = p->dropped = p->passed = p->skipped = p->forgotten = 0;
	return true;
}

void
fs_prefill_destroy(struct share *sh)
{
	struct fs_prefill *p = sh->prefill;

	if (p == NULL)
		return;
	fs_prefill_stop(sh, -1);	/* stopped by the transport already */
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	sh->prefill = NULL;
}
