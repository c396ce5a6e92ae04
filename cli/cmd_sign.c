/*
 * cmd_sign.c - "rebound sign -c FILE ADDRESS [--domain DOMAIN]": print the
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
#include "common/config.h"
#include "common/signing.h"

static int
sign_usage(void)
{
	fprintf(stderr, "usage: rebound sign -c FILE ADDRESS [--domain DOMAIN]\n");
	return 2;
}

int
cmd_sign(int argc, char **argv)
{
	const char *path = NULL, *addr = NULL, *domain = NULL;
	struct config *cfg;
	char *err = NULL, *out;
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			domain = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: rebound sign -c FILE ADDRESS [--domain DOMAIN]\n"
			    "Print the signed return path for mail to ADDRESS, keyed by [signing] key.\n");
			return 0;
		} else if (argv[i][0] != '-' && addr == NULL)
			addr = argv[i];
		else
			return sign_usage();
	}
	if (path == NULL || addr == NULL)
		return sign_usage();
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		return 1;
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
	return rc;
}
