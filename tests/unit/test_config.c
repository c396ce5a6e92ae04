/* test_config.c - config validation: errors carry FILE:LINE, ranges, listen syntax, the shipped example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "common/config.h"
#include "unit.h"

static char *tmpdir;

static char *
write_conf(const char *text)
{
	return unit_write(tmpdir, "t.conf", text);
}

static void
expect_error(const char *text, const char *line_tag, const char *fragment)
{
	char *path = write_conf(text), *err = NULL, *want;
	struct config *cfg = config_load(path, &err);

	g_assert_null(cfg);
	g_assert_nonnull(err);
	want = g_strdup_printf("%s:%s: ", path, line_tag);
	if (!g_str_has_prefix(err, want))
		g_error("error \"%s\" does not start with \"%s\"", err, want);
	g_assert_nonnull(strstr(err, fragment));
	g_free(want);
	g_free(err);
	g_free(path);
}

/* A line GKeyFile cannot parse is named by its number. */
static void
test_syntax_error_line(void)
{
	expect_error("[smtp]\nlisten = 127.0.0.1:25\n\n# note\nbogus line\n", "5", "bogus line");
	expect_error("# first\nlisten = 127.0.0.1:25\n", "2", "");
	expect_error("[smtp]\n[http\n", "2", "");
}

/* The printed settings ("serve -n") never carry the API token or a
 * database password, in either conninfo form. */
static void
test_secrets_masked(void)
{
	static const char *const confs[] = {
		"[http]\ntoken = tok-SECRET-1\n[store]\nconninfo = host=/tmp password=SECRET2 dbname=x\n",
		"[store]\nconninfo = host=/tmp password = 'SEC RET\\\\'2' dbname=x\n",
		"[store]\nconninfo = postgresql://bob:SECRET3@db.example/rebound\n",
		/* a token with ':' is no "form:key": none of it is shown */
		"[http]\ntoken = SECRET4:more\n[store]\nconninfo = dbname=x\n",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(confs); i++) {
		char *path = write_conf(confs[i]), *err = NULL, *out = NULL;
		struct config *cfg = config_load(path, &err);
		size_t len;
		FILE *fp;

		if (cfg == NULL)
			g_error("%s", err);
		fp = open_memstream(&out, &len);
		config_print(cfg, fp);
		fclose(fp);
		if (strstr(out, "SECRET") || strstr(out, "RET"))
			g_error("secret printed:\n%s", out);
		g_assert_nonnull(strstr(out, "(masked)"));
		g_assert_nonnull(strstr(out, i == 2 ? "postgresql://bob:(masked)@db.example/rebound" :
		    "dbname=x"));
		free(out);
		config_free(cfg);
		g_free(path);
	}
}

static void
test_unknown_key(void)
{
	expect_error("[smtp]\n# comment\nhostname = a\nlisten_on = 1.2.3.4:25\n", "4",
	    "unknown key \"listen_on\" in [smtp]");
}

static void
test_unknown_section(void)
{
	expect_error("[smtp]\nhostname = a\n\n[smpt]\nx = 1\n", "4", "unknown section [smpt]");
}

static void
test_int_range(void)
{
	expect_error("[smtp]\nmax_command_line = 100\n", "2", "out of range [512, 65536]");
	expect_error("[smtp]\n\nmax_recipients = 100001\n", "3", "out of range");
	expect_error("[smtp]\nidle_timeout = 5s\n", "2", "not an integer");
	expect_error("[spool]\nhigh_water = 0\n", "2", "out of range");
}

static void
test_bad_listen(void)
{
	expect_error("[smtp]\nhostname = a\nlisten = 127.0.0.1:2525;localhost\n", "3",
	    "\"localhost\" is not addr:port");
	expect_error("[smtp]\nlisten = 127.0.0.1:99999\n", "2", "not addr:port");
	expect_error("[smtp]\nlisten = [::1:25\n", "2", "not addr:port");
}

/* [tenants] domains are matched as [smtp] domains are: A-labels on both
 * sides, ".d" for the subdomains of d; a plain "d" also covers its
 * subdomains, the most specific entry winning. */
static void
test_tenants(void)
{
	char *path = write_conf("[tenants]\nacme = .acme.example;B\xc3\xbc" "cher.Example\n"
	    "beta = beta.example\nexact = x.acme.example\n"), *err = NULL;
	struct config *cfg = config_load(path, &err);

	if (cfg == NULL)
		g_error("%s", err);
	g_assert_cmpstr(config_tenant_for_domain(cfg, "mail.acme.example"), ==, "acme");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "a.b.ACME.example"), ==, "acme");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "acme.example"), ==, "default");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "x.acme.example"), ==, "exact");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "xn--bcher-kva.example"), ==, "acme");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "b\xc3\xbc" "cher.example"), ==, "acme");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "beta.example"), ==, "beta");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "eu.beta.example"), ==, "beta");
	g_assert_cmpstr(config_tenant_for_domain(cfg, "other.example"), ==, "default");
	config_free(cfg);
	g_free(path);
	expect_error("[tenants]\nacme = a.example;exa mple\n", "2",
	    "tenants.acme: \"exa mple\" is not a domain name");
}

