/*
 * smtp_cmd.c - the SMTP commands as a table: each has a check (state and
 * syntax; it replies and stops the command) and a proceed or a fixed
 * reply; and the reading of one bounded command line.
 */
#include "receiver/smtp_session.h"

#include <string.h>
#include <time.h>
#include <event2/buffer.h>

#include "common/log.h"
#include "common/signing.h"

struct smtp_cmd {
	const char *name;
	/* check: state and syntax; replies and returns -1 to stop. */
	int (*check)(struct smtp_session *, const char *arg);
	void (*proceed)(struct smtp_session *, const char *arg);
	const char *reply;		/* a fixed answer, without proceed */
};

/* A check's refusal: the reply, and -1 to stop the command. */
static int
smtp_refuse(struct smtp_session *s, const char *reply)
{
	smtp_reply(s, "%s", reply);
	return -1;
}

static int
smtp_check_helo(struct smtp_session *s, const char *arg)
{
	if (*arg == '\0')
		return smtp_refuse(s, "501 5.5.4 Syntax: EHLO hostname");
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
	if (s->state == SMTP_S_CONNECTED)
		return smtp_refuse(s, "503 5.5.1 Send EHLO or HELO first");
	if (s->state != SMTP_S_HELO)
		return smtp_refuse(s, "503 5.5.1 Nested MAIL command");
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
	if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT)
		return smtp_refuse(s, "503 5.5.1 Need MAIL before RCPT");
	if (s->rcpts->len >= (guint)smtp_cfg(s)->smtp_max_recipients)
		return smtp_refuse(s, "452 4.5.3 Too many recipients");
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
	if (s->state != SMTP_S_RCPT)
		return smtp_refuse(s, "503 5.5.1 Need RCPT before DATA");
	if (*arg != '\0')
		return smtp_refuse(s, "501 5.5.4 Syntax: DATA");
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
	if (*arg != '\0')
		return smtp_refuse(s, "501 5.5.4 No parameters allowed");
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
smtp_proceed_quit(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "221 2.0.0 %s closing connection", smtp_cfg(s)->smtp_hostname);
	smtp_enter_state(s, SMTP_S_QUIT);
	smtp_session_close(s, "quit", 1);
}

static void
smtp_proceed_help(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, "214-2.0.0 Rebound accepts bounces and feedback reports for its domains.");
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS");
}

static int
smtp_check_starttls(struct smtp_session *s, const char *arg)
{
	if (s->srv->tls == NULL)
		return smtp_refuse(s, "502 5.5.1 STARTTLS not available");
	if (s->tls_info != NULL)
		return smtp_refuse(s, "554 5.5.1 TLS already active");
	if (*arg != '\0')
		return smtp_refuse(s, "501 5.5.4 Syntax: STARTTLS");
	if (s->state == SMTP_S_CONNECTED)
		return smtp_refuse(s, "503 5.5.1 Send EHLO first");
	return 0;
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
	{ "EHLO", smtp_check_helo, smtp_proceed_ehlo, NULL },
	{ "HELO", smtp_check_helo, smtp_proceed_helo, NULL },
	{ "MAIL", smtp_check_mail, smtp_proceed_mail, NULL },
	{ "RCPT", smtp_check_rcpt, smtp_proceed_rcpt, NULL },
	{ "DATA", smtp_check_data, smtp_proceed_data, NULL },
	{ "RSET", smtp_check_noarg, smtp_proceed_rset, NULL },
	{ "NOOP", NULL, NULL, "250 2.0.0 OK" },
	{ "QUIT", smtp_check_noarg, smtp_proceed_quit, NULL },
	{ "VRFY", NULL, NULL, "252 2.5.0 Cannot VRFY user, but will accept message" },
	{ "HELP", NULL, smtp_proceed_help, NULL },
	{ "EXPN", NULL, NULL, "502 5.5.1 EXPN not available" },
	/* CHUNKING is not offered; the chunk that follows is then read as commands and refused. */
	{ "BDAT", NULL, NULL, "502 5.5.1 BDAT not implemented (no CHUNKING)" },
	{ "STARTTLS", smtp_check_starttls, smtp_proceed_starttls, NULL },
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
	if (cmd->reply != NULL)
		smtp_reply(s, "%s", cmd->reply);
	else
		cmd->proceed(s, arg);
}

int
smtp_cmd_line(struct smtp_session *s)
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
