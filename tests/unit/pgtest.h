/*
 * pgtest.h - a throw-away PostgreSQL 15 cluster for C tests that need a real
 * database (same recipe as tests/e2e/harness.py Pg): initdb into a temp dir,
 * unix socket only, run as "postgres" when we are root.  A test that cannot
 * start it fails; it never skips.
 *
 * pgtest_start() returns the socket directory; pgtest_conninfo(db) a libpq
 * string (g_free); pgtest_createdb() a fresh database per test case.
 * pgtest_init() is how such a program's main() begins: g_test_init(), the
 * log at warnings only, and pgtest_start().
 */
#ifndef REBOUND_PGTEST_H
#define REBOUND_PGTEST_H

#include <glib.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdlib.h>
#include <libpq-fe.h>

#include "common/log.h"

#define PGTEST_BIN "/usr/lib/postgresql/15/bin"

static char *pgtest_dir;

static void
pgtest_run(const char *const *argv)
{
	GPtrArray *a = g_ptr_array_new();
	char *out = NULL, *errs = NULL;
	GError *gerr = NULL;
	int status = 0;

	if (geteuid() == 0) {
		g_ptr_array_add(a, (char *)"runuser");
		g_ptr_array_add(a, (char *)"-u");
		g_ptr_array_add(a, (char *)"postgres");
		g_ptr_array_add(a, (char *)"--");
	}
	for (; *argv; argv++)
		g_ptr_array_add(a, (char *)*argv);
	g_ptr_array_add(a, NULL);
	if (!g_spawn_sync(NULL, (char **)a->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
	    &errs, &status, &gerr))
		g_error("spawn %s: %s", (char *)a->pdata[0], gerr->message);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("%s failed:\n%s%s", (char *)a->pdata[geteuid() == 0 ? 4 : 0], out, errs);
	g_free(out);
	g_free(errs);
	g_ptr_array_free(a, TRUE);
}

static void
pgtest_stop(void)
{
	char *data = g_build_filename(pgtest_dir, "data", NULL);
	const char *argv[] = { PGTEST_BIN "/pg_ctl", "-D", data, "-w", "-m", "immediate", "stop", NULL };
	char *cmd;

	pgtest_run(argv);
	cmd = g_strdup_printf("rm -rf '%s'", pgtest_dir);
	if (system(cmd) != 0)
		g_warning("could not remove %s", pgtest_dir);
	g_free(cmd);
	g_free(data);
}

/* Stop (fast) or start the running cluster: the database going away. */
G_GNUC_UNUSED static void
pgtest_ctl(const char *what)
{
	char *data = g_build_filename(pgtest_dir, "data", NULL);
	char *log = g_build_filename(pgtest_dir, "log", NULL);
	const char *stop[] = { PGTEST_BIN "/pg_ctl", "-D", data, "-w", "-m", "fast", "stop", NULL };
	const char *start[] = { PGTEST_BIN "/pg_ctl", "-D", data, "-w", "-l", log, "start", NULL };

	pgtest_run(g_str_equal(what, "stop") ? stop : start);
	g_free(data);
	g_free(log);
}

static char *
pgtest_conninfo(const char *db)
{
	return g_strdup_printf("host=%s port=5432 dbname=%s user=postgres", pgtest_dir, db);
}

static const char *
pgtest_start(void)
{
	char *data, *conf, *log, *line;
	FILE *fp;

	pgtest_dir = g_dir_make_tmp("rebound-pgtest-XXXXXX", NULL);
	g_assert_nonnull(pgtest_dir);
	g_chmod(pgtest_dir, 0755);
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		g_assert_nonnull(pw);
		g_assert_cmpint(chown(pgtest_dir, pw->pw_uid, pw->pw_gid), ==, 0);
	}
	data = g_build_filename(pgtest_dir, "data", NULL);
	log = g_build_filename(pgtest_dir, "log", NULL);
	{
		const char *argv[] = { PGTEST_BIN "/initdb", "-D", data, "-A", "trust", "-U",
		    "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8", NULL };
		pgtest_run(argv);
	}
	conf = g_build_filename(data, "postgresql.conf", NULL);
	line = g_strdup_printf("listen_addresses = ''\nunix_socket_directories = '%s'\n"
	    "fsync = off\nmax_connections = 50\n", pgtest_dir);
	fp = fopen(conf, "a");
	g_assert_nonnull(fp);
	fputs(line, fp);
	fclose(fp);
	{
		const char *argv[] = { PGTEST_BIN "/pg_ctl", "-D", data, "-w", "-l", log, "start", NULL };
		pgtest_run(argv);
	}
	/* A watcher outlives us and removes the cluster whichever way we end,
	 * including an assertion's abort(): it waits for our end of a pipe. */
	{
		int fds[2];
		pid_t pid;
		char c;

		g_assert_cmpint(pipe(fds), ==, 0);
		pid = fork();
		g_assert_cmpint(pid, >=, 0);
		if (pid == 0) {
			close(fds[1]);
			setsid();
			while (read(fds[0], &c, 1) > 0)
				;
			pgtest_stop();
			_exit(0);
		}
		close(fds[0]);
		fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	}
	g_free(line);
	g_free(conf);
	g_free(log);
	g_free(data);
	return pgtest_dir;
}

static void
pgtest_init(int *argc, char ***argv)
{
	g_test_init(argc, argv, NULL);
	log_init(LOG_LEVEL_WARN);
	pgtest_start();
}

/* A new empty database; returns its conninfo (g_free). */
static char *
pgtest_createdb(const char *name)
{
	char *ci = pgtest_conninfo("postgres");
	PGconn *c = PQconnectdb(ci);
	char *sql = g_strdup_printf("CREATE DATABASE \"%s\"", name);
	PGresult *r;

	g_assert_cmpint(PQstatus(c), ==, CONNECTION_OK);
	/* the name is ours, not input: no parameter needed (DDL takes none) */
	r = PQexec(c, sql);
	g_assert_cmpint(PQresultStatus(r), ==, PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
	g_free(sql);
	g_free(ci);
	return pgtest_conninfo(name);
}

#endif
