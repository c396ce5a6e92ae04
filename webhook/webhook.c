/* webhook.c - the webhook deliverer; see webhook.h. */
#include "webhook/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <glib.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/webhook_url.h"
#include "store/pg.h"

#define WEBHOOK_BATCH		64
#define WEBHOOK_PARALLEL	8
#define WEBHOOK_IDLE_MS		500
#define WEBHOOK_GAUGE_US	(2 * G_USEC_PER_SEC)

struct webhook {
	const struct config *cfg;	/* atomic: reload swaps it */
	GThread *thread;
	GMutex mu;
	GCond cond;
	int stop;
	SSL_CTX *ssl;
	GThreadPool *pool;
};

struct webhook_job {
	struct webhook *w;
	int64_t id;
	int64_t event_id;
	int attempts;
	char *url;
	char *body;
	/* out */
	int status;			/* HTTP status, 0 = none */
	char *error;			/* NULL = delivered */
	/* completion */
	GMutex *mu;
	GCond *cond;
	int *left;
};

static const char SQL_DUE[] =
    "SELECT o.id, o.url, o.attempts, e.id, jsonb_build_object("
    " 'id', e.id,"
    " 'type', CASE e.class WHEN 'complaint' THEN 'complaint' WHEN 'delivered' THEN 'delivery'"
    "   WHEN 'autoreply' THEN 'autoreply' ELSE 'bounce' END,"
    " 'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " 'tenant', e.tenant, 'recipient', e.recipient, 'class', e.class, 'reason', e.reason,"
    " 'status', e.status, 'replycode', e.replycode, 'diagnostic', e.diagnostic,"
    " 'feedback_type', e.feedback_type, 'provider', e.provider, 'remote_mta', e.remote_mta,"
    " 'reporting_mta', e.reporting_mta, 'rule', e.rule, 'campaign', e.campaign,"
    " 'correlation', e.correlation, 'suppressible', e.suppressible,"
    " 'message_id', e.message_id, 'queue_id', m.queue_id,"
    " 'orig_message_id', e.orig_message_id)::text"
    " FROM webhook_outbox o JOIN events e ON e.id = o.event_id"
    " JOIN messages m ON m.id = e.message_id"
    " WHERE o.state = 'pending' AND o.next_at <= now() ORDER BY o.next_at, o.id LIMIT $1::int";

static const char SQL_DELIVERED[] =
    "UPDATE webhook_outbox SET state = 'delivered', delivered_at = now(),"
    " attempts = attempts + 1, last_status = $2::int, last_error = NULL WHERE id = $1::bigint";

/* The delay doubles per attempt, from retry_min to retry_max seconds. */
static const char SQL_FAILED[] =
    "UPDATE webhook_outbox SET attempts = attempts + 1, last_status = $2::int, last_error = $3,"
    " state = CASE WHEN now() - created_at >= $4::bigint * interval '1 second'"
    "   THEN 'dead' ELSE 'pending' END,"
    " next_at = now() + least($5::bigint * power(2, least(attempts, 40)), $6::bigint)"
    "   * interval '1 second'"
    " WHERE id = $1::bigint RETURNING state";

static const char SQL_GAUGES[] =
    "SELECT state, count(*) FROM webhook_outbox WHERE state <> 'delivered' GROUP BY 1";

char *
webhook_signature(const char *secret, int64_t t, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char ts[32], hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int i;

	g_snprintf(ts, sizeof(ts), "%" G_GINT64_FORMAT ".", t);
	{
		GString *msg = g_string_new(ts);
		g_string_append_len(msg, body, len);
		if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg->str,
		    msg->len, mac, &maclen) == NULL)
			maclen = 0;
		g_string_free(msg, TRUE);
	}
	for (i = 0; i < maclen; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	hex[2 * maclen] = '\0';
	return g_strdup_printf("t=%" G_GINT64_FORMAT ",v1=%s", t, hex);
}

/* --- one HTTP POST, blocking, bounded by the timeout -------------------- */

