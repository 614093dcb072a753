/*
 * safe_dir.h: a directory only the user can change (the state dir, the
 * volume dir).  See safe_dir.c for the rule and why.
 */
#ifndef FSB_SAFE_DIR_H
#define FSB_SAFE_DIR_H

#include <stddef.h>

/* 0 when dir and every directory above it pass the rule; else -errno
 * (-EPERM: another user could change it; -ENOENT: missing) with a
 * one-line reason in why. */
int safe_dir_check(const char *dir, char *why, size_t size);

/* mkdir -p dir (mode 0700), never creating inside a directory that fails
 * the rule, then safe_dir_check; -errno with why. */
int safe_dir_create(const char *dir, char *why, size_t size);

#endif
