/*
 * parser_text_line.c - tests of one line of a notice's text, and where
 * its enclosed original starts: what the text readers and the DSN
 * reader's search for a recipient's paragraph share.
 */
#include <string.h>
#include <glib.h>

#include "parsers/parser_text_line.h"
#include "parsers/parser_util.h"
#include "parsers/scan.h"

gsize
line_quoting(const char *p, gsize n)
{
	gsize i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '>'))
		i++;
	return i;
}

/* Empty, or only quoting: "> >". */
gboolean
line_blank(const char *p, gsize n)
{
	return line_quoting(p, n) == n;
}

/*
 * A quoted original's mbox separator, "From sender@x  Thu Apr 29 ...": it
 * names the envelope sender, like the Return-Path that follows it.  The
 * weekday after the address tells it from prose ("From x we heard").
 */
static gboolean
line_mbox_from(const char *p, gsize n)
{
	static const char days[] = "MonTueWedThuFriSatSun";
	gsize i = 5, d;

	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return FALSE;
	while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != ':')
		i++;
	if (i == n || p[i] == ':')
		return FALSE;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (n - i < 4 || p[i + 3] != ' ')
		return FALSE;
	for (d = 0; d < sizeof(days) - 1; d += 3)
		if (memcmp(p + i, days + d, 3) == 0)
			return TRUE;
	return FALSE;
}

gboolean
line_sender(const char *p, gsize n)
{
#define TAG(s)	{ s, sizeof(s) - 1 }
	static const struct { const char *s; gsize n; } tags[] = { TAG("from:"),
		TAG("mail from:"), TAG("sender:"), TAG("return-path:"), TAG("reply-to:"),
		TAG("envelope-from:"), TAG("message-id:"), TAG("in-reply-to:"), TAG("references:") };
#undef TAG
	gsize i = line_quoting(p, n);

	p += i;
	n -= i;
	/* the first letter turns most lines away without a call */
	for (i = 0; n > 0 && i < G_N_ELEMENTS(tags); i++)
		if (n >= tags[i].n && g_ascii_tolower(*p) == tags[i].s[0] &&
		    g_ascii_strncasecmp(p, tags[i].s, tags[i].n) == 0)
			return TRUE;
	return line_mbox_from(p, n);
}

/*
 * A line that opens another section of a notice: a rule ("-----",
 * "=====", "*****" with or without a title) or the machine-readable
 * fields of an inline delivery-status block.  Sendmail's "Transcript of
 * session follows" is no other section: it is the failure itself.
 */
gboolean
line_section(const char *p, gsize n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n >= 3 && (p[0] == '-' || p[0] == '=' || p[0] == '*' || p[0] == '_' || p[0] == '#') &&
	    p[1] == p[0] && p[2] == p[0])
		return g_strstr_len(p, n, "ranscript") == NULL;
	return (n >= 14 && g_ascii_strncasecmp(p, "reporting-mta:", 14) == 0) ||
	    (n >= 16 && g_ascii_strncasecmp(p, "final-recipient:", 16) == 0) ||
	    (n >= 19 && g_ascii_strncasecmp(p, "original-recipient:", 19) == 0);
}

/*
 * A line of a provider's boilerplate: where to ask for help, whom to
 * write to.  An address on it is a contact, not a recipient, unless the
 * line speaks of the failure too.
 */
gboolean
line_boiler(const char *p, gsize n)
{
	static const char *const contact[] = { "contact", "question", "help desk", "helpdesk",
		"assistance", "support", "e-mail us", "email us", "write to", "please send",
		"visit", "feedback", "unsubscribe" };
	static const char *const failure[] = { "deliver", "fail", "reject", "refuse", "unknown",
		"not found", "exist", "invalid", "error", "bounce", "undeliverable", "quota", "full" };
	char *l = scan_ascii_down(p, n);
	gboolean yes = FALSE;
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(contact) && !yes; i++)
		yes = strstr(l, contact[i]) != NULL;
	for (i = 0; i < G_N_ELEMENTS(failure) && yes; i++)
		yes = strstr(l, failure[i]) == NULL;
	g_free(l);
	return yes;
}

