/* log.c - key=value lines on stderr; see log.h. */
#include "common/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <sys/types.h>
#include <glib.h>

static enum log_level log_level = LOG_LEVEL_INFO;
static int log_json;		/* [log] format = json */

/* Longest message body kept; a longer one is cut (one line is one write). */
#define LOG_LINE_MAX 8192

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

int
log_set_format_name(const char *name)
{
	if (strcmp(name, "text") == 0)
		log_json = 0;
	else if (strcmp(name, "json") == 0)
		log_json = 1;
	else
		return -1;
	return 0;
}

/* One value for a quoted slot: controls as \n, \r, \t or \xNN, a quote not
 * already escaped (log_escape() output) as \". */
static void
log_append_quoted(GString *out, const char *v)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(v ? v : "(null)"); *p != '\0'; p++) {
		if (*p == '\n')
			g_string_append(out, "\\n");
		else if (*p == '\r')
			g_string_append(out, "\\r");
		else if (*p == '\t')
			g_string_append(out, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			g_string_append_printf(out, "\\x%02x", *p);
		else if (*p == '"' && (p == (const unsigned char *)v || p[-1] != '\\'))
			g_string_append(out, "\\\"");
		else
			g_string_append_c(out, (char)*p);
	}
}

/*
 * Copies the flags, width, precision and length modifiers of the conversion
 * whose '%' is p[-1] into spec (a '*' takes its int from ap); counts the 'l's
 * in *lng and keeps a z, j or t in *size.  Returns where the conversion
 * character stands.
 */
static const char *
log_format_spec(GString *spec, const char *p, va_list *ap, int *lng, int *size)
{
	for (; *p != '\0' && strchr("-+ #0'", *p) != NULL; p++)
		g_string_append_c(spec, *p);
	if (*p == '*') {
		g_string_append_printf(spec, "%d", va_arg(*ap, int));
		p++;
	}
	while (g_ascii_isdigit(*p))
		g_string_append_c(spec, *p++);
	if (*p == '.') {
		g_string_append_c(spec, *p++);
		if (*p == '*') {
			g_string_append_printf(spec, "%d", va_arg(*ap, int));
			p++;
		}
		while (g_ascii_isdigit(*p))
			g_string_append_c(spec, *p++);
	}
	for (; *p != '\0' && strchr("hlLqjzt", *p) != NULL; p++) {
		g_string_append_c(spec, *p);
		*lng += *p == 'l' || *p == 'q' || *p == 'L';
		*size = *p == 'z' || *p == 'j' || *p == 't' ? *p : *size;
	}
	return p;
}

/*
 * Appends the next argument of ap as the complete conversion spec (ending
 * in conv) says; 0 when conv is not a conversion the format attribute lets
 * through.
 */
static int
log_format_arg(GString *out, const char *spec, char conv, int lng, int size, int quoted,
    va_list *ap)
{
	switch (conv) {
	case 'd': case 'i':
		if (size == 'z')
			g_string_append_printf(out, spec, va_arg(*ap, ssize_t));
		else if (size == 'j')
			g_string_append_printf(out, spec, va_arg(*ap, intmax_t));
		else if (size == 't')
			g_string_append_printf(out, spec, va_arg(*ap, ptrdiff_t));
		else if (lng >= 2)
			g_string_append_printf(out, spec, va_arg(*ap, long long));
		else if (lng == 1)
			g_string_append_printf(out, spec, va_arg(*ap, long));
		else
			g_string_append_printf(out, spec, va_arg(*ap, int));
		return 1;
	case 'u': case 'o': case 'x': case 'X':
		if (size == 'z')
			g_string_append_printf(out, spec, va_arg(*ap, size_t));
		else if (size == 'j')
			g_string_append_printf(out, spec, va_arg(*ap, uintmax_t));
		else if (size == 't')
			g_string_append_printf(out, spec, va_arg(*ap, ptrdiff_t));
		else if (lng >= 2)
			g_string_append_printf(out, spec, va_arg(*ap, unsigned long long));
		else if (lng == 1)
			g_string_append_printf(out, spec, va_arg(*ap, unsigned long));
		else
			g_string_append_printf(out, spec, va_arg(*ap, unsigned int));
		return 1;
	case 'c':
		g_string_append_printf(out, spec, va_arg(*ap, int));
		return 1;
	case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
		if (lng > 0 && strchr(spec, 'L') != NULL)
			g_string_append_printf(out, spec, va_arg(*ap, long double));
		else
			g_string_append_printf(out, spec, va_arg(*ap, double));
		return 1;
	case 'p':
		g_string_append_printf(out, spec, va_arg(*ap, void *));
		return 1;
	case 's':
		if (quoted && strcmp(spec, "%s") == 0)
			log_append_quoted(out, va_arg(*ap, const char *));
		else
			g_string_append_printf(out, spec, va_arg(*ap, const char *));
		return 1;
	default:
		return 0;
	}
}

