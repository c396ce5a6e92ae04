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
