/*
 * parser_util.c - helpers of every reader that hold no state: an address
 * out of a field or a line, status and reply codes, the SMTP command a
 * text names, valid UTF-8, the text of an HTML notice.
 */
#include <string.h>
#include <glib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "parsers/parser_util.h"
#include "parsers/scan.h"
#include "common/address.h"

char *
parser_address(const char *s)
{
	return address_normalise_text(s);
}

/*
 * Is the "-" before p that of a multi-line reply's continuation,
 * "550-5.7.26 ..." (Gmail writes every long answer so): a reply code at
 * the start of a line or after a blank, then the status code.
 */
static gboolean
reply_dash(const char *t, const char *p)
{
	const char *c = p - 4;

	if (p - t < 4 || (*c != '4' && *c != '5' && *c != '2') ||
	    !g_ascii_isdigit(c[1]) || !g_ascii_isdigit(c[2]))
		return FALSE;
	return c == t || c[-1] == ' ' || c[-1] == '\t' || c[-1] == '\n' || c[-1] == '\r' ||
	    c[-1] == '(' || c[-1] == ';' || c[-1] == ':' || c[-1] == '#';
}

/*
 * Status "5.1.1" found in text, or NULL.  New string.  A failure's code
 * (4.x.x, 5.x.x) before any success's: a transcript quotes the "250 2.1.0
 * Sender ok" of the commands that worked above the reply that failed.
 */
char *
parser_find_status(const char *t)
{
	const char *p, *ok = NULL;
	gsize okn = 0;

	if (t == NULL)
		return NULL;
	/* strpbrk: glibc's compares sixteen bytes at a time */
	for (p = t; (p = strpbrk(p, "245")) != NULL; p++) {
		const char *q;
		int d1 = 0, d2 = 0;

		if (p > t && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || (p[-1] == '-' && !reply_dash(t, p))))
			continue;
		if (p[1] != '.')
			continue;
		for (q = p + 2; g_ascii_isdigit(*q); q++)
			d1++;
		if (d1 < 1 || d1 > 3 || *q != '.')
			continue;
		for (q++; g_ascii_isdigit(*q); q++)
			d2++;
		if (d2 < 1 || d2 > 3)
			continue;
		if (g_ascii_isalnum(*q) || (*q == '.' && g_ascii_isdigit(q[1])))
			continue;
		if (*p != '2')
			return g_strndup(p, q - p);
		if (ok == NULL) {
			ok = p;
			okn = q - p;
		}
	}
	return ok != NULL ? g_strndup(ok, okn) : NULL;
}

/*
 * SMTP reply code in text ("550 ", "550-", "550:"), or NULL.  New string.
 * A failure's (4xx, 5xx) before any success's, as for status codes.
 */
char *
parser_find_replycode(const char *t)
{
	const char *p, *ok = NULL;

	if (t == NULL)
		return NULL;
	for (p = t; (p = strpbrk(p, "245")) != NULL; p++) {
		if (!g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) || p[1] > '5')
			continue;
		if (p > t && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || p[-1] == '-' || p[-1] == '#'))
			continue;
		if (p[3] != ' ' && p[3] != '-' && p[3] != '\0' && p[3] != ']' && p[3] != ':' &&
		    p[3] != '\n' && p[3] != '\r')
			continue;
		if (p[3] == '-' && !g_ascii_isalpha(p[4]) && !g_ascii_isdigit(p[4]))
			continue;
		if (*p != '2')
			return g_strndup(p, 3);
		if (ok == NULL)
			ok = p;
	}
	return ok != NULL ? g_strndup(ok, 3) : NULL;
}

/*
 * What g_utf8_validate_len() says, faster on plain ASCII (most of a
 * bounce): eight bytes at a time, none of them NUL or above 0x7f.
 */
gboolean
parser_utf8_valid(const char *s, gsize len)
{
	const guint64 lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	gsize i = 0;

#ifdef __SSE2__
	/* sixteen bytes at a time: a NUL or a high bit sets a bit of the mask */
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));

		if (_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, _mm_setzero_si128()))) != 0)
			break;
	}
#endif
	for (; i + 8 <= len; i += 8) {
		guint64 v;

		memcpy(&v, s + i, 8);
		if (((v - lo) & ~v & hi) != 0 || (v & hi) != 0)
			break;
	}
	for (; i < len; i++)
		if (s[i] == '\0' || (guchar)s[i] >= 0x80)
			return g_utf8_validate_len(s + i, len - i, NULL);
	return TRUE;
}

