/* migrate.c - the migrations runner and "rebound migrate"; see migrate.h. */
#include "store/migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "common/config.h"
#include "common/log.h"
#include "store/pg.h"

/* Any constant shared by every Rebound migrator will do. */
#define MIGRATE_LOCK	"7262656701"

struct migration {
	int version;
	char *name;
	char *path;
};

static void
migration_free(gpointer p)
{
	struct migration *m = p;

	g_free(m->name);
	g_free(m->path);
	g_free(m);
}

static gint
migration_cmp(gconstpointer a, gconstpointer b)
{
	const struct migration *x = *(struct migration *const *)a;
	const struct migration *y = *(struct migration *const *)b;

	return (x->version > y->version) - (x->version < y->version);
}

char *
migrate_sql_dir(char **err)
{
	char *bindir = config_exe_dir();
	char *cand[6];
	char *found = NULL;
	size_t i;

	if (bindir == NULL)
		bindir = g_strdup(".");
	cand[0] = g_strdup(g_getenv("REBOUND_SQL_DIR"));
	cand[1] = g_build_filename(bindir, "..", "sql", NULL);
	cand[2] = g_build_filename(bindir, "..", "..", "sql", NULL);
	cand[3] = g_strdup("sql");
	cand[4] = g_strdup("/usr/share/rebound/sql");
	cand[5] = NULL;
	for (i = 0; i < 5; i++) {
		if (found == NULL && cand[i] != NULL) {
			char *f = g_build_filename(cand[i], "001_init.sql", NULL);
			if (g_file_test(f, G_FILE_TEST_IS_REGULAR))
				found = g_strdup(cand[i]);
			g_free(f);
		}
		g_free(cand[i]);
	}
	g_free(bindir);
	if (found == NULL)
		*err = g_strdup("no sql/ directory with 001_init.sql found (set REBOUND_SQL_DIR)");
	return found;
}

