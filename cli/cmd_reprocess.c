/* cmd_reprocess.c - "rebound reprocess": see store/reprocess.h. */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/commands.h"
#include "common/config.h"
#include "store/reprocess.h"

int
cmd_reprocess(int argc, char **argv)
{
	const char *path = NULL, *since = NULL, *until = "infinity";
	struct reprocess_stats st = { 0 };
	struct config *cfg;
	char *err = NULL;
	int i, usage = 0;

	for (i = 1; i < argc && !usage; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			since = argv[++i];
		else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
			until = argv[++i];
		else
			usage = 1;
	}
	if (usage || path == NULL || since == NULL) {
		fprintf(stderr, "usage: rebound reprocess -c FILE --since DATE [--until DATE]\n"
		    "  DATE: 2026-11-01, \"2026-11-01 12:00+00\", or any PostgreSQL timestamp\n");
		return 2;
	}
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: reprocess: %s\n", err);
		g_free(err);
		return 1;
	}
	if (reprocess_run(cfg, since, until, &st, &err) < 0) {
		if (*cfg->store_conninfo == '\0')
			fprintf(stderr, "rebound: reprocess: %s: %s\n", path, err);
		else
			fprintf(stderr, "rebound: reprocess: %s\n", err);
		g_free(err);
		config_free(cfg);
		return 1;
	}
	printf("reprocess: %ld messages, events %ld -> %ld, suppressions added %ld, changed %ld,"
	    " removed %ld\n", st.messages, st.events_old, st.events_new, st.added, st.changed,
	    st.removed);
	config_free(cfg);
	return 0;
}
