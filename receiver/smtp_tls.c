/* smtp_tls.c - the server's OpenSSL context (TLS 1.2+, no renegotiation). */
#include "receiver/smtp_internal.h"

#include <limits.h>

#include <openssl/err.h>
#include <openssl/pem.h>

static char *
smtp_tls_error(const char *what, const char *file)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return g_strdup_printf("%s %s: %s", what, file, e ? buf : "unknown error");
}

/* Everything but the certificate and key. */
static SSL_CTX *
smtp_tls_ctx_base(char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*err = smtp_tls_error("SSL_CTX_new", "");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		*err = smtp_tls_error("SSL_CTX_set_min_proto_version", "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * No renegotiation (a client-driven CPU sink), no compression, and no
	 * client certificate request: a bounce sender has nothing to prove here.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

SSL_CTX *
smtp_tls_ctx_new(const char *cert, const char *key, char **err)
{
	SSL_CTX *ctx = smtp_tls_ctx_base(err);

	if (ctx == NULL)
		return NULL;
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

/* An encrypted key cannot be unlocked unattended: never prompt on a terminal. */
static int
smtp_tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The leaf then the chain, as SSL_CTX_use_certificate_chain_file() reads a file. */
static int
smtp_tls_use_chain(SSL_CTX *ctx, BIO *bio)
{
	X509 *x;
	unsigned long e;
	int rc;

	if ((x = PEM_read_bio_X509_AUX(bio, NULL, smtp_tls_no_passphrase, NULL)) == NULL)
		return -1;
	rc = SSL_CTX_use_certificate(ctx, x);
	X509_free(x);
	if (rc != 1 || SSL_CTX_clear_chain_certs(ctx) != 1)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, smtp_tls_no_passphrase, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			return -1;
		}
	}
	/* The end of the PEM data is "no start line"; anything else is a broken chain. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return 0;
	}
	return -1;
}

SSL_CTX *
smtp_tls_ctx_new_pem(const char *cert, size_t cert_len, const char *cert_name,
    const char *key, size_t key_len, const char *key_name, char **err)
{
	SSL_CTX *ctx;
	EVP_PKEY *pkey;
	BIO *bio;
	int rc;

	if (cert_len > INT_MAX || key_len > INT_MAX) {
		*err = g_strdup_printf("certificate %s: too large", cert_name);
		return NULL;
	}
	/* The chain's end is found by the error it leaves: start from an empty queue. */
	ERR_clear_error();
	if ((ctx = smtp_tls_ctx_base(err)) == NULL)
		return NULL;
	if ((bio = BIO_new_mem_buf(cert, (int)cert_len)) == NULL) {
		*err = smtp_tls_error("certificate", cert_name);
		SSL_CTX_free(ctx);
		return NULL;
	}
	rc = smtp_tls_use_chain(ctx, bio);
	BIO_free(bio);
	if (rc == -1) {
		*err = smtp_tls_error("certificate", cert_name);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(key, (int)key_len)) == NULL) {
		*err = smtp_tls_error("private key", key_name);
		SSL_CTX_free(ctx);
		return NULL;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, smtp_tls_no_passphrase, NULL);
	BIO_free(bio);
	rc = pkey != NULL && SSL_CTX_use_PrivateKey(ctx, pkey) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(pkey);
	if (!rc) {
		*err = smtp_tls_error("private key", key_name);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
