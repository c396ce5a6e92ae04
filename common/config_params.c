/*
 * config_params.c - the parameter table: every key once, with its type,
 * default, range and help; and what walks it to show the settings
 * (config_print) and document them (config_doc_*, for config_man.c).
 */
#include "common/config_int.h"
#include "common/signing.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

#define DEFAULT_ACTION "REJECT 5.1.1 <%a>: on the suppression list (%r)"
#define F(f) offsetof(struct config, f)

const struct cfg_param cfg_params[] = {
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

const size_t cfg_nparams = G_N_ELEMENTS(cfg_params);

const struct cfg_param *
config_find(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < cfg_nparams; i++)
		if (strcmp(cfg_params[i].section, section) == 0 &&
		    strcmp(cfg_params[i].key, key) == 0)
			return &cfg_params[i];
	return NULL;
}

int
config_section_known(const char *section)
{
	size_t i;

	for (i = 0; i < cfg_nparams; i++)
		if (strcmp(cfg_params[i].section, section) == 0)
			return 1;
	return 0;
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

	for (i = 0; i < cfg_nparams; i++) {
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

size_t
config_doc_count(void)
{
	return cfg_nparams;
}

void
config_doc_get(size_t i, struct config_doc *d)
{
	static const char *const types[] = {
		[CFG_STR] = "string", [CFG_INT] = "integer", [CFG_BOOL] = "boolean",
		[CFG_LIST] = "list", [CFG_PATH] = "path",
	};
	const struct cfg_param *p = &cfg_params[i];

	g_assert(i < cfg_nparams);
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
