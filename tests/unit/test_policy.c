/* test_policy.c - the suppression policy as pure functions (store/policy.h). */
#include <string.h>
#include <glib.h>

#include "common/config.h"
#include "store/policy.h"
#include "unit.h"

#define DAY	(G_GINT64_CONSTANT(86400) * 1000000)

static void
test_decide(void)
{
	struct config *cfg = config_defaults();
	static const struct {
		enum report_class cls;
		const char *ft;
		enum policy_action want;
	} cases[] = {
		{ REPORT_CLASS_HARD, NULL, POLICY_SUPPRESS },
		{ REPORT_CLASS_SOFT, NULL, POLICY_SOFT },
		{ REPORT_CLASS_BLOCK, NULL, POLICY_NONE },
		{ REPORT_CLASS_AUTOREPLY, NULL, POLICY_NONE },
		{ REPORT_CLASS_UNKNOWN, NULL, POLICY_NONE },
		{ REPORT_CLASS_DELIVERED, NULL, POLICY_RESET },
		{ REPORT_CLASS_COMPLAINT, NULL, POLICY_SUPPRESS },
		{ REPORT_CLASS_COMPLAINT, "abuse", POLICY_SUPPRESS },
		{ REPORT_CLASS_COMPLAINT, "Fraud", POLICY_SUPPRESS },
		{ REPORT_CLASS_COMPLAINT, "virus", POLICY_SUPPRESS },
		{ REPORT_CLASS_COMPLAINT, "other", POLICY_SUPPRESS },
		{ REPORT_CLASS_COMPLAINT, "not-spam", POLICY_NONE },
		{ REPORT_CLASS_COMPLAINT, "auth-failure", POLICY_NONE },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpint(policy_decide(cfg, cases[i].cls, cases[i].ft), ==, cases[i].want);
	/* not-spam never suppresses, even when configured */
	g_strfreev(cfg->policy_complaint_types);
	cfg->policy_complaint_types = g_strsplit("abuse;not-spam", ";", -1);
	g_assert_cmpint(policy_decide(cfg, REPORT_CLASS_COMPLAINT, "not-spam"), ==, POLICY_NONE);
	g_assert_cmpint(policy_decide(cfg, REPORT_CLASS_COMPLAINT, "fraud"), ==, POLICY_NONE);
	config_free(cfg);
}

static struct policy_event
ev(int64_t at, enum report_class cls, int64_t msg)
{
	struct policy_event e = { at, cls, NULL, "r", msg * 10, msg };
	return e;
}

static void
test_replay_soft(void)
{
	struct config *cfg = config_defaults();
	struct policy_state st;
	struct policy_event e[6];

	e[0] = ev(0, REPORT_CLASS_SOFT, 1);
	e[1] = ev(DAY, REPORT_CLASS_SOFT, 2);
	policy_replay(cfg, e, 2, &st);
	g_assert_false(st.suppressed);
	e[2] = ev(2 * DAY, REPORT_CLASS_SOFT, 3);
	policy_replay(cfg, e, 3, &st);
	g_assert_true(st.suppressed);
	g_assert_cmpstr(st.class_name, ==, "soft");
	g_assert_cmpint(st.expires_us, ==, 2 * DAY + 30 * DAY);
	g_assert_cmpint(st.event_count, ==, 3);
	g_assert_cmpint(st.event_id, ==, 30);
	/* two events of one report count once */
	e[2] = ev(DAY, REPORT_CLASS_SOFT, 2);
	policy_replay(cfg, e, 3, &st);
	g_assert_false(st.suppressed);
	/* outside the window */
	e[0] = ev(0, REPORT_CLASS_SOFT, 1);
	e[1] = ev(4 * DAY, REPORT_CLASS_SOFT, 2);
	e[2] = ev(8 * DAY, REPORT_CLASS_SOFT, 3);
	policy_replay(cfg, e, 3, &st);
	g_assert_false(st.suppressed);
	/* delivered resets, and lifts a later-older soft suppression */
	e[0] = ev(0, REPORT_CLASS_SOFT, 1);
	e[1] = ev(1, REPORT_CLASS_SOFT, 2);
	e[2] = ev(2, REPORT_CLASS_DELIVERED, 3);
	e[3] = ev(3, REPORT_CLASS_SOFT, 4);
	policy_replay(cfg, e, 4, &st);
	g_assert_false(st.suppressed);
	e[2] = ev(2, REPORT_CLASS_SOFT, 3);
	policy_replay(cfg, e, 4, &st);
	g_assert_true(st.suppressed);
	g_assert_cmpint(st.event_count, ==, 4);
	e[4] = ev(5, REPORT_CLASS_DELIVERED, 5);
	policy_replay(cfg, e, 5, &st);
	g_assert_false(st.suppressed);
	/* threshold is configurable */
	cfg->policy_soft_threshold = 1;
	policy_replay(cfg, e, 1, &st);
	g_assert_true(st.suppressed);
	config_free(cfg);
}

static void
test_replay_permanent(void)
{
	struct config *cfg = config_defaults();
	struct policy_state st;
	struct policy_event e[5];

	e[0] = ev(0, REPORT_CLASS_SOFT, 1);
	e[1] = ev(1, REPORT_CLASS_SOFT, 2);
	e[2] = ev(2, REPORT_CLASS_SOFT, 3);
	e[3] = ev(3, REPORT_CLASS_HARD, 4);
	e[4] = ev(4, REPORT_CLASS_SOFT, 5);
	policy_replay(cfg, e, 5, &st);
	g_assert_true(st.suppressed);
	g_assert_cmpstr(st.class_name, ==, "hard");
	g_assert_cmpint(st.expires_us, ==, 0);
	g_assert_cmpint(st.first_us, ==, 2);
	g_assert_cmpint(st.last_us, ==, 4);
	g_assert_cmpint(st.event_id, ==, 40);
	/* a delivery does not lift a permanent suppression */
	e[4] = ev(4, REPORT_CLASS_DELIVERED, 5);
	policy_replay(cfg, e, 5, &st);
	g_assert_true(st.suppressed);
	/* block never suppresses */
	e[0] = ev(0, REPORT_CLASS_BLOCK, 1);
	policy_replay(cfg, e, 1, &st);
	g_assert_false(st.suppressed);
	config_free(cfg);
}

const struct unit_test unit_tests[] = {
	{ "/policy/decide", test_decide },
	{ "/policy/replay-soft", test_replay_soft },
	{ "/policy/replay-permanent", test_replay_permanent },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
