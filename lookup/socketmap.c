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

/* Appends the netstring of head then tail (lengths hl, tl) to out, in one
 * piece when it is short: no printf and one buffer operation per reply. */
static void
socketmap_reply(struct evbuffer *out, const char *head, size_t hl, const char *tail, size_t tl)
{
	char buf[512];
	size_t n = hl + tl, i = 24;

	buf[--i] = ':';
	do
		buf[--i] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	if (24 + hl + tl + 1 > sizeof(buf)) {
		evbuffer_add(out, buf + i, 24 - i);
		evbuffer_add(out, head, hl);
		evbuffer_add(out, tail, tl);
		evbuffer_add(out, ",", 1);
		return;
	}
	memcpy(buf + 24, head, hl);
	memcpy(buf + 24 + hl, tail, tl);
	buf[24 + hl + tl] = ',';
	evbuffer_add(out, buf + i, 24 + hl + tl + 1 - i);
}
#define SOCKETMAP_REPLY(out, text)	socketmap_reply(out, text, sizeof(text) - 1, "", 0)

/* Appends the framed reply to one request (len bytes at req) to out. */
static void
socketmap_answer(struct lookup *lk, const char *req, size_t len, struct evbuffer *out)
{
	char buf[SOCKETMAP_MAX_REQUEST + 1], *name, *key, *sp, *action = NULL;
	const char *tenant;
	struct index_hit hit;
	enum lookup_result r;

	if (len > SOCKETMAP_MAX_REQUEST || memchr(req, '\0', len) != NULL ||
	    memchr(req, ' ', len) == NULL) {
		SOCKETMAP_REPLY(out, "PERM malformed request");
		return;
	}
	/* split in a stack copy: no allocation for the name and the key */
	memcpy(buf, req, len);
	buf[len] = '\0';
	sp = memchr(buf, ' ', len);
	*sp = '\0';
	name = buf;
	key = sp + 1;
	if ((tenant = lookup_tenant(lk, name)) == NULL) {
		SOCKETMAP_REPLY(out, "PERM unknown map");
		return;
	}
	/* Domain-only and "user@" keys: nothing is suppressed domain-wide. */
	if (strchr(key, '@') == NULL || key[strlen(key) - 1] == '@') {
		SOCKETMAP_REPLY(out, "NOTFOUND ");
		return;
	}
	r = lookup_query(lk, "socketmap", tenant, key, &hit, &action);
	if (r == LOOKUP_FOUND)
		socketmap_reply(out, "OK ", 3, action, strlen(action));
	else if (r == LOOKUP_UNAVAILABLE)
		SOCKETMAP_REPLY(out, "TEMP suppression index not loaded yet");
	else
		SOCKETMAP_REPLY(out, "NOTFOUND ");
	g_free(action);
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
		socketmap_answer(lk, (const char *)p + digits + 1, n, out);
		evbuffer_drain(in, total);
		(*requests)++;
	}
}

const struct listener_proto socketmap_proto = {
	.name = "socketmap",
	.tag = "sm",
	.idle = SOCKETMAP_IDLE,
	.read = socketmap_read,
};
