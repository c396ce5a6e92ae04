/*
 * test_trust.c - store/trust.h without a database: what each kind of
 * envelope recipient lends to each kind of report (the forged-report shapes), the
 * Original-Mail-From binding, the per-message cap and reprocess's answers.
 */
#include <string.h>
#include <time.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "common/config.h"
#include "common/signing.h"
#include "store/trust.h"
#include "unit.h"

#define KEY "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define FBL "fbl@example.com"

static char *tmpdir;
static int64_t now_us;

static struct config *
conf(const char *text)
{
	char *path = unit_write(tmpdir, "t.conf", text), *err = NULL;
	struct config *cfg;

	if ((cfg = config_load(path, &err)) == NULL)
		g_error("%s", err);
	g_free(path);
	return cfg;
}

static struct config *
signed_conf(const char *extra)
{
	char *t = g_strdup_printf("[smtp]\ndomains = bounces.example.com;.bounces.example.net\n"
	    "fbl_addresses = " FBL "\n[signing]\nkey = " KEY "\n"
	    "required_domains = bounces.example.com\n%s", extra ? extra : "");
	struct config *cfg = conf(t);

	g_free(t);
	return cfg;
}

static char *
sign(const struct config *cfg, const char *rcpt)
{
	char *err = NULL, *s = signing_sign(cfg->signing_keys, rcpt, "bounces.example.com",
	    signing_day(now_us / G_USEC_PER_SEC), &err);

	if (s == NULL)
		g_error("%s", err);
	return s;
}

static struct store_trust *
trust(const struct config *cfg, char **rcpts, gboolean arf, const char *omf, gboolean dkim,
    int stored)
{
	struct store_trust_in in = { 0 };

	in.rcpts = rcpts;
	in.arrival_us = now_us;
	in.stored = stored;
	in.arf = arf;
	in.original_mail_from = omf;
	in.dkim_pass = dkim;
	return store_trust_new(cfg, &in);
}

/* Critical: a DSN to the feedback-loop address, alone or next to a signed path. */
static void
test_fbl_lends_nothing_to_a_dsn(void)
{
	struct config *cfg = signed_conf(NULL), *open = conf("[smtp]\ndomains = b.example\n"
	    "fbl_addresses = " FBL "\n");
	char *path = sign(cfg, "holder@example.org");
	char *fbl_only[] = { "FBL@Example.COM", NULL };
	char *fbl_fw[] = { "fbl@\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90"
	    "\xef\xbd\x8c\xef\xbd\x85.com", NULL };	/* fullwidth "example" */
	char *both[] = { path, FBL, NULL };
	struct store_trust *t;

	t = trust(cfg, fbl_only, FALSE, NULL, FALSE, -1);
	g_assert_false(store_trust_message(t));
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	g_assert_cmpstr(store_trust_reason(t), ==, "fbl-not-arf");
	store_trust_free(t);
	t = trust(cfg, fbl_fw, FALSE, NULL, FALSE, -1);
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	t = trust(open, fbl_only, FALSE, NULL, FALSE, -1);	/* no signing at all */
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	t = trust(cfg, both, FALSE, NULL, FALSE, -1);
	g_assert_true(store_trust_message(t));
	g_assert_true(store_trust_record(t, "Holder@Example.org"));
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	/* reprocess applies the kind rule again: a DSN stored suppressible
	 * before it existed no longer suppresses through the FBL address */
	t = trust(cfg, fbl_only, FALSE, NULL, FALSE, 1);
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	g_free(path);
	config_free(cfg);
	config_free(open);
}

