/* provider.c - complaint provider and placeholder addresses; see provider.h. */
#include "store/provider.h"

#include <string.h>
#include <glib.h>

#include "common/address.h"

char *
provider_registered_domain(const char *domain)
{
	static const char *const second[] = { "co", "com", "net", "org", "ac", "gov", "edu", "ne",
	    "or", "go", NULL };
	char *d, **labels, *out;
	guint n;

	if (domain == NULL)
		return NULL;
	d = g_ascii_strdown(domain, -1);
	g_strstrip(d);
	while (*d && d[strlen(d) - 1] == '.')
		d[strlen(d) - 1] = '\0';
	if (*d == '\0' || strchr(d, '.') == NULL || strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(d)) {
		g_free(d);
		return NULL;
	}
	labels = g_strsplit(d, ".", -1);
	n = g_strv_length(labels);
	/* "co.uk"-style country suffixes keep a third label */
	if (n >= 3 && strlen(labels[n - 1]) == 2 && g_strv_contains(second, labels[n - 2]))
		out = g_strjoin(".", labels[n - 3], labels[n - 2], labels[n - 1], NULL);
	else
		out = g_strjoin(".", labels[n - 2], labels[n - 1], NULL);
	g_strfreev(labels);
	g_free(d);
	return out;
}

/* The domain of the address in a From field value: inside <> if any. */
static char *
provider_from_value(const char *v, size_t len)
{
	const char *lt = memchr(v, '<', len), *at, *end = v + len, *s, *e;

	if (lt != NULL) {
		const char *gt = memchr(lt, '>', end - lt);
		if (gt == NULL)
			return NULL;
		v = lt + 1;
		end = gt;
	}
	if ((at = memchr(v, '@', end - v)) == NULL)
		return NULL;
	s = at + 1;
	for (e = s; e < end && (g_ascii_isalnum(*e) || *e == '.' || *e == '-'); e++)
		;
	return e > s ? g_strndup(s, e - s) : NULL;
}

char *
provider_header(const char *raw, size_t len, const char *name)
{
	const char *p = raw, *end = raw + len;
	size_t n = strlen(name);

	while (p != NULL && p < end && *p != '\r' && *p != '\n') {
		const char *nl = memchr(p, '\n', end - p);
		const char *line_end = nl ? nl : end;
		if ((size_t)(line_end - p) > n && p[n] == ':' && g_ascii_strncasecmp(p, name, n) == 0) {
			GString *v = g_string_new_len(p + n + 1, line_end - p - n - 1);
			const char *vend = line_end;
			/* folded continuation lines */
			while (vend + 1 < end && (vend[1] == ' ' || vend[1] == '\t')) {
				const char *n2 = memchr(vend + 1, '\n', end - vend - 1);
				const char *le = n2 ? n2 : end;
				g_string_append_len(v, vend + 1, le - vend - 1);
				vend = le;
			}
			g_strdelimit(v->str, "\r\n", ' ');
			g_strstrip(v->str);
			return g_string_free(v, FALSE);
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* The From of the report's own header, or NULL. */
static char *
provider_header_from(const char *raw, size_t len)
{
	char *v = provider_header(raw, len, "From"), *dom;

	if (v == NULL)
		return NULL;
	dom = provider_from_value(v, strlen(v));
	g_free(v);
	return dom;
}

static const struct {
	const char *needle;	/* in User-Agent, case-insensitive */
	const char *provider;
} provider_agents[] = {
	{ "yahoo", "yahoo.com" },
	{ "aol", "aol.com" },
	{ "hotmail", "outlook.com" },
	{ "junk mail reporting", "outlook.com" },
	{ "comcast", "comcast.net" },
	{ "mail.ru", "mail.ru" },
	{ "yandex", "yandex.ru" },
	{ "fastmail", "fastmail.com" },
	{ "zoho", "zoho.com" },
};

char *
provider_of(const char *raw, size_t len, const char *mail_from, const struct report *r)
{
	char *dom = NULL, *out;
	size_t i;

	if (raw != NULL)
		dom = provider_header_from(raw, len);
	if (dom == NULL && mail_from != NULL && address_domain(mail_from) != NULL)
		dom = g_strdup(address_domain(mail_from));
	if (dom != NULL && (out = provider_registered_domain(dom)) != NULL) {
		g_free(dom);
		return out;
	}
	g_free(dom);
	if (r != NULL && r->user_agent != NULL) {
		char *ua = g_ascii_strdown(r->user_agent, -1);
		for (i = 0; i < G_N_ELEMENTS(provider_agents); i++)
			if (strstr(ua, provider_agents[i].needle) != NULL) {
				g_free(ua);
				return g_strdup(provider_agents[i].provider);
			}
		g_free(ua);
	}
	if (r != NULL && r->reporting_mta != NULL)
		return provider_registered_domain(r->reporting_mta);
	return NULL;
}

static int
placeholder_example(const char *dom)
{
	static const char *const reserved[] = { "example.com", "example.net", "example.org",
	    "example", NULL };
	size_t n = strlen(dom);
	int i;

	for (i = 0; reserved[i]; i++)
		if (g_ascii_strcasecmp(dom, reserved[i]) == 0)
			return 1;
	return n > 8 && g_ascii_strcasecmp(dom + n - 8, ".example") == 0;
}

/* Some line of raw starts with prefix (lower case; compared case-blind). */
static int
provider_has_line(const char *raw, size_t len, const char *prefix)
{
	const char *p = raw, *end = raw + len;
	size_t n = strlen(prefix);

	while (p != NULL && p + n <= end) {
		const char *nl;
		if (g_ascii_strncasecmp(p, prefix, n) == 0)
			return 1;
		nl = memchr(p, '\n', end - p);
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

void
provider_origin(struct store_origin *o, const char *raw, size_t len, const char *mail_from,
    const struct report *r)
{
	o->provider = NULL;
	o->redacted = 0;
	if (r == NULL || r->kind != REPORT_KIND_ARF)
		return;
	o->provider = provider_of(raw, len, mail_from, r);
	if (raw == NULL)
		return;
	/* Only a report that shows its feedback-report part can be seen to
	 * leave Original-Rcpt-To out. */
	if (!provider_has_line(raw, len, "content-type: message/feedback-report"))
		return;
	o->redacted = !provider_has_line(raw, len, "original-rcpt-to:");
}

void
provider_clear(struct store_origin *o)
{
	g_free(o->provider);
	o->provider = NULL;
}

int
placeholder_address(const char *address, const struct report *r, int redacted)
{
	static const char *const locals[] = { "redacted", "undisclosed", "undisclosed-recipient",
	    "undisclosed-recipients", NULL };
	char *local;
	int hit;

	const char *at, *dom;
	size_t n;

	if (address == NULL || (at = strrchr(address, '@')) == NULL)
		return 0;
	dom = at + 1;
	n = strlen(dom);
	if (g_ascii_strcasecmp(dom, "invalid") == 0 ||
	    (n > 8 && g_ascii_strcasecmp(dom + n - 8, ".invalid") == 0))
		return 1;
	if (r == NULL || r->kind != REPORT_KIND_ARF)
		return 0;
	local = g_ascii_strdown(address, at - address);
	hit = g_strv_contains(locals, local);
	g_free(local);
	return hit || (redacted && placeholder_example(dom));
}
