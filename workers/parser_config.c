/* parser_config.c - see parser_config.h. */
#include "workers/parser_config.h"

#include <string.h>

void
parser_config_options(const struct config *cfg, const char *rules_path, struct parser_options *o)
{
	memset(o, 0, sizeof *o);
	o->rules_path = rules_path;
	o->verp_pattern = cfg->parser_verp_pattern;
	o->correlation_headers = cfg->parser_correlation_headers;
	o->charset_allow = cfg->parser_charset_allow;
	o->max_depth = (int)cfg->parser_max_depth;
	o->max_parts = (int)cfg->parser_max_parts;
	o->max_header_size = (gsize)cfg->parser_max_header_size;
	o->max_recipients = (int)cfg->parser_max_recipients;
}

int
parser_config_check(const struct config *cfg, char **err)
{
	struct parser_options o;
	struct parser *p;

	/* The path as the workers get it (--rules, relative to the daemon's cwd). */
	parser_config_options(cfg, cfg->parser_rules, &o);
	if ((p = parser_new(&o, err)) == NULL)
		return -1;
	parser_free(p);
	return 0;
}

void
parser_config_worker(const struct config *cfg, const char *rules_path,
    struct parser_worker_config *out)
{
	memset(out, 0, sizeof *out);
	parser_config_options(cfg, rules_path, &out->opts);
	out->cpu_seconds = cfg->parser_cpu_seconds;
	out->log_level = cfg->log_level != NULL ? cfg->log_level : "info";
	out->log_format = cfg->log_format != NULL ? cfg->log_format : "text";
}

/* rules, verp_pattern, correlation_headers, charset_allow, max_depth,
 * max_parts, max_header_size, max_recipients, cpu_seconds, log_level,
 * log_format, gmime_only; a NULL string is a maybe's nothing, a NULL list a FALSE before it. */
#define PARSER_WIRE_TYPE	"(msmsbasbasiitixssb)"
#define PARSER_WIRE_FORMAT	"(msmsb^asb^asiitixssb)"	/* the same, string lists as char ** */

char *
parser_config_encode(const struct parser_worker_config *c)
{
	static char *const none[] = { NULL };
	const struct parser_options *o = &c->opts;
	GVariant *v = g_variant_new(PARSER_WIRE_FORMAT, o->rules_path, o->verp_pattern,
	    o->correlation_headers != NULL,
	    o->correlation_headers != NULL ? o->correlation_headers : none,
	    o->charset_allow != NULL, o->charset_allow != NULL ? o->charset_allow : none,
	    (gint32)o->max_depth, (gint32)o->max_parts, (guint64)o->max_header_size,
	    (gint32)o->max_recipients, (gint64)c->cpu_seconds,
	    c->log_level != NULL ? c->log_level : "info",
	    c->log_format != NULL ? c->log_format : "text", c->gmime_only);
	char *s;

	g_variant_ref_sink(v);
	s = g_variant_print(v, FALSE);
	g_variant_unref(v);
	return s;
}

int
parser_config_decode(const char *s, struct parser_worker_config *out, char **err)
{
	GError *gerr = NULL;
	GVariant *v = g_variant_parse(G_VARIANT_TYPE(PARSER_WIRE_TYPE), s, NULL, NULL, &gerr);
	gboolean has_corr, has_cs, gmime_only;
	gint32 depth, parts, rcpts;
	guint64 header;
	gint64 cpu;

	memset(out, 0, sizeof *out);
	if (v == NULL) {
		*err = g_strdup_printf("parser options: %s", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	g_variant_get(v, PARSER_WIRE_FORMAT, &out->owned[0], &out->owned[1],
	    &has_corr, &out->owned_v[0], &has_cs, &out->owned_v[1], &depth, &parts, &header,
	    &rcpts, &cpu, &out->owned[2], &out->owned[3], &gmime_only);
	g_variant_unref(v);
	out->opts.rules_path = out->owned[0];
	out->opts.verp_pattern = out->owned[1];
	out->opts.correlation_headers = has_corr ? out->owned_v[0] : NULL;
	out->opts.charset_allow = has_cs ? out->owned_v[1] : NULL;
	out->opts.max_depth = depth;
	out->opts.max_parts = parts;
	out->opts.max_header_size = (gsize)header;
	out->opts.max_recipients = rcpts;
	out->cpu_seconds = cpu;
	out->log_level = out->owned[2];
	out->log_format = out->owned[3];
	out->gmime_only = gmime_only;
	return 0;
}

void
parser_config_worker_clear(struct parser_worker_config *c)
{
	g_free(c->owned[0]);
	g_free(c->owned[1]);
	g_free(c->owned[2]);
	g_free(c->owned[3]);
	g_strfreev(c->owned_v[0]);
	g_strfreev(c->owned_v[1]);
	memset(c, 0, sizeof *c);
}
