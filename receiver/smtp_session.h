/*
 * smtp_session.h - what the parts of one SMTP session share: the session
 * itself (smtp_session.c: life cycle, timers, replies), its commands
 * (smtp_cmd.c: the command table, each command's check and proceed) and
 * its message body (smtp_data.c: DATA reading, dot-unstuffing, RAM or
 * file).  Nothing outside receiver/smtp_* includes it.
 */
#ifndef REBOUND_SMTP_SESSION_H
#define REBOUND_SMTP_SESSION_H

#include <stdint.h>
#include <arpa/inet.h>
#include <glib.h>
#include <event2/bufferevent.h>

#include "receiver/smtp_addr.h"
#include "receiver/smtp_internal.h"

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

static inline const struct config *
smtp_cfg(const struct smtp_session *s)
{
	return s->srv->cfg;
}

/* smtp_session.c */
/* One reply line; a 5xx counts toward [smtp] max_bad_commands. */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The state, and the session's place among the idle ones. */
void smtp_enter_state(struct smtp_session *s, enum smtp_state st);
/* The one way out: ev_close frees the session (after the output, with flush). */
void smtp_session_close(struct smtp_session *s, const char *reason, int flush);
/* Forgets the transaction: sender, recipients, message. */
void smtp_tx_reset(struct smtp_session *s);
/* Read and write timeouts; data: the DATA read timeout. */
void smtp_session_timeouts(struct smtp_session *s, int data);
/* STARTTLS or implicit TLS: the handshake on the session's connection. */
void smtp_session_tls_wrap(struct smtp_session *s);

/* smtp_cmd.c */
/* One command line; returns 1 if something was consumed, 0 to wait for more. */
int smtp_cmd_line(struct smtp_session *s);

/* smtp_data.c */
/* One line of DATA; returns 1 if something was consumed, 0 to wait for more. */
int smtp_data_line(struct smtp_session *s);
/* Keeps srv->data_mem equal to what all sessions' s->data hold. */
void smtp_data_account(struct smtp_session *s);

#endif
