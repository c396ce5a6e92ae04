/*
 * smtp_session.c - one SMTP session: the protocol as a command table,
 * bounded line reading, DATA with dot-unstuffing, STARTTLS, and one free
 * path (smtp_session_close -> ev_close -> smtp_session_free).
 *
 * Bare CR / bare LF: only CRLF ends a line and only CRLF.CRLF ends DATA, so
 * "\n.\n" and friends never end a message whatever the setting.  With
 * [smtp] bare_newlines = reject (the default) a message containing a bare
 * CR or LF is read to its end and refused with 554 5.6.0; with accept the
 * octets are kept as data, unchanged.  In commands they are always refused.
 */
#include "receiver/smtp_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "common/log.h"
#include "common/signing.h"
#include "receiver/smtp_addr.h"
#include "common/metrics.h"

/* Stop reading while this much output waits for a client that does not read. */
#define SMTP_OUT_HIGH	(64 * 1024)
/*
 * A session keeps up to SMTP_DATA_MEM of a message in RAM (most reports are
 * a few KB: they go to the spool straight from memory).  A longer message,
 * or any message once all sessions together hold [smtp] max_memory_mb, is
 * written to an unnamed file in the spool's tmp/ as it is read, in writes
 * of up to SMTP_DATA_WBUF, so unfinished DATA costs disk, not RAM.
 */
#define SMTP_DATA_MEM	(256 * 1024)
#define SMTP_DATA_WBUF	(64 * 1024)

enum smtp_state {
	SMTP_S_GREETING,		/* implicit TLS handshake before the banner */
	SMTP_S_CONNECTED,		/* banner sent, waiting for HELO/EHLO */
	SMTP_S_HELO,
	SMTP_S_MAIL,
	SMTP_S_RCPT,
	SMTP_S_DATA,
	SMTP_S_COMMIT,			/* waiting for the spool */
	SMTP_S_TLS,			/* STARTTLS handshake */
	SMTP_S_QUIT,
};

static const char *smtp_state_names[] = {
	"GREETING", "CONNECTED", "HELO", "MAIL", "RCPT", "DATA", "COMMIT", "TLS", "QUIT",
};

struct smtp_session {
	uint64_t serial;
	char id[17];
	struct smtp_server *srv;
	struct bufferevent *bev;
	struct event *ev_close;
	char client[INET6_ADDRSTRLEN];
	char limit_key[INET6_ADDRSTRLEN + 4];	/* client, or its IPv6 /64 */
	int counted;			/* in the session limits */
	int rejecting;			/* closing with a limit's 421 (srv->rejecting) */
	GList idle_link;		/* in srv->idle while in_idle */
	int in_idle;
	int64_t idle_since;		/* monotonic: entered CONNECTED/HELO */
	int64_t started;		/* monotonic */
	struct event *ev_timer;		/* idle time and session lifetime */
	enum smtp_state state;
	char *helo;
	int esmtp;
	char *tls_info;			/* "TLSv1.3 TLS_AES_256_GCM_SHA384" once secure */
	int in_process;
	int out_paused;
	int discarding;			/* skipping the rest of an overlong command line */

	/* transaction */
	char *mail_from;
	struct smtp_mail_params mp;
	GPtrArray *rcpts;
	GString *data;			/* the message, or what waits to go to data_fd */
	int data_fd;			/* spool_tmpfile() once the message left RAM, or -1 */
	uint64_t data_file_len;		/* octets written to data_fd */
	size_t data_mem;		/* this session's share of srv->data_mem */
	uint64_t data_size;		/* octets after unstuffing, Received: excluded */
	const char *data_err;		/* sticky DATA error, sent after the final dot */
	int data_midline;		/* next DATA chunk continues an overlong line */
	char *queue_id;
	int64_t arrival_us;

	/* counters for the end line */
	unsigned msgs, rcpts_total, bad;
	uint64_t bytes;

	int closing;
	int flush;			/* send what is queued before closing */
	const char *reason;
};

struct smtp_cmd {
	const char *name;
	/* check: state and syntax; replies and returns -1 to stop. */
	int (*check)(struct smtp_session *, const char *arg);
	void (*proceed)(struct smtp_session *, const char *arg);
};

static void smtp_session_process(struct smtp_session *s);
static int smtp_data_flush(struct smtp_session *s);
static void smtp_session_readcb(struct bufferevent *bev, void *arg);
static void smtp_session_writecb(struct bufferevent *bev, void *arg);
static void smtp_session_eventcb(struct bufferevent *bev, short what, void *arg);

static const struct config *
smtp_cfg(struct smtp_session *s)
{
	return s->srv->cfg;
}

/*
 * Without a transaction a session is idle: NOOP, RSET, EHLO, VRFY and
 * HELP do not make it less so.  Its idle time runs from when it entered
 * CONNECTED or HELO, and it is closed idle_timeout after that whatever it
 * sends; at the session limit the longest idle one makes room for a new
 * client (smtp_session_new).
 */
static int
smtp_state_idle(enum smtp_state st)
{
	return st == SMTP_S_CONNECTED || st == SMTP_S_HELO;
}

/* Postfix's stress mode: near the session limit, timeouts shrink. */
static int64_t
smtp_idle_timeout(struct smtp_session *s)
{
	const struct config *cfg = smtp_cfg(s);

	return s->srv->stress ? MIN(cfg->smtp_idle_timeout, cfg->smtp_stress_timeout) :
	    cfg->smtp_idle_timeout;
}

static int64_t
smtp_data_timeout(struct smtp_session *s)
{
	const struct config *cfg = smtp_cfg(s);

	return s->srv->stress ? MIN(cfg->smtp_data_timeout, cfg->smtp_stress_timeout) :
	    cfg->smtp_data_timeout;
}

