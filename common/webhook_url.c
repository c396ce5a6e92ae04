/* webhook_url.c - [webhook] url entries; see webhook_url.h. */
#include "common/webhook_url.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

int
webhook_url_parse(const char *entry, struct webhook_url *u)
{
	const char *scheme = strstr(entry, "://"), *eq = strchr(entry, '='), *hp, *slash, *end;
	char *hostport = NULL, *colon;
	long port;

	memset(u, 0, sizeof(*u));
	if (scheme == NULL)
		return -1;
	if (eq != NULL && eq < scheme) {
		const char *t;
		for (t = entry; t < eq; t++)
			if (!g_ascii_isalnum(*t) && *t != '-' && *t != '_' && *t != '.')
				return -1;
		if (eq == entry)
			return -1;
		u->tenant = g_strndup(entry, eq - entry);
		entry = eq + 1;
	}
	if (g_ascii_strncasecmp(entry, "https://", 8) == 0) {
		u->tls = 1;
		hp = entry + 8;
	} else if (g_ascii_strncasecmp(entry, "http://", 7) == 0)
		hp = entry + 7;
	else
		goto bad;
	slash = strchr(hp, '/');
	end = slash ? slash : hp + strlen(hp);
	if (end == hp || memchr(hp, '@', end - hp) != NULL)
		goto bad;
	hostport = g_strndup(hp, end - hp);
	u->port = u->tls ? 443 : 80;
	if (hostport[0] == '[') {
		char *rb = strchr(hostport, ']');
		if (rb == NULL)
			goto bad;
		u->host = g_strndup(hostport + 1, rb - hostport - 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] != '\0' && colon == NULL)
			goto bad;
	} else {
		colon = strchr(hostport, ':');
		u->host = colon ? g_strndup(hostport, colon - hostport) : g_strdup(hostport);
	}
	if (colon != NULL) {
		char *e;
		port = strtol(colon + 1, &e, 10);
		if (*e != '\0' || port < 1 || port > 65535)
			goto bad;
		u->port = (int)port;
	}
	if (*u->host == '\0')
		goto bad;
	u->path = g_strdup(slash ? slash : "/");
	if (strpbrk(u->path, " \r\n\t") != NULL)
		goto bad;
	u->url = g_strdup(entry);
	g_free(hostport);
	return 0;
bad:
	g_free(hostport);
	webhook_url_clear(u);
	return -1;
}

void
webhook_url_clear(struct webhook_url *u)
{
	g_free(u->tenant);
	g_free(u->url);
	g_free(u->host);
	g_free(u->path);
	memset(u, 0, sizeof(*u));
}
