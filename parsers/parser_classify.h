/*
 * parser_classify.h - reason, rule and class of one record
 * (parser_classify.c).
 */
#ifndef REBOUND_PARSER_CLASSIFY_H
#define REBOUND_PARSER_CLASSIFY_H

#include "parsers/report.h"

struct parse_ctx;

/*
 * Decide rec's reason, rule and class, filling the codes its fields left
 * out.  context: the report's human-readable text, or NULL.  c->hint, when
 * set, is tried first (a vendor's own category line).
 */
void classify_record(struct parse_ctx *c, struct report_record *rec, const char *context);

/*
 * The report's producer ("detect" lines in the rules), looked for once per
 * report (folded: the report's text folded, or NULL); sets c->r->mta.  Not
 * a copy.
 */
const char *classify_mta(struct parse_ctx *c, const char *folded);

/* context folded for the rules, once for all the report's records (c owns it). */
const char *classify_folded(struct parse_ctx *c, const char *context);

#endif
