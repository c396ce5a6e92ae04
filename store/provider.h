/*
 * provider.h - who sent a complaint, and which addresses only stand in for
 * one.
 *
 * provider_of() names the mailbox provider of a report for events.provider
 * (sql/005_provider.sql), as a registered domain ("fbl.mail.yahoo.com" ->
 * "yahoo.com"), from the first of: the domain of the report's own From
 * header, its envelope sender, a known feedback-loop User-Agent, the
 * Reporting-MTA.  The store puts the d= of a verified provider DKIM
 * signature (store/dkim.h, [fbl] require_dkim) before all of them.  NULL when none says.  (ARF Reported-Domain names the
 * domain the complaint is about, i.e. the sender's own, so it is not used.)
 *
 * placeholder_address() is true for recipients that stand for nobody and
 * must never be suppressed: anything in the reserved .invalid domain; in a
 * complaint, the local parts "redacted" and "undisclosed(-recipients)";
 * and in a redacted complaint (one without Original-Rcpt-To, whose
 * recipient was read from the enclosed header a provider rewrites), the
 * RFC 2606 example domains (example.com/.net/.org, *.example).
 */
#ifndef REBOUND_PROVIDER_H
#define REBOUND_PROVIDER_H

#include <stddef.h>

#include "parsers/report.h"

/* raw may be NULL; mail_from may be NULL or "".  g_free() the result. */
char *provider_of(const char *raw, size_t len, const char *mail_from, const struct report *r);
/* The unfolded value of the first header field name of the message raw
 * (its own header only), or NULL.  g_free() the result. */
char *provider_header(const char *raw, size_t len, const char *name);
/* "fbl.mail.yahoo.com" -> "yahoo.com", "x.y.co.uk" -> "y.co.uk"; lower-cased copy. */
char *provider_registered_domain(const char *domain);
/* What the store knows of a report beyond the parser's answer. */
struct store_origin {
	char *provider;		/* provider_of(), or NULL */
	int redacted;		/* an ARF report without Original-Rcpt-To */
};
/* Fills o for the message raw (NULL = nothing known); free with provider_clear(). */
void provider_origin(struct store_origin *o, const char *raw, size_t len, const char *mail_from,
    const struct report *r);
void provider_clear(struct store_origin *o);
int placeholder_address(const char *address, const struct report *r, int redacted);

#endif
