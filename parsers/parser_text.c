/*
 * parser_text.c - non-standard bounces.
 *
 * A bounce that is not an RFC 3464 report is recognised by its headers
 * (sender is a mailer daemon, a bounce-like Subject, X-Failed-Recipients).
 * Its human-readable text is cut where the enclosed original starts; in
 * what remains every address that is not the sender's starts a recipient
 * block, and the lines up to the next such address are its diagnostic.
 * This is what Postfix, Exim, qmail, Sendmail, Gmail, Yahoo and friends
 * all do in their own words, so one scanner serves them all and the
 * words themselves are left to the rules file.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_classify.h"
#include "parsers/parser_int.h"
#include "parsers/parser_orig.h"
#include "parsers/parser_text.h"
#include "parsers/parser_text_block.h"
#include "parsers/parser_text_line.h"
#include "parsers/parser_util.h"
#include "parsers/scan.h"

#define MAX_TEXT_RCPTS	200

static void
exclude_add(GHashTable *ex, const char *v)
{
	gsize pos = 0;
	char *a;

	if (v == NULL)
		return;
	while ((a = parser_next_address(v, strlen(v), &pos)) != NULL)
		g_hash_table_add(ex, scan_ascii_down(a, -1)), g_free(a);
}

/*
 * How much the header says the message is a bounce: 2 when a mail
 * system's sender sends it under a bounce Subject (or X-Failed-Recipients
 * names the failed), 1 when only one of the two does, 0 when neither.
 * *daemon: the sender is a mail system's.
 */
static int
looks_like_bounce(struct parser *p, const struct fields *top, gboolean *daemon)
{
	const char *from = fields_get(top, 0, "From");
	char *subj;
	int yes = 0;

	*daemon = FALSE;
	if (fields_get(top, 0, "X-Failed-Recipients") != NULL)
		return 2;
	if (from != NULL && (strcasestr(from, "mailer-daemon") != NULL ||
	    strcasestr(from, "postmaster") != NULL || strcasestr(from, "mail delivery") != NULL ||
	    strcasestr(from, "mail-daemon") != NULL || strcasestr(from, "mailer_daemon") != NULL ||
	    strcasestr(from, "delivery subsystem") != NULL || strcasestr(from, "mmdf") != NULL ||
	    strcasestr(from, "mail administrator") != NULL || strcasestr(from, "post_master") != NULL ||
	    /* the null sender as Courier and others write it */
	    strstr(from, "<@>") != NULL || strstr(from, "<>") != NULL)) {
		yes++;
		*daemon = TRUE;
	}
	/* The header as sent: a regex (UTF-8 mode, unchecked) only sees valid UTF-8. */
	subj = parser_utf8(fields_get(top, 0, "Subject"), -1);
	/* a person's reply ("Re: why did my mail bounce?") says nothing */
	if (subj != NULL && !g_regex_match(p->re_reply_subject, subj, 0, NULL) &&
	    g_regex_match(p->re_bounce_subject, subj, 0, NULL))
		yes++;
	g_free(subj);
	return yes;
}

/* Does a recipient's paragraph say anything of a failure: a reply or status code, a word? */
static gboolean
speaks_of_failure(struct parser *p, const char *t)
{
	return g_regex_match(p->re_failure_words, t, 0, NULL);
}

/* Addresses of an X-Failed-Recipients value, or NULL when none. */
static GPtrArray *
failed_recipients(const char *v)
{
	GPtrArray *a;
	gsize pos = 0;
	char *x;

	if (v == NULL)
		return NULL;
	a = g_ptr_array_new_with_free_func(g_free);
	while ((x = parser_next_address(v, strlen(v), &pos)) != NULL && a->len < MAX_TEXT_RCPTS)
		g_ptr_array_add(a, x);
	if (a->len == 0) {
		g_ptr_array_free(a, TRUE);
		return NULL;
	}
	return a;
}

static gboolean
names_any(GPtrArray *addrs, GPtrArray *blocks)
{
	guint i, j;

	for (i = 0; i < addrs->len; i++)
		for (j = 0; j < blocks->len; j++) {
			const struct block *b = g_ptr_array_index(blocks, j);

			if (g_ascii_strcasecmp(b->addr, g_ptr_array_index(addrs, i)) == 0)
				return TRUE;
		}
	return FALSE;
}

