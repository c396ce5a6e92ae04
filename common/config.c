/* config.c - the loader and its checks, over config_params.c's table; see config.h. */
#include "common/config_int.h"
#include "common/signing.h"
#include "common/webhook_url.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GKeyFile keeps no line numbers, so find "key =" below "[section]" ourselves. */
static int
config_line_of(const char *text, const char *section, const char *key)
{
	char **lines = g_strsplit(text ? text : "", "\n", -1);
	int found = 0, in_section = 0;
	int i;

	for (i = 0; lines[i] != NULL && !found; i++) {
		char *l = g_strstrip(lines[i]);
		if (l[0] == '[') {
			char *end = strchr(l, ']');
			in_section = end && (size_t)(end - l - 1) == strlen(section) &&
			    strncmp(l + 1, section, end - l - 1) == 0;
			if (key == NULL && in_section)
				found = i + 1;
			continue;
		}
		if (in_section && key != NULL && g_str_has_prefix(l, key)) {
			const char *r = l + strlen(key);
			while (*r == ' ' || *r == '\t')
				r++;
			if (*r == '=')
				found = i + 1;
		}
	}
	g_strfreev(lines);
	return found;
}

static char **
config_split_list(const char *value)
{
	char **parts = g_strsplit_set(value, ";,", -1);
	GPtrArray *out = g_ptr_array_new();
	int i;

	for (i = 0; parts[i] != NULL; i++) {
		char *p = g_strstrip(parts[i]);
		if (*p != '\0')
			g_ptr_array_add(out, g_strdup(p));
	}
	g_ptr_array_add(out, NULL);
	g_strfreev(parts);
	return (char **)g_ptr_array_free(out, FALSE);
}

/*
 * A [tenants] domain as the address code writes domains: lower-case IDNA
 * A-labels, a leading '.' kept (subdomains only, as in [smtp] domains).
 * NULL when it is no domain name.
 */
static char *
config_tenant_key(const char *dom)
{
	gboolean sub = dom[0] == '.';
	const char *d = sub ? dom + 1 : dom;
	char *lower, *ascii, *out;
	size_t n = strlen(d);

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0)
		return NULL;
	lower = g_utf8_validate(d, (gssize)n, NULL) ? g_utf8_strdown(d, (gssize)n) : NULL;
	ascii = lower == NULL ? NULL : g_str_is_ascii(lower) ? g_strdup(lower) :
	    g_hostname_to_ascii(lower);
	g_free(lower);
	for (const char *c = ascii; c != NULL && *c != '\0'; c++)
		if (!g_ascii_isalnum(*c) && *c != '.' && *c != '-' && *c != '_') {
			g_free(ascii);
			return NULL;
		}
	if (ascii == NULL || *ascii == '\0' || *ascii == '.') {
		g_free(ascii);
		return NULL;
	}
	out = sub ? g_strconcat(".", ascii, NULL) : g_strdup(ascii);
	g_free(ascii);
	return out;
}

/* "tenant = domain;domain" of [tenants]; returns an error (caller frees) or NULL. */
static char *
config_set_tenant(struct config *cfg, const char *tenant, const char *value)
{
	char **doms = config_split_list(value);
	char *msg = NULL;
	int k;

	for (k = 0; doms[k] && msg == NULL; k++) {
		char *key = config_tenant_key(doms[k]);

		if (key == NULL)
			msg = g_strdup_printf("tenants.%s: \"%s\" is not a domain name", tenant,
			    doms[k]);
		else
			g_hash_table_replace(cfg->tenants, key, g_strdup(tenant));
	}
	g_strfreev(doms);
	return msg;
}

