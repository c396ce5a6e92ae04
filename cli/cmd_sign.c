/*
 * cmd_sign.c - "rebound sign ADDRESS [--domain DOMAIN]": print the
 * signed return path (signing.h) a sender puts on mail to ADDRESS.
 *
 * The return-path domain is --domain, else [signing] domain, else the first
 * [signing] required_domains entry that names one domain (no leading dot),
 * else the first such [smtp] domains entry that signing covers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/signing.h"

int
cmd_sign(int argc, char **argv)
{
	char *path = NULL, *opt_domain = NULL, *err = NULL, *out;
	const GOptionEntry entries[] = {
		{ "domain", 'd', 0, G_OPTION_ARG_STRING, &opt_domain,
		    "return-path domain after the @ (default: [signing] domain)", "DOMAIN" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	const char *addr, *domain;
	struct config *cfg = NULL;
	int i, rc;

	if ((rc = cli_options(&argc, &argv, "ADDRESS", "Print the signed return path for mail "
	    "to ADDRESS, made with [signing] key.", NULL, entries, CLI_DEFAULT_CONFIG, &path)) != 0)
		goto out;
	rc = 1;
	if (argc != 2) {
		rc = cli_usage_error("sign", argc < 2 ? "ADDRESS is missing" : "one ADDRESS only");
		goto out;
	}
	addr = argv[1];
	domain = opt_domain;
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		goto out;
	}
	if (cfg->signing_keys == NULL) {
		fprintf(stderr, "rebound: %s: [signing] key is not set\n", path);
		goto out;
	}
	if (domain == NULL)
		domain = cfg->signing_domain;
	for (i = 0; domain == NULL && cfg->signing_required_domains &&
	    cfg->signing_required_domains[i]; i++)
		if (cfg->signing_required_domains[i][0] != '.')
			domain = cfg->signing_required_domains[i];
	/* else the first return-path domain that signing covers */
	for (i = 0; domain == NULL && cfg->smtp_domains && cfg->smtp_domains[i]; i++) {
		char *probe = g_strdup_printf("x@%s", cfg->smtp_domains[i]);
		if (cfg->smtp_domains[i][0] != '.' && signing_required(cfg, probe))
			domain = cfg->smtp_domains[i];
		g_free(probe);
	}
	if (domain == NULL) {
		fprintf(stderr, "rebound: %s: no return-path domain: set [signing] domain or "
		    "give --domain\n", path);
		goto out;
	}
	if ((out = signing_sign(cfg->signing_keys, addr, domain, signing_day(time(NULL)),
	    &err)) == NULL) {
		fprintf(stderr, "rebound: cannot sign \"%s\": %s\n", addr, err);
		g_free(err);
		goto out;
	}
	printf("%s\n", out);
	g_free(out);
	rc = 0;
out:
	config_free(cfg);
	g_free(path);
	g_free(opt_domain);
	return rc;
}
