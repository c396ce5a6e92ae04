/* config.c - the typed parameter table and its loader; see config.h. */
#include "common/config.h"
#include "common/signing.h"
#include "common/webhook_url.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CFG_PATH: a CFG_STR naming a file or directory; relative to the config file's directory. */
enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL, CFG_LIST, CFG_PATH };

struct cfg_param {
	const char *section;
	const char *key;
	enum cfg_type type;
	const char *def;		/* default, in file syntax; NULL = unset */
	int64_t min, max;		/* CFG_INT only */
	const char *choices;		/* CFG_STR: "a|b|c" allowed values, or NULL */
	size_t offset;
	const char *help;
};

#define F(f) offsetof(struct config, f)
#define DEFAULT_ACTION "REJECT 5.1.1 <%a>: on the suppression list (%r)"

static const struct cfg_param cfg_params[] = {
	{ "log", "level", CFG_STR, "info", 0, 0, "debug|info|warn", F(log_level), "log verbosity" },
	{ "log", "format", CFG_STR, "text", 0, 0, "text|json", F(log_format), "text: TIME LEVEL key=value lines; json: one JSON object per line, the same pairs as members (for log shippers)" },

	{ "smtp", "listen", CFG_LIST, "127.0.0.1:2525", 0, 0, NULL, F(smtp_listen), "listeners, addr:port; [::1]:25 for IPv6" },
	{ "smtp", "listen_tls", CFG_LIST, "", 0, 0, NULL, F(smtp_listen_tls), "implicit-TLS listeners (port 465 style), addr:port; need tls_cert and tls_key" },
	{ "smtp", "hostname", CFG_STR, "localhost", 0, 0, NULL, F(smtp_hostname), "name in the greeting, the EHLO reply and Received:" },
	{ "smtp", "domains", CFG_LIST, "", 0, 0, NULL, F(smtp_domains), "return-path domains accepted at RCPT, any local part; .example.com = every subdomain" },
	{ "smtp", "fbl_addresses", CFG_LIST, "", 0, 0, NULL, F(smtp_fbl_addresses), "feedback-loop addresses accepted at RCPT" },
	{ "smtp", "tls_cert", CFG_PATH, NULL, 0, 0, NULL, F(smtp_tls_cert), "PEM certificate chain; STARTTLS is offered when set; read again on SIGHUP" },
	{ "smtp", "tls_key", CFG_PATH, NULL, 0, 0, NULL, F(smtp_tls_key), "PEM private key" },
	{ "smtp", "max_command_line", CFG_INT, "512", 512, 65536, NULL, F(smtp_max_command_line), "octets incl. CRLF" },
	{ "smtp", "max_data_line", CFG_INT, "65536", 1000, 16777216, NULL, F(smtp_max_data_line), "octets incl. CRLF" },
	{ "smtp", "max_message_size", CFG_INT, "26214400", 1024, 1073741824, NULL, F(smtp_max_message_size), "octets" },
	{ "smtp", "max_recipients", CFG_INT, "100", 1, 100000, NULL, F(smtp_max_recipients), "per message" },
	{ "smtp", "max_memory_mb", CFG_INT, "64", 1, 65536, NULL, F(smtp_max_memory_mb), "message data all sessions keep in RAM; the rest goes to spool tmp/" },
	{ "smtp", "max_sessions", CFG_INT, "0", 0, 1000000, NULL, F(smtp_max_sessions), "in total; 0 = from RLIMIT_NOFILE and memory" },
	{ "smtp", "max_sessions_per_ip", CFG_INT, "50", 1, 1000000, NULL, F(smtp_max_sessions_per_ip), "per IPv4 address or IPv6 /64" },
	{ "smtp", "max_session_time", CFG_INT, "3600", 10, 86400, NULL, F(smtp_max_session_time), "seconds a session may last" },
	{ "smtp", "stress_timeout", CFG_INT, "10", 1, 3600, NULL, F(smtp_stress_timeout), "idle and data timeout while sessions are 3/4 of the limit" },
	{ "smtp", "idle_timeout", CFG_INT, "300", 1, 86400, NULL, F(smtp_idle_timeout), "seconds waiting for a command" },
	{ "smtp", "data_timeout", CFG_INT, "600", 1, 86400, NULL, F(smtp_data_timeout), "seconds of silence in DATA" },
	{ "smtp", "max_bad_commands", CFG_INT, "20", 1, 10000, NULL, F(smtp_max_bad_commands), "error replies in one session before 421 and close" },
	{ "smtp", "bare_newlines", CFG_STR, "reject", 0, 0, "reject|accept", F(smtp_bare_newlines), "bare CR/LF in DATA" },
	{ "smtp", "shutdown_grace", CFG_INT, "30", 0, 3600, NULL, F(smtp_shutdown_grace), "seconds sessions get on SIGTERM" },
	{ "smtp", "user", CFG_STR, NULL, 0, 0, NULL, F(smtp_user), "drop root to this user after bind" },

	{ "spool", "dir", CFG_PATH, "/var/lib/rebound/spool", 0, 0, NULL, F(spool_dir), "spool directory (created when missing)" },
	{ "spool", "high_water", CFG_INT, "100000", 1, 100000000, NULL, F(spool_high_water), "messages waiting before 452" },
	{ "spool", "min_free_mb", CFG_INT, "64", 0, 1048576, NULL, F(spool_min_free_mb), "free space kept on the spool fs" },

	{ "parser", "rules", CFG_PATH, NULL, 0, 0, NULL, F(parser_rules), "classification rules file; default: the rules.conf installed with Rebound (PREFIX/share/rebound/rules.conf, or conf/rules.conf beside the build directory)" },
	{ "parser", "verp_pattern", CFG_STR, NULL, 0, 0, NULL, F(parser_verp_pattern), "regex with (?<local>) and (?<domain>)" },
	{ "parser", "correlation_headers", CFG_LIST, "X-Campaign-Id;Feedback-ID;CFBL-Feedback-ID", 0, 0, NULL, F(parser_correlation_headers), "original headers kept" },
	{ "parser", "charset_allow", CFG_LIST, "us-ascii;utf-8;iso-8859-1;iso-8859-2;iso-8859-15;windows-1250;windows-1251;windows-1252;koi8-r;iso-2022-jp;shift_jis;euc-jp;gb2312;gbk;gb18030;big5;euc-kr;ks_c_5601-1987", 0, 0, NULL, F(parser_charset_allow), "RFC 2047 charsets decoded" },
	{ "parser", "max_depth", CFG_INT, "20", 1, 1000, NULL, F(parser_max_depth), "MIME nesting" },
	{ "parser", "max_parts", CFG_INT, "1000", 1, 1000000, NULL, F(parser_max_parts), "MIME parts" },
	{ "parser", "max_recipients", CFG_INT, "1000", 1, 1000000, NULL, F(parser_max_recipients), "recipient records kept per message" },
	{ "parser", "max_header_size", CFG_INT, "262144", 1024, 67108864, NULL, F(parser_max_header_size), "octets of one header block" },
	{ "parser", "workers", CFG_INT, "2", 1, 64, NULL, F(parser_workers), "parser worker processes" },
	{ "parser", "cpu_seconds", CFG_INT, "10", 1, 3600, NULL, F(parser_cpu_seconds), "CPU limit per message" },
	{ "parser", "memory_mb", CFG_INT, "512", 16, 65536, NULL, F(parser_memory_mb), "address-space limit per worker" },
	{ "parser", "max_attempts", CFG_INT, "3", 1, 100, NULL, F(parser_max_attempts), "parse attempts before a message is quarantined" },

	{ "store", "conninfo", CFG_STR, "", 0, 0, NULL, F(store_conninfo), "libpq connection string; empty = no store" },
	{ "store", "migrate_on_start", CFG_BOOL, "true", 0, 0, NULL, F(store_migrate_on_start), "apply pending migrations at start" },
	{ "store", "retention_days", CFG_INT, "90", 0, 36500, NULL, F(store_retention_days), "raw messages kept; 0 = forever" },
	{ "store", "retry_max_seconds", CFG_INT, "60", 1, 3600, NULL, F(store_retry_max_seconds), "cap of the retry back-off" },
	{ "store", "batch", CFG_INT, "500", 1, 10000, NULL, F(store_batch), "messages per transaction" },
	{ "store", "raw_max_mb", CFG_INT, "10", 0, 1024, NULL, F(store_raw_max_mb), "largest raw message kept; 0 = none" },

	{ "policy", "soft_threshold", CFG_INT, "3", 1, 1000, NULL, F(policy_soft_threshold), "soft failures before suppressing" },
	{ "policy", "soft_window_days", CFG_INT, "7", 1, 3650, NULL, F(policy_soft_window_days), "window for soft failures" },
	{ "policy", "soft_expire_days", CFG_INT, "30", 1, 3650, NULL, F(policy_soft_expire_days), "soft suppression lifetime" },
	{ "policy", "complaint_types", CFG_LIST, "abuse;fraud;virus;other", 0, 0, NULL, F(policy_complaint_types), "ARF feedback types that suppress" },
	{ "policy", "max_suppressions_per_message", CFG_INT, "100", 1, 1000000, NULL, F(policy_max_suppressions_per_message), "addresses one message may suppress" },

	{ "tenants", "default", CFG_STR, "default", 0, 0, NULL, F(default_tenant), "tenant for unmapped domains" },

	{ "lookup", "socketmap_listen", CFG_LIST, "127.0.0.1:2526", 0, 0, NULL, F(lookup_socketmap_listen), "Postfix socketmap server" },
	{ "lookup", "max_connections", CFG_INT, "0", 0, 1000000, NULL, F(lookup_max_connections), "socketmap and policy each; 0 = a share of RLIMIT_NOFILE" },
	{ "lookup", "policy_listen", CFG_LIST, "127.0.0.1:2527", 0, 0, NULL, F(lookup_policy_listen), "Postfix policy server" },
	{ "lookup", "action_hard", CFG_STR, DEFAULT_ACTION, 0, 0, NULL, F(lookup_action_hard), "socketmap and policy answer for a hard-bounced address (%a address, %r reason)" },
	{ "lookup", "action_soft", CFG_STR, "DEFER 4.2.1 <%a>: temporarily suppressed (%r)", 0, 0, NULL, F(lookup_action_soft), "answer for a temporarily suppressed address" },
	{ "lookup", "action_complaint", CFG_STR, DEFAULT_ACTION, 0, 0, NULL, F(lookup_action_complaint), "answer for a complainer" },
	{ "lookup", "action_manual", CFG_STR, DEFAULT_ACTION, 0, 0, NULL, F(lookup_action_manual), "answer for a manual or imported suppression" },
	{ "lookup", "change_log_days", CFG_INT, "7", 1, 3650, NULL, F(lookup_change_log_days), "suppression change log kept (pruned from the primary)" },

	{ "http", "listen", CFG_LIST, "127.0.0.1:8025", 0, 0, NULL, F(http_listen), "HTTP API listeners (also /metrics and /healthz)" },
	{ "http", "token", CFG_STR, NULL, 0, 0, NULL, F(http_token), "bearer token for writes" },
	{ "http", "read_token", CFG_STR, NULL, 0, 0, NULL, F(http_read_token), "bearer token for reads (GET); the write token reads too" },
	{ "http", "hosts", CFG_LIST, "", 0, 0, NULL, F(http_hosts), "Host header values accepted; empty = any" },
	{ "http", "max_connections", CFG_INT, "0", 0, 1000000, NULL, F(http_max_connections), "0 = a share of RLIMIT_NOFILE" },

	{ "webhook", "url", CFG_LIST, "", 0, 0, NULL, F(webhook_url), "endpoints: URL (every tenant) or TENANT=URL" },
	{ "webhook", "secret", CFG_STR, NULL, 0, 0, NULL, F(webhook_secret), "HMAC-SHA256 key of the signature" },
	{ "webhook", "timeout", CFG_INT, "10", 1, 300, NULL, F(webhook_timeout), "seconds per delivery attempt" },
	{ "webhook", "retry_min_seconds", CFG_INT, "10", 1, 86400, NULL, F(webhook_retry_min_seconds), "first retry delay; doubles each time" },
	{ "webhook", "retry_max_seconds", CFG_INT, "3600", 1, 86400, NULL, F(webhook_retry_max_seconds), "cap of the retry delay" },
	{ "webhook", "give_up_seconds", CFG_INT, "86400", 1, 2592000, NULL, F(webhook_give_up_seconds), "then the delivery is dead" },

	{ "signing", "key", CFG_STR, NULL, 0, 0, NULL, F(signing_key), "signing key: hex:, base64: or file:PATH" },
	{ "signing", "verify_keys", CFG_LIST, "", 0, 0, NULL, F(signing_verify_keys), "older keys still accepted" },
	{ "signing", "max_age_days", CFG_INT, "30", 1, SIGNING_MAX_AGE, NULL, F(signing_max_age_days), "signed paths older than this are expired" },
	{ "signing", "required_domains", CFG_LIST, "", 0, 0, NULL, F(signing_required_domains), "return-path domains needing a signature" },
	{ "signing", "mode", CFG_STR, "reject", 0, 0, "reject|flag", F(signing_mode), "reject: 550 at RCPT; flag: store, never suppress" },
	{ "signing", "domain", CFG_STR, NULL, 0, 0, NULL, F(signing_domain), "domain \"rebound sign\" puts after the @" },
	{ "signing", "unsigned_domains", CFG_LIST, "", 0, 0, NULL, F(signing_unsigned_domains), "smtp.domains whose unsigned reports may suppress" },

	/* require_dkim's default depends on signing.key: config_load() sets it. */
	{ "fbl", "providers", CFG_LIST, "", 0, 0, NULL, F(fbl_providers), "DKIM d= domains whose ARF reports may suppress" },
	{ "fbl", "require_dkim", CFG_BOOL, "false", 0, 0, NULL, F(fbl_require_dkim), "ARF suppresses only with a provider's DKIM signature" },
	{ "fbl", "dkim_key_file", CFG_PATH, NULL, 0, 0, NULL, F(fbl_dkim_key_file), "DKIM keys from this file instead of DNS (tests)" },
};