char *
parser_utf8(const char *s, gssize len)
{
	if (s == NULL)
		return NULL;
	if (len < 0)
		len = strlen(s);
	if (parser_utf8_valid(s, len))
		return g_strndup(s, len);
	return g_utf8_make_valid(s, len);
}

/*
 * Phrases that name an SMTP command, grouped by a common start: each group
 * is found with one strstr per occurrence of its start rather than one
 * strstr per phrase over the whole text.
 */
/* Longer than any phrase of a table below, its start and rest together. */
#define MAX_PHRASE	64

struct phrase_group {
	const char *start;
	struct {
		const char *rest, *cmd;
	} alt[6];
};

/*
 * The command of the phrase found first in t (the earliest; no two
 * phrases of different commands can start at one place), or NULL.
 */
static const char *
first_phrase(const char *t, const struct phrase_group *g, gsize ng)
{
	const char *best = NULL, *at = NULL, *h;
	gsize i, k;

	for (i = 0; i < ng; i++) {
		gsize sl = strlen(g[i].start);

		for (h = strstr(t, g[i].start); h != NULL && (at == NULL || h < at);
		    h = strstr(h + 1, g[i].start))
			for (k = 0; k < G_N_ELEMENTS(g[i].alt) && g[i].alt[k].cmd != NULL; k++)
				if (strncmp(h + sl, g[i].alt[k].rest, strlen(g[i].alt[k].rest)) == 0) {
					at = h;
					best = g[i].alt[k].cmd;
					goto next;
				}
next:
		;
	}
	return best;
}

/*
 * In a session transcript (">>> RCPT To:<x>" / "<<< 550 ...", MDaemon's
 * "-->" / "<--"), the command sent last before the first reply that
 * failed: the commands before it worked.  NULL when t holds no such pair.
 */
static const char *
transcript_command(const char *t)
{
	static const struct { const char *s, *cmd; } tab[] = {
		{ "rcpt", "RCPT" }, { "data", "DATA" }, { "mail from", "MAIL" }, { "ehlo", "EHLO" },
		{ "helo", "HELO" }, { "bdat", "DATA" },
	};
	static const char *const in[] = { "<<< ", "<-- " };
	const char *fail = NULL, *h, *last = NULL;
	gsize i;

	/* the first "<<< 4", "<<< 5", "<-- 4" or "<-- 5": one search a prompt */
	for (i = 0; i < G_N_ELEMENTS(in); i++)
		for (h = strstr(t, in[i]); h != NULL && (fail == NULL || h < fail);
		    h = strstr(h + 1, in[i]))
			if (h[4] == '4' || h[4] == '5') {
				fail = h;
				break;
			}
	if (fail == NULL)
		return NULL;
	for (h = t; (h = strstr(h, ">>> ")) != NULL && h < fail; h += 4)
		last = h + 4;
	for (h = t; (h = strstr(h, "--> ")) != NULL && h < fail; h += 4)
		if (last == NULL || h + 4 > last)
			last = h + 4;
	if (last == NULL)
		return NULL;
	for (i = 0; i < G_N_ELEMENTS(tab); i++)
		if (g_ascii_strncasecmp(last, tab[i].s, strlen(tab[i].s)) == 0)
			return tab[i].cmd;
	return NULL;
}

/* The SMTP command a folded diagnostic says the failure followed, or NULL. */
char *
parser_find_command(const char *t)
{
	static const struct phrase_group tab[] = {
		{ "rcpt", { { " to", "RCPT" }, { "_to", "RCPT" }, { " command", "RCPT" } } },
		{ "end of data", { { "", "DATA" } } },
		{ "data command", { { "", "DATA" } } },
		{ "after data", { { "", "DATA" } } },
		{ "final data", { { "", "DATA" } } },
		{ "message data", { { "", "DATA" } } },
		{ "mail", { { " from", "MAIL" }, { "_from", "MAIL" }, { " command", "MAIL" } } },
		{ "ehlo", { { "", "EHLO" } } },
		{ "helo", { { "", "HELO" } } },
		{ "initial connection", { { "", "CONN" } } },
		{ "connect to", { { "", "CONN" } } },
		{ "but ", { { "sender was rejected", "MAIL" }, { "my name was rejected", "HELO" } } },
		{ "failed after i sent the message", { { "", "DATA" } } },
		{ ">>> data", { { "", "DATA" } } },
		{ "(state 1", { { "4)", "RCPT" }, { "3)", "MAIL" }, { "5)", "DATA" }, { "7)", "DATA" },
		    { "8)", "DATA" } } },
		{ "during result wait", { { "", "DATA" } } },
		{ "does not like recipient", { { "", "RCPT" } } },
		{ "smtp:", { { "rcpt", "RCPT" }, { "data", "DATA" }, { "mail", "MAIL" } } },
	};
	const char *best;

	if (t == NULL)
		return NULL;
	if ((best = transcript_command(t)) != NULL)
		return g_strdup(best);
	/* The first one mentioned is where the session ended in most reports. */
	if ((best = first_phrase(t, tab, G_N_ELEMENTS(tab))) == NULL)
		return NULL;
	return g_strdup(best);
}