static void
smtp_session_arm(struct smtp_session *s)
{
	int64_t now = g_get_monotonic_time(), deadline, d;
	struct timeval tv;

	deadline = s->started + smtp_cfg(s)->smtp_max_session_time * G_USEC_PER_SEC;
	if (smtp_state_idle(s->state))
		deadline = MIN(deadline, s->idle_since + smtp_idle_timeout(s) * G_USEC_PER_SEC);
	d = MAX(deadline - now, 0);
	tv.tv_sec = d / G_USEC_PER_SEC;
	tv.tv_usec = d % G_USEC_PER_SEC;
	evtimer_add(s->ev_timer, &tv);
}

static void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	int was = smtp_state_idle(s->state), now = smtp_state_idle(st);

	if (s->state != st)
		log_debug("s=%s event=state from=%s to=%s", s->id, smtp_state_names[s->state],
		    smtp_state_names[st]);
	s->state = st;
	if (was == now)
		return;
	if (now) {
		s->idle_since = g_get_monotonic_time();
		g_queue_push_tail_link(&s->srv->idle, &s->idle_link);
		s->in_idle = 1;
	} else if (s->in_idle) {
		g_queue_unlink(&s->srv->idle, &s->idle_link);
		s->in_idle = 0;
	}
	smtp_session_arm(s);
}

static void
smtp_session_close(struct smtp_session *s, const char *reason, int flush)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->flush = flush;
	s->reason = reason;
	evtimer_del(s->ev_timer);
	if (s->in_idle) {
		g_queue_unlink(&s->srv->idle, &s->idle_link);
		s->in_idle = 0;
	}
	bufferevent_disable(s->bev, EV_READ);
	event_active(s->ev_close, 0, 0);
}

static void
smtp_reply(struct smtp_session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* rebound_smtp_replies_total{code}: one handle per code, event loop only. */
static void
smtp_count_reply(const char *line)
{
	static struct metrics_series *by_code[600];
	int code;

	if (!g_ascii_isdigit(line[0]) || !g_ascii_isdigit(line[1]) || !g_ascii_isdigit(line[2]))
		return;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 200 || code >= 600)
		return;
	if (by_code[code] == NULL) {
		char v[4] = { line[0], line[1], line[2], '\0' };
		by_code[code] = metrics_handle(METRICS_COUNTER, "rebound_smtp_replies_total", "code", v);
	}
	metrics_handle_add(by_code[code], 1);
}

static void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;
	char *line;

	if (s->closing)
		return;
	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	evbuffer_add(out, line, strlen(line));
	evbuffer_add(out, "\r\n", 2);
	smtp_count_reply(line);
	/* The code is in the text: "%s" replies (address syntax, DATA verdicts) count too. */
	if (line[0] == '5') {
		s->bad++;
		if (s->bad >= (unsigned)smtp_cfg(s)->smtp_max_bad_commands) {
			evbuffer_add_printf(out, "421 4.7.0 %s Too many errors, closing\r\n",
			    smtp_cfg(s)->smtp_hostname);
			smtp_count_reply("421");
			smtp_session_close(s, "too-many-errors", 1);
		}
	}
	g_free(line);
}

/* Keeps srv->data_mem equal to what all sessions' s->data hold. */
static void
smtp_data_account(struct smtp_session *s)
{
	size_t now = s->data != NULL ? s->data->len : 0;

	s->srv->data_mem = s->srv->data_mem - s->data_mem + now;
	s->data_mem = now;
}

static void
smtp_tx_reset(struct smtp_session *s)
{
	g_free(s->mail_from);
	s->mail_from = NULL;
	memset(&s->mp, 0, sizeof s->mp);
	if (s->rcpts != NULL)
		g_ptr_array_set_size(s->rcpts, 0);
	if (s->data != NULL)
		g_string_free(s->data, TRUE);
	s->data = NULL;
	smtp_data_account(s);
	if (s->data_fd != -1)
		close(s->data_fd);
	s->data_fd = -1;
	s->data_file_len = 0;
	s->data_size = 0;
	s->data_err = NULL;
	s->data_midline = 0;
	g_free(s->queue_id);
	s->queue_id = NULL;
}

static void
smtp_session_timeouts(struct smtp_session *s, int data)
{
	struct timeval rd = { data ? smtp_data_timeout(s) : smtp_idle_timeout(s), 0 };
	struct timeval wr = { smtp_idle_timeout(s), 0 };

	bufferevent_set_timeouts(s->bev, &rd, &wr);
}

/* ---- commands ---- */

static int
smtp_check_helo(struct smtp_session *s, const char *arg)
{
	if (*arg == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: EHLO hostname");
		return -1;
	}
	(void)s;
	return 0;
}

static void
smtp_set_helo(struct smtp_session *s, const char *arg)
{
	const char *sp = strchr(arg, ' ');

	g_free(s->helo);
	s->helo = sp ? g_strndup(arg, sp - arg) : g_strdup(arg);
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_S_HELO);
}

static void
smtp_proceed_helo(struct smtp_session *s, const char *arg)
{
	smtp_set_helo(s, arg);
	s->esmtp = 0;
	smtp_reply(s, "250 %s", smtp_cfg(s)->smtp_hostname);
}

static void
smtp_proceed_ehlo(struct smtp_session *s, const char *arg)
{
	const struct config *cfg = smtp_cfg(s);

	smtp_set_helo(s, arg);
	s->esmtp = 1;
	smtp_reply(s, "250-%s Hello %s", cfg->smtp_hostname, s->client);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %lld", (long long)cfg->smtp_max_message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	if (s->srv->tls != NULL && s->tls_info == NULL)
		smtp_reply(s, "250-STARTTLS");
	smtp_reply(s, "250 ENHANCEDSTATUSCODES");
}

