/*
 * unit.h - scratch files for the unit tests (tests/unit/test_*.c link
 * unit.o).  Every helper fails the running test on any error, so callers
 * check nothing.
 *
 * unit_tmpdir() makes a new directory from a g_dir_make_tmp() template
 * ("name-XXXXXX"); unit_rmtree() removes a directory and all below it;
 * unit_write() writes a whole file into a directory and returns its path.
 * Strings returned are the caller's (g_free).
 */
#ifndef REBOUND_UNIT_H
#define REBOUND_UNIT_H

char *unit_tmpdir(const char *tmpl);
void unit_rmtree(const char *dir);
char *unit_write(const char *dir, const char *name, const char *text);

#endif
