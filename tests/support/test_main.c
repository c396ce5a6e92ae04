/*
 * test_main.c - build/rebound-test: the rebound binary plus the test hooks
 * (test_hooks.h), for the tests that make a parser misbehave on purpose.
 * build/rebound never contains them.
 */
#include "cli/commands.h"
#include "tests/support/test_hooks.h"
#include "workers/workers.h"

int
main(int argc, char **argv)
{
	workers_before_parse = test_hooks_run;
	return cli_main(argc, argv);
}
