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
 *
 * Layout and durability.  A commit writes one file for a whole batch of
 * messages: a 64-octet batch header ("Rebound-Batch LEN SUM": the records'
 * length and a SHA-256 over them), then each record, an envelope header, a
 * blank line and the message, end to end.  The batch is written over a
 * recycled DIR/queue/free-N file in place and fdatasync'd (one flush), then
 * renamed to DIR/queue/ID (ID = the batch's first queue id) without a
 * directory sync; only when no file is free is one created as
 * DIR/queue/ID.tmp, fdatasync'd, renamed and DIR/queue fsync'd, that sync
 * also covering empty spare files created for the next batches.  Only then
 * is any commit of the batch reported.  The header, not the name, says
 * whether a file holds entries: spool_open() indexes every file of queue/
 * whose sum matches (a crash in the middle of a write leaves one that does
 * not: nothing in it was acknowledged) into an in-memory index (queue id ->
 * file, offset, length), and spool_open() deletes .tmp files.  A file
 * leaves the queue when its last entry is removed (its header marked free,
 * renamed free-N for reuse, see spool.c); until that reaches the disk a
 * crash brings its removed entries back, which the store's dedupe on the
 * message hash makes harmless.  DIR/attempts/ID holds the processing
 * attempts (written the same way) and DIR/attempts/inflight the batch in
 * progress.  The envelope header is "Key: value" lines with values
 * g_strescape()d:
 *   Rebound-Spool: 1 / Queue-Id / Arrival-Us / Client / Helo / Tls /
 *   Mail-From / Rcpt (repeated) / Size
 *
 * Group commit.  spool_commit_async() hands the message to the writer
 * thread (SPOOL_WRITERS, see spool.c).  The writer takes every job waiting
 * (up to 64) and commits them as one file, then reports each job.  While
 * it waits on the disk the next batch accumulates, so under load a commit
 * (one data flush) is paid once per batch rather
 * than once per message, and SMTP never blocks on the disk: the event loop
 * answers 250 when the completion arrives.  spool_list() sorts by id.
 * spool_commit() is the synchronous form (same code, batch of one, on the
 * caller's thread).
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

/*
 * Durably store a message (with its Received: header already prepended).
 * If env->queue_id is NULL one is assigned (owned by env); arrival_us 0
 * becomes now; env->size is set to len.
 */
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
/*
 * The same for n entries at once, with one directory sync for the batch:
 * errs[i] is set (caller frees) for each entry that failed; returns how
 * many failed.
 */
int spool_set_attempts_many(struct spool *s, const char *const *ids, const int *attempts,
    size_t n, char **errs);
int spool_remove_many(struct spool *s, const char *const *ids, size_t n, char **errs);
/*
 * Durably note that ids[0..n) are about to be processed for the
 * attempts[i]-th time, in one write and one sync (attempts/inflight,
 * rewritten for every batch).  The count becomes the entry's attempts only
 * if the daemon dies before the batch is done: spool_open() then records
 * it with spool_set_attempts().  A count that must outlive a finished batch
 * (a failed parse kept for retry) is recorded with spool_set_attempts().
 */
int spool_begin_attempts(struct spool *s, const char *const *ids, const int *attempts, size_t n,
    char **err);
void spool_envelope_free(struct spool_envelope *env);

/* Called (on the committing thread) after each successful commit; may be NULL. */
void spool_set_notify(struct spool *s, void (*fn)(void *arg), void *arg);

/* A new queue id (g_free), sortable by arrival; SMTP needs it for Received:. */
char *spool_new_id(struct spool *s);
/* Refuse commits that would leave less than this many bytes free (0 = off). */
void spool_set_min_free(struct spool *s, uint64_t bytes);

enum spool_status {
	SPOOL_OK = 0,
	SPOOL_ENOSPACE,			/* disk full, quota, min_free: 452 4.3.1 */
	SPOOL_EIO,			/* any other failure: 451 4.3.0 */
};

/*
 * Called on the writer thread once the job is durable or has failed;
 * queue_id and err are valid during the call only.
 */
typedef void (*spool_done_fn)(void *arg, const char *queue_id, enum spool_status st,
    const char *err);
/*
 * Queue a commit to the writer thread.  Takes ownership of env (freed with
 * spool_envelope_free) and data (g_free) whatever happens; done is always
 * called exactly once.
 */
void spool_commit_async(struct spool *s, struct spool_envelope *env, char *data, size_t len,
    spool_done_fn done, void *arg);

/*
 * Bounded memory while DATA is read: a message that outgrows what SMTP may
 * keep in RAM goes to an unnamed file on the spool's file system
 * (O_TMPFILE in DIR/tmp, so a crash leaves nothing behind).  Returns the
 * descriptor (read-write, close-on-exec) or -1 and *err.
 */
int spool_tmpfile(struct spool *s, char **err);
/* 0 when writing len more octets would leave less than [spool] min_free_mb. */
int spool_has_room(struct spool *s, uint64_t len);
/*
 * As spool_commit_async(), with the message being the first len octets of
 * fd (from spool_tmpfile); takes ownership of fd (closed when done).  The
 * writer copies it into the batch file (copy_file_range, no user-space
 * buffer of the message's size).
 */
void spool_commit_async_fd(struct spool *s, struct spool_envelope *env, int fd, size_t len,
    spool_done_fn done, void *arg);

#endif
