/*
 * parser_config.h - parser options from the configuration ([parser]), the
 * one place both "rebound parse" and the daemon's reload check build them.
 *
 * parser_config_options() fills *o from cfg with rules_path as the rules
 * file; nothing is copied: *o borrows from cfg and rules_path, which must
 * outlive it.  parser_config_check() builds a parser from cfg (rules file
 * read and compiled) and frees it: 0, or -1 with *err = "FILE:LINE: ..."
 * (caller frees).
 *
 * A parser worker process gets its options in one encoding, made here and
 * read here: parser_config_encode() turns a struct parser_worker_config
 * into one printable string (a GVariant in text form, passed as
 * "parse-worker --options STRING"); parser_config_decode() reads it back
 * into *out, whose strings it owns until parser_config_worker_clear().
 * parser_config_worker() fills one from the configuration.
 */
#ifndef REBOUND_PARSER_CONFIG_H
#define REBOUND_PARSER_CONFIG_H

#include "common/config.h"
#include "parsers/parser.h"

void parser_config_options(const struct config *cfg, const char *rules_path,
    struct parser_options *o);
int parser_config_check(const struct config *cfg, char **err);

struct parser_worker_config {
	struct parser_options opts;
	gint64 cpu_seconds;		/* per message */
	const char *log_level;
	const char *log_format;		/* text | json */
	gboolean gmime_only;		/* parser_set_gmime_only() */
	/* decoded copies the fields above point to (parser_config_decode) */
	char *owned[4];
	char **owned_v[2];
};

/* From cfg, with rules_path as the rules file; borrows from both. */
void parser_config_worker(const struct config *cfg, const char *rules_path,
    struct parser_worker_config *out);
char *parser_config_encode(const struct parser_worker_config *c);
int parser_config_decode(const char *s, struct parser_worker_config *out, char **err);
void parser_config_worker_clear(struct parser_worker_config *c);

#endif
