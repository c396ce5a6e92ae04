/*
 * cmd_stats.c - "rebound stats" and "complaints": event counts and the
 * complaints received (see cli_db.h).
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/cli_db.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/log.h"
#include "lookup/lookup_db.h"

/* The counts: by each dimension (or only --by), per interval if asked,
 * and the suppressions in force.  0, or CLI_ERR after printing why. */
static int
cli_stats_report(PGconn *db, const struct lookup_db_filter *f, const char *by,
    const char *interval)
{
	char *err = NULL;
	PGresult *r;
	int i, j;

	printf("events: %s\n", f->suppressible == NULL ? "all" : strcmp(f->suppressible, "true") == 0 ?
	    "suppressible only (--suppressible any counts all)" : "not suppressible only");
	for (i = 0; lookup_db_stats_dimensions[i]; i++) {
		if (by && strcmp(by, lookup_db_stats_dimensions[i]) != 0)
			continue;
		if ((r = lookup_db_stats(db, lookup_db_stats_dimensions[i], f, &err)) == NULL) {
			return cli_db_fail("stats", err);
		}
		printf("by %s%s%s:\n", lookup_db_stats_dimensions[i], f->cls ? ", class " : "", f->cls ? f->cls : "");
		if (PQntuples(r) == 0)
			printf("  (no events)\n");
		for (j = 0; j < PQntuples(r); j++) {
			char *key = log_escape(PQgetvalue(r, j, 0), strlen(PQgetvalue(r, j, 0)), 200);
			printf("  %-40s %10s\n", key, PQgetvalue(r, j, 1));
			g_free(key);
		}
		PQclear(r);
	}
	if (interval != NULL) {
		if ((r = lookup_db_series(db, interval, by, f, &err)) == NULL) {
			return cli_db_fail("stats", err);
		}
		printf("per %s%s%s:\n", interval, by ? ", by " : "", by ? by : "");
		if (PQntuples(r) == 0)
			printf("  (no events)\n");
		for (j = 0; j < PQntuples(r); j++) {
			char *key = log_escape(PQgetvalue(r, j, 1), strlen(PQgetvalue(r, j, 1)), 200);
			printf("  %-20s  %-30s %10s\n", PQgetvalue(r, j, 0), key, PQgetvalue(r, j, 2));
			g_free(key);
		}
		PQclear(r);
	}
	if ((r = lookup_db_suppression_counts(db, f->tenant, &err)) == NULL) {
		return cli_db_fail("stats", err);
	}
	printf("suppressed now:\n");
	for (j = 0; j < PQntuples(r); j++)
		printf("  %-40s %10s\n", PQgetvalue(r, j, 0), PQgetvalue(r, j, 1));
	PQclear(r);
	return 0;
}

