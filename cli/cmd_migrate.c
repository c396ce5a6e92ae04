/* cmd_migrate.c - "rebound migrate": apply or show the schema migrations. */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "store/migrate.h"
#include "store/pg.h"

int
cmd_migrate(int argc, char **argv)
{
	gboolean status = FALSE;
	const GOptionEntry entries[] = {
		{ "status", 0, 0, G_OPTION_ARG_NONE, &status,
		    "print the database's and the binary's schema versions; change nothing", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct config *cfg;
	PGconn *conn;
	char *path = NULL, *err = NULL;
	int n;

	if ((n = cli_options(&argc, &argv, "", "Apply the pending sql/ migrations to [store] "
	    "conninfo, each in a transaction; a database newer than this binary is refused.",
	    NULL, entries, CLI_DEFAULT_CONFIG, &path)) != 0)
		return n;
	if (argc != 1) {
		g_free(path);
		return cli_usage_error("migrate", "unexpected argument \"%s\"", argv[1]);
	}
	cfg = config_load(path, &err);
	if (cfg != NULL && *cfg->store_conninfo == '\0')
		err = g_strdup_printf("%s: [store] conninfo is not set", path);
	g_free(path);
	if (err != NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		config_free(cfg);
		return 1;
	}
	if ((conn = pg_connect(cfg->store_conninfo, &err)) == NULL) {
		fprintf(stderr, "rebound: cannot connect: %s\n", err);
		g_free(err);
		config_free(cfg);
		return 1;
	}
	if (status) {
		n = migrate_current(conn, &err);
		if (n >= 0)
			printf("database version %d, binary version %d\n", n, MIGRATE_LATEST);
	} else {
		if (migrate_apply(conn, &n, &err) == 0)
			printf("migrate: %d applied, schema at version %d\n", n, MIGRATE_LATEST);
		else
			n = -1;
	}
	PQfinish(conn);
	config_free(cfg);
	if (n < 0) {
		fprintf(stderr, "rebound: migrate: %s\n", err);
		g_free(err);
		return 1;
	}
	return 0;
}
