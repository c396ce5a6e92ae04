/* test_signing.c - signed return paths: format, keys, rotation, expiry, hostile input. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "common/config.h"
#include "common/signing.h"
#include "unit.h"

#define KEY_A	"hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B	"base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_C	"hex:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define DAY	20421	/* 2025-11-29 */

static struct signing_keys *
keys(const char *sign, const char *verify, int max_age)
{
	char *v[] = { (char *)verify, NULL };
	char *err = NULL;
	struct signing_keys *k = signing_keys_new(sign, verify ? v : NULL, max_age, &err);

	if (k == NULL)
		g_error("signing_keys_new: %s", err);
	return k;
}

static char *
sign(const struct signing_keys *k, const char *addr, int64_t day)
{
	char *err = NULL;
	char *s = signing_sign(k, addr, "bounces.example.com", day, &err);

	if (s == NULL)
		g_error("sign %s: %s", addr, err);
	return s;
}

static void
test_round_trip(void)
{
	struct signing_keys *k = keys(KEY_A, NULL, 30);
	const char *addrs[] = { "john@example.org", "John.Doe@Example.ORG", "a=b=c@x.example",
	    "o'neil+tag@sub.example.net", "u@xn--bcher-kva.example", "x@b\xc3\xbc" "cher.example",
	    "\xc3\xa9t\xc3\xa9@example.fr" };
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(addrs); i++) {
		char *s = sign(k, addrs[i], DAY), *orig = NULL, *dec;
		const char *at = strrchr(s, '@');
		g_assert_true(g_str_has_prefix(s, "b=421="));
		g_assert_cmpstr(at, ==, "@bounces.example.com");
		g_assert_cmpint(at - s, <=, 64);
		g_assert_cmpint(signing_verify(k, s, DAY, &orig), ==, SIGNING_OK);
		dec = signing_decode(s);
		g_assert_cmpstr(orig, ==, dec);
		g_assert_nonnull(orig);
		/* the signed form keeps the local part as given, the domain as an A-label */
		g_assert_cmpint(strncmp(orig, addrs[i], strcspn(addrs[i], "@")), ==, 0);
		g_free(orig);
		g_free(dec);
		/* the tag survives an MTA that changes case */
		{
			char *up = g_ascii_strup(s, -1);
			g_assert_cmpint(signing_verify(k, up, DAY, NULL), ==, SIGNING_OK);
			g_free(up);
		}
		g_free(s);
	}
	{
		char *s = sign(k, "Mixed.Case@Example.ORG", DAY), *orig = NULL;
		g_assert_cmpint(signing_verify(k, s, DAY, &orig), ==, SIGNING_OK);
		g_assert_cmpstr(orig, ==, "Mixed.Case@example.org");
		g_free(orig);
		g_free(s);
	}
	{
		/* '=' in the local part needs no escaping: the domain ends at the last '='. */
		char *s = sign(k, "a=b=c@x.example", DAY), *orig = signing_decode(s);
		g_assert_cmpstr(orig, ==, "a=b=c@x.example");
		g_free(orig);
		g_free(s);
	}
	signing_keys_free(k);
}

/* A stamp and tag computed here, independently, from the documented format. */
static void
test_known_answer(void)
{
	struct signing_keys *k = keys(KEY_A, NULL, 30);
	char *s = sign(k, "john@example.org", DAY);
	char *msg = g_strdup_printf("rebound-rp-v1%c421%cjohn@example.org", 0, 0);
	gsize mlen = strlen("rebound-rp-v1") + 1 + 3 + 1 + strlen("john@example.org");
	guint8 key[32];
	GHmac *h;
	guint8 mac[32];
	gsize maclen = sizeof mac;
	char want[64];
	const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	guint64 bits;
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (guint8)((i % 16) * 0x11);
	h = g_hmac_new(G_CHECKSUM_SHA256, key, sizeof key);
	g_hmac_update(h, (const guchar *)msg, mlen);
	g_hmac_get_digest(h, mac, &maclen);
	g_hmac_unref(h);
	bits = (guint64)mac[0] << 32 | (guint64)mac[1] << 24 | (guint64)mac[2] << 16 |
	    (guint64)mac[3] << 8 | mac[4];
	memcpy(want, "b=421=", 6);
	for (i = 0; i < 8; i++)
		want[6 + i] = b32[(bits >> (35 - 5 * i)) & 31];
	strcpy(want + 14, "=john=example.org@bounces.example.com");
	g_assert_cmpstr(s, ==, want);
	g_free(msg);
	g_free(s);
	signing_keys_free(k);
}