/*
 * The command named by a transcript or a reply in the report's text
 * (context, folded), looked for from the recipient's first mention on,
 * then anywhere.  Only phrases that introduce a command count here: the
 * text may also carry headers where "helo" or "mail from" mean nothing.
 */
char *
parser_find_command_context(const char *ctx, const char *rcpt)
{
	static const struct phrase_group tab[] = {
		{ ">>> ", { { "rcpt", "RCPT" }, { "data", "DATA" }, { "mail from", "MAIL" },
		    { "ehlo", "EHLO" }, { "helo", "HELO" } } },
		{ "in reply to ", { { "rcpt", "RCPT" }, { "end of data", "DATA" }, { "data", "DATA" },
		    { "mail from", "MAIL" }, { "ehlo", "EHLO" }, { "helo", "HELO" } } },
		{ "after ", { { "rcpt to", "RCPT" }, { "end of data", "DATA" }, { "data", "DATA" },
		    { "mail from", "MAIL" }, { "initial connection", "CONN" } } },
		/* Postfix: the greeting itself was a refusal */
		{ "refused to talk to me", { { "", "CONN" } } },
		{ "did not like our ", { { "rcpt", "RCPT" }, { "data", "DATA" } } },
		{ "smtp command ", { { "data", "DATA" }, { "rcpt", "RCPT" }, { "mail", "MAIL" } } },
		{ "does not like recipient", { { "", "RCPT" } } },
		{ "smtp:", { { "rcpt", "RCPT" }, { "data", "DATA" } } },
		{ "but sender was rejected", { { "", "MAIL" } } },
		{ "failed after i sent the message", { { "", "DATA" } } },
	};
	const char *from = NULL, *best = NULL;

	if (ctx == NULL)
		return NULL;
	if (rcpt != NULL)
		from = strstr(ctx, rcpt);
	if (from != NULL)
		best = first_phrase(from, tab, G_N_ELEMENTS(tab));
	if (best == NULL && from != NULL && from > ctx) {
		/*
		 * No phrase starts at from or after: one before it is all in
		 * the bytes up to from and a phrase's length, not read again.
		 */
		char *head = g_strndup(ctx, (gsize)(from - ctx) + MAX_PHRASE);

		best = first_phrase(head, tab, G_N_ELEMENTS(tab));
		g_free(head);
	} else if (best == NULL && from == NULL)
		best = first_phrase(ctx, tab, G_N_ELEMENTS(tab));
	return best != NULL ? g_strdup(best) : NULL;
}

gboolean
parser_local_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c >= 0x80 || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

/* ASCII only: text bounces glue non-ASCII punctuation to addresses. */
static gboolean
domain_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '-';
}

/*
 * Next address in [p, end) at or after *pos; returns a new normalised
 * address and sets *pos past it, or NULL.
 */
char *
parser_next_address(const char *line, gsize n, gsize *pos)
{
	gsize i;

	for (i = *pos; i < n; i++) {
		gsize a, b;
		char *s, *out;
		const char *at = memchr(line + i, '@', n - i);

		if (at == NULL)
			break;
		i = at - line;
		a = i;
		while (a > 0 && parser_local_char(line[a - 1]))
			a--;
		b = i + 1;
		/* no domain has two dots in a row: "x@y.net...user" is Sendmail's "x@y.net... User" */
		while (b < n && domain_char(line[b]) && !(line[b] == '.' && b + 1 < n && line[b + 1] == '.'))
			b++;
		while (b > i + 1 && (line[b - 1] == '.' || line[b - 1] == '-'))
			b--;
		/*
		 * Characters RFC 5322 allows in a local part but that in a notice
		 * are punctuation glued to the address: "|jo@x" in a signature,
		 * "=3Djo@x" from a URL, "'jo@x'".
		 */
		while (a < i && strchr(".'|=/`{}~^*+?#$%&!-", line[a]) != NULL)
			a++;
		/* a program's variable before it: "RECIPIENT=jo@x", "SENDER=jo@x" */
		{
			gsize k = a;

			while (k < i && (g_ascii_isupper(line[k]) || line[k] == '_'))
				k++;
			if (k >= a + 2 && k < i && line[k] == '=')
				a = k + 1;
		}
		*pos = b > i ? b : i + 1;
		if (a == i || b <= i + 1 || memchr(line + i + 1, '.', b - i - 1) == NULL)
			continue;
		/* a URL's path or query ("/help?email=x@y"), not an address */
		if (memchr(line + a, '/', i - a) != NULL || memchr(line + a, '?', i - a) != NULL)
			continue;
		/* inside a URL or a Message-ID-ish token "<...@...>" after "id"? keep simple */
		if (a >= 3 && line[a - 1] == '/' )
			continue;
		s = g_strndup(line + a, b - a);
		out = parser_address(s);
		g_free(s);
		if (out != NULL)
			return out;
	}
	*pos = n;
	return NULL;
}

