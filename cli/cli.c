/*
 * cli.c - "rebound SUBCOMMAND ...": one table of subcommands, one binary.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "cli/commands.h"
#include "common/config.h"
#include "common/log.h"
#include "workers/workers.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command commands[] = {
	{ "config", cmd_config_check, "config -c FILE", "validate FILE and print the effective settings" },
	{ "migrate", cmd_migrate, "migrate -c FILE [--status]", "apply pending sql/ migrations to [store] conninfo" },
	{ "reprocess", cmd_reprocess, "reprocess -c FILE --since DATE", "re-classify stored raw messages, update suppressions" },
	{ "serve", cmd_serve, "serve -c FILE [-n]", "run the daemon in the foreground (-n: check config)" },
	{ "parse", cmd_parse, "parse [--json] [-c FILE] FILE...", "parse bounces/reports offline, one JSON line per recipient" },
	{ "parse-worker", workers_child_main, "parse-worker [OPTIONS]", "internal: a parser worker process (started by serve)" },
	{ "lookupd", cmd_lookupd, "lookupd -c FILE", "serve only lookups: socketmap, policy, HTTP API" },
	{ "check", cmd_check, "check -c FILE ADDRESS", "exit 0 if ADDRESS is suppressed, 1 if not" },
	{ "suppress", cmd_suppress, "suppress -c FILE ADDRESS --reason TEXT", "add ADDRESS to the suppression list" },
	{ "unsuppress", cmd_unsuppress, "unsuppress -c FILE ADDRESS", "remove ADDRESS from the suppression list" },
	{ "export", cmd_export, "export -c FILE [--format csv|json]", "write the suppression list to stdout" },
	{ "import", cmd_import, "import -c FILE FILE.csv", "bulk-load a suppression list from CSV" },
	{ "stats", cmd_stats, "stats -c FILE [--since 7d] [--by DIM] [--class LIST] [--interval hour|day]", "event counts by day/class/reason/domain/provider/campaign" },
	{ "complaints", cmd_complaints, "complaints -c FILE [--since 7d]", "list complaints (ARF reports)" },
	{ "history", cmd_history, "history -c FILE ADDRESS", "state, events and audit trail of one address" },
	{ "import-mail", cmd_import_mail, "import-mail -c FILE --mbox FILE | --maildir DIR", "backfill a bounce mailbox, dated from the reports" },
	{ "quarantine", cmd_quarantine, "quarantine -c FILE [--since 30d] [--show ID]", "list quarantined messages, or print one raw" },
	{ "sign", cmd_sign, "sign -c FILE ADDRESS [--domain D]", "print the signed return path for mail to ADDRESS" },
};

static void
main_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: rebound SUBCOMMAND [ARGS...]\n\n"
	    "Rebound receives bounces and feedback-loop reports over SMTP, classifies\n"
	    "them and keeps a suppression list in PostgreSQL.\n\nSubcommands:\n");
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(fp, "  %-40s %s\n", commands[i].usage, commands[i].help);
	fprintf(fp, "\n\"rebound SUBCOMMAND --help\" describes one subcommand.\n");
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
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "rebound: unknown subcommand \"%s\"\n", argv[1]);
	main_usage(stderr);
	return 2;
}