static void
test_wrong_key_and_rotation(void)
{
	struct signing_keys *a = keys(KEY_A, NULL, 30);
	struct signing_keys *c = keys(KEY_C, NULL, 30);
	struct signing_keys *rotated = keys(KEY_C, KEY_A, 30);	/* new key C, A still verifies */
	struct signing_keys *b64 = keys(KEY_B, NULL, 30);
	char *old = sign(a, "john@example.org", DAY);
	char *fresh = sign(rotated, "john@example.org", DAY);

	g_assert_cmpint(signing_verify(c, old, DAY, NULL), ==, SIGNING_FORGED);
	g_assert_cmpint(signing_verify(rotated, old, DAY, NULL), ==, SIGNING_OK);
	g_assert_cmpint(signing_verify(rotated, fresh, DAY, NULL), ==, SIGNING_OK);
	g_assert_cmpint(signing_verify(a, fresh, DAY, NULL), ==, SIGNING_FORGED);
	g_assert_cmpstr(old, !=, fresh);
	/* KEY_B is bytes 00..1f; KEY_A is 00 11 22 ..: different keys, different tags */
	g_assert_cmpint(signing_verify(b64, old, DAY, NULL), ==, SIGNING_FORGED);
	g_free(old);
	g_free(fresh);
	signing_keys_free(a);
	signing_keys_free(c);
	signing_keys_free(rotated);
	signing_keys_free(b64);
}

static void
test_expiry(void)
{
	struct signing_keys *k = keys(KEY_A, NULL, 7);
	char *s = sign(k, "john@example.org", DAY);
	char *wrap = sign(k, "john@example.org", 20999);	/* stamp 999 */

	g_assert_cmpint(signing_verify(k, s, DAY, NULL), ==, SIGNING_OK);
	g_assert_cmpint(signing_verify(k, s, DAY + 7, NULL), ==, SIGNING_OK);
	g_assert_cmpint(signing_verify(k, s, DAY + 8, NULL), ==, SIGNING_EXPIRED);
	g_assert_cmpint(signing_verify(k, s, DAY + 400, NULL), ==, SIGNING_EXPIRED);
	/* the signer's clock one day ahead is accepted, two days is not */
	g_assert_cmpint(signing_verify(k, s, DAY - 1, NULL), ==, SIGNING_OK);
	g_assert_cmpint(signing_verify(k, s, DAY - 2, NULL), ==, SIGNING_EXPIRED);
	/* the stamp wraps at 1000: day 20999 (999) is 3 days old on day 21002 (002) */
	g_assert_cmpint(signing_verify(k, wrap, 21002, NULL), ==, SIGNING_OK);
	g_assert_cmpint(signing_verify(k, wrap, 21007, NULL), ==, SIGNING_EXPIRED);
	g_free(s);
	g_free(wrap);
	signing_keys_free(k);
}

