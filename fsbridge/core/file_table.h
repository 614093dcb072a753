/*
 * file_table: open files and directories by the handle (fi->fh) the
 * client holds.  Handles are counters looked up in a tree, never
 * pointers, so a forged handle from a client finds nothing.
 */
#ifndef FSBRIDGE_FILE_TABLE_H
#define FSBRIDGE_FILE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/cdefs.h>
#include <sys/tree.h>

#include "backend.h"
#include "inode_table.h"

struct open_file {
	RB_ENTRY(open_file) entry;
	uint64_t fh;
	uint64_t refs;
	struct inode *inode;	/* pinned while open */
	struct backend_file bf;
	bool is_dir;
	bool passthrough;	/* the kernel reads and writes the host file itself */
	pthread_mutex_t lock;	/* serialises readdir on one handle */
};

RB_HEAD(open_file_tree, open_file);

struct file_table {
	pthread_mutex_t lock;
	struct open_file_tree files;
	uint64_t next_fh;
};

void file_table_init(struct file_table *t);
/* Register an open file (refs = 1); returns its handle. */
uint64_t file_table_add(struct file_table *t, struct open_file *f);
/* Find and take a reference; NULL if the handle is unknown or of the
 * wrong kind. */
struct open_file *file_table_get(struct file_table *t, uint64_t fh, bool is_dir);
/* Drop a reference; returns true when it was the last one (the caller
 * then closes and frees the file). */
bool file_table_put(struct file_table *t, struct open_file *f);
/* Remove the handle (on release) and take the table's reference over to
 * the caller: NULL if unknown.  The caller puts it. */
struct open_file *file_table_remove(struct file_table *t, uint64_t fh, bool is_dir);
/* Remove any one handle, as file_table_remove does; NULL when empty. */
struct open_file *file_table_remove_any(struct file_table *t);

#endif
