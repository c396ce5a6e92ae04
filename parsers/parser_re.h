/*
 * parser_re.h - the parser's regular expressions (parser_re.c): the
 * re_* members of struct parser.
 */
#ifndef REBOUND_PARSER_RE_H
#define REBOUND_PARSER_RE_H

struct parser;

void parser_re_init(struct parser *p);
/* Frees those parser_re_init() made; any may be NULL. */
void parser_re_fini(struct parser *p);

#endif
