/*
 * unit.h - scratch files for the unit tests (tests/unit/test_*.c link
 * unit.o).  Every helper fails the running test on any error, so callers
 * check nothing.
 *
 * unit_tmpdir() makes a new directory from a g_dir_make_tmp() template
 * ("name-XXXXXX"); unit_rmtree() removes a directory and all below it;
 * unit_write() writes a whole file into a directory and returns its path.
 * Strings returned are the caller's (g_free).
 *
 * A test program lists its cases in a table of struct unit_test, in the
 * order they run.  unit_add() registers n cases with g_test_add_func();
 * unit_main() is the whole of a main() that needs no set-up of its own:
 * g_test_init(), unit_add(), and g_test_run()'s status.
 * A program with no main() of its own defines its table as unit_tests[]
 * and its length as unit_ntests: the linker then takes main() from
 * unit_main.c, which calls unit_main() with them.
 * unit_main_tmpdir() is unit_main() with *dir a new unit_tmpdir(tmpl) while
 * the cases run, removed and freed (*dir = NULL) once they have.
 */
#ifndef REBOUND_UNIT_H
#define REBOUND_UNIT_H

#include <stddef.h>

char *unit_tmpdir(const char *tmpl);
void unit_rmtree(const char *dir);
char *unit_write(const char *dir, const char *name, const char *text);

struct unit_test {
	const char *path;	/* GTest path, "/area/case" */
	void (*func)(void);
};

extern const struct unit_test unit_tests[];
extern const size_t unit_ntests;

void unit_add(const struct unit_test *tests, size_t n);
int unit_main(int argc, char **argv, const struct unit_test *tests, size_t n);
int unit_main_tmpdir(int argc, char **argv, const char *tmpl, char **dir,
    const struct unit_test *tests, size_t n);

#endif