static void
test_choices_and_pairs(void)
{
	expect_error("[smtp]\nbare_newlines = strip\n", "2", "not one of reject|accept");
	expect_error("[smtp]\ntls_cert = /x.pem\n", "2", "go together");
	expect_error("[smtp]\nlisten_tls = 127.0.0.1:4650\n", "2", "needs smtp.tls_cert");
	expect_error("[smtp]\nfbl_addresses = fbl.example.com\n", "2", "is not an address");
	expect_error("[fbl]\nproviders = isp.example;fbl@isp.example\n", "2",
	    "fbl.providers: \"fbl@isp.example\" is not a domain name");
	expect_error("[fbl]\n\ndkim_key_file = /nonexistent/keys\n", "3",
	    "fbl.dkim_key_file: \"/nonexistent/keys\" is not a readable file");
	expect_error("[signing]\nunsigned_domains = a.example\n", "2",
	    "signing.unsigned_domains needs signing.key");
}

static void
test_valid_values(void)
{
	char *path = write_conf("[smtp]\nlisten = 127.0.0.1:25;[::1]:25\n"
	    "domains = a.example; .b.example\nmax_recipients = 1000\n"
	    "bare_newlines = accept\n[spool]\ndir = /tmp/s\n");
	char *err = NULL;
	struct config *cfg = config_load(path, &err);

	g_assert_nonnull(cfg);
	g_assert_null(err);
	g_assert_cmpstr(cfg->smtp_listen[1], ==, "[::1]:25");
	g_assert_cmpstr(cfg->smtp_domains[1], ==, ".b.example");
	g_assert_cmpint(cfg->smtp_max_recipients, ==, 1000);
	g_assert_cmpstr(cfg->smtp_bare_newlines, ==, "accept");
	g_assert_cmpint(cfg->smtp_max_command_line, ==, 512);	/* default */
	config_free(cfg);
	g_free(path);
}

static void
test_shipped_example_loads(void)
{
	char *err = NULL;
	struct config *cfg = config_load("conf/rebound.conf", &err);

	if (cfg == NULL)
		g_error("conf/rebound.conf: %s", err);
	g_assert_cmpstr(cfg->smtp_bare_newlines, ==, "reject");
	g_assert_nonnull(cfg->smtp_domains[0]);
	g_assert_nonnull(cfg->smtp_fbl_addresses[0]);
	/* Unset: the rules shipped beside the binary (conf/ of this tree). */
	g_assert_true(g_path_is_absolute(cfg->parser_rules));
	g_assert_true(g_file_test(cfg->parser_rules, G_FILE_TEST_IS_REGULAR));
	g_assert_true(g_str_has_suffix(cfg->parser_rules, "/conf/rules.conf"));
	config_free(cfg);
}

/* Relative paths are taken from the config file's directory, not the
 * current one (a service starts in /), and absolute ones stay. */
static void
test_relative_paths(void)
{
	char *path = write_conf("[smtp]\ntls_cert = certs/c.pem\ntls_key = /k.pem\n"
	    "[spool]\ndir = ../spool\n[parser]\nrules = r.conf\n"
	    "[signing]\nkey = file:keys/s.key\nverify_keys = file:old.key;hex:00\n");
	char *cwd = g_get_current_dir(), *err = NULL, *want, *parent;
	struct config *cfg;

	g_assert_cmpint(chdir("/"), ==, 0);
	cfg = config_load(path, &err);
	g_assert_cmpint(chdir(cwd), ==, 0);
	/* The key file does not exist: the error names it where it belongs. */
	g_assert_null(cfg);
	want = g_build_filename(tmpdir, "keys", "s.key", NULL);
	if (strstr(err, want) == NULL)
		g_error("\"%s\" does not name %s", err, want);
	g_free(want);
	g_free(err);
	g_free(path);

	path = write_conf("[smtp]\ntls_cert = certs/c.pem\ntls_key = /k.pem\n"
	    "[spool]\ndir = ../spool\n[parser]\nrules = r.conf\n");
	g_assert_cmpint(chdir("/"), ==, 0);
	cfg = config_load(path, &err);
	g_assert_cmpint(chdir(cwd), ==, 0);
	if (cfg == NULL)
		g_error("%s", err);
	want = g_build_filename(tmpdir, "certs", "c.pem", NULL);
	g_assert_cmpstr(cfg->smtp_tls_cert, ==, want);
	g_free(want);
	g_assert_cmpstr(cfg->smtp_tls_key, ==, "/k.pem");
	want = g_build_filename(tmpdir, "r.conf", NULL);
	g_assert_cmpstr(cfg->parser_rules, ==, want);
	g_free(want);
	parent = g_path_get_dirname(tmpdir);
	want = g_build_filename(parent, "spool", NULL);
	g_assert_cmpstr(cfg->spool_dir, ==, want);
	g_free(want);
	g_free(parent);
	config_free(cfg);
	g_free(path);
	g_free(cwd);
}

static const struct unit_test tests[] = {
	{ "/config/syntax-error-line", test_syntax_error_line },
	{ "/config/unknown-key", test_unknown_key },
	{ "/config/secrets-masked", test_secrets_masked },
	{ "/config/unknown-section", test_unknown_section },
	{ "/config/int-range", test_int_range },
	{ "/config/bad-listen", test_bad_listen },
	{ "/config/choices-and-pairs", test_choices_and_pairs },
	{ "/config/valid-values", test_valid_values },
	{ "/config/tenants", test_tenants },
	{ "/config/shipped-example-loads", test_shipped_example_loads },
	{ "/config/relative-paths", test_relative_paths },
};

int
main(int argc, char **argv)
{
	return unit_main_tmpdir(argc, argv, "rebound-config-XXXXXX", &tmpdir, tests,
	    G_N_ELEMENTS(tests));
}