static int
smtp_check_mail(struct smtp_session *s, const char *arg)
{
	(void)arg;
	if (s->state == SMTP_S_CONNECTED) {
		smtp_reply(s, "503 5.5.1 Send EHLO or HELO first");
		return -1;
	}
	if (s->state != SMTP_S_HELO) {
		smtp_reply(s, "503 5.5.1 Nested MAIL command");
		return -1;
	}
	return 0;
}

static int
smtp_spool_full(struct smtp_session *s)
{
	return g_atomic_int_get(&s->srv->backlog_full) ||
	    spool_count(s->srv->spool) >= (size_t)smtp_cfg(s)->spool_high_water;
}

static void
smtp_proceed_mail(struct smtp_session *s, const char *arg)
{
	const struct config *cfg = smtp_cfg(s);
	const char *reply;
	char *addr;

	if (smtp_addr_parse_mail(arg, &addr, &s->mp, &reply) == -1) {
		smtp_reply(s, "%s", reply);
		return;
	}
	if (s->mp.has_size && s->mp.size > (uint64_t)cfg->smtp_max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit of %lld octets",
		    (long long)cfg->smtp_max_message_size);
		g_free(addr);
		return;
	}
	if (smtp_spool_full(s)) {
		smtp_reply(s, "452 4.3.1 Insufficient system storage, try again later");
		g_free(addr);
		return;
	}
	s->mail_from = addr;
	smtp_enter_state(s, SMTP_S_MAIL);
	smtp_reply(s, "250 2.1.0 Sender OK");
}

static int
smtp_check_rcpt(struct smtp_session *s, const char *arg)
{
	(void)arg;
	if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT) {
		smtp_reply(s, "503 5.5.1 Need MAIL before RCPT");
		return -1;
	}
	if (s->rcpts->len >= (guint)smtp_cfg(s)->smtp_max_recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return -1;
	}
	return 0;
}

/*
 * [signing]: a recipient in a required domain must be a valid signed return
 * path.  In mode reject anything else gets 550 here; in mode flag (and for
 * postmaster, which RFC 5321 4.5.1 says must be accepted) it is taken and the
 * store, which repeats this check from the envelope, never lets the message
 * suppress.  -1 when the reply has been sent.
 */
static int
smtp_rcpt_signature(struct smtp_session *s, const char *addr)
{
	const struct config *cfg = smtp_cfg(s);
	enum signing_result r = signing_check(cfg, addr, time(NULL), NULL);
	int postmaster = g_ascii_strncasecmp(addr, "postmaster", 10) == 0 &&
	    (addr[10] == '\0' || addr[10] == '@');
	int reject = strcmp(cfg->signing_mode, "reject") == 0 && !postmaster;
	char *e;

	if (r == SIGNING_OK || r == SIGNING_NOT_REQUIRED)
		return 0;
	e = log_escape(addr, strlen(addr), 256);
	log_info("s=%s event=rcpt-signature client=%s rcpt=\"%s\" signature=%s action=%s", s->id,
	    s->client, e, signing_result_name(r), reject ? "reject" : "flag");
	g_free(e);
	if (!reject)
		return 0;
	switch (r) {
	case SIGNING_EXPIRED:
		smtp_reply(s, "550 5.7.1 Return path signature expired");
		break;
	case SIGNING_FORGED:
		smtp_reply(s, "550 5.7.1 Return path signature invalid");
		break;
	default:
		smtp_reply(s, "550 5.7.1 Return path not signed");
		break;
	}
	return -1;
}

static void
smtp_proceed_rcpt(struct smtp_session *s, const char *arg)
{
	const struct config *cfg = smtp_cfg(s);
	const char *reply;
	char *addr;

	if (smtp_addr_parse_rcpt(arg, s->mp.smtputf8, &addr, &reply) == -1) {
		smtp_reply(s, "%s", reply);
		return;
	}
	if (!smtp_addr_is_ours(addr, cfg->smtp_domains, cfg->smtp_fbl_addresses)) {
		char *e = log_escape(addr, strlen(addr), 256);
		log_info("s=%s event=relay-denied client=%s rcpt=\"%s\"", s->id, s->client, e);
		g_free(e);
		g_free(addr);
		smtp_reply(s, "550 5.7.1 Relaying denied");
		return;
	}
	if (smtp_rcpt_signature(s, addr) < 0) {
		g_free(addr);
		return;
	}
	g_ptr_array_add(s->rcpts, addr);
	smtp_enter_state(s, SMTP_S_RCPT);
	smtp_reply(s, "250 2.1.5 Recipient OK");
}

static int
smtp_check_data(struct smtp_session *s, const char *arg)
{
	if (s->state != SMTP_S_RCPT) {
		smtp_reply(s, "503 5.5.1 Need RCPT before DATA");
		return -1;
	}
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return -1;
	}
	return 0;
}

/* The HELO name as it may appear inside a header comment. */
static char *
smtp_header_safe(const char *s, size_t max)
{
	GString *out = g_string_new(NULL);
	size_t i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		g_string_append_c(out, (c > 0x20 && c < 0x7f && c != '(' && c != ')' &&
		    c != '\\') ? (char)c : '?');
	}
	return g_string_free(out, FALSE);
}

