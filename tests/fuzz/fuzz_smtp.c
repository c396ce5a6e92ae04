/*
 * fuzz_smtp.c - libFuzzer target: the fuzz input is everything a client
 * sends on one SMTP connection.  It goes through a socketpair into the real
 * session code (receiver/smtp_session.c) on a private event base, with a
 * real spool in a temp dir (under /dev/shm when there is one: the spool
 * fsyncs every commit).  Small limits make the limit paths reachable.  Each
 * input is played three times: to a server with [smtp] bare_newlines =
 * reject, to one with accept, and to one offering STARTTLS (a throw-away
 * self-signed certificate).
 *
 * Beyond the sanitizers, each input must satisfy:
 *  - the session ends once the client has sent everything and shut down its
 *    side (no hang, nothing left behind);
 *  - every "250 2.0.0 queued as ID" has a spool entry ID, and nothing else
 *    is in the spool (250 only once durable; nothing stored without a 250);
 *  - at most max_bad_commands 5xx replies: the error budget cannot be dodged;
 *  - every reply line is "DDD " or "DDD-", and all but the greeting, 354 and
 *    the HELO/EHLO lines carry an enhanced status code of the same class;
 *  - no stored message is over max_message_size or has 0 or more than
 *    max_recipients recipients;
 *  - with bare_newlines = reject no stored message holds a bare CR or LF
 *    (SMTP smuggling);
 *  - after "220 2.0.0 Ready to start TLS" no plaintext reply ever follows
 *    (CVE-2011-0411: what was pipelined after STARTTLS is never executed).
 * A fuzz input cannot complete a TLS handshake, so the TLS session itself
 * is not reached: only STARTTLS, the drain and the failed handshake.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <glib.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/config.h"
#include "common/log.h"
#include "receiver/smtp.h"
#include "receiver/smtp_internal.h"
#include "receiver/spool.h"

#define FUZZ_ACK "250 2.0.0 queued as "
#define FUZZ_MAX_MESSAGE	8192
#define FUZZ_MAX_RCPTS		5
#define FUZZ_MAX_BAD		20
#define FUZZ_MAX_REPLIES	(4 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_server {
	const char *bare_newlines;
	int tls;
	struct config *cfg;
	struct spool *spool;
	struct smtp_server *srv;
};

static struct event_base *base;
static char *fuzz_dir;
static struct fuzz_server servers[] = {
	{ "reject", 0, NULL, NULL, NULL },
	{ "accept", 0, NULL, NULL, NULL },
	{ "reject", 1, NULL, NULL, NULL },
};

static void
fuzz_fail(const char *what, const GString *replies)
{
	fprintf(stderr, "fuzz_smtp: %s\nreplies: %.2000s\n", what, replies->str);
	abort();
}

/* A self-signed P-256 certificate and key as top/cert.pem and top/key.pem. */
static void
fuzz_make_cert(const char *top, char **cert, char **key)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	FILE *f;

	if (pk == NULL || x == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
	    -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		abort();
	*cert = g_build_filename(top, "cert.pem", NULL);
	*key = g_build_filename(top, "key.pem", NULL);
	if ((f = fopen(*cert, "w")) == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0)
		abort();
	if ((f = fopen(*key, "w")) == NULL ||
	    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f) != 0)
		abort();
	X509_free(x);
	EVP_PKEY_free(pk);
}

