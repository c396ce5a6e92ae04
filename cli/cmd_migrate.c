/* cmd_migrate.c - "rebound migrate": apply or show the schema migrations. */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "cli/commands.h"
#include "common/config.h"
#include "store/migrate.h"
#include "store/pg.h"

int
cmd_migrate(int argc, char **argv)
{
	const char *path = NULL;
	struct config *cfg;
	PGconn *conn;
	char *err = NULL;
	int i, n, status = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--status") == 0)
			status = 1;
		else {
			fprintf(stderr, "usage: rebound migrate -c FILE [--status]\n");
			return 2;
		}
	}
	if (path == NULL) {
		fprintf(stderr, "usage: rebound migrate -c FILE [--status]\n");
		return 2;
	}
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		return 1;
	}
	if (*cfg->store_conninfo == '\0') {
		fprintf(stderr, "rebound: %s: [store] conninfo is not set\n", path);
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
