/*
 * cmd_cli.c - the suppression-list subcommands: check, suppress, unsuppress,
 * export, import, stats, complaints, history, quarantine.  Each takes -c FILE (the daemon's
 * configuration, for store.conninfo and [tenants]) and talks to PostgreSQL
 * directly, so they work whether or not the daemon runs; changes reach a
 * running daemon's index through the NOTIFY trigger.
 *
 * Exit status, for scripts: 0 success (check: suppressed); 1 a negative
 * answer (check: not suppressed; unsuppress: was not suppressed; import:
 * some rows were rejected, the rest imported); 2 usage, configuration or
 * database error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "common/address.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/log.h"
#include "lookup/lookup_db.h"
#include "store/suppression.h"

#define CLI_ERR 2
#define CLI_DESCRIPTION "Exit status: 0 success (check: suppressed), 1 a negative answer " \
	"(check: not suppressed; unsuppress: was not suppressed; import: some rows rejected), " \
	"2 usage, configuration or database error."
#define CLI_BATCH 5000
#define CLI_MAX_FIELD 1024
#define CLI_MAX_FIELDS 64
#define CLI_MAX_REJECTS_SHOWN 20

struct cli {
	char *config_path;
	char *tenant;
	struct config *cfg;
	PGconn *db;
};

static int
cli_tenant_known(const struct config *cfg, const char *name)
{
	GHashTableIter it;
	gpointer v;

	if (strcmp(name, cfg->default_tenant) == 0)
		return 1;
	g_hash_table_iter_init(&it, cfg->tenants);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (strcmp(v, name) == 0)
			return 1;
	return 0;
}

/* Parse options (-c, --tenant and extra), load the config and connect.
 * Returns 0, or an exit status after printing why.  Positional args stay in argv. */
