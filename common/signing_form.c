/*
 * signing_form.c - the text of a signed return path (signing.h), without
 * keys or OpenSSL: GLib only, so parsers/ can decode VERP from it.
 */
#include "common/signing.h"

#include <string.h>

const char signing_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* Characters a dot-atom local part may hold (RFC 5321 atext, RFC 6531 UTF-8). */
static int
signing_atext(unsigned char c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
	    c >= 0x80;
}

int
signing_form_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!signing_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int
signing_form_domain(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* Every bound is checked before the octet it guards is read. */
int
signing_form_parse(const char *address, unsigned *stamp, char tag[SIGNING_TAG_LEN],
    char **original)
{
	const char *at, *p, *local, *eq;
	size_t n = strnlen(address, SIGNING_MAX_ADDRESS + 1);
	int i;

	if (n < 2 || g_ascii_strncasecmp(address, "b=", 2) != 0)
		return 0;
	if (n > SIGNING_MAX_ADDRESS)
		return -1;
	if ((at = strrchr(address, '@')) == NULL || (size_t)(at - address) > SIGNING_MAX_LOCAL)
		return -1;
	p = address + 2;
	for (i = 0, *stamp = 0; i < 3; i++, p++) {
		if (!g_ascii_isdigit(*p))
			return -1;
		*stamp = *stamp * 10 + (unsigned)(*p - '0');
	}
	if (*p++ != '=')
		return -1;
	for (i = 0; i < SIGNING_TAG_LEN; i++, p++) {
		char c = g_ascii_tolower(*p);
		if (c == '\0' || strchr(signing_b32, c) == NULL)
			return -1;
		tag[i] = c;
	}
	if (*p++ != '=')
		return -1;
	local = p;
	for (eq = NULL; p < at; p++)
		if (*p == '=')
			eq = p;
	if (eq == NULL || !signing_form_dot_atom(local, eq - local) ||
	    !signing_form_domain(eq + 1, at - eq - 1))
		return -1;
	*original = g_strdup_printf("%.*s@%.*s", (int)(eq - local), local, (int)(at - eq - 1),
	    eq + 1);
	return 1;
}

char *
signing_decode(const char *address)
{
	char tag[SIGNING_TAG_LEN];
	char *orig = NULL;
	unsigned stamp;

	if (address == NULL || signing_form_parse(address, &stamp, tag, &orig) != 1)
		return NULL;
	return orig;
}