/* Set one parameter from its text; returns an error message (caller frees) or NULL. */
static char *
config_set(struct config *cfg, const struct cfg_param *p, const char *value)
{
	switch (p->type) {
	case CFG_STR:
	case CFG_PATH: {
		char **dst = FIELD(cfg, p, char *);
		if (p->choices != NULL) {
			char **ch = g_strsplit(p->choices, "|", -1);
			gboolean ok = g_strv_contains((const char *const *)ch, value);
			g_strfreev(ch);
			if (!ok)
				return g_strdup_printf("%s.%s: \"%s\" is not one of %s",
				    p->section, p->key, value, p->choices);
		}
		g_free(*dst);
		*dst = g_strdup(value);
		return NULL;
	}
	case CFG_INT: {
		int64_t *dst = FIELD(cfg, p, int64_t);
		char *end;
		long long v;
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0')
			return g_strdup_printf("%s.%s: \"%s\" is not an integer", p->section, p->key, value);
		if (v < p->min || v > p->max)
			return g_strdup_printf("%s.%s: %lld is out of range [%lld, %lld]", p->section,
			    p->key, v, (long long)p->min, (long long)p->max);
		*dst = v;
		return NULL;
	}
	case CFG_BOOL: {
		gboolean *dst = FIELD(cfg, p, gboolean);
		if (g_ascii_strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
		    g_ascii_strcasecmp(value, "yes") == 0)
			*dst = TRUE;
		else if (g_ascii_strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
		    g_ascii_strcasecmp(value, "no") == 0)
			*dst = FALSE;
		else
			return g_strdup_printf("%s.%s: \"%s\" is not a boolean (true/false)",
			    p->section, p->key, value);
		return NULL;
	}
	case CFG_LIST: {
		char ***dst = FIELD(cfg, p, char **);
		g_strfreev(*dst);
		*dst = config_split_list(value);
		return NULL;
	}
	}
	g_assert_not_reached();
}

static int
config_valid_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s)
		return 0;
	if (s[0] == '[' && colon[-1] != ']')
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

/* Where an error is, for config_err(); returns msg. */
static char *
config_fail(const char **section, const char **key, const char *s, const char *k, char *msg)
{
	*section = s;
	*key = k;
	return msg;
}

/* Letters, digits, '.' and '-' (8-bit octets too with utf8), not first '.' or '-'. */
static int
config_domain_ok(const char *d, int utf8)
{
	gboolean ok = *d != '\0' && *d != '.' && *d != '-';

	for (; ok && *d; d++)
		ok = g_ascii_isalnum(*d) || *d == '.' || *d == '-' || (utf8 && (*d & 0x80));
	return ok;
}

/* Listeners, TLS files, the addresses taken at RCPT, webhook targets. */
static char *
config_check_endpoints(struct config *cfg, const char **section, const char **key)
{
	struct { char **v; const char *s, *k; } listens[] = {
		{ cfg->smtp_listen, "smtp", "listen" },
		{ cfg->smtp_listen_tls, "smtp", "listen_tls" },
		{ cfg->lookup_socketmap_listen, "lookup", "socketmap_listen" },
		{ cfg->lookup_policy_listen, "lookup", "policy_listen" },
		{ cfg->http_listen, "http", "listen" },
	};
	size_t i;
	int j;

	for (i = 0; i < G_N_ELEMENTS(listens); i++)
		for (j = 0; listens[i].v && listens[i].v[j]; j++)
			if (!config_valid_listen(listens[i].v[j]))
				return config_fail(section, key, listens[i].s, listens[i].k,
				    g_strdup_printf("%s.%s: \"%s\" is not addr:port",
				    listens[i].s, listens[i].k, listens[i].v[j]));
	if ((cfg->smtp_tls_cert == NULL) != (cfg->smtp_tls_key == NULL))
		return config_fail(section, key, "smtp", cfg->smtp_tls_cert ? "tls_cert" : "tls_key",
		    g_strdup("smtp.tls_cert and smtp.tls_key go together"));
	if (cfg->smtp_listen_tls && cfg->smtp_listen_tls[0] && cfg->smtp_tls_cert == NULL)
		return config_fail(section, key, "smtp", "listen_tls",
		    g_strdup("smtp.listen_tls needs smtp.tls_cert and smtp.tls_key"));
	for (j = 0; cfg->smtp_fbl_addresses && cfg->smtp_fbl_addresses[j]; j++)
		if (strchr(cfg->smtp_fbl_addresses[j], '@') == NULL)
			return config_fail(section, key, "smtp", "fbl_addresses",
			    g_strdup_printf("smtp.fbl_addresses: \"%s\" is not an address",
			    cfg->smtp_fbl_addresses[j]));
	for (j = 0; cfg->webhook_url && cfg->webhook_url[j]; j++) {
		struct webhook_url u;

		if (webhook_url_parse(cfg->webhook_url[j], &u) < 0)
			return config_fail(section, key, "webhook", "url",
			    g_strdup_printf("webhook.url: \"%s\" is not URL or TENANT=URL with an"
			    " http:// or https:// URL", cfg->webhook_url[j]));
		webhook_url_clear(&u);
		if (cfg->webhook_secret == NULL || *cfg->webhook_secret == '\0')
			return config_fail(section, key, "webhook", "url",
			    g_strdup("webhook.url needs webhook.secret (deliveries are signed)"));
	}
	return NULL;
}

