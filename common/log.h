/*
 * log.h - the daemon's one logging API.
 *
 * Lines go to stderr as "TIME LEVEL key=value ..." led by a session or queue
 * id chosen by the caller, one line per call: a %s written between double
 * quotes in the format (key="%s") is escaped there (quotes, line breaks,
 * controls), and any other line break becomes a space.  log_warn() appends strerror(errno); fatal() and
 * fatalx() log and exit(1): they are for internal invariants and start-up
 * errors only, never for anything a peer or a message can cause.
 *
 * log_escape() returns a copy with CR, LF, controls, quotes, backslash and
 * 8-bit bytes escaped, bounded to max bytes of input; the caller frees it
 * (g_free).  Use it for every peer-supplied string that reaches a log line.
 */
#ifndef REBOUND_LOG_H
#define REBOUND_LOG_H

#include <stddef.h>
#include <stdarg.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN };

void log_init(enum log_level level);
int log_set_level_name(const char *name);   /* 0 ok, -1 unknown name */
/* "text" (the default) or "json": one JSON object per line, the key=value
 * pairs of the text line as its members, for log shippers.  0 or -1. */
int log_set_format_name(const char *name);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

char *log_escape(const char *s, size_t len, size_t max);

#endif
