/*
 * parser_text_block.c - a notice's text cut into one block per address
 * it names: the lines up to the next address are that recipient's story.
 */
#include <string.h>
#include <glib.h>

#include "parsers/parser_text_block.h"
#include "parsers/parser_text_line.h"
#include "parsers/parser_util.h"
#include "parsers/report.h"
#include "parsers/scan.h"

#define MAX_BLOCK_LINES	40

static void
block_free(gpointer x)
{
	struct block *b = x;

	g_free(b->addr);
	g_string_free(b->text, TRUE);
	g_free(b);
}

/*
 * Is the address at start of line p named as a message's or a queue's
 * identifier ("Your message <id@host>", "queue id X@host", "Message-ID:
 * <id@host>")?  The word before it says so.
 */
static gboolean
line_message_id(const char *p, gsize start)
{
	/* "Returned message: <x>" names a recipient: a field name must say id */
	static const char *const words[] = { "message", "id", "msgid" };
	static const char *const fields[] = { "message-id", "id", "msgid", "queue-id" };
	const char *const *w = words;
	gsize e = start, b, nw = G_N_ELEMENTS(words), i;

	while (e > 0 && (p[e - 1] == '<' || p[e - 1] == ' ' || p[e - 1] == '\t' || p[e - 1] == '('))
		e--;
	if (e > 0 && p[e - 1] == ':') {
		e--;
		w = fields;
		nw = G_N_ELEMENTS(fields);
	}
	for (b = e; b > 0 && (g_ascii_isalpha(p[b - 1]) || p[b - 1] == '-'); b--)
		;
	for (i = 0; i < nw; i++)
		if (e - b == strlen(w[i]) && g_ascii_strncasecmp(p + b, w[i], e - b) == 0)
			return TRUE;
	return FALSE;
}

/*
 * Is the line a quoted header's "Cc:" or "Bcc:" field?  Once the notice
 * has named a recipient, such a line is the original's header quoted
 * without a marker: its addresses were copied, not refused.
 */
static gboolean
line_copy_field(const char *p, gsize n)
{
	gsize q = line_quoting(p, n);

	p += q;
	n -= q;
	return (n >= 3 && g_ascii_strncasecmp(p, "cc:", 3) == 0) ||
	    (n >= 4 && g_ascii_strncasecmp(p, "bcc:", 4) == 0);
}

/* Is the line an inline report's "Diagnostic-Code:" field? */
static gboolean
line_diag_field(const char *p, gsize n)
{
	gsize q = line_quoting(p, n);

	p += q;
	n -= q;
	return n >= 16 && (*p == 'D' || *p == 'd') &&
	    g_ascii_strncasecmp(p, "diagnostic-code:", 16) == 0;
}

/*
 * Do words come before offset start on the line (from lead, past its
 * quoting, on)?  A transcript's reply prompt ("<<< "), the command a
 * ">>> " line sent ("RCPT To:<x>": the prompt is quoting) and a reply's
 * codes are no words.
 */
static gboolean
line_words_before(const char *p, gsize lead, gsize start)
{
	static const char *const cmd[] = { "rcpt to:", "mail from:" };
	gsize i = lead, k;

	if (start - i >= 3 && strncmp(p + i, "<<<", 3) == 0)
		i += 3;
	while (i < start && p[i] == ' ')
		i++;
	for (k = 0; k < G_N_ELEMENTS(cmd); k++)
		if (start - i >= strlen(cmd[k]) && g_ascii_strncasecmp(p + i, cmd[k], strlen(cmd[k])) == 0)
			return FALSE;
	for (; i < start; i++)
		if (g_ascii_isalpha(p[i]))
			return TRUE;
	return FALSE;
}

/*
 * Does the line p (n octets) start a recipient's block: its first address
 * not in exclude makes *cur a new block (up to max) or the block of that
 * recipient named again.  An address no recipient had yet is none of its
 * own when it is named as a message or queue identifier, or, within a
 * recipient's paragraph, when its clause names it aside (a contact,
 * "...; contact help@x"; a forward-path a reply offers, "please try
 * <x>") or its line belongs to that recipient: an inline report's
 * Diagnostic-Code (the remote's answer about the Final-Recipient above
 * it, quoting the remote's own spelling, an alias, a masked name), or
 * the alias or address the entry above was made from.
 */