/* High: complaints need a provider's DKIM; the original sender binds them. */
static void
test_complaints(void)
{
	struct config *cfg = signed_conf("[fbl]\nproviders = isp.example\n");
	struct config *nodkim = signed_conf("[fbl]\nrequire_dkim = false\n");
	char *fbl[] = { FBL, NULL };
	char *mine = sign(cfg, "mine@example.org");
	const char *shapes[] = { NULL, "", "redacted", "<>", "news@other.example",
	    "x@mail.bounces.example.net.evil.example" };
	struct store_trust *t;
	size_t i;

	g_assert_true(cfg->fbl_require_dkim);
	for (i = 0; i < G_N_ELEMENTS(shapes); i++) {
		/* no DKIM: nothing, whatever Original-Mail-From says */
		t = trust(cfg, fbl, TRUE, shapes[i], FALSE, -1);
		g_assert_false(store_trust_record(t, "victim@gmail.com"));
		g_assert_cmpstr(store_trust_reason(t), ==, "no-dkim");
		store_trust_free(t);
		/* DKIM off: a complaint needs a signed original */
		t = trust(nodkim, fbl, TRUE, shapes[i], FALSE, -1);
		g_assert_false(store_trust_record(t, "victim@gmail.com"));
		store_trust_free(t);
		/* a provider's signature: the field proves nothing, nothing needed */
		t = trust(cfg, fbl, TRUE, shapes[i], TRUE, -1);
		g_assert_true(store_trust_record(t, "victim@gmail.com"));
		store_trust_free(t);
	}
	/* one of our covered return paths, unsigned: forged original */
	t = trust(cfg, fbl, TRUE, "bounce@x.bounces.example.net", TRUE, -1);
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	g_assert_cmpstr(store_trust_reason(t), ==, "original-unsigned");
	store_trust_free(t);
	/* signed for someone: that one only */
	t = trust(cfg, fbl, TRUE, mine, TRUE, -1);
	g_assert_true(store_trust_record(t, "mine@example.org"));
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	t = trust(nodkim, fbl, TRUE, mine, FALSE, -1);
	g_assert_true(store_trust_record(t, "mine@example.org"));
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	t = trust(nodkim, fbl, TRUE, NULL, FALSE, -1);
	g_assert_cmpstr(store_trust_reason(t), ==, "original-missing");
	store_trust_free(t);
	g_free(mine);
	config_free(cfg);
	config_free(nodkim);
}

/* Medium: with a key, every accepted domain is covered unless exempted. */
static void
test_coverage(void)
{
	struct config *cfg = signed_conf(NULL);
	struct config *ex = signed_conf("unsigned_domains = .bounces.example.net\n");
	char *narrow[] = { "bounce@a.bounces.example.net", NULL };
	struct store_trust *t;

	t = trust(cfg, narrow, FALSE, NULL, FALSE, -1);
	g_assert_false(store_trust_record(t, "victim@gmail.com"));
	g_assert_cmpstr(store_trust_reason(t), ==, "unsigned");
	store_trust_free(t);
	t = trust(ex, narrow, FALSE, NULL, FALSE, -1);
	g_assert_true(store_trust_record(t, "victim@gmail.com"));
	store_trust_free(t);
	config_free(cfg);
	config_free(ex);
}

static void
test_cap(void)
{
	struct config *cfg = conf("[smtp]\ndomains = b.example\n"
	    "[policy]\nmax_suppressions_per_message = 2\n");
	char *rcpts[] = { "x@b.example", NULL };
	struct store_trust *t = trust(cfg, rcpts, FALSE, NULL, FALSE, -1);

	g_assert_true(store_trust_take(t, "a@example.org", TRUE));
	g_assert_true(store_trust_take(t, "b@example.org", TRUE));
	g_assert_true(store_trust_take(t, "A@example.org", TRUE));	/* same address */
	g_assert_true(store_trust_take(t, "d@example.org", FALSE));	/* reaches no policy */
	g_assert_false(store_trust_take(t, "c@example.org", TRUE));
	g_assert_false(store_trust_take(t, "e@example.org", TRUE));
	g_assert_cmpint(store_trust_over(t), ==, 2);
	g_assert_cmpstr(store_trust_first_over(t), ==, "c@example.org");
	store_trust_free(t);
	config_free(cfg);
}

static const struct unit_test tests[] = {
	{ "/trust/fbl-lends-nothing-to-a-dsn", test_fbl_lends_nothing_to_a_dsn },
	{ "/trust/complaints", test_complaints },
	{ "/trust/coverage", test_coverage },
	{ "/trust/cap", test_cap },
};

int
main(int argc, char **argv)
{
	now_us = (int64_t)time(NULL) * G_USEC_PER_SEC;
	return unit_main_tmpdir(argc, argv, "rebound-trust-XXXXXX", &tmpdir, tests,
	    G_N_ELEMENTS(tests));
}