static void
add_record(struct parse_ctx *c, const char *addr, const char *how, const char *diag,
    const char *context)
{
	struct report *r = c->r;
	struct report_record *rec;
	const char *subj;

	if (addr == NULL || r->records->len >= MIN(MAX_TEXT_RCPTS, c->p->max_records))
		return;
	rec = report_add_record(r);
	rec->recipient = g_strdup(addr);
	parser_rcpt_from(rec, how);
	rec->action = g_strdup("failed");
	if (diag != NULL) {
		char *d = g_strstrip(g_strdup(diag));

		rec->diagnostic = *d != '\0' ? d : (g_free(d), NULL);
	}
	classify_record(c, rec, context);
	subj = c->top != NULL ? fields_get(c->top, 0, "Subject") : NULL;
	if (subj != NULL && g_regex_match(c->p->re_delay_subject, subj, 0, NULL)) {
		/*
		 * A warning that the MTA still retries is no failure (yet):
		 * whatever its reason, it must not count as a bounce.
		 */
		g_free(rec->action);
		rec->action = g_strdup("delayed");
		rec->class_ = REPORT_CLASS_UNKNOWN;
	}
}

/*
 * The line after Exim's "following address(es) failed:" (blank lines
 * skipped) when it holds one address and nothing but an optional ':',
 * as a pointer into region; NULL otherwise.
 */
static const char *
listed_failed(const char *region)
{
	const char *m = strcasestr(region, "following address(es)"), *l, *e;
	gsize pos = 0;
	char *a;

	if (m == NULL)
		return NULL;
	/* Exim folds the sentence: "address(es)" LF "failed:" */
	for (l = m + strlen("following address(es)"); *l == ' ' || *l == '\r' || *l == '\n'; l++)
		;
	if (g_ascii_strncasecmp(l, "failed:", 7) != 0)
		return NULL;
	l += 7;
	while (*l == '\r' || *l == '\n' || *l == ' ' || *l == '\t')
		l++;
	for (e = l; *e != '\0' && *e != '\n' && *e != '\r'; e++)
		;
	if ((a = parser_next_address(l, e - l, &pos)) == NULL)
		return NULL;
	g_free(a);
	while (pos < (gsize)(e - l) && (l[pos] == ':' || l[pos] == '>' || l[pos] == ' ' ||
	    l[pos] == '\t'))
		pos++;
	return pos == (gsize)(e - l) ? l : NULL;
}

/*
 * Exchange names a failed recipient by its display name only ("Nora
 * Nobody on 1/1/2024"): of the original's To entries "Name <addr>", those
 * whose name the notice repeats are the failed ones.
 */
static void
display_names(struct parse_ctx *c, const char *to, const char *region)
{
	char **entries = g_strsplit(to, ",", 64);
	guint i;

	for (i = 0; entries[i] != NULL; i++) {
		char *lt = strchr(entries[i], '<'), *name, *a;

		if (lt == NULL)
			continue;
		name = g_strndup(entries[i], lt - entries[i]);
		g_strstrip(name);
		if (name[0] == '"') {
			memmove(name, name + 1, strlen(name));
			if (*name != '\0' && name[strlen(name) - 1] == '"')
				name[strlen(name) - 1] = '\0';
		}
		if (g_utf8_strlen(name, -1) >= 4 && strstr(region, name) != NULL &&
		    (a = parser_address(lt)) != NULL) {
			add_record(c, a, "original-to", NULL, region);
			g_free(a);
		}
		g_free(name);
	}
	g_strfreev(entries);
}

/* The reading of one notice's text. */
struct notice;
static void subject_address(struct notice *n);

struct notice {
	struct parse_ctx *c;
	char *region;		/* the text before the enclosed original, NUL-terminated */
	gsize cut;		/* its length */
	GString *pre;		/* the lines before the first address */
	GPtrArray *blocks;	/* struct block, one per address named */
	gboolean weak;		/* no mail system sent it, no original: no last-resort candidates */
};