static gboolean
block_line_start(GPtrArray *blocks, GHashTable *seen, GHashTable *exclude, GHashTable *known,
    const char *p, gsize n, guint max, guint32 *anomalies, struct block **cur)
{
	gsize pos = 0, lead = line_quoting(p, n);
	char *a;
	gboolean aside;

	/* "From: x" or "MAIL FROM: x" in a summary names the sender */
	if (line_sender(p, n) || (blocks->len > 0 && line_copy_field(p, n)))
		pos = n;
	aside = *cur != NULL && (line_diag_field(p, n) || line_generated(p, n));
	while ((a = parser_next_address(p, n, &pos)) != NULL) {
		char *k = scan_ascii_down(a, -1);
		struct block *named = g_hash_table_lookup(seen, k);
		gsize alen = strlen(a), start = pos >= alen ? pos - alen : 0;
		/*
		 * "(x@y ...)" inside a recipient's paragraph: an aside about it;
		 * so is an address the original was not sent to, named after
		 * words of that paragraph ("forwarded to x@y", "try x@y").
		 */
		gboolean within = *cur != NULL && start > 0 && (p[start - 1] == '(' ||
		    (known != NULL && g_hash_table_size(known) > 0 &&
		    !g_hash_table_contains(known, k) && line_words_before(p, lead, start)));
		gboolean ex = g_hash_table_contains(exclude, k) || (named == NULL &&
		    ((*cur != NULL && (aside || within || line_contact_clause(p, n, start, pos))) ||
		    line_message_id(p, start)));

		if (!ex && named != NULL) {
			/* a recipient named again: what follows is about it */
			*cur = named;
			g_free(k);
			g_free(a);
			return TRUE;
		}
		if (!ex && blocks->len >= max)
			*anomalies |= REPORT_ANOMALY_TOO_MANY_RCPTS;
		else if (!ex) {
			struct block *b = g_new0(struct block, 1);

			b->addr = a;
			b->boiler = line_boiler(p, n) || line_contact_clause(p, n, start, pos);
			b->text = g_string_new(NULL);
			g_ptr_array_add(blocks, b);
			g_hash_table_insert(seen, k, b);	/* k: b->addr in lower case */
			*cur = b;
			return TRUE;
		}
		g_free(k);
		g_free(a);
	}
	return FALSE;
}

/*
 * Split region into per-address blocks, at most max.  Returns GPtrArray of
 * struct block; addresses past max set REPORT_ANOMALY_TOO_MANY_RCPTS.
 */
GPtrArray *
block_scan(const char *region, gsize len, GHashTable *exclude, GHashTable *known,
    GString *preamble, guint max, guint32 *anomalies)
{
	GPtrArray *blocks = g_ptr_array_new_with_free_func(block_free);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct block *cur = NULL;
	const char *p = region, *end = region + len;
	gboolean noise = FALSE, sig = FALSE;

	while (p < end) {
		const char *e = scan_eol(p, end);
		gsize n;
		gboolean started;

		n = e - p;
		if (scan_noise_field(p, e) || (noise && n > 0 && (*p == ' ' || *p == '\t'))) {
			/* a quoted trace or verdict field (scan.h), folded lines and all */
			noise = TRUE;
			if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
				e++;
			p = e + 1;
			continue;
		}
		noise = FALSE;
		/*
		 * A signature ("-- " on a line of its own, RFC 3676) runs to the
		 * end of the notice's text: whoever signed and their contacts are
		 * no recipient, and its lines are nobody's failure.
		 */
		if (sig || (n >= 2 && n <= 3 && p[0] == '-' && p[1] == '-' &&
		    (n == 2 || p[2] == ' ' || p[2] == '\r'))) {
			sig = TRUE;
			cur = NULL;
			if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
				e++;
			p = e + 1;
			continue;
		}
		started = block_line_start(blocks, seen, exclude, known, p, n, max, anomalies, &cur);
		if (cur != NULL && !started && line_section(p, n)) {
			/*
			 * A recipient's block is its whole failure paragraph, blank
			 * lines and all ("Technical details of permanent failure:"
			 * and the remote answer often follow one): it ends at the
			 * next recipient or at a section rule, not at a blank line.
			 */
			cur = NULL;
		} else if (cur != NULL) {
			if (cur->lines++ < MAX_BLOCK_LINES) {
				g_string_append_len(cur->text, p, n);
				g_string_append_c(cur->text, '\n');
			}
		} else if (preamble->len < 4096) {
			g_string_append_len(preamble, p, n);
			g_string_append_c(preamble, '\n');
		}
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		p = e + 1;
	}
	g_hash_table_destroy(seen);
	return blocks;
}

