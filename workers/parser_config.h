/*
 * parser_config.h - parser options from the configuration ([parser]), the
 * one place both "rebound parse" and the daemon's reload check build them.
 *
 * parser_config_options() fills *o from cfg with rules_path as the rules
 * file; nothing is copied: *o borrows from cfg and rules_path, which must
 * outlive it.  parser_config_check() builds a parser from cfg (rules file
 * read and compiled) and frees it: 0, or -1 with *err = "FILE:LINE: ..."
 * (caller frees).
 */
#ifndef REBOUND_PARSER_CONFIG_H
#define REBOUND_PARSER_CONFIG_H

#include "common/config.h"
#include "parsers/parser.h"

void parser_config_options(const struct config *cfg, const char *rules_path,
    struct parser_options *o);
int parser_config_check(const struct config *cfg, char **err);

#endif
