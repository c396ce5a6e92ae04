/*
 * smtp_data.c - the message after DATA: lines up to CRLF.CRLF with
 * dot-unstuffing, the sticky errors answered after the final dot, and the
 * body in RAM or, past its share, in a spool file.
 *
 * Bare CR / bare LF: only CRLF ends a line and only CRLF.CRLF ends DATA, so
 * "\n.\n" and friends never end a message whatever the setting.  With
 * [smtp] bare_newlines = reject (the default) a message containing a bare
 * CR or LF is read to its end and refused with 554 5.6.0; with accept the
 * octets are kept as data, unchanged.  In commands they are always refused
 * (smtp_cmd.c).
 */
#include "receiver/smtp_session.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "common/log.h"

/*
 * A session keeps up to SMTP_DATA_MEM of a message in RAM (most reports are
 * a few KB: they go to the spool straight from memory).  A longer message,
 * or any message once all sessions together hold [smtp] max_memory_mb, is
 * written to an unnamed file in the spool's tmp/ as it is read, in writes
 * of up to SMTP_DATA_WBUF, so unfinished DATA costs disk, not RAM.
 */
#define SMTP_DATA_MEM	(256 * 1024)
#define SMTP_DATA_WBUF	(64 * 1024)

static int smtp_data_flush(struct smtp_session *s);

void
smtp_data_account(struct smtp_session *s)
{
	size_t now = s->data != NULL ? s->data->len : 0;

	s->srv->data_mem = s->srv->data_mem - s->data_mem + now;
	s->data_mem = now;
}

static void
smtp_data_end(struct smtp_session *s)
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

int
smtp_data_line(struct smtp_session *s)
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
				smtp_data_end(s);
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
