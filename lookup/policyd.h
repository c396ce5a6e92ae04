/*
 * policyd.h - a Postfix policy delegation server (SMTPD_POLICY_README)
 * answering "is this recipient suppressed?" from the lookup index.
 *
 * Each request is "name=value" lines ended by an empty line; the reply is
 * one "action=..." line and an empty line: the [lookup] action_* template
 * for a suppressed recipient, "DUNNO" otherwise (and for requests without
 * a recipient), "DEFER_IF_PERMIT ..." while the index is not loaded.
 * The tenant is the policy_context attribute when it names a tenant
 * (check_policy_service { inet:127.0.0.1:2527, policy_context=acme }),
 * else the tenant of the sender's domain per [tenants], else the default.
 * Lines are capped at 2048 octets and requests at 100 attributes; a
 * client that exceeds them is disconnected.
 *
 *	smtpd_recipient_restrictions = ..., check_policy_service inet:127.0.0.1:2527
 *
 * The handle is owned by the lookup handle (lookup.h), whose configuration
 * in force each request reads; policyd_stop() closes everything and frees
 * it (NULL is fine).
 */
#ifndef REBOUND_POLICYD_H
#define REBOUND_POLICYD_H

struct event_base;
struct lookup;
struct policyd;

/* Answers from lk on every address of listen; NULL and *err (g_free). */
struct policyd *policyd_start(struct lookup *lk, struct event_base *base, char **listen,
    long max_conns, char **err);
void policyd_stop(struct policyd *pd);

#endif
