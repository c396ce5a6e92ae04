/*
 * cmd_history.c - "rebound history": state, events and audit trail of
 * one address (see cli_db.h).
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/cli_db.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/address.h"
#include "common/log.h"
#include "lookup/lookup_db.h"

static char *
cli_col(PGresult *r, int j, const char *name)
{
	int col = PQfnumber(r, name);

	if (col < 0 || PQgetisnull(r, j, col))
		return g_strdup("-");
	return log_escape(PQgetvalue(r, j, col), strlen(PQgetvalue(r, j, col)), 300);
}

/* "TITLE (N, newest first):", then one line of name=value per row. */
static void
cli_rows(const char *title, PGresult *r, const char *const *cols)
{
	int j, k;

	printf("%s (%d, newest first):\n", title, PQntuples(r));
	for (j = 0; j < PQntuples(r); j++) {
		printf(" ");
		for (k = 0; cols[k]; k++) {
			char *v = cli_col(r, j, cols[k]);
			printf(" %s=%s", cols[k], v);
			g_free(v);
		}
		printf("\n");
	}
}

/* "Why is this address suppressed, since when, who lifted it?" in one
 * answer: the state, every event with its diagnostic and rule, the audit. */
int
cmd_history(int argc, char **argv)
{
	char *err = NULL, *norm = NULL;
	gint limit = 1000;
	GOptionEntry extra[] = {
		{ "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "at most N events (default 1000)", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	static const char *const ev_cols[] = { "occurred_at", "id", "class", "reason", "status",
	    "feedback_type", "provider", "campaign", "rule", "diagnostic", NULL };
	static const char *const au_cols[] = { "at", "op", "origin", "actor", NULL };
	struct cli c = { 0 };
	struct lookup_db_history h = { 0 };
	PGresult *s;
	int rc;

	if ((rc = cli_init(&c, &argc, &argv, "ADDRESS", "State, events and audit trail of one address.", extra, 1)) != 0)
		goto out;
	if (argc != 2 || limit < 1) {
		rc = argc != 2 ? cli_usage_error("history", argc < 2 ? "ADDRESS is missing" :
		    "one ADDRESS only") : cli_usage_error("history", "--limit must be 1 or more");
		goto out;
	}
	if ((norm = address_normalise(argv[1])) == NULL) {
		rc = cli_usage_error("history", "not a valid address: %s", argv[1]);
		goto out;
	}
	if (lookup_db_address_history(c.db, c.tenant, norm, limit, &h, &err) < 0) {
		rc = cli_db_fail("history", err);
		goto out;
	}
	s = h.suppression;
	printf("address: %s\ntenant: %s\n", norm, c.tenant);
	if (PQntuples(s) == 0)
		printf("state: not suppressed\n");
	else {
		char *cls = cli_col(s, 0, "class"), *reason = cli_col(s, 0, "reason");
		char *first = cli_col(s, 0, "first_seen"), *exp = cli_col(s, 0, "expires_at");
		char *origin = cli_col(s, 0, "origin"), *evid = cli_col(s, 0, "event_id");
		printf("state: suppressed class=%s reason=%s since=%s expires=%s origin=%s event=%s\n",
		    cls, reason, first, strcmp(exp, "-") == 0 ? "never" : exp, origin, evid);
		g_free(cls);
		g_free(reason);
		g_free(first);
		g_free(exp);
		g_free(origin);
		g_free(evid);
	}
	cli_rows("events", h.events, ev_cols);
	cli_rows("audit", h.audit, au_cols);
	rc = PQntuples(s) > 0 ? 0 : 1;
out:
	lookup_db_history_clear(&h);
	g_free(norm);
	cli_free(&c);
	return rc;
}
