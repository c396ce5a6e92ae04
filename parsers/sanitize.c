/*
 * sanitize.c - limits and encoded-word neutralising before MIME parsing.
 *
 * The scans here are deliberately simple upper bounds: they may count a
 * "Content-Type: multipart" line that sits in a quoted body, which can only
 * make a limit trip early on a pathological message, never let one through.
 */
#include <string.h>
#include <glib.h>

#include "parsers/report.h"
#include "parsers/sanitize.h"
#include "parsers/scan.h"

/* glibc converters that misbehave under GMime 3.2.13: never decode these. */
static const char *const charset_deny[] = {
	"cp949", "mscp949", "uhc", "osf100203b5", "iso-2022-cn-ext", "iso2022cnext",
};

static gboolean
charset_denied(const char *cs)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(charset_deny); i++)
		if (g_ascii_strcasecmp(cs, charset_deny[i]) == 0)
			return TRUE;
	return FALSE;
}

gboolean
sanitize_charset_ok(const struct sanitize_limits *lim, const char *charset)
{
	char buf[64];
	size_t n;

	if (charset == NULL)
		return FALSE;
	n = strcspn(charset, "*");	/* RFC 2231 language suffix */
	if (n == 0 || n >= sizeof(buf))
		return FALSE;
	memcpy(buf, charset, n);
	buf[n] = '\0';
	g_strstrip(buf);
	for (char *q = buf; *q; q++)
		*q = g_ascii_tolower(*q);
	if (charset_denied(buf))
		return FALSE;
	return lim->charset_allow != NULL && g_hash_table_contains(lim->charset_allow, buf);
}

static char *
ensure_copy(const char *data, gsize len, char **copy)
{
	if (*copy == NULL) {
		*copy = g_malloc(len + 1);
		memcpy(*copy, data, len);
		(*copy)[len] = '\0';
	}
	return *copy;
}

/* Case-insensitive prefix test at p, bounded by end. */
static gboolean
has_prefix_ci(const char *p, const char *end, const char *pfx)
{
	size_t n = strlen(pfx);

	return (gsize)(end - p) >= n && ascii_eq_ci(p, pfx, n);
}

/*
 * The charset of an encoded word starting at cs ("=?" already seen), as
 * GMime reads it: up to the next '?', across a line end when the next line
 * continues the header - folded (it starts with a space or tab) or with no
 * colon before its first '?' or end, which GMime also takes as a
 * continuation ("=?IS"
 * LF "O-2022-CN-EXT?B?...?=" reached its ISO-2022-CN-EXT abort, a fuzzer
 * find).  FALSE when no '?' follows (no word); else the name without the
 * line ends in name (NUL-terminated, 64 bytes) and its length in *n, which
 * is 64 when it did not fit (the scan stops there: whatever follows, such
 * a word is defused).
 */
static gboolean
charset_token(const char *cs, const char *end, char *name, gsize *n)
{
	const char *q = cs;

	*n = 0;
	while (q < end && *q != '?') {
		if (*n >= 64)
			return TRUE;		/* too long for a name: defused, and the scan bounded */
		if (*q == '\n') {
			const char *l = q + 1, *c;

			if (l >= end || *l == '\n' || (*l == '\r' && l + 1 < end && l[1] == '\n'))
				return FALSE;		/* end of the header block */
			if (*l != ' ' && *l != '\t') {
				/* a colon before any '?' or line end: a header of its own */
				for (c = l; c < end && c < l + 256 && *c != ':' && *c != '?' &&
				    *c != '\n'; c++)
					;
				if (c < end && *c == ':')
					return FALSE;
			}
		} else if (*q != '\r') {
			if (*n < 63)
				name[*n] = *q;
			(*n)++;
		}
		q++;
	}
	if (q >= end)
		return FALSE;
	name[MIN(*n, 63)] = '\0';
	return TRUE;
}

/* A "Content-Type:" line [p, nl): one more part, and a container when it is one. */
static void
count_part(const char *p, const char *nl, int *parts, int *containers)
{
	const char *v = p + 13;

	if ((*p != 'C' && *p != 'c') || !has_prefix_ci(p, nl, "content-type:"))
		return;
	while (v < nl && (*v == ' ' || *v == '\t'))
		v++;
	(*parts)++;
	if (has_prefix_ci(v, nl, "multipart/") || has_prefix_ci(v, nl, "message/rfc822") ||
	    has_prefix_ci(v, nl, "message/global"))
		(*containers)++;
}

/*
 * Line ends GMime reads as the parser does: bare CR line ends become LF;
 * a bare CR inside a line, which GMime drops from header values (so that
 * "=\r?UHC?B?...?=" becomes an encoded word the scan for them never saw,
 * a fuzzer find), ends no line here and becomes a space.  The data, or
 * *copy when a byte had to change.
 */
