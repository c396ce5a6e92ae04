/*
 * smtp_tls_keys.h - the TLS key reader: a root helper process that reads the
 * certificate and key files named at start, so that SIGHUP can reload a
 * root-only key after the daemon dropped to [smtp] user.
 *
 * The helper is forked before privileges are dropped and keeps only one
 * socketpair end.  It takes no path from the daemon (which parses hostile
 * SMTP input): a request is one byte, the answer is the two files named in
 * tls_keys_start(), each at most TLS_KEYS_MAX bytes.  It ignores SIGHUP,
 * SIGTERM and SIGINT (they reach the whole process group) and exits when
 * the daemon's end closes.
 */
#ifndef REBOUND_SMTP_TLS_KEYS_H
#define REBOUND_SMTP_TLS_KEYS_H

#include <stddef.h>

#define TLS_KEYS_MAX	(1024 * 1024)

struct tls_keys;

/* Fork the helper (call as root, before any thread starts); NULL and *err on failure. */
struct tls_keys *tls_keys_start(const char *cert, const char *key, char **err);
/* The paths given to tls_keys_start(): the only ones the helper reads. */
const char *tls_keys_cert_path(const struct tls_keys *k);
const char *tls_keys_key_path(const struct tls_keys *k);
/*
 * Ask the helper for both files: 0 and g_malloc'd buffers (the key's is
 * to be cleansed and freed with tls_keys_free_buf()), or -1 and *err.
 */
int tls_keys_fetch(struct tls_keys *k, char **cert, size_t *cert_len, char **key,
    size_t *key_len, char **err);
void tls_keys_free_buf(char *buf, size_t len);
/* Close the socket (the helper exits on EOF) and reap it. */
void tls_keys_free(struct tls_keys *k);

#endif
