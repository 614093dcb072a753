/*
 * file_table_test: unit tests of the open-file table (fsbridge/core/
 * file_table.c): handles are unique, a handle finds its file only as the
 * kind it was opened as, forged handles find nothing, references (a
 * RELEASE while a READ holds the file), remove_any drains the table, and
 * four threads adding and removing at once keep it consistent, and
 * four sharing one file keep its reference count.  TAP.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_table.h"
#include "tests/lib/tap.h"

static struct open_file *
new_file(bool is_dir)
{
	struct open_file *f = calloc(1, sizeof(*f));

	f->is_dir = is_dir;
	f->bf.fd = -1;
	return f;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Are the n handles all different (and none 0)?  Sorts them. */
static bool
all_distinct(uint64_t *h, size_t n)
{
	size_t i;

	qsort(h, n, sizeof(*h), cmp_u64);
	for (i = 0; i < n; i++)
		if (h[i] == 0 || (i > 0 && h[i] == h[i - 1]))
			return false;
	return true;
}

static void
test_basics(void)
{
	struct file_table t;
	struct open_file *f, *d, *g;
	uint64_t fh, dh, h[2];

	file_table_init(&t);
	f = new_file(false);
	d = new_file(true);
	fh = file_table_add(&t, f);
	dh = file_table_add(&t, d);
	check(fh == f->fh && dh == d->fh && f->refs == 1 && d->refs == 1,
	    "add: the handle is recorded, one reference (the table's)");
	h[0] = fh;
	h[1] = dh;
	check(all_distinct(h, 2), "two handles, different and not 0");

	g = file_table_get(&t, fh, false);
	check(g == f && f->refs == 2, "a file handle finds its file, with a reference");
	check(!file_table_put(&t, g) && f->refs == 1, "putting it back is not the last put");
	g = file_table_get(&t, dh, true);
	check(g == d, "a dir handle finds its dir");
	file_table_put(&t, g);

	check(file_table_get(&t, fh, true) == NULL, "a file handle used as a dir handle: not found");
	check(file_table_get(&t, dh, false) == NULL, "a dir handle used as a file handle: not found");
	check(file_table_get(&t, 0, false) == NULL && file_table_get(&t, 0, true) == NULL,
	    "handle 0: not found");
	check(file_table_get(&t, dh + 1, false) == NULL && file_table_get(&t, dh + 1, true) == NULL,
	    "an unissued handle: not found");
	check(file_table_get(&t, (uint64_t)(uintptr_t)f, false) == NULL &&
	    file_table_get(&t, UINT64_MAX, false) == NULL,
	    "a pointer or UINT64_MAX as a handle: not found");
	check(f->refs == 1 && d->refs == 1, "failed gets take no reference");

	check(file_table_remove(&t, fh, true) == NULL && file_table_remove(&t, dh, false) == NULL,
	    "remove as the wrong kind: NULL...");
	g = file_table_get(&t, fh, false);
	check(g == f, "...and the file is still there");
	file_table_put(&t, g);

	/* RELEASE while a READ holds the file: the last put is the reader's */
	g = file_table_get(&t, fh, false);
	check(file_table_remove(&t, fh, false) == f, "remove returns the file");
	check(file_table_get(&t, fh, false) == NULL && file_table_remove(&t, fh, false) == NULL,
	    "a removed handle is found no more, nor removed twice");
	check(!file_table_put(&t, f), "the remover's put (the table's reference) is not the last...");
	check(file_table_put(&t, g), "...the reader's is");
	free(f);

	check(file_table_remove(&t, dh, true) == d && file_table_put(&t, d),
	    "remove and put with no reader: the last put");
	free(d);
	check(file_table_remove_any(&t) == NULL, "the table is empty");

	f = new_file(false);
	fh = file_table_add(&t, f);
	check(fh > dh, "handles are not reused after release");
	file_table_put(&t, file_table_remove(&t, fh, false));
	free(f);
	pthread_mutex_destroy(&t.lock);
}