/* What decides whether a report may suppress: [signing] and [fbl]. */
static char *
config_check_trust(struct config *cfg, const char **section, const char **key)
{
	char *e = NULL, *m;
	int j;

	if (cfg->signing_required_domains && cfg->signing_required_domains[0] &&
	    cfg->signing_key == NULL)
		return config_fail(section, key, "signing", "required_domains",
		    g_strdup("signing.required_domains needs signing.key"));
	if (cfg->signing_key == NULL && cfg->signing_unsigned_domains &&
	    cfg->signing_unsigned_domains[0])
		return config_fail(section, key, "signing", "unsigned_domains",
		    g_strdup("signing.unsigned_domains needs signing.key (without it every "
		    "domain is unsigned)"));
	for (j = 0; cfg->fbl_providers && cfg->fbl_providers[j]; j++)
		if (!config_domain_ok(cfg->fbl_providers[j], 1))
			return config_fail(section, key, "fbl", "providers",
			    g_strdup_printf("fbl.providers: \"%s\" is not a domain name (the "
			    "DKIM d= of the provider's reports)", cfg->fbl_providers[j]));
	if (cfg->fbl_dkim_key_file != NULL &&
	    !g_file_test(cfg->fbl_dkim_key_file, G_FILE_TEST_IS_REGULAR))
		return config_fail(section, key, "fbl", "dkim_key_file",
		    g_strdup_printf("fbl.dkim_key_file: \"%s\" is not a readable file",
		    cfg->fbl_dkim_key_file));
	if (cfg->signing_key == NULL && cfg->signing_verify_keys && cfg->signing_verify_keys[0])
		return config_fail(section, key, "signing", "verify_keys",
		    g_strdup("signing.verify_keys needs signing.key"));
	if (cfg->signing_domain != NULL && !config_domain_ok(cfg->signing_domain, 0))
		return config_fail(section, key, "signing", "domain",
		    g_strdup_printf("signing.domain: \"%s\" is not an ASCII domain name",
		    cfg->signing_domain));
	if (cfg->signing_key == NULL)
		return NULL;
	/* Decoded here so that "serve -n" finds a bad or short key, not the first RCPT. */
	signing_keys_free(cfg->signing_keys);
	cfg->signing_keys = signing_keys_new(cfg->signing_key, cfg->signing_verify_keys,
	    (int)cfg->signing_max_age_days, &e);
	if (cfg->signing_keys != NULL)
		return NULL;
	*section = "signing";
	*key = strstr(e, "verification key") == e ? "verify_keys" : "key";
	m = g_strdup_printf("signing.%s: %s", *key, e);
	g_free(e);
	return m;
}

/* Cross-field checks; returns an error (caller frees) and the key it concerns. */
static char *
config_check(struct config *cfg, const char **section, const char **key)
{
	GError *gerr = NULL;
	GRegex *re;
	char *m;

	if ((m = config_check_endpoints(cfg, section, key)) != NULL ||
	    (m = config_check_trust(cfg, section, key)) != NULL)
		return m;
	if (cfg->parser_verp_pattern == NULL)
		return NULL;
	if ((re = g_regex_new(cfg->parser_verp_pattern, 0, 0, &gerr)) == NULL) {
		m = g_strdup_printf("parser.verp_pattern: %s", gerr->message);
		g_error_free(gerr);
		return config_fail(section, key, "parser", "verp_pattern", m);
	}
	g_regex_unref(re);
	return NULL;
}

