/*
 * suppression.h - what a suppression written by hand must satisfy before
 * it reaches PostgreSQL, one rule for every way in: "rebound suppress",
 * "rebound import" and POST /v1/suppressions.  Callers keep their own
 * wording of the error (a CLI line, an HTTP 400).
 *
 * Pure functions, no I/O.
 */
#ifndef REBOUND_SUPPRESSION_H
#define REBOUND_SUPPRESSION_H

/* RFC 5321's limits: a 64-octet local part, '@' and a 255-octet domain. */
#define SUPPRESSION_MAX_ADDRESS	320
/* suppressions.reason as shown to relays and analysts. */
#define SUPPRESSION_MAX_REASON	200

/*
 * The normalised form and key of address (common/address.h; both g_free),
 * or -1 when address is not local@domain or its normalised form is longer
 * than SUPPRESSION_MAX_ADDRESS octets.  norm may be NULL if only the key
 * is wanted.
 */
int suppression_address(const char *address, char **norm, char **key);

/* True if cls is one of the suppression classes: hard, soft, complaint, manual. */
int suppression_class_valid(const char *cls);

#endif
