/*
 * listener.h - the connection skeleton of the lookup side's line
 * protocols (socketmap, policy): listening sockets on the caller's event
 * base under a conn_gate, one socket with an input and an output evbuffer
 * per client and an idle timeout, and one close path that logs how each
 * session ended.
 *
 * A protocol brings a callback table: per-connection state, and what to
 * do with the input that has arrived.  Everything runs on the thread of
 * the event base.  listener_free() closes the listening sockets and every
 * connection (NULL is fine).
 */
#ifndef REBOUND_LISTENER_H
#define REBOUND_LISTENER_H

#include <glib.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

struct listener;

struct listener_proto {
	const char *name;	/* log lines and the connection gate: "socketmap" */
	const char *tag;	/* session ids in debug lines: "sm" */
	int idle;		/* seconds a client may stay silent */
	/* State for a new connection (may return NULL), and its free; both optional. */
	void *(*conn_new)(void *arg);
	void (*conn_free)(void *state);
	/* Consume what it can of in, append replies to out, add one to
	 * *requests per answer.  NULL keeps the connection (more input is
	 * awaited), else the reason it is closed ("bad-netstring"). */
	const char *(*read)(void *arg, void *state, struct evbuffer *in, struct evbuffer *out,
	    guint64 *requests);
};

/* Listens on every "addr:port" of listen; arg goes to the callbacks.
 * NULL and *err (g_free) if one cannot be opened. */
struct listener *listener_start(struct event_base *base, const struct listener_proto *proto,
    void *arg, char **listen, long max_conns, char **err);
void listener_free(struct listener *l);

/* A listening socket on "addr:port" / "[v6]:port"; NULL and *err (g_free). */
struct evconnlistener *listener_bind(struct event_base *base, const char *spec,
    evconnlistener_cb cb, void *arg, char **err);

#endif
