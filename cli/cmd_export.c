/*
 * cmd_export.c - "rebound export": the suppression list as CSV (written
 * and streamed by PostgreSQL) or JSON (see cli_db.h).
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "cli/cli_db.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "lookup/lookup_db.h"

static const char cli_export_cols[] =
    "address, tenant, class, reason,"
    " to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS first_seen,"
    " to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_seen,"
    " to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS expires_at,"
    " event_count, origin, note";

/*
 * The CSV export's columns: a text cell a spreadsheet would run as a
 * formula (starting with = + - @, tab or CR, after any quotes) gets one
 * more leading "'"; import removes exactly one again, so addresses such as
 * "=x@example.org" survive the round trip.
 */
#define CLI_CSV_SAFE(col) \
    " CASE WHEN " col " ~ '^''*[-=+@\t\r]' THEN '''' || " col " ELSE " col " END AS " col
static const char cli_export_csv_cols[] =
    CLI_CSV_SAFE("address") "," CLI_CSV_SAFE("tenant") "," CLI_CSV_SAFE("class") ","
    CLI_CSV_SAFE("reason") ","
    " to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS first_seen,"
    " to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_seen,"
    " to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS expires_at,"
    " event_count," CLI_CSV_SAFE("origin") "," CLI_CSV_SAFE("note");

/* CSV written by PostgreSQL (quoting, embedded newlines) and streamed, so
 * a million rows never sit in memory.  tenant NULL: every tenant.
 * 0, or CLI_ERR after printing why. */
static int
cli_export_csv(PGconn *db, const char *tenant)
{
	/* COPY takes no parameters: pass the tenant as a session setting */
	const char *tp[1] = { tenant ? tenant : "" };
	char *err = NULL, *sql, *line;
	PGresult *r;
	int rc = 0, len;

	if ((r = lookup_db_exec(db, "SELECT set_config('rebound.export_tenant', $1, false)",
	    1, tp, &err)) == NULL)
		return cli_db_fail("export", err);
	PQclear(r);
	sql = g_strdup_printf("COPY (SELECT %s FROM suppressions"
	    " WHERE current_setting('rebound.export_tenant') IN ('', tenant)"
	    " ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)", cli_export_csv_cols);
	r = PQexecParams(db, sql, 0, NULL, NULL, NULL, NULL, 0);
	g_free(sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		rc = cli_db_fail("export", g_strdup(PQresultErrorMessage(r)));
		PQclear(r);
		return rc;
	}
	PQclear(r);
	while ((len = PQgetCopyData(db, &line, 0)) > 0) {
		fwrite(line, 1, len, stdout);
		PQfreemem(line);
	}
	while ((r = PQgetResult(db)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = cli_db_fail("export", g_strdup(PQresultErrorMessage(r)));
		PQclear(r);
	}
	return rc;
}

/* Row i of r as one JSON object, the id (column 0) left out (g_free). */
static char *
cli_export_json_row(JsonGenerator *gen, PGresult *r, int i)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	char *text;
	int j;

	for (j = 1; j < PQnfields(r); j++) {
		if (PQgetisnull(r, i, j))
			json_object_set_null_member(o, PQfname(r, j));
		else if (strcmp(PQfname(r, j), "event_count") == 0)
			json_object_set_int_member(o, PQfname(r, j),
			    g_ascii_strtoll(PQgetvalue(r, i, j), NULL, 10));
		else
			json_object_set_string_member(o, PQfname(r, j), PQgetvalue(r, i, j));
	}
	json_node_take_object(n, o);
	json_generator_set_root(gen, n);
	text = json_generator_to_data(gen, NULL);
	json_node_unref(n);
	return text;
}

/* JSON: one array, rows fetched in pages by id so memory stays flat. */
static int
cli_export_json(PGconn *db, const char *tenant)
{
	JsonGenerator *gen = json_generator_new();
	char last[32] = "0", *page_sql, *err = NULL, *text;
	PGresult *r;
	int first = 1, i, rc = 0;

	page_sql = g_strdup_printf("SELECT id, %s FROM suppressions WHERE ($1::text IS NULL OR tenant = $1)"
	    " AND id > $2::bigint ORDER BY id LIMIT 10000", cli_export_cols);
	fputs("[", stdout);
	for (;;) {
		const char *pp[2] = { tenant, last };
		if ((r = lookup_db_exec(db, page_sql, 2, pp, &err)) == NULL) {
			rc = cli_db_fail("export", err);
			break;
		}
		for (i = 0; i < PQntuples(r); i++) {
			text = cli_export_json_row(gen, r, i);
			printf("%s\n%s", first ? "" : ",", text);
			first = 0;
			g_free(text);
		}
		if (PQntuples(r) == 0) {
			PQclear(r);
			break;
		}
		g_strlcpy(last, PQgetvalue(r, PQntuples(r) - 1, 0), sizeof(last));
		PQclear(r);
	}
	fputs("\n]\n", stdout);
	g_free(page_sql);
	g_object_unref(gen);
	return rc;
}

int
cmd_export(int argc, char **argv)
{
	char *format = NULL;
	gboolean all = FALSE;
	GOptionEntry extra[] = {
		{ "format", 'f', 0, G_OPTION_ARG_STRING, &format, "csv (default) or json", "FORMAT" },
		{ "all-tenants", 0, 0, G_OPTION_ARG_NONE, &all, "every tenant, not just --tenant", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct cli c = { 0 };
	int rc;

	if ((rc = cli_init(&c, &argc, &argv, "", "Write the suppression list to standard output.", extra, 1)) != 0)
		goto out;
	if (argc != 1 || (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
		rc = argc != 1 ? cli_usage_error("export", "unexpected argument \"%s\"", argv[1]) :
		    cli_usage_error("export", "--format is csv or json, not \"%s\"", format);
		goto out;
	}
	if (format == NULL || strcmp(format, "csv") == 0)
		rc = cli_export_csv(c.db, all ? NULL : c.tenant);
	else
		rc = cli_export_json(c.db, all ? NULL : c.tenant);
out:
	g_free(format);
	cli_free(&c);
	return rc;
}
