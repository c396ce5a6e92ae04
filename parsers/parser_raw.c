/*
 * parser_raw.c - searches of a message's raw bytes, where GMime is not
 * asked: where the body starts, how much of the message GMime needs to
 * see, delivery-status blocks no MIME part holds.  No state.
 */
#include <string.h>
#include <glib.h>

#include "parsers/parser_raw.h"
#include "parsers/scan.h"

/*
 * memmem() for the literals searched in whole messages: memchr finds
 * their byte lit[piv], chosen rare in mail ('v', 'k', '8'), and the rest
 * is compared there.  glibc's memmem reads about a byte a cycle; memchr
 * skips ahead many times faster.  The first occurrence, or NULL.
 */
static const char *
find_lit(const char *hay, gsize n, const char *lit, gsize k, gsize piv)
{
	const char *end = hay + n, *q;

	if (n < k)
		return NULL;
	for (q = hay + piv; q < end && (q = memchr(q, lit[piv], end - q)) != NULL; q++)
		if (q + (k - piv) <= end && memcmp(q - piv, lit, k) == 0)
			return q - piv;
	return NULL;
}

/*
 * The body of a raw message: after the first empty line ("\n\n",
 * "\n\r\n" or "\r\r"), or the end.  Line by line with memchr: the
 * LF-led ones first, then any "\r\r" (bare CRs, rare) ahead of them.
 */
const char *
raw_body(const char *buf, gsize len)
{
	const char *end = buf + len, *p, *nl, *cr;

	/* inline, not memchr: a header's lines are short, the call would cost more than the scan */
	for (p = buf; (nl = scan_byte(p, end, '\n')) < end; p = nl + 1)
		if (nl + 1 < end && (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < end && nl[2] == '\n')))
			break;
	if (nl == end)
		nl = NULL;
	for (p = buf; (cr = memchr(p, '\r', (nl != NULL ? nl : end) - p)) != NULL; p = cr + 1)
		if (cr + 1 < end && cr[1] == '\r')
			return cr + 2;
	if (nl == NULL)
		return end;
	return nl[1] == '\n' ? nl + 2 : nl + 3;
}

/* Offset just past the next empty line at or after from, or len. */
static gsize
after_blank_line(const char *buf, gsize len, gsize from)
{
	/* the same test as raw_body(), which steps by line with memchr */
	return from >= len ? len : (gsize)(raw_body(buf + from, len - from) - buf);
}

/*
 * Where GMime can stop short of the message/rfc822 part whose header has
 * the line at t: before the line end ahead of the boundary line that
 * opens the part (GMime drops that line end from the part before a
 * boundary; at the end of its input it drops nothing, so that part reads
 * the same).  GMime then builds no object for a part nothing is read from
 * (the original's header is read raw).  *tok: that boundary.  part (just
 * past the part's header) when that boundary line is not found: a blank
 * line or the start of the message first, a closing boundary, or a "--"
 * line whose token no boundary parameter declares.  Whether GMime takes
 * the line for a boundary of the top-level multipart is checked once it
 * has parsed (walk_gmime).
 */
static gsize
before_part(const char *buf, const char *t, gsize part, const char **tok, gsize *toklen)
{
	const char *ls = t, *s, *e, *b, *be, *q;
	int lines;

	for (lines = 0; lines < 64 && ls > buf; lines++) {
		e = ls - 1;		/* the previous line's end */
		if (*e == '\n' && e > buf && e[-1] == '\r')
			e--;
		for (s = e; s > buf && s[-1] != '\n' && s[-1] != '\r'; s--)
			;
		if (s == e)
			return part;	/* a blank line: this was no part header */
		if (e - s < 3 || s[0] != '-' || s[1] != '-') {
			ls = s;		/* another line of the part's header */
			continue;
		}
		for (be = e; be > s + 2 && (be[-1] == ' ' || be[-1] == '\t'); be--)
			;
		b = s + 2;
		if (be - b < 1 || s == buf || (be - b >= 2 && be[-1] == '-' && be[-2] == '-'))
			return part;
		for (q = buf; (q = memmem(q, s - q, b, be - b)) != NULL; q++)
			if (q > buf && (q[-1] == '"' || q[-1] == '=') && q + (be - b) < s &&
			    (q[be - b] == '"' || q[be - b] == ';' || q[be - b] == '\r' ||
			    q[be - b] == '\n' || q[be - b] == ' ' || q[be - b] == '\t'))
				break;
		if (q == NULL)
			return part;
		*tok = b;
		*toklen = be - b;
		e = s - 1;		/* the line end before the boundary line */
		if (*e == '\n' && e > buf && e[-1] == '\r')
			e--;
		return e - buf;
	}
	return part;
}

/*
 * How much of the message GMime needs to see.  Everything the parser reads
 * comes before the enclosed original's body: the notice, the
 * delivery-status or feedback-report part, the original's header block.
 * The original (often the larger part, with attachments, nested parts and
 * a long header) is not handed to GMime at all: its header block is read
 * here with fields_parse_header() (*hdr, *hdrlen), its body never.  The
 * cut is made only when the enclosed message is not transfer-encoded and
 * nothing a report is made of follows it (a notice placed after the
 * original would be lost: MTAs put it first); GMime takes the missing
 * closing boundary in its stride.  *early: where GMime may stop sooner,
 * before that part's boundary (before_part()), or 0.  body: where the
 * message's own header ends (raw_body()).
 */
