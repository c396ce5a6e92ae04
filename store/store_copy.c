/*
 * store_copy.c - the batch's rows in COPY's binary format: every value
 * length-prefixed, nothing escaped.
 */
#include <string.h>

#include "common/log.h"
#include "store/policy.h"
#include "store/store.h"
#include "store/store_int.h"

#define BATCH_MESSAGE_FIELDS	19
#define BATCH_EVENT_FIELDS	(7 + STORE_EVENT_COLS)

/* Raw bytes are kept for reprocess and quarantine --show, up to a size:
 * a bounce carrying a whole original is mostly that original. */
gboolean
store_keeps_raw(const struct config *cfg, const struct store_msg *m)
{
	return (uint64_t)m->len <= (uint64_t)cfg->store_raw_max_mb << 20;
}


/* COPY's binary format: a header, rows of length-prefixed fields, a trailer. */
static void
copy_u16(GByteArray *b, guint16 v)
{
	guint8 x[2] = { v >> 8, v };
	g_byte_array_append(b, x, 2);
}

static void
copy_u32(GByteArray *b, guint32 v)
{
	guint8 x[4] = { v >> 24, v >> 16, v >> 8, v };
	g_byte_array_append(b, x, 4);
}

GByteArray *
store_copy_new(void)
{
	static const guint8 sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0 };
	GByteArray *b = g_byte_array_new();

	g_byte_array_append(b, sig, sizeof sig);
	copy_u32(b, 0);		/* flags */
	copy_u32(b, 0);		/* header extension length */
	return b;
}

static void
copy_bytes(GByteArray *b, const void *v, size_t len)
{
	if (v == NULL) {
		copy_u32(b, 0xffffffffu);	/* NULL */
		return;
	}
	copy_u32(b, (guint32)len);
	g_byte_array_append(b, v, (guint)len);
}

static void
copy_text(GByteArray *b, const char *s)
{
	copy_bytes(b, s, s ? strlen(s) : 0);
}

static void
copy_int4(GByteArray *b, gint32 v)
{
	copy_u32(b, 4);
	copy_u32(b, (guint32)v);
}

void
store_copy_finish(GByteArray *b)
{
	copy_u16(b, 0xffff);
}

static void
copy_int8(GByteArray *b, gint64 v)
{
	copy_u32(b, 8);
	copy_u32(b, (guint32)((guint64)v >> 32));
	copy_u32(b, (guint32)v);
}

static void
copy_bool(GByteArray *b, gboolean v)
{
	guint8 x = v ? 1 : 0;

	copy_bytes(b, &x, 1);
}

/* timestamptz: microseconds since 2000-01-01 UTC */
static void
copy_ts(GByteArray *b, gint64 unix_us)
{
	copy_int8(b, unix_us - G_GINT64_CONSTANT(946684800000000));
}

/* Text made valid UTF-8 without NUL, as for a parameter. */
static void
copy_clean(GByteArray *b, const char *s)
{
	char *t = pg_text(s);

	copy_text(b, t);
	g_free(t);
}

/* text[], one dimension, no NULL elements */
static void
copy_text_array(GByteArray *b, char *const *v)
{
	GByteArray *a = g_byte_array_new();
	guint32 n = 0;
	int i;

	for (i = 0; v != NULL && v[i] != NULL; i++, n++)
		copy_clean(a, v[i]);
	copy_u32(b, n > 0 ? 20 + a->len : 12);
	copy_u32(b, n > 0 ? 1 : 0);	/* dimensions */
	copy_u32(b, 0);			/* no NULLs */
	copy_u32(b, 25);		/* text */
	if (n > 0) {
		copy_u32(b, n);
		copy_u32(b, 1);		/* lower bound */
		g_byte_array_append(b, a->data, a->len);
	}
	g_byte_array_unref(a);
}

/* One message's COPY row, in SQL_BATCH_COPY_MESSAGES's column order (store_batch.c). */
void
store_copy_message(GByteArray *b, const struct config *cfg, int64_t id,
    const struct store_msg *m, const unsigned char hash[32], const struct store_trust *trust)
{
	const struct spool_envelope *env = m->env;
	const struct report *r = m->report;

	copy_u16(b, BATCH_MESSAGE_FIELDS);
	copy_int8(b, id);
	copy_clean(b, env->queue_id);
	copy_ts(b, env->arrival_us);
	copy_clean(b, env->client_addr);
	copy_clean(b, env->helo);
	copy_clean(b, env->tls);
	copy_clean(b, env->mail_from);
	copy_text_array(b, env->rcpts);
	copy_int8(b, (gint64)m->len);
	copy_bytes(b, hash, 32);
	copy_clean(b, store_tenant(cfg, env));
	copy_text(b, r ? store_kind_name(r->kind) : "none");
	copy_clean(b, m->outcome ? m->outcome : (r && r->outcome ? r->outcome : "ok"));
	copy_int4(b, r ? (gint32)r->anomalies : 0);
	copy_clean(b, r ? r->mta : NULL);
	copy_int4(b, env->attempts > 0 ? env->attempts : 1);
	copy_bool(b, m->quarantined);
	if (store_keeps_raw(cfg, m))
		copy_bytes(b, m->raw ? m->raw : "", m->len);
	else
		copy_bytes(b, NULL, 0);
	copy_bool(b, store_trust_message(trust));
}


/* Per (tenant, address key): how many of its events in this batch reached the policy so far. */
static int
store_next_round(GHashTable *rounds, const char *tenant, const char *key)
{
	char *k = g_strconcat(tenant, "\n", key, NULL);
	int n = GPOINTER_TO_INT(g_hash_table_lookup(rounds, k)) + 1;

	g_hash_table_replace(rounds, k, GINT_TO_POINTER(n));
	return n;
}


/*
 * One event's COPY row; returns its policy round, 0 when it does not reach
 * the policy (POLICY_NONE: unsuppressible, capped, or a placeholder
 * address), and its policy action in *actp.
 */
int
store_copy_event(GByteArray *b, const struct config *cfg, GHashTable *rounds, int seq,
    size_t idx, int64_t message_id, const char *tenant, int64_t occurred_us,
    const struct report *r, const struct store_origin *origin, const struct report_record *rec,
    gboolean suppressible, enum policy_action *actp)
{
	struct params p = { 0 };
	char *address, *key, *reason;
	const char *dom;
	gboolean policy_ok;
	enum policy_action act = POLICY_NONE;
	int i, round = 0;

	store_event_params(cfg, message_id, tenant, occurred_us, r, origin, rec, suppressible, &p,
	    &address, &key, &dom, &policy_ok);
	if (policy_ok)
		act = policy_decide(cfg, rec->class_, rec->feedback_type);
	if (act != POLICY_NONE)
		round = store_next_round(rounds, tenant, key);
	reason = pg_text(rec->reason ? rec->reason : store_class_name(rec->class_));
	g_assert(p.n + 7 == BATCH_EVENT_FIELDS);
	copy_u16(b, BATCH_EVENT_FIELDS);
	copy_int4(b, seq);
	copy_int4(b, (gint32)idx);
	copy_int4(b, round);
	copy_int4(b, (gint32)act);
	copy_text(b, policy_class_name(rec->class_));
	copy_text(b, reason);
	copy_bytes(b, NULL, 0);			/* event_id: taken when moved into events */
	for (i = 0; i < p.n; i++)
		copy_text(b, p.v[i]);
	g_free(reason);
	store_params_clear(&p);
	g_free(address);
	g_free(key);
	*actp = act;
	return round;
}

