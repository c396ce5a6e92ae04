/*
 * trust.h - which records of a stored report may change the suppression
 * list (common/signing.h, store/dkim.h, sql/002_signing.sql).
 *
 * Trust is granted per envelope recipient and per kind of report, and a
 * record may suppress its address only when some envelope recipient grants
 * trust for that address; one recipient never widens what another grants:
 *
 *   feedback-loop address   an ARF complaint, for any address (see below);
 *                           never a DSN or any other kind of report
 *   valid signed path       the one address the path was signed for
 *   domain signing exempts  any address (no signing key, or the domain is
 *                           in [signing] unsigned_domains)
 *   anything else           nothing (unsigned, forged, expired, postmaster)
 *
 * An ARF complaint also needs, when [fbl] require_dkim is on, a passing
 * DKIM signature of a [fbl] providers domain.  Its original's envelope
 * sender (Original-Mail-From) binds it further while signing is on: when
 * that sender is one of our covered return paths it must be a valid signed
 * path and the complaint may suppress only the address it was signed for;
 * without DKIM, a complaint counts only through such a signed sender.
 *
 * At most [policy] max_suppressions_per_message distinct addresses of one
 * message may suppress (store_trust_take).
 *
 * The decision is recomputed from the envelope when the message is stored,
 * at its arrival time, so a backlog drained late gets the answer the
 * receiver gave.  The struct belongs to the caller (store_trust_free).
 */
#ifndef REBOUND_TRUST_H
#define REBOUND_TRUST_H

#include <glib.h>
#include <stdint.h>

#include "common/config.h"

struct store_trust;

struct store_trust_in {
	char *const *rcpts;		/* envelope recipients */
	int64_t arrival_us;
	/*
	 * -1: verify signatures now (at arrival_us).  0 or 1: the message-level
	 * answer recorded at store time (reprocess: keys may have been retired
	 * and DKIM keys rotated since; the answer given then stands, only the
	 * per-address binding and the kind rules are recomputed).
	 */
	int stored;
	gboolean arf;			/* the report is an ARF complaint */
	const char *original_mail_from;	/* ARF Original-Mail-From, or NULL */
	gboolean dkim_pass;		/* a [fbl] providers DKIM signature passed */
};

struct store_trust *store_trust_new(const struct config *cfg, const struct store_trust_in *in);
/* May any record of this message suppress (messages.suppressible)? */
gboolean store_trust_message(const struct store_trust *t);
/* May the record naming recipient suppress it?  Ignores the cap. */
gboolean store_trust_record(const struct store_trust *t, const char *recipient);
/*
 * store_trust_record() that counts against the cap: a record that would
 * reach the policy (counts) for an address not yet taken is refused once
 * the cap is reached, and counted in store_trust_over().
 */
gboolean store_trust_take(struct store_trust *t, const char *recipient, gboolean counts);
/* Records refused by the cap, and the first such address (or NULL). */
int store_trust_over(const struct store_trust *t);
const char *store_trust_first_over(const struct store_trust *t);
/* Why nothing may suppress, for the log ("unsigned", "fbl-not-arf", ...), or NULL. */
const char *store_trust_reason(const struct store_trust *t);
void store_trust_free(struct store_trust *t);

#endif
