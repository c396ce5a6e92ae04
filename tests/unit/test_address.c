/* test_address.c - the one address normalisation rule (common/address.h). */
#include <glib.h>
#include <string.h>

#include "common/address.h"
#include "unit.h"

static void
check(const char *in, const char *norm, const char *key)
{
	char *n = address_normalise(in), *k = address_key(in);

	g_assert_cmpstr(n, ==, norm);
	g_assert_cmpstr(k, ==, key);
	if (n != NULL) {
		/* Idempotent: normalising the result changes nothing. */
		char *n2 = address_normalise(n), *k2 = address_key(k);

		g_assert_cmpstr(n2, ==, n);
		g_assert_cmpstr(k2, ==, k);
		g_free(n2);
		g_free(k2);
	}
	g_free(n);
	g_free(k);
}

static void
test_address_rules(void)
{
	check("Alice@Example.ORG", "Alice@example.org", "alice@example.org");
	check(" <Bob@Example.org.> ", "Bob@example.org", "bob@example.org");
	check("< carol@example.org >", "carol@example.org", "carol@example.org");
	check("dave@BÜCHER.example", "dave@xn--bcher-kva.example", "dave@xn--bcher-kva.example");
	check("\"Weird@Local\"@Example.org", "\"Weird@Local\"@example.org", "\"weird@local\"@example.org");
	check("Ünï@example.org", "Ünï@example.org", "Ünï@example.org");
	check("user@[192.0.2.1]", "user@[192.0.2.1]", "user@[192.0.2.1]");
}

static void
test_address_rejects(void)
{
	const char *bad[] = { "", "plain", "@example.org", "user@", "user@.", "<user@ >",
	    "user@exa mple.org", "user@exa\tmple.org", "user@ex\x7f" "ample.org", "<>",
	    "user@\xff\xfe", NULL };

	for (int i = 0; bad[i]; i++) {
		char *n = address_normalise(bad[i]);

		if (n != NULL)
			g_error("accepted \"%s\" as \"%s\"", bad[i], n);
	}
	g_assert_null(address_normalise(NULL));
	g_assert_null(address_key(NULL));
	g_assert_cmpstr(address_domain("a@b@c.example"), ==, "c.example");
	g_assert_null(address_domain("nodomain"));
}

static void
test_address_text(void)
{
	const char *cases[][2] = {
		{ "rfc822; <Alice@Example.ORG>", "Alice@example.org" },
		{ "Bob Smith <bob@EXAMPLE.org> (mailbox)", "bob@example.org" },
		{ "@relay.example,@b.example:carol@Host.Example", "carol@host.example" },
		{ "dave@Example.org&gt;", "dave@example.org" },
		{ "erin@example.org..", "erin@example.org" },
		{ "\"Quoted Part\"@Example.org", "\"Quoted Part\"@example.org" },
		{ "frank@BÜCHER.example", "frank@bÜcher.example" },
		{ "rfc822; mailto:Gina@Example.org", "Gina@example.org" },
		{ "To:hal@example.org", "hal@example.org" },
		{ "\"a:b\"@example.org", "\"a:b\"@example.org" },
		{ "mailto:@example.org", NULL },
		{ "no address here", NULL },
		{ "user@\xff\xfe.example", NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *n = address_normalise_text(cases[i][0]);

		g_assert_cmpstr(n, ==, cases[i][1]);
		g_free(n);
	}
	g_assert_null(address_normalise_text(NULL));
}

const struct unit_test unit_tests[] = {
	{ "/address/rules", test_address_rules },
	{ "/address/rejects", test_address_rejects },
	{ "/address/text", test_address_text },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
