/*
 * smtp_internal.h - what smtp_listener.c, smtp_tls.c and a session
 * (smtp_session.h) share; nothing outside receiver/smtp_* includes it.
 */
#ifndef REBOUND_SMTP_INTERNAL_H
#define REBOUND_SMTP_INTERNAL_H

#include <stdint.h>
#include <sys/socket.h>
#include <glib.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "common/config.h"
#include "receiver/spool.h"

struct smtp_listener {
	struct smtp_server *srv;
	char *name;			/* as configured */
	int fd;
	int implicit_tls;
	struct evconnlistener *el;
};

struct smtp_server {
	struct event_base *base;
	struct config *cfg;		/* current; older ones in old_cfgs */
	GPtrArray *old_cfgs;		/* not owned: cli/cmd_serve.c frees configs */
	struct spool *spool;
	SSL_CTX *tls;			/* NULL without a certificate */
	struct tls_keys *keys;		/* borrowed; NULL: reload reads the files itself */
	GPtrArray *listeners;		/* struct smtp_listener * */
	GHashTable *sessions;		/* &serial -> struct smtp_session * */
	GHashTable *per_ip;		/* client IPv4 address or IPv6 /64 -> count */
	unsigned nsessions;
	unsigned max_sessions;		/* [smtp] max_sessions, or from conn_limits */
	GQueue idle;			/* sessions without a transaction, longest idle first */
	int stress;			/* 3/4 of max_sessions in use: stress_timeout applies */
	unsigned rejecting;		/* sessions closing with a limit's 421 */
	int paused;			/* listeners disabled (descriptors, or rejecting) */
	int64_t accept_log_us;		/* last accept error logged (monotonic) */
	uint64_t next_serial;
	int efd;			/* eventfd: spool completions waiting */
	struct event *ev_done;
	GAsyncQueue *done;		/* struct smtp_commit_done * */
	struct event *ev_relisten;	/* re-enable listeners after EMFILE */
	int shutting_down;
	struct event *ev_grace;
	void (*on_drained)(void *);
	void *on_drained_arg;
	gint backlog_full;
	uint64_t data_mem;		/* message octets sessions hold in RAM */
};

struct smtp_commit_done {
	struct smtp_server *srv;
	uint64_t serial;
	char *queue_id;
	enum spool_status st;
	char *err;
};

struct smtp_session;

void smtp_session_new(struct smtp_server *srv, int fd, const struct sockaddr *sa,
    int implicit_tls);
void smtp_session_commit_done(struct smtp_session *s, struct smtp_commit_done *d);
/* SIGTERM: idle sessions get 421 now, busy ones after their transaction. */
void smtp_session_shutdown(struct smtp_session *s, int force);
/* Called by the session's free path: key is its per-address limit key. */
void smtp_server_session_gone(struct smtp_server *srv, const char *key);
/* Re-evaluates stress mode after nsessions changed. */
void smtp_server_update_stress(struct smtp_server *srv);
/* Timeouts again from the current (stress) settings. */
void smtp_session_retime(struct smtp_session *s);
/* At the session limit: 421 and close for an idle session to make room. */
void smtp_session_evict(struct smtp_session *s);
/* A session closing with a limit's 421 was freed (smtp_listener.c re-enables accepting). */
void smtp_server_reject_done(struct smtp_server *srv);
/* Limit key of an address: the IPv4 address, or the IPv6 /64. */
void smtp_limit_key(const struct sockaddr *sa, char *out, size_t outlen);

/* Hand a finished message to the spool writer; the answer comes back by serial. */
void smtp_server_commit(struct smtp_server *srv, uint64_t serial, struct spool_envelope *env,
    char *data, size_t len);
/* The same for a message in a file (spool_tmpfile); takes fd. */
void smtp_server_commit_fd(struct smtp_server *srv, uint64_t serial, struct spool_envelope *env,
    int fd, size_t len);

SSL_CTX *smtp_tls_ctx_new(const char *cert, const char *key, char **err);
/* The same from PEM bytes (the TLS key reader's); the names are for *err. */
SSL_CTX *smtp_tls_ctx_new_pem(const char *cert, size_t cert_len, const char *cert_name,
    const char *key, size_t key_len, const char *key_name, char **err);

#endif
