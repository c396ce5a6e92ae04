/*
 * smtp_internal.h - what smtp_listener.c, smtp_session.c and smtp_tls.c
 * share; nothing outside receiver/smtp_* includes it.
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
	GPtrArray *listeners;		/* struct smtp_listener * */
	GHashTable *sessions;		/* &serial -> struct smtp_session * */
	GHashTable *per_ip;		/* client address -> count */
	unsigned nsessions;
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
/* Called by the session's free path. */
void smtp_server_session_gone(struct smtp_server *srv, const char *client);

/* Hand a finished message to the spool writer; the answer comes back by serial. */
void smtp_server_commit(struct smtp_server *srv, uint64_t serial, struct spool_envelope *env,
    char *data, size_t len);

SSL_CTX *smtp_tls_ctx_new(const char *cert, const char *key, char **err);

#endif
