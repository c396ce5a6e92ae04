/*
 * unit_main.c - main() of a unit test program that defines none: it runs
 * the program's unit_tests[] (unit.h).  Linked from an archive, so that
 * only a program without its own main() takes it.
 */
#include <glib.h>

#include "unit.h"

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, unit_tests, unit_ntests);
}