/* Change one octet of a valid signed path; it must never verify. */
static void
test_tampered(void)
{
	struct signing_keys *k = keys(KEY_A, NULL, 30);
	char *s = sign(k, "john@example.org", DAY);
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++) {
		char *t;
		enum signing_result r;
		if (s[i] == '@')
			continue;
		t = g_strdup(s);
		t[i] = t[i] == 'x' ? 'y' : (t[i] == '=' ? 'q' : 'x');
		r = signing_verify(k, t, DAY, NULL);
		if (strcmp(strrchr(t, '@'), "@bounces.example.com") != 0) {
			/* the return-path domain is not covered: it is ours to route */
			g_assert_cmpint(r, ==, SIGNING_OK);
		} else if (r != SIGNING_FORGED && r != SIGNING_UNSIGNED && r != SIGNING_EXPIRED)
			g_error("tampered octet %zu (%s) still verifies: %s", i, t,
			    signing_result_name(r));
		g_free(t);
	}
	{
		const char *cases[] = {
			"b=421=aaaaaaaa=john=example.org@bounces.example.com",	/* made-up tag */
			NULL, NULL, NULL,
		};
		char *other = g_strdup(s), *p;
		/* same tag, another victim */
		p = strstr(other, "john");
		memcpy(p, "jane", 4);
		cases[1] = other;
		cases[2] = "b=421=7cjxqoju=john=example.org@bounces.example.com";
		for (i = 0; cases[i]; i++)
			g_assert_cmpint(signing_verify(k, cases[i], DAY, NULL), ==, SIGNING_FORGED);
		g_free(other);
	}
	g_free(s);
	signing_keys_free(k);
}

static void
test_hostile(void)
{
	struct signing_keys *k = keys(KEY_A, NULL, 30);
	GString *big = g_string_new("b=421=aaaaaaaa=");
	struct { const char *addr; enum signing_result want; } cases[] = {
		{ "", SIGNING_UNSIGNED },
		{ "john@example.org", SIGNING_UNSIGNED },
		{ "bounce@bounces.example.com", SIGNING_UNSIGNED },
		{ "b=", SIGNING_FORGED },
		{ "b=@bounces.example.com", SIGNING_FORGED },
		{ "b=421@bounces.example.com", SIGNING_FORGED },
		{ "b=421=@bounces.example.com", SIGNING_FORGED },
		{ "b=42=aaaaaaaa=j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=4211=aaaaaaaa=j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaa=j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaaa=j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaa1=j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa==example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j=@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=.j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j..k=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j=exa_mple.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j=example.org", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=\"j k\"=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j\x01=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=-21=aaaaaaaa=j=example.org@bounces.example.com", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j=example.org@", SIGNING_FORGED },
		{ "b=421=aaaaaaaa=j=example.org@@", SIGNING_FORGED },
	};
	char *err = NULL, *orig = (char *)1;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		enum signing_result r = signing_verify(k, cases[i].addr, DAY, &orig);
		if (r != cases[i].want)
			g_error("\"%s\": got %s, want %s", cases[i].addr, signing_result_name(r),
			    signing_result_name(cases[i].want));
		g_assert_null(orig);
		orig = (char *)1;
	}
	g_assert_cmpint(signing_verify(k, NULL, DAY, NULL), ==, SIGNING_UNSIGNED);
	/* overlong: a 100 kB local part, never parsed past the bound */
	while (big->len < 100000)
		g_string_append(big, "aaaaaaaaaa");
	g_string_append(big, "=example.org@bounces.example.com");
	g_assert_cmpint(signing_verify(k, big->str, DAY, NULL), ==, SIGNING_FORGED);
	g_assert_null(signing_decode(big->str));
	g_string_free(big, TRUE);

	/* what cannot be signed is refused with a reason */
	{
		const char *bad[] = { "nodomain", "@example.org", "\"j k\"@example.org",
		    "a..b@example.org", ".a@example.org",
		    "averyveryveryveryverylonglocalpartindeed@averylongdomain.example.org" };
		for (i = 0; i < G_N_ELEMENTS(bad); i++) {
			char *s = signing_sign(k, bad[i], "bounces.example.com", DAY, &err);
			if (s != NULL)
				g_error("signed \"%s\" as %s", bad[i], s);
			g_assert_nonnull(err);
			g_free(err);
			err = NULL;
		}
		g_assert_null(signing_sign(k, "j@example.org", "bad domain", DAY, &err));
		g_free(err);
		err = NULL;
		g_assert_null(signing_sign(k, "j@example.org", "", DAY, &err));
		g_free(err);
	}
	signing_keys_free(k);
}