/*
 * A file shipped with Rebound, found from the running binary so that the
 * build tree and every PREFIX work: <bindir>/../share/rebound/NAME
 * (installed: PREFIX/sbin/rebound; PREFIX/lib/rebound/rebound-all looks
 * in <bindir>/../../share/rebound), else conf/NAME in the nearest of the
 * three directories above <bindir> (build/, build/san/ or
 * build/san/tests/ of a source tree), else
 * /usr/share/rebound/NAME, which is also the answer when none exists (so
 * that the error names the packaged location).
 */
char *
config_exe_dir(void)
{
	char *exe = g_file_read_link("/proc/self/exe", NULL);
	char *dir = exe != NULL ? g_path_get_dirname(exe) : NULL;

	g_free(exe);
	return dir;
}

char *
config_shipped_file(const char *name)
{
	char *dir = config_exe_dir();
	char *found = NULL, *f;

	if (dir != NULL) {
		gboolean libexec = g_str_has_suffix(dir, "/" CONFIG_LIBEXEC_DIR);

		f = g_build_filename(dir, libexec ? "../.." : "..", "share", "rebound", name, NULL);
		if (g_file_test(f, G_FILE_TEST_IS_REGULAR))
			found = g_canonicalize_filename(f, NULL);
		g_free(f);
	}
	for (int up = 0; dir != NULL && found == NULL && up < 3; up++) {
		char *parent = g_path_get_dirname(dir);

		g_free(dir);
		dir = parent;
		f = g_build_filename(dir, "conf", name, NULL);
		if (g_file_test(f, G_FILE_TEST_IS_REGULAR))
			found = f;
		else
			g_free(f);
	}
	g_free(dir);
	return found ? found : g_build_filename("/usr/share/rebound", name, NULL);
}

static void
config_replace(char **dst, char *v)
{
	g_free(*dst);
	*dst = v;
}

/* PATH, or PATH under dir when it is relative (caller frees). */
static char *
config_abs(const char *dir, const char *path)
{
	if (g_path_is_absolute(path))
		return g_strdup(path);
	return g_canonicalize_filename(path, dir);
}

/* A "file:PATH" key spec with PATH made absolute; other specs as they are. */
static char *
config_abs_keyspec(const char *dir, const char *spec)
{
	if (g_ascii_strncasecmp(spec, "file:", 5) == 0 && !g_path_is_absolute(spec + 5)) {
		char *p = config_abs(dir, spec + 5);
		char *out = g_strdup_printf("%.5s%s", spec, p);
		g_free(p);
		return out;
	}
	return g_strdup(spec);
}

/*
 * Relative paths in the file name places beside the file, whatever the
 * current directory: a service starts in /, "reprocess" from anywhere.
 */
static void
config_resolve_paths(struct config *cfg, GKeyFile *kf, const char *path)
{
	char *abs = g_canonicalize_filename(path, NULL);
	char *dir = g_path_get_dirname(abs);
	size_t i;
	int j;

	for (i = 0; i < cfg_nparams; i++) {
		const struct cfg_param *p = &cfg_params[i];
		char **v = FIELD(cfg, p, char *);

		if (p->type != CFG_PATH || *v == NULL ||
		    !g_key_file_has_key(kf, p->section, p->key, NULL))
			continue;
		config_replace(v, config_abs(dir, *v));
	}
	if (cfg->signing_key != NULL)
		config_replace(&cfg->signing_key, config_abs_keyspec(dir, cfg->signing_key));
	for (j = 0; cfg->signing_verify_keys && cfg->signing_verify_keys[j]; j++)
		config_replace(&cfg->signing_verify_keys[j],
		    config_abs_keyspec(dir, cfg->signing_verify_keys[j]));
	g_free(dir);
	g_free(abs);
}

