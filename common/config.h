/*
 * config.h - Rebound's configuration: one typed table over GLib's GKeyFile.
 *
 * Every parameter is declared once in config_params.c's table (section,
 * key, type, default, min, max, field).  config_load() validates every value, treats
 * unknown sections and keys as errors, and reports errors as "FILE:LINE: ..."
 * in *err (caller frees with g_free).  config_print() writes the effective
 * settings in the file's own syntax, so "rebound serve -n" output loads again,
 * and ends with config_trust_notes() as "# LEVEL: ..." comments.
 *
 * The returned struct config and everything it points to belong to it: free
 * with config_free().  Lists are NULL-terminated string vectors (GStrv).
 */
#ifndef REBOUND_CONFIG_H
#define REBOUND_CONFIG_H

#include <stdio.h>
#include <stdint.h>
#include <glib.h>

struct config {
	char *path;

	/* [log] */
	char *log_level;
	char *log_format;		/* "text" or "json" */

	/* [smtp] */
	char **smtp_listen;		/* "addr:port", "[v6]:port" */
	char **smtp_listen_tls;		/* implicit TLS listeners (port 465 style) */
	char *smtp_hostname;
	char **smtp_domains;		/* "example.com" or ".example.com" (subdomains) */
	char **smtp_fbl_addresses;	/* full addresses accepted at RCPT */
	char *smtp_tls_cert;
	char *smtp_tls_key;
	int64_t smtp_max_command_line;
	int64_t smtp_max_data_line;
	int64_t smtp_max_message_size;
	int64_t smtp_max_recipients;
	int64_t smtp_max_memory_mb;
	int64_t smtp_max_sessions;
	int64_t smtp_max_sessions_per_ip;
	int64_t smtp_max_session_time;
	int64_t smtp_stress_timeout;
	int64_t smtp_idle_timeout;
	int64_t smtp_data_timeout;
	int64_t smtp_max_bad_commands;
	char *smtp_bare_newlines;	/* "reject" or "accept" */
	int64_t smtp_shutdown_grace;
	char *smtp_user;		/* drop privileges to this user after bind */

	/* [spool] */
	char *spool_dir;
	int64_t spool_high_water;	/* messages waiting; above it MAIL/DATA get 452 */
	int64_t spool_min_free_mb;

	/* [parser] */
	char *parser_rules;
	char *parser_verp_pattern;	/* GRegex with named groups local and domain */
	char **parser_correlation_headers;
	char **parser_charset_allow;
	int64_t parser_max_depth;
	int64_t parser_max_parts;
	int64_t parser_max_header_size;
	int64_t parser_max_recipients;
	int64_t parser_workers;
	int64_t parser_cpu_seconds;
	int64_t parser_memory_mb;
	int64_t parser_max_attempts;

	/* [store] */
	char *store_conninfo;
	gboolean store_migrate_on_start;
	int64_t store_retention_days;
	int64_t store_retry_max_seconds;
	int64_t store_batch;
	int64_t store_raw_max_mb;	/* larger messages are stored without raw bytes */

	/* [policy] */
	int64_t policy_soft_threshold;
	int64_t policy_soft_window_days;
	int64_t policy_soft_expire_days;
	char **policy_complaint_types;	/* feedback types that suppress */
	int64_t policy_max_suppressions_per_message;	/* records of one message that may suppress */

	/* [tenants]: dynamic keys, tenant name = list of domains */
	GHashTable *tenants;		/* domain (lower-case) -> tenant name */
	char *default_tenant;

	/* [lookup] */
	char **lookup_socketmap_listen;
	char **lookup_policy_listen;
	int64_t lookup_max_connections;
	char *lookup_action_hard;
	char *lookup_action_soft;
	char *lookup_action_complaint;
	char *lookup_action_manual;
	int64_t lookup_change_log_days;

	/* [http] */
	char **http_listen;
	int64_t http_max_connections;
	char *http_read_token;		/* NULL: reads need no token */
	char **http_hosts;		/* Host values accepted; NULL or empty: any */
	char *http_token;

	/* [webhook] (webhook/webhook.h) */
	char **webhook_url;		/* "URL" or "TENANT=URL" */
	char *webhook_secret;
	int64_t webhook_timeout;
	int64_t webhook_retry_min_seconds;
	int64_t webhook_retry_max_seconds;
	int64_t webhook_give_up_seconds;

	/* [signing] (common/signing.h) */
	char *signing_key;		/* key spec: hex:..., base64:... or file:PATH */
	char **signing_verify_keys;	/* more key specs accepted when verifying */
	int64_t signing_max_age_days;
	char **signing_required_domains;	/* like smtp.domains */
	char *signing_mode;		/* "reject" or "flag" */
	char *signing_domain;		/* return-path domain "rebound sign" uses */
	char **signing_unsigned_domains;	/* [smtp] domains exempt from signing */

	/* [fbl] */
	char **fbl_providers;		/* DKIM d= domains whose ARF reports may suppress */
	gboolean fbl_require_dkim;	/* default: TRUE when signing.key is set */
	char *fbl_dkim_key_file;	/* libopendkim key file instead of DNS (tests) */
	struct signing_keys *signing_keys;	/* decoded; NULL without signing.key */
};

struct config *config_load(const char *path, char **err);
struct config *config_defaults(void);
void config_print(const struct config *cfg, FILE *fp);
void config_free(struct config *cfg);

/*
 * The [smtp] domains entries whose unsigned reports may suppress (no
 * signing key, or listed in [signing] unsigned_domains and not in
 * required_domains), as a new NULL-terminated vector (g_strfreev).
 */
char **config_unsigned_domains(const struct config *cfg);

/*
 * What reports this configuration trusts without authentication, as
 * key=value log lines ("event=unsigned-domain domain=..."), one per domain
 * or concern, each with level "warn" or "info" in *levels (parallel, static
 * strings).  Both vectors are new (g_strfreev, g_free).
 */
char **config_trust_notes(const struct config *cfg, const char ***levels);

/*
 * What "serve -n" and the daemon's start need beyond the syntax: the rules
 * file and the TLS files readable, the spool directory writable (or its
 * nearest existing parent, where it will be made).  -1 and
 * "FILE:LINE: section.key: path: why" in *err (caller frees).
 */
int config_check_paths(const struct config *cfg, char **err);

/*
 * The key table, row by row, for documentation (config_write_man()): the
 * strings are static.  def is in file syntax, NULL when unset; choices is
 * "a|b" or NULL; min and max bound integers (ranged).
 */
struct config_doc {
	const char *section, *key, *type, *def, *choices, *help;
	int ranged;
	int64_t min, max;
};
size_t config_doc_count(void);
void config_doc_get(size_t i, struct config_doc *d);

/* rebound.conf(5), man(7) source, made from the key table (config_man.c). */
void config_write_man(FILE *fp);

/*
 * The directory of the running binary (caller frees), or NULL when
 * /proc/self/exe cannot be read: where the files and the binaries that
 * come with it are looked for.
 */
char *config_exe_dir(void);

/* Where rebound-all is installed, under PREFIX (rebound itself is in PREFIX/sbin). */
#define CONFIG_LIBEXEC_DIR	"lib/rebound"

/*
 * The absolute path of a file shipped with Rebound (rules.conf), looked up
 * beside the running binary: installed under PREFIX/share/rebound, or conf/
 * of the source tree the binary was built in.  Caller frees.
 */
char *config_shipped_file(const char *name);

/* The tenant that owns a return-path domain, or default_tenant. Not a copy. */
const char *config_tenant_for_domain(const struct config *cfg, const char *domain);

#endif