/* The migrations in dir, sorted by version; NULL with *err on a bad name. */
static GPtrArray *
migrate_list(const char *dir, char **err)
{
	GError *gerr = NULL;
	GDir *d = g_dir_open(dir, 0, &gerr);
	GPtrArray *out;
	const char *n;

	if (d == NULL) {
		*err = g_strdup_printf("%s: %s", dir, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	out = g_ptr_array_new_with_free_func(migration_free);
	while ((n = g_dir_read_name(d)) != NULL) {
		struct migration *m;
		char *end;
		long v;

		if (!g_str_has_suffix(n, ".sql"))
			continue;
		v = strtol(n, &end, 10);
		if (end == n || *end != '_' || v <= 0 || v > 9999) {
			*err = g_strdup_printf("%s/%s: migration names are NNN_name.sql", dir, n);
			g_ptr_array_unref(out);
			g_dir_close(d);
			return NULL;
		}
		m = g_new0(struct migration, 1);
		m->version = (int)v;
		m->name = g_strdup(n);
		m->path = g_build_filename(dir, n, NULL);
		g_ptr_array_add(out, m);
	}
	g_dir_close(d);
	g_ptr_array_sort(out, migration_cmp);
	for (guint i = 1; i < out->len; i++)
		if (((struct migration *)out->pdata[i])->version ==
		    ((struct migration *)out->pdata[i - 1])->version) {
			*err = g_strdup_printf("%s: two migrations numbered %d", dir,
			    ((struct migration *)out->pdata[i])->version);
			g_ptr_array_unref(out);
			return NULL;
		}
	return out;
}

static int
migrate_rollback(PGconn *conn)
{
	PGresult *res = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
	int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok ? 0 : -1;
}

int
migrate_current(PGconn *conn, char **err)
{
	PGresult *res;
	int v;

	res = pg_exec(conn, "SELECT to_regclass('rebound_migrations') IS NOT NULL", 0, NULL,
	    PGRES_TUPLES_OK, NULL, err);
	if (res == NULL)
		return -1;
	v = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!v)
		return 0;
	res = pg_exec(conn, "SELECT coalesce(max(version), 0) FROM rebound_migrations", 0, NULL,
	    PGRES_TUPLES_OK, NULL, err);
	if (res == NULL)
		return -1;
	v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

int
migrate_check(PGconn *conn, char **err)
{
	int v = migrate_current(conn, err);

	if (v < 0)
		return -1;
	if (v != MIGRATE_LATEST) {
		*err = g_strdup_printf("database schema is at version %d, this binary needs %d%s",
		    v, MIGRATE_LATEST, v < MIGRATE_LATEST ? " (run \"rebound migrate\")" :
		    " (the database is newer than this binary)");
		return -1;
	}
	return 0;
}

/* Apply one migration in its own transaction unless someone else just did. */
static int
migrate_one(PGconn *conn, const struct migration *m, int *done, char **err)
{
	const char *lock[] = { MIGRATE_LOCK };
	char vbuf[16];
	const char *params[2] = { vbuf, m->name };
	char *sql = NULL;
	GError *gerr = NULL;
	PGresult *res;
	int present;

	*done = 0;
	if (!g_file_get_contents(m->path, &sql, NULL, &gerr)) {
		*err = g_strdup_printf("%s: %s", m->path, gerr->message);
		g_error_free(gerr);
		return -1;
	}
	snprintf(vbuf, sizeof vbuf, "%d", m->version);
	if (pg_command(conn, "BEGIN", 0, NULL, NULL, err) < 0)
		goto fail;
	res = pg_exec(conn, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock,
	    PGRES_TUPLES_OK, NULL, err);
	if (res == NULL)
		goto rollback;
	PQclear(res);
	res = pg_exec(conn, "SELECT 1 FROM rebound_migrations WHERE version = $1::int", 1,
	    params, PGRES_TUPLES_OK, NULL, err);
	if (res == NULL)
		goto rollback;
	present = PQntuples(res) > 0;
	PQclear(res);
	if (present) {
		migrate_rollback(conn);
		g_free(sql);
		return 0;
	}
	/* A migration is a script of many statements written by us, not input:
	 * the simple-query protocol (PQexec) is the only way to run it. */
	res = PQexec(conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		char *m2 = g_strstrip(g_strdup(res ? PQresultErrorMessage(res) : PQerrorMessage(conn)));
		*err = g_strdup_printf("%s: %s", m->name, m2);
		g_free(m2);
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (pg_command(conn, "INSERT INTO rebound_migrations (version, name) VALUES ($1::int, $2)",
	    2, params, NULL, err) < 0)
		goto rollback;
	if (pg_command(conn, "COMMIT", 0, NULL, NULL, err) < 0)
		goto fail;
	g_free(sql);
	*done = 1;
	return 0;
rollback:
	migrate_rollback(conn);
fail:
	g_free(sql);
	return -1;
}

int
migrate_apply(PGconn *conn, int *applied, char **err)
{
	const char *lock[] = { MIGRATE_LOCK };
	GPtrArray *list;
	char *dir;
	int cur, n = 0;
	guint i;

	if (applied)
		*applied = 0;
	if ((dir = migrate_sql_dir(err)) == NULL)
		return -1;
	list = migrate_list(dir, err);
	g_free(dir);
	if (list == NULL)
		return -1;
	if (pg_command(conn, "BEGIN", 0, NULL, NULL, err) < 0)
		goto fail;
	{
		PGresult *res = pg_exec(conn, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock,
		    PGRES_TUPLES_OK, NULL, err);
		if (res == NULL) {
			migrate_rollback(conn);
			goto fail;
		}
		PQclear(res);
	}
	if (pg_command(conn, "CREATE TABLE IF NOT EXISTS rebound_migrations ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, NULL, err) < 0 ||
	    pg_command(conn, "COMMIT", 0, NULL, NULL, err) < 0) {
		migrate_rollback(conn);
		goto fail;
	}
	if ((cur = migrate_current(conn, err)) < 0)
		goto fail;
	if (cur > MIGRATE_LATEST) {
		*err = g_strdup_printf("database schema version %d is newer than this binary "
		    "(%d): refusing to touch it", cur, MIGRATE_LATEST);
		goto fail;
	}
	for (i = 0; i < list->len; i++) {
		struct migration *m = list->pdata[i];
		int done;

		if (m->version > MIGRATE_LATEST) {
			log_warnx("migrate skip=%s reason=\"newer than this binary\"", m->name);
			continue;
		}
		if (migrate_one(conn, m, &done, err) < 0)
			goto fail;
		if (done) {
			log_info("migrate applied=%s", m->name);
			n++;
		}
	}
	g_ptr_array_unref(list);
	if (applied)
		*applied = n;
	return migrate_check(conn, err);
fail:
	g_ptr_array_unref(list);
	return -1;
}
