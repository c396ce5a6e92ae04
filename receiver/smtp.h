/*
 * smtp.h - the SMTP receiver: listeners, sessions, hand-off to the spool.
 *
 * Start-up is split so the privileged step stays small: smtp_bind() opens
 * the listening sockets (as root if need be), smtp_server_new() builds
 * everything else on an event base after privileges were dropped.
 * Every session runs on that event base's thread; spool commits complete
 * on the spool's writer thread and come back through an eventfd, so the
 * loop never waits on the disk.
 *
 * Ownership: smtp_bind() returns a GPtrArray the server takes over in
 * smtp_server_new(); the server keeps a pointer to cfg (and to every
 * config given to smtp_server_reload(), which must stay valid until
 * smtp_server_free()); spool is borrowed.
 */
#ifndef REBOUND_SMTP_H
#define REBOUND_SMTP_H

#include <glib.h>
#include <event2/event.h>

#include "common/config.h"
#include "receiver/spool.h"
#include "receiver/smtp_tls_keys.h"

struct smtp_server;

/* Bind and listen on [smtp] listen and listen_tls; NULL and *err on failure. */
GPtrArray *smtp_bind(const struct config *cfg, char **err);

/* Loads the TLS certificate (may need privileges: call before dropping them). */
struct smtp_server *smtp_server_new(struct event_base *base, struct config *cfg,
    GPtrArray *bound, char **err);
/* Start accepting; commits go to spool. */
int smtp_server_start(struct smtp_server *srv, struct spool *spool, char **err);

/*
 * Reload the certificate and key through the TLS key reader (borrowed,
 * outlives srv) instead of opening the files: the configured paths at
 * reload must then be the reader's, changes need a restart.
 */
void smtp_server_set_tls_keys(struct smtp_server *srv, struct tls_keys *keys);

/* SIGHUP: new limits, domains, timeouts and certificate; listeners stay. */
void smtp_server_reload(struct smtp_server *srv, struct config *cfg);

/*
 * SIGTERM: stop accepting, let sessions finish their transaction for up to
 * grace seconds, then close the rest with 421; done(arg) runs once no
 * session is left.
 */
void smtp_server_shutdown(struct smtp_server *srv, int grace, void (*done)(void *), void *arg);
/* Call after the spool writer was stopped (spool_close). */
void smtp_server_free(struct smtp_server *srv);

/*
 * Back-pressure from processing (any thread): while set, MAIL gets
 * 452 4.3.1 as when the spool holds [spool] high_water messages.
 */
void smtp_server_set_backlog_full(struct smtp_server *srv, int full);
unsigned smtp_server_sessions(struct smtp_server *srv);

#endif
