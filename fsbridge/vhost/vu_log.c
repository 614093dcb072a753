/*
 * vu_log: formats one log line of the vhost transport and hands it to the
 * installed sink (stderr by default).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "vhost/vu_log.h"

static vu_log_fn log_sink;

void
vu_set_log_fn(vu_log_fn fn)
{
	log_sink = fn;
}

void
vu_log(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_sink != NULL)
		log_sink(line);
	else
		fprintf(stderr, "fsbridge: vhost: %s\n", line);
}
