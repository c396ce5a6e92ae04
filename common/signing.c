/* signing.c - signed return paths; see signing.h for the format. */
#include "common/signing.h"

#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/address.h"
#include "common/config.h"

#define SIGNING_CONTEXT		"rebound-rp-v1"
#define SIGNING_STAMP_MOD	1000
#define SIGNING_FILE_MAX	(SIGNING_KEY_MAX * 4)

struct signing_keys {
	GPtrArray *keys;		/* GBytes *; [0] signs, all verify */
	int max_age;
};


int64_t
signing_day(int64_t unix_seconds)
{
	return unix_seconds >= 0 ? unix_seconds / 86400 : 0;
}

const char *
signing_result_name(enum signing_result r)
{
	switch (r) {
	case SIGNING_NOT_REQUIRED: return "not-required";
	case SIGNING_OK: return "ok";
	case SIGNING_UNSIGNED: return "unsigned";
	case SIGNING_FORGED: return "forged";
	case SIGNING_EXPIRED: return "expired";
	}
	return "unknown";
}

static int
signing_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Inline forms only; NULL with *err when the text is not one of them. */
static GBytes *
signing_key_inline(const char *spec, gsize len, char **err)
{
	gsize i, n;

	if (len >= 4 && g_ascii_strncasecmp(spec, "hex:", 4) == 0) {
		guint8 *buf;
		spec += 4;
		len -= 4;
		if (len % 2 != 0) {
			*err = g_strdup("hex key has an odd number of digits");
			return NULL;
		}
		buf = g_malloc(len / 2 + 1);
		for (i = 0; i < len; i += 2) {
			int hi = signing_hex((unsigned char)spec[i]), lo = signing_hex((unsigned char)spec[i + 1]);
			if (hi < 0 || lo < 0) {
				g_free(buf);
				*err = g_strdup("hex key has a non-hex character");
				return NULL;
			}
			buf[i / 2] = (guint8)(hi << 4 | lo);
		}
		return g_bytes_new_take(buf, len / 2);
	}
	if (len >= 7 && g_ascii_strncasecmp(spec, "base64:", 7) == 0) {
		char *copy;
		guchar *buf;
		spec += 7;
		len -= 7;
		/* g_base64_decode() skips junk silently: check the alphabet first. */
		for (i = 0; i < len; i++)
			if (!g_ascii_isalnum(spec[i]) && spec[i] != '+' && spec[i] != '/' &&
			    !(spec[i] == '=' && i + 2 >= len)) {
				*err = g_strdup("base64 key has a character outside the alphabet");
				return NULL;
			}
		if (len == 0 || len % 4 != 0) {
			*err = g_strdup("base64 key length is not a multiple of 4");
			return NULL;
		}
		copy = g_strndup(spec, len);
		buf = g_base64_decode(copy, &n);
		g_free(copy);
		return g_bytes_new_take(buf, n);
	}
	*err = g_strdup("key must be \"hex:...\", \"base64:...\" or \"file:PATH\"");
	return NULL;
}

int
signing_key_decode(const char *spec, GBytes **out, char **err)
{
	GBytes *b = NULL;
	char *e = NULL;
	gsize n;

	*out = NULL;
	if (spec == NULL) {
		*err = g_strdup("no key");
		return -1;
	}
	n = strnlen(spec, SIGNING_FILE_MAX + 8);
	if (n >= 5 && g_ascii_strncasecmp(spec, "file:", 5) == 0) {
		GError *gerr = NULL;
		char *text = NULL;
		gsize len;
		if (!g_file_get_contents(spec + 5, &text, &len, &gerr)) {
			*err = g_strdup_printf("key file %s: %s", spec + 5, gerr->message);
			g_error_free(gerr);
			return -1;
		}
		if (len > SIGNING_FILE_MAX) {
			g_free(text);
			*err = g_strdup_printf("key file %s: larger than %d bytes", spec + 5,
			    SIGNING_FILE_MAX);
			return -1;
		}
		while (len > 0 && g_ascii_isspace(text[len - 1]))
			len--;
		if ((len >= 4 && g_ascii_strncasecmp(text, "hex:", 4) == 0) ||
		    (len >= 7 && g_ascii_strncasecmp(text, "base64:", 7) == 0)) {
			b = signing_key_inline(text, len, &e);
			if (b == NULL) {
				*err = g_strdup_printf("key file %s: %s", spec + 5, e);
				g_free(e);
			}
		} else
			b = g_bytes_new(text, len);
		memset(text, 0, len);
		g_free(text);
		if (b == NULL)
			return -1;
	} else if ((b = signing_key_inline(spec, n, err)) == NULL)
		return -1;
	n = g_bytes_get_size(b);
	if (n < SIGNING_KEY_MIN || n > SIGNING_KEY_MAX) {
		g_bytes_unref(b);
		*err = g_strdup_printf("key is %zu bytes; it must be %d to %d", n, SIGNING_KEY_MIN,
		    SIGNING_KEY_MAX);
		return -1;
	}
	*out = b;
	return 0;
}