/*
 * The address of a Sendmail per-recipient summary line, "554 <addr>...
 * text" or "550 5.1.1 <addr>... text" (g_free), or NULL.
 */
static char *
sendmail_summary_addr(const char *p, gsize n)
{
	const char *e = p + n, *a;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (e - p < 8 || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) || p[3] != ' ')
		return NULL;
	p += 4;
	if (p < e && g_ascii_isdigit(*p)) {
		/* an enhanced status code: d.d{1,3}.d{1,3} and a space */
		while (p < e && (g_ascii_isdigit(*p) || *p == '.'))
			p++;
		if (p == e || *p != ' ')
			return NULL;
		p++;
	}
	if (p == e || *p != '<')
		return NULL;
	a = ++p;
	while (p < e && *p != '>' && *p != '<' && *p != ' ')
		p++;
	if (e - p < 4 || memcmp(p, ">...", 4) != 0 || memchr(a, '@', p - a) == NULL)
		return NULL;
	return g_strndup(a, p - a);
}

/*
 * Sendmail's transcript ends each recipient with its summary line: the
 * lines before it since the previous one ("While talking to host:", the
 * ">>>" / "<<<" exchange that failed) are that recipient's, not the
 * previous recipient's as the generic scan has it.  The blocks of the
 * addresses that have a summary line are rebuilt that way.
 */
void
block_sendmail_regroup(const char *region, gsize len, GPtrArray *blocks)
{
	const char *p = region, *end = region + len;
	GString *pending;
	GHashTable *redone;
	struct block *last = NULL;

	/*
	 * Only a transcript: its ">>> command" / "<<< reply" exchange.  The
	 * region ends in its NUL (text_read()), so strstr() sees what
	 * g_strstr_len() would, with glibc's vectorised search rather than
	 * GLib's byte loop.
	 */
	if (strstr(region, "\n>>> ") == NULL && strstr(region, "\n<<< ") == NULL)
		return;
	pending = g_string_new(NULL);
	redone = g_hash_table_new(NULL, NULL);
	while (p < end) {
		const char *e = scan_eol(p, end);
		char *a;
		guint i;
		struct block *hit = NULL;

		if ((a = sendmail_summary_addr(p, e - p)) != NULL) {
			for (i = 0; i < blocks->len && hit == NULL; i++) {
				struct block *b = g_ptr_array_index(blocks, i);
				if (g_ascii_strcasecmp(b->addr, a) == 0)
					hit = b;
			}
			g_free(a);
		}
		if (hit != NULL) {
			if (!g_hash_table_contains(redone, hit)) {
				g_hash_table_add(redone, hit);
				g_string_truncate(hit->text, 0);
				hit->lines = 0;
				hit->whole = TRUE;
			}
			g_string_append_len(hit->text, pending->str, pending->len);
			g_string_append_len(hit->text, p, e - p);
			g_string_append_c(hit->text, '\n');
			g_string_truncate(pending, 0);
			last = hit;
		} else if (line_blank(p, e - p))
			g_string_truncate(pending, 0);
		else if (pending->len < 4096) {
			g_string_append_len(pending, p, e - p);
			g_string_append_c(pending, '\n');
		}
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		p = e + 1;
	}
	/* What follows the last summary line is still about its recipient. */
	if (last != NULL)
		g_string_append_len(last->text, pending->str, pending->len);
	g_hash_table_destroy(redone);
	g_string_free(pending, TRUE);
}