static int
webhook_connect(const struct webhook_url *u, int timeout, char **err)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char port[16];
	int fd = -1, rc;

	hints.ai_socktype = SOCK_STREAM;
	g_snprintf(port, sizeof(port), "%d", u->port);
	if ((rc = getaddrinfo(u->host, port, &hints, &res)) != 0) {
		*err = g_strdup_printf("cannot resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		struct timeval tv = { timeout, 0 };
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			soerr = errno;
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout * 1000) != 1) {
			soerr = ETIMEDOUT;
			goto next;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
			goto next;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		freeaddrinfo(res);
		return fd;
next:
		g_free(*err);
		*err = g_strdup_printf("connect %s:%d: %s", u->host, u->port, g_strerror(soerr ? soerr : errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (*err == NULL)
		*err = g_strdup_printf("connect %s:%d: no address", u->host, u->port);
	return -1;
}

static int
webhook_io(SSL *ssl, int fd, char *buf, size_t len, int writing)
{
	if (ssl != NULL)
		return writing ? SSL_write(ssl, buf, (int)len) : SSL_read(ssl, buf, (int)len);
	return writing ? (int)write(fd, buf, len) : (int)read(fd, buf, len);
}

/* Posts body; *status the HTTP status (0 if none); NULL if delivered (2xx),
 * else why not. */
static char *
webhook_post(SSL_CTX *ctx, const struct webhook_url *u, const char *secret, int timeout,
    int64_t event_id, const char *body, int *status)
{
	char *err = NULL, *sig, *req, *p, buf[512];
	size_t reqlen, done = 0, got = 0;
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout * G_USEC_PER_SEC;
	SSL *ssl = NULL;
	int fd, n;

	*status = 0;
	if ((fd = webhook_connect(u, timeout, &err)) < 0)
		return err;
	if (u->tls) {
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		SSL_set_tlsext_host_name(ssl, u->host);
		SSL_set1_host(ssl, u->host);
		if (SSL_connect(ssl) != 1) {
			err = g_strdup_printf("TLS with %s: %s", u->host,
			    ERR_reason_error_string(ERR_get_error()) ? ERR_reason_error_string(ERR_get_error()) :
			    "handshake failed");
			goto out;
		}
	}
	sig = webhook_signature(secret, g_get_real_time() / G_USEC_PER_SEC, body, strlen(body));
	req = g_strdup_printf("POST %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: rebound-webhook/1\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "X-Rebound-Event-Id: %" G_GINT64_FORMAT "\r\nX-Rebound-Signature: %s\r\n"
	    "Connection: close\r\n\r\n%s", u->path, strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "", u->port, strlen(body), event_id, sig, body);
	g_free(sig);
	reqlen = strlen(req);
	while (done < reqlen) {
		if ((n = webhook_io(ssl, fd, req + done, reqlen - done, 1)) <= 0) {
			err = g_strdup_printf("send: %s", n < 0 && errno == EAGAIN ? "timed out" : "connection closed");
			g_free(req);
			goto out;
		}
		done += n;
	}
	g_free(req);
	/* the status line is all we need */
	while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
		if (g_get_monotonic_time() > deadline) {
			err = g_strdup("no answer within the timeout");
			goto out;
		}
		if ((n = webhook_io(ssl, fd, buf + got, sizeof(buf) - 1 - got, 0)) <= 0) {
			err = g_strdup(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ?
			    "no answer within the timeout" : "connection closed before an answer");
			goto out;
		}
		got += n;
		buf[got] = '\0';
	}
	buf[got] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || (p = strchr(buf, ' ')) == NULL ||
	    (*status = atoi(p + 1)) < 100 || *status > 599) {
		*status = 0;
		err = g_strdup("not an HTTP answer");
	} else if (*status < 200 || *status > 299)
		err = g_strdup_printf("HTTP %d", *status);
out:
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return err;
}

static void
webhook_job_run(gpointer data, gpointer user)
{
	struct webhook_job *j = data;
	const struct config *cfg = g_atomic_pointer_get(&j->w->cfg);
	struct webhook_url u;
	int known = 0, i;

	(void)user;
	/* only to an endpoint still configured */
	for (i = 0; cfg->webhook_url && cfg->webhook_url[i] && !known; i++) {
		if (webhook_url_parse(cfg->webhook_url[i], &u) == 0) {
			known = strcmp(u.url, j->url) == 0;
			webhook_url_clear(&u);
		}
	}
	if (!known || webhook_url_parse(j->url, &u) < 0)
		j->error = g_strdup("the endpoint is no longer in [webhook] url");
	else {
		j->error = webhook_post(j->w->ssl, &u, cfg->webhook_secret ? cfg->webhook_secret : "",
		    (int)cfg->webhook_timeout, j->event_id, j->body, &j->status);
		webhook_url_clear(&u);
	}
	g_mutex_lock(j->mu);
	if (--*j->left == 0)
		g_cond_signal(j->cond);
	g_mutex_unlock(j->mu);
}

