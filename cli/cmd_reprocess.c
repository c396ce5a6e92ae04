/* cmd_reprocess.c - "rebound reprocess": see store/reprocess.h. */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "store/reprocess.h"

int
cmd_reprocess(int argc, char **argv)
{
	char *path = NULL, *since = NULL, *until = NULL, *err = NULL;
	const GOptionEntry entries[] = {
		{ "since", 's', 0, G_OPTION_ARG_STRING, &since,
		    "first arrival time to reprocess (required)", "DATE" },
		{ "until", 'u', 0, G_OPTION_ARG_STRING, &until,
		    "last arrival time (default: now)", "DATE" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct reprocess_stats st = { 0 };
	struct config *cfg;
	int rc;

	if ((rc = cli_options(&argc, &argv, "", "Classify the stored raw messages received "
	    "since DATE again with the current rules, and recompute the automatic suppressions.",
	    "DATE: 2026-11-01, \"2026-11-01 12:00+00\", or any PostgreSQL timestamp.",
	    entries, CLI_DEFAULT_CONFIG, &path)) != 0)
		goto out;
	rc = 1;
	if (argc != 1) {
		rc = cli_usage_error("reprocess", "unexpected argument \"%s\"", argv[1]);
		goto out;
	}
	if (since == NULL) {
		rc = cli_usage_error("reprocess", "--since DATE is required");
		goto out;
	}
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: reprocess: %s\n", err);
		g_free(err);
		goto out;
	}
	if (reprocess_run(cfg, since, until ? until : "infinity", &st, &err) < 0) {
		if (*cfg->store_conninfo == '\0')
			fprintf(stderr, "rebound: reprocess: %s: %s\n", path, err);
		else
			fprintf(stderr, "rebound: reprocess: %s\n", err);
		g_free(err);
		config_free(cfg);
		goto out;
	}
	printf("reprocess: %ld messages, events %ld -> %ld, suppressions added %ld, changed %ld,"
	    " removed %ld\n", st.messages, st.events_old, st.events_new, st.added, st.changed,
	    st.removed);
	config_free(cfg);
	rc = 0;
out:
	g_free(path);
	g_free(since);
	g_free(until);
	return rc;
}
