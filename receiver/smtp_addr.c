/* smtp_addr.c - see smtp_addr.h. */
#include "receiver/smtp_addr.h"

#include <string.h>
#include <glib.h>

#include "common/address.h"

#define SMTP_MAX_LOCAL	64
#define SMTP_MAX_DOMAIN	255
#define SMTP_MAX_PATH	256

static int
smtp_addr_atext(unsigned char c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
	    c >= 0x80;
}

/* A domain's letters, digits and hyphens; 8-bit octets for SMTPUTF8. */
static int
smtp_addr_let_dig(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '-' || c >= 0x80;
}

/*
 * A dot-string at p up to the first octet in stop (or the end): runs of
 * octets ok() accepts, one dot between runs.  Its end, or NULL when a dot
 * leads, trails or doubles or an octet is refused.  8-bit octets set *utf8.
 */
static const char *
smtp_addr_dot_string(const char *p, const char *stop, int (*ok)(unsigned char), int *utf8)
{
	int prev_dot = 1;

	for (; *p != '\0' && strchr(stop, *p) == NULL; p++) {
		if (*p == '.') {
			if (prev_dot)
				return NULL;
			prev_dot = 1;
			continue;
		}
		if (!ok((unsigned char)*p))
			return NULL;
		if ((unsigned char)*p >= 0x80)
			*utf8 = 1;
		prev_dot = 0;
	}
	return prev_dot ? NULL : p;
}