static void
smtp_proceed_data(struct smtp_session *s, const char *arg)
{
	const struct config *cfg = smtp_cfg(s);
	char date[64], *helo;
	const char *proto;
	struct tm tm;
	time_t t;

	(void)arg;
	if (smtp_spool_full(s)) {
		smtp_reply(s, "452 4.3.1 Insufficient system storage, try again later");
		return;
	}
	s->queue_id = spool_new_id(s->srv->spool);
	s->arrival_us = g_get_real_time();
	t = s->arrival_us / G_USEC_PER_SEC;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	helo = smtp_header_safe(s->helo, 255);
	/* RFC 3848 / RFC 6531 "with" keywords. */
	if (s->mp.smtputf8)
		proto = s->tls_info ? "UTF8SMTPS" : "UTF8SMTP";
	else if (s->esmtp)
		proto = s->tls_info ? "ESMTPS" : "ESMTP";
	else
		proto = s->tls_info ? "SMTPS" : "SMTP";
	s->data = g_string_sized_new(8192);
	g_string_append_printf(s->data, "Received: from %s ([%s])\r\n\tby %s (Rebound) with %s id %s",
	    helo, s->client, cfg->smtp_hostname, proto, s->queue_id);
	if (s->tls_info != NULL)
		g_string_append_printf(s->data, "\r\n\t(%s)", s->tls_info);
	if (s->rcpts->len == 1)
		g_string_append_printf(s->data, "\r\n\tfor <%s>",
		    (char *)g_ptr_array_index(s->rcpts, 0));
	g_string_append_printf(s->data, ";\r\n\t%s\r\n", date);
	g_free(helo);
	s->data_size = 0;
	smtp_enter_state(s, SMTP_S_DATA);
	smtp_session_timeouts(s, 1);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static int
smtp_check_noarg(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 No parameters allowed");
		return -1;
	}
	return 0;
}

static void
smtp_proceed_rset(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_tx_reset(s);
	if (s->state != SMTP_S_CONNECTED)
		smtp_enter_state(s, SMTP_S_HELO);
	smtp_reply(s, "250 2.0.0 OK");
}

static void
smtp_proceed_noop(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "250 2.0.0 OK");
}

static void
smtp_proceed_quit(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "221 2.0.0 %s closing connection", smtp_cfg(s)->smtp_hostname);
	smtp_enter_state(s, SMTP_S_QUIT);
	smtp_session_close(s, "quit", 1);
}

static void
smtp_proceed_vrfy(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message");
}

static void
smtp_proceed_help(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "214-2.0.0 Rebound accepts bounces and feedback reports for its domains.");
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS");
}

static void
smtp_proceed_expn(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void
smtp_proceed_bdat(struct smtp_session *s, const char *arg)
{
	(void)arg;
	/* CHUNKING is not offered; the chunk that follows is then read as commands and refused. */
	smtp_reply(s, "502 5.5.1 BDAT not implemented (no CHUNKING)");
}

static int
smtp_check_starttls(struct smtp_session *s, const char *arg)
{
	if (s->srv->tls == NULL) {
		smtp_reply(s, "502 5.5.1 STARTTLS not available");
		return -1;
	}
	if (s->tls_info != NULL) {
		smtp_reply(s, "554 5.5.1 TLS already active");
		return -1;
	}
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return -1;
	}
	if (s->state == SMTP_S_CONNECTED) {
		smtp_reply(s, "503 5.5.1 Send EHLO first");
		return -1;
	}
	return 0;
}

