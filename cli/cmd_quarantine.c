/*
 * cmd_quarantine.c - "rebound quarantine": the messages parsing gave up
 * on, listed or one written out raw (see cli_db.h).
 */
#include <errno.h>
#include <stdio.h>
#include <glib.h>

#include "cli/cli_db.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/log.h"
#include "lookup/lookup_db.h"

/* The raw message with queue id show to stdout: 0, 1 if there is none, CLI_ERR. */
static int
cli_quarantine_show(PGconn *db, const char *show)
{
	const char *v[1] = { show };
	int fmt[1] = { 0 };
	PGresult *r;
	int rc = 0;

	/* Binary result: the raw bytes as stored, NULs and all. */
	r = PQexecParams(db, "SELECT raw FROM messages WHERE queue_id = $1 AND quarantined"
	    " ORDER BY id DESC LIMIT 1", 1, NULL, v, NULL, fmt, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = cli_db_fail("quarantine", g_strdup(PQerrorMessage(db)));
	else if (PQntuples(r) == 0) {
		fprintf(stderr, "rebound quarantine: no quarantined message with queue id %s\n", show);
		rc = 1;
	} else if (PQgetisnull(r, 0, 0)) {
		fprintf(stderr, "rebound quarantine: %s: raw message no longer kept ([store] retention_days)\n", show);
		rc = 1;
	} else if (fwrite(PQgetvalue(r, 0, 0), 1, PQgetlength(r, 0, 0), stdout) != (size_t)PQgetlength(r, 0, 0) ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "rebound quarantine: write: %s\n", g_strerror(errno));
		rc = CLI_ERR;
	}
	PQclear(r);
	return rc;
}

/* Messages whose parsing crashed, timed out or ran out of memory
 * [parser] max_attempts times: listed so that an analyst sees them, and
 * --show writes one's raw bytes to stdout for a bug report or a re-test. */
int
cmd_quarantine(int argc, char **argv)
{
	char *since = NULL, *show = NULL, sincebuf[32];
	gint limit = 100;
	GOptionEntry extra[] = {
		{ "since", 's', 0, G_OPTION_ARG_STRING, &since, "30d (default), 24h, or an ISO 8601 time", "WHEN" },
		{ "show", 0, 0, G_OPTION_ARG_STRING, &show, "write the raw message with this queue id to stdout", "QUEUE_ID" },
		{ "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "at most N rows (default 100)", "N" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct cli c = { 0 };
	PGresult *r = NULL;
	int64_t t;
	int rc, j;

	if ((rc = cli_init(&c, &argc, &argv, "", "Quarantined messages (parsing crashed, timed out or ran out of memory).",
	    extra, 1)) != 0)
		goto out;
	if (argc != 1 || limit < 1) {
		rc = argc != 1 ? cli_usage_error("quarantine", "unexpected argument \"%s\"", argv[1]) :
		    cli_usage_error("quarantine", "--limit must be 1 or more");
		goto out;
	}
	if (show) {
		rc = cli_quarantine_show(c.db, show);
		goto out;
	}
	if (lookup_db_since(since ? since : "30d", &t) < 0) {
		fprintf(stderr, "rebound quarantine: --since must be like 7d, 24h or an ISO 8601 time\n");
		rc = CLI_ERR;
		goto out;
	} else {
		char limbuf[16];
		const char *v[2] = { sincebuf, limbuf };

		g_snprintf(sincebuf, sizeof(sincebuf), "%" G_GINT64_FORMAT, (gint64)t);
		g_snprintf(limbuf, sizeof(limbuf), "%d", limit);
		r = PQexecParams(c.db, "SELECT queue_id, to_char(received_at AT TIME ZONE 'UTC',"
		    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), size, attempts, outcome FROM messages"
		    " WHERE quarantined AND received_at >= to_timestamp($1::bigint)"
		    " ORDER BY received_at DESC, id DESC LIMIT $2::int", 2, NULL, v, NULL, NULL, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = cli_db_fail("quarantine", g_strdup(PQerrorMessage(c.db)));
		goto out;
	}
	printf("%-16s  %-20s  %10s  %8s  %s\n", "queue_id", "received_at", "size", "attempts", "outcome");
	for (j = 0; j < PQntuples(r); j++) {
		char *outcome = log_escape(PQgetvalue(r, j, 4), strlen(PQgetvalue(r, j, 4)), 200);

		printf("%-16s  %-20s  %10s  %8s  %s\n", PQgetvalue(r, j, 0), PQgetvalue(r, j, 1),
		    PQgetvalue(r, j, 2), PQgetvalue(r, j, 3), outcome);
		g_free(outcome);
	}
	printf("%d quarantined message%s\n", PQntuples(r), PQntuples(r) == 1 ? "" : "s");
out:
	if (r)
		PQclear(r);
	g_free(since);
	g_free(show);
	cli_free(&c);
	return rc;
}