/* --- the thread ------------------------------------------------------- */

/* Waits ms or until stopped; returns nonzero when stopped. */
static int
webhook_wait(struct webhook *w, int ms)
{
	gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;
	int stop;

	g_mutex_lock(&w->mu);
	while (!w->stop && g_cond_wait_until(&w->cond, &w->mu, until))
		;
	stop = w->stop;
	g_mutex_unlock(&w->mu);
	return stop;
}

static void
webhook_gauges(PGconn *c)
{
	PGresult *r = pg_exec(c, SQL_GAUGES, 0, NULL, PGRES_TUPLES_OK, NULL, NULL);
	double pending = 0, dead = 0;
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < PQntuples(r); i++) {
		double n = g_ascii_strtod(PQgetvalue(r, i, 1), NULL);
		if (strcmp(PQgetvalue(r, i, 0), "dead") == 0)
			dead = n;
		else
			pending = n;
	}
	PQclear(r);
	metrics_set("rebound_webhook_outbox", "state", "pending", pending);
	metrics_set("rebound_webhook_outbox", "state", "dead", dead);
}

/* Records one outcome; -1 when the database is away (the row stays due). */
static int
webhook_record(PGconn *c, const struct config *cfg, struct webhook_job *j)
{
	char id[32], st[16], give[32], rmin[32], rmax[32];
	PGresult *r;

	g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, j->id);
	g_snprintf(st, sizeof(st), "%d", j->status);
	if (j->error == NULL) {
		const char *p[2] = { id, st };
		if (pg_command(c, SQL_DELIVERED, 2, p, NULL, NULL) < 0)
			return -1;
		metrics_inc("rebound_webhook_deliveries_total", "result", "delivered");
		return 0;
	}
	g_snprintf(give, sizeof(give), "%" G_GINT64_FORMAT, cfg->webhook_give_up_seconds);
	g_snprintf(rmin, sizeof(rmin), "%" G_GINT64_FORMAT, cfg->webhook_retry_min_seconds);
	g_snprintf(rmax, sizeof(rmax), "%" G_GINT64_FORMAT, cfg->webhook_retry_max_seconds);
	{
		const char *p[6] = { id, j->status ? st : NULL, j->error, give, rmin, rmax };
		if ((r = pg_exec(c, SQL_FAILED, 6, p, PGRES_TUPLES_OK, NULL, NULL)) == NULL)
			return -1;
	}
	if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "dead") == 0) {
		metrics_inc("rebound_webhook_deliveries_total", "result", "dead");
		log_warnx("webhook event=dead outbox_id=%" G_GINT64_FORMAT " event_id=%" G_GINT64_FORMAT
		    " attempts=%d error=\"%s\"", j->id, j->event_id, j->attempts + 1, j->error);
	} else
		metrics_inc("rebound_webhook_deliveries_total", "result", "failed");
	PQclear(r);
	return 0;
}

/* A connection to the store; the outage is logged once, and its end. */
static PGconn *
webhook_store_connect(const struct config *cfg, int *down_logged)
{
	PGconn *c;
	char *err = NULL;

	if ((c = pg_connect(cfg->store_conninfo, &err)) == NULL) {
		if (!(*down_logged)++)
			log_warnx("webhook state=down error=\"%s\"", err);
		g_free(err);
		return NULL;
	}
	if (*down_logged)
		log_info("webhook state=up");
	*down_logged = 0;
	return c;
}

/*
 * One batch: the due deliveries posted by the pool in parallel, then each
 * outcome recorded.  Returns how many were due, -1 when the query failed;
 * *c is closed and NULL when the connection broke.
 */
