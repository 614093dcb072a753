/*
 * warm_store.h: the saved VM states of a state dir (launch(1), "warm
 * start"): STATE/warm/NAME/ holds vmstate (QEMU's device state), mem (the
 * guest RAM, read-only), header (written last: what the state depends on
 * and the checksums), and mem.next (a copy of mem made ahead, for the
 * next restore to rename).
 */
#ifndef FSB_WARM_STORE_H
#define FSB_WARM_STORE_H

#include <stddef.h>

#define WARM_DIR "warm"
#define WARM_VMSTATE "vmstate"
#define WARM_MEM "mem"
#define WARM_HEADER "header"
#define WARM_NEXT "mem.next"
#define WARM_KEY_MAX 16384
#define WARM_NAME_MAX 64

/* Appends one "WORD value" line to a key; "WORD path size mtime" for a
 * file (its identity without reading it). */
void warm_key_line(char *key, size_t size, const char *word, const char *value);
void warm_key_file(char *key, size_t size, const char *word, const char *path);

/* A plain name: [A-Za-z0-9_.-], not starting with '.', at most 63. */
int warm_name_valid(const char *name);

/* STATE/warm/NAME (NAME NULL: STATE/warm) into out; -ENAMETOOLONG. */
int warm_path(char *out, size_t size, const char *state, const char *name, const char *file);

/*
 * The newest saved state whose header matches key and whose vmstate
 * checks out: its name into name, 0; -ENOENT for none.  Every state
 * that does not match (what it depends on changed), is incomplete or
 * corrupt is removed, and say gets one line about it.
 */
int warm_find(const char *state, const char *key, char *name, size_t size,
    void (*say)(void *arg, const char *line), void *arg);

/* A new temporary directory for saving NAME (STATE/warm/.new-NAME-PID). */
int warm_begin(const char *state, const char *name, char *tmp, size_t size);

/*
 * Completes the save in tmp (vmstate and mem written and fsynced, mem's
 * page hash in ram_hash): the header (key, sizes, checksums) written to
 * a temporary name, fsynced and renamed last, then tmp renamed to
 * STATE/warm/NAME (an older NAME removed).  On failure tmp is removed:
 * no half state.  0 or -errno.
 */
int warm_commit(const char *state, const char *name, const char *tmp, const char *key,
    const char *ram_hash);

/* The value of a header's "WORD ..." line (the rest of it); -ENOENT. */
int warm_header_field(const char *dir, const char *word, char *out, size_t size);

/* Removes a directory and the files in it; -errno. */
int warm_remove_dir(const char *dir);

#endif
