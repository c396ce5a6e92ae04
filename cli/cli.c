/*
 * cli.c - "rebound SUBCOMMAND ...": one table of subcommands.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
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

/*
 * FULL(f): a subcommand the front binary does not carry.  "rebound" is built
 * twice from this file: build/rebound (REBOUND_FRONT) holds the offline
 * parser only, so that "xargs rebound parse" does not load and relocate
 * libpq, libevent, OpenSSL's TLS and OpenDKIM with their two dozen
 * dependencies for every process; it hands every other subcommand to
 * rebound-all (cli_forward()), the binary with all of them.
 */
#ifdef REBOUND_FRONT
#define FULL(f)	NULL
#else
#define FULL(f)	f
#endif

static const struct command commands[] = {
	{ "config", FULL(cmd_config_check), "config [--man]", "validate FILE and print the effective settings" },
	{ "migrate", FULL(cmd_migrate), "migrate [--status]", "apply pending sql/ migrations to [store] conninfo" },
	{ "reprocess", FULL(cmd_reprocess), "reprocess --since DATE", "re-classify stored raw messages, update suppressions" },
	{ "serve", FULL(cmd_serve), "serve [-n [--connect]]", "run the daemon in the foreground (-n: check config)" },
	{ "parse", cmd_parse, "parse [--json] FILE...", "parse bounces/reports offline, one JSON line per recipient" },
	{ "parse-worker", workers_child_main, "parse-worker [OPTIONS]", "internal: a parser worker process (started by serve)" },
	{ "lookupd", FULL(cmd_lookupd), "lookupd -c FILE", "serve only lookups: socketmap, policy, HTTP API" },
	{ "check", FULL(cmd_check), "check -c FILE ADDRESS", "exit 0 if ADDRESS is suppressed, 1 if not" },
	{ "suppress", FULL(cmd_suppress), "suppress -c FILE ADDRESS --reason TEXT", "add ADDRESS to the suppression list" },
	{ "unsuppress", FULL(cmd_unsuppress), "unsuppress -c FILE ADDRESS", "remove ADDRESS from the suppression list" },
	{ "export", FULL(cmd_export), "export -c FILE [--format csv|json]", "write the suppression list to stdout" },
	{ "import", FULL(cmd_import), "import -c FILE FILE.csv", "bulk-load a suppression list from CSV" },
	{ "stats", FULL(cmd_stats), "stats -c FILE [--since 7d] [--by DIM] [--class LIST] [--interval hour|day]", "event counts by day/class/reason/domain/provider/campaign" },
	{ "complaints", FULL(cmd_complaints), "complaints -c FILE [--since 7d]", "list complaints (ARF reports)" },
	{ "history", FULL(cmd_history), "history -c FILE ADDRESS", "state, events and audit trail of one address" },
	{ "import-mail", FULL(cmd_import_mail), "import-mail -c FILE --mbox FILE | --maildir DIR", "backfill a bounce mailbox, dated from the reports" },
	{ "quarantine", FULL(cmd_quarantine), "quarantine -c FILE [--since 30d] [--show ID]", "list quarantined messages, or print one raw" },
	{ "sign", FULL(cmd_sign), "sign -c FILE ADDRESS [--domain D]", "print the signed return path for mail to ADDRESS" },
};

#ifdef REBOUND_FRONT
/*
 * Run argv in rebound-all: beside this binary (a build tree), or in
 * ../lib/rebound from it (installed: PREFIX/sbin/rebound and
 * PREFIX/lib/rebound/rebound-all).  argv[0] is kept, so the process still
 * shows as "rebound SUBCOMMAND".  Returns only on failure.
 */
static int
cli_forward(char **argv)
{
	static const char *const where[] = { CLI_FULL_NAME, "../" CONFIG_LIBEXEC_DIR "/" CLI_FULL_NAME };
	char *dir = config_exe_dir();
	char *path = NULL;
	int saved = ENOENT;
	size_t i;

	if (dir == NULL)
		dir = g_strdup(".");
	for (i = 0; i < G_N_ELEMENTS(where); i++) {
		g_free(path);
		path = g_build_filename(dir, where[i], NULL);
		execv(path, argv);
		if (errno != ENOENT)
			saved = errno;
	}
	fprintf(stderr, "rebound: cannot run \"%s\": %s/{%s,%s}: %s\n", argv[1], dir, where[0],
	    where[1], g_strerror(saved));
	g_free(path);
	g_free(dir);
	return 2;
}
#endif

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
#ifdef REBOUND_FRONT
			if (commands[i].run == NULL)
				return cli_forward(argv);
#endif
			return commands[i].run(argc - 1, argv + 1);
		}
	fprintf(stderr, "rebound: unknown subcommand \"%s\"\n", argv[1]);
	main_usage(stderr);
	return 2;
}
