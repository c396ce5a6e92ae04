/*
 * cmd_import.c - "rebound import": bulk-load a suppression list from CSV,
 * ours or a provider's, in one transaction (see cli_db.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib.h>

#include "cli/cli_db.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/address.h"
#include "common/log.h"
#include "lookup/lookup_db.h"
#include "store/suppression.h"

#define CLI_BATCH 5000
#define CLI_MAX_FIELD 1024
#define CLI_MAX_FIELDS 64
#define CLI_MAX_REJECTS_SHOWN 20

/* Undo the export's formula guard (CLI_CSV_SAFE in cmd_export.c) on an
 * imported field, in place: exactly one leading quote goes. */
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
cli_batch_init(struct cli_batch *b)
{
	int i;

	for (i = 0; i < CLI_BATCH_COLS; i++)
		b->col[i] = g_ptr_array_new_with_free_func(g_free);
	b->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	cli_batch_clear(b);
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

/* One import run: the column map, the counts and the batch being filled. */
struct cli_import {
	const char *def_class, *def_reason;
	int map[NCOLS];			/* column -> field number, -1 = not in the file */
	int header;			/* the first record was looked at */
	long rows, rejected, added, updated, repeated;
	GHashTable *seen;		/* tenant\taddress key of every row taken, across batches */
	GString *rejects;		/* the first CLI_MAX_REJECTS_SHOWN, for stderr */
	struct cli_batch b;
};

/* One record's values, and what they become once checked. */
struct cli_import_row {
	const char *v[NCOLS];		/* into the record's fields; NULL = absent or empty */
	const char *tenant, *cls;
	char *addr, *key;
	int64_t expires, first, last, count;
};

/* The first record: a header row maps the columns by name and is
 * consumed (1); otherwise the first column is the address (0). */
static int
cli_import_header(struct cli_import *im, GPtrArray *fields, int n)
{
	/* a UTF-8 byte-order mark from spreadsheet exports */
	char *f0 = fields->pdata[0];
	int rank[NCOLS], rk, i;

	im->header = 1;
	if (g_str_has_prefix(f0, "\xEF\xBB\xBF"))
		memmove(f0, f0 + 3, strlen(f0 + 3) + 1);
	for (i = 0; i < n; i++) {
		int col = cli_import_column(fields->pdata[i], &rk);
		if (col >= 0 && (im->map[col] < 0 || rk < rank[col])) {
			im->map[col] = i;
			rank[col] = rk;
		}
	}
	if (im->map[COL_ADDRESS] >= 0)
		return 1;
	for (i = 0; i < NCOLS; i++)
		im->map[i] = -1;
	im->map[COL_ADDRESS] = 0;
	return 0;
}

/* Fills row from the record and checks it: NULL, or why it is rejected
 * and *bad the value at fault (or NULL). */
static const char *
cli_import_check(const struct cli_import *im, const struct cli *c, GPtrArray *fields, int n,
    int toolong, struct cli_import_row *row, const char **bad)
{
	const char *const *v = row->v;
	int i;

	for (i = 0; i < NCOLS; i++)
		if (im->map[i] >= 0 && im->map[i] < n) {
			row->v[i] = g_strstrip((char *)fields->pdata[im->map[i]]);
			cli_csv_unescape((char *)row->v[i]);
			if (*row->v[i] == '\0')
				row->v[i] = NULL;
		}
	row->tenant = v[COL_TENANT] ? v[COL_TENANT] : c->tenant;
	/* SES names the class in Reason (BOUNCE, COMPLAINT). */
	row->cls = im->map[COL_CLASS] < 0 && cli_import_class(v[COL_REASON], NULL) != NULL ?
	    cli_import_class(v[COL_REASON], NULL) : cli_import_class(v[COL_CLASS], im->def_class);
	*bad = NULL;
	if (toolong)
		return "field or row too long";
	if (v[COL_ADDRESS] == NULL)
		return "no address";
	if (suppression_address(v[COL_ADDRESS], &row->addr, &row->key) < 0)
		return *bad = v[COL_ADDRESS], "not a valid address";
	if (row->cls == NULL)
		return *bad = v[COL_CLASS], "unknown class";
	if (!cli_tenant_known(c->cfg, row->tenant))
		return *bad = row->tenant, "unknown tenant";
	if (v[COL_ORIGIN] && strcmp(v[COL_ORIGIN], "automatic") != 0 &&
	    strcmp(v[COL_ORIGIN], "manual") != 0 && strcmp(v[COL_ORIGIN], "import") != 0)
		return *bad = v[COL_ORIGIN], "origin is not automatic, manual or import";
	if (v[COL_EXPIRES] && lookup_db_time(v[COL_EXPIRES], &row->expires) < 0)
		return *bad = v[COL_EXPIRES], "expires_at is not an ISO 8601 time";
	if (v[COL_FIRST_SEEN] && cli_import_time(v[COL_FIRST_SEEN], &row->first) < 0)
		return *bad = v[COL_FIRST_SEEN], "first seen is not a time";
	if (v[COL_LAST_SEEN] && cli_import_time(v[COL_LAST_SEEN], &row->last) < 0)
		return *bad = v[COL_LAST_SEEN], "last seen is not a time";
	if (v[COL_COUNT] && ((row->count = g_ascii_strtoll(v[COL_COUNT], NULL, 10)) < 1 ||
	    strspn(v[COL_COUNT], "0123456789") != strlen(v[COL_COUNT])))
		return *bad = v[COL_COUNT], "event_count is not a positive integer";
	return NULL;
}

static void
cli_import_reject(struct cli_import *im, long line, const char *why, const char *bad)
{
	if (++im->rejected > CLI_MAX_REJECTS_SHOWN)
		return;
	g_string_append_printf(im->rejects, "  line %ld: %s", line, why);
	if (bad != NULL) {
		char *shown = log_escape(bad, strlen(bad), 80);
		g_string_append_printf(im->rejects, ": \"%s\"", shown);
		g_free(shown);
	}
	g_string_append_c(im->rejects, '\n');
}

/* Adds a checked row to the batch; takes row->addr and row->key. */
static void
cli_import_take(struct cli_import *im, struct cli_import_row *row)
{
	const char *const *v = row->v;
	char *seen_key, *out[CLI_BATCH_COLS];

	/* A list with one date (a provider's "created") has it as both. */
	if (row->first == 0)
		row->first = row->last;
	if (row->last == 0)
		row->last = row->first;
	seen_key = g_strdup_printf("%s\t%s", row->tenant, row->key);
	if (g_hash_table_contains(im->seen, seen_key)) {
		/* The later row wins; the summary says how many there were. */
		im->repeated++;
		if (!g_hash_table_contains(im->b.seen, seen_key))
			im->b.flushed_repeats++;
		g_free(seen_key);
	} else
		g_hash_table_add(im->seen, seen_key);
	out[0] = g_strdup(row->tenant);
	out[1] = row->addr;
	out[2] = row->key;
	out[3] = g_strdup(address_domain(row->addr));
	out[4] = g_strdup(row->cls);
	out[5] = g_strndup(v[COL_REASON] ? v[COL_REASON] : im->def_reason, SUPPRESSION_MAX_REASON);
	out[6] = g_strdup_printf("%" G_GINT64_FORMAT, row->expires);
	out[7] = g_strdup(v[COL_NOTE] ? v[COL_NOTE] : "");
	out[8] = g_strdup(v[COL_ORIGIN] ? v[COL_ORIGIN] : "");
	out[9] = g_strdup_printf("%" G_GINT64_FORMAT, row->first);
	out[10] = g_strdup_printf("%" G_GINT64_FORMAT, row->last);
	out[11] = g_strdup_printf("%" G_GINT64_FORMAT, row->count);
	cli_batch_add(&im->b, out);
	row->addr = row->key = NULL;
}

/* One transaction, audited as "import": a failed import leaves the list as it was. */
static int
cli_import_begin(PGconn *db, char **err)
{
	const char *actor[1] = { "import" };
	PGresult *r;

	if ((r = lookup_db_exec(db, "BEGIN", 0, NULL, err)) == NULL)
		return -1;
	PQclear(r);
	if ((r = lookup_db_exec(db, "SELECT set_config('rebound.actor', $1, true)", 1, actor, err)) == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* Every record of csv into the batch, flushed as it fills; -1 and *err on a database error. */
static int
cli_import_rows(struct cli_import *im, struct cli *c, struct cli_csv *csv, off_t size,
    char **err)
{
	GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);
	gint64 last_draw = 0;
	int n, toolong, tty = isatty(2), rc = 0;

	while ((n = cli_csv_next(csv, fields, &toolong)) > 0) {
		struct cli_import_row row;
		const char *why, *bad;

		memset(&row, 0, sizeof(row));
		if (!im->header && im->rows == 0 && cli_import_header(im, fields, n))
			continue;	/* it was a header row */
		im->rows++;
		if ((why = cli_import_check(im, c, fields, n, toolong, &row, &bad)) != NULL) {
			cli_import_reject(im, csv->line, why, bad);
			g_free(row.addr);
			g_free(row.key);
			continue;
		}
		cli_import_take(im, &row);
		if (im->b.rows >= CLI_BATCH &&
		    (rc = cli_batch_flush(c->db, &im->b, &im->added, &im->updated, err)) < 0)
			break;
		if (tty && g_get_monotonic_time() - last_draw > 100000) {
			cli_progress(csv->bytes, size, im->rows);
			last_draw = g_get_monotonic_time();
		}
	}
	g_ptr_array_free(fields, TRUE);
	return rc;
}

/*
 * Loads the CSV file name ("-": standard input) in one transaction and
 * prints the summary: 0, 1 when rows were rejected, or the CLI error.
 */
static int
cli_import_file(struct cli_import *im, struct cli *c, const char *name, gint64 t0)
{
	struct cli_csv csv = { 0 };
	int rc = 0, tty = isatty(2);
	struct stat st;
	PGresult *r;
	char *err = NULL;

	if ((csv.fp = strcmp(name, "-") == 0 ? stdin : fopen(name, "r")) == NULL) {
		fprintf(stderr, "rebound import: %s: %s\n", name, g_strerror(errno));
		rc = CLI_ERR;
		goto out;
	}
	if (fstat(fileno(csv.fp), &st) < 0 || !S_ISREG(st.st_mode))
		st.st_size = 0;
	csv.next_line = 1;
	if (cli_import_begin(c->db, &err) < 0 || cli_import_rows(im, c, &csv, st.st_size, &err) < 0 ||
	    cli_batch_flush(c->db, &im->b, &im->added, &im->updated, &err) < 0) {
		rc = cli_db_fail("import", err);
		goto out;
	}
	if ((r = lookup_db_exec(c->db, "COMMIT", 0, NULL, &err)) == NULL) {
		rc = cli_db_fail("import", err);
		goto out;
	}
	PQclear(r);
	if (tty) {
		cli_progress(st.st_size, st.st_size, im->rows);
		fputc('\n', stderr);
	}
	/* Every row read is one of the four. */
	printf("read %ld rows: %ld added, %ld updated, %ld repeated, %ld rejected (%.1f s)\n",
	    im->rows, im->added, im->updated, im->repeated, im->rejected,
	    (g_get_monotonic_time() - t0) / 1e6);
	if (im->rejected > 0) {
		fprintf(stderr, "rejected rows%s:\n%s", im->rejected > CLI_MAX_REJECTS_SHOWN ?
		    " (first " G_STRINGIFY(CLI_MAX_REJECTS_SHOWN) ")" : "", im->rejects->str);
		rc = 1;
	}
out:
	if (csv.fp && csv.fp != stdin)
		fclose(csv.fp);
	return rc;
}

int
cmd_import(int argc, char **argv)
{
	char *def_class = NULL, *def_reason = NULL;
	GOptionEntry extra[] = {
		{ "class", 0, 0, G_OPTION_ARG_STRING, &def_class, "class for rows without one (default manual)", "CLASS" },
		{ "reason", 'r', 0, G_OPTION_ARG_STRING, &def_reason, "reason for rows without one (default \"imported\")", "TEXT" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct cli c = { 0 };
	struct cli_import im = { 0 };
	int rc, i;
	gint64 t0 = g_get_monotonic_time();

	cli_batch_init(&im.b);
	im.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	im.rejects = g_string_new(NULL);
	for (i = 0; i < NCOLS; i++)
		im.map[i] = -1;
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
	im.def_class = def_class;
	im.def_reason = def_reason;
	rc = cli_import_file(&im, &c, argv[1], t0);
out:
	cli_batch_free(&im.b);
	g_hash_table_destroy(im.seen);
	g_string_free(im.rejects, TRUE);
	g_free(def_class);
	g_free(def_reason);
	cli_free(&c);
	return rc;
}
