/* test_provider.c - complaint provider and placeholder addresses (store/provider.h). */
#include <string.h>
#include <glib.h>

#include "store/provider.h"
#include "unit.h"

static void
test_registered_domain(void)
{
	static const char *const cases[][2] = {
		{ "fbl.mail.yahoo.com", "yahoo.com" }, { "Yahoo.COM.", "yahoo.com" },
		{ "feedback.mail.example.co.uk", "example.co.uk" }, { "aol.com", "aol.com" },
		{ "localhost", NULL }, { "", NULL }, { "bad domain.com", NULL },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = provider_registered_domain(cases[i][0]);
		g_assert_cmpstr(got, ==, cases[i][1]);
		g_free(got);
	}
}

static void
test_provider_sources(void)
{
	static const char raw[] = "Received: from x\r\n\tby y\r\nSubject: s\r\nFrom: \"Yahoo! Feedback\"\r\n"
	    " <feedback@arf.mail.yahoo.com>\r\nTo: fbl@b.example\r\n\r\nFrom: body@not.this\r\n";
	static const char nofrom[] = "Subject: s\r\n\r\nFrom: body@not.this\r\n";
	struct report r = { 0 };
	char *p;

	r.kind = REPORT_KIND_ARF;
	p = provider_of(raw, strlen(raw), "x@elsewhere.example.org", &r);
	g_assert_cmpstr(p, ==, "yahoo.com");		/* the folded From */
	g_free(p);
	p = provider_of(nofrom, strlen(nofrom), "bounce@fbl.isp.test", &r);
	g_assert_cmpstr(p, ==, "isp.test");		/* the envelope sender */
	g_free(p);
	r.user_agent = (char *)"Yahoo!-Mail-Feedback/2.0";
	p = provider_of(nofrom, strlen(nofrom), "", &r);
	g_assert_cmpstr(p, ==, "yahoo.com");		/* a known User-Agent */
	g_free(p);
	r.user_agent = (char *)"SomeFBL/1";
	r.reporting_mta = (char *)"mta1.fbl.provider.net";
	p = provider_of(NULL, 0, NULL, &r);
	g_assert_cmpstr(p, ==, "provider.net");
	g_free(p);
	r.reporting_mta = NULL;
	g_assert_null(provider_of(NULL, 0, NULL, &r));
}

static void
test_placeholders(void)
{
	struct report arf = { 0 }, dsn = { 0 };
	static const char redacted[] = "Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n";
	static const char named[] = "Content-Type: message/feedback-report\r\n\r\nOriginal-Rcpt-To: a@b.c\r\n";
	struct store_origin o;

	arf.kind = REPORT_KIND_ARF;
	dsn.kind = REPORT_KIND_DSN;
	g_assert_true(placeholder_address("undisclosed-recipient-in-headers@libsisimai.org.invalid", &dsn, 0));
	g_assert_true(placeholder_address("x@invalid", &arf, 0));
	g_assert_true(placeholder_address("Redacted@isp.example", &arf, 0));
	g_assert_true(placeholder_address("undisclosed-recipients@isp.test", &arf, 0));
	g_assert_false(placeholder_address("redacted@isp.test", &dsn, 0));
	g_assert_false(placeholder_address("redacted-reject@example.net", &arf, 0));
	g_assert_false(placeholder_address("carol@example.net", &arf, 0));
	g_assert_true(placeholder_address("carol@example.net", &arf, 1));
	g_assert_true(placeholder_address("carol@mail.example", &arf, 1));
	g_assert_false(placeholder_address("carol@example.net", &dsn, 1));
	g_assert_false(placeholder_address("carol@isp.test", &arf, 1));

	provider_origin(&o, redacted, strlen(redacted), NULL, &arf);
	g_assert_true(o.redacted);
	provider_clear(&o);
	provider_origin(&o, named, strlen(named), NULL, &arf);
	g_assert_false(o.redacted);
	provider_clear(&o);
	provider_origin(&o, redacted, strlen(redacted), NULL, &dsn);
	g_assert_false(o.redacted);
	g_assert_null(o.provider);
}

const struct unit_test unit_tests[] = {
	{ "/provider/registered-domain", test_registered_domain },
	{ "/provider/sources", test_provider_sources },
	{ "/provider/placeholders", test_placeholders },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