static void
fuzz_server_init(struct fuzz_server *fs, const char *top)
{
	char *dir = g_strdup_printf("%s/%s%s", top, fs->bare_newlines, fs->tls ? "-tls" : "");
	char *err = NULL;
	struct config *cfg = config_defaults();

	g_strfreev(cfg->smtp_domains);
	cfg->smtp_domains = g_strsplit("bounces.example.com;.sub.example.net", ";", -1);
	g_strfreev(cfg->smtp_fbl_addresses);
	cfg->smtp_fbl_addresses = g_strsplit("fbl@feedback.example.org", ";", -1);
	g_free(cfg->smtp_bare_newlines);
	cfg->smtp_bare_newlines = g_strdup(fs->bare_newlines);
	cfg->smtp_max_command_line = 512;
	cfg->smtp_max_data_line = 1000;
	cfg->smtp_max_message_size = FUZZ_MAX_MESSAGE;
	cfg->smtp_max_recipients = FUZZ_MAX_RCPTS;
	cfg->smtp_max_bad_commands = FUZZ_MAX_BAD;
	if (fs->tls)
		fuzz_make_cert(top, &cfg->smtp_tls_cert, &cfg->smtp_tls_key);
	fs->cfg = cfg;
	if ((fs->spool = spool_open(dir, &err)) == NULL ||
	    (fs->srv = smtp_server_new(base, cfg, g_ptr_array_new(), &err)) == NULL ||
	    smtp_server_start(fs->srv, fs->spool, &err) == -1) {
		fprintf(stderr, "fuzz_smtp: %s\n", err ? err : "setup failed");
		abort();
	}
	g_free(dir);
}

