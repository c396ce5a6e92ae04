/*
 * dkim.h - is a report signed by a mailbox provider we registered with?
 *
 * Verifies the DKIM signatures of a raw message with libopendkim.  Only
 * signatures whose d= is one of [fbl] providers are verified at all (the
 * others are ignored before any key is fetched), so an attacker cannot make
 * the store wait on DNS for domains of their choosing, and at most
 * STORE_DKIM_MAX_SIGS of them.  Keys come from DNS, or from [fbl]
 * dkim_key_file (libopendkim's file query method: one
 * "SELECTOR._domainkey.DOMAIN KEY-RECORD" line each) when that is set.
 *
 * A signature counts when libopendkim says it passed and its body hash
 * matched, and it covers the whole body (an l= shorter than the body would
 * let anyone append a report of their own).
 */
#ifndef REBOUND_STORE_DKIM_H
#define REBOUND_STORE_DKIM_H

#include <stddef.h>

#include "common/config.h"

#define STORE_DKIM_MAX_SIGS	2

/*
 * 1 when raw[0..len) has a passing signature by a provider (*domain set to
 * its d=, g_free); 0 when not, with *detail (g_free) saying why for the log.
 */
int store_dkim_provider(const struct config *cfg, const char *raw, size_t len, char **domain,
    char **detail);

#endif