/* UTF-8 for the code point of "&#NNN;" / "&#xHH;" at p, or 0 bytes. */
static gsize
numeric_entity(const char *p, char *out, gsize *used)
{
	char *end;
	gulong cp;

	if (p[1] != '#')
		return 0;
	if (p[2] == 'x' || p[2] == 'X')
		cp = strtoul(p + 3, &end, 16);
	else
		cp = strtoul(p + 2, &end, 10);
	if (end == p + 2 || end == p + 3 || *end != ';' || cp == 0 || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*used = end - p;
	return g_unichar_to_utf8((gunichar)cp, out);
}

/*
 * The tag at p starts with lit, caselessly: as g_ascii_strncasecmp(p, lit,
 * n) == 0 would say, inline (q - p bytes up to its '>', and no lit holds
 * a '>'), in parser_from_html(), for every tag of a notice.
 */
#define TAG(lit)	((gsize)(q - p) >= sizeof(lit) - 1 && ascii_eq_ci(p, lit, sizeof(lit) - 1))

/*
 * The text a browser shows: tags that end a line or a block end one, the
 * source's own line ends and white space runs are one space (none at the
 * start of a line), except inside <pre>.
 */
char *
parser_from_html(const char *html)
{
	GString *s;
	const char *p;
	gboolean pre = FALSE;

	if (html == NULL)
		return NULL;
	s = g_string_new(NULL);
	for (p = html; *p != '\0'; p++) {
		if (!pre && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
			if (s->len > 0 && s->str[s->len - 1] != ' ' && s->str[s->len - 1] != '\n')
				g_string_append_c(s, ' ');
		} else if (*p == '<') {
			const char *q = strchr(p, '>'), *skip = NULL;

			if (q == NULL)
				break;
			if (TAG("<pre"))
				pre = TRUE;
			else if (TAG("</pre"))
				pre = FALSE;
			/* what a browser does not show is not the notice's text */
			if (TAG("<style"))
				skip = "</style";
			else if (TAG("<script"))
				skip = "</script";
			else if (TAG("<head") && (p[5] == '>' || p[5] == ' '))
				skip = "</head";
			if (skip != NULL) {
				const char *c = strcasestr(q, skip);

				if (c == NULL || (q = strchr(c, '>')) == NULL)
					break;
			} else if (TAG("<br") ||
			    TAG("</p") ||
			    TAG("</div") || TAG("</tr") ||
			    TAG("</li") || TAG("</h") ||
			    TAG("</table") || TAG("<p") || TAG("</pre")) {
				/* a space before the line end is none of the text's */
				if (s->len > 0 && s->str[s->len - 1] == ' ')
					g_string_truncate(s, s->len - 1);
				g_string_append_c(s, '\n');
			}
			else if (TAG("</td") || TAG("</th"))
				g_string_append_c(s, ' ');
			p = q;
		} else if (*p == '&') {
			char u[8];
			gsize used = 0, k;

			if (strncmp(p, "&lt;", 4) == 0)
				g_string_append_c(s, '<'), p += 3;
			else if (strncmp(p, "&gt;", 4) == 0)
				g_string_append_c(s, '>'), p += 3;
			else if (strncmp(p, "&amp;", 5) == 0)
				g_string_append_c(s, '&'), p += 4;
			else if (strncmp(p, "&nbsp;", 6) == 0)
				g_string_append_c(s, ' '), p += 5;
			else if (strncmp(p, "&quot;", 6) == 0)
				g_string_append_c(s, '"'), p += 5;
			else if (strncmp(p, "&apos;", 6) == 0)
				g_string_append_c(s, '\''), p += 5;
			else if ((k = numeric_entity(p, u, &used)) > 0)
				g_string_append_len(s, u, k), p += used;
			else
				g_string_append_c(s, '&');
		} else
			g_string_append_c(s, *p);
	}
	return g_string_free(s, FALSE);
}
#undef TAG