static int
webhook_batch(struct webhook *w, PGconn **c, const struct config *cfg, GMutex *mu,
    GCond *cond)
{
	struct webhook_job *jobs;
	char lim[16], *err = NULL;
	const char *p[1] = { lim };
	PGresult *r;
	int n, i, left, lost = 0;

	g_snprintf(lim, sizeof(lim), "%d", WEBHOOK_BATCH);
	if ((r = pg_exec(*c, SQL_DUE, 1, p, PGRES_TUPLES_OK, NULL, &err)) == NULL) {
		g_free(err);
		lost = 1;
		n = -1;
		goto out;
	}
	if ((n = PQntuples(r)) == 0) {
		PQclear(r);
		return 0;
	}
	jobs = g_new0(struct webhook_job, n);
	left = n;
	for (i = 0; i < n; i++) {
		jobs[i].w = w;
		jobs[i].id = g_ascii_strtoll(PQgetvalue(r, i, 0), NULL, 10);
		jobs[i].url = g_strdup(PQgetvalue(r, i, 1));
		jobs[i].attempts = atoi(PQgetvalue(r, i, 2));
		jobs[i].event_id = g_ascii_strtoll(PQgetvalue(r, i, 3), NULL, 10);
		jobs[i].body = g_strdup(PQgetvalue(r, i, 4));
		jobs[i].mu = mu;
		jobs[i].cond = cond;
		jobs[i].left = &left;
	}
	PQclear(r);
	for (i = 0; i < n; i++)
		g_thread_pool_push(w->pool, &jobs[i], NULL);
	g_mutex_lock(mu);
	while (left > 0)
		g_cond_wait(cond, mu);
	g_mutex_unlock(mu);
	for (i = 0; i < n; i++) {
		if (!lost && webhook_record(*c, cfg, &jobs[i]) < 0)
			lost = 1;	/* stays due: posted again, same event id */
		g_free(jobs[i].url);
		g_free(jobs[i].body);
		g_free(jobs[i].error);
	}
	g_free(jobs);
out:
	if (lost && PQstatus(*c) != CONNECTION_OK) {
		PQfinish(*c);
		*c = NULL;
	}
	return n;
}

static gpointer
webhook_thread(gpointer arg)
{
	struct webhook *w = arg;
	PGconn *c = NULL;
	gint64 last_gauge = 0;
	int backoff_ms = 500, down_logged = 0;
	GMutex mu;
	GCond cond;

	g_mutex_init(&mu);
	g_cond_init(&cond);
	while (!webhook_wait(w, 0)) {
		const struct config *cfg = g_atomic_pointer_get(&w->cfg);
		int n;

		if (c == NULL) {
			if ((c = webhook_store_connect(cfg, &down_logged)) == NULL) {
				if (webhook_wait(w, backoff_ms))
					break;
				backoff_ms = MIN(backoff_ms * 2, 10000);
				continue;
			}
			backoff_ms = 500;
		}
		if (g_get_monotonic_time() - last_gauge > WEBHOOK_GAUGE_US) {
			webhook_gauges(c);
			last_gauge = g_get_monotonic_time();
		}
		if ((n = webhook_batch(w, &c, cfg, &mu, &cond)) < 0 && webhook_wait(w, backoff_ms))
			break;
		if (n == 0 && webhook_wait(w, WEBHOOK_IDLE_MS))
			break;
	}
	if (c != NULL)
		PQfinish(c);
	g_mutex_clear(&mu);
	g_cond_clear(&cond);
	return NULL;
}

struct webhook *
webhook_start(const struct config *cfg, char **err)
{
	struct webhook *w = g_new0(struct webhook, 1);
	GError *gerr = NULL;

	w->cfg = cfg;
	g_mutex_init(&w->mu);
	g_cond_init(&w->cond);
	if ((w->ssl = SSL_CTX_new(TLS_client_method())) == NULL) {
		*err = g_strdup("webhook: cannot make a TLS context");
		goto fail;
	}
	SSL_CTX_set_default_verify_paths(w->ssl);
	SSL_CTX_set_verify(w->ssl, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(w->ssl, TLS1_2_VERSION);
	if ((w->pool = g_thread_pool_new(webhook_job_run, NULL, WEBHOOK_PARALLEL, FALSE, &gerr)) == NULL) {
		*err = g_strdup_printf("webhook: %s", gerr->message);
		g_error_free(gerr);
		goto fail;
	}
	w->thread = g_thread_new("webhook", webhook_thread, w);
	return w;
fail:
	webhook_stop(w);
	return NULL;
}

void
webhook_stop(struct webhook *w)
{
	if (w == NULL)
		return;
	if (w->thread != NULL) {
		g_mutex_lock(&w->mu);
		w->stop = 1;
		g_cond_broadcast(&w->cond);
		g_mutex_unlock(&w->mu);
		g_thread_join(w->thread);
	}
	if (w->pool != NULL)
		g_thread_pool_free(w->pool, FALSE, TRUE);
	if (w->ssl != NULL)
		SSL_CTX_free(w->ssl);
	g_mutex_clear(&w->mu);
	g_cond_clear(&w->cond);
	g_free(w);
}

void
webhook_reload(struct webhook *w, const struct config *cfg)
{
	if (w != NULL)
		g_atomic_pointer_set(&w->cfg, cfg);
}