/* libFuzzer ends with exit() after -max_total_time: take the spools with us. */
static void
fuzz_cleanup(void)
{
	char *cmd;

	if (fuzz_dir == NULL)
		return;
	cmd = g_strdup_printf("rm -rf '%s'", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_smtp: could not remove %s\n", fuzz_dir);
	g_free(cmd);
}

static void
fuzz_init(void)
{
	const char *shm = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir();
	char *tmpl = g_build_filename(shm, "rebound-fuzz-smtp-XXXXXX", NULL);
	size_t i;

	log_init(LOG_LEVEL_WARN);
	/* The session may close while input is still being written: EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (g_mkdtemp(tmpl) == NULL)
		abort();
	base = event_base_new();
	for (i = 0; i < G_N_ELEMENTS(servers); i++)
		fuzz_server_init(&servers[i], tmpl);
	fuzz_dir = tmpl;
	atexit(fuzz_cleanup);
}

/* Run the loop for at most ~1 ms. */
static void
fuzz_turn(void)
{
	struct timeval tv = { 0, 1000 };

	event_base_loopexit(base, &tv);
	event_base_loop(base, EVLOOP_ONCE);
}

/* One reply line (without CRLF): well formed, with its enhanced status code. */
static gboolean
reply_line_ok(const char *l, size_t n)
{
	size_t i = 4;
	int dots = 0;

	if (n < 4 || !g_ascii_isdigit(l[0]) || l[0] < '2' || l[0] > '5' || !g_ascii_isdigit(l[1]) ||
	    !g_ascii_isdigit(l[2]) || (l[3] != ' ' && l[3] != '-'))
		return FALSE;
	if (strncmp(l, "220", 3) == 0 || strncmp(l, "354", 3) == 0 || strncmp(l, "250", 3) == 0)
		return TRUE;
	if (n < 10 || l[4] != l[0] || l[5] != '.')
		return FALSE;
	for (i = 6; i < n && (g_ascii_isdigit(l[i]) || l[i] == '.'); i++)
		dots += l[i] == '.';
	return dots == 1 && i < n && l[i] == ' ' && l[i - 1] != '.';
}

static gboolean
has_bare_newline(const char *d, gsize len)
{
	gsize i;

	for (i = 0; i < len; i++) {
		if (d[i] == '\r' && (i + 1 == len || d[i + 1] != '\n'))
			return TRUE;
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
			return TRUE;
	}
	return FALSE;
}

/* Check and empty the spool against the queue ids the client was given. */
static void
fuzz_check_spool(struct fuzz_server *fs, GHashTable *acked, const GString *replies)
{
	struct spool *spool = fs->spool;
	GPtrArray *ids = spool_list(spool);
	guint i;

	if (ids->len != g_hash_table_size(acked))
		fuzz_fail("spool entries and 250 replies differ", replies);
	for (i = 0; i < ids->len; i++) {
		const char *id = g_ptr_array_index(ids, i), *d, *body;
		struct spool_envelope *env;
		GBytes *b;
		char *err = NULL;
		gsize len;

		if (!g_hash_table_contains(acked, id))
			fuzz_fail("stored without a 250", replies);
		if (spool_read(spool, id, &env, &b, &err) == -1)
			fuzz_fail("spool_read failed", replies);
		d = g_bytes_get_data(b, &len);
		/* Our Received: header ends with the date line. */
		body = g_strstr_len(d, len, " +0000\r\n");
		if (body == NULL)
			fuzz_fail("no Received: header", replies);
		body += 8;
		if (strcmp(fs->bare_newlines, "reject") == 0 && has_bare_newline(d, len))
			fuzz_fail("bare CR or LF stored with bare_newlines = reject", replies);
		if ((gsize)(d + len - body) > FUZZ_MAX_MESSAGE)
			fuzz_fail("message over max_message_size stored", replies);
		if (env->rcpts[0] == NULL || g_strv_length(env->rcpts) > FUZZ_MAX_RCPTS)
			fuzz_fail("recipient count out of bounds", replies);
		spool_envelope_free(env);
		g_bytes_unref(b);
		if (spool_remove(spool, id, &err) == -1)
			fuzz_fail("spool_remove failed", replies);
	}
	g_ptr_array_unref(ids);
}

/* One connection carrying data, to its end; then the spool is checked and emptied. */
static void
fuzz_session(struct fuzz_server *fs, const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	GString *replies = g_string_new(NULL);
	GHashTable *acked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gint64 deadline = g_get_monotonic_time() + 8 * G_USEC_PER_SEC;
	size_t off = 0;
	int sv[2], shut = 0, eof = 0, nbad = 0;
	const char *p;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	smtp_session_new(fs->srv, sv[1], (struct sockaddr *)&sin, 0);

	while (smtp_server_sessions(fs->srv) > 0 || !eof) {
		char buf[16384];
		ssize_t n;

		if (off < size && (n = write(sv[0], data + off, size - off)) > 0)
			off += n;
		if (off == size && !shut) {
			shutdown(sv[0], SHUT_WR);
			shut = 1;
		}
		fuzz_turn();
		while ((n = read(sv[0], buf, sizeof buf)) > 0)
			if (replies->len < FUZZ_MAX_REPLIES)
				g_string_append_len(replies, buf, n);
		if (n == 0)
			eof = 1;
		if (g_get_monotonic_time() > deadline)
			fuzz_fail("session did not end after the client shut down", replies);
	}
	close(sv[0]);

	if (fs->tls && (p = strstr(replies->str, "220 2.0.0 Ready to start TLS\r\n")) != NULL) {
		const char *q;

		/* What follows is the server's side of a failed handshake, never SMTP. */
		for (q = p + 30; q + 3 < replies->str + replies->len; q++)
			if (g_ascii_isdigit(q[0]) && g_ascii_isdigit(q[1]) && g_ascii_isdigit(q[2]) &&
			    (q[3] == ' ' || q[3] == '-'))
				fuzz_fail("a plaintext reply after STARTTLS", replies);
		g_string_truncate(replies, p + 30 - replies->str);
	}
	for (p = replies->str; (p = strstr(p, FUZZ_ACK)) != NULL; p += strlen(FUZZ_ACK))
		g_hash_table_add(acked, g_strndup(p + strlen(FUZZ_ACK), 16));
	for (p = replies->str; *p != '\0'; p = strchr(p, '\n') + 1) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL) {
			if (replies->len < FUZZ_MAX_REPLIES)
				fuzz_fail("reply without CRLF", replies);
			break;
		}
		if (!reply_line_ok(p, eol - p))
			fuzz_fail("malformed reply line or no enhanced status code", replies);
		if (p[0] == '5')
			nbad++;
	}
	if (replies->len < FUZZ_MAX_REPLIES && nbad > FUZZ_MAX_BAD)
		fuzz_fail("more 5xx replies than max_bad_commands", replies);
	fuzz_check_spool(fs, acked, replies);
	g_hash_table_destroy(acked);
	g_string_free(replies, TRUE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i;

	if (base == NULL)
		fuzz_init();
	for (i = 0; i < G_N_ELEMENTS(servers); i++)
		fuzz_session(&servers[i], data, size);
	return 0;
}
