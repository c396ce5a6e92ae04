/* test_smtp_addr.c - MAIL/RCPT argument parsing, parameters, lengths, the relay decision. */
#include <string.h>
#include <glib.h>

#include "receiver/smtp_addr.h"
#include "unit.h"

struct mail_case {
	const char *arg;
	const char *want_addr;		/* NULL: expect failure */
	const char *want_reply;		/* prefix of the reply on failure */
};

static void
test_mail(void)
{
	static const struct mail_case cases[] = {
		{ "FROM:<>", "", NULL },
		{ "from:<>", "", NULL },
		{ "FROM: <a@b.example>", "a@b.example", NULL },
		{ "FROM:<@r1.example,@r2.example:a@b.example>", "a@b.example", NULL },
		{ "FROM:<\"a b\\\"c\"@b.example>", "\"a b\\\"c\"@b.example", NULL },
		{ "FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]", NULL },
		{ "FROM:<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]", NULL },
		{ "FROM:<a@b.example> SIZE=100 BODY=8BITMIME", "a@b.example", NULL },
		{ "FROM:<a@b.example> body=7bit", "a@b.example", NULL },
		{ "FROM:a@b.example", NULL, "501 5.5.4" },
		{ "TO:<a@b.example>", NULL, "501 5.5.4" },
		{ "FROM:<a@b.example", NULL, "501 5.1.7" },
		{ "FROM:<a..b@b.example>", NULL, "501 5.1.7" },
		{ "FROM:<.a@b.example>", NULL, "501 5.1.7" },
		{ "FROM:<a@b..example>", NULL, "501 5.1.7" },
		{ "FROM:<a@b.example.>", NULL, "501 5.1.7" },
		{ "FROM:<a@>", NULL, "501 5.1.7" },
		{ "FROM:<a>", NULL, "501 5.1.7" },
		{ "FROM:<a b@b.example>", NULL, "501 5.1.7" },
		{ "FROM:<;sleep 66;>", NULL, "501 5.1.7" },
		{ "FROM:<a@b_c.example>", NULL, "501 5.1.7" },
		{ "FROM:<a@b.example>x", NULL, "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=", NULL, "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=-1", NULL, "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=123456789012345678901", NULL, "501 5.5.4" },
		{ "FROM:<a@b.example> BODY=BINARYMIME", NULL, "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=1 SIZE=2", NULL, "555 5.5.4" },
		{ "FROM:<a@b.example> RET=HDRS", NULL, "555 5.5.4" },
		{ "FROM:<a@b.example> SMTPUTF8=yes", NULL, "555 5.5.4" },
		{ "FROM:<\xc3\xbc@b.example>", NULL, "553 5.6.7" },
		{ "FROM:<a@\xc3\xbc.example>", NULL, "553 5.6.7" },
		{ "FROM:<\xc3\xbc@b.example> SMTPUTF8", "\xc3\xbc@b.example", NULL },
		{ "FROM:<\xff\xfe@b.example> SMTPUTF8", NULL, "501 5.1.7" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct smtp_mail_params mp;
		const char *reply = NULL;
		char *addr = NULL;
		int rc = smtp_addr_parse_mail(cases[i].arg, &addr, &mp, &reply);
		if (cases[i].want_addr != NULL) {
			if (rc != 0)
				g_error("\"%s\": refused with %s", cases[i].arg, reply);
			g_assert_cmpstr(addr, ==, cases[i].want_addr);
		} else {
			if (rc != -1)
				g_error("\"%s\": accepted as \"%s\"", cases[i].arg, addr);
			g_assert_null(addr);
			if (!g_str_has_prefix(reply, cases[i].want_reply))
				g_error("\"%s\": reply \"%s\", want \"%s\"", cases[i].arg, reply,
				    cases[i].want_reply);
		}
		g_free(addr);
	}
}

static void
test_mail_params(void)
{
	struct smtp_mail_params mp;
	const char *reply;
	char *addr;

	g_assert_cmpint(smtp_addr_parse_mail("FROM:<> SIZE=18446744073709551615 BODY=8BITMIME SMTPUTF8",
	    &addr, &mp, &reply), ==, 0);
	g_assert_true(mp.has_size);
	g_assert_cmpuint(mp.size, ==, G_MAXUINT64);
	g_assert_true(mp.body_8bit);
	g_assert_true(mp.smtputf8);
	g_free(addr);
	g_assert_cmpint(smtp_addr_parse_mail("FROM:<>", &addr, &mp, &reply), ==, 0);
	g_assert_false(mp.has_size);
	g_assert_false(mp.smtputf8);
	g_free(addr);
}

static void
test_lengths(void)
{
	GString *s = g_string_new("FROM:<");
	const char *reply;
	struct smtp_mail_params mp;
	char *addr;

	g_string_append_printf(s, "%s@b.example>", "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll");
	g_assert_cmpint(smtp_addr_parse_mail(s->str, &addr, &mp, &reply), ==, 0);	/* 64 */
	g_free(addr);
	g_string_assign(s, "FROM:<lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll@b.example>");
	g_assert_cmpint(smtp_addr_parse_mail(s->str, &addr, &mp, &reply), ==, -1);	/* 65 */
	g_assert_true(g_str_has_prefix(reply, "553 5.1.3"));
	g_string_assign(s, "FROM:<a@");
	while (s->len < 8 + 256)
		g_string_append(s, "d.");
	g_string_append(s, "example>");
	g_assert_cmpint(smtp_addr_parse_mail(s->str, &addr, &mp, &reply), ==, -1);
	g_assert_true(g_str_has_prefix(reply, "553 5.1.3 Domain too long"));
	g_string_free(s, TRUE);
}

static void
test_rcpt(void)
{
	const char *reply;
	char *addr;

	g_assert_cmpint(smtp_addr_parse_rcpt("TO:<b-x=y@bounces.example>", 0, &addr, &reply), ==, 0);
	g_assert_cmpstr(addr, ==, "b-x=y@bounces.example");
	g_free(addr);
	g_assert_cmpint(smtp_addr_parse_rcpt("To:<Postmaster>", 0, &addr, &reply), ==, 0);
	g_assert_cmpstr(addr, ==, "postmaster");
	g_free(addr);
	g_assert_cmpint(smtp_addr_parse_rcpt("TO:<>", 0, &addr, &reply), ==, -1);
	g_assert_true(g_str_has_prefix(reply, "501 5.1.3"));
	g_assert_cmpint(smtp_addr_parse_rcpt("TO:<a@b.example> NOTIFY=NEVER", 0, &addr, &reply), ==, -1);
	g_assert_true(g_str_has_prefix(reply, "555 5.5.4"));
	g_assert_cmpint(smtp_addr_parse_rcpt("TO:<\xc3\xa4@b.example>", 0, &addr, &reply), ==, -1);
	g_assert_true(g_str_has_prefix(reply, "553 5.6.7"));
	g_assert_cmpint(smtp_addr_parse_rcpt("TO:<\xc3\xa4@b.example>", 1, &addr, &reply), ==, 0);
	g_free(addr);
	g_assert_cmpint(smtp_addr_parse_rcpt("TO:<@x.example:a@b.example>", 0, &addr, &reply), ==, 0);
	g_assert_cmpstr(addr, ==, "a@b.example");
	g_free(addr);
}

static void
test_is_ours(void)
{
	char *domains[] = { "bounces.example.com", ".sub.example.net", "B\xc3\xbc" "cher.example", NULL };
	char *fbl[] = { "FBL@feedback.example.org", NULL };
	static const struct { const char *addr; int ours; } cases[] = {
		{ "x@bounces.example.com", 1 },
		{ "X=Y+z@BOUNCES.example.COM", 1 },
		{ "x@a.sub.example.net", 1 },
		{ "x@a.b.sub.example.net", 1 },
		{ "x@sub.example.net", 0 },			/* ".d" means subdomains only */
		{ "x@xsub.example.net", 0 },
		{ "x@bounces.example.com.evil.example", 0 },
		{ "x@evilbounces.example.com", 0 },
		{ "x@other.example", 0 },
		{ "u%other.example@bounces.example.com", 0 },
		{ "other.example!u@bounces.example.com", 0 },
		{ "\"u@other.example\"@bounces.example.com", 0 },
		{ "u@[192.0.2.1]", 0 },
		{ "fbl@feedback.example.org", 1 },
		{ "Fbl@Feedback.Example.Org", 1 },
		{ "fbl2@feedback.example.org", 0 },
		{ "postmaster", 1 },
		{ "x@xn--bcher-kva.example", 1 },
		{ "x@b\xc3\xbc" "cher.example", 1 },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		if (smtp_addr_is_ours(cases[i].addr, domains, fbl) != cases[i].ours)
			g_error("%s: want ours=%d", cases[i].addr, cases[i].ours);
}

const struct unit_test unit_tests[] = {
	{ "/smtp-addr/mail", test_mail },
	{ "/smtp-addr/mail-params", test_mail_params },
	{ "/smtp-addr/lengths", test_lengths },
	{ "/smtp-addr/rcpt", test_rcpt },
	{ "/smtp-addr/is-ours", test_is_ours },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
