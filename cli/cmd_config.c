/* cmd_config.c - "rebound config -c FILE": validate and print the effective settings. */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/commands.h"
#include "common/config.h"

int
cmd_config_check(int argc, char **argv)
{
	const char *path = NULL;
	struct config *cfg;
	char *err = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else {
			fprintf(stderr, "usage: rebound config -c FILE\n");
			return 2;
		}
	}
	if (path == NULL) {
		fprintf(stderr, "usage: rebound config -c FILE\n");
		return 2;
	}
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		return 1;
	}
	config_print(cfg, stdout);
	config_free(cfg);
	return 0;
}
