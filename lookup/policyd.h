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
 * The connections are lookup/listener.h's; lookup.c starts one listener
 * with policyd_proto and the lookup handle as its argument, whose
 * configuration in force each request reads.
 */
#ifndef REBOUND_POLICYD_H
#define REBOUND_POLICYD_H

struct listener_proto;

extern const struct listener_proto policyd_proto;

#endif
