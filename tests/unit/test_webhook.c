/* test_webhook.c - [webhook] url entries, the signature, report dates. */
#include <string.h>
#include <glib.h>

#include "common/webhook_url.h"
#include "store/occurred.h"
#include "webhook/webhook.h"
#include "unit.h"

static void
test_url(void)
{
	struct webhook_url u;

	g_assert_cmpint(webhook_url_parse("https://hooks.example.com/a/b?x=1", &u), ==, 0);
	g_assert_null(u.tenant);
	g_assert_true(u.tls);
	g_assert_cmpstr(u.host, ==, "hooks.example.com");
	g_assert_cmpint(u.port, ==, 443);
	g_assert_cmpstr(u.path, ==, "/a/b?x=1");
	g_assert_cmpstr(u.url, ==, "https://hooks.example.com/a/b?x=1");
	webhook_url_clear(&u);

	g_assert_cmpint(webhook_url_parse("acme=http://[::1]:8080", &u), ==, 0);
	g_assert_cmpstr(u.tenant, ==, "acme");
	g_assert_false(u.tls);
	g_assert_cmpstr(u.host, ==, "::1");
	g_assert_cmpint(u.port, ==, 8080);
	g_assert_cmpstr(u.path, ==, "/");
	g_assert_cmpstr(u.url, ==, "http://[::1]:8080");
	webhook_url_clear(&u);

	/* a '=' in the query is no tenant */
	g_assert_cmpint(webhook_url_parse("http://h/p?a=b", &u), ==, 0);
	g_assert_null(u.tenant);
	webhook_url_clear(&u);

	g_assert_cmpint(webhook_url_parse("ftp://h/", &u), ==, -1);
	g_assert_cmpint(webhook_url_parse("http://", &u), ==, -1);
	g_assert_cmpint(webhook_url_parse("http://h:0/", &u), ==, -1);
	g_assert_cmpint(webhook_url_parse("http://user@h/", &u), ==, -1);
	g_assert_cmpint(webhook_url_parse("a b=http://h/", &u), ==, -1);
	g_assert_cmpint(webhook_url_parse("hooks.example.com", &u), ==, -1);
}

static void
test_signature(void)
{
	/* HMAC-SHA256("key", "1700000000.{}"), computed with openssl dgst -hmac */
	char *s = webhook_signature("key", 1700000000, "{}", 2);

	g_assert_cmpstr(s, ==, "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
	g_free(s);
}

static void
test_dates(void)
{
	g_assert_cmpint(occurred_parse_date("Mon, 2 Nov 2026 10:00:00 +0000"), ==, 1793613600LL * 1000000);
	g_assert_cmpint(occurred_parse_date("2 Nov 2026 11:30:00 +0130"), ==, 1793613600LL * 1000000);
	g_assert_cmpint(occurred_parse_date("Mon, 02 Nov 2026 05:00:00 EST"), ==, 1793613600LL * 1000000);
	g_assert_cmpint(occurred_parse_date("Mon,  2 Nov 2026 10:00 GMT (UTC)"), ==, 1793613600LL * 1000000);
	g_assert_cmpint(occurred_parse_date("2 Nov 26 10:00:00 +0000"), ==, 1793613600LL * 1000000);
	g_assert_cmpint(occurred_parse_date("yesterday"), ==, -1);
	g_assert_cmpint(occurred_parse_date("32 Nov 2026 10:00:00 +0000"), ==, -1);
	g_assert_cmpint(occurred_parse_date(NULL), ==, -1);
}

static void
test_occurred_order(void)
{
	static const char raw[] = "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nDate: not this\r\n";
	struct report r = { 0 };
	struct report_record rec = { 0 };
	int64_t now = 1800000000LL * 1000000;

	r.arrival_date = (char *)"Sun, 1 Nov 2026 10:00:00 +0000";
	rec.last_attempt = (char *)"Mon, 2 Nov 2026 09:00:00 +0000";
	g_assert_cmpint(occurred_at(&r, &rec, raw, strlen(raw), 7, now), ==, (1793613600LL - 3600) * 1000000);
	rec.last_attempt = NULL;
	g_assert_cmpint(occurred_at(&r, &rec, raw, strlen(raw), 7, now), ==, 1793613600LL * 1000000);
	g_assert_cmpint(occurred_at(&r, &rec, NULL, 0, 7, now), ==, (1793613600LL - 86400) * 1000000);
	/* a date far in the future is not believed */
	r.arrival_date = (char *)"Mon, 2 Nov 2099 10:00:00 +0000";
	g_assert_cmpint(occurred_at(&r, &rec, NULL, 0, 7, now), ==, 7);
}

const struct unit_test unit_tests[] = {
	{ "/webhook/url", test_url },
	{ "/webhook/signature", test_signature },
	{ "/webhook/report-dates", test_dates },
	{ "/webhook/occurred-order", test_occurred_order },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
