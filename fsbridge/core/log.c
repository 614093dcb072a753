/*
 * log: stderr or syslog output with a "fsbridge: " prefix, see log.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#define LIBBSD_OPENBSD_VIS 1
#include <vis.h>

#define FUSE_USE_VERSION 314
#include <fuse_log.h>

#include "log.h"

static bool log_to_syslog;
static bool log_debug_on;

void
log_init(bool to_syslog, bool debug)
{
	log_to_syslog = to_syslog;
	log_debug_on = debug;
	if (to_syslog)
		openlog("fsbridge", LOG_PID, LOG_DAEMON);
}

static void
log_vemit(int level, const char *fmt, va_list ap)
{
	if (level == LOG_DEBUG && !log_debug_on)
		return;
	if (log_to_syslog) {
		vsyslog(level, fmt, ap);
		return;
	}
	fputs("fsbridge: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define LOG_FN(fn, level) \
	void fn(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		log_vemit(level, fmt, ap); \
		va_end(ap); \
	}

LOG_FN(log_error, LOG_ERR)
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

const char *
log_safe_name(char *buf, size_t len, const char *name)
{
	strnvis(buf, name, len, VIS_CSTYLE | VIS_NL | VIS_TAB | VIS_OCTAL);
	return buf;
}

/* libfuse messages end in '\n' and some start with "fuse: ". */
static void
log_from_libfuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;
	const char *text = line;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (strncmp(text, "fuse: ", 6) == 0)
		text += 6;
	switch (level) {
	case FUSE_LOG_DEBUG:
		log_debug("%s", text);
		break;
	case FUSE_LOG_INFO:
	case FUSE_LOG_NOTICE:
		log_info("%s", text);
		break;
	case FUSE_LOG_WARNING:
		log_warn("%s", text);
		break;
	default:
		log_error("%s", text);
		break;
	}
}

void
log_capture_libfuse(void)
{
	fuse_set_log_func(log_from_libfuse);
}