static void
test_keys(void)
{
	char *err = NULL, *path;
	GBytes *b = NULL;
	struct { const char *spec; gsize len; } good[] = {
		{ KEY_A, 32 }, { KEY_B, 32 },
		{ "HEX:00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff0011", 34 },
	};
	const char *bad[] = {
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",	/* no form */
		"hex:0011",							/* short */
		"hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",	/* odd */
		"hex:zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",		/* not padded */
		"base64:AAEC AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"base64:AAECAwQF",						/* short */
		"file:/nonexistent/rebound-key",
		"",
	};
	size_t i;
	int fd;

	for (i = 0; i < G_N_ELEMENTS(good); i++) {
		if (signing_key_decode(good[i].spec, &b, &err) < 0)
			g_error("%s: %s", good[i].spec, err);
		g_assert_cmpuint(g_bytes_get_size(b), ==, good[i].len);
		g_bytes_unref(b);
	}
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		if (signing_key_decode(bad[i], &b, &err) == 0)
			g_error("accepted key \"%s\"", bad[i]);
		g_assert_null(b);
		g_assert_nonnull(err);
		g_free(err);
		err = NULL;
	}
	/* file: with the hex form inside, and with raw bytes */
	fd = g_file_open_tmp("rebound-key-XXXXXX", &path, NULL);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_true(g_file_set_contents(path, KEY_A "\n", -1, NULL));
	{
		char *spec = g_strdup_printf("file:%s", path);
		struct signing_keys *f = keys(spec, NULL, 30), *inl = keys(KEY_A, NULL, 30);
		char *s1 = sign(f, "j@example.org", DAY), *s2 = sign(inl, "j@example.org", DAY);
		g_assert_cmpstr(s1, ==, s2);
		g_free(s1);
		g_free(s2);
		signing_keys_free(f);
		signing_keys_free(inl);
		g_assert_true(g_file_set_contents(path, "short raw key", -1, NULL));
		g_assert_cmpint(signing_key_decode(spec, &b, &err), <, 0);
		g_free(err);
		err = NULL;
		g_assert_true(g_file_set_contents(path, "0123456789abcdefghijklmnopqrstuvwxyz", -1, NULL));
		g_assert_cmpint(signing_key_decode(spec, &b, &err), ==, 0);
		g_assert_cmpuint(g_bytes_get_size(b), ==, 36);
		g_bytes_unref(b);
		g_free(spec);
	}
	g_unlink(path);
	g_free(path);
	g_assert_null(signing_keys_new(KEY_A, NULL, 366, &err));
	g_free(err);
}