int
cmd_stats(int argc, char **argv)
{
	char *since = NULL, *until = NULL, *by = NULL, *cls = NULL, *domain = NULL, *provider = NULL;
	char *campaign = NULL, *interval = NULL, *bad = NULL, *supp = NULL;
	gboolean all = FALSE;
	GOptionEntry extra[] = {
		{ "since", 's', 0, G_OPTION_ARG_STRING, &since, "7d, 24h, or an ISO 8601 time (default 30d)", "WHEN" },
		{ "interval", 'i', 0, G_OPTION_ARG_STRING, &interval, "also count per hour or day (by --by, if given)", "hour|day" },
		{ "until", 'u', 0, G_OPTION_ARG_STRING, &until, "end (exclusive), same forms (default now)", "WHEN" },
		{ "by", 'b', 0, G_OPTION_ARG_STRING, &by, "day, class, reason, domain, provider or campaign (default: all)", "DIM" },
		{ "class", 0, 0, G_OPTION_ARG_STRING, &cls, "only these classes, e.g. hard or hard,soft", "LIST" },
		{ "domain", 0, 0, G_OPTION_ARG_STRING, &domain, "only these recipient domains", "LIST" },
		{ "provider", 0, 0, G_OPTION_ARG_STRING, &provider, "only complaints from these providers", "LIST" },
		{ "campaign", 0, 0, G_OPTION_ARG_STRING, &campaign, "only these campaigns", "LIST" },
		{ "suppressible", 0, 0, G_OPTION_ARG_STRING, &supp, "count events that could suppress (true, the default), the others (false) or any", "WHICH" },
		{ "all-tenants", 0, 0, G_OPTION_ARG_NONE, &all, "every tenant, not just --tenant", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct lookup_db_filter f = { 0 };
	struct cli c = { 0 };
	int rc;

	if ((rc = cli_init(&c, &argc, &argv, "", "Event counts by day, class, reason, domain, provider, campaign.", extra, 1)) != 0)
		goto out;
	if (argc != 1) {
		rc = cli_usage_error("stats", "unexpected argument \"%s\"", argv[1]);
		goto out;
	}
	if (by && !g_strv_contains((const char *const *)lookup_db_stats_dimensions, by)) {
		rc = cli_usage_error("stats", "--by is day, class, reason, domain, provider or campaign,"
		    " not \"%s\"", by);
		goto out;
	}
	if (lookup_db_suppressible_arg(supp ? supp : "true", &f.suppressible) < 0) {
		rc = cli_usage_error("stats", "--suppressible is true, false or any");
		goto out;
	}
	if (lookup_db_since(since ? since : "30d", &f.since) < 0 ||
	    (until != NULL && lookup_db_since(until, &f.until) < 0)) {
		rc = cli_usage_error("stats", "--since and --until must be like 7d, 24h or an ISO 8601 time");
		goto out;
	}
	if (interval != NULL && strcmp(interval, "hour") != 0 && strcmp(interval, "day") != 0) {
		rc = cli_usage_error("stats", "--interval must be hour or day");
		goto out;
	}
	if (cls != NULL && !lookup_db_valid_list(cls, lookup_db_event_classes, &bad)) {
		rc = cli_usage_error("stats", "--class: \"%s\" is not one of hard, soft, block, complaint,"
		    " autoreply, delivered, unknown", bad);
		goto out;
	}
	f.tenant = all ? NULL : c.tenant;
	f.cls = cls;
	f.domain = domain;
	f.provider = provider;
	f.campaign = campaign;
	rc = cli_stats_report(c.db, &f, by, interval);
out:
	g_free(since);
	g_free(until);
	g_free(by);
	g_free(supp);
	g_free(cls);
	g_free(domain);
	g_free(provider);
	g_free(campaign);
	g_free(interval);
	g_free(bad);
	cli_free(&c);
	return rc;
}


int
cmd_complaints(int argc, char **argv)
{
	char *since = NULL, *type = NULL, *provider = NULL, *domain = NULL, *campaign = NULL, *err = NULL;
	char *supp = NULL;
	gint limit = 1000;
	gboolean all = FALSE;
	GOptionEntry extra[] = {
		{ "since", 's', 0, G_OPTION_ARG_STRING, &since, "7d (default), 24h, or an ISO 8601 time", "WHEN" },
		{ "type", 0, 0, G_OPTION_ARG_STRING, &type, "feedback type (abuse, fraud, ...)", "TYPE" },
		{ "provider", 0, 0, G_OPTION_ARG_STRING, &provider, "provider (or reporting MTA), or a parent domain; a list", "DOMAIN" },
		{ "domain", 0, 0, G_OPTION_ARG_STRING, &domain, "recipient domain", "DOMAIN" },
		{ "campaign", 0, 0, G_OPTION_ARG_STRING, &campaign, "campaign", "ID" },
		{ "suppressible", 0, 0, G_OPTION_ARG_STRING, &supp, "true, false or any (default)", "WHICH" },
		{ "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "at most N rows (default 1000)", "N" },
		{ "all-tenants", 0, 0, G_OPTION_ARG_NONE, &all, "every tenant, not just --tenant", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct lookup_db_filter f = { 0 };
	struct cli c = { 0 };
	PGresult *r;
	int rc, j;

	if ((rc = cli_init(&c, &argc, &argv, "", "Complaints (ARF reports) received.", extra, 1)) != 0)
		goto out;
	if (argc != 1 || limit < 1 || lookup_db_suppressible_arg(supp, &f.suppressible) < 0) {
		rc = argc != 1 ? cli_usage_error("complaints", "unexpected argument \"%s\"", argv[1]) :
		    limit < 1 ? cli_usage_error("complaints", "--limit must be 1 or more") :
		    cli_usage_error("complaints", "--suppressible is true, false or any");
		goto out;
	}
	if (lookup_db_since(since ? since : "7d", &f.since) < 0) {
		fprintf(stderr, "rebound complaints: --since must be like 7d, 24h or an ISO 8601 time\n");
		rc = CLI_ERR;
		goto out;
	}
	f.tenant = all ? NULL : c.tenant;
	f.feedback_type = type;
	f.provider = provider;
	f.domain = domain;
	f.campaign = campaign;
	f.limit = limit;
	if ((r = lookup_db_list_events(c.db, &f, 1, &err)) == NULL) {
		rc = cli_db_fail("complaints", err);
		goto out;
	}
	printf("%-20s  %-36s  %-10s  %-28s  %-12s  %s\n", "occurred_at", "recipient", "type",
	    "provider", "suppressible", "campaign");
	for (j = 0; j < PQntuples(r); j++) {
		char *rcpt = log_escape(PQgetvalue(r, j, PQfnumber(r, "recipient")),
		    strlen(PQgetvalue(r, j, PQfnumber(r, "recipient"))), 200);
		printf("%-20s  %-36s  %-10s  %-28s  %-12s  %s\n", PQgetvalue(r, j, PQfnumber(r, "occurred_at")), rcpt,
		    PQgetvalue(r, j, PQfnumber(r, "feedback_type")), PQgetvalue(r, j, PQfnumber(r, "provider")),
		    PQgetvalue(r, j, PQfnumber(r, "suppressible"))[0] == 't' ? "yes" : "no",
		    PQgetvalue(r, j, PQfnumber(r, "campaign")));
		g_free(rcpt);
	}
	printf("%d complaint%s\n", PQntuples(r), PQntuples(r) == 1 ? "" : "s");
	PQclear(r);
out:
	g_free(since);
	g_free(type);
	g_free(provider);
	g_free(domain);
	g_free(campaign);
	g_free(supp);
	cli_free(&c);
	return rc;
}
