/* address.c - see address.h. */
#include "common/address.h"

#include <string.h>
#include <glib.h>

const char *
address_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at ? at + 1 : NULL;
}

/*
 * The rule both entry points end in: "local@domain" with the local part as
 * sent and the domain's ASCII letters lower-cased.  A non-ASCII domain
 * becomes its A-label form, unless utf8 is set (report text): there it is
 * kept in UTF-8 and the local part must be valid UTF-8 too.  NULL when the
 * domain cannot be converted or the text is not UTF-8.
 */
static char *
address_join(const char *local, size_t llen, const char *dom, size_t dlen, gboolean utf8)
{
	char *d, *l, *out;

	d = g_strndup(dom, dlen);
	if (utf8 || g_str_is_ascii(d)) {
		char *lower = g_ascii_strdown(d, -1);

		g_free(d);
		d = lower;
	} else {
		char *lower = g_utf8_validate(d, -1, NULL) ? g_utf8_strdown(d, -1) : NULL;

		g_free(d);
		d = lower ? g_hostname_to_ascii(lower) : NULL;
		g_free(lower);
	}
	l = g_strndup(local, llen);
	if (d == NULL || (utf8 && (!g_utf8_validate(l, -1, NULL) || !g_utf8_validate(d, -1, NULL))))
		out = NULL;
	else
		out = g_strconcat(l, "@", d, NULL);
	g_free(l);
	g_free(d);
	return out;
}

char *
address_normalise(const char *addr)
{
	char *s, *at, *dom, *out;
	size_t n;

	if (addr == NULL)
		return NULL;
	s = g_strstrip(g_strdup(addr));
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
		g_strstrip(s);
	}
	at = strrchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0') {
		g_free(s);
		return NULL;
	}
	dom = at + 1;
	n = strlen(dom);
	if (n > 0 && dom[n - 1] == '.')
		n--;
	/* White space or controls in a domain would make the result depend on
	 * how often it is normalised (a later strip removes them). */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dom[i] <= 0x20 || dom[i] == 0x7f)
			n = 0;
	out = n > 0 ? address_join(s, at - s, dom, n, FALSE) : NULL;
	g_free(s);
	return out;
}

/* A character a domain (or an address literal) may hold. */
static gboolean
address_domain_char(char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '-' || c == '_' || c == '[' || c == ']' ||
	    c == ':' || (guchar)c >= 0x80;
}

/* "quoted local part"@domain at s, or NULL: the quotes belong to the address. */
static char *
address_quoted(const char *s)
{
	const char *a, *b;

	if (*s != '"' || (b = strchr(s + 1, '"')) == NULL || b[1] != '@' || b - s <= 1)
		return NULL;
	for (a = b + 2; *a != '\0' && (g_ascii_isalnum(*a) || *a == '.' || *a == '-'); a++)
		;
	if (a == b + 2 || memchr(b + 2, '.', a - (b + 2)) == NULL || a - s > 320)
		return NULL;
	return address_join(s, b + 1 - s, b + 2, a - (b + 2), TRUE);
}

char *
address_normalise_text(const char *s)
{
	const char *a, *b, *at;
	char *out;

	if (s == NULL)
		return NULL;
	/* "rfc822; <x@y>" or "x@y (comment)" or "Name <x@y>" */
	if ((a = strchr(s, ';')) != NULL && a < strchr(s, '@') && strchr(s, '@') != NULL)
		s = a + 1;
	if ((a = strchr(s, '<')) != NULL && strchr(a, '@') != NULL)
		s = a + 1;
	while (*s == ' ' || *s == '\t')
		s++;
	/* an RFC 5321 source route "@relay,@relay:user@host": the address is after it */
	if (*s == '@' && (a = strchr(s, ':')) != NULL && strchr(a, '@') != NULL)
		s = a + 1;
	if ((out = address_quoted(s)) != NULL)
		return out;
	while (*s == ' ' || *s == '\t' || *s == '"' || *s == '\'' || *s == '<' || *s == '(')
		s++;
	b = s;
	while (*b != '\0' && *b != '>' && *b != ' ' && *b != '\t' && *b != ',' && *b != '"' &&
	    *b != '\'' && *b != ')' && *b != '\r' && *b != '\n')
		b++;
	while (b > s && (b[-1] == '.' || b[-1] == ':' || b[-1] == ';'))
		b--;
	if (b - s < 3 || b - s > 320)
		return NULL;
	at = NULL;
	for (a = s; a < b; a++)
		if (*a == '@')
			at = a;
	/* No unquoted local part holds a ':': "mailto:x@y", "To:x@y" name the address after it. */
	for (a = s; at != NULL && a < at; a++)
		if (*a == ':')
			s = a + 1;
	if (at == NULL || at == s || at + 1 >= b)
		return NULL;
	/*
	 * The domain ends at the first character no domain has:
	 * "x@y.test&gt;" from an HTML notice, "x@y.test]".  A domain some MTA
	 * stripped to one label is kept.
	 */
	for (a = at + 1; a < b && address_domain_char(*a); a++)
		;
	if (a == at + 1)
		return NULL;
	while (a > at + 1 && a[-1] == '.')
		a--;
	return address_join(s, at - s, at + 1, a - at - 1, TRUE);
}

char *
address_key(const char *addr)
{
	char *n = address_normalise(addr);
	char *p, *at;

	if (n == NULL)
		return NULL;
	/* The local part ends at the last '@' (a quoted one may hold more). */
	at = strrchr(n, '@');
	for (p = n; p < at; p++)
		if ((unsigned char)*p < 0x80)
			*p = g_ascii_tolower(*p);
	return n;
}