/* The local part at p, quoted or a dot-string: its end, or NULL. */
static const char *
smtp_addr_local(const char *p, int *utf8)
{
	if (*p != '"')
		return smtp_addr_dot_string(p, "@>", smtp_addr_atext, utf8);
	for (p++; *p != '"'; p++) {
		if (*p == '\\')
			p++;
		if (*p == '\0' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
		if ((unsigned char)*p >= 0x80)
			*utf8 = 1;
	}
	return p + 1;
}

/* The domain at p, an address literal "[...]" or a dot-string: its end, or NULL. */
static const char *
smtp_addr_domain(const char *p, int *utf8)
{
	const char *start = p;

	/* A trailing dot is not RFC 5321 Domain syntax either. */
	if (*p != '[')
		return smtp_addr_dot_string(p, ">", smtp_addr_let_dig, utf8);
	for (p++; *p != '\0' && *p != ']' && (g_ascii_isalnum(*p) || strchr(".:-", *p)); p++)
		;
	return *p == ']' && p - start >= 3 ? p + 1 : NULL;
}

/*
 * Scan "<...>" at *pp.  On success *pp points past '>', and local/domain
 * are set (pointers into a copy the caller frees via *buf).  8-bit octets
 * are noted in *utf8; the caller decides whether they are allowed.
 */
static int
smtp_addr_scan(const char **pp, int is_mail, char **addr, int *utf8, const char **reply)
{
	const char *bad = is_mail ? "501 5.1.7 Bad sender address syntax" :
	    "501 5.1.3 Bad recipient address syntax";
	const char *p = *pp, *start, *local, *local_end, *dom, *dom_end;
	size_t n;

	*utf8 = 0;
	if (*p != '<') {
		*reply = is_mail ? "501 5.5.4 Syntax: MAIL FROM:<address>" :
		    "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	start = p++;
	if (*p == '>') {
		if (!is_mail) {
			*reply = "501 5.1.3 Null recipient not allowed";
			return -1;
		}
		*addr = g_strdup("");
		*pp = p + 1;
		return 0;
	}
	/* A source route "@a,@b:" is accepted and ignored (RFC 5321 4.1.2, C). */
	if (*p == '@') {
		while (*p != '\0' && *p != ':' && *p != '>' &&
		    (g_ascii_isalnum(*p) || strchr("@,.-[]", *p)))
			p++;
		if (*p != ':') {
			*reply = bad;
			return -1;
		}
		p++;
	}
	local = p;
	if ((p = smtp_addr_local(p, utf8)) == NULL) {
		*reply = bad;
		return -1;
	}
	local_end = p;
	if ((size_t)(local_end - local) > SMTP_MAX_LOCAL) {
		*reply = "553 5.1.3 Local part too long";
		return -1;
	}
	if (*p == '>' && !is_mail && local_end - local == 10 &&
	    g_ascii_strncasecmp(local, "postmaster", 10) == 0) {
		/* RFC 5321 4.5.1: <Postmaster> without a domain must be accepted. */
		*addr = g_strdup("postmaster");
		*pp = p + 1;
		return 0;
	}
	if (*p != '@') {
		*reply = bad;
		return -1;
	}
	dom = ++p;
	if ((p = smtp_addr_domain(p, utf8)) == NULL) {
		*reply = bad;
		return -1;
	}
	dom_end = p;
	if ((size_t)(dom_end - dom) > SMTP_MAX_DOMAIN) {
		*reply = "553 5.1.3 Domain too long";
		return -1;
	}
	if (*p != '>') {
		*reply = bad;
		return -1;
	}
	n = (size_t)(p + 1 - start);
	if (n > SMTP_MAX_PATH) {
		*reply = "553 5.1.3 Path too long";
		return -1;
	}
	*addr = g_strndup(local, dom_end - local);
	*pp = p + 1;
	return 0;
}

/* Skip "FROM:" / "TO:" and optional spaces before '<' (liberal, like most MTAs). */
static const char *
smtp_addr_skip_word(const char *arg, const char *word)
{
	size_t n = strlen(word);

	if (g_ascii_strncasecmp(arg, word, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

/* An address with 8-bit octets (utf8) needs SMTPUTF8 and must be UTF-8. */
static int
smtp_addr_utf8(const char *addr, int utf8, int smtputf8, int is_mail, const char **reply)
{
	if (utf8 && !smtputf8) {
		*reply = "553 5.6.7 UTF-8 address needs SMTPUTF8";
		return -1;
	}
	if (utf8 && !g_utf8_validate(addr, -1, NULL)) {
		*reply = is_mail ? "501 5.1.7 Invalid UTF-8 in address" :
		    "501 5.1.3 Invalid UTF-8 in address";
		return -1;
	}
	return 0;
}

int
smtp_addr_parse_mail(const char *arg, char **addr, struct smtp_mail_params *mp,
    const char **reply)
{
	const char *p;
	char **params;
	int utf8, i, seen_size = 0, seen_body = 0;

	*addr = NULL;
	memset(mp, 0, sizeof *mp);
	if ((p = smtp_addr_skip_word(arg, "FROM:")) == NULL) {
		*reply = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -1;
	}
	if (smtp_addr_scan(&p, 1, addr, &utf8, reply) == -1)
		return -1;
	if (*p != '\0' && *p != ' ') {
		*reply = "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]";
		goto fail;
	}
	params = g_strsplit(p, " ", -1);
	for (i = 0; params[i] != NULL; i++) {
		char *kw = params[i], *val = strchr(kw, '=');
		if (*kw == '\0')
			continue;
		if (val != NULL)
			*val++ = '\0';
		if (g_ascii_strcasecmp(kw, "SIZE") == 0 && !seen_size) {
			char *end;
			seen_size = 1;
			if (val == NULL || *val == '\0' || strlen(val) > 20 || !g_ascii_isdigit(*val) ||
			    (mp->size = g_ascii_strtoull(val, &end, 10), *end != '\0')) {
				*reply = "501 5.5.4 Bad SIZE parameter";
				g_strfreev(params);
				goto fail;
			}
			mp->has_size = 1;
		} else if (g_ascii_strcasecmp(kw, "BODY") == 0 && !seen_body) {
			seen_body = 1;
			if (val != NULL && g_ascii_strcasecmp(val, "8BITMIME") == 0)
				mp->body_8bit = 1;
			else if (val == NULL || g_ascii_strcasecmp(val, "7BIT") != 0) {
				*reply = "501 5.5.4 Bad BODY parameter";
				g_strfreev(params);
				goto fail;
			}
		} else if (g_ascii_strcasecmp(kw, "SMTPUTF8") == 0 && !mp->smtputf8 && val == NULL) {
			mp->smtputf8 = 1;
		} else {
			*reply = "555 5.5.4 Unsupported or repeated MAIL parameter";
			g_strfreev(params);
			goto fail;
		}
	}
	g_strfreev(params);
	if (smtp_addr_utf8(*addr, utf8, mp->smtputf8, 1, reply) == 0)
		return 0;
fail:
	g_free(*addr);
	*addr = NULL;
	return -1;
}

int
smtp_addr_parse_rcpt(const char *arg, int smtputf8, char **addr, const char **reply)
{
	const char *p;
	int utf8;

	*addr = NULL;
	if ((p = smtp_addr_skip_word(arg, "TO:")) == NULL) {
		*reply = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	if (smtp_addr_scan(&p, 0, addr, &utf8, reply) == -1)
		return -1;
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		/* No RCPT extension (DSN NOTIFY/ORCPT) is offered. */
		*reply = "555 5.5.4 Unsupported RCPT parameter";
		goto fail;
	}
	if (smtp_addr_utf8(*addr, utf8, smtputf8, 0, reply) == 0)
		return 0;
fail:
	g_free(*addr);
	*addr = NULL;
	return -1;
}

static int
smtp_addr_domain_match(const char *dom, const char *pat)
{
	size_t dl = strlen(dom), pl = strlen(pat);

	if (pat[0] == '.')
		return dl > pl && g_ascii_strcasecmp(dom + dl - pl, pat) == 0;
	return g_ascii_strcasecmp(dom, pat) == 0;
}

int
smtp_addr_is_ours(const char *addr, char *const *domains, char *const *fbl)
{
	const char *at = strrchr(addr, '@');
	char *key, *dom;
	int i, ours = 0;

	if (at == NULL)
		return g_ascii_strcasecmp(addr, "postmaster") == 0;
	/* Relay tricks: u%other@ours, other!u@ours, "u@other"@ours, u@[literal]. */
	if (memchr(addr, '%', at - addr) || memchr(addr, '!', at - addr) ||
	    memchr(addr, '@', at - addr) || at[1] == '[')
		return 0;
	if ((key = address_key(addr)) == NULL)
		return 0;
	for (i = 0; fbl && fbl[i] && !ours; i++) {
		char *k = address_key(fbl[i]);
		ours = k != NULL && strcmp(k, key) == 0;
		g_free(k);
	}
	dom = strrchr(key, '@') + 1;
	for (i = 0; domains && domains[i] && !ours; i++) {
		/* address_key() gave the A-label form: compare the config's in that form. */
		const char *pat = domains[i];
		char *ascii = g_str_is_ascii(pat) ? g_ascii_strdown(pat, -1) :
		    g_hostname_to_ascii(pat);
		ours = ascii != NULL && smtp_addr_domain_match(dom, ascii);
		g_free(ascii);
	}
	g_free(key);
	return ours;
}