#undef F

#define FIELD(cfg, p, T) ((T *)(void *)((char *)(cfg) + (p)->offset))

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

static const struct cfg_param *
config_find(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cfg_params); i++)
		if (strcmp(cfg_params[i].section, section) == 0 &&
		    strcmp(cfg_params[i].key, key) == 0)
			return &cfg_params[i];
	return NULL;
}

static int
config_section_known(const char *section)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cfg_params); i++)
		if (strcmp(cfg_params[i].section, section) == 0)
			return 1;
	return 0;
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

/* Cross-field checks; returns an error (caller frees) and the key it concerns. */
static char *
config_check(struct config *cfg, const char **section, const char **key)
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
			if (!config_valid_listen(listens[i].v[j])) {
				*section = listens[i].s;
				*key = listens[i].k;
				return g_strdup_printf("%s.%s: \"%s\" is not addr:port",
				    listens[i].s, listens[i].k, listens[i].v[j]);
			}
	if ((cfg->smtp_tls_cert == NULL) != (cfg->smtp_tls_key == NULL)) {
		*section = "smtp";
		*key = cfg->smtp_tls_cert ? "tls_cert" : "tls_key";
		return g_strdup("smtp.tls_cert and smtp.tls_key go together");
	}
	if (cfg->smtp_listen_tls && cfg->smtp_listen_tls[0] && cfg->smtp_tls_cert == NULL) {
		*section = "smtp";
		*key = "listen_tls";
		return g_strdup("smtp.listen_tls needs smtp.tls_cert and smtp.tls_key");
	}
	for (j = 0; cfg->smtp_fbl_addresses && cfg->smtp_fbl_addresses[j]; j++)
		if (strchr(cfg->smtp_fbl_addresses[j], '@') == NULL) {
			*section = "smtp";
			*key = "fbl_addresses";
			return g_strdup_printf("smtp.fbl_addresses: \"%s\" is not an address",
			    cfg->smtp_fbl_addresses[j]);
		}
	for (j = 0; cfg->webhook_url && cfg->webhook_url[j]; j++) {
		struct webhook_url u;
		*section = "webhook";
		*key = "url";
		if (webhook_url_parse(cfg->webhook_url[j], &u) < 0)
			return g_strdup_printf("webhook.url: \"%s\" is not URL or TENANT=URL with an"
			    " http:// or https:// URL", cfg->webhook_url[j]);
		webhook_url_clear(&u);
		if (cfg->webhook_secret == NULL || *cfg->webhook_secret == '\0')
			return g_strdup("webhook.url needs webhook.secret (deliveries are signed)");
	}
	if (cfg->signing_required_domains && cfg->signing_required_domains[0] &&
	    cfg->signing_key == NULL) {
		*section = "signing";
		*key = "required_domains";
		return g_strdup("signing.required_domains needs signing.key");
	}
	if (cfg->signing_key == NULL && cfg->signing_unsigned_domains &&
	    cfg->signing_unsigned_domains[0]) {
		*section = "signing";
		*key = "unsigned_domains";
		return g_strdup("signing.unsigned_domains needs signing.key (without it every "
		    "domain is unsigned)");
	}
	for (j = 0; cfg->fbl_providers && cfg->fbl_providers[j]; j++) {
		const char *d = cfg->fbl_providers[j];
		gboolean ok = *d != '\0' && *d != '.' && *d != '-' && strchr(d, '@') == NULL;
		for (; ok && *d; d++)
			ok = g_ascii_isalnum(*d) || *d == '.' || *d == '-' || (*d & 0x80);
		if (!ok) {
			*section = "fbl";
			*key = "providers";
			return g_strdup_printf("fbl.providers: \"%s\" is not a domain name (the "
			    "DKIM d= of the provider's reports)", cfg->fbl_providers[j]);
		}
	}
	if (cfg->fbl_dkim_key_file != NULL &&
	    !g_file_test(cfg->fbl_dkim_key_file, G_FILE_TEST_IS_REGULAR)) {
		*section = "fbl";
		*key = "dkim_key_file";
		return g_strdup_printf("fbl.dkim_key_file: \"%s\" is not a readable file",
		    cfg->fbl_dkim_key_file);
	}
	if (cfg->signing_key == NULL && cfg->signing_verify_keys && cfg->signing_verify_keys[0]) {
		*section = "signing";
		*key = "verify_keys";
		return g_strdup("signing.verify_keys needs signing.key");
	}
	if (cfg->signing_domain != NULL) {
		const char *d = cfg->signing_domain;
		gboolean ok = *d != '\0' && *d != '.' && *d != '-';
		for (; ok && *d; d++)
			ok = g_ascii_isalnum(*d) || *d == '.' || *d == '-';
		if (!ok) {
			*section = "signing";
			*key = "domain";
			return g_strdup_printf("signing.domain: \"%s\" is not an ASCII domain name",
			    cfg->signing_domain);
		}
	}
	if (cfg->signing_key != NULL) {
		char *e = NULL, *m;
		/* Decoded here so that "serve -n" finds a bad or short key, not the first RCPT. */
		signing_keys_free(cfg->signing_keys);
		cfg->signing_keys = signing_keys_new(cfg->signing_key, cfg->signing_verify_keys,
		    (int)cfg->signing_max_age_days, &e);
		if (cfg->signing_keys == NULL) {
			*section = "signing";
			*key = strstr(e, "verification key") == e ? "verify_keys" : "key";
			m = g_strdup_printf("signing.%s: %s", *key, e);
			g_free(e);
			return m;
		}
	}
	if (cfg->parser_verp_pattern != NULL) {
		GError *gerr = NULL;
		GRegex *re = g_regex_new(cfg->parser_verp_pattern, 0, 0, &gerr);
		if (re == NULL) {
			char *m = g_strdup_printf("parser.verp_pattern: %s", gerr->message);
			g_error_free(gerr);
			*section = "parser";
			*key = "verp_pattern";
			return m;
		}
		g_regex_unref(re);
	}
	return NULL;
}

