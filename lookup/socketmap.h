/*
 * socketmap.h - a Postfix socketmap server (socketmap_table(5)) answering
 * "is this recipient suppressed?" from the lookup index.
 *
 * Request: netstring "NAME SP KEY".  NAME selects the tenant: "suppressed"
 * (or the default tenant's name) is the default tenant, a tenant named in
 * [tenants] is that tenant, anything else gets "PERM unknown map".  KEY is
 * an address; the domain-only and "user@" keys that check_recipient_access
 * also asks get "NOTFOUND " (no domain-wide suppression exists).
 *
 * Replies: "OK <action>" (the [lookup] action_* template of the entry's
 * class, %a address, %r reason), "NOTFOUND ", "TEMP ..." while the index
 * is not loaded, "PERM ..." for a malformed request.  A broken netstring
 * closes the connection.
 *
 *	check_recipient_access socketmap:inet:127.0.0.1:2526:suppressed
 *
 * The connections are lookup/listener.h's; lookup.c starts one listener
 * with socketmap_proto and the lookup handle as its argument.
 */
#ifndef REBOUND_SOCKETMAP_H
#define REBOUND_SOCKETMAP_H

struct listener_proto;

extern const struct listener_proto socketmap_proto;

#endif
