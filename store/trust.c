/* trust.c - see trust.h. */
#include "store/trust.h"

#include <string.h>

#include "common/address.h"
#include "common/signing.h"

struct store_trust {
	gboolean message;		/* every recipient trusted */
	gboolean bound;			/* records limited to the signed addresses */
	GHashTable *signed_keys;	/* address_key of each signed original */
	const char *reason;		/* static */
};

/*
 * What addr's signature says at now_s, and the address it was signed for
 * (*orig, g_free) when SIGNING_OK.  stored >= 0 (reprocess): the answer
 * given at store time stands, only the binding is recomputed, so no key is
 * needed: a signed form decodes to SIGNING_OK when the message was stored
 * suppressible, anything else in a required domain is SIGNING_UNSIGNED.
 */
static enum signing_result
trust_check(const struct config *cfg, const char *addr, int64_t now_s, int stored, char **orig)
{
	struct config c = *cfg;
	enum signing_result r;

	*orig = NULL;
	if (stored < 0)
		return signing_check(cfg, addr, now_s, orig);
	c.signing_keys = NULL;
	r = signing_check(&c, addr, now_s, NULL);
	if (r != SIGNING_NOT_REQUIRED) {
		*orig = signing_decode(addr);
		r = stored && *orig != NULL ? SIGNING_OK : SIGNING_UNSIGNED;
	}
	return r;
}

struct store_trust *
store_trust_new(const struct config *cfg, char *const *rcpts, int64_t arrival_us, int stored)
{
	struct store_trust *t = g_new0(struct store_trust, 1);
	int64_t now_s = arrival_us / G_USEC_PER_SEC;
	gboolean unbound = FALSE;
	int i;

	t->message = TRUE;
	t->signed_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (cfg->signing_required_domains == NULL || cfg->signing_required_domains[0] == NULL) {
		/* signing is off: trusted and unbound, unless refused when stored */
		t->message = stored != 0;
		return t;
	}
	if (rcpts == NULL || rcpts[0] == NULL) {
		t->message = FALSE;
		t->reason = "no-recipients";
	}
	for (i = 0; rcpts != NULL && rcpts[i] != NULL; i++) {
		char *orig, *key;
		enum signing_result r = trust_check(cfg, rcpts[i], now_s, stored, &orig);

		switch (r) {
		case SIGNING_NOT_REQUIRED:
			unbound = TRUE;
			break;
		case SIGNING_OK:
			if ((key = address_key(orig)) != NULL)
				g_hash_table_add(t->signed_keys, key);
			break;
		default:
			t->message = FALSE;
			if (t->reason == NULL)
				t->reason = signing_result_name(r);
			break;
		}
		g_free(orig);
	}
	if (stored == 0)
		t->message = FALSE;
	t->bound = !unbound;
	return t;
}

void
store_trust_original(struct store_trust *t, const struct config *cfg,
    const char *original_mail_from, int64_t arrival_us, int stored)
{
	struct config c = *cfg;
	enum signing_result r;
	char *orig, *key;

	if (!t->message || original_mail_from == NULL || *original_mail_from == '\0' ||
	    cfg->signing_required_domains == NULL || cfg->signing_required_domains[0] == NULL)
		return;
	/* Never a feedback-loop address: it is the original's return path. */
	c.smtp_fbl_addresses = NULL;
	r = trust_check(&c, original_mail_from, arrival_us / G_USEC_PER_SEC, stored, &orig);
	/* reprocess of a message stored suppressible before this check existed:
	 * that answer stands (t->message here means it was stored so) */
	if (stored >= 0 && r == SIGNING_UNSIGNED)
		r = SIGNING_NOT_REQUIRED;
	switch (r) {
	case SIGNING_NOT_REQUIRED:
		break;
	case SIGNING_OK:
		t->bound = TRUE;
		if ((key = address_key(orig)) != NULL)
			g_hash_table_add(t->signed_keys, key);
		break;
	default:
		t->message = FALSE;
		t->reason = r == SIGNING_UNSIGNED ? "original-unsigned" :
		    r == SIGNING_EXPIRED ? "original-expired" : "original-forged";
		break;
	}
	g_free(orig);
}

gboolean
store_trust_message(const struct store_trust *t)
{
	return t->message;
}

gboolean
store_trust_record(const struct store_trust *t, const char *recipient)
{
	char *key;
	gboolean ok;

	if (!t->message)
		return FALSE;
	if (!t->bound)
		return TRUE;
	if (recipient == NULL || (key = address_key(recipient)) == NULL)
		return FALSE;
	ok = g_hash_table_contains(t->signed_keys, key);
	g_free(key);
	return ok;
}

const char *
store_trust_reason(const struct store_trust *t)
{
	return t->message ? NULL : (t->reason ? t->reason : "recorded-unsuppressible");
}

void
store_trust_free(struct store_trust *t)
{
	if (t == NULL)
		return;
	g_hash_table_destroy(t->signed_keys);
	g_free(t);
}