struct config *
config_defaults(void)
{
	struct config *cfg = g_new0(struct config, 1);
	size_t i;

	for (i = 0; i < cfg_nparams; i++)
		if (cfg_params[i].def != NULL) {
			char *e = config_set(cfg, &cfg_params[i], cfg_params[i].def);
			if (e != NULL)
				g_error("bad built-in default: %s", e);
		}
	cfg->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	cfg->parser_rules = config_shipped_file("rules.conf");
	return cfg;
}

/*
 * The first line GKeyFile refuses to parse: neither blank, a comment, a
 * "[group]" nor "key = value", or a key before any group.  0 when every
 * line has one of those shapes (the error is in the bytes, e.g. bad UTF-8).
 */
static int
config_bad_line(const char *text)
{
	const char *p = text, *e;
	gboolean group = FALSE;
	int n;

	for (n = 1; *p != '\0'; n++, p = *e != '\0' ? e + 1 : e) {
		const char *q = p;

		for (e = p; *e != '\0' && *e != '\n'; e++)
			;
		while (q < e && g_ascii_isspace(*q))
			q++;
		if (q == e || *q == '#')
			continue;
		if (*q == '[') {
			const char *c = memchr(q, ']', e - q);

			if (c == NULL)
				return n;
			group = TRUE;
			continue;
		}
		if (memchr(q, '=', e - q) == NULL || *q == '=' || !group)
			return n;
	}
	return 0;
}

static char *
config_err(const char *path, const char *text, const char *section, const char *key,
    char *msg)
{
	int line = section ? config_line_of(text, section, key) : 0;
	char *out = line > 0 ? g_strdup_printf("%s:%d: %s", path, line, msg) :
	    g_strdup_printf("%s: %s", path, msg);
	g_free(msg);
	return out;
}