static void
smtp_session_tls_wrap(struct smtp_session *s)
{
	struct bufferevent *under = s->bev, *bev;
	struct evbuffer *in = bufferevent_get_input(under);
	size_t n;
	SSL *ssl;

	/* CVE-2011-0411: whatever followed STARTTLS in plaintext is thrown away. */
	if ((n = evbuffer_get_length(in)) > 0) {
		log_warnx("s=%s event=starttls-injection client=%s discarded=%zu", s->id, s->client, n);
		evbuffer_drain(in, n);
	}
	if ((ssl = SSL_new(s->srv->tls)) == NULL) {
		smtp_session_close(s, "tls-error", 0);
		return;
	}
	bufferevent_set_timeouts(under, NULL, NULL);
	bev = bufferevent_openssl_filter_new(s->srv->base, under, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		smtp_session_close(s, "tls-error", 0);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	s->bev = bev;
	bufferevent_setcb(bev, smtp_session_readcb, smtp_session_writecb, smtp_session_eventcb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, smtp_cfg(s)->smtp_max_data_line + 4096);
	smtp_session_timeouts(s, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
smtp_proceed_starttls(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_S_TLS);
	smtp_session_tls_wrap(s);
}

static const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO", smtp_check_helo, smtp_proceed_ehlo },
	{ "HELO", smtp_check_helo, smtp_proceed_helo },
	{ "MAIL", smtp_check_mail, smtp_proceed_mail },
	{ "RCPT", smtp_check_rcpt, smtp_proceed_rcpt },
	{ "DATA", smtp_check_data, smtp_proceed_data },
	{ "RSET", smtp_check_noarg, smtp_proceed_rset },
	{ "NOOP", NULL, smtp_proceed_noop },
	{ "QUIT", smtp_check_noarg, smtp_proceed_quit },
	{ "VRFY", NULL, smtp_proceed_vrfy },
	{ "HELP", NULL, smtp_proceed_help },
	{ "EXPN", NULL, smtp_proceed_expn },
	{ "BDAT", NULL, smtp_proceed_bdat },
	{ "STARTTLS", smtp_check_starttls, smtp_proceed_starttls },
};

static void
smtp_session_dispatch(struct smtp_session *s, char *line)
{
	const struct smtp_cmd *cmd = NULL;
	char *arg;
	size_t i, n;

	n = strcspn(line, " ");
	arg = line + n;
	while (*arg == ' ')
		arg++;
	for (i = 0; i < G_N_ELEMENTS(smtp_cmds); i++)
		if (strlen(smtp_cmds[i].name) == n &&
		    g_ascii_strncasecmp(line, smtp_cmds[i].name, n) == 0)
			cmd = &smtp_cmds[i];
	if (s->srv->shutting_down && s->state <= SMTP_S_HELO &&
	    !(cmd != NULL && strcmp(cmd->name, "QUIT") == 0)) {
		smtp_reply(s, "421 4.3.2 %s Service shutting down", smtp_cfg(s)->smtp_hostname);
		smtp_session_close(s, "shutdown", 1);
		return;
	}
	if (cmd == NULL) {
		smtp_reply(s, "500 5.5.2 Command unrecognized");
		return;
	}
	/* Trailing spaces are tolerated (some clients send "DATA "). */
	for (i = strlen(arg); i > 0 && arg[i - 1] == ' '; i--)
		arg[i - 1] = '\0';
	if (cmd->check != NULL && cmd->check(s, arg) == -1)
		return;
	cmd->proceed(s, arg);
}

/* ---- input ---- */

/* One command line; returns 1 if something was consumed, 0 to wait for more. */
static int
smtp_session_command_line(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t len = evbuffer_get_length(in), max = smtp_cfg(s)->smtp_max_command_line;
	struct evbuffer_ptr p;
	size_t eol_len;
	char *line;

	if (len == 0)
		return 0;
	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	if (p.pos == -1) {
		if (len > max) {
			/* Keep the last octet: it may be the CR of the CRLF to come. */
			evbuffer_drain(in, len - 1);
			if (!s->discarding) {
				s->discarding = 1;
				smtp_reply(s, "500 5.5.2 Line too long");
			}
		}
		return 0;
	}
	if (s->discarding || (size_t)p.pos + 2 > max) {
		evbuffer_drain(in, p.pos + 2);
		if (!s->discarding)
			smtp_reply(s, "500 5.5.2 Line too long");
		s->discarding = 0;
		return 1;
	}
	line = g_malloc(p.pos + 1);
	evbuffer_remove(in, line, p.pos);
	evbuffer_drain(in, 2);
	line[p.pos] = '\0';
	if (memchr(line, '\0', p.pos) || memchr(line, '\r', p.pos) || memchr(line, '\n', p.pos))
		smtp_reply(s, "500 5.5.2 NUL, bare CR or bare LF in command");
	else
		smtp_session_dispatch(s, line);
	g_free(line);
	return 1;
}

static void
smtp_session_data_end(struct smtp_session *s)
{
	struct spool_envelope *env;
	size_t len;
	char *data;
	guint i;

	smtp_session_timeouts(s, 0);
	if (s->data_err == NULL && s->data_fd != -1)
		smtp_data_flush(s);
	if (s->data_err != NULL) {
		log_info("s=%s event=message-refused client=%s size=%" G_GUINT64_FORMAT " reply=\"%s\"",
		    s->id, s->client, s->data_size, s->data_err);
		smtp_reply(s, "%s", s->data_err);
		smtp_tx_reset(s);
		smtp_enter_state(s, SMTP_S_HELO);
		return;
	}
	env = g_new0(struct spool_envelope, 1);
	env->queue_id = g_strdup(s->queue_id);
	env->arrival_us = s->arrival_us;
	env->client_addr = g_strdup(s->client);
	env->helo = g_strdup(s->helo);
	env->tls = g_strdup(s->tls_info);
	env->mail_from = g_strdup(s->mail_from);
	env->rcpts = g_new0(char *, s->rcpts->len + 1);
	for (i = 0; i < s->rcpts->len; i++)
		env->rcpts[i] = g_strdup(g_ptr_array_index(s->rcpts, i));
	smtp_enter_state(s, SMTP_S_COMMIT);
	/* Nothing more is read until the spool answers; the reply order is kept. */
	bufferevent_disable(s->bev, EV_READ);
	if (s->data_fd != -1) {
		int fd = s->data_fd;
		s->data_fd = -1;
		g_string_free(s->data, TRUE);
		s->data = NULL;
		smtp_data_account(s);
		smtp_server_commit_fd(s->srv, s->serial, env, fd, s->data_file_len);
		return;
	}
	/* Counted in data_mem until the spool answered (smtp_tx_reset). */
	len = s->data->len;
	data = g_string_free(s->data, FALSE);
	s->data = NULL;
	smtp_server_commit(s->srv, s->serial, env, data, len);
}

/* What was read of a refused message is not kept. */
static void
smtp_data_discard(struct smtp_session *s)
{
	g_string_free(s->data, TRUE);
	s->data = g_string_new(NULL);
	smtp_data_account(s);
	if (s->data_fd != -1) {
		close(s->data_fd);
		s->data_fd = -1;
		s->data_file_len = 0;
	}
}

/* A failure of the message's file: the client hears 452 after the final dot. */
static int
smtp_data_file_failed(struct smtp_session *s, const char *what, const char *err)
{
	log_warnx("s=%s event=data-file-failed client=%s op=%s error=\"%s\"", s->id, s->client,
	    what, err);
	s->data_err = "452 4.3.1 Insufficient system storage, try again later";
	smtp_data_discard(s);
	return -1;
}

/* Appends s->data to data_fd and empties it. */
static int
smtp_data_flush(struct smtp_session *s)
{
	const char *p = s->data->str;
	size_t left = s->data->len;
	ssize_t w;

	/* Unfinished messages must not fill the disk the spool needs: the free
	 * space is checked when a message moves to its file and every 1 MB. */
	if ((s->data_file_len == 0 || (s->data_file_len >> 20) != ((s->data_file_len + left) >> 20)) &&
	    !spool_has_room(s->srv->spool, left))
		return smtp_data_file_failed(s, "write", "spool file system below min_free_mb");

	while (left > 0) {
		if ((w = write(s->data_fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			return smtp_data_file_failed(s, "write", g_strerror(errno));
		}
		p += w;
		left -= w;
	}
	s->data_file_len += s->data->len;
	/* Give back what a long line made the buffer grow to. */
	if (s->data->allocated_len > 2 * SMTP_DATA_WBUF) {
		g_string_free(s->data, TRUE);
		s->data = g_string_sized_new(SMTP_DATA_WBUF);
	} else
		g_string_truncate(s->data, 0);
	smtp_data_account(s);
	return 0;
}

/*
 * Before len more octets go into s->data: past the session's or the
 * server's share of RAM the message moves to (or is flushed to) its file.
 * -1 when the message failed (data_err is set).
 */
static int
smtp_data_make_room(struct smtp_session *s, size_t len)
{
	uint64_t cap = (uint64_t)smtp_cfg(s)->smtp_max_memory_mb * 1024 * 1024;
	int over = s->srv->data_mem + len > cap;
	char *err = NULL;

	if (s->data_fd == -1) {
		if (s->data->len + len <= SMTP_DATA_MEM && !over)
			return 0;
		if ((s->data_fd = spool_tmpfile(s->srv->spool, &err)) == -1) {
			smtp_data_file_failed(s, "open", err);
			g_free(err);
			return -1;
		}
		log_debug("s=%s event=data-to-file size=%zu", s->id, s->data->len);
		return smtp_data_flush(s);
	}
	if (s->data->len + len <= SMTP_DATA_WBUF && !over)
		return 0;
	return smtp_data_flush(s);
}

static int
smtp_session_data_line(struct smtp_session *s)
{
	const struct config *cfg = smtp_cfg(s);
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t len = evbuffer_get_length(in), max = cfg->smtp_max_data_line;
	struct evbuffer_ptr p;
	size_t eol_len, n, old;
	char head[3];
	int stuffed = 0;

	if (len == 0)
		return 0;
	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	if (p.pos == -1) {
		if (len > max) {
			if (s->data_err == NULL)
				s->data_err = "554 5.6.0 Message has a line that is too long";
			evbuffer_drain(in, len - 1);
			s->data_midline = 1;
			s->bytes += len - 1;
		}
		return 0;
	}
	n = p.pos;
	s->bytes += n + 2;
	if (!s->data_midline && n >= 1) {
		evbuffer_copyout(in, head, 1);
		if (head[0] == '.') {
			if (n == 1) {
				evbuffer_drain(in, 3);
				smtp_session_data_end(s);
				return 1;
			}
			stuffed = 1;	/* RFC 5321 4.5.2: drop the first dot */
		}
	}
	if (s->data_midline || n + 2 > max) {
		if (s->data_err == NULL)
			s->data_err = "554 5.6.0 Message has a line that is too long";
		s->data_midline = 0;
		evbuffer_drain(in, n + 2);
		return 1;
	}
	if (stuffed) {
		evbuffer_drain(in, 1);
		n--;
	}
	if (s->data_err != NULL) {
		evbuffer_drain(in, n + 2);
		return 1;
	}
	if (s->data_size + n + 2 > (uint64_t)cfg->smtp_max_message_size) {
		/* Read to the end, then one 552 (no mid-stream disconnect). */
		s->data_err = "552 5.3.4 Message size exceeds fixed maximum message size";
		s->data_size += n + 2;
		smtp_data_discard(s);
		evbuffer_drain(in, n + 2);
		return 1;
	}
	if (smtp_data_make_room(s, n + 2) == -1) {
		evbuffer_drain(in, n + 2);
		return 1;
	}
	old = s->data->len;
	g_string_set_size(s->data, old + n + 2);
	evbuffer_remove(in, s->data->str + old, n + 2);
	s->data_size += n + 2;
	smtp_data_account(s);
	/* Over the cap a session in a file keeps no line back. */
	if (s->data_fd != -1 &&
	    s->srv->data_mem > (uint64_t)cfg->smtp_max_memory_mb * 1024 * 1024)
		smtp_data_flush(s);
	if (strcmp(cfg->smtp_bare_newlines, "reject") == 0 &&
	    (memchr(s->data->str + old, '\r', n) || memchr(s->data->str + old, '\n', n)))
		s->data_err = "554 5.6.0 Message contains a bare CR or LF; lines must end with CRLF";
	return 1;
}

static void
smtp_session_process(struct smtp_session *s)
{
	if (s->in_process)
		return;
	s->in_process = 1;
	while (!s->closing) {
		int r;
		if (s->state == SMTP_S_COMMIT || s->state == SMTP_S_TLS ||
		    s->state == SMTP_S_GREETING)
			break;
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_OUT_HIGH) {
			/* The client is not reading its replies: stop reading its commands. */
			s->out_paused = 1;
			bufferevent_disable(s->bev, EV_READ);
			break;
		}
		if (s->state == SMTP_S_DATA)
			r = smtp_session_data_line(s);
		else
			r = smtp_session_command_line(s);
		if (r == 0)
			break;
	}
	s->in_process = 0;
}

static void
smtp_session_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtp_session_process(arg);
}

static void
smtp_session_writecb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	if (s->closing) {
		event_active(s->ev_close, 0, 0);
		return;
	}
	if (s->out_paused) {
		s->out_paused = 0;
		bufferevent_enable(s->bev, EV_READ);
		smtp_session_process(s);
	}
}

