/*
 * unit.c - scratch files for the unit tests (see unit.h).
 */
#include <stdlib.h>
#include <glib.h>

#include "unit.h"

char *
unit_tmpdir(const char *tmpl)
{
	GError *gerr = NULL;
	char *dir = g_dir_make_tmp(tmpl, &gerr);

	if (dir == NULL)
		g_error("temporary directory %s: %s", tmpl, gerr->message);
	return dir;
}

void
unit_rmtree(const char *dir)
{
	/* argv, not a shell line: no quoting of the path to get wrong */
	const char *argv[] = { "rm", "-rf", "--", dir, NULL };
	GError *gerr = NULL;
	int status = 0;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
	    &status, &gerr))
		g_error("rm -rf %s: %s", dir, gerr->message);
	if (!g_spawn_check_wait_status(status, &gerr))
		g_error("rm -rf %s: %s", dir, gerr->message);
}

char *
unit_write(const char *dir, const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);
	GError *gerr = NULL;

	if (!g_file_set_contents(path, text, -1, &gerr))
		g_error("write %s: %s", path, gerr->message);
	return path;
}

void
unit_add(const struct unit_test *tests, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		g_test_add_func(tests[i].path, tests[i].func);
}

int
unit_main(int argc, char **argv, const struct unit_test *tests, size_t n)
{
	g_test_init(&argc, &argv, NULL);
	unit_add(tests, n);
	return g_test_run();
}

int
unit_main_tmpdir(int argc, char **argv, const char *tmpl, char **dir,
    const struct unit_test *tests, size_t n)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	*dir = unit_tmpdir(tmpl);
	unit_add(tests, n);
	rc = g_test_run();
	unit_rmtree(*dir);
	g_free(*dir);
	*dir = NULL;
	return rc;
}
