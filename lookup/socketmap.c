/* socketmap.c - the Postfix socketmap server; see socketmap.h. */
#include "lookup/socketmap.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <event2/buffer.h>

#include "lookup/listener.h"
#include "lookup/lookup.h"

/* Postfix's own limit is 100000; addresses are far shorter, so a long
 * request is an error rather than something to buffer. */
#define SOCKETMAP_MAX_REQUEST	4096
#define SOCKETMAP_IDLE		300

char *
socketmap_answer(struct lookup *lk, const char *req, size_t len)
{
	const char *sp, *tenant;
	char *name, *key, *action = NULL, *out;
	struct index_hit hit;
	enum lookup_result r;

	if (memchr(req, '\0', len) != NULL || (sp = memchr(req, ' ', len)) == NULL)
		return g_strdup("PERM malformed request");
	name = g_strndup(req, sp - req);
	key = g_strndup(sp + 1, len - (sp + 1 - req));
	if ((tenant = lookup_tenant(lk, name)) == NULL) {
		out = g_strdup("PERM unknown map");
		goto done;
	}
	/* Domain-only and "user@" keys: nothing is suppressed domain-wide. */
	if (strchr(key, '@') == NULL || g_str_has_suffix(key, "@")) {
		out = g_strdup("NOTFOUND ");
		goto done;
	}
	r = lookup_query(lk, "socketmap", tenant, key, &hit, &action);
	if (r == LOOKUP_FOUND)
		out = g_strdup_printf("OK %s", action);
	else if (r == LOOKUP_UNAVAILABLE)
		out = g_strdup("TEMP suppression index not loaded yet");
	else
		out = g_strdup("NOTFOUND ");
done:
	g_free(action);
	g_free(name);
	g_free(key);
	return out;
}

/* One netstring request after another; a broken one closes the connection. */
static const char *
socketmap_read(void *arg, void *state, struct evbuffer *in, struct evbuffer *out,
    guint64 *requests)
{
	struct lookup *lk = arg;

	(void)state;
	for (;;) {
		size_t have = evbuffer_get_length(in), digits, n, total;
		unsigned char *p;
		char *reply;

		if (have == 0)
			return NULL;
		/* bound the length prefix before trusting it */
		p = evbuffer_pullup(in, MIN(have, 6));
		for (digits = 0; digits < MIN(have, 6) && g_ascii_isdigit(p[digits]); digits++)
			;
		if (digits == MIN(have, 6))	/* all digits: the prefix may still be arriving */
			return have < 6 ? NULL : "length-too-long";
		if (digits == 0 || p[digits] != ':')
			return "bad-netstring";
		n = strtoul((const char *)p, NULL, 10);
		if (n > SOCKETMAP_MAX_REQUEST)
			return "request-too-long";
		total = digits + 1 + n + 1;
		if (have < total)
			return NULL;
		p = evbuffer_pullup(in, total);
		if (p[total - 1] != ',')
			return "bad-netstring";
		reply = socketmap_answer(lk, (const char *)p + digits + 1, n);
		evbuffer_drain(in, total);
		evbuffer_add_printf(out, "%zu:%s,", strlen(reply), reply);
		g_free(reply);
		(*requests)++;
	}
}

const struct listener_proto socketmap_proto = {
	.name = "socketmap",
	.tag = "sm",
	.idle = SOCKETMAP_IDLE,
	.read = socketmap_read,
};
