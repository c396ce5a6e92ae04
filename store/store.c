/*
 * store.c - names, the dedupe hash, tenants and one event's parameters; see
 * store.h.  The batch is store_batch.c, its COPY rows store_copy.c, the
 * policy's SQL store_policy.c.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>

#include "common/address.h"
#include "common/log.h"
#include "store/policy.h"
#include "store/provider.h"
#include "store/trust.h"
#include "store/webhook_outbox.h"
#include "store/store_int.h"

#define EPOCH_US	"('epoch'::timestamptz + $%d::bigint * interval '1 microsecond')"

const char *
store_kind_name(enum report_kind k)
{
	switch (k) {
	case REPORT_KIND_DSN: return "dsn";
	case REPORT_KIND_ARF: return "arf";
	case REPORT_KIND_AUTOREPLY: return "autoreply";
	case REPORT_KIND_BOUNCE: return "bounce";
	case REPORT_KIND_NONE: return "none";
	}
	return "none";
}

const char *
store_class_name(enum report_class c)
{
	switch (c) {
	case REPORT_CLASS_HARD: return "hard";
	case REPORT_CLASS_SOFT: return "soft";
	case REPORT_CLASS_BLOCK: return "block";
	case REPORT_CLASS_COMPLAINT: return "complaint";
	case REPORT_CLASS_AUTOREPLY: return "autoreply";
	case REPORT_CLASS_DELIVERED: return "delivered";
	case REPORT_CLASS_UNKNOWN: return "unknown";
	}
	return "unknown";
}

void
store_hash(const char *raw, size_t len, unsigned char out[32])
{
	const char *p = raw, *end = raw + len;
	unsigned int olen = 32;

	/* Skip the Received: field our receiver prepends (first line plus its
	 * folded continuations): it differs for each delivery of one report. */
	if (len >= 9 && g_ascii_strncasecmp(raw, "Received:", 9) == 0) {
		const char *q = raw;
		while (q < end) {
			const char *nl = memchr(q, '\n', end - q);
			if (nl == NULL) {
				q = end;
				break;
			}
			q = nl + 1;
			if (q >= end || (*q != ' ' && *q != '\t'))
				break;
		}
		p = q;
	}
	if (EVP_Digest(p, end - p, out, &olen, EVP_sha256(), NULL) != 1 || olen != 32)
		g_error("EVP_Digest(sha256) failed");	/* can't happen */
}

const char *
store_tenant(const struct config *cfg, const struct spool_envelope *env)
{
	const char *dom = NULL;

	if (env != NULL && env->rcpts != NULL && env->rcpts[0] != NULL)
		dom = address_domain(env->rcpts[0]);
	return dom ? config_tenant_for_domain(cfg, dom) : cfg->default_tenant;
}

static void
params_add(struct params *p, const char *s)	/* s sanitised into a copy */
{
	g_assert(p->n < (int)G_N_ELEMENTS(p->v));
	p->owned[p->n] = pg_text(s);
	p->v[p->n] = p->owned[p->n];
	p->n++;
}

static void
params_take(struct params *p, char *s)		/* s already clean; owned */
{
	g_assert(p->n < (int)G_N_ELEMENTS(p->v));
	p->owned[p->n] = s;
	p->v[p->n] = s;
	p->n++;
}

void
store_params_clear(struct params *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		g_free(p->owned[i]);
	p->n = 0;
}

static char *
store_correlation_json(const struct config *cfg, const struct report *r, char **campaign)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *out;
	int i;

	*campaign = NULL;
	json_builder_begin_object(b);
	if (r != NULL && r->correlation != NULL) {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, r->correlation);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			char *kk = pg_text(k), *vv = pg_text(v);
			json_builder_set_member_name(b, kk);
			json_builder_add_string_value(b, vv);
			g_free(kk);
			g_free(vv);
		}
		/* campaign: the first configured correlation header present */
		for (i = 0; cfg->parser_correlation_headers &&
		    cfg->parser_correlation_headers[i] && *campaign == NULL; i++) {
			GHashTableIter it2;
			g_hash_table_iter_init(&it2, r->correlation);
			while (g_hash_table_iter_next(&it2, &k, &v))
				if (g_ascii_strcasecmp(k, cfg->parser_correlation_headers[i]) == 0 &&
				    v != NULL && *(char *)v != '\0') {
					*campaign = pg_text(v);
					break;
				}
		}
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	out = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
	return out;
}

char *
store_address_key(const char *recipient)
{
	char *key = address_key(recipient);

	/* A mangled address would suppress nobody real: record it only. */
	if (key != NULL && !g_utf8_validate(key, -1, NULL)) {
		g_free(key);
		key = NULL;
	}
	return key;
}

/*
 * The events columns a report record fills, in the order of
 * store_event_params()'s parameters: each name, its name in the batch's
 * staging table (rebound_batch_events, where the values wait as text) when
 * it differs, and how a text value becomes the column's type ("%s" the
 * value; NULL: as it is).  Every statement that writes these columns is
 * built from this table (store_event_sql).
 */
