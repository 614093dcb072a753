/*
 * file_table: handle -> open file, see file_table.h.
 */
#include "config.h"

#include "file_table.h"

static int
open_file_cmp(const struct open_file *a, const struct open_file *b)
{
	return a->fh < b->fh ? -1 : a->fh > b->fh;
}

RB_GENERATE_INTERNAL(open_file_tree, open_file, entry, open_file_cmp, __attribute__((unused)) static)

void
file_table_init(struct file_table *t)
{
	pthread_mutex_init(&t->lock, NULL);
	RB_INIT(&t->files);
	t->next_fh = 1;
}

uint64_t
file_table_add(struct file_table *t, struct open_file *f)
{
	pthread_mutex_lock(&t->lock);
	f->fh = t->next_fh++;
	f->refs = 1;
	RB_INSERT(open_file_tree, &t->files, f);
	pthread_mutex_unlock(&t->lock);
	return f->fh;
}

static struct open_file *
file_table_find_locked(struct file_table *t, uint64_t fh, bool is_dir)
{
	struct open_file key, *f;

	key.fh = fh;
	f = RB_FIND(open_file_tree, &t->files, &key);
	if (f == NULL || f->is_dir != is_dir)
		return NULL;
	return f;
}

struct open_file *
file_table_get(struct file_table *t, uint64_t fh, bool is_dir)
{
	struct open_file *f;

	pthread_mutex_lock(&t->lock);
	f = file_table_find_locked(t, fh, is_dir);
	if (f != NULL)
		f->refs++;
	pthread_mutex_unlock(&t->lock);
	return f;
}

bool
file_table_put(struct file_table *t, struct open_file *f)
{
	bool last;

	pthread_mutex_lock(&t->lock);
	last = --f->refs == 0;
	pthread_mutex_unlock(&t->lock);
	return last;
}

struct open_file *
file_table_remove(struct file_table *t, uint64_t fh, bool is_dir)
{
	struct open_file *f;

	pthread_mutex_lock(&t->lock);
	f = file_table_find_locked(t, fh, is_dir);
	if (f != NULL)
		RB_REMOVE(open_file_tree, &t->files, f);
	pthread_mutex_unlock(&t->lock);
	return f;
}

struct open_file *
file_table_remove_any(struct file_table *t)
{
	struct open_file *f;

	pthread_mutex_lock(&t->lock);
	f = RB_MIN(open_file_tree, &t->files);
	if (f != NULL)
		RB_REMOVE(open_file_tree, &t->files, f);
	pthread_mutex_unlock(&t->lock);
	return f;
}
