/*
 * smtp_listener.c - listening sockets, the session table and its limits,
 * spool completions coming back to the loop, shutdown.
 */
#include "receiver/smtp.h"
#include "receiver/smtp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <event2/util.h>

#include "common/conn_limits.h"
#include "common/log.h"

/*
 * Connections the kernel queues for accept (capped by net.core.somaxconn):
 * a burst larger than the backlog is SYN-retried for seconds instead of
 * being taken, counted and, at the limit, answered at once.
 */
#define SMTP_BACKLOG		4096
/* Sessions closing with a limit's 421 at once before accepting pauses. */
#define SMTP_REJECTING_MAX	64

static void smtp_server_check_rejecting(struct smtp_server *srv);

static void
smtp_listener_free(gpointer p)
{
	struct smtp_listener *l = p;

	if (l->el != NULL)
		evconnlistener_free(l->el);	/* closes fd (LEV_OPT_CLOSE_ON_FREE) */
	else if (l->fd != -1)
		close(l->fd);
	g_free(l->name);
	g_free(l);
}

static int
smtp_bind_one(GPtrArray *out, const char *name, int implicit_tls, char **err)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss, fd, on = 1;
	struct smtp_listener *l;

	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(name, (struct sockaddr *)&ss, &sslen) == -1) {
		*err = g_strdup_printf("listen %s: not addr:port", name);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*err = g_strdup_printf("listen %s: socket: %s", name, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	/* "[::]:25" and "0.0.0.0:25" may both be configured. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1 || listen(fd, SMTP_BACKLOG) == -1) {
		*err = g_strdup_printf("listen %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	l = g_new0(struct smtp_listener, 1);
	l->name = g_strdup(name);
	l->fd = fd;
	l->implicit_tls = implicit_tls;
	g_ptr_array_add(out, l);
	return 0;
}

GPtrArray *
smtp_bind(const struct config *cfg, char **err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(smtp_listener_free);
	int i;

	for (i = 0; cfg->smtp_listen && cfg->smtp_listen[i]; i++)
		if (smtp_bind_one(out, cfg->smtp_listen[i], 0, err) == -1)
			goto fail;
	for (i = 0; cfg->smtp_listen_tls && cfg->smtp_listen_tls[i]; i++)
		if (smtp_bind_one(out, cfg->smtp_listen_tls[i], 1, err) == -1)
			goto fail;
	if (out->len == 0) {
		*err = g_strdup("smtp.listen: no listener configured");
		goto fail;
	}
	return out;
fail:
	g_ptr_array_unref(out);
	return NULL;
}

static void
smtp_server_accept(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct smtp_listener *l = arg;

	(void)el;
	(void)socklen;
	smtp_session_new(l->srv, fd, sa, l->implicit_tls);
	smtp_server_check_rejecting(l->srv);
}

static void
smtp_server_listen_all(struct smtp_server *srv, int on)
{
	guint i;

	srv->paused = !on;
	for (i = 0; i < srv->listeners->len; i++) {
		struct smtp_listener *l = g_ptr_array_index(srv->listeners, i);
		if (l->el == NULL)
			continue;
		if (on)
			evconnlistener_enable(l->el);
		else
			evconnlistener_disable(l->el);
	}
}

static void
smtp_server_relisten(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_server *srv = arg;

	(void)fd;
	(void)ev;
	if (srv->shutting_down || srv->rejecting >= SMTP_REJECTING_MAX)
		return;
	smtp_server_listen_all(srv, 1);
}

/*
 * Out of descriptors (or memory): stop accepting for a second instead of
 * spinning on a listening socket that stays readable, and log it at most
 * once a second.  Other errors (a connection reset before accept) are
 * logged at the same rate and otherwise ignored.
 */
static void
smtp_server_accept_error(struct evconnlistener *el, void *arg)
{
	struct smtp_listener *l = arg;
	struct smtp_server *srv = l->srv;
	struct timeval tv = { 1, 0 };
	int e = EVUTIL_SOCKET_ERROR();
	int64_t now = g_get_monotonic_time();
	int pause = e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;

	(void)el;
	if (now - srv->accept_log_us >= G_USEC_PER_SEC) {
		srv->accept_log_us = now;
		log_warnx("smtp event=accept-error listen=%s error=\"%s\" action=%s sessions=%u",
		    l->name, g_strerror(e), pause ? "pause-1s" : "none", srv->nsessions);
	}
	if (pause && !srv->shutting_down) {
		smtp_server_listen_all(srv, 0);
		evtimer_add(srv->ev_relisten, &tv);
	}
}

void
smtp_server_reject_done(struct smtp_server *srv)
{
	if (srv->rejecting > 0)
		srv->rejecting--;
	if (srv->paused && srv->rejecting < SMTP_REJECTING_MAX / 2 &&
	    !evtimer_pending(srv->ev_relisten, NULL) && !srv->shutting_down)
		smtp_server_listen_all(srv, 1);
}

static void
smtp_server_check_rejecting(struct smtp_server *srv)
{
	if (!srv->paused && srv->rejecting >= SMTP_REJECTING_MAX) {
		log_warnx("smtp event=accept-paused reason=rejecting sessions=%u rejecting=%u",
		    srv->nsessions, srv->rejecting);
		smtp_server_listen_all(srv, 0);
	}
}

void
smtp_server_update_stress(struct smtp_server *srv)
{
	/* On at 3/4 of the limit, off below 1/2: no flapping (each change visits every session). */
	int stress = srv->stress ? (uint64_t)srv->nsessions * 2 >= srv->max_sessions :
	    (uint64_t)srv->nsessions * 4 >= (uint64_t)srv->max_sessions * 3;
	GHashTableIter it;
	gpointer v;

	if (stress == srv->stress)
		return;
	srv->stress = stress;
	log_info("smtp event=stress state=%s sessions=%u limit=%u timeout=%lld", stress ? "on" : "off",
	    srv->nsessions, srv->max_sessions, (long long)(stress ? srv->cfg->smtp_stress_timeout :
	    srv->cfg->smtp_idle_timeout));
	/* Sessions already there get the shorter timeouts too: they are the load. */
	g_hash_table_iter_init(&it, srv->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v))
		smtp_session_retime(v);
}

static unsigned
smtp_server_limit(const struct config *cfg)
{
	struct conn_limits cl;
	char *err = NULL;

	if (conn_limits_compute(cfg, &cl, &err) == -1) {
		/* serve refused such a config; tests may build one by hand. */
		g_free(err);
		return cfg->smtp_max_sessions > 0 ? (unsigned)cfg->smtp_max_sessions : 1000;
	}
	return (unsigned)cl.smtp;
}

/* Spool writer thread: queue the result, wake the loop. */
static void
smtp_server_commit_cb(void *arg, const char *queue_id, enum spool_status st, const char *err)
{
	struct smtp_commit_done *d = arg;
	struct smtp_server *srv = d->srv;
	uint64_t one = 1;

	d->queue_id = g_strdup(queue_id);
	d->st = st;
	d->err = g_strdup(err);
	/* Once pushed, d belongs to the event loop, which may free it at once
	 * (woken by another writer's eventfd write): touch only srv after. */
	g_async_queue_push(srv->done, d);
	if (write(srv->efd, &one, sizeof one) == -1 && errno != EAGAIN)
		log_warn("smtp event=eventfd-write");
}

void
smtp_server_commit(struct smtp_server *srv, uint64_t serial, struct spool_envelope *env,
    char *data, size_t len)
{
	struct smtp_commit_done *d = g_new0(struct smtp_commit_done, 1);

	d->srv = srv;
	d->serial = serial;
	spool_commit_async(srv->spool, env, data, len, smtp_server_commit_cb, d);
}

void
smtp_server_commit_fd(struct smtp_server *srv, uint64_t serial, struct spool_envelope *env,
    int fd, size_t len)
{
	struct smtp_commit_done *d = g_new0(struct smtp_commit_done, 1);

	d->srv = srv;
	d->serial = serial;
	spool_commit_async_fd(srv->spool, env, fd, len, smtp_server_commit_cb, d);
}

static void
smtp_commit_done_free(struct smtp_commit_done *d)
{
	g_free(d->queue_id);
	g_free(d->err);
	g_free(d);
}

static void
smtp_server_done_ready(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_server *srv = arg;
	struct smtp_commit_done *d;
	uint64_t n;

	(void)ev;
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_warn("smtp event=eventfd-read");
	while ((d = g_async_queue_try_pop(srv->done)) != NULL) {
		struct smtp_session *s = g_hash_table_lookup(srv->sessions, &d->serial);
		if (s != NULL)
			smtp_session_commit_done(s, d);
		else if (d->st == SPOOL_OK)
			/* The client never saw 250 and will retry: a duplicate, not a loss. */
			log_warnx("q=%s event=committed-session-gone", d->queue_id);
		smtp_commit_done_free(d);
	}
}

struct smtp_server *
smtp_server_new(struct event_base *base, struct config *cfg, GPtrArray *bound, char **err)
{
	struct smtp_server *srv = g_new0(struct smtp_server, 1);

	srv->base = base;
	srv->cfg = cfg;
	srv->old_cfgs = g_ptr_array_new();
	srv->listeners = bound;
	srv->sessions = g_hash_table_new(g_int64_hash, g_int64_equal);
	srv->per_ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	srv->done = g_async_queue_new();
	srv->efd = -1;
	srv->max_sessions = smtp_server_limit(cfg);
	g_queue_init(&srv->idle);
	if (cfg->smtp_tls_cert != NULL &&
	    (srv->tls = smtp_tls_ctx_new(cfg->smtp_tls_cert, cfg->smtp_tls_key, err)) == NULL) {
		smtp_server_free(srv);
		return NULL;
	}
	return srv;
}

int
smtp_server_start(struct smtp_server *srv, struct spool *spool, char **err)
{
	guint i;

	srv->spool = spool;
	if ((srv->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		*err = g_strdup_printf("eventfd: %s", strerror(errno));
		return -1;
	}
	srv->ev_done = event_new(srv->base, srv->efd, EV_READ | EV_PERSIST,
	    smtp_server_done_ready, srv);
	event_add(srv->ev_done, NULL);
	srv->ev_relisten = evtimer_new(srv->base, smtp_server_relisten, srv);
	for (i = 0; i < srv->listeners->len; i++) {
		struct smtp_listener *l = g_ptr_array_index(srv->listeners, i);
		l->srv = srv;
		if (l->el != NULL)
			continue;
		l->el = evconnlistener_new(srv->base, smtp_server_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, l->fd);
		if (l->el == NULL) {
			*err = g_strdup_printf("listen %s: evconnlistener_new failed", l->name);
			return -1;
		}
		evconnlistener_set_error_cb(l->el, smtp_server_accept_error);
		log_info("smtp event=listening listen=%s tls=%s", l->name,
		    l->implicit_tls ? "implicit" : srv->tls ? "starttls" : "none");
	}
	return 0;
}

void
smtp_server_set_tls_keys(struct smtp_server *srv, struct tls_keys *keys)
{
	srv->keys = keys;
}

/* The root helper's bytes of the start paths, or the files as this user. */
static SSL_CTX *
smtp_server_load_tls(struct smtp_server *srv, const struct config *cfg, char **err)
{
	const char *cert, *key;
	char *cbuf, *kbuf;
	size_t clen, klen;
	SSL_CTX *ctx;

	if (srv->keys == NULL)
		return smtp_tls_ctx_new(cfg->smtp_tls_cert, cfg->smtp_tls_key, err);
	cert = tls_keys_cert_path(srv->keys);
	key = tls_keys_key_path(srv->keys);
	if (strcmp(cfg->smtp_tls_cert, cert) != 0 || strcmp(cfg->smtp_tls_key, key) != 0)
		log_warnx("smtp event=reload note=\"tls_cert and tls_key path changes need a "
		    "restart\" cert=%s key=%s", cert, key);
	if (tls_keys_fetch(srv->keys, &cbuf, &clen, &kbuf, &klen, err) == -1)
		return NULL;
	ctx = smtp_tls_ctx_new_pem(cbuf, clen, cert, kbuf, klen, key, err);
	tls_keys_free_buf(cbuf, clen);
	tls_keys_free_buf(kbuf, klen);
	return ctx;
}

static void
smtp_server_reload_tls(struct smtp_server *srv, const struct config *cfg)
{
	char *err = NULL;
	SSL_CTX *ctx = smtp_server_load_tls(srv, cfg, &err);

	if (ctx == NULL) {
		log_warnx("smtp event=reload-tls-failed error=\"%s\" note=\"keeping the old "
		    "certificate\"", err ? err : "");
		g_free(err);
		return;
	}
	/* Sessions hold their own SSL references; the old context goes with them. */
	if (srv->tls != NULL)
		SSL_CTX_free(srv->tls);
	srv->tls = ctx;
	log_info("smtp event=reload-tls cert=%s source=%s", srv->keys != NULL ?
	    tls_keys_cert_path(srv->keys) : cfg->smtp_tls_cert, srv->keys != NULL ?
	    "key-reader" : "file");
}

void
smtp_server_reload(struct smtp_server *srv, struct config *cfg)
{
	int i;

	g_ptr_array_add(srv->old_cfgs, srv->cfg);
	for (i = 0; cfg->smtp_listen[i] || srv->cfg->smtp_listen[i]; i++)
		if (cfg->smtp_listen[i] == NULL || srv->cfg->smtp_listen[i] == NULL ||
		    strcmp(cfg->smtp_listen[i], srv->cfg->smtp_listen[i]) != 0) {
			log_warnx("smtp event=reload note=\"listen changes need a restart\"");
			break;
		}
	srv->cfg = cfg;
	srv->max_sessions = smtp_server_limit(cfg);
	smtp_server_update_stress(srv);
	if (cfg->smtp_tls_cert != NULL)
		smtp_server_reload_tls(srv, cfg);
}

unsigned
smtp_server_sessions(struct smtp_server *srv)
{
	return srv->nsessions;
}

void
smtp_server_set_backlog_full(struct smtp_server *srv, int full)
{
	g_atomic_int_set(&srv->backlog_full, full ? 1 : 0);
}

static void
smtp_server_check_drained(struct smtp_server *srv)
{
	if (srv->shutting_down && srv->nsessions == 0 && srv->on_drained != NULL) {
		void (*fn)(void *) = srv->on_drained;
		srv->on_drained = NULL;
		fn(srv->on_drained_arg);
	}
}

void
smtp_server_session_gone(struct smtp_server *srv, const char *key)
{
	gpointer n;

	if (key != NULL && (n = g_hash_table_lookup(srv->per_ip, key)) != NULL) {
		if (GPOINTER_TO_UINT(n) <= 1)
			g_hash_table_remove(srv->per_ip, key);
		else
			g_hash_table_insert(srv->per_ip, g_strdup(key),
			    GUINT_TO_POINTER(GPOINTER_TO_UINT(n) - 1));
	}
	if (srv->nsessions > 0)
		srv->nsessions--;
	if (!srv->shutting_down)
		smtp_server_update_stress(srv);
	smtp_server_check_drained(srv);
}

static void
smtp_server_grace_over(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_server *srv = arg;
	GList *all, *it;

	(void)fd;
	(void)ev;
	log_info("smtp event=grace-over sessions=%u", srv->nsessions);
	all = g_hash_table_get_values(srv->sessions);
	for (it = all; it != NULL; it = it->next)
		smtp_session_shutdown(it->data, 1);
	g_list_free(all);
}

void
smtp_server_shutdown(struct smtp_server *srv, int grace, void (*done)(void *), void *arg)
{
	struct timeval tv = { grace, 0 };
	GList *all, *it;

	if (srv->shutting_down)
		return;
	srv->shutting_down = 1;
	if (srv->ev_relisten != NULL)
		evtimer_del(srv->ev_relisten);
	srv->on_drained = done;
	srv->on_drained_arg = arg;
	/* Stop accepting: the ports close now, so a restart can bind at once. */
	g_ptr_array_set_size(srv->listeners, 0);
	log_info("smtp event=shutdown sessions=%u grace=%d", srv->nsessions, grace);
	all = g_hash_table_get_values(srv->sessions);
	for (it = all; it != NULL; it = it->next)
		smtp_session_shutdown(it->data, 0);
	g_list_free(all);
	srv->ev_grace = evtimer_new(srv->base, smtp_server_grace_over, srv);
	evtimer_add(srv->ev_grace, &tv);
	smtp_server_check_drained(srv);
}

void
smtp_server_free(struct smtp_server *srv)
{
	struct smtp_commit_done *d;

	if (srv == NULL)
		return;
	if (srv->listeners)
		g_ptr_array_unref(srv->listeners);
	if (srv->ev_done)
		event_free(srv->ev_done);
	if (srv->ev_relisten)
		event_free(srv->ev_relisten);
	if (srv->ev_grace)
		event_free(srv->ev_grace);
	if (srv->efd != -1)
		close(srv->efd);
	while ((d = g_async_queue_try_pop(srv->done)) != NULL)
		smtp_commit_done_free(d);
	g_async_queue_unref(srv->done);
	g_hash_table_destroy(srv->sessions);
	g_hash_table_destroy(srv->per_ip);
	g_ptr_array_unref(srv->old_cfgs);
	if (srv->tls)
		SSL_CTX_free(srv->tls);
	g_free(srv);
}