struct signing_keys *
signing_keys_new(const char *sign_spec, char *const *verify_specs, int max_age_days, char **err)
{
	struct signing_keys *k;
	GBytes *b;
	int i;

	if (max_age_days < 0 || max_age_days > SIGNING_MAX_AGE) {
		*err = g_strdup_printf("max_age_days must be 0 to %d", SIGNING_MAX_AGE);
		return NULL;
	}
	k = g_new0(struct signing_keys, 1);
	k->keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	k->max_age = max_age_days;
	if (signing_key_decode(sign_spec, &b, err) < 0)
		goto fail;
	g_ptr_array_add(k->keys, b);
	for (i = 0; verify_specs && verify_specs[i]; i++) {
		char *e = NULL;
		if (signing_key_decode(verify_specs[i], &b, &e) < 0) {
			*err = g_strdup_printf("verification key %d: %s", i + 1, e);
			g_free(e);
			goto fail;
		}
		g_ptr_array_add(k->keys, b);
	}
	return k;
fail:
	signing_keys_free(k);
	return NULL;
}

void
signing_keys_free(struct signing_keys *k)
{
	if (k == NULL)
		return;
	g_ptr_array_unref(k->keys);
	g_free(k);
}

/* The tag for stamp and an address key, into out[SIGNING_TAG_LEN]. */
static void
signing_tag(GBytes *key, unsigned stamp, const char *addr_key, char out[SIGNING_TAG_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	GString *msg = g_string_new(SIGNING_CONTEXT);
	gsize klen;
	const void *kd = g_bytes_get_data(key, &klen);
	uint64_t bits;
	int i;

	g_string_append_c(msg, '\0');
	g_string_append_printf(msg, "%03u", stamp);
	g_string_append_c(msg, '\0');
	g_string_append(msg, addr_key);
	if (HMAC(EVP_sha256(), kd, (int)klen, (const unsigned char *)msg->str, msg->len, mac,
	    &maclen) == NULL || maclen < 5)
		g_error("HMAC-SHA256 failed");	/* can't happen */
	g_string_free(msg, TRUE);
	bits = (uint64_t)mac[0] << 32 | (uint64_t)mac[1] << 24 | (uint64_t)mac[2] << 16 |
	    (uint64_t)mac[3] << 8 | mac[4];
	for (i = 0; i < SIGNING_TAG_LEN; i++)
		out[i] = signing_b32[(bits >> (35 - 5 * i)) & 31];
}




char *
signing_sign(const struct signing_keys *k, const char *rcpt, const char *return_domain,
    int64_t day, char **err)
{
	char *norm, *key, *at, *out;
	char tag[SIGNING_TAG_LEN + 1] = { 0 };
	unsigned stamp = (unsigned)(day % SIGNING_STAMP_MOD);
	size_t local_len;

	if (rcpt == NULL || strnlen(rcpt, SIGNING_MAX_ADDRESS + 1) > SIGNING_MAX_ADDRESS) {
		*err = g_strdup("address too long");
		return NULL;
	}
	if (return_domain == NULL || *return_domain == '\0' ||
	    !signing_form_domain(return_domain, strlen(return_domain))) {
		*err = g_strdup("return-path domain missing or not an ASCII domain name");
		return NULL;
	}
	if ((norm = address_normalise(rcpt)) == NULL) {
		*err = g_strdup("not local@domain");
		return NULL;
	}
	at = strrchr(norm, '@');
	if (!signing_form_dot_atom(norm, at - norm) || !signing_form_domain(at + 1, strlen(at + 1))) {
		g_free(norm);
		*err = g_strdup("only dot-atom local parts and plain domains can be signed");
		return NULL;
	}
	key = address_key(norm);
	signing_tag(g_ptr_array_index(k->keys, 0), stamp, key, tag);
	g_free(key);
	*at = '=';
	out = g_strdup_printf("b=%03u=%s=%s@%s", stamp, tag, norm, return_domain);
	g_free(norm);
	local_len = strrchr(out, '@') - out;
	if (local_len > SIGNING_MAX_LOCAL) {
		*err = g_strdup_printf("signed local part would be %zu octets, over the %d "
		    "RFC 5321 allows", local_len, SIGNING_MAX_LOCAL);
		g_free(out);
		return NULL;
	}
	return out;
}



enum signing_result
signing_verify(const struct signing_keys *k, const char *address, int64_t day, char **original)
{
	char tag[SIGNING_TAG_LEN], want[SIGNING_TAG_LEN];
	char *orig = NULL, *key;
	unsigned stamp, age;
	int rc, match = 0;
	guint i;

	if (original != NULL)
		*original = NULL;
	if (address == NULL)
		return SIGNING_UNSIGNED;
	rc = signing_form_parse(address, &stamp, tag, &orig);
	if (rc == 0)
		return SIGNING_UNSIGNED;
	if (rc < 0)
		return SIGNING_FORGED;
	if ((key = address_key(orig)) == NULL) {
		g_free(orig);
		return SIGNING_FORGED;
	}
	/* Every key is tried, so timing says nothing about which one matched. */
	for (i = 0; k != NULL && i < k->keys->len; i++) {
		signing_tag(g_ptr_array_index(k->keys, i), stamp, key, want);
		match |= CRYPTO_memcmp(tag, want, SIGNING_TAG_LEN) == 0;
	}
	g_free(key);
	if (!match) {
		g_free(orig);
		return SIGNING_FORGED;
	}
	age = (unsigned)((day % SIGNING_STAMP_MOD) + SIGNING_STAMP_MOD - stamp) % SIGNING_STAMP_MOD;
	/* One day ahead is the signer's clock, not an attack. */
	if (age > (unsigned)k->max_age && age != SIGNING_STAMP_MOD - 1) {
		g_free(orig);
		return SIGNING_EXPIRED;
	}
	if (original != NULL)
		*original = orig;
	else
		g_free(orig);
	return SIGNING_OK;
}

int
signing_domain_matches(const char *addr, char *const *domains)
{
	const char *dom = address_domain(addr);
	size_t dl;
	int i, hit = 0;

	if (dom == NULL)
		return 0;
	dl = strlen(dom);
	for (i = 0; domains && domains[i] && !hit; i++) {
		const char *pat = domains[i];
		char *ascii = g_str_is_ascii(pat) ? g_ascii_strdown(pat, -1) :
		    g_hostname_to_ascii(pat);
		size_t pl = ascii ? strlen(ascii) : 0;
		if (ascii == NULL)
			continue;
		if (ascii[0] == '.')
			hit = dl > pl && g_ascii_strcasecmp(dom + dl - pl, ascii) == 0;
		else
			hit = g_ascii_strcasecmp(dom, ascii) == 0;
		g_free(ascii);
	}
	return hit;
}

int
signing_required(const struct config *cfg, const char *addr)
{
	if (cfg->signing_key == NULL)
		return 0;
	if (signing_domain_matches(addr, cfg->signing_required_domains))
		return 1;
	/* With a key, every return-path domain is covered unless exempted by
	 * name: a domain forgotten in required_domains must not stay open. */
	return signing_domain_matches(addr, cfg->smtp_domains) &&
	    !signing_domain_matches(addr, cfg->signing_unsigned_domains);
}

int
signing_is_fbl(const struct config *cfg, const char *rcpt)
{
	char *key = address_key(rcpt);
	int i, same = 0;

	for (i = 0; key != NULL && !same && cfg->smtp_fbl_addresses &&
	    cfg->smtp_fbl_addresses[i]; i++) {
		char *k = address_key(cfg->smtp_fbl_addresses[i]);
		same = k != NULL && strcmp(k, key) == 0;
		g_free(k);
	}
	g_free(key);
	return same;
}

enum signing_result
signing_check(const struct config *cfg, const char *rcpt, int64_t unix_s, char **original)
{
	char *key;
	int req;

	if (original != NULL)
		*original = NULL;
	if (cfg->signing_key == NULL)
		return SIGNING_NOT_REQUIRED;
	if (rcpt == NULL || strnlen(rcpt, SIGNING_MAX_ADDRESS + 1) > SIGNING_MAX_ADDRESS)
		return SIGNING_UNSIGNED;
	if ((key = address_key(rcpt)) == NULL)
		/* a bare "postmaster": anyone can write to it, so it proves nothing */
		return SIGNING_UNSIGNED;
	if (signing_is_fbl(cfg, key)) {
		g_free(key);
		return SIGNING_NOT_REQUIRED;
	}
	req = signing_required(cfg, key);
	g_free(key);
	if (!req)
		return SIGNING_NOT_REQUIRED;
	return signing_verify(cfg->signing_keys, rcpt, signing_day(unix_s), original);
}