static const char *
fix_line_ends(const char *data, gsize len, char **copy)
{
	const char *p, *end = data + len, *nl, *cr;
	char *buf;

	/* Bare CR line ends: GMime only knows LF, so rewrite them (rare case). */
	nl = memchr(data, '\n', len);
	cr = memchr(data, '\r', nl != NULL ? (gsize)(nl - data) : len);
	if (cr != NULL && (cr + 1 >= end || cr[1] != '\n')) {
		buf = ensure_copy(data, len, copy);
		for (gsize i = 0; i < len; i++)
			if (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))
				buf[i] = '\n';
		data = buf;
		end = data + len;
	}
	/* memchr first: most messages have no CR at all, and it reads them faster */
	for (p = data; (cr = memchr(p, '\r', end - p)) != NULL && (cr = scan_bare_cr(cr, end)) < end;
	    p = cr + 1) {
		buf = ensure_copy(data, len, copy);
		buf[cr - data] = ' ';
		cr = buf + (cr - data);
		data = buf;
		end = data + len;
	}
	return data;
}

/*
 * One pass over line starts: header block size (*hdr; len when there is
 * no blank line), containers, parts.  Line by line up to the header's
 * end; past it only lines starting with a C count, and a vector scan
 * finds those.
 */
static void
count_structure(const char *data, gsize len, gsize *hdr, int *parts, int *containers)
{
	const char *p, *end = data + len, *nl;

	*hdr = len;
	for (p = data; p < end; p = nl + 1) {
		nl = scan_byte(p, end, '\n');
		if (*hdr == len && (p == nl || (*p == '\r' && p + 1 == nl)))
			*hdr = p - data;
		count_part(p, nl, parts, containers);
		if (nl == end)
			break;
		if (*hdr != len) {
			for (p = nl + 1; p < end; p = scan_line_start(p, end, 'c', 'C')) {
				nl = scan_byte(p, end, '\n');
				count_part(p, nl, parts, containers);
			}
			break;
		}
	}
}

/*
 * Encoded words anywhere (part headers and enclosed messages count too)
 * whose charset is not allowed are defused.  Found by their '?', which is
 * rare, where '=' is all over a quoted-printable body: every "=?" with two
 * bytes after it.  The data, or *copy when a byte had to change.
 */
static const char *
defuse_words(const struct sanitize_limits *lim, const char *data, gsize len, char **copy,
    guint32 *anomalies)
{
	const char *p, *end = data + len;
	char *buf;

	for (p = data; p + 2 < end; p++) {
		const char *q, *cs;
		char name[64];
		gsize n;

		q = memchr(p + 1, '?', end - p - 2);
		if (q == NULL)
			break;
		p = q - 1;
		if (*p != '=')
			continue;
		cs = p + 2;
		/*
		 * The charset runs to the next '?'; GMime does not insist on a
		 * sane name, so neither length nor bytes make a word harmless:
		 * anything not exactly on the allow-list is defused.  Read it as
		 * GMime does, across the line ends it joins (charset_token()).
		 */
		if (!charset_token(cs, end, name, &n))
			continue;
		if (n > 0 && n < sizeof(name) && sanitize_charset_ok(lim, name))
			continue;
		buf = ensure_copy(data, len, copy);
		buf[p - data + 1] = '_';
		if (data != buf) {
			p = buf + (p - data);
			data = buf;
			end = data + len;
		}
		*anomalies |= REPORT_ANOMALY_NEUTRALISED;
	}
	return data;
}

const char *
sanitize_prepare(const struct sanitize_limits *lim, const char *data, gsize len,
    gsize *outlen, char **copy, guint32 *anomalies, const char **why)
{
	gsize hdr;
	int containers = 0, parts = 0;

	*copy = NULL;
	*outlen = len;
	if (lim->max_size > 0 && len > lim->max_size) {
		*anomalies |= REPORT_ANOMALY_TRUNCATED;
		*why = "message too big";
		return NULL;
	}
	data = fix_line_ends(data, len, copy);
	count_structure(data, len, &hdr, &parts, &containers);
	if (lim->max_header_size > 0 && hdr > lim->max_header_size) {
		*anomalies |= REPORT_ANOMALY_HEADER_TOO_BIG;
		*why = "header too big";
		return NULL;
	}
	if (lim->max_parts > 0 && parts > lim->max_parts) {
		*anomalies |= REPORT_ANOMALY_TOO_MANY_PARTS;
		*why = "too many MIME parts";
		return NULL;
	}
	if (lim->max_depth > 0 && containers > lim->max_depth) {
		*anomalies |= REPORT_ANOMALY_TOO_DEEP;
		*why = "MIME nesting too deep";
		return NULL;
	}
	return defuse_words(lim, data, len, copy, anomalies);
}

void
sanitize_words(const struct sanitize_limits *lim, char *s, guint32 *anomalies)
{
	char *p, *q, name[64];
	gsize n;

	for (p = s; (p = strstr(p, "=?")) != NULL; p++) {
		if ((q = strchr(p + 2, '?')) == NULL)
			break;
		n = q - (p + 2);
		if (n > 0 && n < sizeof(name)) {
			memcpy(name, p + 2, n);
			name[n] = '\0';
			if (sanitize_charset_ok(lim, name))
				continue;
		}
		p[1] = '_';
		*anomalies |= REPORT_ANOMALY_NEUTRALISED;
	}
}
