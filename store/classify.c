/* classify.c - parsing behind one indirection; see classify.h. */
#include "store/classify.h"

#include <glib.h>

#include "parsers/parser.h"

struct classify {
	struct parser *parser;
};

struct classify *
classify_new(const struct config *cfg, char **err)
{
	struct parser_options o = { 0 };
	struct classify *c;
	struct parser *p;

	o.rules_path = cfg->parser_rules;
	o.verp_pattern = cfg->parser_verp_pattern;
	o.correlation_headers = cfg->parser_correlation_headers;
	o.charset_allow = cfg->parser_charset_allow;
	o.max_depth = (int)cfg->parser_max_depth;
	o.max_parts = (int)cfg->parser_max_parts;
	o.max_header_size = (gsize)cfg->parser_max_header_size;
	if ((p = parser_new(&o, err)) == NULL)
		return NULL;
	c = g_new0(struct classify, 1);
	c->parser = p;
	return c;
}

void
classify_free(struct classify *c)
{
	if (c == NULL)
		return;
	parser_free(c->parser);
	g_free(c);
}

void
classify_batch(struct classify *c, struct classify_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		jobs[i].report = parser_parse(c->parser, jobs[i].data, jobs[i].len,
		    jobs[i].envelope_rcpt);
		jobs[i].outcome = NULL;
	}
}

void
classify_job_clear(struct classify_job *j)
{
	if (j->report != NULL)
		report_free(j->report);
	g_free(j->outcome);
	j->report = NULL;
	j->outcome = NULL;
}
