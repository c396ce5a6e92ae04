/*
 * smtp_session.c - one SMTP session's life: its limits on arrival, replies
 * and states, timers, the input loop, STARTTLS and implicit TLS, the
 * spool's answer, and one free path (smtp_session_close -> ev_close ->
 * smtp_session_free).  The commands are in smtp_cmd.c, the message after
 * DATA in smtp_data.c.
 */
#include "receiver/smtp_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "common/log.h"
#include "common/metrics.h"

/* Stop reading while this much output waits for a client that does not read. */
#define SMTP_OUT_HIGH	(64 * 1024)

static const char *smtp_state_names[] = {
	"GREETING", "CONNECTED", "HELO", "MAIL", "RCPT", "DATA", "COMMIT", "TLS", "QUIT",
};

static void smtp_session_process(struct smtp_session *s);
static void smtp_session_readcb(struct bufferevent *bev, void *arg);
static void smtp_session_writecb(struct bufferevent *bev, void *arg);
static void smtp_session_eventcb(struct bufferevent *bev, short what, void *arg);

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

/* Out of srv->idle: no longer a candidate for eviction. */
static void
smtp_session_unidle(struct smtp_session *s)
{
	if (s->in_idle) {
		g_queue_unlink(&s->srv->idle, &s->idle_link);
		s->in_idle = 0;
	}
}

void
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
	} else
		smtp_session_unidle(s);
	smtp_session_arm(s);
}

void
smtp_session_close(struct smtp_session *s, const char *reason, int flush)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->flush = flush;
	s->reason = reason;
	evtimer_del(s->ev_timer);
	smtp_session_unidle(s);
	bufferevent_disable(s->bev, EV_READ);
	event_active(s->ev_close, 0, 0);
}

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

void
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

void
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

void
smtp_session_timeouts(struct smtp_session *s, int data)
{
	struct timeval rd = { data ? smtp_data_timeout(s) : smtp_idle_timeout(s), 0 };
	struct timeval wr = { smtp_idle_timeout(s), 0 };

	bufferevent_set_timeouts(s->bev, &rd, &wr);
}

void
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
			r = smtp_data_line(s);
		else
			r = smtp_cmd_line(s);
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
	smtp_session_unidle(s);
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
	smtp_session_unidle(s);
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

/* A client's address as text; an IPv4-mapped IPv6 address as IPv4. */
static void
smtp_client_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	const struct sockaddr_in6 *in6 = (const void *)sa;

	if (sa->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		inet_ntop(AF_INET6, &in6->sin6_addr, out, outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, outlen);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out, outlen);
}

void
smtp_limit_key(const struct sockaddr *sa, char *out, size_t outlen)
{
	const struct sockaddr_in6 *in6 = (const void *)sa;

	if (sa->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		/* One customer gets a /64: each address in it is not another client. */
		struct in6_addr a = in6->sin6_addr;

		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, out, outlen);
		g_strlcat(out, "/64", outlen);
		return;
	}
	smtp_client_text(sa, out, outlen);
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
	smtp_client_text(sa, s->client, sizeof s->client);
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
