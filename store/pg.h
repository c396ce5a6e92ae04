/*
 * pg.h - libpq helpers shared by the store: connecting and checking results.
 *
 * pg_connect() always asks for a read-write server (target_session_attrs),
 * so a fail-over to a standby is seen as "unreachable" rather than as a
 * stream of 25006 errors.  pg_exec() wraps PQexecParams (text parameters,
 * text results) and accepts only the result status the caller expects;
 * anything else is logged, cleared and reported as -1 with *err set.
 *
 * Errors are classified with pg_error_class(): TRANSIENT means "try again
 * later, keep the spool entry" (connection trouble, serialisation failures,
 * resource exhaustion, admin shutdown, read-only), PERMANENT means this
 * statement will fail the same way every time (data errors, constraint
 * violations) and the message must be stored some other way.
 *
 * Ownership: pg_connect() returns a PGconn the caller PQfinish()es; pg_exec()
 * returns a PGresult the caller PQclear()s; *err strings are g_free()d.
 */
#ifndef REBOUND_PG_H
#define REBOUND_PG_H

#include <libpq-fe.h>

enum pg_error_class { PG_OK = 0, PG_TRANSIENT, PG_PERMANENT };

/* NULL on failure with *err set; the connection is in PQstatus CONNECTION_OK. */
PGconn *pg_connect(const char *conninfo, char **err);

/*
 * Run one parameterised statement.  params may contain NULLs (SQL NULL).
 * expect is PGRES_COMMAND_OK or PGRES_TUPLES_OK.  Returns the result, or NULL
 * with *err set and *cls (if given) classifying the failure.
 */
PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    ExecStatusType expect, enum pg_error_class *cls, char **err);

/* Same, with per-parameter lengths and formats (1 = binary, for bytea). */
PGresult *pg_exec_bin(PGconn *conn, const char *sql, int nparams, const char *const *params,
    const int *lengths, const int *formats, ExecStatusType expect, enum pg_error_class *cls,
    char **err);

/* Run a statement that returns no rows; 0 or -1 (see pg_exec). */
int pg_command(PGconn *conn, const char *sql, int nparams, const char *const *params,
    enum pg_error_class *cls, char **err);

/*
 * A fixed script of several statements (no parameters: never data), simple
 * query protocol, one round trip; 0 when the last result is COMMAND_OK or
 * TUPLES_OK, else -1 as for pg_exec.
 */
int pg_exec_script(PGconn *conn, const char *sql, enum pg_error_class *cls, char **err);

/*
 * "COPY ... FROM STDIN" with data (in the format the statement names) sent
 * in one go; 0 or -1 (see pg_exec).  The connection is ready for the next
 * command either way.
 */
int pg_copy_in(PGconn *conn, const char *sql, const void *data, size_t len,
    enum pg_error_class *cls, char **err);

/* Classify a failed result (NULL = no result at all: connection trouble). */
enum pg_error_class pg_error_class(PGconn *conn, const PGresult *res);

/* A copy of s that is valid UTF-8 without NUL, safe for a text column (g_free). */
char *pg_text(const char *s);

#endif