/*
 * vsnprintf, except that a %s written between double quotes in fmt
 * (key="%s") goes through log_append_quoted(): a database error or any
 * other text with quotes or line breaks stays inside its value, and the
 * line stays one line.
 */
static void
log_format(GString *out, const char *fmt, va_list ap)
{
	const char *p = fmt;
	va_list aq;		/* the helpers take a pointer, which a va_list parameter cannot give */

	va_copy(aq, ap);
	while (*p != '\0') {
		const char *start = p;
		GString *spec;
		char conv;
		int lng = 0, size = 0, quoted;

		if (*p != '%') {
			g_string_append_c(out, *p++);
			continue;
		}
		if (p[1] == '%') {
			g_string_append_c(out, '%');
			p += 2;
			continue;
		}
		spec = g_string_new("%");
		p = log_format_spec(spec, p + 1, &aq, &lng, &size);
		if ((conv = *p) == '\0') {
			g_string_free(spec, TRUE);
			break;
		}
		p++;
		g_string_append_c(spec, conv);
		quoted = start > fmt && start[-1] == '"' && *p == '"';
		/* not a conversion the attribute lets through: shown as written */
		if (!log_format_arg(out, spec->str, conv, lng, size, quoted, &aq))
			g_string_append_len(out, start, p - start);
		g_string_free(spec, TRUE);
	}
	va_end(aq);
}

/* Appends s as a JSON string. */
static void
log_json_string(GString *out, const char *s, gssize len)
{
	const char *end = s + (len < 0 ? (gssize)strlen(s) : len);

	g_string_append_c(out, '"');
	for (; s < end; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c < 0x20)
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_c(out, (char)c);
	}
	g_string_append_c(out, '"');
}

/*
 * A text line's body as JSON members: each key=value or key="value" pair
 * becomes a string member (the quoted value unescaped of \" and \\), words
 * that are no pair are kept in "msg".  A key given twice keeps its first value.
 */
static void
log_json_members(GString *out, const char *body)
{
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GString *msg = g_string_new(NULL), *val = g_string_new(NULL);
	const char *p = body;

	while (*p != '\0') {
		const char *k = p, *eq;
		char *key;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		k = p;
		while (*p != '\0' && *p != ' ' && *p != '=')
			p++;
		if (*p != '=' || p == k) {
			while (*p != '\0' && *p != ' ')
				p++;
			g_string_append_printf(msg, "%s%.*s", msg->len ? " " : "", (int)(p - k), k);
			continue;
		}
		eq = p++;
		g_string_truncate(val, 0);
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				g_string_append_c(val, *p);
			}
			if (*p == '"')
				p++;
		} else {
			const char *v = p;

			while (*p != '\0' && *p != ' ')
				p++;
			g_string_append_len(val, v, p - v);
		}
		key = g_strndup(k, eq - k);
		if (g_hash_table_contains(seen, key) || strcmp(key, "time") == 0 ||
		    strcmp(key, "level") == 0 || strcmp(key, "msg") == 0) {
			g_free(key);
			continue;
		}
		g_string_append_c(out, ',');
		log_json_string(out, key, -1);
		g_string_append_c(out, ':');
		log_json_string(out, val->str, (gssize)val->len);
		g_hash_table_add(seen, key);
	}
	if (msg->len > 0) {
		g_string_append(out, ",\"msg\":");
		log_json_string(out, msg->str, (gssize)msg->len);
	}
	g_string_free(msg, TRUE);
	g_string_free(val, TRUE);
	g_hash_table_destroy(seen);
}

static void
log_vwrite(const char *tag, const char *fmt, va_list ap, const char *suffix)
{
	struct timeval tv;
	struct tm tm;
	char ts[32];
	GString *body = g_string_sized_new(256), *line;
	gsize i;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	log_format(body, fmt, ap);
	if (suffix != NULL) {
		g_string_append(body, " error=\"");
		log_append_quoted(body, suffix);
		g_string_append_c(body, '"');
	}
	/* Whatever came in unquoted: still one line. */
	for (i = 0; i < body->len; i++)
		if (body->str[i] == '\n' || body->str[i] == '\r')
			body->str[i] = ' ';
	if (body->len > LOG_LINE_MAX)
		g_string_truncate(body, LOG_LINE_MAX);
	if (log_json) {
		line = g_string_new("{\"time\":\"");
		g_string_append_printf(line, "%s.%03dZ\",\"level\":\"%s\"", ts,
		    (int)(tv.tv_usec / 1000), tag);
		log_json_members(line, body->str);
		g_string_append(line, "}\n");
	} else {
		line = g_string_new(NULL);
		g_string_append_printf(line, "%s.%03dZ %s %s\n", ts, (int)(tv.tv_usec / 1000), tag,
		    body->str);
	}
	/* One write: lines from forked workers must not interleave. */
	fwrite(line->str, 1, line->len, stderr);
	fflush(stderr);
	g_string_free(line, TRUE);
	g_string_free(body, TRUE);
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
