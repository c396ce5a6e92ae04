/* test_suppression.c - the checks every manual suppression passes (store/suppression.h). */
#include <glib.h>
#include <string.h>

#include "store/suppression.h"
#include "unit.h"

static void
test_suppression_address(void)
{
	char *norm = NULL, *key = NULL, *local, *addr;

	g_assert_cmpint(suppression_address("<Bob@Example.ORG.>", &norm, &key), ==, 0);
	g_assert_cmpstr(norm, ==, "Bob@example.org");
	g_assert_cmpstr(key, ==, "bob@example.org");
	g_free(norm);
	g_free(key);
	/* norm is optional */
	g_assert_cmpint(suppression_address("a@b.example", NULL, &key), ==, 0);
	g_assert_cmpstr(key, ==, "a@b.example");
	g_free(key);
	for (const char *const *p = (const char *const[]){ "", "nobody", "@example.org", "x@", NULL };
	    *p != NULL; p++) {
		norm = key = (char *)"unset";
		g_assert_cmpint(suppression_address(*p, &norm, &key), ==, -1);
		g_assert_null(norm);
		g_assert_null(key);
	}
	/* exactly the limit is accepted, one octet more is not */
	local = g_strnfill(SUPPRESSION_MAX_ADDRESS - strlen("@example.org"), 'l');
	addr = g_strconcat(local, "@example.org", NULL);
	g_assert_cmpuint(strlen(addr), ==, SUPPRESSION_MAX_ADDRESS);
	g_assert_cmpint(suppression_address(addr, NULL, &key), ==, 0);
	g_free(key);
	g_free(addr);
	addr = g_strconcat(local, "x@example.org", NULL);
	g_assert_cmpint(suppression_address(addr, NULL, &key), ==, -1);
	g_free(addr);
	g_free(local);
}

static void
test_suppression_class(void)
{
	g_assert_true(suppression_class_valid("hard"));
	g_assert_true(suppression_class_valid("soft"));
	g_assert_true(suppression_class_valid("complaint"));
	g_assert_true(suppression_class_valid("manual"));
	g_assert_false(suppression_class_valid(NULL));
	g_assert_false(suppression_class_valid("Hard"));
	g_assert_false(suppression_class_valid("block"));
	g_assert_false(suppression_class_valid(""));
}

const struct unit_test unit_tests[] = {
	{ "/suppression/address", test_suppression_address },
	{ "/suppression/class", test_suppression_class },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