static const struct {
	const char *name, *staged, *expr;
} store_event_cols[] = {
	{ "message_id", NULL, "%s::bigint" },
	{ "tenant", NULL, NULL },
	{ "occurred_at", "occurred_us", "('epoch'::timestamptz + %s::bigint * interval '1 microsecond')" },
	{ "recipient", NULL, NULL },
	{ "address_key", NULL, NULL },
	{ "domain", NULL, NULL },
	{ "kind", NULL, NULL },
	{ "class", NULL, NULL },
	{ "reason", NULL, NULL },
	{ "status", NULL, NULL },
	{ "replycode", NULL, NULL },
	{ "action", NULL, NULL },
	{ "diagnostic", NULL, NULL },
	{ "remote_mta", NULL, NULL },
	{ "reporting_mta", NULL, NULL },
	{ "mta", NULL, NULL },
	{ "feedback_type", NULL, NULL },
	{ "user_agent", NULL, NULL },
	{ "source_ip", NULL, NULL },
	{ "rule", NULL, NULL },
	{ "orig_message_id", NULL, NULL },
	{ "orig_subject", NULL, NULL },
	{ "campaign", NULL, NULL },
	{ "correlation", NULL, "%s::jsonb" },
	{ "original_recipient", NULL, NULL },
	{ "last_attempt", NULL, NULL },
	{ "smtp_command", NULL, NULL },
	{ "arrival_date", NULL, NULL },
	{ "original_mail_from", NULL, NULL },
	{ "reported_domain", NULL, NULL },
	{ "auth_results", NULL, NULL },
	{ "orig_from", NULL, NULL },
	{ "orig_to", NULL, NULL },
	{ "orig_list_id", NULL, NULL },
	{ "orig_date", NULL, NULL },
	{ "suppressible", NULL, "%s::boolean" },
	{ "provider", NULL, NULL },
};
G_STATIC_ASSERT(G_N_ELEMENTS(store_event_cols) == STORE_EVENT_COLS);

/*
 * A complaint keeps the provider it was stored with: like the message's
 * trust, it was settled at arrival (a verified DKIM d= is not checked
 * again), and a rules change does not move a report's origin.
 */
#define PROVIDER_KEPT	"CASE WHEN %s::text IS NULL THEN NULL ELSE coalesce(events.provider, %s::text) END"

/* Appends value i (a parameter "$N" or a staged column) cast as its column takes it. */
static void
store_event_value(GString *out, guint i, const char *v, gboolean replace)
{
	if (replace && strcmp(store_event_cols[i].name, "provider") == 0)
		g_string_append_printf(out, PROVIDER_KEPT, v, v);
	else if (store_event_cols[i].expr != NULL)
		g_string_append_printf(out, store_event_cols[i].expr, v);
	else
		g_string_append(out, v);
}

static struct store_event_sql *
store_event_sql_build(void)
{
	struct store_event_sql *q = g_new0(struct store_event_sql, 1);
	GString *names = g_string_new(NULL), *params = g_string_new(NULL);
	GString *kept = g_string_new(NULL), *staged = g_string_new(NULL);
	GString *decl = g_string_new(NULL), *moved = g_string_new(NULL);
	guint i;

	for (i = 0; i < G_N_ELEMENTS(store_event_cols); i++) {
		const char *sep = i > 0 ? ", " : "";
		const char *st = store_event_cols[i].staged ? store_event_cols[i].staged :
		    store_event_cols[i].name;
		char dollar[16];

		snprintf(dollar, sizeof dollar, "$%u", i + 1);
		g_string_append_printf(names, "%s%s", sep, store_event_cols[i].name);
		g_string_append(params, sep);
		store_event_value(params, i, dollar, FALSE);
		g_string_append(kept, sep);
		store_event_value(kept, i, dollar, TRUE);
		g_string_append_printf(staged, "%s%s", sep, st);
		g_string_append_printf(decl, "%s%s text", sep, st);
		g_string_append(moved, sep);
		store_event_value(moved, i, st, FALSE);
	}
	q->insert = g_strdup_printf("INSERT INTO events (%s) VALUES (%s) RETURNING id", names->str,
	    params->str);
	q->replace = g_strdup_printf("UPDATE events SET (%s) = (%s) WHERE id = $%u::bigint"
	    " RETURNING id", names->str, kept->str, i + 1);
	q->staged_decl = g_string_free(decl, FALSE);
	q->staged = g_string_free(staged, FALSE);
	q->names = g_string_free(names, FALSE);
	q->moved = g_string_free(moved, FALSE);
	g_string_free(params, TRUE);
	g_string_free(kept, TRUE);
	return q;
}

