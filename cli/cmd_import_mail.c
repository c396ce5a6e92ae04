/* cmd_import_mail.c - "rebound import-mail": see store/import_mail.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "store/import_mail.h"

static void
import_bar(size_t done, size_t total, const struct import_stats *st, void *arg)
{
	int width = 40, filled = total > 0 ? (int)((double)done * width / total) : width;
	char bar[64];

	(void)arg;
	memset(bar, '#', filled);
	memset(bar + filled, '.', width - filled);
	bar[width] = '\0';
	fprintf(stderr, "\rimporting [%s] %3d%% %ld messages", bar,
	    total > 0 ? (int)((double)done * 100 / total) : 100, st->read);
	fflush(stderr);
}

int
cmd_import_mail(int argc, char **argv)
{
	char *path = NULL, *mbox = NULL, *maildir = NULL, *rcpt = NULL, *err = NULL;
	gint batch = 256;
	gboolean quiet = FALSE;
	GOptionEntry entries[] = {
		{ "mbox", 0, 0, G_OPTION_ARG_FILENAME, &mbox, "an mbox file", "FILE" },
		{ "maildir", 0, 0, G_OPTION_ARG_FILENAME, &maildir, "a maildir (cur/ and new/) or a folder of messages", "DIR" },
		{ "rcpt", 0, 0, G_OPTION_ARG_STRING, &rcpt, "envelope recipient to assume (default: Delivered-To, X-Original-To or To)", "ADDRESS" },
		{ "batch", 0, 0, G_OPTION_ARG_INT, &batch, "messages per transaction (default 256)", "N" },
		{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress bar", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct import_stats st;
	struct config *cfg = NULL;
	gint64 t0;
	double secs;
	int rc, bar;

	if ((rc = cli_options(&argc, &argv, "", "Backfill an existing bounce mailbox: every message is"
	    " parsed, deduplicated, stored and run through the policy, dated from the report.",
	    NULL, entries, CLI_DEFAULT_CONFIG, &path)) != 0)
		goto out;
	if (argc != 1) {
		rc = cli_usage_error("import-mail", "unexpected argument \"%s\"", argv[1]);
		goto out;
	}
	if ((mbox == NULL) == (maildir == NULL)) {
		rc = cli_usage_error("import-mail", "one of --mbox FILE or --maildir DIR is required");
		goto out;
	}
	if (batch < 1 || batch > 10000) {
		rc = cli_usage_error("import-mail", "--batch must be from 1 to 10000");
		goto out;
	}
	/* a mailbox that cannot be read or stored is as much the caller's error */
	rc = 2;
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound import-mail: %s\n", err);
		goto out;
	}
	if (*cfg->store_conninfo == '\0') {
		fprintf(stderr, "rebound import-mail: %s: [store] conninfo is empty\n", path);
		goto out;
	}
	bar = !quiet && isatty(STDERR_FILENO);
	t0 = g_get_monotonic_time();
	if (import_mail_run(cfg, mbox, maildir, rcpt, batch, &st, bar ? import_bar : NULL, NULL, &err) < 0) {
		if (bar)
			fputc('\n', stderr);
		fprintf(stderr, "rebound import-mail: %s (%ld messages stored before it; running the import"
		    " again stores the rest)\n", err, st.stored);
		goto out;
	}
	if (bar)
		fputc('\n', stderr);
	secs = (g_get_monotonic_time() - t0) / 1e6;
	printf("import-mail: %ld messages read, %ld stored, %ld duplicates, %ld without a report,"
	    " %ld events, %ld suppression changes, %.2f s (%.0f messages/s)\n", st.read, st.stored,
	    st.duplicates, st.unparsed, st.events, st.suppressions, secs,
	    secs > 0 ? st.read / secs : 0.0);
	rc = 0;
out:
	if (cfg)
		config_free(cfg);
	g_free(err);
	g_free(path);
	g_free(mbox);
	g_free(maildir);
	g_free(rcpt);
	return rc;
}
