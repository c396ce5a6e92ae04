/* pg.c - libpq connection and result helpers; see pg.h. */
#include "store/pg.h"

#include <string.h>
#include <glib.h>

#include "common/log.h"

static void
pg_notice(void *arg, const char *msg)
{
	char *m = g_strstrip(g_strdup(msg));

	(void)arg;
	log_debug("pg notice=\"%s\"", m);
	g_free(m);
}

PGconn *
pg_connect(const char *conninfo, char **err)
{
	/* Later keywords override what the expanded conninfo says. */
	const char *const keys[] = { "dbname", "target_session_attrs", "application_name",
	    "connect_timeout", NULL };
	const char *const vals[] = { conninfo, "read-write", "rebound", "10", NULL };
	PGconn *conn;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		*err = g_strdup("out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		*err = g_strstrip(g_strdup(PQerrorMessage(conn)));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, pg_notice, NULL);
	return conn;
}

enum pg_error_class
pg_error_class(PGconn *conn, const PGresult *res)
{
	const char *state;

	if (res == NULL || PQstatus(conn) != CONNECTION_OK)
		return PG_TRANSIENT;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state == NULL || strlen(state) != 5)
		return PG_TRANSIENT;
	/* 08 connection, 53 resources (disk full, too many connections), 57P
	 * admin/crash shutdown, 58 system I/O, XX internal: the same statement
	 * may well work later.  40001/40P01 are retried by design. */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strncmp(state, "58", 2) == 0 ||
	    strncmp(state, "XX", 2) == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || strcmp(state, "25006") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "25P02") == 0)
		return PG_TRANSIENT;
	return PG_PERMANENT;
}

/* *cls and *err for a result that is not what the caller expected; clears it. */
static void
pg_fail(PGconn *conn, PGresult *res, enum pg_error_class *cls, char **err)
{
	enum pg_error_class c = pg_error_class(conn, res);

	if (cls)
		*cls = c;
	if (err) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
		if (msg == NULL || *msg == '\0')
			msg = PQerrorMessage(conn);
		if (res != NULL && PQresultStatus(res) != PGRES_FATAL_ERROR &&
		    PQresultStatus(res) != PGRES_NONFATAL_ERROR && *msg == '\0')
			*err = g_strdup_printf("unexpected result status %s",
			    PQresStatus(PQresultStatus(res)));
		else {
			char *m = g_strstrip(g_strdup(msg));
			*err = g_strdup_printf("%s%s%s", state ? state : "", state ? " " : "", m);
			g_free(m);
		}
	}
	PQclear(res);
}

PGresult *
pg_exec_bin(PGconn *conn, const char *sql, int nparams, const char *const *params,
    const int *lengths, const int *formats, ExecStatusType expect, enum pg_error_class *cls,
    char **err)
{
	PGresult *res;

	res = PQexecParams(conn, sql, nparams, NULL, params, lengths, formats, 0);
	if (res != NULL && PQresultStatus(res) == expect) {
		if (cls)
			*cls = PG_OK;
		return res;
	}
	pg_fail(conn, res, cls, err);
	return NULL;
}

int
pg_exec_script(PGconn *conn, const char *sql, enum pg_error_class *cls, char **err)
{
	PGresult *res = PQexec(conn, sql);

	if (res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK)) {
		PQclear(res);
		if (cls)
			*cls = PG_OK;
		return 0;
	}
	pg_fail(conn, res, cls, err);
	return -1;
}

int
pg_copy_in(PGconn *conn, const char *sql, const void *data, size_t len,
    enum pg_error_class *cls, char **err)
{
	const char *p = data;
	PGresult *res = PQexec(conn, sql), *next;
	int rc = 0;

	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
		pg_fail(conn, res, cls, err);
		return -1;
	}
	PQclear(res);
	/* PQputCopyData takes an int; a batch's data may exceed what one call should carry. */
	while (len > 0 && rc == 0) {
		int chunk = (int)MIN(len, (size_t)1 << 20);
		if (PQputCopyData(conn, p, chunk) != 1)
			rc = -1;
		p += chunk;
		len -= (size_t)chunk;
	}
	if (PQputCopyEnd(conn, rc == 0 ? NULL : "client failed to send the data") != 1)
		rc = -1;
	res = PQgetResult(conn);
	/* Whatever follows (nothing, normally) must be read before the next command. */
	while ((next = PQgetResult(conn)) != NULL)
		PQclear(next);
	if (rc == 0 && res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		if (cls)
			*cls = PG_OK;
		return 0;
	}
	pg_fail(conn, res, cls, err);
	return -1;
}

PGresult *
pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    ExecStatusType expect, enum pg_error_class *cls, char **err)
{
	return pg_exec_bin(conn, sql, nparams, params, NULL, NULL, expect, cls, err);
}

int
pg_command(PGconn *conn, const char *sql, int nparams, const char *const *params,
    enum pg_error_class *cls, char **err)
{
	PGresult *res = pg_exec(conn, sql, nparams, params, PGRES_COMMAND_OK, cls, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

char *
pg_text(const char *s)
{
	if (s == NULL)
		return NULL;
	/* C strings carry no NUL; invalid UTF-8 would be 22021 forever. */
	return g_utf8_make_valid(s, -1);
}
