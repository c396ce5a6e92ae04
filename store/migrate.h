/*
 * migrate.h - apply sql/NNN_*.sql in order, each in one transaction.
 *
 * Applied versions are recorded in rebound_migrations.  The binary knows the
 * newest schema it understands (MIGRATE_LATEST); a database that records a
 * newer version is refused, by "rebound migrate" and by the daemon, so an old
 * binary never writes into a schema it does not know.  Concurrent migrators
 * serialise on an advisory lock.
 *
 * The SQL files are read at run time from the first directory that exists
 * among: $REBOUND_SQL_DIR, <binary dir>/../sql, <binary dir>/../../sql
 * (build/san), ./sql, /usr/share/rebound/sql.
 *
 * Errors return -1 with *err set (caller g_free()s).
 */
#ifndef REBOUND_MIGRATE_H
#define REBOUND_MIGRATE_H

#include <libpq-fe.h>

#define MIGRATE_LATEST	4	/* bump with every new sql/NNN_*.sql */

/* The directory holding the migrations (g_free), or NULL with *err set. */
char *migrate_sql_dir(char **err);

/* Apply every pending migration; *applied (may be NULL) counts them. */
int migrate_apply(PGconn *conn, int *applied, char **err);

/* 0 when the database is exactly at MIGRATE_LATEST; -1 with *err otherwise. */
int migrate_check(PGconn *conn, char **err);

/* The highest version recorded (0 = none), or -1 with *err set. */
int migrate_current(PGconn *conn, char **err);

#endif