static void
smtp_session_greet(struct smtp_session *s)
{
	smtp_enter_state(s, SMTP_S_CONNECTED);
	smtp_reply(s, "220 %s ESMTP Rebound", smtp_cfg(s)->smtp_hostname);
}

static void
smtp_session_tls_ready(struct smtp_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

	g_free(s->tls_info);
	s->tls_info = g_strdup_printf("%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	log_info("s=%s event=tls client=%s tls=\"%s\"", s->id, s->client, s->tls_info);
	/* RFC 3207 4.2: forget everything learnt before the handshake. */
	g_free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	smtp_tx_reset(s);
	if (s->state == SMTP_S_GREETING)
		smtp_session_greet(s);
	else
		smtp_enter_state(s, SMTP_S_CONNECTED);
	smtp_session_process(s);
}

static void
smtp_session_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	unsigned long e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == SMTP_S_TLS || s->state == SMTP_S_GREETING)
			smtp_session_tls_ready(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_WRITING) || s->closing) {
			s->flush = 0;
			smtp_session_close(s, "write-timeout", 0);
			event_active(s->ev_close, 0, 0);
			return;
		}
		smtp_reply(s, "421 4.4.2 %s Timeout, closing connection", smtp_cfg(s)->smtp_hostname);
		smtp_session_close(s, s->state == SMTP_S_DATA ? "data-timeout" : "idle-timeout", 1);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		while ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
			char buf[256];
			ERR_error_string_n(e, buf, sizeof buf);
			log_info("s=%s event=tls-error client=%s error=\"%s\"", s->id, s->client, buf);
		}
	}
	s->flush = 0;
	if (s->closing) {
		event_active(s->ev_close, 0, 0);
		return;
	}
	smtp_session_close(s, (what & BEV_EVENT_EOF) ? "disconnect" :
	    (s->state == SMTP_S_TLS || s->state == SMTP_S_GREETING) ? "tls-error" : "error", 0);
}

