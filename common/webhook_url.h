/*
 * webhook_url.h - one [webhook] url entry: "URL" (events of every tenant)
 * or "TENANT=URL" (that tenant's only), URL being http:// or https://
 * host[:port][/path].  Shared by the config check, the store (which
 * endpoints an event is queued for) and the deliverer.
 */
#ifndef REBOUND_WEBHOOK_URL_H
#define REBOUND_WEBHOOK_URL_H

struct webhook_url {
	char *tenant;		/* NULL = every tenant */
	char *url;		/* the URL itself, as configured */
	int tls;		/* https */
	char *host;		/* without brackets for IPv6 */
	int port;
	char *path;		/* "/..." with any query */
};

/* 0 and *u filled (webhook_url_clear() it), or -1 if entry is not one. */
int webhook_url_parse(const char *entry, struct webhook_url *u);
void webhook_url_clear(struct webhook_url *u);

#endif