/*
 * A receipt: the text says the message was delivered and nowhere that a
 * delivery failed (Exchange's "Delivered:" notice, a Postfix success
 * report sent as plain text).  Nobody to record.
 */
static gboolean
receipt(const struct parser *p, const char *body, gsize len)
{
	gsize n = line_utf8_cut(body, len, 16384);

	return g_regex_match_full(p->re_delivered, body, n, 0, 0, NULL, NULL) &&
	    !g_regex_match_full(p->re_bounce_body, body, n, 0, 0, NULL, NULL);
}

/*
 * A message a mailing list distributed (List-Id, List-Post, Precedence:
 * list): a post, a digest, a tracker's notification.  Mail systems send
 * their notices to the sender, not through a list.
 */
static gboolean
list_post(const struct fields *top)
{
	const char *prec = fields_get(top, 0, "Precedence");

	return fields_get(top, 0, "List-Id") != NULL || fields_get(top, 0, "List-Post") != NULL ||
	    (prec != NULL && strcasestr(prec, "list") != NULL);
}

/* A letter a person wrote (parser_re.c): not a mail system's notice. */
static gboolean
personal_letter(const struct parser *p, const char *body, gsize len)
{
	return g_regex_match_full(p->re_greeting, body, line_utf8_cut(body, len, 4096), 0, 0, NULL,
	    NULL) && g_regex_match_full(p->re_signoff, body, line_utf8_cut(body, len, 16384), 0, 0,
	    NULL, NULL);
}

/*
 * Some notices name the failed address in their Subject only ("Mail to x
 * could not be delivered"): the one address there that is none of the
 * notice's own (its From, To, Reply-To, Sender, the original's From) and
 * that the text does not name otherwise.  Only when nothing else did.
 */
static void
subject_address(struct notice *n)
{
	struct parse_ctx *c = n->c;
	const char *subj = fields_get(c->top, 0, "Subject");
	GHashTable *own;
	char *a, *only = NULL;
	gsize pos = 0;
	guint found = 0;

	if (subj == NULL || strchr(subj, '@') == NULL)
		return;
	own = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	exclude_add(own, fields_get(c->top, 0, "From"));
	exclude_add(own, fields_get(c->top, 0, "To"));
	exclude_add(own, fields_get(c->top, 0, "Reply-To"));
	exclude_add(own, fields_get(c->top, 0, "Sender"));
	exclude_add(own, c->r->orig_from);
	exclude_add(own, c->orig_sender);
	while ((a = parser_next_address(subj, strlen(subj), &pos)) != NULL) {
		char *l = scan_ascii_down(a, -1);

		if (!g_hash_table_contains(own, l) && !line_daemon_local(l) &&
		    (only == NULL || strcmp(only, l) != 0)) {
			found++;
			g_free(only);
			only = g_strdup(l);
		}
		g_free(l);
		g_free(a);
	}
	if (found == 1)
		add_record(c, only, "subject", NULL, n->region);
	g_free(only);
	g_hash_table_destroy(own);
}

/* Does the Subject open with a bracketed tag: "[JIRA]", "[Ticket #991]"? */
static gboolean
subject_tagged(const struct fields *top)
{
	const char *s = fields_get(top, 0, "Subject");

	while (s != NULL && (*s == ' ' || *s == '\t'))
		s++;
	return s != NULL && *s == '[' && strchr(s, ']') != NULL;
}

/*
 * Is it a bounce?  A daemon-like sender or a bounce-like Subject alone
 * makes no bounce (a person writes from postmaster@, a newsletter says
 * "rejected"): then the text before the enclosed original must speak of a
 * failed delivery too, and not be a letter a person wrote (greeting and
 * sign-off: someone telling of a bounce, or a postmaster writing about
 * rejected mail).  Both together, or X-Failed-Recipients, are enough.
 * *cut: where the enclosed original starts in body; *weak: no mail
 * system sent it and no original is enclosed, so the reasons found must
 * decide (text_read).
 */