gsize
raw_gmime_extent(const char *buf, gsize len, gsize body, const char **hdr, gsize *hdrlen,
    gsize *early, const char **tok, gsize *toklen)
{
	static const char tag[] = "content-type: message/rfc822";
	const char *p = buf, *end = buf + len, *h;
	gsize part, cut, stop;

	*hdr = NULL;
	*hdrlen = 0;
	*early = 0;
	while ((h = find_lit(p, end - p, "rfc822", 6, 3)) != NULL) {
		const char *t = h - 22;	/* where "content-type: message/" would start */

		p = h + 6;
		if (t < buf || g_ascii_strncasecmp(t, tag, sizeof(tag) - 1) != 0 ||
		    (t != buf && t[-1] != '\n' && t[-1] != '\r'))
			continue;
		part = after_blank_line(buf, len, p - buf);	/* the part's own header */
		cut = after_blank_line(buf, len, part);		/* the original's header */
		if (cut >= len)
			return len;
		if (memmem(t, part - (t - buf), "ransfer-", 8) != NULL ||
		    memmem(t, part - (t - buf), "RANSFER-", 8) != NULL) {
			/* "Content-Transfer-Encoding" on the part: only 7bit/8bit/binary are plain */
			const char *te = memmem(t, part - (t - buf), "ncoding:", 8);

			if (te == NULL)
				te = memmem(t, part - (t - buf), "NCODING:", 8);
			if (te != NULL) {
				te += 8;
				while (te < buf + part && (*te == ' ' || *te == '\t'))
					te++;
				if (buf + part - te < 4 || (g_ascii_strncasecmp(te, "7bit", 4) != 0 &&
				    g_ascii_strncasecmp(te, "8bit", 4) != 0 &&
				    g_ascii_strncasecmp(te, "binary", 4) != 0))
					return len;
			}
		}
		if (find_lit(buf + cut, len - cut, "elivery-", 8, 3) != NULL ||
		    find_lit(buf + cut, len - cut, "eedback-", 8, 6) != NULL)
			return len;
		*hdr = buf + part;
		*hdrlen = cut - part;
		stop = before_part(buf, t, part, tok, toklen);
		/* never inside the message's own header */
		if (stop != part && stop > body)
			*early = stop;
		return part;
	}
	return len;
}

/* Offset just past the line-start "--BOUNDARY--" that closes the top-level
 * multipart, or len when there is none (GMime then saw all of it). */
gsize
raw_after_close(const char *buf, gsize len, const char *b, gsize bn)
{
	const char *p, *end = buf + len, *h;
	char *delim;
	gsize dn, off = len;

	if (b == NULL)
		return len;
	delim = g_strdup_printf("--%.*s--", (int)bn, b);
	dn = strlen(delim);
	for (p = buf; (h = memmem(p, end - p, delim, dn)) != NULL; p = h + 1)
		if (h == buf || h[-1] == '\n' || h[-1] == '\r') {
			off = h + dn - buf;
			break;
		}
	g_free(delim);
	return off;
}

/*
 * No MIME part at all: DSN fields written inline in the text.  The
 * paragraph holding the first line-start Reporting-MTA or Final-Recipient
 * field begins the report; it runs to the end (bounded).
 */
static gboolean
raw_dsn_fields(const char *buf, gsize len, const char **out, gsize *outlen)
{
	const char *end = buf + len, *best = NULL, *s, *p;

	/* line starts only: the start, and after every LF or CR (those with an R or F: scanned for) */
	for (p = buf; p < end; p = scan_line_start4(p, end, 'R', 'r', 'F', 'f')) {
		if ((*p == 'R' || *p == 'r' || *p == 'F' || *p == 'f') &&
		    ((end - p >= 14 && g_ascii_strncasecmp(p, "reporting-mta:", 14) == 0) ||
		    (end - p >= 16 && g_ascii_strncasecmp(p, "final-recipient:", 16) == 0))) {
			best = p;
			break;
		}
	}
	if (best == NULL)
		return FALSE;
	/* back to the paragraph's start */
	for (s = best; s > buf && !(s[-1] == '\n' && s - 1 > buf && (s[-2] == '\n' ||
	    (s[-2] == '\r' && s - 2 > buf && s[-3] == '\n'))) && !(s[-1] == '\r' && s - 1 > buf &&
	    s[-2] == '\r'); s--)
		;
	*out = s;
	*outlen = MIN((gsize)(end - s), 64 * 1024);
	return TRUE;
}

gboolean
raw_dsn_block(const char *buf, gsize len, int skip, const char **out, gsize *outlen)
{
	static const char tag[] = "content-type: message/delivery-status";
	const char *p = buf, *end = buf + len, *s, *e;

	/* memmem is fast; the rare all-capitals spelling is not looked for */
	for (;;) {
		const char *h = find_lit(p, end - p, "elivery-", 8, 3), *t;

		if (h == NULL)
			return skip < 0 ? raw_dsn_fields(buf, len, out, outlen) : FALSE;
		p = h + 8;
		t = h - 23;	/* where "content-type: message/d" would start */
		if (t >= buf && (gsize)(end - t) >= sizeof(tag) - 1 &&
		    g_ascii_strncasecmp(t, tag, sizeof(tag) - 1) == 0 &&
		    (t == buf || t[-1] == '\n' || t[-1] == '\r') && skip-- <= 0) {
			p = t + 1;
			break;
		}
	}
	/* the part's header ends at the first empty line */
	for (s = p; s < end; s++)
		if (*s == '\n' && s + 1 < end && (s[1] == '\n' || (s[1] == '\r' && s + 2 < end &&
		    s[2] == '\n')))
			break;
		else if (*s == '\r' && s + 1 < end && s[1] == '\r')
			break;
	if (s >= end)
		return FALSE;
	for (e = s + 1; e < end; e++)
		if ((e[-1] == '\n' || e[-1] == '\r') && e[0] == '-' && e + 1 < end && e[1] == '-')
			break;
	*out = s;
	*outlen = e - s;
	return TRUE;
}