const struct store_event_sql *
store_event_sql(void)
{
	static struct store_event_sql *q;

	if (g_once_init_enter(&q))
		g_once_init_leave(&q, store_event_sql_build());
	return q;
}

/* See store_int.h. */
void
store_event_params(const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t occurred_us, const struct report *r, const struct store_origin *origin,
    const struct report_record *rec, gboolean suppressible, struct params *p, char **address,
    char **key, const char **dom, gboolean *policy_ok)
{
	char *campaign = NULL, *json;

	*policy_ok = suppressible;
	*address = address_normalise(rec->recipient);
	*key = store_address_key(rec->recipient);
	if (*address == NULL || *key == NULL) {
		/* kept as an event for the record; never a suppression */
		g_free(*address);
		g_free(*key);
		*address = pg_text(rec->recipient ? rec->recipient : "");
		*key = g_ascii_strdown(*address, -1);
		*policy_ok = FALSE;
	}
	/* stored and shown like any other, but it stands for nobody */
	if (placeholder_address(*address, r, origin != NULL && origin->redacted))
		*policy_ok = FALSE;
	*dom = address_domain(*key);
	params_take(p, g_strdup_printf("%" G_GINT64_FORMAT, message_id));
	params_add(p, tenant);
	params_take(p, g_strdup_printf("%" G_GINT64_FORMAT, occurred_us));
	params_add(p, *address);
	params_add(p, *key);
	params_add(p, *dom ? *dom : "");
	params_add(p, store_kind_name(r->kind));
	params_add(p, store_class_name(rec->class_));
	params_add(p, rec->reason);
	params_add(p, rec->status);
	params_add(p, rec->replycode);
	params_add(p, rec->action);
	params_add(p, rec->diagnostic);
	params_add(p, rec->remote_mta);
	params_add(p, r->reporting_mta);
	params_add(p, r->mta);
	params_add(p, rec->feedback_type);
	params_add(p, r->user_agent);
	params_add(p, r->source_ip);
	params_add(p, rec->rule);
	params_add(p, r->orig_message_id);
	params_add(p, r->orig_subject);
	json = store_correlation_json(cfg, r, &campaign);
	params_take(p, campaign);
	params_take(p, json);
	params_add(p, rec->original_recipient);
	params_add(p, rec->last_attempt);
	params_add(p, rec->smtp_command);
	params_add(p, r->arrival_date);
	params_add(p, r->original_mail_from);
	params_add(p, r->reported_domain);
	params_add(p, r->auth_results);
	params_add(p, r->orig_from);
	params_add(p, r->orig_to);
	params_add(p, r->orig_list_id);
	params_add(p, r->orig_date);
	params_add(p, suppressible ? "true" : "false");
	params_add(p, rec->class_ == REPORT_CLASS_COMPLAINT && origin ? origin->provider : NULL);
	g_assert(p->n == STORE_EVENT_COLS);
}

int
store_event(PGconn *conn, const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t arrival_us, const struct report *r, const struct store_origin *origin,
    const struct report_record *rec, int64_t replace_id, gboolean apply_policy,
    gboolean suppressible, int *suppressions, enum pg_error_class *cls, char **err)
{
	struct params p = { 0 };
	char *address, *key;
	const char *dom;
	gboolean policy_ok;
	int64_t event_id;
	PGresult *res;
	int rc = -1;

	store_event_params(cfg, message_id, tenant, arrival_us, r, origin, rec, suppressible, &p,
	    &address, &key, &dom, &policy_ok);
	if (!policy_ok)
		apply_policy = FALSE;
	if (replace_id > 0)
		params_take(&p, g_strdup_printf("%" G_GINT64_FORMAT, replace_id));
	res = pg_exec(conn, replace_id > 0 ? store_event_sql()->replace : store_event_sql()->insert, p.n, p.v,
	    PGRES_TUPLES_OK, cls, err);
	if (res == NULL)
		goto done;
	if (PQntuples(res) != 1) {
		*err = g_strdup_printf("event %" G_GINT64_FORMAT " not found", replace_id);
		if (cls)
			*cls = PG_PERMANENT;
		PQclear(res);
		goto done;
	}
	event_id = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	/* a rewrite by reprocess is not news to the webhooks */
	if (replace_id <= 0 && webhook_outbox_add(conn, cfg, event_id, tenant, cls, err) < 0)
		goto done;
	if (apply_policy && store_policy(conn, cfg, tenant, address, key, dom ? dom : "",
	    arrival_us, event_id, rec, suppressions, cls, err) < 0)
		goto done;
	rc = 0;
done:
	store_params_clear(&p);
	g_free(address);
	g_free(key);
	return rc;
}

gboolean
store_placeholder(const struct report_record *rec, const struct report *r,
    const struct store_origin *origin)
{
	char *address = address_normalise(rec->recipient);
	gboolean hit = placeholder_address(address ? address : rec->recipient, r,
	    origin != NULL && origin->redacted);

	g_free(address);
	return hit;
}

