/* webhook_outbox.c - queue events for webhooks; see webhook_outbox.h. */
#include "store/webhook_outbox.h"

#include <string.h>
#include <glib.h>

#include "common/webhook_url.h"

static const char SQL_QUEUE[] =
    "INSERT INTO webhook_outbox (event_id, tenant, url)"
    " SELECT $1::bigint, $2, w.url FROM unnest($3::text[], $4::text[]) WITH ORDINALITY"
    "   AS w(tenant, url, ord)"
    " WHERE w.tenant IS NULL OR w.tenant = $2 ORDER BY w.ord ON CONFLICT DO NOTHING";

static void
array_add(GString *arr, const char *s)
{
	const char *c;

	if (arr->len > 1)
		g_string_append_c(arr, ',');
	if (s == NULL) {
		g_string_append(arr, "NULL");
		return;
	}
	g_string_append_c(arr, '"');
	for (c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			g_string_append_c(arr, '\\');
		g_string_append_c(arr, *c);
	}
	g_string_append_c(arr, '"');
}

gboolean
webhook_outbox_endpoints(const struct config *cfg, char **tenants, char **urls)
{
	GString *t, *u;
	int i, n = 0;

	*tenants = *urls = NULL;
	if (cfg->webhook_url == NULL || cfg->webhook_url[0] == NULL)
		return FALSE;
	t = g_string_new("{");
	u = g_string_new("{");
	for (i = 0; cfg->webhook_url[i]; i++) {
		struct webhook_url w;
		if (webhook_url_parse(cfg->webhook_url[i], &w) < 0)
			continue;	/* refused when the configuration loaded */
		array_add(t, w.tenant);
		array_add(u, w.url);
		n++;
		webhook_url_clear(&w);
	}
	g_string_append_c(t, '}');
	g_string_append_c(u, '}');
	if (n == 0) {
		g_string_free(t, TRUE);
		g_string_free(u, TRUE);
		return FALSE;
	}
	*tenants = g_string_free(t, FALSE);
	*urls = g_string_free(u, FALSE);
	return TRUE;
}

int
webhook_outbox_add(PGconn *conn, const struct config *cfg, int64_t event_id,
    const char *tenant, enum pg_error_class *cls, char **err)
{
	char id[32], *tenants, *urls;
	const char *p[4];
	int rc;

	if (!webhook_outbox_endpoints(cfg, &tenants, &urls))
		return 0;
	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, event_id);
	p[0] = id;
	p[1] = tenant;
	p[2] = tenants;
	p[3] = urls;
	rc = pg_command(conn, SQL_QUEUE, 4, p, cls, err);
	g_free(tenants);
	g_free(urls);
	return rc;
}