/*
 * A file shipped with Rebound, found from the running binary so that the
 * build tree and every PREFIX work: <bindir>/../share/rebound/NAME
 * (installed), else conf/NAME in the nearest of the three directories above
 * <bindir> (build/, build/san/ or build/san/tests/ of a source tree), else
 * /usr/share/rebound/NAME, which is also the answer when none exists (so
 * that the error names the packaged location).
 */
char *
config_shipped_file(const char *name)
{
	char *exe = g_file_read_link("/proc/self/exe", NULL);
	char *dir = exe ? g_path_get_dirname(exe) : NULL;
	char *found = NULL, *f;

	if (dir != NULL) {
		f = g_build_filename(dir, "..", "share", "rebound", name, NULL);
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
	g_free(exe);
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

	for (i = 0; i < G_N_ELEMENTS(cfg_params); i++) {
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

	for (i = 0; i < G_N_ELEMENTS(cfg_params); i++)
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
				/* tenant name = domain;domain */
				char **doms = config_split_list(v);
				int k;
				for (k = 0; doms[k] && msg == NULL; k++) {
					char *key = config_tenant_key(doms[k]);
					if (key == NULL)
						msg = g_strdup_printf("tenants.%s: \"%s\" is not a domain "
						    "name", keys[j], doms[k]);
					else
						g_hash_table_replace(cfg->tenants, key, g_strdup(keys[j]));
				}
				g_strfreev(doms);
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

/* Parameters whose inline values config_print() masks. */
static int
config_secret(const struct cfg_param *p)
{
	return (strcmp(p->section, "signing") == 0 &&
	    (strcmp(p->key, "key") == 0 || strcmp(p->key, "verify_keys") == 0)) ||
	    (strcmp(p->section, "http") == 0 && (strcmp(p->key, "token") == 0 ||
	    strcmp(p->key, "read_token") == 0)) ||
	    (strcmp(p->section, "webhook") == 0 && strcmp(p->key, "secret") == 0);
}

/* A libpq connection string without its password (keyword form or URI),
 * so that "serve -n" output can be pasted into a ticket. */
static char *
config_mask_conninfo(const char *v)
{
	static const char *const pats[] = {
		"(password\\s*=\\s*)('(?:[^'\\\\]|\\\\.)*'|\\S+)",
		"(postgres(?:ql)?://[^:/@\\s]*:)([^@\\s]*)(?=@)",
	};
	char *cur = g_strdup(v);

	for (size_t i = 0; i < G_N_ELEMENTS(pats); i++) {
		GRegex *re = g_regex_new(pats[i], G_REGEX_CASELESS, 0, NULL);
		char *next;

		if (re == NULL)
			abort();	/* a constant pattern */
		next = g_regex_replace(re, cur, -1, 0, "\\1(masked)", 0, NULL);
		g_regex_unref(re);
		if (next != NULL) {
			g_free(cur);
			cur = next;
		}
	}
	return cur;
}

/*
 * A secret as config_print() shows it: a key's file: path is no secret and
 * stays, an inline key keeps only its form ("hex:", "base64:") so the output
 * never carries key material (and an inline key must be set again to load
 * it).  Anything else - the HTTP token, which may well contain ':' - is
 * masked whole.
 */
static char *
config_mask(const struct cfg_param *p, const char *v)
{
	static const char *const forms[] = { "hex:", "base64:" };
	size_t i;

	if (strcmp(p->section, "signing") != 0)
		return g_strdup("(masked)");
	if (g_ascii_strncasecmp(v, "file:", 5) == 0)
		return g_strdup(v);
	for (i = 0; i < G_N_ELEMENTS(forms); i++)
		if (g_ascii_strncasecmp(v, forms[i], strlen(forms[i])) == 0)
			return g_strdup_printf("%.*s(masked)", (int)strlen(forms[i]), v);
	return g_strdup("(masked)");
}

void
config_print(const struct config *cfg, FILE *fp)
{
	const char *last = "";
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cfg_params); i++) {
		const struct cfg_param *p = &cfg_params[i];
		if (strcmp(p->section, last) != 0) {
			fprintf(fp, "%s[%s]\n", i ? "\n" : "", p->section);
			last = p->section;
		}
		switch (p->type) {
		case CFG_STR:
		case CFG_PATH: {
			char *const *v = FIELD(cfg, p, char *const);
			if (*v == NULL)
				fprintf(fp, "# %s is not set\n", p->key);
			else if (config_secret(p)) {
				char *m = config_mask(p, *v);
				fprintf(fp, "%s = %s\n", p->key, m);
				g_free(m);
			} else if (strcmp(p->section, "store") == 0 && strcmp(p->key, "conninfo") == 0) {
				char *m = config_mask_conninfo(*v);
				fprintf(fp, "%s = %s\n", p->key, m);
				g_free(m);
			} else
				fprintf(fp, "%s = %s\n", p->key, *v);
			break;
		}
		case CFG_INT:
			fprintf(fp, "%s = %lld\n", p->key, (long long)*FIELD(cfg, p, const int64_t));
			break;
		case CFG_BOOL:
			fprintf(fp, "%s = %s\n", p->key, *FIELD(cfg, p, const gboolean) ? "true" : "false");
			break;
		case CFG_LIST: {
			char **const *v = FIELD(cfg, p, char **const);
			char *j;
			if (config_secret(p) && *v != NULL) {
				GString *g = g_string_new(NULL);
				int k;
				for (k = 0; (*v)[k]; k++) {
					char *m = config_mask(p, (*v)[k]);
					g_string_append_printf(g, "%s%s", k ? ";" : "", m);
					g_free(m);
				}
				j = g_string_free(g, FALSE);
			} else
				j = *v ? g_strjoinv(";", *v) : g_strdup("");
			fprintf(fp, "%s = %s\n", p->key, j);
			g_free(j);
			break;
		}
		}
		if (strcmp(p->section, "tenants") == 0 && strcmp(p->key, "default") == 0) {
			GHashTableIter it;
			gpointer k, v;
			g_hash_table_iter_init(&it, cfg->tenants);
			while (g_hash_table_iter_next(&it, &k, &v))
				fprintf(fp, "# domain %s -> tenant %s\n", (char *)k, (char *)v);
		}
	}
	{
		/* what the settings leave open, so that it is seen where they are */
		const char **levels;
		char **notes = config_trust_notes(cfg, &levels);
		int n;
		for (n = 0; notes[n] != NULL; n++)
			fprintf(fp, "# %s: %s\n", levels[n], notes[n]);
		g_strfreev(notes);
		g_free(levels);
	}
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

size_t
config_doc_count(void)
{
	return G_N_ELEMENTS(cfg_params);
}

void
config_doc_get(size_t i, struct config_doc *d)
{
	static const char *const types[] = {
		[CFG_STR] = "string", [CFG_INT] = "integer", [CFG_BOOL] = "boolean",
		[CFG_LIST] = "list", [CFG_PATH] = "path",
	};
	const struct cfg_param *p = &cfg_params[i];

	g_assert(i < G_N_ELEMENTS(cfg_params));
	d->section = p->section;
	d->key = p->key;
	d->type = types[p->type];
	d->def = p->def;
	d->choices = p->choices;
	d->help = p->help;
	d->ranged = p->type == CFG_INT;
	d->min = p->min;
	d->max = p->max;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < G_N_ELEMENTS(cfg_params); i++) {
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