struct config *
config_load(const char *path, char **err)
{
	struct config *cfg;
	GKeyFile *kf;
	GError *gerr = NULL;
	char *text = NULL, **sections, *msg = NULL;
	const char *esec = NULL, *ekey = NULL;
	int i, j;

	*err = NULL;
	if (!g_file_get_contents(path, &text, NULL, &gerr)) {
		*err = g_strdup_printf("%s: %s", path, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	kf = g_key_file_new();
	if (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, &gerr)) {
		int line = config_bad_line(text);

		/* GKeyFile (GLib 2.74) names the line's text, not its number. */
		*err = line > 0 ? g_strdup_printf("%s:%d: %s", path, line, gerr->message) :
		    g_strdup_printf("%s: %s", path, gerr->message);
		g_error_free(gerr);
		g_key_file_free(kf);
		g_free(text);
		return NULL;
	}
	cfg = config_defaults();
	cfg->path = g_strdup(path);
	sections = g_key_file_get_groups(kf, NULL);
	for (i = 0; sections[i] != NULL && msg == NULL; i++) {
		char **keys;
		if (!config_section_known(sections[i])) {
			esec = sections[i];
			msg = g_strdup_printf("unknown section [%s]", sections[i]);
			break;
		}
		keys = g_key_file_get_keys(kf, sections[i], NULL, NULL);
		for (j = 0; keys[j] != NULL && msg == NULL; j++) {
			const struct cfg_param *p = config_find(sections[i], keys[j]);
			char *v = g_key_file_get_value(kf, sections[i], keys[j], NULL);
			g_strstrip(v);
			if (p == NULL && strcmp(sections[i], "tenants") == 0) {
				msg = config_set_tenant(cfg, keys[j], v);
			} else if (p == NULL) {
				msg = g_strdup_printf("unknown key \"%s\" in [%s]", keys[j], sections[i]);
			} else {
				msg = config_set(cfg, p, v);
			}
			if (msg != NULL) {
				esec = sections[i];
				ekey = keys[j];
				*err = config_err(path, text, esec, ekey, msg);
			}
			g_free(v);
		}
		g_strfreev(keys);
	}
	if (msg == NULL)
		config_resolve_paths(cfg, kf, path);
	if (msg != NULL && *err == NULL)
		*err = config_err(path, text, esec, NULL, msg);
	else if (msg == NULL) {
		/* Signed return paths are only half the story without authenticated
		 * complaints, so a signing key turns DKIM on unless said otherwise. */
		if (!g_key_file_has_key(kf, "fbl", "require_dkim", NULL))
			cfg->fbl_require_dkim = cfg->signing_key != NULL;
		if ((msg = config_check(cfg, &esec, &ekey)) != NULL)
			*err = config_err(path, text, esec, ekey, msg);
	}
	g_strfreev(sections);
	g_key_file_free(kf);
	g_free(text);
	if (*err != NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* "PATH:LINE: section.key: message" for a key of a loaded file (caller frees). */
static char *
config_error_at(const struct config *cfg, const char *section, const char *key,
    const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static char *
config_error_at(const struct config *cfg, const char *section, const char *key,
    const char *fmt, ...)
{
	char *text = NULL, *msg, *out;
	va_list ap;
	int line = 0;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (cfg->path != NULL && g_file_get_contents(cfg->path, &text, NULL, NULL))
		line = config_line_of(text, section, key);
	g_free(text);
	if (cfg->path == NULL)
		out = g_strdup_printf("%s.%s: %s", section, key, msg);
	else if (line > 0)
		out = g_strdup_printf("%s:%d: %s.%s: %s", cfg->path, line, section, key, msg);
	else
		out = g_strdup_printf("%s: %s.%s (default): %s", cfg->path, section, key, msg);
	g_free(msg);
	return out;
}

/* 0 when path can be opened for reading, else -1 and why in *why. */
static int
config_readable(const char *path, char **why)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		*why = g_strdup_printf("%s: %s", path, g_strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

int
config_check_paths(const struct config *cfg, char **err)
{
	char *why = NULL, *dir;

	*err = NULL;
	if (config_readable(cfg->parser_rules, &why) < 0) {
		*err = config_error_at(cfg, "parser", "rules", "%s", why);
		goto out;
	}
	if (cfg->smtp_tls_cert != NULL && config_readable(cfg->smtp_tls_cert, &why) < 0) {
		*err = config_error_at(cfg, "smtp", "tls_cert", "%s", why);
		goto out;
	}
	if (cfg->smtp_tls_key != NULL && config_readable(cfg->smtp_tls_key, &why) < 0) {
		*err = config_error_at(cfg, "smtp", "tls_key", "%s", why);
		goto out;
	}
	/* The spool, or the nearest directory above it, which it will be made in. */
	dir = g_strdup(cfg->spool_dir);
	while (!g_file_test(dir, G_FILE_TEST_EXISTS) && strcmp(dir, "/") != 0 &&
	    strcmp(dir, ".") != 0) {
		char *up = g_path_get_dirname(dir);
		g_free(dir);
		dir = up;
	}
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
		*err = config_error_at(cfg, "spool", "dir", "%s: not a directory", dir);
	else if (access(dir, W_OK | X_OK) != 0)
		*err = config_error_at(cfg, "spool", "dir", "%s%s: %s", dir,
		    strcmp(dir, cfg->spool_dir) == 0 ? "" : " (where it would be made)",
		    g_strerror(errno));
	g_free(dir);
out:
	g_free(why);
	return *err == NULL ? 0 : -1;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg_nparams; i++) {
		const struct cfg_param *p = &cfg_params[i];
		if (p->type == CFG_STR || p->type == CFG_PATH)
			g_free(*FIELD(cfg, p, char *));
		else if (p->type == CFG_LIST)
			g_strfreev(*FIELD(cfg, p, char **));
	}
	if (cfg->tenants)
		g_hash_table_destroy(cfg->tenants);
	signing_keys_free(cfg->signing_keys);
	g_free(cfg->path);
	g_free(cfg);
}

char **
config_unsigned_domains(const struct config *cfg)
{
	GPtrArray *out = g_ptr_array_new();
	int i;

	for (i = 0; cfg->smtp_domains && cfg->smtp_domains[i]; i++) {
		const char *d = cfg->smtp_domains[i];
		/* a pattern ".x" stands for its subdomains: probe one of them */
		char *probe = g_strdup_printf("probe@%s%s", d[0] == '.' ? "probe" : "", d);
		if (cfg->signing_key == NULL ||
		    (signing_domain_matches(probe, cfg->signing_unsigned_domains) &&
		    !signing_domain_matches(probe, cfg->signing_required_domains)))
			g_ptr_array_add(out, g_strdup(d));
		g_free(probe);
	}
	/* narrower exemptions inside an accepted pattern */
	for (i = 0; cfg->signing_key != NULL && cfg->signing_unsigned_domains &&
	    cfg->signing_unsigned_domains[i]; i++) {
		const char *d = cfg->signing_unsigned_domains[i];
		char *probe = g_strdup_printf("probe@%s%s", d[0] == '.' ? "probe" : "", d);
		gboolean listed = FALSE;
		guint k;
		for (k = 0; k < out->len && !listed; k++)
			listed = g_ascii_strcasecmp(out->pdata[k], d) == 0;
		if (!listed && signing_domain_matches(probe, cfg->smtp_domains) &&
		    !signing_domain_matches(probe, cfg->signing_required_domains))
			g_ptr_array_add(out, g_strdup(d));
		g_free(probe);
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

char **
config_trust_notes(const struct config *cfg, const char ***levels)
{
	GPtrArray *out = g_ptr_array_new(), *lv = g_ptr_array_new();
	char **open = config_unsigned_domains(cfg);
	int i;

	if (cfg->signing_key == NULL) {
		g_ptr_array_add(out, g_strdup("event=no-signing warning=\"[signing] key is not set: "
		    "anyone who can reach this port can suppress any address with a forged bounce; "
		    "see README, Security\""));
		g_ptr_array_add(lv, "warn");
	}
	for (i = 0; open[i] != NULL; i++) {
		g_ptr_array_add(out, g_strdup_printf("event=unsigned-domain domain=%s "
		    "note=\"unsigned reports to it can suppress\"", open[i]));
		g_ptr_array_add(lv, cfg->signing_key == NULL ? "info" : "warn");
	}
	g_strfreev(open);
	if (cfg->smtp_fbl_addresses != NULL && cfg->smtp_fbl_addresses[0] != NULL) {
		if (!cfg->fbl_require_dkim) {
			g_ptr_array_add(out, g_strdup("event=fbl-unauthenticated warning=\"[fbl] "
			    "require_dkim is off: complaints are not checked for a provider's DKIM "
			    "signature\""));
			g_ptr_array_add(lv, "warn");
		} else if (cfg->fbl_providers == NULL || cfg->fbl_providers[0] == NULL) {
			g_ptr_array_add(out, g_strdup("event=fbl-no-providers warning=\"[fbl] "
			    "providers is empty: no complaint can suppress\""));
			g_ptr_array_add(lv, "warn");
		}
	}
	g_ptr_array_add(out, NULL);
	g_ptr_array_add(lv, NULL);
	*levels = (const char **)g_ptr_array_free(lv, FALSE);
	return (char **)g_ptr_array_free(out, FALSE);
}

const char *
config_tenant_for_domain(const struct config *cfg, const char *domain)
{
	char *d = config_tenant_key(domain), *dotted;
	const char *t = NULL;
	const char *p;

	if (d == NULL || d[0] == '.') {
		g_free(d);
		return cfg->default_tenant;
	}
	/* The domain itself, then each parent as ".parent" (subdomains, as at
	 * RCPT) and as "parent" (a plain entry covers its subdomains too):
	 * "a.b.example.com" -> ".b.example.com", "b.example.com", ... */
	t = g_hash_table_lookup(cfg->tenants, d);
	for (p = strchr(d, '.'); p != NULL && t == NULL; p = strchr(p + 1, '.')) {
		dotted = g_strdup(p);
		t = g_hash_table_lookup(cfg->tenants, dotted);
		g_free(dotted);
		if (t == NULL)
			t = g_hash_table_lookup(cfg->tenants, p + 1);
	}
	g_free(d);
	return t ? t : cfg->default_tenant;
}
