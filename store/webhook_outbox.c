/* webhook_outbox.c - queue events for webhooks; see webhook_outbox.h. */
#include "store/webhook_outbox.h"

#include <string.h>
#include <glib.h>

#include "common/webhook_url.h"

static const char SQL_QUEUE[] =
    "INSERT INTO webhook_outbox (event_id, tenant, url)"
    " SELECT $1::bigint, $2, u FROM unnest($3::text[]) AS u ON CONFLICT DO NOTHING";

int
webhook_outbox_add(PGconn *conn, const struct config *cfg, int64_t event_id,
    const char *tenant, enum pg_error_class *cls, char **err)
{
	GString *arr;
	char id[32];
	const char *p[3];
	int i, n = 0, rc;

	if (cfg->webhook_url == NULL || cfg->webhook_url[0] == NULL)
		return 0;
	arr = g_string_new("{");
	for (i = 0; cfg->webhook_url[i]; i++) {
		struct webhook_url u;
		const char *c;
		if (webhook_url_parse(cfg->webhook_url[i], &u) < 0)
			continue;	/* refused when the configuration loaded */
		if (u.tenant == NULL || strcmp(u.tenant, tenant) == 0) {
			g_string_append(arr, n++ ? ",\"" : "\"");
			for (c = u.url; *c; c++) {
				if (*c == '"' || *c == '\\')
					g_string_append_c(arr, '\\');
				g_string_append_c(arr, *c);
			}
			g_string_append_c(arr, '"');
		}
		webhook_url_clear(&u);
	}
	g_string_append_c(arr, '}');
	if (n == 0) {
		g_string_free(arr, TRUE);
		return 0;
	}
	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, event_id);
	p[0] = id;
	p[1] = tenant;
	p[2] = arr->str;
	rc = pg_command(conn, SQL_QUEUE, 3, p, cls, err);
	g_string_free(arr, TRUE);
	return rc;
}

static const char SQL_QUEUE_BATCH[] =
    "INSERT INTO webhook_outbox (event_id, tenant, url)"
    " SELECT e.event_id, e.tenant, u.url FROM rebound_batch_events e"
    " JOIN unnest($1::text[], $2::text[]) AS u(tenant, url) ON u.tenant = '' OR u.tenant = e.tenant"
    " WHERE e.event_id IS NOT NULL ORDER BY e.seq ON CONFLICT DO NOTHING";

/* Appends s to a text[] literal being built in a. */
static void
webhook_outbox_item(GString *a, const char *s)
{
	const char *c;

	g_string_append(a, a->len > 1 ? ",\"" : "\"");
	for (c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			g_string_append_c(a, '\\');
		g_string_append_c(a, *c);
	}
	g_string_append_c(a, '"');
}

int
webhook_outbox_batch(PGconn *conn, const struct config *cfg, enum pg_error_class *cls,
    char **err)
{
	GString *tenants, *urls;
	const char *p[2];
	int i, n = 0, rc;

	if (cfg->webhook_url == NULL || cfg->webhook_url[0] == NULL)
		return 0;
	tenants = g_string_new("{");
	urls = g_string_new("{");
	for (i = 0; cfg->webhook_url[i]; i++) {
		struct webhook_url u;
		if (webhook_url_parse(cfg->webhook_url[i], &u) < 0)
			continue;	/* refused when the configuration loaded */
		webhook_outbox_item(tenants, u.tenant ? u.tenant : "");
		webhook_outbox_item(urls, u.url);
		webhook_url_clear(&u);
		n++;
	}
	g_string_append_c(tenants, '}');
	g_string_append_c(urls, '}');
	p[0] = tenants->str;
	p[1] = urls->str;
	rc = n == 0 ? 0 : pg_command(conn, SQL_QUEUE_BATCH, 2, p, cls, err);
	g_string_free(tenants, TRUE);
	g_string_free(urls, TRUE);
	return rc;
}