static char *
write_conf(const char *body)
{
	char *path;
	int fd = g_file_open_tmp("rebound-conf-XXXXXX", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_true(g_file_set_contents(path, body, -1, NULL));
	return path;
}

static void
test_config(void)
{
	char *path = write_conf("[smtp]\ndomains = bounces.example.com;other.example;"
	    ".sub.example;.open.example\n"
	    "fbl_addresses = fbl@bounces.example.com\n"
	    "[signing]\nkey = " KEY_C "\nverify_keys = " KEY_A "\n"
	    "required_domains = bounces.example.com\nmode = flag\nmax_age_days = 10\n"
	    "unsigned_domains = other.example;x.sub.example;.open.example\n");
	char **open_doms;
	char *err = NULL, *out = NULL, *orig = NULL, *s;
	struct config *cfg = config_load(path, &err);
	struct signing_keys *old = keys(KEY_A, NULL, 30);
	size_t len;
	FILE *fp;
	int64_t now = DAY * (int64_t)86400 + 3600;

	if (cfg == NULL)
		g_error("%s", err);
	g_assert_cmpstr(cfg->signing_mode, ==, "flag");
	g_assert_cmpint(cfg->signing_max_age_days, ==, 10);
	g_assert_nonnull(cfg->signing_keys);
	/* secrets are masked in the printed settings */
	fp = open_memstream(&out, &len);
	config_print(cfg, fp);
	fclose(fp);
	g_assert_null(strstr(out, "ffeeddcc"));
	g_assert_null(strstr(out, "00112233"));
	g_assert_nonnull(strstr(out, "key = hex:(masked)"));
	g_assert_nonnull(strstr(out, "verify_keys = hex:(masked)"));
	free(out);

	/* the one decision the receiver and the store share */
	g_assert_cmpint(signing_check(cfg, "fbl@bounces.example.com", now, NULL), ==,
	    SIGNING_NOT_REQUIRED);
	g_assert_cmpint(signing_check(cfg, "FBL@Bounces.Example.Com", now, NULL), ==,
	    SIGNING_NOT_REQUIRED);
	/* with a key, every accepted domain is covered unless exempted by name */
	g_assert_cmpint(signing_check(cfg, "x@other.example", now, NULL), ==, SIGNING_NOT_REQUIRED);
	g_assert_cmpint(signing_check(cfg, "x@a.sub.example", now, NULL), ==, SIGNING_UNSIGNED);
	g_assert_cmpint(signing_check(cfg, "x@x.sub.example", now, NULL), ==, SIGNING_NOT_REQUIRED);
	g_assert_cmpint(signing_check(cfg, "x@b.open.example", now, NULL), ==,
	    SIGNING_NOT_REQUIRED);
	g_assert_cmpint(signing_check(cfg, "x@elsewhere.example", now, NULL), ==,
	    SIGNING_NOT_REQUIRED);	/* never accepted at RCPT anyway */
	open_doms = config_unsigned_domains(cfg);
	g_assert_cmpint(g_strv_length(open_doms), ==, 3);
	g_assert_cmpstr(open_doms[0], ==, "other.example");
	g_assert_cmpstr(open_doms[1], ==, ".open.example");
	g_assert_cmpstr(open_doms[2], ==, "x.sub.example");
	g_strfreev(open_doms);
	g_assert_true(cfg->fbl_require_dkim);	/* on by default with a key */
	g_assert_cmpint(signing_check(cfg, "x@bounces.example.com", now, NULL), ==,
	    SIGNING_UNSIGNED);
	g_assert_cmpint(signing_check(cfg, "postmaster", now, NULL), ==, SIGNING_UNSIGNED);
	s = sign(old, "j@example.org", DAY);	/* signed with the old key, still verifies */
	g_assert_cmpint(signing_check(cfg, s, now, &orig), ==, SIGNING_OK);
	g_assert_cmpstr(orig, ==, "j@example.org");
	g_free(orig);
	g_assert_cmpint(signing_check(cfg, s, now + 11 * 86400, NULL), ==, SIGNING_EXPIRED);
	g_free(s);
	signing_keys_free(old);
	config_free(cfg);
	g_unlink(path);
	g_free(path);

	/* errors carry file:line */
	{
		struct { const char *body, *want; } bad[] = {
			{ "[signing]\nrequired_domains = b.example\n", ":2: signing.required_domains needs" },
			{ "[signing]\n\nkey = hex:0011\n", ":3: signing.key: key is 2 bytes" },
			{ "[signing]\nkey = " KEY_A "\nverify_keys = " KEY_B ";hex:zz\n",
			    ":3: signing.verify_keys: verification key 2" },
			{ "[signing]\nkey = " KEY_A "\nmode = drop\n", ":3: signing.mode" },
			{ "[signing]\nkey = " KEY_A "\nmax_age_days = 1000\n", ":3: signing.max_age_days" },
			{ "[signing]\nkey = " KEY_A "\ndomain = a b\n", ":3: signing.domain" },
		};
		size_t i;
		for (i = 0; i < G_N_ELEMENTS(bad); i++) {
			path = write_conf(bad[i].body);
			cfg = config_load(path, &err);
			if (cfg != NULL)
				g_error("accepted: %s", bad[i].body);
			if (strstr(err, bad[i].want) == NULL)
				g_error("error \"%s\" lacks \"%s\"", err, bad[i].want);
			g_free(err);
			err = NULL;
			g_unlink(path);
			g_free(path);
		}
	}
}

const struct unit_test unit_tests[] = {
	{ "/signing/round-trip", test_round_trip },
	{ "/signing/known-answer", test_known_answer },
	{ "/signing/wrong-key-and-rotation", test_wrong_key_and_rotation },
	{ "/signing/expiry", test_expiry },
	{ "/signing/tampered", test_tampered },
	{ "/signing/hostile", test_hostile },
	{ "/signing/keys", test_keys },
	{ "/signing/config", test_config },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