static gboolean
text_is_bounce(struct parse_ctx *c, const char *body, gsize len, gboolean have_original,
    gsize *cut, gboolean *weak)
{
	struct parser *p = c->p;
	gboolean daemon;
	int head;

	head = looks_like_bounce(p, c->top, &daemon);
	*weak = head < 2 && !daemon && !have_original;
	if (head == 0 && !(have_original && body != NULL &&
	    g_regex_match_full(p->re_bounce_body, body, line_utf8_cut(body, len, 8192), 0, 0, NULL,
	    NULL)))
		return FALSE;
	if (body == NULL)
		body = "", len = 0;
	*cut = line_original_start(p->re_marker, body, len);
	if (fields_get(c->top, 0, "X-Failed-Recipients") == NULL && receipt(p, body, *cut))
		return FALSE;
	if (head >= 2)
		return TRUE;
	/* one header signal on a message a list distributed: a post about a bounce */
	if (list_post(c->top))
		return FALSE;
	/*
	 * ... or a tracker's or help desk's notification, its Subject tagged
	 * ("[JIRA] (OPS-12) Bounce handling", "[Ticket #991] Undelivered
	 * mail"), from no mail system: a ticket about a bounce.
	 */
	if (!daemon && subject_tagged(c->top))
		return FALSE;
	/* one header signal and a person's letter: someone writing about a failure */
	return !personal_letter(p, body, *cut) && g_regex_match_full(p->re_fail_notice, body,
	    line_utf8_cut(body, *cut, 16384), 0, 0, NULL, NULL);
}

/*
 * The notice's text cut into blocks, one per address that is none of the
 * notice's own (its From, To, Reply-To, Sender, the original's From).
 */
static void
text_blocks(struct notice *n)
{
	struct parse_ctx *c = n->c;
	GHashTable *exclude = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GMatchInfo *mi = NULL;
	int ls = 0, le = 0;
	gsize from = 0;

	exclude_add(exclude, fields_get(c->top, 0, "From"));
	exclude_add(exclude, fields_get(c->top, 0, "To"));
	exclude_add(exclude, fields_get(c->top, 0, "Reply-To"));
	exclude_add(exclude, fields_get(c->top, 0, "Sender"));
	exclude_add(exclude, c->r->orig_from);
	/* the original's envelope sender, which a refusal of MAIL FROM quotes */
	exclude_add(exclude, c->orig_sender);
	/*
	 * A list server's notice names its own control addresses in its
	 * header (RFC 2369) and tells the reader to write to them: they are
	 * the notice's own, never a failed recipient.
	 */
	exclude_add(exclude, fields_get(c->top, 0, "List-Subscribe"));
	exclude_add(exclude, fields_get(c->top, 0, "List-Unsubscribe"));
	exclude_add(exclude, fields_get(c->top, 0, "List-Help"));
	exclude_add(exclude, fields_get(c->top, 0, "List-Owner"));
	exclude_add(exclude, fields_get(c->top, 0, "Errors-To"));
	/*
	 * Message identifiers look like addresses: the original's (References
	 * repeats In-Reply-To's, at the cost of a whole thread's ids).
	 */
	exclude_add(exclude, fields_get(c->top, 0, "In-Reply-To"));
	exclude_add(exclude, c->r->orig_message_id);
	/*
	 * "did not reach the following recipient(s):" and the like: the
	 * addresses above it are a summary of the original (its To:), the
	 * failed ones follow.
	 */
	if (g_regex_match(c->p->re_rcpt_list, n->region, 0, &mi) &&
	    g_match_info_fetch_pos(mi, 0, &ls, &le)) {
		/* from the marker's own line: some put the address on it */
		for (from = ls; from > 0 && n->region[from - 1] != '\n' &&
		    n->region[from - 1] != '\r'; from--)
			;
		g_string_append_len(n->pre, n->region, from);
	}
	g_match_info_free(mi);
	n->blocks = block_scan(n->region + from, n->cut - from, exclude, orig_rcpts(c), n->pre,
	    MIN(MAX_TEXT_RCPTS, c->p->max_records), &c->r->anomalies);
	block_sendmail_regroup(n->region + from, n->cut - from, n->blocks);
	g_hash_table_destroy(exclude);
}

