/*
 * cli_db.h - what the suppression-list subcommands (check, suppress,
 * unsuppress, export, import, stats, complaints, history, quarantine)
 * share: -c FILE (the daemon's configuration, for store.conninfo and
 * [tenants]), --tenant, and one PostgreSQL connection.  They talk to
 * PostgreSQL directly, so they work whether or not the daemon runs;
 * changes reach a running daemon's index through the change log.
 *
 * Exit status, for scripts: 0 success (check: suppressed); 1 a negative
 * answer (check: not suppressed; unsuppress: was not suppressed; import:
 * some rows were rejected, the rest imported); 2 usage, configuration or
 * database error.
 */
#ifndef REBOUND_CLI_DB_H
#define REBOUND_CLI_DB_H

#include <glib.h>
#include <libpq-fe.h>

#include "common/config.h"

#define CLI_ERR 2

struct cli {
	char *config_path;
	char *tenant;			/* --tenant, or the default tenant */
	struct config *cfg;
	PGconn *db;			/* when cli_init() was asked for it */
};

/* Parse options (-c, --tenant and extra), load the config and, if want_db,
 * connect.  Returns 0, or an exit status after printing why.  Positional
 * arguments stay in argv.  cli_free() in every case. */
int cli_init(struct cli *c, int *argc, char ***argv, const char *params, const char *summary,
    GOptionEntry *extra, int want_db);
void cli_free(struct cli *c);
/* Prints "rebound CMD: err" (frees err) and returns CLI_ERR. */
int cli_db_fail(const char *cmd, char *err);
/* name is the default tenant or one of [tenants]. */
int cli_tenant_known(const struct config *cfg, const char *name);

#endif
