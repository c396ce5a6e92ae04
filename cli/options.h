/*
 * options.h - the command line every subcommand shares.
 *
 * cli_options() parses a subcommand's arguments with GOption: its own
 * entries plus -c/--config FILE, and GOption's --help, which prints the
 * subcommand's options and exits 0.  Positional arguments stay in
 * argc/argv (argv[0] is the subcommand).  Usage errors are printed as
 * "rebound CMD: message" with a pointer to --help; the return value is then
 * the usage exit status 2, else 0.
 */
#ifndef REBOUND_CLI_OPTIONS_H
#define REBOUND_CLI_OPTIONS_H

#include <glib.h>

/* Where every subcommand looks for its configuration without -c. */
#define CLI_DEFAULT_CONFIG "/etc/rebound/rebound.conf"
#define CLI_USAGE 2

/*
 * params: the positional arguments in the usage line ("ADDRESS"), or "";
 * summary: what the command does (shown above the options);
 * entries: the command's own options (NULL-terminated) or NULL;
 * config: set to the -c FILE given, else to config_default (which may be
 * NULL: the command then runs on the built-in defaults); caller frees.
 */
int cli_options(int *argc, char ***argv, const char *params, const char *summary,
    const char *description, const GOptionEntry *entries, const char *config_default,
    char **config);

/* "rebound CMD: message" and the --help hint on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#endif