/*
 * Is the address at [start, end) of line p (n octets) named aside in its
 * clause: a contact in boilerplate ("550 5.1.1 User unknown; contact help@x
 * for help"), or the new address a reply offers (RFC 5321's "551 User not
 * local; please try <forward-path>")?  The clause runs from the last ';',
 * '(' or sentence end before the address to the next one after it: the
 * failure text of the recipient whose paragraph it is may share the line.
 */
gboolean
line_contact_clause(const char *p, gsize n, gsize start, gsize end)
{
	gsize s = MIN(start, n), e = MIN(end, n), a = s, z = e;
	char *w;
	gboolean yes;

	while (s > 0 && p[s - 1] != ';' && p[s - 1] != '(' &&
	    !(s >= 2 && p[s - 2] == '.' && p[s - 1] == ' '))
		s--;
	while (e < n && p[e] != ';' && p[e] != ')' &&
	    !(p[e] == '.' && (e + 1 == n || p[e + 1] == ' ')))
		e++;
	/* the clause's words without the address ("support@x" is no contact word) */
	w = g_strdup_printf("%.*s %.*s", (int)(a - s), p + s, (int)(e - z), p + z);
	yes = line_boiler(w, strlen(w)) || strcasestr(w, "please try") != NULL ||
	    strcasestr(w, "moved to") != NULL || strcasestr(w, "forwarded to") != NULL ||
	    strcasestr(w, "new address") != NULL;
	g_free(w);
	return yes;
}

/*
 * Exim lists a failed address that a redirection produced under what it
 * became ("pipe to |cmd", "save to /file", "an undisclosed address", the
 * target address) and names the original on the next line, "(generated
 * from x)", "(ultimately generated from x)" after several redirections, or
 * "generated by x"; Sendmail names the alias a failed address came from
 * "(expanded from: <x>)": that line belongs to the entry above it.
 */
gboolean
line_generated(const char *p, gsize n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	return (n >= 15 && g_ascii_strncasecmp(p, "(generated from", 15) == 0) ||
	    (n >= 14 && g_ascii_strncasecmp(p, "(expanded from", 14) == 0) ||
	    (n >= 26 && g_ascii_strncasecmp(p, "(ultimately generated from", 26) == 0) ||
	    (n >= 12 && g_ascii_strncasecmp(p, "generated by", 12) == 0);
}

/* Does the line start (after blanks, "<" or a quote) with an address? */
gboolean
line_starts_with_address(const char *p, gsize n)
{
	gsize i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '<' || p[i] == '"' || p[i] == '\''))
		i++;
	while (i < n && parser_local_char((unsigned char)p[i]))
		i++;
	return i < n && p[i] == '@';
}

gboolean
line_daemon_local(const char *addr)
{
	static const char *const locals[] = { "mailer-daemon", "postmaster", "mail-daemon",
		"mailer_daemon", "mailerdaemon", "mmdf", "abuse", "hostmaster", "noreply",
		"no-reply", "daemon", "root", "bounce", "bounces" };
	const char *at = strchr(addr, '@');
	size_t i, n = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (i = 0; i < G_N_ELEMENTS(locals); i++)
		if (n == strlen(locals[i]) && g_ascii_strncasecmp(addr, locals[i], n) == 0)
			return TRUE;
	return FALSE;
}

/* min(len, max), backed off to the start of a UTF-8 sequence: a regex's subject end. */
gsize
line_utf8_cut(const char *s, gsize len, gsize max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((guchar)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Start of the enclosed original in body, or len. */
gsize
line_original_start(const GRegex *marker, const char *body, gsize len)
{
	GMatchInfo *mi = NULL;
	gsize at = len;
	int s, e;

	if (g_regex_match_full(marker, body, len, 0, 0, &mi, NULL) &&
	    g_match_info_fetch_pos(mi, 0, &s, &e))
		at = s;
	g_match_info_free(mi);
	return at;
}
