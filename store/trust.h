/*
 * trust.h - which reports of a message may change the suppression list,
 * under [signing] (common/signing.h, sql/002_signing.sql).
 *
 * The decision is recomputed from the envelope recipients when the message
 * is stored, not carried in the spool: the envelope is already durable, so
 * the answer survives restarts and needs no spool format change, and it is
 * taken at the message's arrival time, so a backlog drained late gets the
 * answer the receiver gave.
 *
 * A message is suppressible when every envelope recipient is trusted: a
 * feedback-loop address, outside required_domains, or a valid signed return
 * path.  When its only trusted recipients are signed paths, each record may
 * suppress only the addresses those paths were signed for: a genuine signed
 * path for one address does not let its holder suppress another.  A
 * complaint is further bound by its original's return path
 * (store_trust_original).
 *
 * The struct belongs to the caller (store_trust_free); nothing is borrowed.
 */
#ifndef REBOUND_TRUST_H
#define REBOUND_TRUST_H

#include <glib.h>
#include <stdint.h>

#include "common/config.h"

struct store_trust;

/*
 * stored: -1 to verify the signatures now (at arrival_us); 0 or 1 to take
 * the message-level answer recorded at store time (reprocess: keys may have
 * been retired since, the answer given then stands).
 */
struct store_trust *store_trust_new(const struct config *cfg, char *const *rcpts,
    int64_t arrival_us, int stored);
/*
 * A complaint names the envelope sender of the original it complains
 * about (ARF Original-Mail-From).  When that sender is in a required
 * domain it was one of our return paths, so it must be a valid signed one:
 * the report may then suppress only the address it was signed for, and
 * nothing when it is unsigned, forged or expired - which is what keeps a
 * forged complaint sent to the feedback-loop address (that needs no
 * signature) from suppressing anyone.  A sender outside the required
 * domains, or none (redacted, or a format without the field), changes
 * nothing.  stored as for store_trust_new().
 */
void store_trust_original(struct store_trust *t, const struct config *cfg,
    const char *original_mail_from, int64_t arrival_us, int stored);
gboolean store_trust_message(const struct store_trust *t);
/* May the record naming recipient suppress it? */
gboolean store_trust_record(const struct store_trust *t, const char *recipient);
/* Why not, for the log: "unsigned", "forged", "expired" or NULL. */
const char *store_trust_reason(const struct store_trust *t);
void store_trust_free(struct store_trust *t);

#endif
