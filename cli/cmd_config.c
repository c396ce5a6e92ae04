/* cmd_config.c - "rebound config": validate and print the effective settings. */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"

int
cmd_config_check(int argc, char **argv)
{
	gboolean man = FALSE;
	const GOptionEntry entries[] = {
		{ "man", 0, 0, G_OPTION_ARG_NONE, &man,
		    "write rebound.conf(5), made from the table of keys, and exit", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct config *cfg;
	char *path = NULL, *err = NULL;
	int rc;

	if ((rc = cli_options(&argc, &argv, "", "Check the configuration file and print the "
	    "effective settings (secrets masked).", NULL, entries, CLI_DEFAULT_CONFIG, &path)) != 0)
		return rc;
	if (argc != 1) {
		g_free(path);
		return cli_usage_error("config", "unexpected argument \"%s\"", argv[1]);
	}
	if (man) {
		g_free(path);
		config_write_man(stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		g_free(path);
		return 1;
	}
	config_print(cfg, stdout);
	config_free(cfg);
	g_free(path);
	return 0;
}
