/*
 * conn_gate.h - a connection cap and accept back-off for the lookup
 * listeners (socketmap, policy, HTTP), as in libevent's samples: at the cap
 * the listeners are disabled (new clients wait in the kernel's backlog) and
 * enabled again when a connection closes; an accept error such as EMFILE
 * disables them for a second instead of letting a readable listening
 * socket spin a core, and is logged at most once a second.
 *
 * One gate per server, used from the thread of its event base only.
 */
#ifndef REBOUND_CONN_GATE_H
#define REBOUND_CONN_GATE_H

#include <event2/event.h>
#include <event2/listener.h>

struct conn_gate;

struct conn_gate *conn_gate_new(struct event_base *base, const char *name, long max);
void conn_gate_free(struct conn_gate *g);
/* Put a listener under the gate (sets its error callback). */
void conn_gate_listen(struct conn_gate *g, struct evconnlistener *l);
/* A connection was accepted / has closed. */
void conn_gate_opened(struct conn_gate *g);
void conn_gate_closed(struct conn_gate *g);
long conn_gate_count(const struct conn_gate *g);
long conn_gate_max(const struct conn_gate *g);

#endif
