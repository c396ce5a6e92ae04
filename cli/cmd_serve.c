/*
 * cmd_serve.c - "rebound serve [-n [--connect]]": the daemon's ordered start-up,
 * its signals and its shutdown.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/conn_limits.h"
#include "common/log.h"
#include "receiver/smtp.h"
#include "receiver/spool.h"
#include "lookup/lookup.h"
#include "workers/parser_config.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/pipeline.h"
#include "webhook/webhook.h"

struct serve {
	const char *path;
	struct config *cfg;		/* current */
	GPtrArray *configs;		/* every config loaded: others may hold pointers */
	struct event_base *base;
	struct smtp_server *smtp;
	struct spool *spool;
	struct pipeline *pipeline;
	struct tls_keys *keys;		/* the root TLS key reader, if privileges are dropped */
	struct lookup *lookup;		/* the lookup servers, when there is a store */
	struct webhook *webhook;	/* deliverer of the outbox; with a store only */
	int stopping;
};

/* Started as root with [smtp] user: what serve_drop_privileges() will do. */
static int
serve_will_drop(const struct config *cfg)
{
	return getuid() == 0 && cfg->smtp_user != NULL && *cfg->smtp_user != '\0';
}

/* Root binds, then becomes [smtp] user; the spool must then belong to that user. */
static int
serve_drop_privileges(const struct config *cfg)
{
	struct passwd *pw;

	if (!serve_will_drop(cfg))
		return 0;
	if ((pw = getpwnam(cfg->smtp_user)) == NULL) {
		log_warnx("serve event=drop-privileges user=%s error=\"no such user\"", cfg->smtp_user);
		return -1;
	}
	if (g_mkdir_with_parents(cfg->spool_dir, 0700) == -1 ||
	    chown(cfg->spool_dir, pw->pw_uid, pw->pw_gid) == -1) {
		log_warn("serve event=drop-privileges spool=%s", cfg->spool_dir);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("serve event=drop-privileges user=%s", cfg->smtp_user);
		return -1;
	}
	if (setuid(0) != -1) {
		log_warnx("serve event=drop-privileges error=\"could regain root\"");
		return -1;
	}
	log_info("serve event=privileges-dropped user=%s uid=%d", cfg->smtp_user, (int)pw->pw_uid);
	return 0;
}

static void
serve_drained(void *arg)
{
	struct serve *sv = arg;

	event_base_loopexit(sv->base, NULL);
}

static void
serve_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	struct serve *sv = arg;

	(void)ev;
	if (sv->stopping) {
		log_info("serve event=signal signal=%d note=\"second signal, exiting now\"", (int)sig);
		event_base_loopexit(sv->base, NULL);
		return;
	}
	sv->stopping = 1;
	log_info("serve event=signal signal=%d action=shutdown", (int)sig);
	smtp_server_shutdown(sv->smtp, (int)sv->cfg->smtp_shutdown_grace, serve_drained, sv);
}

/* What is trusted without authentication (config_print() shows it for -n). */
static void
serve_trust_notes(const struct config *cfg)
{
	const char **levels;
	char **notes = config_trust_notes(cfg, &levels);
	int i;

	for (i = 0; notes[i] != NULL; i++) {
		if (strcmp(levels[i], "warn") == 0)
			log_warnx("serve %s", notes[i]);
		else
			log_info("serve %s", notes[i]);
	}
	g_strfreev(notes);
	g_free(levels);
}

/*
 * SIGHUP's new configuration, or NULL with *err: it must load, its limits
 * must compute, and a rules file the workers could not load must not
 * reach them.
 */
