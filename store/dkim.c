/* dkim.c - see dkim.h. */
#include "store/dkim.h"

#include <string.h>
#include <sys/types.h>
#include <glib.h>
#include <opendkim/dkim.h>

#define STORE_DKIM_TIMEOUT	5	/* seconds per DNS query */

struct dkim_ctx {
	char *const *providers;
	int kept;
};

static int
dkim_is_provider(char *const *providers, const char *domain)
{
	int i;

	for (i = 0; domain != NULL && providers && providers[i]; i++)
		if (g_ascii_strcasecmp(providers[i], domain) == 0)
			return 1;
	return 0;
}

/* Called before any key is fetched: drop what no provider signed. */
static DKIM_CBSTAT
dkim_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct dkim_ctx *c = dkim_get_user_context(dkim);
	int i;

	for (i = 0; i < nsigs; i++) {
		const char *d = (const char *)dkim_sig_getdomain(sigs[i]);
		if (c->kept >= STORE_DKIM_MAX_SIGS || !dkim_is_provider(c->providers, d))
			dkim_sig_ignore(sigs[i]);
		else
			c->kept++;
	}
	return DKIM_CBSTAT_CONTINUE;
}

int
store_dkim_provider(const struct config *cfg, const char *raw, size_t len, char **domain,
    char **detail)
{
	struct dkim_ctx ctx = { cfg->fbl_providers, 0 };
	DKIM_LIB *lib;
	DKIM *dkim = NULL;
	DKIM_SIGINFO **sigs = NULL;
	DKIM_STAT st;
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_BADSIGHANDLES;
	uint64_t timeout = STORE_DKIM_TIMEOUT;
	int nsigs = 0, i, pass = 0;

	*domain = NULL;
	*detail = NULL;
	if (cfg->fbl_providers == NULL || cfg->fbl_providers[0] == NULL) {
		*detail = g_strdup("no-providers");
		return 0;
	}
	if ((lib = dkim_init(NULL, NULL)) == NULL) {
		*detail = g_strdup("dkim_init failed");
		return 0;
	}
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &timeout, sizeof timeout);
	if (cfg->fbl_dkim_key_file != NULL) {
		dkim_query_t qm = DKIM_QUERY_FILE;
		dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm, sizeof qm);
		dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, cfg->fbl_dkim_key_file,
		    strlen(cfg->fbl_dkim_key_file));
	}
	dkim_set_prescreen(lib, dkim_prescreen);
	dkim = dkim_verify(lib, (const unsigned char *)"rebound", NULL, &st);
	if (dkim == NULL) {
		*detail = g_strdup_printf("dkim_verify: %s", dkim_getresultstr(st));
		goto out;
	}
	dkim_set_user_context(dkim, &ctx);
	st = dkim_chunk(dkim, (unsigned char *)raw, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(dkim, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(dkim, NULL);
	if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (i = 0; i < nsigs && !pass; i++) {
		ssize_t msglen = 0, canonlen = 0, signlen = -1;
		const char *d = (const char *)dkim_sig_getdomain(sigs[i]);

		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) != 0 ||
		    !dkim_is_provider(cfg->fbl_providers, d))
			continue;
		if (!DKIM_SIG_CHECK(sigs[i])) {
			if (*detail == NULL)
				*detail = g_strdup_printf("d=%s %s", d,
				    dkim_sig_geterrorstr(dkim_sig_geterror(sigs[i])));
			continue;
		}
		if (dkim_sig_getcanonlen(dkim, sigs[i], &msglen, &canonlen, &signlen) !=
		    DKIM_STAT_OK || (signlen >= 0 && canonlen < msglen)) {
			if (*detail == NULL)
				*detail = g_strdup_printf("d=%s body partly signed (l=)", d);
			continue;
		}
		pass = 1;
		*domain = g_ascii_strdown(d, -1);
	}
	if (!pass && *detail == NULL)
		*detail = g_strdup(ctx.kept == 0 ? "no-provider-signature" :
		    dkim_getresultstr(st));
out:
	if (pass) {
		g_free(*detail);
		*detail = NULL;
	}
	if (dkim != NULL)
		dkim_free(dkim);
	dkim_close(lib);
	return pass;
}
