/*
 * signing.h - signed return paths: a forged bounce cannot suppress anyone.
 *
 * A sender that wants bounces for <rcpt> puts this envelope sender on the
 * message (the local part is an RFC 5321 dot-atom, at most 64 octets):
 *
 *     b=DDD=TTTTTTTT=LOCAL=DOMAIN@RETURN-DOMAIN
 *
 *   DDD       day stamp: days since 1970-01-01 UTC modulo 1000, 3 digits
 *   TTTTTTTT  tag: the first 40 bits of
 *             HMAC-SHA256(key, "rebound-rp-v1" NUL DDD NUL address_key(rcpt))
 *             in lower-case RFC 4648 base32 (a-z2-7), compared case-blind
 *   LOCAL     rcpt's local part as given (dot-atom; UTF-8 allowed)
 *   DOMAIN    rcpt's domain, lower-case IDNA A-label
 *
 * Escaping: none is needed.  LOCAL ends at the LAST '=' before the '@'
 * because a domain never contains '=', so '=' inside LOCAL is kept as is.
 * Quoted local parts cannot be signed (they would need quoting outside too).
 * The tag covers the case-folded address, so an MTA that changes case does
 * not break it; the stamp wraps after 1000 days, so max_age_days is bounded
 * at 365 and a stamp one day in the future (clock skew) is accepted.
 *
 * Keys: one signing key and any number of verification keys (rotation), each
 * given as "hex:...", "base64:..." or "file:PATH" (the file holds one of the
 * first two forms, or else its raw bytes are the key); 32..1024 bytes each.
 * Tags are compared with CRYPTO_memcmp.
 *
 * Every function bounds its input (SIGNING_MAX_ADDRESS) before parsing.
 * Returned strings are g_malloc'd and belong to the caller; struct
 * signing_keys belongs to whoever created it (signing_keys_free).
 */
#ifndef REBOUND_SIGNING_H
#define REBOUND_SIGNING_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define SIGNING_KEY_MIN		32
#define SIGNING_KEY_MAX		1024
#define SIGNING_TAG_LEN		8
#define SIGNING_MAX_AGE		365
#define SIGNING_MAX_ADDRESS	512	/* longer input is never a signed path */
#define SIGNING_MAX_LOCAL	64	/* of the signed return path (RFC 5321) */

enum signing_result {
	SIGNING_NOT_REQUIRED,		/* FBL address, or not in a required domain */
	SIGNING_OK,
	SIGNING_UNSIGNED,		/* no "b=" form */
	SIGNING_FORGED,			/* "b=" form with a malformed or wrong tag */
	SIGNING_EXPIRED,		/* right tag, stamp older than max_age_days */
};

struct signing_keys;

/* NULL with *err (g_free) when a key spec is bad or has the wrong length. */
struct signing_keys *signing_keys_new(const char *sign_spec, char *const *verify_specs,
    int max_age_days, char **err);
void signing_keys_free(struct signing_keys *k);

/* Decode one key spec; 0 with *out (g_bytes_unref), or -1 with *err. */
int signing_key_decode(const char *spec, GBytes **out, char **err);

/* Days since the epoch for a Unix time in seconds. */
int64_t signing_day(int64_t unix_seconds);

/*
 * The signed return path for original address rcpt in return_domain, stamped
 * with day (signing_day()); NULL with *err when rcpt cannot be signed
 * (not local@domain, quoted local part, result over 64 octets).
 */
char *signing_sign(const struct signing_keys *k, const char *rcpt, const char *return_domain,
    int64_t day, char **err);

/*
 * Check address (a RCPT, without brackets) against the keys at day.
 * SIGNING_OK sets *original (may be NULL) to the signed address.  Never
 * returns SIGNING_NOT_REQUIRED.
 */
enum signing_result signing_verify(const struct signing_keys *k, const char *address,
    int64_t day, char **original);

/*
 * Without any key: when address has the signed form, the original address it
 * names ("LOCAL@DOMAIN"); NULL otherwise.  For VERP decoding only - it says
 * nothing about authenticity.
 */
char *signing_decode(const char *address);

/* 1 when addr's domain matches one of domains ("d" exactly, ".d" subdomains). */
int signing_domain_matches(const char *addr, char *const *domains);

struct config;
/*
 * 1 when a report sent to addr counts only through a valid signed path:
 * with signing.key set, addr's domain is in required_domains, or in
 * smtp.domains and not in unsigned_domains.  Without a key, never.
 */
int signing_required(const struct config *cfg, const char *addr);
/* 1 when rcpt is one of smtp.fbl_addresses (compared as address_key). */
int signing_is_fbl(const struct config *cfg, const char *rcpt);
/*
 * The receiver's and the store's one decision for an envelope recipient
 * under cfg's [signing] and [smtp] fbl_addresses, at Unix time unix_s.
 * FBL addresses and addresses signing_required() exempts: NOT_REQUIRED.
 * A bare "postmaster" counts as UNSIGNED once signing.key is set.
 */
enum signing_result signing_check(const struct config *cfg, const char *rcpt, int64_t unix_s,
    char **original);

const char *signing_result_name(enum signing_result r);

/* Internal to signing.c and signing_form.c. */
extern const char signing_b32[];
int signing_form_dot_atom(const char *s, size_t n);
int signing_form_domain(const char *s, size_t n);
/*
 * Split a signed return path into stamp, tag (lower-cased) and the original
 * "LOCAL@DOMAIN" (*original, g_free): 1 when it parsed, 0 when address does
 * not start like one, -1 when it does but is malformed.
 */
int signing_form_parse(const char *address, unsigned *stamp, char tag[SIGNING_TAG_LEN],
    char **original);

#endif
