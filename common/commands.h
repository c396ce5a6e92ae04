/*
 * commands.h - the subcommands of the one "rebound" binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand
 * name) and returns the process exit status.  Each module that owns a
 * subcommand defines its function; main.c lists them in one table.
 */
#ifndef REBOUND_COMMANDS_H
#define REBOUND_COMMANDS_H

int cmd_config_check(int argc, char **argv);
int cmd_lookupd(int argc, char **argv);

#endif