static struct config *
serve_reload_load(const struct serve *sv, char **err)
{
	struct config *cfg;
	struct conn_limits cl;

	if ((cfg = config_load(sv->path, err)) == NULL)
		return NULL;
	if (conn_limits_compute(cfg, &cl, err) == -1 ||
	    (sv->pipeline != NULL && parser_config_check(cfg, err) < 0)) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
serve_sighup(evutil_socket_t sig, short ev, void *arg)
{
	struct serve *sv = arg;
	struct config *cfg;
	char *err = NULL;

	(void)sig;
	(void)ev;
	if ((cfg = serve_reload_load(sv, &err)) == NULL) {
		log_warnx("serve event=reload-failed error=\"%s\" note=\"keeping the running config\"",
		    err);
		g_free(err);
		return;
	}
	if (strcmp(cfg->spool_dir, sv->cfg->spool_dir) != 0)
		log_warnx("serve event=reload note=\"spool.dir changes need a restart\"");
	if (g_strcmp0(cfg->store_conninfo, sv->cfg->store_conninfo) != 0)
		log_warnx("serve event=reload note=\"store.conninfo changes need a restart\"");
	log_set_level_name(cfg->log_level);
	log_set_format_name(cfg->log_format);
	g_ptr_array_add(sv->configs, cfg);
	sv->cfg = cfg;
	spool_set_min_free(sv->spool, (uint64_t)cfg->spool_min_free_mb << 20);
	smtp_server_reload(sv->smtp, cfg);
	/* Classification and policy; the lookup side's actions, tenants and
	 * token (its listeners keep their start-up addresses). */
	if (sv->pipeline != NULL)
		pipeline_reload(sv->pipeline, cfg);
	if (sv->lookup != NULL)
		lookup_reload(sv->lookup, cfg);
	webhook_reload(sv->webhook, cfg);
	log_info("serve event=reloaded config=%s", sv->path);
	serve_trust_notes(cfg);
}

/* serve --connect: PostgreSQL answers and the schema is the binary's. */
static int
serve_check_database(const struct config *cfg, char **err)
{
	PGconn *conn;
	int v;

	if (*cfg->store_conninfo == '\0') {
		*err = g_strdup_printf("%s: [store] conninfo is empty: nothing to connect to", cfg->path);
		return -1;
	}
	if ((conn = pg_connect(cfg->store_conninfo, err)) == NULL ||
	    (v = migrate_current(conn, err)) < 0) {
		char *m = g_strdup_printf("%s: store.conninfo: %s", cfg->path, g_strchomp(*err));

		g_free(*err);
		*err = m;
		PQfinish(conn);
		return -1;
	}
	PQfinish(conn);
	if (v != MIGRATE_LATEST) {
		*err = g_strdup_printf("the database schema is at version %d, this binary's at %d: %s",
		    v, MIGRATE_LATEST, v < MIGRATE_LATEST ? "run \"rebound migrate\"" :
		    "the database is newer than this binary");
		return -1;
	}
	return 0;
}

/*
 * Everything "serve -n" promises beyond the syntax: the files and the spool
 * usable, the rules loadable (their own FILE:LINE), and with --connect the
 * database.
 */
static int
serve_check(const struct config *cfg, int connect, char **err)
{
	if (config_check_paths(cfg, err) < 0 || parser_config_check(cfg, err) < 0)
		return -1;
	return connect ? serve_check_database(cfg, err) : 0;
}

static int serve_run(const char *path, int check_only, int connect, int allow_root);

int
cmd_serve(int argc, char **argv)
{
	gboolean check_only = FALSE, connect = FALSE, allow_root = FALSE;
	const GOptionEntry entries[] = {
		{ "check", 'n', 0, G_OPTION_ARG_NONE, &check_only, "check the configuration (the "
		    "rules file, the spool and the TLS files too), print the effective settings and "
		    "exit: 0 usable, 1 not", NULL },
		{ "connect", 0, 0, G_OPTION_ARG_NONE, &connect, "with -n: also check that PostgreSQL "
		    "answers and every migration is applied", NULL },
		{ "allow-root", 0, 0, G_OPTION_ARG_NONE, &allow_root, "run as root without [smtp] "
		    "user (parser workers still drop to nobody)", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	char *path = NULL;
	int rc;

	if ((rc = cli_options(&argc, &argv, "", "Run the daemon in the foreground: SMTP, the "
	    "spool, the parser workers, the store and the lookup servers.",
	    "SIGTERM or SIGINT: stop accepting, let sessions finish ([smtp] shutdown_grace), "
	    "exit 0.  SIGHUP: read the configuration again.", entries, CLI_DEFAULT_CONFIG,
	    &path)) != 0)
		return rc;
	if (argc != 1)
		rc = cli_usage_error("serve", "unexpected argument \"%s\"", argv[1]);
	else if (connect && !check_only)
		rc = cli_usage_error("serve", "--connect goes with -n");
	else
		rc = serve_run(path, check_only, connect, allow_root);
	g_free(path);
	return rc;
}

/* Step 1: the configuration; every error is FILE:LINE on stderr and -1. */
static int
serve_load(struct serve *sv, int connect, struct conn_limits *limits)
{
	char *err = NULL;

	if ((sv->cfg = config_load(sv->path, &err)) == NULL ||
	    serve_check(sv->cfg, connect, &err) < 0) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		config_free(sv->cfg);
		return -1;
	}
	if (conn_limits_compute(sv->cfg, limits, &err) == -1) {
		fprintf(stderr, "rebound: %s: %s\n", sv->path, err);
		g_free(err);
		config_free(sv->cfg);
		return -1;
	}
	return 0;
}

/* Parsing mail from the Internet as uid 0 is never the default. */
static int
serve_root_ok(const struct serve *sv, int allow_root)
{
	if (geteuid() != 0 || (sv->cfg->smtp_user != NULL && *sv->cfg->smtp_user != '\0'))
		return 1;
	if (!allow_root) {
		fprintf(stderr, "rebound: %s: refusing to run as root: set [smtp] user (root "
		    "binds the ports, then becomes that user) or pass --allow-root\n", sv->path);
		return 0;
	}
	log_warnx("serve event=running-as-root note=\"--allow-root without [smtp] user\"");
	return 1;
}

/*
 * Steps 1b to 5: the TLS key reader, the listeners, the SMTP server, the
 * privileges, the spool, and with a store its pipeline, webhook and lookup
 * servers.  On failure what was started stays in sv for serve_teardown().
 */
static int
serve_start(struct serve *sv, char **err)
{
	GPtrArray *bound;

	/*
	 * 1b. The TLS key reader: [smtp] user cannot read a root-only key at
	 * SIGHUP, so a root helper reads the start paths for it.  Forked now,
	 * before any thread or listener exists.
	 */
	if (serve_will_drop(sv->cfg) && sv->cfg->smtp_tls_cert != NULL) {
		if ((sv->keys = tls_keys_start(sv->cfg->smtp_tls_cert, sv->cfg->smtp_tls_key,
		    err)) == NULL)
			return -1;
		log_info("serve event=tls-key-reader cert=%s key=%s", sv->cfg->smtp_tls_cert,
		    sv->cfg->smtp_tls_key);
	}

	/* 2. Bind the listeners: the only step that needs privileges (with the TLS key). */
	if ((bound = smtp_bind(sv->cfg, err)) == NULL)
		return -1;
	/* 3. Event base and SMTP server (reads the certificate and key while still root). */
	if ((sv->base = event_base_new()) == NULL) {
		*err = g_strdup("event_base_new failed");
		g_ptr_array_unref(bound);
		return -1;
	}
	if ((sv->smtp = smtp_server_new(sv->base, sv->cfg, bound, err)) == NULL)
		return -1;	/* it freed bound */
	if (sv->keys != NULL)
		smtp_server_set_tls_keys(sv->smtp, sv->keys);
	/* 4. Drop privileges before touching any input. */
	if (serve_drop_privileges(sv->cfg) == -1) {
		*err = g_strdup("cannot drop privileges");
		return -1;
	}
	/* 5. Spool: what is left from the last run stays there for processing. */
	if ((sv->spool = spool_open(sv->cfg->spool_dir, err)) == NULL)
		return -1;
	spool_set_min_free(sv->spool, (uint64_t)sv->cfg->spool_min_free_mb << 20);
	log_info("spool event=open dir=%s waiting=%zu", sv->cfg->spool_dir, spool_count(sv->spool));

	/*
	 * The store pipeline: it calls spool_set_notify() itself, hands every
	 * entry of spool_list() to processing again, runs off this thread, and
	 * may call smtp_server_set_backlog_full(sv->smtp, 1) while it lags.
	 */
	if (*sv->cfg->store_conninfo == '\0') {
		log_warnx("store event=disabled note=\"[store] conninfo is empty: spool only\"");
		return 0;
	}
	if ((sv->pipeline = pipeline_start(sv->cfg, sv->spool, err)) == NULL ||
	    (sv->webhook = webhook_start(sv->cfg, err)) == NULL)
		return -1;
	/*
	 * Lookup servers (socketmap, policy, HTTP API) share the event base;
	 * they need the database for their index, so they run only with a store.
	 */
	if ((sv->lookup = lookup_start(sv->cfg, sv->base, err)) == NULL)
		return -1;
	return 0;
}

/* Step 6: the signal handlers, then SMTP accepts and the loop runs till shutdown. */
static int
serve_dispatch(struct serve *sv, const sigset_t *held, char **err)
{
	struct event *ev_term, *ev_int, *ev_hup;
	int rc = -1;

	ev_term = evsignal_new(sv->base, SIGTERM, serve_sigterm, sv);
	ev_int = evsignal_new(sv->base, SIGINT, serve_sigterm, sv);
	ev_hup = evsignal_new(sv->base, SIGHUP, serve_sighup, sv);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);
	pthread_sigmask(SIG_UNBLOCK, held, NULL);
	if (smtp_server_start(sv->smtp, sv->spool, err) != -1) {
		log_info("serve event=started pid=%d", (int)getpid());
		event_base_dispatch(sv->base);
		rc = 0;
	}
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	return rc;
}

/*
 * Shutdown, in reverse of start-up: SMTP sessions are gone (or the grace ran
 * out), so the lookup servers, the webhook and the pipeline stop before the
 * spool closes.
 */
static void
serve_teardown(struct serve *sv)
{
	lookup_free(sv->lookup);
	sv->lookup = NULL;
	webhook_stop(sv->webhook);
	sv->webhook = NULL;
	pipeline_stop(sv->pipeline);
	sv->pipeline = NULL;
	if (sv->spool != NULL)
		spool_close(sv->spool);	/* joins the writer: no completion arrives later */
	sv->spool = NULL;
	if (sv->smtp != NULL)
		smtp_server_free(sv->smtp);
	sv->smtp = NULL;
	tls_keys_free(sv->keys);	/* the helper sees EOF and exits */
	sv->keys = NULL;
}

static int
serve_run(const char *path, int check_only, int connect, int allow_root)
{
	struct serve sv;
	struct conn_limits limits;
	sigset_t held;
	char *err = NULL;
	int rc = 1;

	memset(&sv, 0, sizeof sv);
	sv.path = path;

	conn_limits_raise_nofile();
	if (serve_load(&sv, connect, &limits) == -1)
		return 1;
	if (check_only) {
		config_print(sv.cfg, stdout);
		config_free(sv.cfg);
		return 0;
	}
	if (!serve_root_ok(&sv, allow_root)) {
		config_free(sv.cfg);
		return 1;
	}
	log_set_level_name(sv.cfg->log_level);
	log_set_format_name(sv.cfg->log_format);
	serve_trust_notes(sv.cfg);
	log_info("serve event=limits nofile=%ld reserved=%ld smtp_sessions=%ld http=%ld "
	    "socketmap=%ld policy=%ld", limits.nofile, limits.reserve, limits.smtp, limits.http,
	    limits.socketmap, limits.policy);
	sv.configs = g_ptr_array_new_with_free_func((GDestroyNotify)config_free);
	g_ptr_array_add(sv.configs, sv.cfg);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * The port answers from step 2 on, but the handlers only exist from
	 * step 6: hold the signals till then (threads started meanwhile keep
	 * them blocked), so a SIGTERM as soon as the port answers is still a
	 * clean shutdown rather than death by the default action.
	 */
	sigemptyset(&held);
	sigaddset(&held, SIGTERM);
	sigaddset(&held, SIGINT);
	sigaddset(&held, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &held, NULL);

	if (serve_start(&sv, &err) == 0 && serve_dispatch(&sv, &held, &err) == 0) {
		serve_teardown(&sv);
		log_info("serve event=stopped");
		rc = 0;
	} else {
		log_warnx("serve event=start-failed error=\"%s\"", err ? err : "");
		fprintf(stderr, "rebound: %s\n", err ? err : "start-up failed");
		g_free(err);
		serve_teardown(&sv);
	}
	if (sv.base != NULL)
		event_base_free(sv.base);
	g_ptr_array_unref(sv.configs);
	return rc;
}
