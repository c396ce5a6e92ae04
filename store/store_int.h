/*
 * store_int.h - what the files of the store (store.c, store_batch.c,
 * store_copy.c, store_policy.c) share; no other module includes it.
 */
#ifndef REBOUND_STORE_INT_H
#define REBOUND_STORE_INT_H

#include <glib.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "common/config.h"
#include "parsers/report.h"
#include "store/pg.h"
#include "store/policy.h"
#include "store/provider.h"
#include "store/store.h"
#include "store/trust.h"

/* Collects the text parameters of one statement and frees them together. */
struct params {
	const char *v[48];
	char *owned[48];
	int n;
};

void store_params_clear(struct params *p);

/* The events columns a report record fills (store.c's store_event_cols). */
#define STORE_EVENT_COLS	37

/* Statements and lists built from those columns, once (never freed). */
struct store_event_sql {
	char *insert;		/* INSERT of one event: $1..$37, RETURNING id */
	char *replace;		/* its rewrite in place: $38 the event's id */
	char *names;		/* the columns, "message_id, tenant, ..." */
	char *staged;		/* their names in the staging table */
	char *staged_decl;	/* "message_id text, tenant text, ..." */
	char *moved;		/* the staged columns cast as the events columns take them */
};

const struct store_event_sql *store_event_sql(void);

/*
 * The STORE_EVENT_COLS parameters of store_event_sql()->insert for one record, in its column order (the
 * batch writes the same values through COPY).  *address, *key and *dom
 * (pointing into *key) are what a suppression would use; FALSE in
 * *policy_ok when the recipient cannot be suppressed: not suppressible,
 * not a usable address, or a placeholder that stands for nobody.
 * occurred_us is when the event happened (the arrival, or the report's
 * date for a backfilled message); origin (may be NULL) names a
 * complaint's provider.
 */
void store_event_params(const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t occurred_us, const struct report *r, const struct store_origin *origin,
    const struct report_record *rec, gboolean suppressible, struct params *p, char **address,
    char **key, const char **dom, gboolean *policy_ok);

/* The policy for one event just inserted (store_policy.c). */
int store_policy(PGconn *conn, const struct config *cfg, const char *tenant, const char *address,
    const char *key, const char *domain, int64_t at_us, int64_t event_id,
    const struct report_record *rec, int *suppressions, enum pg_error_class *cls, char **err);

/*
 * The policy for a batch's events, in rebound_batch_events (store_batch.c):
 * pev holds, per event reaching the policy, three gint32 (its round,
 * action and message index); res[0..n) get their suppressions counted.
 */
int store_batch_policy(PGconn *conn, const struct config *cfg, const GArray *pev, int maxround,
    struct store_result *res, size_t n, enum pg_error_class *cls, char **err);

/* Whether m's raw bytes are kept ([store] raw_max_mb). */
gboolean store_keeps_raw(const struct config *cfg, const struct store_msg *m);

/* COPY's binary format (store_copy.c): a buffer with the header; the trailer. */
GByteArray *store_copy_new(void);
void store_copy_finish(GByteArray *b);
/* One message's row of SQL_BATCH_COPY_MESSAGES (store_batch.c). */
void store_copy_message(GByteArray *b, const struct config *cfg, int64_t id,
    const struct store_msg *m, const unsigned char hash[32], const struct store_trust *trust);
/*
 * One event's row of SQL_BATCH_COPY_EVENTS; returns its policy round, 0
 * when it does not reach the policy, and its action in *actp.  rounds
 * counts, per tenant and address key, the batch's events so far.
 */
int store_copy_event(GByteArray *b, const struct config *cfg, GHashTable *rounds, int seq,
    size_t idx, int64_t message_id, const char *tenant, int64_t occurred_us,
    const struct report *r, const struct store_origin *origin, const struct report_record *rec,
    gboolean suppressible, enum policy_action *actp);

#endif
