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

char *
address_normalise(const char *addr)
{
	char *s, *at, *dom, *ascii, *out;
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
	*at = '\0';
	dom = at + 1;
	n = strlen(dom);
	if (n > 0 && dom[n - 1] == '.')
		dom[n - 1] = '\0';
	/* White space or controls in a domain would make the result depend on
	 * how often it is normalised (a later strip removes them). */
	for (const char *p = dom; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			*dom = '\0';
	if (*dom == '\0') {
		g_free(s);
		return NULL;
	}
	if (g_str_is_ascii(dom))
		ascii = g_ascii_strdown(dom, -1);
	else {
		char *lower = g_utf8_validate(dom, -1, NULL) ? g_utf8_strdown(dom, -1) : NULL;
		ascii = lower ? g_hostname_to_ascii(lower) : NULL;
		g_free(lower);
		if (ascii == NULL) {
			g_free(s);
			return NULL;
		}
	}
	out = g_strdup_printf("%s@%s", s, ascii);
	g_free(ascii);
	g_free(s);
	return out;
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
