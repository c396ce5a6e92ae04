/* trust.c - see trust.h. */
#include "store/trust.h"

#include <string.h>

#include "common/address.h"
#include "common/signing.h"

struct store_trust {
	gboolean message;		/* some record may suppress */
	gboolean any;			/* a recipient grants every address */
	GHashTable *signed_keys;	/* address_key of each signed original */
	char *bind_key;			/* a complaint's signed original sender's address */
	const char *reason;		/* static */
	int64_t cap;
	GHashTable *taken;		/* address keys counted against the cap */
	int over;
	char *first_over;
};

/*
 * What addr's signature says at now_s, and the address it was signed for
 * (*orig, g_free) when SIGNING_OK.  stored >= 0 (reprocess): the answer
 * given at store time stands, only the binding is recomputed, so no key is
 * needed: a signed form decodes to SIGNING_OK when the message was stored
 * suppressible, anything else in a covered domain is SIGNING_UNSIGNED.
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

static void
trust_refuse(struct store_trust *t, const char *why)
{
	if (t->reason == NULL)
		t->reason = why;
}

/* A complaint about an original sent from one of our covered return paths
 * is bound to the address that path was signed for. */
static void
trust_original(struct store_trust *t, const struct config *cfg, const struct store_trust_in *in)
{
	struct config c = *cfg;
	const char *omf = in->original_mail_from;
	enum signing_result r = SIGNING_NOT_REQUIRED;
	char *orig = NULL, *key = omf ? address_key(omf) : NULL;
	gboolean missing = key == NULL;	/* absent, "redacted", "<>": no address */

	g_free(key);
	/* The original's return path is never a feedback-loop address. */
	c.smtp_fbl_addresses = NULL;
	if (!missing)
		r = trust_check(&c, omf, in->arrival_us / G_USEC_PER_SEC, in->stored, &orig);
	/* reprocess of a message stored suppressible before this check existed:
	 * that answer stands */
	if (in->stored >= 0 && r == SIGNING_UNSIGNED)
		r = SIGNING_NOT_REQUIRED;
	switch (r) {
	case SIGNING_OK:
		t->bind_key = address_key(orig);
		if (t->bind_key == NULL)
			t->message = FALSE;
		break;
	case SIGNING_NOT_REQUIRED:
		/* Missing, redacted, "<>", someone else's domain, malformed: it
		 * proves nothing, so only a provider's DKIM signature can carry
		 * the complaint. */
		if (in->stored < 0 && !cfg->fbl_require_dkim) {
			t->message = FALSE;
			t->reason = missing ? "original-missing" : "original-not-ours";
		}
		break;
	default:
		t->message = FALSE;
		t->reason = r == SIGNING_UNSIGNED ? "original-unsigned" :
		    r == SIGNING_EXPIRED ? "original-expired" : "original-forged";
		break;
	}
	g_free(orig);
}

struct store_trust *
store_trust_new(const struct config *cfg, const struct store_trust_in *in)
{
	struct store_trust *t = g_new0(struct store_trust, 1);
	int64_t now_s = in->arrival_us / G_USEC_PER_SEC;
	gboolean arf_ok;
	int i;

	t->signed_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->cap = cfg->policy_max_suppressions_per_message;
	arf_ok = !in->arf || (in->stored >= 0 ? in->stored == 1 :
	    !cfg->fbl_require_dkim || in->dkim_pass);
	if (in->rcpts == NULL || in->rcpts[0] == NULL)
		trust_refuse(t, "no-recipients");
	for (i = 0; in->rcpts != NULL && in->rcpts[i] != NULL; i++) {
		const char *rcpt = in->rcpts[i];
		char *orig = NULL, *key;
		enum signing_result r;

		if (signing_is_fbl(cfg, rcpt)) {
			/* A feedback-loop address vouches for complaints only. */
			if (!in->arf)
				trust_refuse(t, "fbl-not-arf");
			else if (!arf_ok)
				trust_refuse(t, "no-dkim");
			else
				t->any = TRUE;
			continue;
		}
		r = trust_check(cfg, rcpt, now_s, in->stored, &orig);
		switch (r) {
		case SIGNING_NOT_REQUIRED:
			if (arf_ok)
				t->any = TRUE;
			else
				trust_refuse(t, "no-dkim");
			break;
		case SIGNING_OK:
			if (!arf_ok)
				trust_refuse(t, "no-dkim");
			else if ((key = address_key(orig)) != NULL)
				g_hash_table_add(t->signed_keys, key);
			break;
		default:
			trust_refuse(t, signing_result_name(r));
			break;
		}
		g_free(orig);
	}
	t->message = in->stored != 0 && (t->any || g_hash_table_size(t->signed_keys) > 0);
	if (t->message && in->arf && cfg->signing_key != NULL)
		trust_original(t, cfg, in);
	return t;
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

	if (!t->message || recipient == NULL || (key = address_key(recipient)) == NULL)
		return FALSE;
	ok = t->any || g_hash_table_contains(t->signed_keys, key);
	if (ok && t->bind_key != NULL)
		ok = strcmp(key, t->bind_key) == 0;
	g_free(key);
	return ok;
}

gboolean
store_trust_take(struct store_trust *t, const char *recipient, gboolean counts)
{
	char *key;

	if (!store_trust_record(t, recipient))
		return FALSE;
	if (!counts)
		return TRUE;
	key = address_key(recipient);
	if (g_hash_table_contains(t->taken, key)) {
		g_free(key);
		return TRUE;
	}
	if ((int64_t)g_hash_table_size(t->taken) >= t->cap) {
		if (t->first_over == NULL)
			t->first_over = key;
		else
			g_free(key);
		t->over++;
		return FALSE;
	}
	g_hash_table_add(t->taken, key);
	return TRUE;
}

int
store_trust_over(const struct store_trust *t)
{
	return t->over;
}

const char *
store_trust_first_over(const struct store_trust *t)
{
	return t->first_over;
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
	g_hash_table_destroy(t->taken);
	g_free(t->bind_key);
	g_free(t->first_over);
	g_free(t);
}
