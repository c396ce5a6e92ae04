/* smtp_tls.c - the server's OpenSSL context (TLS 1.2+, no renegotiation). */
#include "receiver/smtp_internal.h"

#include <openssl/err.h>

static char *
smtp_tls_error(const char *what, const char *file)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return g_strdup_printf("%s %s: %s", what, file, e ? buf : "unknown error");
}

SSL_CTX *
smtp_tls_ctx_new(const char *cert, const char *key, char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*err = smtp_tls_error("SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * No renegotiation (a client-driven CPU sink), no compression, and no
	 * client certificate request: a bounce sender has nothing to prove here.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*err = smtp_tls_error("certificate", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*err = smtp_tls_error("private key", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