static void
smtp_session_free(struct smtp_session *s)
{
	char *helo = log_escape(s->helo, s->helo ? strlen(s->helo) : 0, 128);

	log_info("s=%s event=end reason=%s stage=%s client=%s helo=\"%s\" msgs=%u rcpts=%u "
	    "bytes=%" G_GUINT64_FORMAT " bad=%u tls=\"%s\"", s->id, s->reason,
	    smtp_state_names[s->state], s->client, helo, s->msgs, s->rcpts_total, s->bytes, s->bad,
	    s->tls_info ? s->tls_info : "");
	if (s->state == SMTP_S_DATA)
		log_info("s=%s event=data-lost note=\"connection closed in DATA; nothing stored\"",
		    s->id);
	g_free(helo);
	g_hash_table_remove(s->srv->sessions, &s->serial);
	if (s->in_idle)
		g_queue_unlink(&s->srv->idle, &s->idle_link);
	if (s->counted)
		smtp_server_session_gone(s->srv, s->limit_key);
	if (s->rejecting)
		smtp_server_reject_done(s->srv);
	bufferevent_free(s->bev);
	event_free(s->ev_close);
	event_free(s->ev_timer);
	smtp_tx_reset(s);
	g_ptr_array_unref(s->rcpts);
	g_free(s->helo);
	g_free(s->tls_info);
	g_free(s);
}

static int
smtp_session_output_pending(struct smtp_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);

	return evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 ||
	    (under != NULL && evbuffer_get_length(bufferevent_get_output(under)) > 0);
}

static void
smtp_session_close_ready(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session *s = arg;
	struct timeval tv = { 0, 20000 };

	(void)fd;
	(void)ev;
	if (s->flush && smtp_session_output_pending(s)) {
		/* The write callback (or this timer, for TLS's lower layer) comes back. */
		bufferevent_enable(s->bev, EV_WRITE);
		event_add(s->ev_close, &tv);
		return;
	}
	smtp_session_free(s);
}

static void
smtp_session_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session *s = arg;
	int64_t now = g_get_monotonic_time();

	(void)fd;
	(void)ev;
	if (s->closing)
		return;
	if (now >= s->started + smtp_cfg(s)->smtp_max_session_time * G_USEC_PER_SEC &&
	    s->state != SMTP_S_COMMIT && s->state != SMTP_S_TLS && s->state != SMTP_S_GREETING) {
		smtp_reply(s, "421 4.4.2 %s Session too long, closing connection",
		    smtp_cfg(s)->smtp_hostname);
		smtp_session_close(s, "lifetime", 1);
		return;
	}
	if (smtp_state_idle(s->state) &&
	    now >= s->idle_since + smtp_idle_timeout(s) * G_USEC_PER_SEC) {
		smtp_reply(s, "421 4.4.2 %s Timeout, closing connection",
		    smtp_cfg(s)->smtp_hostname);
		smtp_session_close(s, "idle-timeout", 1);
		return;
	}
	if (s->state == SMTP_S_COMMIT || s->state == SMTP_S_TLS || s->state == SMTP_S_GREETING) {
		/* The spool's answer or the handshake first: look again in a second. */
		struct timeval tv = { 1, 0 };
		evtimer_add(s->ev_timer, &tv);
		return;
	}
	smtp_session_arm(s);
}

/* A limit's 421: counted apart, so that a flood of them cannot take every descriptor. */
static void
smtp_session_reject(struct smtp_session *s, const char *reason)
{
	s->rejecting = 1;
	s->srv->rejecting++;
	smtp_session_close(s, reason, 1);
}

void
smtp_session_evict(struct smtp_session *s)
{
	/* Its end line says reason=evicted: under a flood one line per session. */
	smtp_reply(s, "421 4.7.0 %s Too many sessions, closing idle session",
	    smtp_cfg(s)->smtp_hostname);
	if (s->in_idle) {
		g_queue_unlink(&s->srv->idle, &s->idle_link);
		s->in_idle = 0;
	}
	smtp_session_reject(s, "evicted");
}

