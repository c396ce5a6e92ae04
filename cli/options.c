/* options.c - GOption for every subcommand; see options.h. */
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rebound %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"rebound %s --help\".\n", cmd);
	return CLI_USAGE;
}

int
cli_options(int *argc, char ***argv, const char *params, const char *summary,
    const char *description, const GOptionEntry *entries, const char *config_default,
    char **config)
{
	char *path = NULL, *cmd = g_strdup((*argv)[0]), *defhelp;
	GOptionEntry common[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &path, NULL, "FILE" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	GOptionContext *ctx = g_option_context_new(params);
	GError *gerr = NULL;
	gboolean ok;
	int rc = 0;

	defhelp = config_default != NULL ?
	    g_strdup_printf("configuration file (default %s)", config_default) :
	    g_strdup("configuration file (default: none, the built-in settings)");
	common[0].description = defhelp;
	g_option_context_set_summary(ctx, summary);
	if (description != NULL)
		g_option_context_set_description(ctx, description);
	g_option_context_add_main_entries(ctx, common, NULL);
	if (entries != NULL)
		g_option_context_add_main_entries(ctx, entries, NULL);
	/* --help in the terminal's charset ("OPTION…", not "OPTION?"); only for parsing. */
	setlocale(LC_CTYPE, "");
	ok = g_option_context_parse(ctx, argc, argv, &gerr);
	setlocale(LC_CTYPE, "C");
	if (!ok) {
		rc = cli_usage_error(cmd, "%s", gerr->message);
		g_error_free(gerr);
		g_free(path);
		path = NULL;
	}
	g_option_context_free(ctx);
	g_free(defhelp);
	g_free(cmd);
	*config = rc == 0 && path == NULL ? g_strdup(config_default) : path;
	return rc;
}
