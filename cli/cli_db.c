/* cli_db.c - start-up of the suppression-list subcommands; see cli_db.h. */
#include "cli/cli_db.h"

#include <stdio.h>
#include <string.h>

#include "cli/options.h"
#include "lookup/lookup_db.h"

#define CLI_DESCRIPTION "Exit status: 0 success (check: suppressed), 1 a negative answer " \
	"(check: not suppressed; unsuppress: was not suppressed; import: some rows rejected), " \
	"2 usage, configuration or database error."

int
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

int
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

void
cli_free(struct cli *c)
{
	if (c->db)
		PQfinish(c->db);
	if (c->cfg)
		config_free(c->cfg);
	g_free(c->config_path);
	g_free(c->tenant);
}

int
cli_db_fail(const char *cmd, char *err)
{
	fprintf(stderr, "rebound %s: %s\n", cmd, err ? err : "database error");
	g_free(err);
	return CLI_ERR;
}
