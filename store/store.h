/*
 * store.h - write received messages, their events and the resulting
 * suppressions to PostgreSQL.
 *
 * store_batch() writes n messages in ONE transaction: each message row
 * (deduplicated on the SHA-256 of the message without the Received: field
 * our receiver prepends, so the same report delivered twice counts once),
 * one event per report record, and the policy's effect on suppressions
 * (policy.h) for the records store/trust.h allows, audited by the
 * suppressions trigger with actor "policy".
 * Only after it returns 0 has everything been committed; the caller may then
 * remove the spool entries.
 *
 * Failure: -1 with *cls = PG_TRANSIENT (nothing committed; keep the spool
 * entries and retry later - a retry after an ambiguous COMMIT is harmless
 * thanks to the dedupe) or PG_PERMANENT with *failed set to the index of the
 * message whose data the database refused (nothing committed; the caller
 * stores that one with store_message() and report = NULL and the error as
 * outcome, which writes the raw message and envelope only).
 *
 * Text from the network is made valid UTF-8 before it reaches a text column;
 * the raw message goes to a bytea in binary format.  Nothing here keeps a
 * pointer to its inputs; *err is g_free()d by the caller.
 */
#ifndef REBOUND_STORE_H
#define REBOUND_STORE_H

#include <glib.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "common/config.h"
#include "parsers/report.h"
#include "receiver/spool.h"
#include "store/pg.h"

struct store_msg {
	const struct spool_envelope *env;
	const char *raw;
	size_t len;
	const struct report *report;	/* NULL: not parsed (kind none) */
	const char *outcome;		/* overrides report->outcome; required if report is NULL */
	gboolean quarantined;
};

struct store_result {
	int64_t message_id;		/* 0 for a duplicate */
	gboolean duplicate;
	int events;
	int suppressions;		/* suppression rows added or changed */
	const char *unsuppressible;	/* why nothing could suppress (static), or NULL */
	int capped;			/* records refused by max_suppressions_per_message */
};

int store_batch(PGconn *conn, const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, size_t *failed, enum pg_error_class *cls, char **err);

/* store_batch() of one message. */
int store_message(PGconn *conn, const struct config *cfg, const struct store_msg *msg,
    struct store_result *res, enum pg_error_class *cls, char **err);

/* The dedupe hash of a spooled message (see above). */
void store_hash(const char *raw, size_t len, unsigned char out[32]);

/* Tenant of a message: from its first envelope recipient's domain. Not a copy. */
const char *store_tenant(const struct config *cfg, const struct spool_envelope *env);

/*
 * The key a suppression of this recipient would have, or NULL when the
 * recipient cannot be suppressed (not local@domain, or not valid UTF-8).
 */
char *store_address_key(const char *recipient);

/* messages.kind / events.class vocabulary (matches sql/). */
const char *store_kind_name(enum report_kind k);
const char *store_class_name(enum report_class c);

/*
 * Within an open transaction: insert one event for rec of message message_id
 * (or, with replace_id > 0, rewrite that event in place, keeping its id) and
 * apply the policy if asked and the event is suppressible (store/trust.h;
 * recorded in events.suppressible).  Used by store_batch() and by reprocess.
 */
int store_event(PGconn *conn, const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t arrival_us, const struct report *r, const struct report_record *rec,
    int64_t replace_id, gboolean apply_policy, gboolean suppressible, int *suppressions,
    enum pg_error_class *cls, char **err);

#endif
