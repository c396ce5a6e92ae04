/*
 * cmd_suppress.c - "rebound check", "suppress" and "unsuppress": one
 * address at a time (see cli_db.h).
 */
#include <stdio.h>
#include <time.h>
#include <glib.h>

#include "cli/cli_db.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/address.h"
#include "lookup/lookup_db.h"

int
cmd_check(int argc, char **argv)
{
	struct cli c = { 0 };
	char *err = NULL, *key;
	PGresult *r;
	int rc;

	if ((rc = cli_init(&c, &argc, &argv, "ADDRESS", "Exit 0 if ADDRESS is suppressed, 1 if not.",
	    NULL, 1)) != 0)
		goto out;
	if (argc != 2) {
		rc = cli_usage_error("check", argc < 2 ? "ADDRESS is missing" : "one ADDRESS only");
		goto out;
	}
	if (address_domain(argv[1]) == NULL || (key = address_key(argv[1])) == NULL) {
		fprintf(stderr, "rebound check: not a valid address: %s\n", argv[1]);
		rc = CLI_ERR;
		goto out;
	}
	g_free(key);
	if ((r = lookup_db_get_suppression(c.db, c.tenant, argv[1], &err)) == NULL) {
		rc = cli_db_fail("check", err);
		goto out;
	}
	rc = 1;
	if (PQntuples(r) == 1) {
		const char *exp = PQgetisnull(r, 0, PQfnumber(r, "expires_at")) ? NULL :
		    PQgetvalue(r, 0, PQfnumber(r, "expires_at"));
		int64_t e = 0;
		if (exp == NULL || (lookup_db_time(exp, &e) == 0 && e > time(NULL))) {
			printf("%s: suppressed class=%s reason=%s since=%s expires=%s origin=%s tenant=%s\n",
			    PQgetvalue(r, 0, PQfnumber(r, "address")), PQgetvalue(r, 0, PQfnumber(r, "class")),
			    PQgetvalue(r, 0, PQfnumber(r, "reason")), PQgetvalue(r, 0, PQfnumber(r, "first_seen")),
			    exp ? exp : "never", PQgetvalue(r, 0, PQfnumber(r, "origin")), c.tenant);
			rc = 0;
		} else
			printf("%s: not suppressed (soft suppression expired %s)\n", argv[1], exp);
	} else
		printf("%s: not suppressed\n", argv[1]);
	PQclear(r);
out:
	cli_free(&c);
	return rc;
}

int
cmd_suppress(int argc, char **argv)
{
	char *reason = NULL, *cls = NULL, *note = NULL, *expires = NULL, *err = NULL;
	GOptionEntry extra[] = {
		{ "reason", 'r', 0, G_OPTION_ARG_STRING, &reason, "why (required)", "TEXT" },
		{ "class", 0, 0, G_OPTION_ARG_STRING, &cls, "manual (default), hard, soft or complaint", "CLASS" },
		{ "note", 0, 0, G_OPTION_ARG_STRING, &note, "free text kept with the record", "TEXT" },
		{ "expires", 0, 0, G_OPTION_ARG_STRING, &expires, "30d or an ISO 8601 time (default: never)", "WHEN" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct lookup_db_suppression s = { 0 };
	struct cli c = { 0 };
	int64_t id;
	int rc;

	if ((rc = cli_init(&c, &argc, &argv, "ADDRESS", "Add ADDRESS to the suppression list.", extra, 1)) != 0)
		goto out;
	if (argc != 2 || reason == NULL) {
		rc = argc != 2 ? cli_usage_error("suppress", argc < 2 ? "ADDRESS is missing" :
		    "one ADDRESS only") : cli_usage_error("suppress", "--reason TEXT is required");
		goto out;
	}
	s.tenant = c.tenant;
	s.address = argv[1];
	s.cls = cls;
	s.reason = reason;
	s.note = note;
	s.origin = "manual";
	if (expires != NULL && lookup_db_expires(expires, &s.expires) < 0) {
		fprintf(stderr, "rebound suppress: --expires must be a duration like 30d or a future ISO 8601 time\n");
		rc = CLI_ERR;
		goto out;
	}
	if ((rc = lookup_db_suppress(c.db, &s, "cli", &id, &err)) < 0) {
		rc = cli_db_fail("suppress", err);
		goto out;
	}
	printf("%s: %s (id %" G_GINT64_FORMAT ", class %s, tenant %s)\n", argv[1],
	    rc == 1 ? "added" : "updated", id, cls ? cls : "manual", c.tenant);
	rc = 0;
out:
	g_free(reason);
	g_free(cls);
	g_free(note);
	g_free(expires);
	cli_free(&c);
	return rc;
}

int
cmd_unsuppress(int argc, char **argv)
{
	struct cli c = { 0 };
	char *err = NULL;
	int rc;

	if ((rc = cli_init(&c, &argc, &argv, "ADDRESS", "Remove ADDRESS from the suppression list.", NULL, 1)) != 0)
		goto out;
	if (argc != 2) {
		rc = cli_usage_error("unsuppress", argc < 2 ? "ADDRESS is missing" : "one ADDRESS only");
		goto out;
	}
	if ((rc = lookup_db_unsuppress(c.db, c.tenant, argv[1], "cli", &err)) < 0) {
		rc = cli_db_fail("unsuppress", err);
		goto out;
	}
	printf("%s: %s\n", argv[1], rc ? "removed" : "was not suppressed");
	rc = rc ? 0 : 1;
out:
	cli_free(&c);
	return rc;
}