void
smtp_session_retime(struct smtp_session *s)
{
	if (s->closing || s->state == SMTP_S_TLS || s->state == SMTP_S_GREETING)
		return;
	smtp_session_timeouts(s, s->state == SMTP_S_DATA);
	if (s->counted)
		smtp_session_arm(s);
}

void
smtp_limit_key(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		struct in6_addr a = in6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			inet_ntop(AF_INET, &a.s6_addr[12], out, outlen);
			return;
		}
		/* One customer gets a /64: each address in it is not another client. */
		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, out, outlen);
		g_strlcat(out, "/64", outlen);
		return;
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, outlen);
}

void
smtp_session_new(struct smtp_server *srv, int fd, const struct sockaddr *sa, int implicit_tls)
{
	const struct config *cfg = srv->cfg;
	struct smtp_session *s = g_new0(struct smtp_session, 1);
	guint per_ip;

	s->srv = srv;
	s->serial = ++srv->next_serial;
	g_snprintf(s->id, sizeof s->id, "%08x%08x", g_random_int(), (guint32)s->serial);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], s->client, sizeof s->client);
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, s->client, sizeof s->client);
	} else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    s->client, sizeof s->client);
	smtp_limit_key(sa, s->limit_key, sizeof s->limit_key);
	s->rcpts = g_ptr_array_new_with_free_func(g_free);
	s->data_fd = -1;
	s->reason = "unknown";
	s->idle_link.data = s;
	s->started = g_get_monotonic_time();
	metrics_inc("rebound_smtp_sessions_total", NULL, NULL);
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->ev_close = event_new(srv->base, -1, 0, smtp_session_close_ready, s);
	s->ev_timer = evtimer_new(srv->base, smtp_session_timer, s);
	if (s->bev == NULL || s->ev_close == NULL || s->ev_timer == NULL)
		fatalx("smtp: out of memory creating a session");
	g_hash_table_insert(srv->sessions, &s->serial, s);
	bufferevent_setcb(s->bev, smtp_session_readcb, smtp_session_writecb,
	    smtp_session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, cfg->smtp_max_data_line + 4096);
	smtp_session_timeouts(s, 0);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_debug("s=%s event=connect client=%s", s->id, s->client);

	per_ip = GPOINTER_TO_UINT(g_hash_table_lookup(srv->per_ip, s->limit_key));
	if (per_ip >= (unsigned)cfg->smtp_max_sessions_per_ip) {
		smtp_reply(s, "421 4.7.0 %s Too many sessions from your address", cfg->smtp_hostname);
		smtp_session_reject(s, "session-limit-ip");
		return;
	}
	if (srv->nsessions >= srv->max_sessions) {
		/* Idle sessions are cheap but slots are not: the longest idle goes. */
		GList *l = g_queue_peek_head_link(&srv->idle);
		if (l == NULL) {
			smtp_reply(s, "421 4.7.0 %s Too many sessions, try again later",
			    cfg->smtp_hostname);
			smtp_session_reject(s, "session-limit");
			return;
		}
		smtp_session_evict(l->data);
	}
	s->counted = 1;
	srv->nsessions++;
	g_hash_table_insert(srv->per_ip, g_strdup(s->limit_key), GUINT_TO_POINTER(per_ip + 1));
	smtp_server_update_stress(srv);
	smtp_session_arm(s);
	if (implicit_tls && srv->tls != NULL) {
		s->state = SMTP_S_GREETING;
		smtp_session_tls_wrap(s);
		return;
	}
	smtp_session_greet(s);
}

void
smtp_session_commit_done(struct smtp_session *s, struct smtp_commit_done *d)
{
	if (s->state != SMTP_S_COMMIT || s->closing)
		return;
	if (d->st == SPOOL_OK) {
		GString *rc = g_string_new(NULL);
		char *from = log_escape(s->mail_from, strlen(s->mail_from), 256), *rcpts;
		guint i;
		for (i = 0; i < s->rcpts->len; i++) {
			const char *r = g_ptr_array_index(s->rcpts, i);
			g_string_append_printf(rc, "%s<%s>", i ? "," : "", r);
		}
		rcpts = log_escape(rc->str, rc->len, 2048);
		log_info("q=%s event=accepted s=%s client=%s from=\"<%s>\" nrcpt=%u rcpts=\"%s\" "
		    "size=%" G_GUINT64_FORMAT " tls=\"%s\"", d->queue_id, s->id, s->client, from,
		    s->rcpts->len, rcpts, s->data_size, s->tls_info ? s->tls_info : "");
		g_free(from);
		g_free(rcpts);
		g_string_free(rc, TRUE);
		s->msgs++;
		s->rcpts_total += s->rcpts->len;
		smtp_reply(s, "250 2.0.0 queued as %s", d->queue_id);
	} else {
		log_warnx("q=%s event=spool-failed s=%s error=\"%s\"", d->queue_id, s->id,
		    d->err ? d->err : "");
		if (d->st == SPOOL_ENOSPACE)
			smtp_reply(s, "452 4.3.1 Insufficient system storage, try again later");
		else
			smtp_reply(s, "451 4.3.0 Local error in processing, try again later");
	}
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_S_HELO);
	if (s->srv->shutting_down) {
		/* Let the client read its 250, then tell it we are going. */
		smtp_session_shutdown(s, 0);
		if (s->closing)
			return;
	}
	bufferevent_enable(s->bev, EV_READ);
	smtp_session_process(s);
}

void
smtp_session_shutdown(struct smtp_session *s, int force)
{
	if (s->closing)
		return;
	if (force || s->state <= SMTP_S_HELO) {
		if (s->state != SMTP_S_COMMIT)
			smtp_reply(s, "421 4.3.2 %s Service shutting down",
			    smtp_cfg(s)->smtp_hostname);
		smtp_session_close(s, "shutdown", 1);
	}
}
