/*
 * vu_log: the vhost transport's log lines ("fsbridge: vhost: ..."), sent to
 * stderr unless the program installs its own sink.  Values that come from
 * the guest or the front-end are printed as numbers, never as strings.
 */
#ifndef FSBRIDGE_VHOST_VU_LOG_H
#define FSBRIDGE_VHOST_VU_LOG_H

/* Receives one formatted line without the prefix and without a newline. */
typedef void (*vu_log_fn)(const char *line);

/* Install a sink; NULL restores stderr.  Not thread-safe: call at start. */
void vu_set_log_fn(vu_log_fn fn);
void vu_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