static int
cli_init(struct cli *c, int *argc, char ***argv, const char *params, const char *summary,
    GOptionEntry *extra, int want_db)
{
	GOptionEntry *all;
	char *err = NULL;
	int n = 0, rc;

	while (extra != NULL && extra[n].long_name != NULL)
		n++;
	all = g_new0(GOptionEntry, n + 2);
	all[0] = (GOptionEntry){ "tenant", 't', 0, G_OPTION_ARG_STRING, &c->tenant,
	    "tenant (default: [tenants] default)", "NAME" };
	if (n > 0)
		memcpy(all + 1, extra, n * sizeof *all);
	rc = cli_options(argc, argv, params, summary, CLI_DESCRIPTION, all, CLI_DEFAULT_CONFIG,
	    &c->config_path);
	g_free(all);
	if (rc != 0)
		return rc;
	if ((c->cfg = config_load(c->config_path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		return CLI_ERR;
	}
	if (c->tenant == NULL)
		c->tenant = g_strdup(c->cfg->default_tenant);
	else if (!cli_tenant_known(c->cfg, c->tenant)) {
		fprintf(stderr, "rebound %s: tenant \"%s\" is not configured in [tenants]\n",
		    (*argv)[0], c->tenant);
		return CLI_ERR;
	}
	if (want_db && (c->db = lookup_db_connect(c->cfg->store_conninfo, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		return CLI_ERR;
	}
	return 0;
}

static void
cli_free(struct cli *c)
{
	if (c->db)
		PQfinish(c->db);
	if (c->cfg)
		config_free(c->cfg);
	g_free(c->config_path);
	g_free(c->tenant);
}

static int
cli_db_fail(const char *cmd, char *err)
{
	fprintf(stderr, "rebound %s: %s\n", cmd, err ? err : "database error");
	g_free(err);
	return CLI_ERR;
}

/* --- check, suppress, unsuppress ------------------------------------ */

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

/* --- export ---------------------------------------------------------- */

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

/* Undo CLI_CSV_SAFE on an imported field, in place. */
static void
cli_csv_unescape(char *v)
{
	const char *p = v;

	while (*p == '\'')
		p++;
	if (p > v && (*p == '=' || *p == '+' || *p == '-' || *p == '@' || *p == '\t' ||
	    *p == '\r'))
		memmove(v, v + 1, strlen(v));
}

int
cmd_export(int argc, char **argv)
{
	char *format = NULL, *err = NULL, *sql, *line;
	gboolean all = FALSE;
	GOptionEntry extra[] = {
		{ "format", 'f', 0, G_OPTION_ARG_STRING, &format, "csv (default) or json", "FORMAT" },
		{ "all-tenants", 0, 0, G_OPTION_ARG_NONE, &all, "every tenant, not just --tenant", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	const char *p[1];
	struct cli c = { 0 };
	PGresult *r;
	int rc, len;

	if ((rc = cli_init(&c, &argc, &argv, "", "Write the suppression list to standard output.", extra, 1)) != 0)
		goto out;
	if (argc != 1 || (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
		rc = argc != 1 ? cli_usage_error("export", "unexpected argument \"%s\"", argv[1]) :
		    cli_usage_error("export", "--format is csv or json, not \"%s\"", format);
		goto out;
	}
	p[0] = all ? NULL : c.tenant;
	if (format == NULL || strcmp(format, "csv") == 0) {
		/* PostgreSQL writes the CSV (quoting, embedded newlines) and
		 * streams it, so a million rows never sit in memory. */
		/* COPY takes no parameters: pass the tenant as a session setting */
		const char *tp[1] = { p[0] ? p[0] : "" };
		if ((r = lookup_db_exec(c.db, "SELECT set_config('rebound.export_tenant', $1, false)",
		    1, tp, &err)) == NULL) {
			rc = cli_db_fail("export", err);
			goto out;
		}
		PQclear(r);
		sql = g_strdup_printf("COPY (SELECT %s FROM suppressions"
		    " WHERE current_setting('rebound.export_tenant') IN ('', tenant)"
		    " ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)", cli_export_csv_cols);
		r = PQexecParams(c.db, sql, 0, NULL, NULL, NULL, NULL, 0);
		g_free(sql);
		if (PQresultStatus(r) != PGRES_COPY_OUT) {
			rc = cli_db_fail("export", g_strdup(PQresultErrorMessage(r)));
			PQclear(r);
			goto out;
		}
		PQclear(r);
		while ((len = PQgetCopyData(c.db, &line, 0)) > 0) {
			fwrite(line, 1, len, stdout);
			PQfreemem(line);
		}
		while ((r = PQgetResult(c.db)) != NULL) {
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				rc = cli_db_fail("export", g_strdup(PQresultErrorMessage(r)));
			PQclear(r);
		}
		goto out;
	}
	/* JSON: one array, rows fetched in pages by id so memory stays flat */
	{
		JsonGenerator *gen = json_generator_new();
		char last[32] = "0", *page_sql;
		int first = 1, i, j;

		page_sql = g_strdup_printf("SELECT id, %s FROM suppressions WHERE ($1::text IS NULL OR tenant = $1)"
		    " AND id > $2::bigint ORDER BY id LIMIT 10000", cli_export_cols);
		fputs("[", stdout);
		for (;;) {
			const char *pp[2] = { p[0], last };
			if ((r = lookup_db_exec(c.db, page_sql, 2, pp, &err)) == NULL) {
				rc = cli_db_fail("export", err);
				break;
			}
			for (i = 0; i < PQntuples(r); i++) {
				JsonObject *o = json_object_new();
				JsonNode *n = json_node_new(JSON_NODE_OBJECT);
				char *text;
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
				printf("%s\n%s", first ? "" : ",", text);
				first = 0;
				g_free(text);
				json_node_unref(n);
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
	}
out:
	g_free(format);
	cli_free(&c);
	return rc;
}

/* --- import ---------------------------------------------------------- */

/* An RFC 4180 reader: quoted fields may hold commas, "" and newlines.
 * Over-long fields and rows are flagged, not fatal. */
struct cli_csv {
	FILE *fp;
	long line;			/* line the current record started on */
	long next_line;
	off_t bytes;
	int eof;
};

/* Reads one record into fields; returns the number of fields, 0 at end.
 * *toolong is set if a field or the field count exceeded the caps. */
static int
cli_csv_next(struct cli_csv *csv, GPtrArray *fields, int *toolong)
{
	GString *f = g_string_new(NULL);
	int ch, quoted = 0, started = 0;

	g_ptr_array_set_size(fields, 0);
	*toolong = 0;
	csv->line = csv->next_line;
	for (;;) {
		ch = getc_unlocked(csv->fp);
		if (ch != EOF)
			csv->bytes++;
		if (ch == EOF) {
			csv->eof = 1;
			if (!started && f->len == 0 && fields->len == 0) {
				g_string_free(f, TRUE);
				return 0;
			}
			break;
		}
		started = 1;
		if (quoted) {
			if (ch == '"') {
				int n = getc_unlocked(csv->fp);
				if (n == '"') {
					csv->bytes++;
					if (f->len < CLI_MAX_FIELD)
						g_string_append_c(f, '"');
					else
						*toolong = 1;
					continue;
				}
				if (n != EOF)
					ungetc(n, csv->fp);
				quoted = 0;
				continue;
			}
			if (ch == '\n')
				csv->next_line++;
			if (f->len < CLI_MAX_FIELD)
				g_string_append_c(f, (char)ch);
			else
				*toolong = 1;
			continue;
		}
		if (ch == '"' && f->len == 0) {
			quoted = 1;
			continue;
		}
		if (ch == ',' || ch == '\n') {
			if (fields->len < CLI_MAX_FIELDS)
				g_ptr_array_add(fields, g_strdup(f->str));
			else
				*toolong = 1;
			g_string_truncate(f, 0);
			if (ch == '\n') {
				csv->next_line++;
				break;
			}
			continue;
		}
		if (ch == '\r')
			continue;
		if (f->len < CLI_MAX_FIELD)
			g_string_append_c(f, (char)ch);
		else
			*toolong = 1;
	}
	/* the last field of a record ended by EOF rather than a newline */
	if (csv->eof && fields->len < CLI_MAX_FIELDS)
		g_ptr_array_add(fields, g_string_free(f, FALSE));
	else
		g_string_free(f, TRUE);
	/* a blank line is no record */
	if (fields->len == 1 && *(char *)fields->pdata[0] == '\0' && !csv->eof)
		return cli_csv_next(csv, fields, toolong);
	if (fields->len == 1 && *(char *)fields->pdata[0] == '\0')
		return 0;
	return (int)fields->len;
}

enum {
	COL_ADDRESS, COL_REASON, COL_CLASS, COL_TENANT, COL_EXPIRES, COL_NOTE,
	COL_ORIGIN, COL_FIRST_SEEN, COL_LAST_SEEN, COL_COUNT, NCOLS
};

/*
 * Header names: our own export, Amazon SES (EmailAddress, Reason =
 * BOUNCE|COMPLAINT, LastUpdateTime), SendGrid (email, reason, status,
 * created) and Mailgun (address, code, error, created_at).  Where several
 * names of a file map to one column, the one listed first here wins
 * (Mailgun's error text is a better reason than its code).  *rank is the
 * name's place in this list.
 */
static int
cli_import_column(const char *name, int *rank)
{
	static const struct { const char *name; int col; } names[] = {
		{ "address", COL_ADDRESS }, { "email", COL_ADDRESS }, { "emailaddress", COL_ADDRESS },
		{ "email_address", COL_ADDRESS }, { "recipient", COL_ADDRESS },
		{ "reason", COL_REASON }, { "error", COL_REASON }, { "code", COL_REASON },
		{ "class", COL_CLASS }, { "type", COL_CLASS },
		{ "tenant", COL_TENANT },
		{ "expires_at", COL_EXPIRES }, { "expires", COL_EXPIRES },
		{ "note", COL_NOTE }, { "notes", COL_NOTE },
		{ "origin", COL_ORIGIN },
		{ "first_seen", COL_FIRST_SEEN }, { "created", COL_FIRST_SEEN },
		{ "created_at", COL_FIRST_SEEN },
		{ "last_seen", COL_LAST_SEEN }, { "lastupdatetime", COL_LAST_SEEN },
		{ "last_update_time", COL_LAST_SEEN }, { "updated_at", COL_LAST_SEEN },
		{ "event_count", COL_COUNT },
	};
	char *dup = g_strdup(name);
	char *n = g_ascii_strdown(g_strstrip(dup), -1);
	size_t i;
	int col = -1;

	g_free(dup);
	for (i = 0; i < G_N_ELEMENTS(names) && col < 0; i++)
		if (strcmp(n, names[i].name) == 0) {
			col = names[i].col;
			*rank = (int)i;
		}
	g_free(n);
	return col;
}

/*
 * A time as the exports write it: ISO 8601 (ours; "YYYY-MM-DD HH:MM:SS",
 * UTC, as SendGrid's CSV), Unix seconds (SendGrid's API) or milliseconds,
 * or RFC 2822 ("Fri, 21 Oct 2011 11:02:55 UTC", Mailgun).  0 or -1.
 */
static int
cli_import_time(const char *s, int64_t *epoch)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], zone[8] = "";
	int d, y, hh, mm, ss, n;
	const char *m;

	if (*s != '\0' && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 13) {
		*epoch = g_ascii_strtoll(s, NULL, 10);
		if (*epoch > 100000000000LL)
			*epoch /= 1000;
		return 0;
	}
	if (lookup_db_time(s, epoch) == 0)
		return 0;
	if (strlen(s) == 19 && s[10] == ' ') {
		char *t = g_strdup_printf("%.10sT%sZ", s, s + 11);
		n = lookup_db_time(t, epoch);
		g_free(t);
		if (n == 0)
			return 0;
	}
	if ((m = strchr(s, ',')) != NULL)
		s = m + 1;
	if (sscanf(s, " %d %3s %d %d:%d:%d %7s", &d, mon, &y, &hh, &mm, &ss, zone) >= 6 &&
	    (m = strstr(months, mon)) != NULL && strlen(mon) == 3 && (m - months) % 3 == 0 &&
	    (*zone == '\0' || strcmp(zone, "UTC") == 0 || strcmp(zone, "GMT") == 0 ||
	    strcmp(zone, "+0000") == 0 || strcmp(zone, "Z") == 0)) {
		GDateTime *dt = g_date_time_new_utc(y, (int)(m - months) / 3 + 1, d, hh, mm, ss);

		if (dt == NULL)
			return -1;
		*epoch = g_date_time_to_unix(dt);
		g_date_time_unref(dt);
		return 0;
	}
	return -1;
}

static const char *
cli_import_class(const char *v, const char *def)
{
	static const struct { const char *in, *cls; } map[] = {
		{ "hard", "hard" }, { "bounce", "hard" }, { "bounces", "hard" }, { "hard_bounce", "hard" },
		{ "soft", "soft" }, { "soft_bounce", "soft" },
		{ "complaint", "complaint" }, { "complaints", "complaint" }, { "spam", "complaint" },
		{ "spamreport", "complaint" }, { "spam_report", "complaint" },
		{ "manual", "manual" }, { "unsubscribe", "manual" }, { "unsubscribes", "manual" },
	};
	size_t i;

	if (v == NULL || *v == '\0')
		return def;
	for (i = 0; i < G_N_ELEMENTS(map); i++)
		if (g_ascii_strcasecmp(v, map[i].in) == 0)
			return map[i].cls;
	return NULL;
}

#define CLI_BATCH_COLS 12
/* What cli_batch_flush() sends, one array per column. */
struct cli_batch {
	/* tenant address key domain class reason expires note origin first last count;
	 * times are Unix seconds, 0 (and origin "", count 0) = not in the file */
	GPtrArray *col[CLI_BATCH_COLS];
	GHashTable *seen;		/* tenant\tkey -> row + 1, in this batch */
	guint rows;
	long flushed_repeats;		/* rows repeating one of an earlier batch */
};

static void
cli_batch_init(struct cli_batch *b)
{
	int i;

	for (i = 0; i < CLI_BATCH_COLS; i++)
		b->col[i] = g_ptr_array_new_with_free_func(g_free);
	b->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	b->rows = 0;
	b->flushed_repeats = 0;
}

static void
cli_batch_clear(struct cli_batch *b)
{
	int i;

	for (i = 0; i < CLI_BATCH_COLS; i++)
		g_ptr_array_set_size(b->col[i], 0);
	g_hash_table_remove_all(b->seen);
	b->rows = 0;
	b->flushed_repeats = 0;
}

static void
cli_batch_free(struct cli_batch *b)
{
	int i;

	for (i = 0; i < CLI_BATCH_COLS; i++)
		g_ptr_array_free(b->col[i], TRUE);
	g_hash_table_destroy(b->seen);
}

/* Adds a row; a repeat of (tenant, key) in the batch replaces the earlier
 * one (ON CONFLICT may touch a row only once per statement). */
static void
cli_batch_add(struct cli_batch *b, char *v[CLI_BATCH_COLS])
{
	char *k = g_strdup_printf("%s\t%s", v[0], v[2]);
	gpointer pos = g_hash_table_lookup(b->seen, k);
	int i;

	if (pos != NULL) {
		guint row = GPOINTER_TO_UINT(pos) - 1;
		for (i = 0; i < CLI_BATCH_COLS; i++) {
			g_free(b->col[i]->pdata[row]);
			b->col[i]->pdata[row] = v[i];
		}
		g_free(k);
		return;
	}
	for (i = 0; i < CLI_BATCH_COLS; i++)
		g_ptr_array_add(b->col[i], v[i]);
	g_hash_table_insert(b->seen, k, GUINT_TO_POINTER(++b->rows));
}

static int
cli_batch_flush(PGconn *db, struct cli_batch *b, long *added, long *updated, char **err)
{
	/*
	 * What the file says wins; what it does not say (the dates, the count
	 * of a provider's list) stays as the record has it, or starts now.
	 * A file without an origin column is an import; Rebound's own export
	 * carries the origin, so an export loads back as it was.
	 */
	static const char sql[] =
	    "WITH ins AS (INSERT INTO suppressions AS s (tenant, address, address_key, domain, class,"
	    " reason, expires_at, origin, note, first_seen, last_seen, event_count)"
	    " SELECT x.t, x.a, x.k, x.d, x.c, x.r,"
	    " CASE WHEN x.e = 0 THEN NULL ELSE to_timestamp(x.e) END,"
	    " CASE WHEN x.o = '' THEN 'import' ELSE x.o END, NULLIF(x.n, ''),"
	    " CASE WHEN x.fs = 0 THEN coalesce(cur.first_seen, now()) ELSE to_timestamp(x.fs) END,"
	    " CASE WHEN x.ls = 0 THEN coalesce(cur.last_seen, now()) ELSE to_timestamp(x.ls) END,"
	    " CASE WHEN x.ec = 0 THEN coalesce(cur.event_count, 1) ELSE x.ec END"
	    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
	    " $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[])"
	    " AS x(t, a, k, d, c, r, e, n, o, fs, ls, ec)"
	    " LEFT JOIN suppressions cur ON cur.tenant = x.t AND cur.address_key = x.k"
	    " ON CONFLICT (tenant, address_key) DO UPDATE SET address = EXCLUDED.address,"
	    " class = EXCLUDED.class, reason = EXCLUDED.reason, expires_at = EXCLUDED.expires_at,"
	    " origin = EXCLUDED.origin, note = COALESCE(EXCLUDED.note, s.note),"
	    " first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,"
	    " event_count = EXCLUDED.event_count"
	    " RETURNING (xmax = 0) AS added)"
	    " SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added) FROM ins";
	char *p[CLI_BATCH_COLS];
	PGresult *r;
	int i;

	if (b->rows == 0)
		return 0;
	for (i = 0; i < CLI_BATCH_COLS; i++)
		p[i] = lookup_db_array((char *const *)b->col[i]->pdata, b->col[i]->len);
	r = lookup_db_exec(db, sql, CLI_BATCH_COLS, (const char *const *)p, err);
	for (i = 0; i < CLI_BATCH_COLS; i++)
		g_free(p[i]);
	if (r == NULL)
		return -1;
	*added += atol(PQgetvalue(r, 0, 0));
	/* A repeat of a row an earlier batch wrote updates that row: it was
	 * counted as repeated already. */
	*updated += atol(PQgetvalue(r, 0, 1)) - b->flushed_repeats;
	PQclear(r);
	cli_batch_clear(b);
	return 0;
}

static void
cli_progress(off_t done, off_t total, long rows)
{
	int width = 40, filled = total > 0 ? (int)(done * width / total) : 0;
	char bar[64];

	memset(bar, '#', filled);
	memset(bar + filled, '.', width - filled);
	bar[width] = '\0';
	fprintf(stderr, "\rimporting [%s] %3d%% %ld rows", bar,
	    total > 0 ? (int)(done * 100 / total) : 0, rows);
	fflush(stderr);
}

int
cmd_import(int argc, char **argv)
{
	char *def_class = NULL, *def_reason = NULL, *err = NULL;
	GOptionEntry extra[] = {
		{ "class", 0, 0, G_OPTION_ARG_STRING, &def_class, "class for rows without one (default manual)", "CLASS" },
		{ "reason", 'r', 0, G_OPTION_ARG_STRING, &def_reason, "reason for rows without one (default \"imported\")", "TEXT" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct cli c = { 0 };
	struct cli_csv csv = { 0 };
	struct cli_batch b;
	GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
	GString *rejects = g_string_new(NULL);
	int map[NCOLS], header = 0, rc, n, toolong, tty = isatty(2), i;
	long rows = 0, rejected = 0, added = 0, updated = 0, repeated = 0;
	/* tenant\taddress key of every row taken, to count repeats across batches */
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gint64 t0 = g_get_monotonic_time(), last_draw = 0;
	struct stat st;
	PGresult *r;
	const char *actor[1] = { "import" };

	cli_batch_init(&b);
	if ((rc = cli_init(&c, &argc, &argv, "FILE.csv",
	    "Bulk-load a suppression list from CSV: Rebound's export, or the suppression exports "
	    "of Amazon SES, SendGrid and Mailgun.  With a header row, columns are found by name "
	    "(address/email, reason/error, class/type, tenant, expires_at, note, origin, "
	    "first_seen/created, last_seen/LastUpdateTime, event_count); without one, the first "
	    "column is the address.  The summary counts the rows added, updated, repeated (the "
	    "last one for an address wins) and rejected (with line and value).", extra, 1)) != 0)
		goto out;
	if (argc != 2) {
		rc = cli_usage_error("import", argc < 2 ? "FILE.csv is missing" : "one FILE.csv only");
		goto out;
	}
	if (def_class == NULL)
		def_class = g_strdup("manual");
	if (!suppression_class_valid(def_class)) {
		fprintf(stderr, "rebound import: --class must be hard, soft, complaint or manual\n");
		rc = CLI_ERR;
		goto out;
	}
	if (def_reason == NULL)
		def_reason = g_strdup("imported");
	if ((csv.fp = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "rebound import: %s: %s\n", argv[1], g_strerror(errno));
		rc = CLI_ERR;
		goto out;
	}
	if (fstat(fileno(csv.fp), &st) < 0 || !S_ISREG(st.st_mode))
		st.st_size = 0;
	csv.next_line = 1;
	for (i = 0; i < NCOLS; i++)
		map[i] = -1;
	/* one transaction: a failed import leaves the list as it was */
	if ((r = lookup_db_exec(c.db, "BEGIN", 0, NULL, &err)) == NULL) {
		rc = cli_db_fail("import", err);
		goto out;
	}
	PQclear(r);
	if ((r = lookup_db_exec(c.db, "SELECT set_config('rebound.actor', $1, true)", 1, actor, &err)) == NULL) {
		rc = cli_db_fail("import", err);
		goto out;
	}
	PQclear(r);
	while ((n = cli_csv_next(&csv, fields, &toolong)) > 0) {
		const char *v[NCOLS] = { NULL };
		const char *tenant, *cls, *why = NULL, *bad = NULL;
		char *addr = NULL, *key = NULL, *seen_key;
		int64_t expires = 0, first = 0, last = 0, count = 0;

		if (!header && rows == 0) {
			/* a UTF-8 byte-order mark from spreadsheet exports */
			char *f0 = fields->pdata[0];
			int rank[NCOLS], rk;
			if (g_str_has_prefix(f0, "\xEF\xBB\xBF"))
				memmove(f0, f0 + 3, strlen(f0 + 3) + 1);
			for (i = 0; i < n; i++) {
				int col = cli_import_column(fields->pdata[i], &rk);
				if (col >= 0 && (map[col] < 0 || rk < rank[col])) {
					map[col] = i;
					rank[col] = rk;
				}
			}
			header = 1;
			if (map[COL_ADDRESS] >= 0)
				continue;	/* it was a header row */
			for (i = 0; i < NCOLS; i++)
				map[i] = -1;
			map[COL_ADDRESS] = 0;
		}
		rows++;
		for (i = 0; i < NCOLS; i++)
			if (map[i] >= 0 && map[i] < n) {
				v[i] = g_strstrip((char *)fields->pdata[map[i]]);
				cli_csv_unescape((char *)v[i]);
				if (*v[i] == '\0')
					v[i] = NULL;
			}
		tenant = v[COL_TENANT] ? v[COL_TENANT] : c.tenant;
		/* SES names the class in Reason (BOUNCE, COMPLAINT). */
		cls = map[COL_CLASS] < 0 && cli_import_class(v[COL_REASON], NULL) != NULL ?
		    cli_import_class(v[COL_REASON], NULL) : cli_import_class(v[COL_CLASS], def_class);
		if (toolong)
			why = "field or row too long";
		else if (v[COL_ADDRESS] == NULL)
			why = "no address";
		else if (suppression_address(v[COL_ADDRESS], &addr, &key) < 0)
			why = "not a valid address", bad = v[COL_ADDRESS];
		else if (cls == NULL)
			why = "unknown class", bad = v[COL_CLASS];
		else if (!cli_tenant_known(c.cfg, tenant))
			why = "unknown tenant", bad = tenant;
		else if (v[COL_ORIGIN] && strcmp(v[COL_ORIGIN], "automatic") != 0 &&
		    strcmp(v[COL_ORIGIN], "manual") != 0 && strcmp(v[COL_ORIGIN], "import") != 0)
			why = "origin is not automatic, manual or import", bad = v[COL_ORIGIN];
		else if (v[COL_EXPIRES] && lookup_db_time(v[COL_EXPIRES], &expires) < 0)
			why = "expires_at is not an ISO 8601 time", bad = v[COL_EXPIRES];
		else if (v[COL_FIRST_SEEN] && cli_import_time(v[COL_FIRST_SEEN], &first) < 0)
			why = "first seen is not a time", bad = v[COL_FIRST_SEEN];
		else if (v[COL_LAST_SEEN] && cli_import_time(v[COL_LAST_SEEN], &last) < 0)
			why = "last seen is not a time", bad = v[COL_LAST_SEEN];
		else if (v[COL_COUNT] && ((count = g_ascii_strtoll(v[COL_COUNT], NULL, 10)) < 1 ||
		    strspn(v[COL_COUNT], "0123456789") != strlen(v[COL_COUNT])))
			why = "event_count is not a positive integer", bad = v[COL_COUNT];
		if (why != NULL) {
			rejected++;
			if (rejected <= CLI_MAX_REJECTS_SHOWN) {
				g_string_append_printf(rejects, "  line %ld: %s", csv.line, why);
				if (bad != NULL) {
					char *shown = log_escape(bad, strlen(bad), 80);
					g_string_append_printf(rejects, ": \"%s\"", shown);
					g_free(shown);
				}
				g_string_append_c(rejects, '\n');
			}
			g_free(addr);
			g_free(key);
			continue;
		}
		/* A list with one date (a provider's "created") has it as both. */
		if (first == 0)
			first = last;
		if (last == 0)
			last = first;
		seen_key = g_strdup_printf("%s\t%s", tenant, key);
		if (g_hash_table_contains(seen, seen_key)) {
			/* The later row wins; the summary says how many there were. */
			repeated++;
			if (!g_hash_table_contains(b.seen, seen_key))
				b.flushed_repeats++;
			g_free(seen_key);
		} else
			g_hash_table_add(seen, seen_key);
		{
			char *row[CLI_BATCH_COLS];
			row[0] = g_strdup(tenant);
			row[1] = addr;
			row[2] = key;
			row[3] = g_strdup(address_domain(addr));
			row[4] = g_strdup(cls);
			row[5] = g_strndup(v[COL_REASON] ? v[COL_REASON] : def_reason, SUPPRESSION_MAX_REASON);
			row[6] = g_strdup_printf("%" G_GINT64_FORMAT, expires);
			row[7] = g_strdup(v[COL_NOTE] ? v[COL_NOTE] : "");
			row[8] = g_strdup(v[COL_ORIGIN] ? v[COL_ORIGIN] : "");
			row[9] = g_strdup_printf("%" G_GINT64_FORMAT, first);
			row[10] = g_strdup_printf("%" G_GINT64_FORMAT, last);
			row[11] = g_strdup_printf("%" G_GINT64_FORMAT, count);
			cli_batch_add(&b, row);
		}
		if (b.rows >= CLI_BATCH && cli_batch_flush(c.db, &b, &added, &updated, &err) < 0) {
			rc = cli_db_fail("import", err);
			goto out;
		}
		if (tty && g_get_monotonic_time() - last_draw > 100000) {
			cli_progress(csv.bytes, st.st_size, rows);
			last_draw = g_get_monotonic_time();
		}
	}
	if (cli_batch_flush(c.db, &b, &added, &updated, &err) < 0) {
		rc = cli_db_fail("import", err);
		goto out;
	}
	if ((r = lookup_db_exec(c.db, "COMMIT", 0, NULL, &err)) == NULL) {
		rc = cli_db_fail("import", err);
		goto out;
	}
	PQclear(r);
	if (tty) {
		cli_progress(st.st_size, st.st_size, rows);
		fputc('\n', stderr);
	}
	/* Every row read is one of the four. */
	printf("read %ld rows: %ld added, %ld updated, %ld repeated, %ld rejected (%.1f s)\n",
	    rows, added, updated, repeated, rejected, (g_get_monotonic_time() - t0) / 1e6);
	if (rejected > 0) {
		fprintf(stderr, "rejected rows%s:\n%s", rejected > CLI_MAX_REJECTS_SHOWN ?
		    " (first " G_STRINGIFY(CLI_MAX_REJECTS_SHOWN) ")" : "", rejects->str);
		rc = 1;
	}
out:
	if (csv.fp && csv.fp != stdin)
		fclose(csv.fp);
	cli_batch_free(&b);
	g_hash_table_destroy(seen);
	g_ptr_array_free(fields, TRUE);
	g_string_free(rejects, TRUE);
	g_free(def_class);
	g_free(def_reason);
	cli_free(&c);
	return rc;
}

/* --- stats, complaints ------------------------------------------------ */

int
cmd_stats(int argc, char **argv)
{
	char *since = NULL, *until = NULL, *by = NULL, *cls = NULL, *domain = NULL, *provider = NULL;
	char *campaign = NULL, *interval = NULL, *err = NULL, *bad = NULL, *supp = NULL;
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
	PGresult *r;
	int rc, i, j;

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
	printf("events: %s\n", f.suppressible == NULL ? "all" : strcmp(f.suppressible, "true") == 0 ?
	    "suppressible only (--suppressible any counts all)" : "not suppressible only");
	for (i = 0; lookup_db_stats_dimensions[i]; i++) {
		if (by && strcmp(by, lookup_db_stats_dimensions[i]) != 0)
			continue;
		if ((r = lookup_db_stats(c.db, lookup_db_stats_dimensions[i], &f, &err)) == NULL) {
			rc = cli_db_fail("stats", err);
			goto out;
		}
		printf("by %s%s%s:\n", lookup_db_stats_dimensions[i], cls ? ", class " : "", cls ? cls : "");
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
		if ((r = lookup_db_series(c.db, interval, by, &f, &err)) == NULL) {
			rc = cli_db_fail("stats", err);
			goto out;
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
	if ((r = lookup_db_suppression_counts(c.db, f.tenant, &err)) == NULL) {
		rc = cli_db_fail("stats", err);
		goto out;
	}
	printf("suppressed now:\n");
	for (j = 0; j < PQntuples(r); j++)
		printf("  %-40s %10s\n", PQgetvalue(r, j, 0), PQgetvalue(r, j, 1));
	PQclear(r);
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

/* One column of row j, escaped for a terminal (caller g_free()s). */
static char *
cli_col(PGresult *r, int j, const char *name)
{
	int col = PQfnumber(r, name);

	if (col < 0 || PQgetisnull(r, j, col))
		return g_strdup("-");
	return log_escape(PQgetvalue(r, j, col), strlen(PQgetvalue(r, j, col)), 300);
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
	PGresult *s = NULL, *e = NULL, *a = NULL;
	int rc, j, k;

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
	if ((s = lookup_db_get_suppression(c.db, c.tenant, norm, &err)) == NULL ||
	    (e = lookup_db_address_events(c.db, c.tenant, norm, limit, &err)) == NULL ||
	    (a = lookup_db_address_audit(c.db, c.tenant, norm, &err)) == NULL) {
		rc = cli_db_fail("history", err);
		goto out;
	}
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
	printf("events (%d, newest first):\n", PQntuples(e));
	for (j = 0; j < PQntuples(e); j++) {
		printf(" ");
		for (k = 0; ev_cols[k]; k++) {
			char *v = cli_col(e, j, ev_cols[k]);
			printf(" %s=%s", ev_cols[k], v);
			g_free(v);
		}
		printf("\n");
	}
	printf("audit (%d, newest first):\n", PQntuples(a));
	for (j = 0; j < PQntuples(a); j++) {
		printf(" ");
		for (k = 0; au_cols[k]; k++) {
			char *v = cli_col(a, j, au_cols[k]);
			printf(" %s=%s", au_cols[k], v);
			g_free(v);
		}
		printf("\n");
	}
	rc = PQntuples(s) > 0 ? 0 : 1;
out:
	if (s)
		PQclear(s);
	if (e)
		PQclear(e);
	if (a)
		PQclear(a);
	g_free(norm);
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

/* --- quarantine ---------------------------------------------------------- */

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
		const char *v[1] = { show };
		int fmt[1] = { 0 };

		/* Binary result: the raw bytes as stored, NULs and all. */
		r = PQexecParams(c.db, "SELECT raw FROM messages WHERE queue_id = $1 AND quarantined"
		    " ORDER BY id DESC LIMIT 1", 1, NULL, v, NULL, fmt, 1);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = cli_db_fail("quarantine", g_strdup(PQerrorMessage(c.db)));
			goto out;
		}
		if (PQntuples(r) == 0) {
			fprintf(stderr, "rebound quarantine: no quarantined message with queue id %s\n", show);
			rc = 1;
			goto out;
		}
		if (PQgetisnull(r, 0, 0)) {
			fprintf(stderr, "rebound quarantine: %s: raw message no longer kept ([store] retention_days)\n", show);
			rc = 1;
			goto out;
		}
		if (fwrite(PQgetvalue(r, 0, 0), 1, PQgetlength(r, 0, 0), stdout) != (size_t)PQgetlength(r, 0, 0) ||
		    fflush(stdout) != 0) {
			fprintf(stderr, "rebound quarantine: write: %s\n", g_strerror(errno));
			rc = CLI_ERR;
		}
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
