/*
 * commands.h - the subcommands of "rebound".
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand
 * name) and returns the process exit status.  Each is defined in a file
 * of cli/ named after it; cli.c lists them in one table.  Two binaries are
 * built from it: rebound, which runs "parse" (and its workers) itself and
 * execs CLI_FULL_NAME for the others, and CLI_FULL_NAME, which runs all.
 */
#ifndef REBOUND_COMMANDS_H
#define REBOUND_COMMANDS_H

int cmd_config_check(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_reprocess(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_lookupd(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_suppress(int argc, char **argv);
int cmd_unsuppress(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_complaints(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_import_mail(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_sign(int argc, char **argv);

#define CLI_FULL_NAME	"rebound-all"

/* The table of subcommands: dispatches argv[1]; returns the exit status. */
int cli_main(int argc, char **argv);

#endif
