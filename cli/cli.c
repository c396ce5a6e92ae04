/*
 * cli.c - "rebound SUBCOMMAND ...": one table of subcommands, one binary.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/log.h"
#include "common/version.h"
#include "workers/workers.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command commands[] = {
	{ "config", cmd_config_check, "config [--man]", "validate FILE and print the effective settings" },
	{ "migrate", cmd_migrate, "migrate [--status]", "apply pending sql/ migrations to [store] conninfo" },
	{ "reprocess", cmd_reprocess, "reprocess --since DATE", "re-classify stored raw messages, update suppressions" },
	{ "serve", cmd_serve, "serve [-n [--connect]]", "run the daemon in the foreground (-n: check config)" },
	{ "parse", cmd_parse, "parse [--json] FILE...", "parse bounces/reports offline, one JSON line per recipient" },
	{ "parse-worker", workers_child_main, "parse-worker [OPTIONS]", "internal: a parser worker process (started by serve)" },
	{ "lookupd", cmd_lookupd, "lookupd", "serve only lookups: socketmap, policy, HTTP API" },
	{ "check", cmd_check, "check ADDRESS", "exit 0 if ADDRESS is suppressed, 1 if not" },
	{ "suppress", cmd_suppress, "suppress ADDRESS --reason TEXT", "add ADDRESS to the suppression list" },
	{ "unsuppress", cmd_unsuppress, "unsuppress ADDRESS", "remove ADDRESS from the suppression list" },
	{ "export", cmd_export, "export [--format csv|json]", "write the suppression list to stdout" },
	{ "import", cmd_import, "import FILE.csv", "bulk-load a suppression list from CSV" },
	{ "stats", cmd_stats, "stats [--since 7d] [--by DIM]", "event counts by day/class/reason/domain/campaign" },
	{ "complaints", cmd_complaints, "complaints [--since 7d]", "list complaints (ARF reports)" },
	{ "quarantine", cmd_quarantine, "quarantine [--since 30d] [--show ID]", "list quarantined messages, or print one raw" },
	{ "sign", cmd_sign, "sign ADDRESS [--domain D]", "print the signed return path for mail to ADDRESS" },
};

static void
main_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: rebound SUBCOMMAND [-c FILE] [ARGS...]\n"
	    "       rebound --version\n\n"
	    "Rebound receives bounces and feedback-loop reports over SMTP, classifies\n"
	    "them and keeps a suppression list in PostgreSQL.\n\nSubcommands:\n");
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(fp, "  %-40s %s\n", commands[i].usage, commands[i].help);
	fprintf(fp, "\nEvery subcommand reads -c FILE, by default %s.\n"
	    "\"rebound SUBCOMMAND --help\" describes one subcommand.\n", CLI_DEFAULT_CONFIG);
}

int
cli_main(int argc, char **argv)
{
	size_t i;

	log_init(LOG_LEVEL_INFO);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("rebound %s\n", REBOUND_VERSION);
		return 0;
	}
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			/* GOption's --help and errors name the subcommand. */
			char *name = g_strdup_printf("rebound %s", commands[i].name);

			g_set_prgname(name);
			g_free(name);
			return commands[i].run(argc - 1, argv + 1);
		}
	fprintf(stderr, "rebound: unknown subcommand \"%s\"\n", argv[1]);
	main_usage(stderr);
	return 2;
}
