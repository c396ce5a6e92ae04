/*
 * address.h - e-mail address normalisation, one rule for the whole project.
 *
 * The domain is lower-cased and converted to its IDNA A-label form; the
 * local part is kept as sent.  The key used for comparison and lookups is
 * the normalised address with ASCII letters of the local part lower-cased
 * (non-ASCII local parts are compared byte for byte).  Surrounding angle
 * brackets and white space are removed; a trailing dot on the domain is
 * dropped.
 *
 * Both functions return a new string (g_free) or NULL when the input is not
 * "local@domain" with a non-empty local part and domain.
 */
#ifndef REBOUND_ADDRESS_H
#define REBOUND_ADDRESS_H

char *address_normalise(const char *addr);
char *address_key(const char *addr);
/*
 * The address named in a report's free text ("rfc822; <x@y>", "Name <x@y>",
 * "x@y (comment)", a source route "@relay:x@y", "x@y.test&gt;" from HTML),
 * formed by the same rule with these differences: a non-ASCII domain is kept
 * in UTF-8 (ASCII letters lower-cased) rather than converted to A-labels, as
 * the report wrote it; every trailing dot of the domain goes (none after a
 * quoted local part); the text must be valid UTF-8.  NULL when no address
 * is found.
 */
char *address_normalise_text(const char *text);
/* Pointer into addr just past the last '@', or NULL. Not a copy. */
const char *address_domain(const char *addr);

#endif