/*
 * Several recipients, each with the remote's own reply (a reply code or a
 * status code in its paragraph; a NULL block has none)?  Then the rest of
 * the notice speaks of the others' failures, so a reply that decides
 * nothing takes no reason from it; a shared explanation has no code of its
 * own in each paragraph.
 */
static gboolean
each_has_reply(const GPtrArray *blocks)
{
	guint i;

	if (blocks->len < 2)
		return FALSE;
	for (i = 0; i < blocks->len; i++) {
		const struct block *b = g_ptr_array_index(blocks, i);
		char *st = b != NULL ? parser_find_status(b->text->str) : NULL, *rc = NULL;
		gboolean has = st != NULL ||
		    (b != NULL && (rc = parser_find_replycode(b->text->str)) != NULL);

		g_free(st);
		g_free(rc);
		if (!has)
			return FALSE;
	}
	return TRUE;
}

/*
 * X-Failed-Recipients (Exim, Gmail) names the failed addresses: when
 * present, only they count, each with its block of text or, failing
 * that, the text before the first address.  FALSE when it does not say.
 */
static gboolean
text_by_header(struct notice *n)
{
	GPtrArray *xf = failed_recipients(fields_get(n->c->top, 0, "X-Failed-Recipients")), *hits;
	guint i, j;

	if (xf != NULL && !names_any(xf, n->blocks) && n->blocks->len > 0) {
		/* the header disagrees with the text: the text is more specific */
		g_ptr_array_free(xf, TRUE);
		xf = NULL;
	}
	if (xf == NULL)
		return FALSE;
	hits = g_ptr_array_new();
	for (i = 0; i < xf->len; i++) {
		const char *a = g_ptr_array_index(xf, i);
		struct block *hit = NULL;

		for (j = 0; j < n->blocks->len && hit == NULL; j++) {
			struct block *b = g_ptr_array_index(n->blocks, j);

			if (g_ascii_strcasecmp(b->addr, a) == 0)
				hit = b;
		}
		g_ptr_array_add(hits, hit);
	}
	n->c->own_only = each_has_reply(hits);
	for (i = 0; i < xf->len; i++) {
		const struct block *hit = g_ptr_array_index(hits, i);

		add_record(n->c, g_ptr_array_index(xf, i), "x-failed-recipients",
		    hit != NULL ? hit->text->str : n->pre->str, n->region);
	}
	n->c->own_only = FALSE;
	g_ptr_array_free(hits, TRUE);
	g_ptr_array_free(xf, TRUE);
	return TRUE;
}

/*
 * Which addresses are recipients: one the enclosed original was sent to
 * (To, Cc, a relay's "for <x>"); else one that is no mail system's own
 * address nor a contact in boilerplate and, when the original is there to
 * say who it was for, whose paragraph speaks of a failure (Bcc recipients
 * and expanded aliases are in no header).  The others only count when
 * nothing else was found.
 */
static void
text_by_blocks(struct notice *n)
{
	GPtrArray *real = g_ptr_array_new(), *blocks = n->blocks;
	GHashTable *origs = orig_rcpts(n->c);
	guint i;

	for (i = 0; i < blocks->len; i++) {
		struct block *b = g_ptr_array_index(blocks, i);
		char *k = scan_ascii_down(b->addr, -1);

		if (g_hash_table_contains(origs, k) ||
		    (!line_daemon_local(b->addr) && !b->boiler &&
		    (g_hash_table_size(origs) == 0 || speaks_of_failure(n->c->p, b->text->str))))
			g_ptr_array_add(real, b);
		g_free(k);
	}
	for (i = 0; i < blocks->len && real->len == 0 && !n->weak; i++) {
		struct block *b = g_ptr_array_index(blocks, i);

		if (!line_daemon_local(b->addr))
			g_ptr_array_add(real, b);
	}
	if (real->len == 0 && !n->weak)
		for (i = 0; i < blocks->len; i++)
			g_ptr_array_add(real, g_ptr_array_index(blocks, i));
	n->c->own_only = each_has_reply(real);
	for (i = 0; i < real->len; i++) {
		struct block *b = g_ptr_array_index(real, i);

		/* A transcript block that names no command had no exchange of
		 * its own: the notice's first command is another recipient's. */
		add_record(n->c, b->addr, "failure-line", b->text->str, b->whole ? NULL : n->region);
	}
	n->c->own_only = FALSE;
	g_ptr_array_free(real, TRUE);
}

