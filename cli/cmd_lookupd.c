/*
 * cmd_lookupd.c - "rebound lookupd -c FILE": only the lookup servers and
 * the HTTP API (see lookup/lookup.h), for a relay host that receives no
 * bounces.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include <event2/event.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/conn_limits.h"
#include "common/log.h"
#include "lookup/lookup.h"

struct lookupd {
	const char *path;
	GPtrArray *configs;		/* every one loaded: requests may still read an old one */
	struct lookup *lk;
};

/* SIGHUP: the new configuration for what lookup_reload() takes; a bad file changes nothing. */
static void
lookupd_sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct lookupd *ld = arg;
	struct config *cfg;
	char *err = NULL;

	(void)sig;
	(void)what;
	if ((cfg = config_load(ld->path, &err)) == NULL) {
		log_warnx("lookupd event=reload-failed error=\"%s\" note=\"keeping the running config\"",
		    err);
		g_free(err);
		return;
	}
	log_set_level_name(cfg->log_level);
	log_set_format_name(cfg->log_format);
	g_ptr_array_add(ld->configs, cfg);
	if (ld->lk != NULL)
		lookup_reload(ld->lk, cfg);
}

static void
lookupd_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("lookupd signal=%d action=stop", (int)sig);
	event_base_loopbreak(arg);
}

int
cmd_lookupd(int argc, char **argv)
{
	char *path = NULL;
	struct config *cfg;
	struct event_base *base;
	struct event *sigterm, *sigint, *sighup;
	struct lookupd ld;
	char *err = NULL;
	int rc;

	if ((rc = cli_options(&argc, &argv, "", "Run only the lookup servers (Postfix socketmap "
	    "and policy service, HTTP API) in the foreground, for a relay host where the daemon "
	    "does not run.  SIGHUP reads the configuration again.", NULL, NULL,
	    CLI_DEFAULT_CONFIG, &path)) != 0)
		return rc;
	if (argc != 1) {
		g_free(path);
		return cli_usage_error("lookupd", "unexpected argument \"%s\"", argv[1]);
	}
	/* parse config -> event base -> index and listeners -> dispatch */
	conn_limits_raise_nofile();
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		g_free(path);
		return 1;
	}
	log_set_level_name(cfg->log_level);
	log_set_format_name(cfg->log_format);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	sigterm = evsignal_new(base, SIGTERM, lookupd_signal_cb, base);
	sigint = evsignal_new(base, SIGINT, lookupd_signal_cb, base);
	ld.path = path;
	ld.lk = NULL;
	ld.configs = g_ptr_array_new_with_free_func((GDestroyNotify)config_free);
	g_ptr_array_add(ld.configs, cfg);
	sighup = evsignal_new(base, SIGHUP, lookupd_sighup_cb, &ld);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sighup, NULL);
	if ((ld.lk = lookup_start(cfg, base, &err)) == NULL) {
		log_warnx("lookupd error=\"%s\"", err);
		g_free(err);
		rc = 1;
	} else {
		log_info("lookupd state=ready entries=%zu", index_count(lookup_index(ld.lk)));
		event_base_dispatch(base);
		lookup_free(ld.lk);
	}
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_base_free(base);
	g_ptr_array_free(ld.configs, TRUE);	/* cfg among them */
	g_free(path);
	return rc;
}
