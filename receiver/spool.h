/*
 * spool.h - the durable queue between SMTP and processing.
 *
 * spool_commit() returns only once the message and its envelope are on disk
 * (data and directory fsync'd): only then may SMTP answer 250.  Entries are
 * listed in arrival order.  A struct spool is safe to use from the SMTP
 * thread and one processing thread at once.
 *
 * Ownership: spool_open() returns a handle freed by spool_close().
 * spool_read() fills *env (free with spool_envelope_free) and *data (a
 * GBytes, unref it).  Queue ids are 16 characters [0-9A-Za-z], sortable by
 * arrival time.  Errors return -1 and set *err (caller frees) where given.
 */
#ifndef REBOUND_SPOOL_H
#define REBOUND_SPOOL_H

#include <glib.h>
#include <stdint.h>

struct spool_envelope {
	char *queue_id;
	int64_t arrival_us;		/* unix time, microseconds */
	char *client_addr;		/* "192.0.2.1" or "2001:db8::1" */
	char *helo;
	char *tls;			/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL */
	char *mail_from;		/* "" for the null sender */
	char **rcpts;			/* NULL-terminated */
	uint64_t size;			/* octets of the message as stored */
	int attempts;			/* processing attempts so far (see spool_set_attempts) */
};

struct spool;

struct spool *spool_open(const char *dir, char **err);
void spool_close(struct spool *s);

/* Durably store a message (with its Received: header already prepended). */
int spool_commit(struct spool *s, struct spool_envelope *env, const char *data, size_t len,
    char **err);
/* Queue ids waiting, oldest first; a new GPtrArray of char* (caller unrefs). */
GPtrArray *spool_list(struct spool *s);
size_t spool_count(struct spool *s);
int spool_read(struct spool *s, const char *queue_id, struct spool_envelope **env,
    GBytes **data, char **err);
/* Record a processing attempt durably (poison-message accounting). */
int spool_set_attempts(struct spool *s, const char *queue_id, int attempts, char **err);
int spool_remove(struct spool *s, const char *queue_id, char **err);
void spool_envelope_free(struct spool_envelope *env);

/* Called (on the committing thread) after each successful commit; may be NULL. */
void spool_set_notify(struct spool *s, void (*fn)(void *arg), void *arg);

#endif