/* No block named a recipient: what else the notice and the original say. */
static void
text_fallbacks(struct notice *n)
{
	struct report *r = n->c->r;
	const char *listed;

	if (r->records->len == 0 && (listed = listed_failed(n->region)) != NULL) {
		/*
		 * Exim's "The following address(es) failed:" names the failed
		 * address on the next line even when it is the notice's own
		 * addressee (mail to oneself, or addresses masked alike): the
		 * list is explicit, it wins over the original's To.
		 */
		GHashTable *none = g_hash_table_new(g_str_hash, g_str_equal);
		GString *ign = g_string_new(NULL);
		GPtrArray *one = block_scan(listed, strlen(listed), none, NULL, ign, 1, &r->anomalies);

		if (one->len > 0) {
			struct block *b = g_ptr_array_index(one, 0);

			add_record(n->c, b->addr, "failure-line", b->text->str, n->region);
		}
		g_ptr_array_free(one, TRUE);
		g_string_free(ign, TRUE);
		g_hash_table_destroy(none);
	}
	if (r->records->len == 0) {
		char *a = NULL;

		if (r->orig_to != NULL && strchr(r->orig_to, ',') == NULL)
			a = parser_address(r->orig_to);
		/*
		 * The notice never names the recipient, so none of its text is
		 * that recipient's diagnostic: the rules still read all of it,
		 * and when they find nothing the reason is undefined.
		 */
		if (a != NULL)
			add_record(n->c, a, "original-to", NULL, n->region);
		g_free(a);
	}
	if (r->records->len == 0 && r->orig_to != NULL)
		display_names(n->c, r->orig_to, n->region);
	if (r->records->len == 0)
		subject_address(n);
}

gboolean
text_check(struct parse_ctx *c)
{
	return c->r->records->len == 0 && c->r->kind != REPORT_KIND_AUTOREPLY &&
	    c->r->kind != REPORT_KIND_ARF;
}

void
text_read(struct parse_ctx *c)
{
	gboolean have_original = c->w.orig != NULL || LEAF_SET(c->w.headers) ||
	    c->orig_fields != NULL;
	const char *body = c->context;
	gsize len = c->clen;
	struct notice n = { c, NULL, 0, NULL, NULL, FALSE };
	guint i;

	if (!text_is_bounce(c, body, len, have_original, &n.cut, &n.weak))
		return;
	if (body == NULL)
		body = "", len = 0;
	c->r->kind = REPORT_KIND_BOUNCE;
	if (!have_original && n.cut < len) {
		/* The original's headers follow the marker line. */
		const char *h = memchr(body + n.cut, '\n', len - n.cut);

		if (h != NULL) {
			struct fields *f = fields_parse_header(h + 1, len - (h + 1 - body));

			orig_from_fields(c, f);
			fields_free(f);
		}
	}
	n.region = g_strndup(body, n.cut);
	n.pre = g_string_new(NULL);
	text_blocks(&n);
	if (!text_by_header(&n)) {
		text_by_blocks(&n);
		text_fallbacks(&n);
	}
	g_ptr_array_free(n.blocks, TRUE);
	g_string_free(n.pre, TRUE);
	g_free(n.region);
	/*
	 * Only a bounce-like Subject, from a sender that is no mail system,
	 * with no original enclosed: when no rule decided any recipient's
	 * reason either, it is an order, a ticket, a newsletter that says
	 * "rejected" or "bounce", and the addresses are its own.
	 */
	for (i = 0; n.weak && i < c->r->records->len; i++)
		if (((const struct report_record *)g_ptr_array_index(c->r->records, i))->rule != NULL)
			n.weak = FALSE;
	if (n.weak) {
		report_clear_records(c->r);
		c->r->kind = REPORT_KIND_NONE;
	}
}
