/* log.c - key=value lines on stderr; see log.h. */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <glib.h>

static enum log_level log_level = LOG_LEVEL_INFO;

void
log_init(enum log_level level)
{
	log_level = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

int
log_set_level_name(const char *name)
{
	if (strcmp(name, "debug") == 0)
		log_level = LOG_LEVEL_DEBUG;
	else if (strcmp(name, "info") == 0)
		log_level = LOG_LEVEL_INFO;
	else if (strcmp(name, "warn") == 0)
		log_level = LOG_LEVEL_WARN;
	else
		return -1;
	return 0;
}

static void
log_vwrite(const char *tag, const char *fmt, va_list ap, const char *suffix)
{
	struct timeval tv;
	struct tm tm;
	char ts[32];
	/* One buffer, one write: lines from forked workers must not interleave. */
	char line[4096];
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s.%03ldZ %s ", ts, (long)tv.tv_usec / 1000, tag);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	n += vsnprintf(line + n, sizeof line - n, fmt, ap);
	if ((size_t)n >= sizeof line - 2)
		n = sizeof line - 2;
	if (suffix != NULL && (size_t)n < sizeof line - 2)
		n += snprintf(line + n, sizeof line - 2 - n, " error=\"%s\"", suffix);
	if ((size_t)n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}

#define LOG_BODY(level, tag, suffix) do {		\
	va_list ap;					\
	if (log_level > (level))			\
		return;					\
	va_start(ap, fmt);				\
	log_vwrite(tag, fmt, ap, suffix);		\
	va_end(ap);					\
} while (0)

void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, "debug", NULL); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, "info", NULL); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, "warn", NULL); }

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	LOG_BODY(LOG_LEVEL_WARN, "warn", err);
}

void
fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

char *
log_escape(const char *s, size_t len, size_t max)
{
	GString *out;
	size_t i;

	if (s == NULL)
		return g_strdup("");
	out = g_string_sized_new(len < max ? len + 8 : max + 8);
	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '"')
			g_string_append_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (char)c);
	}
	if (len > max)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}
