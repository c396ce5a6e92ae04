/* test_webhook.c - [webhook] url entries, the signature, report dates. */
#include <string.h>
#include <glib.h>

#include "common/webhook_url.h"
#include "store/occurred.h"
#include "webhook/webhook.h"
#include "unit.h"

/* entry parses, into want field by field. */
static void
check_url(const char *entry, const struct webhook_url *want)
{
	struct webhook_url u;

	g_assert_cmpint(webhook_url_parse(entry, &u), ==, 0);
	g_assert_cmpstr(u.tenant, ==, want->tenant);
	g_assert_cmpint(u.tls, ==, want->tls);
	g_assert_cmpstr(u.host, ==, want->host);
	g_assert_cmpint(u.port, ==, want->port);
	g_assert_cmpstr(u.path, ==, want->path);
	g_assert_cmpstr(u.url, ==, want->url);
	webhook_url_clear(&u);
}

static void
test_url(void)
{
	const struct webhook_url plain = { .url = "https://hooks.example.com/a/b?x=1", .tls = 1,
	    .host = "hooks.example.com", .port = 443, .path = "/a/b?x=1" };
	const struct webhook_url tenant = { .tenant = "acme", .url = "http://[::1]:8080",
	    .host = "::1", .port = 8080, .path = "/" };
	/* a '=' in the query is no tenant */
	const struct webhook_url query = { .url = "http://h/p?a=b", .host = "h", .port = 80,
	    .path = "/p?a=b" };
	struct webhook_url u;

	check_url("https://hooks.example.com/a/b?x=1", &plain);
	check_url("acme=http://[::1]:8080", &tenant);
	check_url("http://h/p?a=b", &query);
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
