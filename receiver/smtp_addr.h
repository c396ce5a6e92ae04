/*
 * smtp_addr.h - RFC 5321 reverse-path / forward-path and parameter parsing,
 * and the relay decision ("is this recipient ours?").
 *
 * The parsers take the argument after the command word ("FROM:<a@b> SIZE=9")
 * and either return 0 with *addr set (a g_malloc'd copy of the mailbox
 * without brackets or source route, "" for the null path) or return -1 with
 * *reply pointing at a static reply line ("501 5.1.7 ...", no CRLF).
 * Lengths are checked before anything else (local part 64, domain 255,
 * path 256 octets: RFC 5321 4.5.3.1).
 */
#ifndef REBOUND_SMTP_ADDR_H
#define REBOUND_SMTP_ADDR_H

#include <stdint.h>

struct smtp_mail_params {
	uint64_t size;			/* SIZE=, 0 if absent */
	int has_size;
	int body_8bit;			/* BODY=8BITMIME */
	int smtputf8;			/* SMTPUTF8 */
};

int smtp_addr_parse_mail(const char *arg, char **addr, struct smtp_mail_params *p,
    const char **reply);
/* smtputf8: whether the transaction's MAIL carried SMTPUTF8. */
int smtp_addr_parse_rcpt(const char *arg, int smtputf8, char **addr, const char **reply);

/*
 * 1 when addr (as returned by smtp_addr_parse_rcpt) is in one of the
 * return-path domains ("example.com" exactly, ".example.com" any subdomain)
 * or is one of the feedback-loop addresses; local parts with '%', '!' or a
 * quoted '@' and address literals are never ours (relay tricks).
 */
int smtp_addr_is_ours(const char *addr, char *const *domains, char *const *fbl);

#endif
