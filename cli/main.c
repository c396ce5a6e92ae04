/* main.c - the rebound binary: everything is in cli_main() (cli/cli.c). */
#include "cli/commands.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