static void
test_drain(void)
{
	enum { N = 1000 };
	struct file_table t;
	struct open_file *f;
	uint64_t h[N];
	size_t n = 0;
	bool refs_ok = true;
	int i;

	file_table_init(&t);
	for (i = 0; i < N; i++)
		file_table_add(&t, new_file(i % 3 == 0));
	while ((f = file_table_remove_any(&t)) != NULL) {
		if (n < N)
			h[n] = f->fh;
		n++;
		if (!file_table_put(&t, f))
			refs_ok = false;
		free(f);
	}
	check(n == N, "remove_any hands out every file, files and dirs, then NULL");
	check(all_distinct(h, N), "each one once (1000 distinct handles)");
	check(refs_ok, "each with the table's reference, the last");
	check(file_table_remove_any(&t) == NULL, "empty: NULL again");
	pthread_mutex_destroy(&t.lock);
}

/* Four threads each add, look up, and remove their own files at once. */
enum { THREADS = 4, PER_THREAD = 20000, KEEP = 64 };

struct worker {
	struct file_table *t;
	uint64_t handles[PER_THREAD];
	unsigned long errors;
	pthread_t thread;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct open_file *live[KEEP] = { NULL };
	struct open_file *f, *g;
	int i, slot;

	for (i = 0; i < PER_THREAD; i++) {
		slot = i % KEEP;
		/* retire the file that held this slot */
		if ((f = live[slot]) != NULL) {
			g = file_table_get(w->t, f->fh, f->is_dir);
			if (g != f || file_table_get(w->t, f->fh, !f->is_dir) != NULL)
				w->errors++;
			if (g != NULL)
				file_table_put(w->t, g);
			g = file_table_remove(w->t, f->fh, f->is_dir);
			if (g != f || !file_table_put(w->t, g))
				w->errors++;
			free(f);
		}
		f = new_file(i % 2 == 0);
		w->handles[i] = file_table_add(w->t, f);
		live[slot] = f;
	}
	/* leave the last KEEP files in the table for the drain */
	return NULL;
}

/* Four threads taking and dropping references on one shared file. */
static struct file_table shared_table;
static uint64_t shared_fh;

static void *
sharer_run(void *arg)
{
	unsigned long *errors = arg;
	struct open_file *f;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		f = file_table_get(&shared_table, shared_fh, false);
		if (f == NULL || file_table_put(&shared_table, f))
			(*errors)++;
	}
	return NULL;
}

static void
test_shared(void)
{
	pthread_t th[THREADS];
	unsigned long errors[THREADS] = { 0 }, sum = 0;
	struct open_file *f = new_file(false);
	int i;

	file_table_init(&shared_table);
	shared_fh = file_table_add(&shared_table, f);
	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, sharer_run, &errors[i]);
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		sum += errors[i];
	}
	check(sum == 0 && f->refs == 1,
	    "4 threads getting and putting one file: never the last put, one reference left");
	check(file_table_remove(&shared_table, shared_fh, false) == f &&
	    file_table_put(&shared_table, f), "then removed, the last put");
	free(f);
	pthread_mutex_destroy(&shared_table.lock);
}

static void
test_threads(void)
{
	static struct worker w[THREADS];
	static uint64_t all[THREADS * PER_THREAD];
	struct file_table t;
	struct open_file *f;
	unsigned long errors = 0, left = 0;
	int i;

	file_table_init(&t);
	for (i = 0; i < THREADS; i++) {
		w[i].t = &t;
		pthread_create(&w[i].thread, NULL, worker_run, &w[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		errors += w[i].errors;
		memcpy(all + (size_t)i * PER_THREAD, w[i].handles, sizeof(w[i].handles));
	}
	check(errors == 0, "4 threads: every file found as itself, removed once, last put");
	check(all_distinct(all, THREADS * PER_THREAD), "80,000 handles from 4 threads, all distinct");
	while ((f = file_table_remove_any(&t)) != NULL) {
		left++;
		file_table_put(&t, f);
		free(f);
	}
	check(left == THREADS * KEEP, "exactly the files still open are left in the table");
	pthread_mutex_destroy(&t.lock);
}

int
main(void)
{
	/* line-buffered: a leak report at exit must not swallow the TAP lines */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_basics();
	test_drain();
	test_threads();
	test_shared();
	return tap_done();
}
