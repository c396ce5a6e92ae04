/*
 * test_parser.c - the parser on small synthetic fixtures
 * (tests/fixtures/parsers/), hostile MIME, VERP and the rules file.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "parsers/parser.h"
#include "parsers/parser_int.h"
#include "parsers/parser_orig.h"
#include "parsers/parser_util.h"
#include "parsers/report.h"
#include "parsers/rules.h"
#include "parsers/rules_int.h"
#include "parsers/sanitize.h"
#include "parsers/scan.h"
#include "unit.h"

#define FIX "tests/fixtures/parsers/"

static struct parser *
mkparser(const char *verp)
{
	struct parser_options o;
	char *err = NULL;
	struct parser *p;
	static char *corr[] = { "X-Campaign-Id", "Feedback-ID", NULL };

	memset(&o, 0, sizeof(o));
	o.rules_path = "conf/rules.conf";
	o.verp_pattern = verp;
	o.correlation_headers = corr;
	p = parser_new(&o, &err);
	if (p == NULL)
		g_error("parser_new: %s", err);
	return p;
}

static struct report *
parse_file(struct parser *p, const char *name, const char *env)
{
	char *data;
	gsize len;
	struct report *r;

	if (!g_file_get_contents(name, &data, &len, NULL))
		g_error("cannot read %s", name);
	r = parser_parse(p, data, len, env);
	g_free(data);
	return r;
}

static struct report_record *
rec(struct report *r, guint i)
{
	g_assert_cmpuint(r->records->len, >, i);
	return g_ptr_array_index(r->records, i);
}

struct expect {
	const char *file;
	enum report_kind kind;
	const char *recipient;
	enum report_class class_;
	const char *reason;
};

static const struct expect table[] = {
	{ "dsn-two-rcpts.eml", REPORT_KIND_DSN, "alice@dead.test", REPORT_CLASS_HARD, "userunknown" },
	{ "dsn-global.eml", REPORT_KIND_DSN, "jos\xc3\xa9@ex\xc3\xa4mple.test", REPORT_CLASS_SOFT, "mailboxfull" },
	{ "arf-abuse.eml", REPORT_KIND_ARF, "carol@isp.test", REPORT_CLASS_COMPLAINT, "feedback" },
	/* the report's fields in a part labelled text/plain; the recipient from the original's To */
	{ "arf-text-part.eml", REPORT_KIND_ARF, "victim@example.com", REPORT_CLASS_COMPLAINT, "feedback" },
	{ "arf-removal.eml", REPORT_KIND_ARF, "gone@example.com", REPORT_CLASS_COMPLAINT, "feedback" },
	{ "arf-redacted.eml", REPORT_KIND_ARF, "dave@isp.test", REPORT_CLASS_COMPLAINT, "feedback" },
	{ "autoreply.eml", REPORT_KIND_AUTOREPLY, "erin@corp.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	{ "exim-text.eml", REPORT_KIND_BOUNCE, "frank@gone.test", REPORT_CLASS_HARD, "userunknown" },
	{ "exim-to-self.eml", REPORT_KIND_BOUNCE, "alice@own.test", REPORT_CLASS_HARD, "userunknown" },
	{ "qmail-text.eml", REPORT_KIND_BOUNCE, "grace@full.test", REPORT_CLASS_SOFT, "mailboxfull" },
	{ "block-text.eml", REPORT_KIND_BOUNCE, "heidi@strict.test", REPORT_CLASS_BLOCK, "blocked" },
	/* "user unknown" after DATA is a content filter, not a dead address */
	{ "dsn-after-data.eml", REPORT_KIND_DSN, "ivan@filter.test", REPORT_CLASS_SOFT, "filtered" },
	/* MIME boundary in the header differs from the body's: the raw block is read */
	{ "dsn-broken-boundary.eml", REPORT_KIND_DSN, "liam@dead.test", REPORT_CLASS_HARD, "userunknown" },
	/* DSN fields written inline, no MIME at all */
	{ "dsn-inline.eml", REPORT_KIND_DSN, "mona@dead.test", REPORT_CLASS_HARD, "userunknown" },
	/* the sending MTA's own category decides over "5.2.1" */
	{ "pmta-category.eml", REPORT_KIND_DSN, "pat@dead.test", REPORT_CLASS_HARD, "userunknown" },
	{ "dsn-quoted-local.eml", REPORT_KIND_DSN, "\"quinn..q\"@dead.test", REPORT_CLASS_HARD, "userunknown" },
	/* "no such domain" in reply to MAIL FROM is about the sender */
	{ "exim-mail-from.eml", REPORT_KIND_BOUNCE, "rita@strict.test", REPORT_CLASS_BLOCK, "rejected" },
	/* X-Failed-Recipients names the recipient the text does not */
	{ "list-xfailed.eml", REPORT_KIND_BOUNCE, "team@lists.test", REPORT_CLASS_BLOCK, "rejected" },
	{ "ses-bounce.eml", REPORT_KIND_DSN, "sam@dead.test", REPORT_CLASS_HARD, "userunknown" },
	{ "ses-complaint.eml", REPORT_KIND_ARF, "tina@isp.test", REPORT_CLASS_COMPLAINT, "feedback" },
	{ "jmrp.eml", REPORT_KIND_ARF, "uma@isp.test", REPORT_CLASS_COMPLAINT, "feedback" },
	{ "arf-undisclosed.eml", REPORT_KIND_ARF, "undisclosed-recipient-in-headers@libsisimai.org.invalid",
	    REPORT_CLASS_COMPLAINT, "feedback" },
	{ "apple-unsubscribe.eml", REPORT_KIND_ARF, "xena@mac.test", REPORT_CLASS_COMPLAINT, "feedback" },
	/* says nothing in its headers; its words and the enclosed original do */
	{ "text-wording-only.eml", REPORT_KIND_BOUNCE, "yuri@carrier.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* the summary of the original above "did not reach the following recipient(s)" names nobody */
	{ "exchange-summary.eml", REPORT_KIND_BOUNCE, "vic@exch.test", REPORT_CLASS_HARD, "userunknown" },
	/* a source-routed final recipient on an internal host: the original recipient is the address */
	{ "dsn-source-route.eml", REPORT_KIND_DSN, "uli@full.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* unlabelled ISO-2022-JP in the delivery-status part, Japanese wording */
	{ "domino-iso2022jp.eml", REPORT_KIND_DSN, "taro@domino.test", REPORT_CLASS_HARD, "userunknown" },
	/* a provider's documented code outranks "5.5.0" */
	{ "lpn-code.eml", REPORT_KIND_DSN, "zoe@orange.test", REPORT_CLASS_HARD, "userunknown" },
	/* producers' and providers' own tables ("detect" and "mta" in the rules) */
	{ "mcafee-unknown.eml", REPORT_KIND_DSN, "abel@appliance.test", REPORT_CLASS_HARD, "userunknown" },
	{ "receivingses.eml", REPORT_KIND_DSN, "bea@inbound.test", REPORT_CLASS_SOFT, "filtered" },
	{ "docomo-data.eml", REPORT_KIND_DSN, "cato@docomo.test", REPORT_CLASS_BLOCK, "rejected" },
	{ "gmail-state.eml", REPORT_KIND_BOUNCE, "dina@notls.test", REPORT_CLASS_SOFT, "systemerror" },
	/* the producer's notice outranks the remote answer it quotes */
	{ "ezweb-disabled.eml", REPORT_KIND_DSN, "emil@ezweb.test", REPORT_CLASS_SOFT, "suspend" },
	/* a Sendmail transcript: the exchange above a summary line is that
	 * recipient's (here a refusal of the sending host), the "Host unknown"
	 * below it the next recipient's */
	{ "sendmail-transcript.eml", REPORT_KIND_BOUNCE, "fay@strict.test", REPORT_CLASS_BLOCK, "blocked" },
	/* Shapes seen on unseen mail.  The reason on the lines after "Failed to deliver to": */
	{ "shape-failed-to-deliver.eml", REPORT_KIND_BOUNCE, "ada@dead.test", REPORT_CLASS_HARD, "userunknown" },
	{ "shape-invalid-mailbox.eml", REPORT_KIND_BOUNCE, "cy@provider.test", REPORT_CLASS_HARD, "userunknown" },
	{ "shape-exchange2007.eml", REPORT_KIND_BOUNCE, "max@exch.test", REPORT_CLASS_HARD, "userunknown" },
	/* Status: 5.1.1 over "rejected by recipient policy"; the original's X-Spam-* say nothing */
	{ "shape-status-beats-phrase.eml", REPORT_KIND_DSN, "dee@dead.test", REPORT_CLASS_HARD, "userunknown" },
	{ "shape-own-spam-headers.eml", REPORT_KIND_BOUNCE, "ed@gone.test", REPORT_CLASS_HARD, "userunknown" },
	/* HTML only, entities, a help desk's address in the boilerplate (checked below: one record) */
	{ "shape-html-entities.eml", REPORT_KIND_BOUNCE, "fay@dead.test", REPORT_CLASS_HARD, "userunknown" },
	{ "shape-o365-alternative.eml", REPORT_KIND_BOUNCE, "gus@tenant.test", REPORT_CLASS_HARD, "userunknown" },
	/* an HTML notice first, its paragraphs broken over source lines, the original's header a text attachment after it */
	{ "shape-html-first.eml", REPORT_KIND_BOUNCE, "hal@gone.test", REPORT_CLASS_HARD, "userunknown" },
	/* an address in parentheses in a recipient's paragraph is an aside (checked below: one record) */
	{ "shape-paren-address.eml", REPORT_KIND_BOUNCE, "pia@far.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* the remote's reply, under a notice's generic "couldn't be found": the reply decides */
	{ "shape-reply-after-boilerplate.eml", REPORT_KIND_BOUNCE, "nia@far.test", REPORT_CLASS_BLOCK, "spamdetected" },
	/* the original sent as a text part after the report: its To names the recipient a source route hid */
	{ "shape-original-as-text.eml", REPORT_KIND_DSN, "ivy@nowhere.test", REPORT_CLASS_HARD, "hostunknown" },
	/* RFC 3834 marks and an out-of-office Subject beat a daemon-like sender */
	{ "shape-ooo-daemon.eml", REPORT_KIND_AUTOREPLY, "mailer-daemon@corp.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	{ "shape-ooo-german.eml", REPORT_KIND_AUTOREPLY, "ina@firma.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	/* iCloud marks its vacation reply X-Apple-Action: vacation, under the Subject "Re: ..." */
	{ "shape-ooo-apple.eml", REPORT_KIND_AUTOREPLY, "bob@corp.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	/* an RFC 2047 encoded Subject, read decoded */
	{ "shape-ooo-french.eml", REPORT_KIND_AUTOREPLY, "lea@societe.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	/* vocabulary */
	{ "shape-qmail-host.eml", REPORT_KIND_BOUNCE, "ivy@nowhere.test", REPORT_CLASS_HARD, "hostunknown" },
	{ "shape-mailru-blocked.eml", REPORT_KIND_BOUNCE, "jan@mail.ru.test", REPORT_CLASS_BLOCK, "blocked" },
	{ "shape-mailru-space.eml", REPORT_KIND_BOUNCE, "kim@mail.ru.test", REPORT_CLASS_SOFT, "mailboxfull" },
	{ "shape-full-mailbox.eml", REPORT_KIND_BOUNCE, "lea@full.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* the failed recipient named by its display name only: the original's To has the address */
	{ "shape-display-name-only.eml", REPORT_KIND_BOUNCE, "nora@exch.test", REPORT_CLASS_HARD, "userunknown" },
	/* of two, the one whose display name the notice repeats */
	{ "shape-display-names.eml", REPORT_KIND_BOUNCE, "otto@exch.test", REPORT_CLASS_HARD, "userunknown" },
	/* Hotmail's complaint that is the complained-about message itself */
	{ "shape-hotmail-bare.eml", REPORT_KIND_ARF, "ola@hotmail.test", REPORT_CLASS_COMPLAINT, "feedback" },
	/* "Delivery failed 20 attempts": given up, not delayed */
	{ "shape-delivery-attempts.eml", REPORT_KIND_BOUNCE, "pia@slow.test", REPORT_CLASS_SOFT, "expired" },
	{ "shape-sendmail-fatal.eml", REPORT_KIND_BOUNCE, "quin@dead.test", REPORT_CLASS_HARD, "userunknown" },
	/* the status code of a multi-line reply, "550-5.7.26 ..." */
	{ "shape-multiline-reply.eml", REPORT_KIND_BOUNCE, "rae@strict.test", REPORT_CLASS_BLOCK, "authfailure" },
	/* Gmail's words for an account it does not have, without a status or a command */
	{ "shape-gmail-old.eml", REPORT_KIND_BOUNCE, "tom@gone.test", REPORT_CLASS_HARD, "userunknown" },
	/* a text notice whose Subject says the MTA still retries: no failure yet */
	{ "shape-delay-warning.eml", REPORT_KIND_BOUNCE, "uli@busy.test", REPORT_CLASS_UNKNOWN, "mailboxfull" },
	/* the recipient only from the original's To: the notice's boilerplate is no diagnostic */
	{ "shape-original-to-only.eml", REPORT_KIND_BOUNCE, "vic@quiet.test", REPORT_CLASS_UNKNOWN, "undefined" },
	/* qmail's "I've given up" is its boilerplate for every permanent failure */
	{ "shape-qmail-boilerplate.eml", REPORT_KIND_BOUNCE, "sol@odd.test", REPORT_CLASS_UNKNOWN, "onhold" },
	/* a Diagnostic-Code that kept the first line of a multi-line reply only */
	{ "shape-diag-first-line.eml", REPORT_KIND_DSN, "zoe@full.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* the Subject names the failed address and nothing else does */
	{ "shape-subject-only.eml", REPORT_KIND_BOUNCE, "rita@corp.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* an autoresponder that says so in its Subject only, after other words */
	{ "shape-ooo-auto-response.eml", REPORT_KIND_AUTOREPLY, "sales@shop.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	/* an out-of-office Subject in raw GB2312, no charset said; and a copy that read it as Latin-1 */
	{ "shape-ooo-raw-gb.eml", REPORT_KIND_AUTOREPLY, "li.wei@gongsi.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	{ "shape-ooo-latin1-twice.eml", REPORT_KIND_AUTOREPLY, "li.wei@gongsi.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	/* Exchange's out-of-office assistant: its marks, under the user's own Subject */
	{ "shape-ooo-exchange-rule.eml", REPORT_KIND_AUTOREPLY, "lena@corp.test", REPORT_CLASS_AUTOREPLY, "vacation" },
	/* Exchange's notices in the recipient organization's language */
	{ "shape-ndr-german.eml", REPORT_KIND_BOUNCE, "ute@firma.test", REPORT_CLASS_HARD, "userunknown" },
	{ "shape-ndr-french-full.eml", REPORT_KIND_BOUNCE, "val@societe.test", REPORT_CLASS_SOFT, "mailboxfull" },
	/* still queued: naming the program it is for says nothing of why; a mailer's exit status does */
	{ "shape-delayed-pipe.eml", REPORT_KIND_DSN, "help@home.test", REPORT_CLASS_UNKNOWN, "expired" },
	{ "shape-delayed-xunix.eml", REPORT_KIND_DSN, "ann@farm.test", REPORT_CLASS_UNKNOWN, "mailererror" },
	/* a dead address's words after DATA: the recipient was accepted, a filter spoke */
	{ "shape-unknown-after-data.eml", REPORT_KIND_DSN, "mo@mail.test", REPORT_CLASS_SOFT, "filtered" },
};

static void
test_table(void)
{
	struct parser *p = mkparser(NULL);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(table); i++) {
		char *path = g_strconcat(FIX, table[i].file, NULL);
		struct report *r = parse_file(p, path, NULL);
		struct report_record *x;

		g_test_message("%s", table[i].file);
		g_assert_cmpstr(r->outcome, ==, "ok");
		g_assert_cmpint(r->kind, ==, table[i].kind);
		x = rec(r, 0);
		g_assert_cmpstr(x->recipient, ==, table[i].recipient);
		g_assert_cmpint(x->class_, ==, table[i].class_);
		g_assert_cmpstr(x->reason, ==, table[i].reason);
		/* "onhold", "undefined": no rule decided */
		if (strcmp(table[i].reason, "onhold") == 0 || strcmp(table[i].reason, "undefined") == 0)
			g_assert_null(x->rule);
		else
			g_assert_nonnull(x->rule);
		report_free(r);
		g_free(path);
	}
	parser_free(p);
}

/* Read fixture name, drop every line starting with drop (NULL: none), parse. */
static struct report *
parse_without(struct parser *p, const char *name, const char *drop)
{
	char *data, **lines, *joined;
	GString *out = g_string_new(NULL);
	gsize len;
	struct report *r;
	guint i;

	if (!g_file_get_contents(name, &data, &len, NULL))
		g_error("cannot read %s", name);
	lines = g_strsplit(data, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		if (drop != NULL && g_str_has_prefix(lines[i], drop))
			continue;
		g_string_append(out, lines[i]);
		if (lines[i + 1] != NULL)
			g_string_append_c(out, '\n');
	}
	joined = g_string_free(out, FALSE);
	r = parser_parse(p, joined, strlen(joined), NULL);
	g_strfreev(lines);
	g_free(joined);
	g_free(data);
	return r;
}

/*
 * The same words mean what their producer or the recipient's provider
 * means by them: the scoped table decides only where its detect line
 * matched, and the report says who produced it ("mta").
 */
static void
test_mta_scope(void)
{
	static const struct {
		const char *file, *drop, *mta, *reason, *rule;	/* NULL: not checked, except mta */
	} cases[] = {
		/* McAfee's appliance: "Unknown user" with no command is a dead address */
		{ "mcafee-unknown.eml", NULL, "mcafee", "userunknown", "own-userunknown" },
		/* without its header nobody vouches for the words: a content filter */
		{ "mcafee-unknown.eml", "X-NAI-Header:", NULL, "filtered", NULL },
		/* SES receipt rules: "Mailbox does not exist" even with 5.1.1 */
		{ "receivingses.eml", NULL, "receivingses", NULL, "rses-filtered" },
		{ "receivingses.eml", "Reporting-MTA:", NULL, "userunknown", NULL },
		/* a provider named by Remote-MTA, not the producer: a scoped "after" line */
		{ "docomo-data.eml", NULL, NULL, "rejected", NULL },
		{ "docomo-data.eml", "Remote-MTA:", NULL, "filtered", NULL },
		/* no Remote-MTA: the host the diagnostic names ("host NAME [IP]") */
		{ "exim-text-host.eml", NULL, NULL, NULL, "apple-unknown" },
		{ "exim-text-host.eml", "    host mx01", NULL, NULL, "sf-x11" },
		/* nor a host: the recipient's domain, where it is the provider's own */
		{ "qq-domain.eml", NULL, NULL, "speeding", "qq-speeding" },
		/* Gmail's "(state 6)" */
		{ "gmail-state.eml", NULL, "gmail", NULL, "gmail-state-sys" },
	};
	struct parser *p = mkparser(NULL);
	struct report *r;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *path = g_strconcat(FIX, cases[i].file, NULL);

		g_test_message("%s without %s", cases[i].file, cases[i].drop ? cases[i].drop : "nothing");
		r = parse_without(p, path, cases[i].drop);
		g_assert_cmpstr(r->mta, ==, cases[i].mta);
		if (cases[i].reason != NULL)
			g_assert_cmpstr(rec(r, 0)->reason, ==, cases[i].reason);
		if (cases[i].rule != NULL)
			g_assert_cmpstr(rec(r, 0)->rule, ==, cases[i].rule);
		report_free(r);
		g_free(path);
	}
	/* a complaint still says who produced it; nothing scoped matched: NULL */
	r = parse_without(p, FIX "arf-abuse.eml", NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_ARF);
	g_assert_null(r->mta);
	report_free(r);
	parser_free(p);
}

static void
test_dsn_fields(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r = parse_file(p, FIX "dsn-two-rcpts.eml", NULL);
	struct report_record *a, *b;

	g_assert_cmpuint(r->records->len, ==, 2);
	a = rec(r, 0);
	b = rec(r, 1);
	g_assert_cmpstr(r->reporting_mta, ==, "mx.sender.test");
	g_assert_cmpstr(r->arrival_date, ==, "Mon, 2 Nov 2026 10:00:00 +0000");
	g_assert_cmpstr(a->status, ==, "5.1.1");
	g_assert_cmpstr(a->replycode, ==, "550");
	g_assert_cmpstr(a->action, ==, "failed");
	g_assert_cmpstr(a->remote_mta, ==, "mx.dead.test");
	g_assert_cmpstr(a->original_recipient, ==, "alice@dead.test");
	g_assert_nonnull(strstr(a->diagnostic, "User unknown in local recipient table"));
	g_assert_cmpstr(a->last_attempt, ==, "Mon, 2 Nov 2026 10:00:01 +0000");
	/* delayed is never a failure, nor a delivery (that would reset the soft count) */
	g_assert_cmpstr(b->action, ==, "delayed");
	g_assert_cmpint(b->class_, ==, REPORT_CLASS_UNKNOWN);
	/* the enclosed original */
	g_assert_cmpstr(r->orig_message_id, ==, "<m1@sender.test>");
	g_assert_cmpstr(r->orig_subject, ==, "November news");
	g_assert_cmpstr(g_hash_table_lookup(r->correlation, "X-Campaign-Id"), ==, "camp-42");
	report_free(r);
	/* a report quoted in a forward whose text is base64: read as the report it is */
	r = parse_file(p, FIX "forwarded-dsn-base64.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 1);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_DSN);
	g_assert_cmpstr(rec(r, 0)->recipient_from, ==, "final-recipient");
	g_assert_cmpstr(rec(r, 0)->remote_mta, ==, "mfsmax.docomo.ne.jp");
	report_free(r);
	parser_free(p);
}

static void
test_arf_fields(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r = parse_file(p, FIX "arf-abuse.eml", NULL);

	g_assert_cmpstr(rec(r, 0)->feedback_type, ==, "abuse");
	g_assert_cmpstr(r->user_agent, ==, "ExampleFBL/1.0");
	g_assert_cmpstr(r->source_ip, ==, "192.0.2.1");
	g_assert_cmpstr(r->reported_domain, ==, "sender.test");
	g_assert_cmpstr(r->original_mail_from, ==, "bounces@sender.test");
	g_assert_nonnull(r->auth_results);
	g_assert_cmpstr(r->orig_message_id, ==, "<a1@sender.test>");
	g_assert_cmpstr(g_hash_table_lookup(r->correlation, "Feedback-ID"), ==, "111:222:sender");
	report_free(r);
	r = parse_file(p, FIX "arf-redacted.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->feedback_type, ==, "not-spam");
	report_free(r);
	parser_free(p);
}

/* Several records per report, and the rules that decide them. */
static void
test_multi_records(void)
{
	static const struct { const char *file; guint n; const char *rcpt[3], *reason[3], *rule[3]; } t[] = {
		{ "dsn-status-first.eml", 2, { "judy@full.test", "karl@auth.test" },
		    { "mailboxfull", "authfailure" }, { "sf-x22", "sf-x726" } },
		{ "dsn-no-blank.eml", 2, { "nina@full.test", "oscar@dead.test" },
		    { "mailboxfull", "userunknown" }, { NULL, NULL } },
		{ "arf-multi.eml", 2, { "vera@isp.test", "walt@isp.test" },
		    { "feedback", "feedback" }, { "arf", "arf" } },
		{ "lpn-code.eml", 2, { "zoe@orange.test", "abe@cable.test" },
		    { "userunknown", "toomanyconn" }, { "lpn-userunknown", "aup-conn" } },
		/* Exim's redirected entries: the heading above "generated by x" is
		 * x's failure; an entry that only names its address gives none */
		{ "shape-exim-redirected.eml", 3, { "sam@local.test", "tia@local.test", "uma@local.test" },
		    { "mailererror", "undefined", "undefined" }, { "exim-local", NULL, NULL } },
		/* the other recipient's "local delivery failed" is not val's reason */
		{ "shape-dsn-other-failure.eml", 2, { "val@remote.test", "wes@local.test" },
		    { "onhold", "mailererror" }, { NULL, "exim-local" } },
		/* the text explains cal and names dan only: dan's reason is not cal's */
		{ "shape-dsn-unexplained.eml", 2, { "cal@nowhere.test", "dan@local.test" },
		    { "hostunknown", "undefined" }, { "host-unknown", NULL } },
		/* a list of bare addresses, then one reason: the reason of each */
		{ "shape-dsn-list-shared.eml", 2, { "amy@full.test", "bob@full.test" },
		    { "mailboxfull", "mailboxfull" }, { NULL, NULL } },
	};
	struct parser *p = mkparser(NULL);
	size_t i;
	guint j;

	for (i = 0; i < G_N_ELEMENTS(t); i++) {
		char *path = g_strconcat(FIX, t[i].file, NULL);
		struct report *r = parse_file(p, path, NULL);

		g_test_message("%s", t[i].file);
		g_assert_cmpuint(r->records->len, ==, t[i].n);
		for (j = 0; j < t[i].n; j++) {
			g_assert_cmpstr(rec(r, j)->recipient, ==, t[i].rcpt[j]);
			g_assert_cmpstr(rec(r, j)->reason, ==, t[i].reason[j]);
			if (t[i].rule[j] != NULL)
				g_assert_cmpstr(rec(r, j)->rule, ==, t[i].rule[j]);
		}
		report_free(r);
		g_free(path);
	}
	parser_free(p);
}

/*
 * A one-recipient report, made here: its text part (text, or none when
 * NULL), Action, Status and Diagnostic-Code; parsed by p.
 */
static struct report *
parse_report(struct parser *p, const char *rcpt, const char *text, const char *action,
    const char *status, const char *diag)
{
	char *t = text != NULL ? g_strdup_printf("--Z\nContent-Type: text/plain\n\n%s\n\n", text) :
	    g_strdup("");
	char *d = g_strdup_printf("From: MAILER-DAEMON@mx.sender.test\nSubject: %s\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"Z\"\n\n%s"
	    "--Z\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.sender.test\n\n"
	    "Final-Recipient: rfc822; %s\nAction: %s\nStatus: %s\nDiagnostic-Code: smtp; %s\n\n--Z--\n",
	    strcmp(action, "delayed") == 0 ? "Delayed Mail (still being retried)" :
	    "Undelivered Mail Returned to Sender", t, rcpt, action, status, diag);
	struct report *r = parser_parse(p, d, strlen(d), NULL);

	g_free(t);
	g_free(d);
	return r;
}

/* Details: commands, feedback types, the delayed record, SES fields. */
static void
test_details(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r;

	/* the rest of a cut reply, from the text part: all of it, and only it */
	r = parse_file(p, FIX "shape-diag-first-line.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->diagnostic, ==, "550-Message rejected\n"
	    "550-The recipient's mailbox is full, please try again later\n"
	    "550 Sorry (in reply to RCPT TO command)");
	report_free(r);
	/* a transcript's "250 2.1.0 Sender ok" is no code of the failure below it */
	r = parse_file(p, FIX "shape-transcript-ok-first.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "lou@dead.test");
	g_assert_cmpstr(rec(r, 0)->reason, ==, "userunknown");
	g_assert_cmpstr(rec(r, 0)->status, ==, "5.1.1");
	g_assert_cmpstr(rec(r, 0)->replycode, ==, "550");
	g_assert_cmpstr(rec(r, 0)->smtp_command, ==, "RCPT");
	report_free(r);
	r = parse_file(p, FIX "dsn-after-data.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->smtp_command, ==, "DATA");
	g_assert_cmpstr(rec(r, 0)->rule, ==, "require");
	report_free(r);
	r = parse_file(p, FIX "exim-mail-from.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->smtp_command, ==, "MAIL");
	g_assert_cmpstr(rec(r, 0)->rule, ==, "after");
	report_free(r);
	r = parse_file(p, FIX "apple-unsubscribe.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->feedback_type, ==, "opt-out");
	report_free(r);
	r = parse_file(p, FIX "ses-bounce.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->status, ==, "5.1.1");
	g_assert_cmpstr(rec(r, 0)->diagnostic, ==, "550 5.1.1 user unknown");
	g_assert_cmpstr(r->mta, ==, "amazonses");
	report_free(r);
	/* a delayed record keeps a reason a retry will not fix (the "delayed" line) */
	r = parse_file(p, FIX "dsn-two-rcpts.eml", NULL);
	g_assert_cmpstr(rec(r, 1)->reason, ==, "mailboxfull");
	g_assert_cmpint(rec(r, 1)->class_, ==, REPORT_CLASS_UNKNOWN);
	report_free(r);
	/* ... and is otherwise late: expired, never a failure */
	{
		static const char d[] = "From: MAILER-DAEMON@mx.sender.test\n"
		    "Subject: Delayed Mail (still being retried)\nMIME-Version: 1.0\n"
		    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"Z\"\n\n"
		    "--Z\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.sender.test\n\n"
		    "Final-Recipient: rfc822; slow@far.test\nAction: delayed\nStatus: 4.4.1\n"
		    "Diagnostic-Code: X-Postfix; connect to mx.far.test: Connection refused\n\n--Z--\n";

		r = parser_parse(p, d, sizeof(d) - 1, NULL);
		g_assert_cmpstr(rec(r, 0)->reason, ==, "expired");
		g_assert_cmpstr(rec(r, 0)->rule, ==, "delayed");
		g_assert_cmpint(rec(r, 0)->class_, ==, REPORT_CLASS_UNKNOWN);
		report_free(r);
	}
	/* refused at the greeting or at EHLO: no mailbox was looked up, the host was refused */
	{
		static const char *const said[] = {
			"host mx.far.test[192.0.2.9] refused to talk to me: 554 5.0.0 user unknown",
			"host mx.far.test[192.0.2.9] said: 550 5.0.0 user unknown (in reply to EHLO command)",
			"host mx.far.test[192.0.2.9] said: 550 5.0.0 user unknown (in reply to HELO command)",
		};
		guint i;

		for (i = 0; i < G_N_ELEMENTS(said); i++) {
			char *text = g_strdup_printf("<gone@far.test>: %s", said[i]);

			r = parse_report(p, "gone@far.test", text, "failed", "5.0.0",
			    "550 5.0.0 user unknown");
			g_assert_cmpstr(rec(r, 0)->reason, ==, "blocked");
			g_assert_cmpint(rec(r, 0)->class_, !=, REPORT_CLASS_HARD);
			report_free(r);
			g_free(text);
		}
	}
	/* why a warning's message waits, where its words say: the reason stands;
	 * a status code alone keeps only the reasons the "codes" list names */
	{
		static const struct { const char *status, *diag, *reason; } w[] = {
			{ "4.7.1", "451 4.7.1 Client host [192.0.2.9] blocked using zen.spamhaus.org",
			    "blocked" },
			{ "4.7.3", "450 4.7.3 error code 17", "expired" },
			{ "4.3.0", "451 4.3.0 error code 17", "expired" },
			{ "4.2.2", "452 4.2.2 error code 17", "mailboxfull" },
			{ "4.4.1", "421 4.4.1 connection refused by mx.far.test", "expired" },
		};
		guint i;

		for (i = 0; i < G_N_ELEMENTS(w); i++) {
			r = parse_report(p, "slow@far.test", NULL, "delayed", w[i].status, w[i].diag);
			g_assert_cmpstr(rec(r, 0)->reason, ==, w[i].reason);
			g_assert_cmpstr(rec(r, 0)->action, ==, "delayed");
			g_assert_cmpint(rec(r, 0)->class_, ==, REPORT_CLASS_UNKNOWN);
			report_free(r);
		}
	}
	r = parse_file(p, FIX "sendmail-transcript.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 2);
	g_assert_cmpstr(rec(r, 1)->recipient, ==, "gil@far.test");
	g_assert_cmpint(rec(r, 1)->class_, ==, REPORT_CLASS_HARD);
	g_assert_cmpstr(rec(r, 1)->reason, ==, "hostunknown");
	g_assert_nonnull(strstr(rec(r, 1)->diagnostic, "550 far.test (smtp)... 550 Host unknown"));
	g_assert_null(strstr(rec(r, 0)->diagnostic, "Host unknown"));
	report_free(r);
	r = parse_file(p, FIX "exchange-summary.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 1);
	report_free(r);
	/* the list notice is not a record for the poster named in its text */
	r = parse_file(p, FIX "list-xfailed.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 1);
	report_free(r);
	parser_free(p);
}

/*
 * A contact address inside a recipient's failure text ("550 5.1.1 User
 * unknown; contact helpdesk@x"), or the forward-path a 551 reply offers, is
 * part of that recipient's diagnostic: no record of its own, and the reply
 * stays with the recipient.  A recipient whose own address holds a contact
 * word is still one.
 */
static void
test_diag_contact(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r = parse_file(p, FIX "shape-diag-contact.eml", NULL);

	g_assert_cmpuint(r->records->len, ==, 2);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "gone@corp.test");
	g_assert_cmpstr(rec(r, 0)->status, ==, "5.1.1");
	g_assert_cmpstr(rec(r, 0)->reason, ==, "userunknown");
	g_assert_cmpstr(rec(r, 1)->recipient, ==, "support@corp.test");
	g_assert_cmpstr(rec(r, 1)->reason, ==, "mailboxfull");
	report_free(r);
	/* RFC 5321's 551 "please try <forward-path>": the new address is no recipient */
	r = parse_file(p, FIX "shape-551-forward.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 1);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "old@corp.test");
	g_assert_cmpstr(rec(r, 0)->reason, ==, "hasmoved");
	report_free(r);
	parser_free(p);
}

static void
test_not_bounce(void)
{
	/*
	 * Mail, not bounces: a person writing from postmaster@, a newsletter
	 * whose Subject says "rejected" (neither says a delivery failed), a
	 * read receipt (RFC 8098), a challenge-response request; letters in
	 * which a person tells of a bounce or a postmaster of rejected mail;
	 * Exchange's plain-text "Delivered:" receipt; an order, a ticket and a
	 * newsletter whose Subject says "rejected" or "bounce" and whose text
	 * names addresses and failure words but decides no failure; a message
	 * an Exchange inbox rule forwarded (no out-of-office marks); a
	 * tracker's notification, through a list, about a failed delivery; a
	 * mail system's multipart/report (a DMARC failure report in plain text)
	 * marked auto-replied, which is nobody's out-of-office; a postmaster's
	 * reply ("Re: why did my mail bounce?") telling of a refusal; a
	 * monitoring alert about failed deliveries, whose only address is
	 * whom to contact; a tracker's and a help desk's notifications, their
	 * Subjects tagged, about a bounce.
	 */
	static const char *const files[] = { "not-bounce.eml", "shape-postmaster-person.eml",
		"shape-newsletter-rejected.eml", "shape-mdn.eml", "shape-mdn-part.eml",
		"shape-challenge.eml", "shape-person-bounced.eml", "shape-postmaster-letter.eml",
		"shape-exchange-delivered.eml", "shape-order-rejected.eml", "shape-helpdesk-rejected.eml",
		"shape-bounce-word-newsletter.eml", "shape-exchange-rule-forward.eml",
		"shape-list-post.eml", "shape-report-auto-replied.eml", "shape-postmaster-reply.eml",
		"shape-monitoring-alert.eml", "shape-tracker-ticket.eml", "shape-helpdesk-ticket.eml" };
	struct parser *p = mkparser(NULL);
	struct report *r;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(files); i++) {
		char *path = g_strconcat(FIX, files[i], NULL);

		r = parse_file(p, path, NULL);
		g_test_message("%s", files[i]);
		g_assert_cmpint(r->kind, ==, REPORT_KIND_NONE);
		g_assert_cmpuint(r->records->len, ==, 0);
		report_free(r);
		g_free(path);
	}
	/* a mail system's notice that nothing failed yet: nobody to suppress */
	r = parse_file(p, FIX "shape-frozen-notice.eml", NULL);
	for (i = 0; i < r->records->len; i++)
		g_assert_cmpint(rec(r, i)->class_, ==, REPORT_CLASS_AUTOREPLY);
	report_free(r);
	parser_free(p);
}

/* The same DSN with CRLF and bare-CR line ends says the same. */
/*
 * Text in a charset is converted with a converter kept between messages:
 * text it cannot convert is kept as it is (made valid UTF-8), and the next
 * message still converts (the converter is reset, not left in an error
 * state).
 */
static void
test_charset_conversion(void)
{
	static const char head[] = "From: MAILER-DAEMON@mx.test\nTo: s@sender.test\n"
	    "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=shift_jis\n\n"
	    "<kim@gone.test>: host mx.gone.test said: 550 5.1.1 User unknown ";
	struct parser *p = mkparser(NULL);
	int round;

	for (round = 0; round < 2; round++) {
		/* "\x82\xa0" is HIRAGANA A; "\x81\x20" is no Shift_JIS sequence */
		char *bad = g_strconcat(head, "\x82\xa0\x81\x20" "end\n", NULL);
		char *good = g_strconcat(head, "\x82\xa0" "end\n", NULL);
		struct report *r = parser_parse(p, bad, strlen(bad), NULL);

		g_assert_cmpstr(rec(r, 0)->recipient, ==, "kim@gone.test");
		g_assert_nonnull(strstr(rec(r, 0)->diagnostic, "\xef\xbf\xbd"));
		g_assert_null(strstr(rec(r, 0)->diagnostic, "\xe3\x81\x82"));
		report_free(r);
		r = parser_parse(p, good, strlen(good), NULL);
		g_assert_nonnull(strstr(rec(r, 0)->diagnostic, "\xe3\x81\x82" "end"));
		report_free(r);
		g_free(bad);
		g_free(good);
	}
	parser_free(p);
}

static void
test_line_ends(void)
{
	struct parser *p = mkparser(NULL);
	char *data, *crlf, *cr;
	gsize len;
	GString *s;
	struct report *r;
	gsize i;

	g_assert_true(g_file_get_contents(FIX "dsn-two-rcpts.eml", &data, &len, NULL));
	s = g_string_new(NULL);
	for (i = 0; i < len; i++) {
		if (data[i] == '\n')
			g_string_append_c(s, '\r');
		g_string_append_c(s, data[i]);
	}
	crlf = g_string_free(s, FALSE);
	cr = g_strdup(data);
	g_strdelimit(cr, "\n", '\r');
	for (i = 0; i < 2; i++) {
		const char *d = i == 0 ? crlf : cr;

		r = parser_parse(p, d, strlen(d), NULL);
		g_assert_cmpint(r->kind, ==, REPORT_KIND_DSN);
		g_assert_cmpuint(r->records->len, ==, 2);
		g_assert_cmpstr(rec(r, 0)->recipient, ==, "alice@dead.test");
		g_assert_cmpstr(rec(r, 0)->reason, ==, "userunknown");
		g_assert_cmpstr(r->orig_message_id, ==, "<m1@sender.test>");
		report_free(r);
	}
	g_free(data);
	g_free(crlf);
	g_free(cr);
	parser_free(p);
}

static void
test_verp(void)
{
	struct parser *p = mkparser("^bounce\\+(?<local>[^=@]+)=(?<domain>[^@]+)@");
	struct report *r;

	r = parse_file(p, FIX "verp-no-rcpt.eml", "bounce+kim=verp.test@bounces.sender.test");
	g_assert_cmpint(r->kind, ==, REPORT_KIND_BOUNCE);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "kim@verp.test");
	report_free(r);
	/* VERP beats what the text says when there is one recipient */
	r = parse_file(p, FIX "exim-text.eml", "bounce+frank2=gone.test@bounces.sender.test");
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "frank2@gone.test");
	g_assert_cmpstr(rec(r, 0)->original_recipient, ==, "frank@gone.test");
	report_free(r);
	/* not a VERP address: untouched */
	r = parse_file(p, FIX "exim-text.eml", "bounces@sender.test");
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "frank@gone.test");
	report_free(r);
	parser_free(p);
}

/* A text part is the original only when it opens with a message's header. */
static void
test_original_as_text(void)
{
	static const struct { const char *text; gssize at; } t[] = {
		{ "----- Original message -----\n\nFrom: a@b.test\nTo: c@d.test\n\nbody\n", 30 },
		{ "\n\nReturn-Path: <a@b.test>\nReceived: from x\n\tby y\nTo: c@d.test\n\n", 2 },
		/* one field of a message's own: a note, not a header */
		{ "Note: the message below was refused.\nFrom: a@b.test\n", -1 },
		{ "Hello Bob,\nFrom: a@b.test\nTo: c@d.test\n", -1 },
		{ "--- Original message ---\n----- Original message -----\nFrom: a\nTo: b\n", -1 },
		{ "From: a@b.test\nTo: c@d.test\nthis is no header line\n", -1 },
		{ " folded: first\nFrom: a\nTo: b\n", -1 },
		{ "", -1 },
	};
	struct parser *p = mkparser(NULL);
	struct report *r;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(t); i++)
		g_assert_cmpint(orig_text_header(p->re_marker, t[i].text, strlen(t[i].text)), ==, t[i].at);
	r = parse_file(p, FIX "shape-original-as-text.eml", NULL);
	g_assert_cmpstr(r->orig_message_id, ==, "<dec-news-42@sender.test>");
	g_assert_cmpuint(r->records->len, ==, 1);
	report_free(r);
	/* after an HTML notice, the first text part is the attachment */
	r = parse_file(p, FIX "shape-paren-address.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 1);
	report_free(r);
	/* an address the original was not sent to, which the reply's words lead up to */
	r = parse_file(p, FIX "shape-other-address-in-reply.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 1);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "quin@far.test");
	report_free(r);
	r = parse_file(p, FIX "shape-html-first.eml", NULL);
	g_assert_cmpstr(r->orig_message_id, ==, "<h1@sender.test>");
	g_assert_cmpuint(r->records->len, ==, 1);
	report_free(r);
	parser_free(p);
}

/* Two recipients in a text notice, each with its own reply: one decides nothing,
 * and takes no reason from the other's paragraph. */
static void
test_text_own_replies(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r = parse_file(p, FIX "shape-text-two-replies.eml", NULL);

	g_assert_cmpuint(r->records->len, ==, 2);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "kim@far.test");
	g_assert_cmpstr(rec(r, 0)->reason, !=, "mailboxfull");
	g_assert_cmpint(rec(r, 0)->class_, ==, REPORT_CLASS_UNKNOWN);
	g_assert_cmpstr(rec(r, 1)->recipient, ==, "lou@near.test");
	g_assert_cmpstr(rec(r, 1)->reason, ==, "mailboxfull");
	report_free(r);
	parser_free(p);
}

/* Each record says where its recipient was read; the field survives the worker pipe. */
static void
test_recipient_from(void)
{
	static const struct { const char *file, *from; } t[] = {
		{ "dsn-two-rcpts.eml", "final-recipient" },
		{ "dsn-source-route.eml", "original-recipient" },
		{ "qmail-text.eml", "failure-line" },
		{ "list-xfailed.eml", "x-failed-recipients" },
		{ "arf-abuse.eml", "original-rcpt-to" },
		{ "arf-undisclosed.eml", "placeholder" },
		{ "jmrp.eml", "complainer-header" },
		{ "autoreply.eml", "from" },
		{ "ses-bounce.eml", "ses-json" },
		{ "shape-subject-only.eml", "subject" },
		{ "shape-original-as-text.eml", "original-to" },
		{ "arf-removal.eml", "removal-recipient" },
	};
	struct parser *p = mkparser("^bounce\\+(?<local>[^=@]+)=(?<domain>[^@]+)@");
	struct report *r, *back;
	GBytes *b;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(t); i++) {
		char *path = g_strconcat(FIX, t[i].file, NULL);

		r = parse_file(p, path, NULL);
		g_assert_cmpstr(rec(r, 0)->recipient_from, ==, t[i].from);
		b = report_serialize(r);
		back = report_deserialize(b);
		g_assert_nonnull(back);
		g_assert_cmpstr(rec(back, 0)->recipient_from, ==, t[i].from);
		g_bytes_unref(b);
		report_free(back);
		report_free(r);
		g_free(path);
	}
	/* the envelope names the recipient the notice does not */
	r = parse_file(p, FIX "verp-no-rcpt.eml", "bounce+kim=verp.test@bounces.sender.test");
	g_assert_cmpstr(rec(r, 0)->recipient_from, ==, "verp");
	report_free(r);
	r = parse_file(p, FIX "exim-text.eml", "bounce+frank2=gone.test@bounces.sender.test");
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "frank2@gone.test");
	g_assert_cmpstr(rec(r, 0)->recipient_from, ==, "verp");
	report_free(r);
	/* no recipient, nothing to say where it came from */
	r = parse_file(p, FIX "verp-no-rcpt.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 0);
	report_free(r);
	parser_free(p);
}

/* Candidates that are no recipient: contacts in boilerplate, signatures, a URL, a DKIM or Received line. */
static void
test_candidates(void)
{
	static const char *const one[] = { "shape-html-entities.eml", "shape-o365-alternative.eml",
		"shape-ooo-daemon.eml", "shape-own-spam-headers.eml" };
	struct parser *p = mkparser(NULL);
	struct report *r;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(one); i++) {
		char *path = g_strconcat(FIX, one[i], NULL);

		r = parse_file(p, path, NULL);
		g_test_message("%s", one[i]);
		g_assert_cmpuint(r->records->len, ==, 1);
		g_assert_cmpstr(strchr(rec(r, 0)->recipient, '&'), ==, NULL);
		report_free(r);
		g_free(path);
	}
	/* given up after many attempts: failed, not delayed */
	r = parse_file(p, FIX "shape-delivery-attempts.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->action, ==, "failed");
	report_free(r);
	r = parse_file(p, FIX "shape-delayed-given-up.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->action, ==, "failed");
	g_assert_cmpstr(rec(r, 0)->reason, ==, "expired");
	g_assert_cmpint(rec(r, 0)->class_, ==, REPORT_CLASS_SOFT);
	report_free(r);
	/* nothing decisive: said so, and no class that suppresses */
	r = parse_file(p, FIX "shape-undecided.eml", NULL);
	g_assert_cmpstr(rec(r, 0)->reason, ==, "onhold");
	g_assert_cmpint(rec(r, 0)->class_, ==, REPORT_CLASS_UNKNOWN);
	report_free(r);
	parser_free(p);
}

/*
 * Addresses a notice names that are nobody's failure: one quoted in an
 * inline report's Diagnostic-Code (the remote's spelling of the
 * Final-Recipient above it), a list server's own control address from its
 * List-* header, the envelope sender of an original quoted in mbox form,
 * the contacts in a signature, message and queue identifiers, the Cc and
 * Bcc of a quoted header, the original's envelope sender; no junk glued to
 * an address;
 * and no second record for a recipient whose delay the report also gave.
 */
static void
test_not_recipients(void)
{
	static const struct { const char *file, *rcpt; } one[] = {
		{ "shape-inline-dsn-diag-address.eml", "bo@corp.test" },
		{ "shape-list-control-address.eml", "birds@lists.test" },
		{ "shape-quoted-mbox-original.eml", "chess@club.test" },
		/* the original's Message-ID (named so, or in In-Reply-To), a queue id */
		{ "shape-message-ids.eml", "bob@e.test" },
		/* the original's header quoted with no marker: its Cc and Bcc were copied */
		{ "shape-quoted-copies.eml", "ned@c.test" },
		/* the postmaster's signature names a service desk and a team */
		{ "shape-signature-contacts.eml", "lee@uni.test" },
		/* delayed, then failed, in one report: one record, the failure */
		{ "shape-delayed-then-failed.eml", "kay@farm.test" },
		/* the original's envelope sender (its Return-Path), quoted by a refusal of MAIL FROM */
		{ "shape-sender-refused.eml", "mia@strict.test" },
		/* "x@y.test...User unknown", a filter's "RECIPIENT=x@y.test": the address, once */
		{ "shape-address-junk.eml", "pat@filter.test" },
		/* the alias a failed address was made from: Sendmail's "(expanded from: <x>)", Exim's "(generated from x)" */
		{ "shape-expanded-from.eml", "jo@example.test" },
		{ "shape-generated-from.eml", "jo@example.test" },
		/* the list the message went to, named above "Delivery to the following recipient failed" */
		{ "shape-list-summary.eml", "jo@example.test" },
	};
	struct parser *p = mkparser(NULL);
	guint i;

	for (i = 0; i < G_N_ELEMENTS(one); i++) {
		char *path = g_strconcat(FIX, one[i].file, NULL);
		struct report *r = parse_file(p, path, NULL);

		g_test_message("%s", one[i].file);
		g_assert_cmpuint(r->records->len, ==, 1);
		g_assert_cmpstr(rec(r, 0)->recipient, ==, one[i].rcpt);
		g_assert_cmpstr(rec(r, 0)->action, ==, "failed");
		report_free(r);
		g_free(path);
	}
	parser_free(p);
}

/* Hostile inputs: GMime-crashing encoded words, nesting, parts, headers. */
static void
test_hostile_files(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r;

	r = parse_file(p, FIX "hostile/encoded-word-iso2022cnext-subject.eml", NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_NEUTRALISED);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_NONE);
	report_free(r);
	r = parse_file(p, FIX "hostile/encoded-word-in-dsn-original.eml", NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_NEUTRALISED);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_DSN);
	g_assert_cmpstr(rec(r, 0)->recipient, ==, "lena@dead.test");
	g_assert_nonnull(r->orig_subject);
	g_assert_true(g_utf8_validate(r->orig_subject, -1, NULL));
	report_free(r);
	/* found by the fuzzer: 8-bit bytes inside the charset name */
	r = parse_file(p, FIX "hostile/encoded-word-long-charset.eml", NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_NEUTRALISED);
	report_free(r);
	/* found by the fuzzer: an SES complaint that names nobody */
	r = parse_file(p, FIX "hostile/ses-complaint-no-recipient.eml", NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_NONE);
	g_assert_cmpuint(r->records->len, ==, 0);
	report_free(r);
	r = parse_file(p, FIX "hostile/truncated-no-closing-boundary.eml", NULL);
	g_assert_cmpstr(r->outcome, !=, NULL);
	report_free(r);
	/*
	 * Found by the fuzzer: "=?=\r?UHC?B?oug=?=" in To:.  GMime drops the bare
	 * CR and decodes UHC (a heap over-read in iconv; ASan builds abort).
	 */
	r = parse_file(p, FIX "hostile/encoded-word-split-by-bare-cr.eml", NULL);
	g_assert_cmpstr(r->outcome, !=, NULL);
	report_free(r);
	/*
	 * Found by the fuzzer: a multipart whose boundary parameter is lost in
	 * 8-bit junk.  Asking GMime for the boundary made it invent one and
	 * re-encode the junk parameters: a 4 GB allocation and GLib's abort.
	 */
	/* Found by the fuzzer: "=?IS" / "O-2022-CN-EXT?B?Dg==?=" on two lines,
	 * joined by the header reader into a word the scan had not checked. */
	r = parse_file(p, FIX "hostile/encoded-word-split-across-lines.eml", NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_NEUTRALISED);
	report_free(r);
	/* Found by the fuzzer: a bare CR (copy made) then a limit exceeded
	 * (no parse): the copy was leaked (LeakSanitizer under SANITIZE=1). */
	r = parse_file(p, FIX "hostile/bare-cr-then-limit.eml", NULL);
	g_assert_cmpstr(r->outcome, !=, NULL);
	g_assert_cmpstr(r->outcome, !=, "ok");
	report_free(r);
	r = parse_file(p, FIX "hostile/content-type-8bit-params-no-boundary.eml", NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_DSN);
	g_assert_cmpuint(r->records->len, >=, 1);
	report_free(r);
	/* Raw 8-bit header bytes reached a "detect" regex unchecked: PCRE2's
	 * JIT read past the buffer (SIGSEGV, found by make fuzz). */
	r = parse_file(p, FIX "hostile/detect-header-invalid-utf8.eml", NULL);
	g_assert_cmpuint(r->records->len, ==, 0);
	report_free(r);
	/* An encoded word whose charset runs over lines that GMime joins (a
	 * header line without a colon continues the one before): it reached
	 * GMime's ISO-2022-CN-EXT abort (found by make fuzz). Defused. */
	r = parse_file(p, FIX "hostile/encoded-word-split-by-colonless-line.eml", NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_NEUTRALISED);
	report_free(r);
	r = parse_file(p, FIX "hostile/encoded-word-split-over-lines-crlf.eml", NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_NEUTRALISED);
	report_free(r);
	parser_free(p);
}

/* A bare CR inside a line reaches GMime as a space, never as nothing. */
static void
test_sanitize_bare_cr(void)
{
	static const char msg[] = "From: a@b.test\r\nTo: x@y.test =?=\r?UHC?B?oug=?=\r\n\r\nbody\r\n";
	struct sanitize_limits lim = { 0 };
	const char *out, *why = NULL;
	char *copy = NULL;
	guint32 anomalies = 0;
	gsize n;

	out = sanitize_prepare(&lim, msg, sizeof(msg) - 1, &n, &copy, &anomalies, &why);
	g_assert_nonnull(out);
	g_assert_cmpuint(n, ==, sizeof(msg) - 1);
	g_assert_nonnull(strstr(out, "=_= ?UHC?B?oug=?=\r\n"));
	g_free(copy);
}

/*
 * The parts and containers sanitize_prepare() counts against the limits:
 * exactly the lines that start with "Content-Type:" (any case), wherever
 * they fall, and none that only look like one.
 */
static void
test_sanitize_parts(void)
{
	GString *s = g_string_new("From: a@b.test\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n");
	int i, parts = 1, containers = 1;
	struct sanitize_limits lim = { 0 };
	const char *out, *why;
	char *copy;
	guint32 anomalies;
	gsize n;

	for (i = 0; i < 40; i++) {
		g_string_append_printf(s, "%.*s%s", i, "cccccccccccccccccccccccccccccccccccccccccccc",
		    i % 2 ? "\r\n" : "\n");
		g_string_append(s, i % 3 == 0 ? "content-TYPE: message/rfc822\n" :
		    "Content-Type: text/plain\r\n");
		parts++;
		containers += i % 3 == 0;
		/* not at a line's start: indented, after text, after a bare CR */
		g_string_append(s, i % 3 == 0 ? " Content-Type: multipart/x\n" :
		    i % 3 == 1 ? "xContent-Type: multipart/x\n" : "a\rContent-Type: multipart/x\n");
	}
	g_string_append(s, "CONTENT-TYPE: multipart/y");
	parts++;
	containers++;
	for (i = 0; i < 4; i++) {
		lim.max_parts = i == 0 ? parts : i == 1 ? parts - 1 : 0;
		lim.max_depth = i == 2 ? containers : i == 3 ? containers - 1 : 0;
		copy = NULL;
		why = NULL;
		anomalies = 0;
		out = sanitize_prepare(&lim, s->str, s->len, &n, &copy, &anomalies, &why);
		if (i % 2 == 0)
			g_assert_nonnull(out);
		else {
			g_assert_null(out);
			g_assert_cmpstr(why, ==, i == 1 ? "too many MIME parts" : "MIME nesting too deep");
		}
		g_free(copy);
	}
	g_string_free(s, TRUE);
}

static void
test_limits(void)
{
	struct parser *p = mkparser(NULL);
	struct report *r;
	GString *s = g_string_new("From: MAILER-DAEMON@x.test\nSubject: Undelivered\n");
	int i;

	/* 50,000 nested multiparts: refused before GMime spends a second on them */
	for (i = 0; i < 50000; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_NONE);
	g_assert_true(r->anomalies & (REPORT_ANOMALY_TOO_DEEP | REPORT_ANOMALY_TOO_MANY_PARTS));
	g_assert_cmpstr(r->outcome, !=, "ok");
	report_free(r);

	/* 150,000 empty parts */
	g_string_assign(s, "From: a@b.test\nContent-Type: multipart/mixed; boundary=\"x\"\n\n");
	for (i = 0; i < 150000; i++)
		g_string_append(s, "--x\nContent-Type: text/plain\n\n");
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_TOO_MANY_PARTS);
	report_free(r);

	/* a 4 MB header block */
	g_string_assign(s, "From: a@b.test\n");
	for (i = 0; i < 200000; i++)
		g_string_append(s, "X-Junk: aaaaaaaaaaaaaaaa\n");
	g_string_append(s, "\nbody\n");
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_true(r->anomalies & REPORT_ANOMALY_HEADER_TOO_BIG);
	report_free(r);

	/* garbage never crashes */
	r = parser_parse(p, "", 0, NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_NONE);
	report_free(r);
	r = parser_parse(p, "\0\0\0=?x?", 7, NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_NONE);
	report_free(r);
	g_string_free(s, TRUE);
	parser_free(p);
}

/* A DSN with n per-recipient blocks after its per-message block. */
static GString *
dsn_with_blocks(int n)
{
	GString *s = g_string_new("From: MAILER-DAEMON@x.test\nSubject: Undelivered\n"
	    "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"R\"\n\n--R\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; x.test\n\n");
	int i;

	for (i = 0; i < n; i++)
		g_string_append_printf(s, "Final-Recipient: rfc822; r%d@dead.test\nAction: failed\n"
		    "Status: 5.1.1\n\n", i);
	g_string_append(s, "--R--\n");
	return s;
}

static void
test_max_recipients(void)
{
	struct parser_options o;
	struct parser *p;
	struct report *r;
	char *err = NULL;
	GString *s;

	memset(&o, 0, sizeof(o));
	o.max_recipients = 3;
	p = parser_new(&o, &err);
	g_assert_nonnull(p);
	/* exactly at the cap: everything kept, nothing said */
	s = dsn_with_blocks(3);
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_cmpuint(r->records->len, ==, 3);
	g_assert_false(r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS);
	g_assert_cmpstr(r->outcome, ==, "ok");
	report_free(r);
	g_string_free(s, TRUE);
	/* one more: the first three kept, and the report says it is not whole */
	s = dsn_with_blocks(4);
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_cmpuint(r->records->len, ==, 3);
	g_assert_cmpstr(((struct report_record *)g_ptr_array_index(r->records, 2))->recipient, ==,
	    "r2@dead.test");
	g_assert_true(r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS);
	g_assert_cmpstr(r->outcome, ==, "too_many_recipients");
	report_free(r);
	g_string_free(s, TRUE);

	/* a text bounce (qmail) listing more addresses than the cap says so too */
	s = g_string_new("From: MAILER-DAEMON@mx.sender.test\nTo: bounces@sender.test\n"
	    "Subject: failure notice\n\nHi. This is the qmail-send program at mx.sender.test.\n"
	    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
	    "This is a permanent error; I've given up. Sorry it didn't work out.\n\n");
	for (int i = 0; i < 5; i++)
		g_string_append_printf(s, "<t%d@full.test>:\nRemote host said: 550 5.1.1 <t%d@full.test>"
		    "... User unknown\n\n", i, i);
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_cmpint(r->kind, ==, REPORT_KIND_BOUNCE);
	g_assert_cmpuint(r->records->len, ==, 3);
	g_assert_true(r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS);
	g_assert_cmpstr(r->outcome, ==, "too_many_recipients");
	report_free(r);
	g_string_free(s, TRUE);
	parser_free(p);

	/* the default is 1000 */
	o.max_recipients = 0;
	p = parser_new(&o, &err);
	s = dsn_with_blocks(1500);
	r = parser_parse(p, s->str, s->len, NULL);
	g_assert_cmpuint(r->records->len, ==, 1000);
	g_assert_cmpstr(r->outcome, ==, "too_many_recipients");
	report_free(r);
	g_string_free(s, TRUE);
	parser_free(p);
}

static void
test_rules_errors(void)
{
	static const struct { const char *text; const char *want; } bad[] = {
		{ "class userunknown hard\nrule x userunknown text\n", "t.conf:2:" },
		{ "rule x userunknown regex (unclosed\n", "t.conf:1:" },
		{ "\n\nrule x userunknown status 9.9.9\n", "t.conf:3:" },
		{ "class a nosuchclass\n", "t.conf:1:" },
		{ "frobnicate\n", "t.conf:1:" },
		{ "require userunknown command RCPT\n", "t.conf:1:" },
		{ "rule x blocked command 12\n", "t.conf:1:" },
		{ "rule x blocked status-first 5.x.1\n", "t.conf:1:" },
		{ "after MAIL userunknown rejected\n", "t.conf:1:" },
		{ "delayed\n", "t.conf:1:" },
		{ "delayed expired but mailboxfull\n", "t.conf:1:" },
		{ "delayed expired codes\n", "t.conf:1:" },
		{ "delayed expired codes mailboxfull except blocked\n", "t.conf:1:" },
		{ "mta nosuch\n", "t.conf:1:" },
		{ "detect acme text acme\n\nmta acme,other\n", "t.conf:3:" },
		{ "detect acme text acme\nmta\n", "t.conf:2:" },
		{ "detect acme header From\n", "t.conf:1:" },
		{ "detect acme body acme\n", "t.conf:1:" },
		{ "detect acme text (unclosed\n", "t.conf:1:" },
		{ "detect Acme! text acme\n", "t.conf:1:" },
		{ "detect acme remote-mta x\nmta acme\nrule x blocked regex (\n", "t.conf:3:" },
	};
	char *dir = unit_tmpdir("rbrules-XXXXXX");
	char *path = g_build_filename(dir, "t.conf", NULL);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct parser_options o;
		char *err = NULL;
		struct parser *p;

		g_assert_true(g_file_set_contents(path, bad[i].text, -1, NULL));
		memset(&o, 0, sizeof(o));
		o.rules_path = path;
		p = parser_new(&o, &err);
		g_assert_null(p);
		g_assert_nonnull(err);
		g_assert_nonnull(strstr(err, bad[i].want));
		g_free(err);
	}
	/* an operator's own rule, without recompiling */
	{
		struct parser_options o;
		char *err = NULL;
		struct parser *p;
		struct report *r;

		g_assert_true(g_file_set_contents(path,
		    "class mailboxfull soft\nrule my-full mailboxfull text does not like recipient\n", -1, NULL));
		memset(&o, 0, sizeof(o));
		o.rules_path = path;
		p = parser_new(&o, &err);
		g_assert_nonnull(p);
		r = parse_file(p, FIX "qmail-text.eml", NULL);
		g_assert_cmpstr(rec(r, 0)->rule, ==, "my-full");
		report_free(r);
		parser_free(p);
	}
	/* an operator's own producer and its table: only for that producer */
	{
		struct parser_options o;
		char *err = NULL;
		struct parser *p;
		struct report *r;

		g_assert_true(g_file_set_contents(path,
		    "class mailboxfull soft\nclass userunknown hard\n"
		    "detect mine header From @mx\\.sender\\.test\n"
		    "mta mine\nrule mine-full mailboxfull text unknown user\nmta *\n"
		    "rule any-uu userunknown text unknown user\n", -1, NULL));
		memset(&o, 0, sizeof(o));
		o.rules_path = path;
		p = parser_new(&o, &err);
		g_assert_nonnull(p);
		r = parse_file(p, FIX "dsn-after-data.eml", NULL);
		g_assert_cmpstr(r->mta, ==, "mine");
		g_assert_cmpstr(rec(r, 0)->rule, ==, "mine-full");
		report_free(r);
		r = parse_file(p, FIX "mcafee-unknown.eml", NULL);
		g_assert_null(r->mta);
		g_assert_cmpstr(rec(r, 0)->rule, ==, "any-uu");
		report_free(r);
		parser_free(p);
	}
	/* the shipped rules load */
	{
		struct parser *p = mkparser(NULL);

		parser_free(p);
	}
	unit_rmtree(dir);
	g_free(path);
	g_free(dir);
}

/* The rule text (folded as the parser folds it) matches: id, or none when id is NULL. */
static void
assert_classified(const struct rules *r, const char *text, const char *id)
{
	char *t = rules_fold(text);
	struct rules_match m;
	gboolean ok = rules_classify(r, t, NULL, NULL, NULL, &m);

	g_test_message("%s", text);
	if (id == NULL)
		g_assert_false(ok);
	else {
		g_assert_true(ok);
		g_assert_cmpstr(m.id, ==, id);
	}
	g_free(t);
}

/*
 * A regex without a literal start is skipped when a literal every match
 * contains is missing from an ASCII text; a text with non-ASCII (which a
 * caseless ASCII letter may match: KELVIN SIGN is a "k"), or a pattern
 * that cannot be read that way, still goes to the regex.  The "detect"
 * lines are skipped the same way, on each value read once.
 */
static void
test_rules_prefilter(void)
{
	static const char conf[] =
	    "detect one header From @one\\.example\n"
	    "detect two header from @two\\.example\n"
	    "detect kel header From @kelvin\\.example\n"
	    "detect txt text (?<!x)said the (?:server|host)\n"
	    "rule r1 userunknown regex (?<!\\d )(?:no such|unknown) user|(?<!x)\\(state 12\\)\n"
	    "rule r2 blocked regex (?<!x)kelvin unit\n"
	    "rule r3 rejected regex (?<!y)\\x41bc\n"
	    "rule r4 blocked regex (?<w>spam)trap|(?<=be )gone\n";
	char *err = NULL;
	struct rules *r = rules_load_data("t.conf", conf, sizeof(conf) - 1, &err);
	static const struct { const char *text; const char *id; } cases[] = {
		{ "Recipient: Unknown User here", "r1" },
		{ "550 unknown user here", NULL },
		{ "Error (STATE 12).", "r1" },
		{ "error (state 13).", NULL },
		{ "\xe2\x84\xaa" "ELVIN UNIT", "r2" },
		{ "kelvin  unit", "r2" },
		{ "kelvin units", "r2" },
		{ "kelvinunit", NULL },
		{ "ABC", "r3" },
		{ "a spamtrap hit", "r4" },
		{ "let it be gone", "r4" },
		{ "gone", NULL },
	};
	static const struct { const char *hdr; const char *text; const char *mta; } det[] = {
		{ "From: <MAILER-DAEMON@ONE.EXAMPLE>\n", NULL, "one" },
		{ "From: <mailer-daemon@Two.Example>\n", NULL, "two" },
		{ "From: <postmaster@three.example>\n", NULL, NULL },
		{ "From: x@\xe2\x84\xaa" "elvin.example\n", NULL, "kel" },
		{ "From: x@kelvin.exampl\n", NULL, NULL },
		{ "From: a@b.example\n", "The Server said the HOST", "txt" },
		{ "From: a@b.example\n", "the server told the host", NULL },
	};
	size_t i;

	g_assert_nonnull(r);
	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		assert_classified(r, cases[i].text, cases[i].id);
	for (i = 0; i < G_N_ELEMENTS(det); i++) {
		struct fields *f = fields_parse_header(det[i].hdr, strlen(det[i].hdr));
		char *t = rules_fold(det[i].text);

		g_assert_cmpstr(rules_detect(r, f, NULL, t), ==, det[i].mta);
		g_free(t);
		fields_free(f);
	}
	rules_free(r);
}

/*
 * A rule with non-ASCII anchors is tried, on an all-ASCII text, anchored
 * at each of its ASCII anchors (every match starts at one there): a match
 * at a later anchor than the first still counts.  Not so on a text with
 * non-ASCII (an upper-case letter the caseless regex takes starts no
 * anchor), nor for a pattern holding long s or KELVIN SIGN, which match
 * an ASCII "s" and "k": the regex then runs from the first anchor on.
 */
static void
test_rules_at_ascii(void)
{
	static const char conf[] =
	    "rule r1 userunknown regex (?:nao|n\xc3\xa3o) foi poss[i\xc3\xad]vel|cafe [0-9]\n"
	    "rule r2 rejected regex n\xc3\xa3o existe|cafe [0-9]\n"
	    "rule r3 blocked regex \xc5\xbftate 9 reached|caf\xc3\xa9 closed|cafe [0-9]\n";
	static const struct { const char *text; const char *id; } cases[] = {
		{ "cafe 7", "r1" },
		{ "cafe x, nao foi possivel", "r1" },
		{ "cafe x, cafe y, cafe 3", "r1" },
		{ "cafe x, nao foi possevel", NULL },
		{ "cafe x, N\xc3\x83O foi poss\xc3\x8dvel", "r1" },
		{ "cafe x, N\xc3\x83O EXISTE", "r2" },
		{ "cafe x, NAO EXISTE", NULL },
		{ "cafe x, STATE 9 REACHED", "r3" },
		{ "state 9 reached, cafe x", NULL },
		{ "cafe x, caf\xc3\xa9 closed", "r3" },
	};
	char *err = NULL;
	struct rules *r = rules_load_data("t.conf", conf, sizeof(conf) - 1, &err);
	int round;
	size_t i;

	g_assert_cmpstr(err, ==, NULL);
	g_assert_nonnull(r);
	/* before and after the regexes are JIT-compiled */
	for (round = 0; round < 4; round++)
		for (i = 0; i < G_N_ELEMENTS(cases); i++)
			assert_classified(r, cases[i].text, cases[i].id);
	rules_free(r);
}

/*
 * Scoped rules apply to the names of their own "mta" line: consecutive
 * lines with other names, the same names again, and a rule of a later
 * line after a first that did not apply, each decide by their own names.
 */
static void
test_rules_scope_lines(void)
{
	static const char conf[] =
	    "detect a header From @a\\.example\n"
	    "detect b header From @b\\.example\n"
	    "detect c header From @c\\.example\n"
	    "mta a\nrule a-1 blocked text first phrase\n"
	    "mta b,c\nrule bc-1 rejected text first phrase\nrule bc-2 rejected regex second phr[a]se\n"
	    "mta a\nrule a-2 blocked regex second phr[a]se\nrule a-3 blocked status 5.1.1\n"
	    "mta *\nrule any userunknown text third phrase\n";
	static const struct {
		const char *lhost, *rhost, *text, *status, *id;
	} cases[] = {
		{ "a", NULL, "first phrase", NULL, "a-1" },
		{ "b", NULL, "first phrase", NULL, "bc-1" },
		{ NULL, "c", "first phrase", NULL, "bc-1" },
		{ "a", NULL, "second phrase", NULL, "a-2" },
		{ "c", NULL, "second phrase", NULL, "bc-2" },
		{ "x", "b", "second phrase", NULL, "bc-2" },
		{ "b", NULL, NULL, "5.1.1", NULL },
		{ "x", "a", NULL, "5.1.1", "a-3" },
		{ "x", NULL, "first phrase", NULL, NULL },
		{ "a", NULL, "third phrase", NULL, NULL },
	};
	char *err = NULL;
	struct rules *r = rules_load_data("t.conf", conf, sizeof(conf) - 1, &err);
	size_t i;

	g_assert_cmpstr(err, ==, NULL);
	g_assert_nonnull(r);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *t = rules_fold(cases[i].text);
		struct rules_match m;
		gboolean ok = rules_classify_scoped(r, cases[i].lhost, cases[i].rhost, t,
		    cases[i].status, NULL, NULL, &m);

		g_test_message("%s %s", cases[i].text, cases[i].id);
		if (cases[i].id == NULL)
			g_assert_false(ok);
		else {
			g_assert_true(ok);
			g_assert_cmpstr(m.id, ==, cases[i].id);
		}
		g_free(t);
	}
	rules_free(r);
}

/*
 * A regex is JIT-compiled at the use its mark says, and only then: the
 * default for most rules, a later one for a rule tried anchored on ASCII
 * texts (its non-ASCII anchors aside) and whole only on the others, and
 * for a detect line.
 */
static void
test_rules_jit_mark(void)
{
	static const char conf[] =
	    "rule r1 userunknown regex unknown user \\S+\n"
	    "rule r2 userunknown regex (?:nao|n\xc3\xa3o) foi poss[i\xc3\xad]vel|cafe [0-9]\n"
	    "detect one header From @one\\.example\\b\n";
	char *err = NULL;
	struct rules *r = rules_load_data("t.conf", conf, sizeof(conf) - 1, &err);
	const struct rule *r1, *r2;
	const struct detect *d;
	gint i;

	g_assert_cmpstr(err, ==, NULL);
	g_assert_nonnull(r);
	r1 = g_ptr_array_index(r->rules, 0);
	r2 = g_ptr_array_index(r->rules, 1);
	g_assert_true(r1->at);
	g_assert_cmpint(r1->re->jit_after, ==, RULES_RE_JIT_AFTER);
	g_assert_false(r2->at);
	g_assert_true(r2->at_ascii);
	g_assert_cmpint(r2->re->jit_after, ==, RULES_RE_JIT_RARE);
	for (i = 1; i < RULES_RE_JIT_RARE; i++) {
		g_assert_true(rules_re_get(r2->re) == r2->re->re);
		g_assert_null(r2->re->jit);
	}
	g_assert_true(rules_re_get(r2->re) != r2->re->re);
	g_assert_nonnull(r2->re->jit);
	g_assert_true(rules_re_get(r2->re) == r2->re->jit);
	d = g_ptr_array_index(r->detects, 0);
	g_assert_cmpint(d->re->jit_after, ==, RULES_RE_JIT_RARE);
	rules_free(r);
}

/*
 * The rules' regexes run interpreted at first and JIT-compiled once used
 * again (rules_re.c): the same texts decide the same way before and after,
 * for a rule's own regex (and its matches anchored at the prefilter's hits,
 * always interpreted, at any hit, for an ASCII pattern and for one whose
 * anchors alone are ASCII) and a detect regex.  Fields
 * apart by tabs and runs of spaces are split as by single spaces, and a
 * line with a byte outside printable ASCII is split by \s+ as well.
 */
static void
test_rules_jit_later(void)
{
	static const char conf[] =
	    "detect  txt\ttext   (?<!x)said the (?:server|host)\n"
	    "rule\tr1 userunknown  regex\t(?<!\\d )(?:no such|unknown) user\n"
	    "rule r2   blocked regex .*caf\xc3\xa9 ferm\xc3\xa9\n"
	    "rule r3 rejected regex (?:^|\\s)deny(?:\\s|$)\n"
	    "rule r4 userunknown regex (?:unbekannter|der) empf[a\xc3\xa4]nger\n"
	    "rule r5 systemerror regex ^(?!.*\\b5\\.\\d\\.[1-9]).*\\(state 6\\)\n"
	    "class\tuserunknown  hard\n";
	static const struct { const char *text; const char *id; } cases[] = {
		{ "Recipient: Unknown User here", "r1" },
		{ "mailbox unknown  user here", "r1" },
		{ "550 unknown user", NULL },
		{ "le CAF\xc3\x89 ferm\xc3\xa9", "r2" },
		{ "le cafe ferme", NULL },
		{ "we deny this", "r3" },
		{ "denying", NULL },
		{ "der brief: unbekannter Empf\xc3\xa4nger", "r4" },
		{ "der brief: der empfanger", "r4" },
		{ "unbekannter der empfang", NULL },
		/* r5 has no anchor: it runs when its literal is there, on any text */
		{ "caf\xc3\xa9: 421 (state 6)", "r5" },
		{ "caf\xc3\xa9: 550 5.1.1 (state 6)", NULL },
		{ "caf\xc3\xa9: (state 7)", NULL },
		/* unless the regex sees a letter the literal does not: long s is s */
		{ "caf\xc3\xa9: 421 (\xc5\xbftate 6)", "r5" },
		{ "cafe: 421 (\xc5\xbftate 6)", "r5" },
	};
	char *err = NULL;
	struct rules *r = rules_load_data("t.conf", conf, sizeof(conf) - 1, &err);
	struct fields *f = fields_parse_header("From: a@b.example\n", 18);
	int round;
	size_t i;

	g_assert_cmpstr(err, ==, NULL);
	g_assert_nonnull(r);
	/* well past the uses after which a regex is JIT-compiled */
	for (round = 0; round < 40; round++) {
		for (i = 0; i < G_N_ELEMENTS(cases); i++)
			assert_classified(r, cases[i].text, cases[i].id);
		g_assert_cmpstr(rules_detect(r, f, NULL, "the server said the host"), ==, "txt");
		g_assert_null(rules_detect(r, f, NULL, "the server told the host"));
		/* on UTF-8 too; and long s is s there, so the regex decides */
		g_assert_cmpstr(rules_detect(r, f, NULL, "caf\xc3\xa9: the server said the host"),
		    ==, "txt");
		g_assert_null(rules_detect(r, f, NULL, "caf\xc3\xa9: the server told the host"));
		g_assert_cmpstr(rules_detect(r, f, NULL, "caf\xc3\xa9: the server \xc5\xbf" "aid the host"),
		    ==, "txt");
	}
	fields_free(f);
	rules_free(r);
}

/*
 * Fields are split as \\s+ splits them, Unicode's spaces too (GRegex is in
 * UCP mode): a line with one is read as a line with a space there.
 */
static void
test_rules_split_spaces(void)
{
	static const char *const lines[] = {
		"rule\xc2\xa0r6 blocked text a caf\xc3\xa9\n",
		"rule r7\xe3\x80\x80" "blocked text caf\xc3\xa9 b\n",
		"rule r8 blocked\xe2\x80\x83text caf\xc3\xa9 b\n",
		"rule r9 blocked text\xc2\x85" "caf\xc3\xa9 b\n",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(lines); i++) {
		char *err = NULL;
		struct rules *r = rules_load_data("t.conf", lines[i], strlen(lines[i]), &err);

		g_test_message("%s", lines[i]);
		g_assert_cmpstr(err, ==, NULL);
		g_assert_nonnull(r);
		rules_free(r);
	}
}

/*
 * The shipped rules on failure texts as mail systems document them: the
 * reason a text gives on its own (no status, no command), and what a
 * decisive code or a command makes of it.
 */
static void
test_rules_vocabulary(void)
{
	static const struct {
		const char *text, *status, *command, *reason;
	} cases[] = {
		/* a full mailbox, a suspended account, relaying refused, failed authentication, in any wording, outrank x.1.1 */
		{ "550 5.1.1 <jo@example.test>: account is exceeding their quota", "5.1.1", "RCPT", "mailboxfull" },
		{ "550 5.1.1 <jo@example.test>: relay access denied", "5.1.1", "RCPT", "norelaying" },
		{ "550 5.1.1 <jo@example.test>: rejected for dmarc policy", "5.1.1", "RCPT", "authfailure" },
		{ "550 5.1.1 <jo@example.test>: this account has been disabled or discontinued", "5.1.1", "RCPT", "suspend" },
		/* Postfix's deferral wording is no suspended account */
		{ "delivery temporarily suspended: connect to mx.example.test[192.0.2.1]:25: Connection timed out",
		    NULL, NULL, "expired" },
		/* a span between two words stays within a clause: Gmail's "recipient domain X" is no "domain ... not found" */
		{ "Google tried to deliver your message, but it was rejected by the server for the recipient domain "
		    "example.org by mx.example.org. [192.0.2.1]. The error that the other server returned was: "
		    "550 Requested action not taken: the user's email name is not found", NULL, "RCPT", "userunknown" },
		/* Exchange / Office 365's user text without its administrator section */
		{ "The e-mail address you entered couldn't be found. Please check the recipient's e-mail address.",
		    NULL, NULL, "userunknown" },
		{ "The recipient's e-mail address was not found in the recipient's e-mail system.",
		    NULL, NULL, "userunknown" },
		/* Office 365's notice: "<user> wasn't found at <domain>." */
		{ "Your message to xena@corp.test couldn't be delivered. xena wasn't found at corp.test.",
		    NULL, NULL, "userunknown" },
		{ "The message wasn't found at the server.", NULL, NULL, NULL },
		/* Exchange / Office 365 in the recipient organization's language */
		{ "Das E-Mail-Konto existiert nicht bei der Organisation, an die die Nachricht gesendet wurde.",
		    NULL, NULL, "userunknown" },
		{ "Le compte de messagerie n'existe pas dans l'organisation \xc3\xa0 laquelle ce message a \xc3\xa9t\xc3\xa9 envoy\xc3\xa9.",
		    NULL, NULL, "userunknown" },
		{ "La cuenta de correo electr\xc3\xb3nico no existe en la organizaci\xc3\xb3n a la que se envi\xc3\xb3 este mensaje.",
		    NULL, NULL, "userunknown" },
		{ "L'account di posta elettronica non esiste nell'organizzazione a cui \xc3\xa8 stato inviato il messaggio.",
		    NULL, NULL, "userunknown" },
		{ "Het e-mailaccount bestaat niet bij de organisatie waarnaar dit bericht is verzonden.",
		    NULL, NULL, "userunknown" },
		{ "A conta de email n\xc3\xa3o existe na organiza\xc3\xa7\xc3\xa3o para a qual esta mensagem foi enviada.",
		    NULL, NULL, "userunknown" },
		{ "Die eingegebene E-Mail-Adresse wurde nicht gefunden.", NULL, NULL, "userunknown" },
		{ "Das Postfach des Empf\xc3\xa4ngers ist voll.", NULL, NULL, "mailboxfull" },
		{ "La bo\xc3\xaete aux lettres du destinataire est pleine.", NULL, NULL, "mailboxfull" },
		{ "El buz\xc3\xb3n del destinatario est\xc3\xa1 lleno.", NULL, NULL, "mailboxfull" },
		{ "La casella del destinatario \xc3\xa8 piena.", NULL, NULL, "mailboxfull" },
		{ "Het postvak van de ontvanger is vol.", NULL, NULL, "mailboxfull" },
		{ "A caixa de correio do destinat\xc3\xa1rio est\xc3\xa1 cheia.", NULL, NULL, "mailboxfull" },
		/* documented replies of qmail and its patches, maildrop, vpopmail */
		{ "553 sorry, this recipient is in my badrecipientto list (#5.7.1)", "5.7.1", "RCPT",
		    "userunknown" },
		{ "553 sorry, this recipient is not in my validrcptto list (#5.7.1)", "5.7.1", "RCPT",
		    "userunknown" },
		{ "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)", "5.7.1", "MAIL",
		    "rejected" },
		{ "vdeliver: Invalid or unknown virtual user 'rcpt'", NULL, "RCPT", "userunknown" },
		{ "maildrop: maildir has overdrawn quota", NULL, NULL, "mailboxfull" },
		{ "452 Mailbox size limit exceeded", NULL, "RCPT", "mailboxfull" },
		{ "550 5.7.1 Message rejected because it contains spam", "5.7.1", "DATA", "spamdetected" },
		{ "550 Your message has been blocked by the spam filter", NULL, "DATA", "spamdetected" },
		{ "554 Your host is blocked", NULL, "CONN", "blocked" },
		/* RFC 5321's 551: the user has moved, and the reply says where */
		{ "551 User not local; please try <new@example.test>", NULL, "RCPT", "hasmoved" },
		{ "550 Rejected by header based Anti-Spoofing policy: news@sender.test", NULL, "DATA",
		    "policyviolation" },
		/* a domain that does not exist is no mailbox that does not */
		{ "Die Dom\xc3\xa4ne example.invalid existiert nicht", NULL, NULL, NULL },
		/* "User unknown" with nothing else: a filter's word (Sisimai's convention) */
		{ "550 User unknown", NULL, NULL, "filtered" },
		{ "550 User unknown", "5.1.1", NULL, "userunknown" },
		{ "550 User unknown", NULL, "RCPT", "userunknown" },
		{ "550 User unknown", NULL, "DATA", "filtered" },
		/* Sisimai's published phrases for a dead address, a full mailbox, a suspended account */
		{ "550 5.1.0 Address rejected.", NULL, "RCPT", "userunknown" },
		{ "550 5.1.1 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
		    NULL, NULL, "userunknown" },
		{ "553 sorry, your envelope recipient is in my badrcptto list (#5.7.1)", NULL, NULL,
		    "userunknown" },
		{ "550 sorry, that domain or user isn't in my list of allowed rcpthosts", NULL, "RCPT",
		    "userunknown" },
		{ "550 <kijitora@example.test>... Blocked by ldap", NULL, "RCPT", "userunknown" },
		{ "550 No kijitora in name directory", NULL, "RCPT", "userunknown" },
		{ "550 unknown local-part in domain", NULL, "RCPT", "userunknown" },
		{ "550 User (kijitora) unknown", NULL, "RCPT", "userunknown" },
		{ "550 Destination server rejected recipients", NULL, "RCPT", "userunknown" },
		{ "552 Mail file size exceeds the maximum size allowed for mail delivery", NULL, "RCPT",
		    "mailboxfull" },
		{ "452 User has too many messages on the server", NULL, "RCPT", "mailboxfull" },
		{ "550 Diskspace quota exceeded", NULL, "RCPT", "mailboxfull" },
		{ "550 kijitora is unavailable: user is terminated", NULL, "RCPT", "suspend" },
		{ "550 User not active", NULL, "RCPT", "suspend" },
		{ "550 This address no longer accepts mail", NULL, "RCPT", "suspend" },
		/* ... for a blocked client, a spam verdict, a refused sender, a recipient's filter */
		{ "550 5.7.1 Bad sender IP address", NULL, "CONN", "blocked" },
		{ "550 Sorry, your remotehost looks suspiciously like spammer", NULL, "CONN", "blocked" },
		{ "550 Mail from 192.0.2.1 refused: see the list", NULL, "MAIL", "blocked" },
		{ "host mx.example.test said: 550 Blocked (in reply to RCPT TO command)", NULL, "RCPT",
		    "blocked" },
		{ "host mx.example.test said: 550 Blocked by the recipient", NULL, "DATA", "filtered" },
		{ "550 Server IP 192.0.2.1 listed as abusive", NULL, NULL, "blocked" },
		{ "554 Message refused by MailMarshal SpamProfiler", NULL, "DATA", "spamdetected" },
		{ "550 Your message has triggered a SPAM block", NULL, "DATA", "spamdetected" },
		{ "554 5.7.0 Reject, id=12345-01 - spam", "5.7.0", "DATA", "spamdetected" },
		{ "550 Content filter rejection", NULL, "DATA", "spamdetected" },
		{ "550 Rejected by mx.example.test (spam)", NULL, "DATA", "spamdetected" },
		{ "550 Your email address has been blacklisted", NULL, "MAIL", "rejected" },
		{ "550 Sender is in my black list", NULL, "MAIL", "rejected" },
		{ "550 Error: no third-party DSNs", NULL, "MAIL", "rejected" },
		{ "550 Transaction failed unsigned DSN for <x@example.test>", NULL, "MAIL", "rejected" },
		{ "550 5.7.1 Delivery not authorized, message refused", "5.7.1", "RCPT", "rejected" },
		/* a client without reverse DNS, in the words of a refused sender domain */
		{ "550 5.7.1 Connections not accepted from servers without a valid sender domain. Fix reverse DNS for 192.0.2.1",
		    "5.7.1", "MAIL", "requireptr" },
		{ "550 We failed to deliver mail because the following address recipient id refuse to receive mail",
		    NULL, "DATA", "filtered" },
		/* ... for transport, policy, security, system and rate failures */
		{ "451 Server did not respond", NULL, NULL, "expired" },
		{ "451 Host not found, try again", NULL, "RCPT", "networkerror" },
		{ "554 Name server: .: host not found", NULL, "RCPT", "notaccept" },
		{ "550 This mail server requires authentication when attempting to send to a non-local e-mail address",
		    NULL, "RCPT", "norelaying" },
		{ "552 The recipient is not accepting mail with attachments", NULL, "DATA",
		    "policyviolation" },
		{ "554 Email rejected due to security policies", NULL, "DATA", "policyviolation" },
		{ "550 You are not authorized to send mail, authentication is required", NULL, "MAIL",
		    "securityerror" },
		{ "550 You are not authorized to send to this recipient", NULL, "RCPT", "filtered" },
		{ "535 SMTP authentication failed; server mx.example.test said: 535 bad", NULL, NULL,
		    "securityerror" },
		{ "554 Executable files are not allowed in compressed files", NULL, "DATA", "securityerror" },
		{ "554 config error: mail loops back to myself", NULL, "RCPT", "systemerror" },
		{ "451 Timeout waiting for input", NULL, "DATA", "systemerror" },
		{ "451 Recipient deferred because there is no Mdb", NULL, "RCPT", "systemerror" },
		{ "454 Throttling failure: Daily message quota exceeded.", NULL, "DATA", "toomanyconn" },
		{ "421 Too many errors from your IP", NULL, "RCPT", "toomanyconn" },
		{ "552 Header size exceeds maximum permitted", NULL, "DATA", "contenterror" },
		/* ... for authentication, reputation, reverse DNS, rate and local mailers */
		{ "550 5.7.1 Please see http://spf.pobox.com/why.html", NULL, "MAIL", "authfailure" },
		{ "554 Rejected: a poor email reputation score", NULL, "DATA", "badreputation" },
		{ "550 We do not accept mail from hosts with dynamic IP or generic DNS PTR-records",
		    NULL, "CONN", "requireptr" },
		{ "550 Domain example.test mismatches client IP", NULL, "MAIL", "requireptr" },
		{ "451 4.7.1 <mx.example.test[192.0.2.2]>: Client host rejected: Please try again slower",
		    "4.7.1", "RCPT", "speeding" },
		{ "421 Mail sent from your IP address has been temporarily rate limited", NULL, "CONN",
		    "speeding" },
		{ "552 This message is not RFC 5322 compliant, see https://support.google.com/mail/?p=RfcMessageNonCompliant",
		    NULL, "DATA", "notcompliantrfc" },
		{ "552 Message header size exceeds limit", NULL, "DATA", "exceedlimit" },
		{ "550 /usr/local/bin/maildrop: command output: quota", NULL, NULL, "mailererror" },
		/* providers' documented replies (Gmail, iCloud, Yahoo, Exchange Online) */
		{ "421 4.7.0 This message is suspicious due to the very low reputation of the sending IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
		    "4.7.0", "DATA", "badreputation" },
		{ "451 4.7.24 The SPF record of the sending domain has one or more suspicious entries. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
		    "4.7.24", "DATA", "authfailure" },
		{ "421 4.7.28 This mail has been rate limited because DKIM does not pass. Gmail requires all large senders to authenticate with DKIM.",
		    "4.7.28", "DATA", "authfailure" },
		{ "421 4.7.0 IP not in whitelist for RCPT domain, closing connection.", "4.7.0", "RCPT",
		    "blocked" },
		{ "421 4.7.0 Try again later, closing connection.", "4.7.0", "EHLO", "blocked" },
		{ "501 5.5.4 HELO/EHLO argument is invalid.", "5.5.4", "EHLO", "blocked" },
		{ "550 5.7.1 Invalid credentials for relay [192.0.2.1].", "5.7.1", "RCPT", "norelaying" },
		{ "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers.",
		    "5.7.1", "RCPT", "norelaying" },
		{ "550 5.7.1 Messages missing a valid address in the From: header, or having no From: header, are not accepted.",
		    "5.7.1", "DATA", "notcompliantrfc" },
		{ "554 5.7.1 [HME1] This message was blocked for failing both SPF and DKIM authentication checks.",
		    "5.7.1", "DATA", "authfailure" },
		{ "550 5.7.1 [CS01] Message rejected due to local policy.", "5.7.1", "DATA",
		    "policyviolation" },
		{ "421 4.7.1 Messages to x@icloud.example deferred due to excessive volume. Try again later",
		    "4.7.1", "RCPT", "speeding" },
		{ "450 User is receiving mail too quickly", NULL, "RCPT", "speeding" },
		{ "554 delivery error: dd x@yahoo.example is no longer valid.", NULL, "RCPT", "suspend" },
		{ "421 Max message per connection reached, closing transmission channel", NULL, "DATA",
		    "toomanyconn" },
		{ "550 5.7.509 Access denied, sending domain example.test does not pass DMARC verification",
		    "5.7.509", "DATA", "authfailure" },
		{ "550 5.7.510 Access denied, example.test does not accept email over IPv6", "5.7.510",
		    "CONN", "blocked" },
		{ "550 5.7.1 Messages missing a valid Message-ID: header are not accepted.", "5.7.1",
		    "DATA", "notcompliantrfc" },
		{ "421 4.7.28 Gmail has detected this message exceeded its quota for sending messages with the same Message-ID:.",
		    "4.7.28", "DATA", "policyviolation" },
		{ "550 5.4.5 Daily sending quota exceeded.", "5.4.5", "DATA", "speeding" },
		{ "454 4.7.0 Too many login attempts, please try again later.", "4.7.0", "MAIL",
		    "securityerror" },
		{ "421 4.7.0 This message is suspicious due to the nature of the content or the links within.",
		    "4.7.0", "DATA", "spamdetected" },
		{ "525 5.7.10 SMTP protocol violation, no commands allowed to pipeline after STARTTLS.",
		    "5.7.10", "DATA", "syntaxerror" },
		{ "451 4.3.0 Multiple destination domains per transaction is unsupported.", "4.3.0",
		    "RCPT", "systemerror" },
		{ "550 5.0.350 Requested action not taken: policy violation detected (AS345)", "5.0.350",
		    "DATA", "policyviolation" },
		/* a provider's own "policy violation" with a security code is not a policy rule */
		{ "554 5.7.7 Email policy violation detected", "5.7.7", "DATA", NULL },
		{ "550 5.7.134 Sender was not authenticated for mailbox", "5.7.134", "RCPT", "rejected" },
		{ "550 5.7.124 Sender not in allowed-senders list", "5.7.124", "RCPT", "filtered" },
		/* GoDaddy's IBnnn codes decide over the words around them */
		{ "550 x@example.test Blank From: addresses are not allowed. Provide a valid From. IB501",
		    NULL, "MAIL", "notcompliantrfc" },
		{ "421 Connection refused, too many sessions from This IP. Lower the number of concurrent sessions. IB007",
		    NULL, "CONN", "toomanyconn" },
		{ "550 This IP has sent too many messages this hour. IB504", NULL, "MAIL", "speeding" },
		{ "554 Connection refused. This IP has a poor reputation on Cloudmark Sender Intelligence (CSI). IB103",
		    NULL, "CONN", "badreputation" },
		{ "554 Connection refused. This IP address is listed on the Policy Block List (PBL). IB106",
		    NULL, "CONN", "blocked" },
		{ "550 Exchange said ib5040 and more", NULL, "DATA", NULL },
		{ "450 4.7.321 starttls-not-supported: Destination mail server must support TLS to receive mail",
		    "4.7.321", "CONN", "securityerror" },
		{ "550 5.2.1 Content Filter agent quarantined this message", "5.2.1", "DATA",
		    "spamdetected" },
		{ "550 5.2.122 Recipient's per hour message receive limit exceeded", "5.2.122", "RCPT",
		    "speeding" },
		{ "452 4.3.1 Insufficient system resources", "4.3.1", "DATA", "systemfull" },
		{ "451 4.4.24 Message failed to be replicated: insufficient system resource: disk",
		    "4.4.24", "DATA", "systemerror" },
		{ "550 5.1.5 Recipient address reserved by RFC 2606", "5.1.5", "RCPT", "userunknown" },
		{ "550 Suspected spam ip", NULL, "CONN", "blocked" },
		/* Mimecast's and Zoho's documented replies */
		{ "550 SPF Sender Invalid - envelope rejected", NULL, "MAIL", "authfailure" },
		{ "550 Local CT IP Reputation - (reject)", NULL, "CONN", "badreputation" },
		{ "451 Account inbounds disabled", NULL, "RCPT", "notaccept" },
		{ "550 Message bounced due to Content Examination Policy", NULL, "DATA",
		    "policyviolation" },
		{ "550 Envelope rejected - Block policy for Envelope From address", NULL, "MAIL",
		    "rejected" },
		{ "553 This route requires TLS version 1.2 or greater", NULL, "MAIL", "securityerror" },
		{ "451 Unable to process connection at this time", NULL, "CONN", "systemerror" },
		{ "550 Exceeding outbound thread limit", NULL, "MAIL", "toomanyconn" },
		{ "552 Mailbox delivery restricted by policy error", NULL, "RCPT", "policyviolation" },
		/* i.ua's and Facebook's documented codes */
		{ "550 Mailbox is full. https://mail.i.ua/err/4/", NULL, "RCPT", "mailboxfull" },
		{ "550 see https://mail.i.ua/err/10/", NULL, "RCPT", "filtered" },
		{ "550 User not found https://mail.i.ua/err/2/", NULL, "DATA", "userunknown" },
		{ "550 5.1.1 RCP-P1 The attempted recipient address does not exist", NULL, "DATA",
		    "userunknown" },
		{ "550 RCP-P2 The attempted recipient's preferences prevent messages from being delivered",
		    NULL, "RCPT", "filtered" },
		{ "451 4.7.1 POL-T2 not accepting messages from your mail server", "4.7.1", "CONN",
		    "blocked" },
		{ "554 192.0.2.1 found on one or more DNSBLs (abusixip)", NULL, "CONN", "blocked" },
		/* Cox's and Spectrum's AUP# codes and Cox's documented replies */
		{ "554 AUP#IPBL0001 see https://www.cox.com", NULL, "CONN", "blocked" },
		{ "554 AUP#URLBL011 see https://www.cox.com", NULL, "DATA", "spamdetected" },
		{ "554 5.7.1 AUP#O-1580", NULL, "RCPT", "speeding" },
		{ "550 too many invalid recipients", NULL, "RCPT", "blocked" },
		{ "421 DNS check failure - try again later", NULL, "CONN", "requireptr" },
		{ "554 ESMTP no data before greeting", NULL, "CONN", "policyviolation" },
		{ "452 requested action aborted: try again later", NULL, "DATA", "toomanyconn" },
		/* Orange's and La Poste's codes in all their spellings */
		{ "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. LPN416 (in reply to RCPT TO command)",
		    "5.1.1", "RCPT", "userunknown" },
		{ "421 Too many connections, slow down. LPN105-104", NULL, "CONN", "toomanyconn" },
		{ "550 Authentification requise. Authentication Required. LPN105_402", NULL, "MAIL",
		    "securityerror" },
		{ "550 https://www.spamhaus.org/lookup/ LPNAAA_101", NULL, "RCPT", "blocked" },
		{ "550 Mail rejete. Mail rejected. OUK_513", NULL, "DATA", "undefined" },
	};
	char *err = NULL;
	static const char *const codes[][2] = { { "5.7.24", "authfailure" }, { "5.7.29", "authfailure" },
		{ "4.7.28", "spamdetected" }, { "5.5.2", "syntaxerror" }, { "5.5.6", "syntaxerror" } };
	struct rules *r = rules_load("conf/rules.conf", &err);
	size_t i;

	g_assert_nonnull(r);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *t = rules_fold(cases[i].text);
		struct rules_match m;
		gboolean ok = rules_classify(r, t, cases[i].status, NULL, cases[i].command, &m);
		const char *reason = ok ? m.reason : NULL;

		g_test_message("%s", cases[i].text);
		if (ok && m.by_text)
			reason = rules_require(r, m.reason, m.id, cases[i].command, cases[i].status);
		g_assert_cmpstr(reason, ==, cases[i].reason);
		g_free(t);
	}
	/* the code alone: RFC 7372's SPF error and mail flood, RFC 8617's ARC failure, RFC 3463's syntax error */
	for (i = 0; i < G_N_ELEMENTS(codes); i++) {
		struct rules_match m;

		g_assert_true(rules_classify(r, NULL, codes[i][0], NULL, NULL, &m));
		g_assert_cmpstr(m.reason, ==, codes[i][1]);
	}
	rules_free(r);
}

/*
 * A regex rule whose pattern gives the prefilter no anchor runs its regex on
 * every text of every message: the shipped rules keep that to the few that
 * cannot have one (a quoted pipe, Gmail's "(state N)" codes, scoped to Gmail).
 * A new phrase starting with a character class or \S would silently join them.
 */
static void
test_rules_all_filtered(void)
{
	static const char *const expected[] = { "mailer-pipe", "gmail-state-sys",
		"gmail-state-relay", "gmail-state-ehlo", "gmail-state-data" };
	char *err = NULL;
	struct rules *r = rules_load("conf/rules.conf", &err);
	GString *got = g_string_new(NULL), *want = g_string_new(NULL);
	const struct rules *set;
	guint i;

	g_assert_nonnull(r);
	for (set = r; set != NULL; set = set == r ? r->scoped : NULL)
		for (i = 0; i < set->rules->len; i++) {
			const struct rule *ru = g_ptr_array_index(set->rules, i);

			if (ru->type == RULE_REGEX && !ru->filtered)
				g_string_append_printf(got, "%s ", ru->id);
		}
	for (i = 0; i < G_N_ELEMENTS(expected); i++)
		g_string_append_printf(want, "%s ", expected[i]);
	g_assert_cmpstr(got->str, ==, want->str);
	g_string_free(got, TRUE);
	g_string_free(want, TRUE);
	rules_free(r);
}

/*
 * The command a report's text names for a recipient: the first phrase from
 * the recipient's mention on, else the first before it, whole even where
 * it runs into the mention; else anywhere.
 */
static void
test_command_context(void)
{
	static const struct { const char *ctx, *rcpt, *cmd; } cases[] = {
		{ "after end of data. for a@b.example: in reply to rcpt to", "a@b.example", "RCPT" },
		{ "in reply to mail from. for a@b.example: no more", "a@b.example", "MAIL" },
		{ "x smtp command data@b.example said no", "data@b.example", "DATA" },
		{ "x smtp command data@b.example said no", "rcpt@b.example", "DATA" },
		{ "did not like our rcpt to: x@y.example", NULL, "RCPT" },
		{ "a@b.example: nothing here", "a@b.example", NULL },
		{ "nothing here for a@b.example", "a@b.example", NULL },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *c = parser_find_command_context(cases[i].ctx, cases[i].rcpt);

		g_test_message("%s", cases[i].ctx);
		g_assert_cmpstr(c, ==, cases[i].cmd);
		g_free(c);
	}
}

/* scan_ascii_down() is g_ascii_strdown(), whatever a byte's place in a word of eight. */
static void
test_scan_ascii_down(void)
{
	static const char odd[] = { 'A', 'Z', 'a', 'z', '@', '[', '`', '{', '\xc3', '\xc9', '\xff', '\0' };
	char s[40];
	size_t k, at;
	gssize len;

	for (k = 0; k < G_N_ELEMENTS(odd); k++)
		for (at = 0; at < 24; at++)
			for (len = -1; len < 30; len += 7) {
				char *a, *b;

				memcpy(s, "Mixed CASE Text, Z@[`{ and MORE TEXT ok", sizeof(s));
				s[at] = odd[k];
				a = scan_ascii_down(s, len);
				b = g_ascii_strdown(s, len);
				g_assert_cmpstr(a, ==, b);
				if (len >= 0)
					g_assert_cmpmem(a, len + 1, b, len + 1);
				g_free(a);
				g_free(b);
			}
}

/* The folded form the text rules see, whatever the byte's place in a word of eight. */
static void
test_rules_fold(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "@AZ[`az{@AZ[`az{ \xc3\x89t\xc3\xa9 MIXED Case", "@az[`az{@az[`az{ \xc3\x89t\xc3\xa9 mixed case" },
		{ "USER\tUNKNOWN\r\n  here~\x7f", "user unknown here~\x7f" },
		{ "550-5.1.1 The email account that\n550-5.1.1 you tried to reach", "550-5.1.1 the email account that you tried to reach" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "abcdefghijklmnopqrstuvwxyz0123456789" },
		{ "   leading and trailing   ", "leading and trailing" },
		/* quoted verdict and trace fields, folded lines and all, are no evidence */
		{ "550 Rejected\nX-Spam-Status: Yes, score=9\n\ttests=SPAM\nReceived: from a\r\n by b\r\nThe end",
		    "550 rejected the end" },
		{ "550 Rejected\rx-spam-flag: YES\rDate: today", "550 rejected date: today" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *f = rules_fold(cases[i].in);

		g_assert_cmpstr(f, ==, cases[i].out);
		g_free(f);
	}
}

const struct unit_test unit_tests[] = {
	{ "/parser/table", test_table },
	{ "/parser/diag_contact", test_diag_contact },
	{ "/parser/mta_scope", test_mta_scope },
	{ "/parser/dsn_fields", test_dsn_fields },
	{ "/parser/arf_fields", test_arf_fields },
	{ "/parser/multi_records", test_multi_records },
	{ "/parser/details", test_details },
	{ "/parser/not_bounce", test_not_bounce },
	{ "/parser/line_ends", test_line_ends },
	{ "/parser/charset_conversion", test_charset_conversion },
	{ "/parser/verp", test_verp },
	{ "/parser/recipient_from", test_recipient_from },
	{ "/parser/original_as_text", test_original_as_text },
	{ "/parser/text_own_replies", test_text_own_replies },
	{ "/parser/candidates", test_candidates },
	{ "/parser/not_recipients", test_not_recipients },
	{ "/parser/hostile_files", test_hostile_files },
	{ "/parser/sanitize_bare_cr", test_sanitize_bare_cr },
	{ "/parser/sanitize_parts", test_sanitize_parts },
	{ "/parser/limits", test_limits },
	{ "/parser/max_recipients", test_max_recipients },
	{ "/parser/rules_errors", test_rules_errors },
	{ "/parser/rules_prefilter", test_rules_prefilter },
	{ "/parser/rules_fold", test_rules_fold },
	{ "/parser/scan_ascii_down", test_scan_ascii_down },
	{ "/parser/command_context", test_command_context },
	{ "/parser/rules_vocabulary", test_rules_vocabulary },
	{ "/parser/rules_all_filtered", test_rules_all_filtered },
	{ "/parser/rules_jit_later", test_rules_jit_later },
	{ "/parser/rules_at_ascii", test_rules_at_ascii },
	{ "/parser/rules_jit_mark", test_rules_jit_mark },
	{ "/parser/rules_scope_lines", test_rules_scope_lines },
	{ "/parser/rules_split_spaces", test_rules_split_spaces },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
