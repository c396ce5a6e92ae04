/*
 * sanitize.h - bound and defuse a raw message before GMime sees it.
 *
 * sanitize_prepare() checks the caller's limits on the raw bytes (header
 * block size, number of MIME containers and parts) with cheap scans, turns
 * bare-CR line ends into LF and any other bare CR into a space (GMime drops
 * it from header values, joining what it separated), and neutralises
 * RFC 2047 encoded words whose
 * charset is not allowed: "=?CS?" becomes "=_CS?", so the word is shown as
 * plain text and never reaches GMime's or iconv's converters (GMime 3.2.13
 * aborts on ISO-2022-CN-EXT and over-reads on CP949; see HOSTILE-INPUT.md).
 *
 * Returns the bytes to parse: data itself when nothing had to change, or a
 * modified copy stored in *copy (caller g_free()s *copy, also when NULL is
 * returned).  Returns NULL when a limit is exceeded; *why then says which
 * (static string).
 * Anomaly flags (REPORT_ANOMALY_*) are or-ed into *anomalies.
 */
#ifndef REBOUND_SANITIZE_H
#define REBOUND_SANITIZE_H

#include <glib.h>

struct sanitize_limits {
	int max_depth;			/* multipart / message containers */
	int max_parts;
	gsize max_header_size;
	gsize max_size;
	GHashTable *charset_allow;	/* lower-case names; NULL = none allowed */
};

const char *sanitize_prepare(const struct sanitize_limits *lim, const char *data, gsize len,
    gsize *outlen, char **copy, guint32 *anomalies, const char **why);

/*
 * The same defusing for a header value the parser assembled itself (a
 * field joined from several lines can hold a word that spans a line end,
 * which the raw scan did not see): in place, on a NUL-terminated string.
 */
void sanitize_words(const struct sanitize_limits *lim, char *s, guint32 *anomalies);

/* TRUE when text in this charset may be converted (allow-list, never a known-bad one). */
gboolean sanitize_charset_ok(const struct sanitize_limits *lim, const char *charset);

#endif
