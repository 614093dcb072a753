/*
 * log: the server's messages, to stderr while attached to a terminal and
 * to syslog once daemonised.  Names that came from a client are made
 * printable (strnvis) before they are logged.
 */
#ifndef FSBRIDGE_LOG_H
#define FSBRIDGE_LOG_H

#include <stdbool.h>
#include <stddef.h>

void log_init(bool to_syslog, bool debug);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A printable copy of an untrusted name, for a log line. */
const char *log_safe_name(char *buf, size_t len, const char *name);
/* Route libfuse's own messages through log_*. */
void log_capture_libfuse(void);

#endif
