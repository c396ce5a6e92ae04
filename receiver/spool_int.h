/*
 * spool_int.h - what the files of the spool (spool.c, spool_commit.c,
 * spool_scan.c, spool_attempts.c) share; no other module includes it.
 */
#ifndef REBOUND_SPOOL_INT_H
#define REBOUND_SPOOL_INT_H

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>

#include "receiver/spool.h"

#define SPOOL_ID_LEN	16
#define SPOOL_BATCH	64
/* One writer: a batch is one file, so a second writer would only split
 * the batches (more inodes and syncs per message: measured 160 us of
 * daemon CPU per message with one writer, 180 with two, 270 with four);
 * the next batch accumulates while the writer waits on the disk. */
#define SPOOL_WRITERS	1

struct spool_job {
	struct spool_envelope *env;
	char *data;
	size_t len;
	int fd;				/* with from_fd: the message is fd's first len octets */
	int from_fd;
	spool_done_fn done;
	void *arg;
	GString *hdr;			/* envelope header, built in spool_job_prepare */
	enum spool_status st;
	char *err;
	int stop;			/* sentinel: writer exits */
};

/* One file of queue/: the records of one writer batch. */
struct spool_file {
	char name[32];			/* the batch's first queue id, or the free-N it kept */
	unsigned live;			/* entries not yet removed; under lock */
	gboolean damaged;		/* a record after the indexed ones is unreadable */
};

/* Where one queue id's record is: the index (under lock) maps id to this. */
struct spool_entry {
	struct spool_file *file;
	off_t off;
	size_t len;
};

struct spool {
	char *dir;
	int qfd, tmpfd, afd;		/* queue/, tmp/, attempts/ */
	GMutex lock;			/* index, last_us, notify, free names */
	GHashTable *index;		/* queue id -> struct spool_entry */
	int64_t last_us;
	uint64_t min_free;
	void (*notify)(void *);
	void *notify_arg;
	GAsyncQueue *jobs;
	GThread *writers[SPOOL_WRITERS];
	int inflight_fd;		/* attempts/inflight, see spool_begin_attempts */
	GQueue free_names;		/* queue/free-N files to reuse; under lock */
	guint64 free_seq;		/* under lock */
};

/*
 * Spool files are recycled: a file whose entries are all removed is renamed
 * to queue/free-N and its inode reused for a later batch instead of
 * unlinked, up to SPOOL_FREE_MAX files.  Allocating a fresh inode is the
 * costliest step of a commit on ext4 without a journal (it skips every
 * recently freed inode one by one), and a busy spool frees them
 * constantly.
 *
 * A recycled file is committed with one flush.  The batch is written over
 * it in place behind a header of SPOOL_HDR octets, "Rebound-Batch LEN
 * SUM" (LEN the records' octets, SUM the first 16 octets of the SHA-256 of
 * LEN and the records, both in hex), and fdatasync'd: overwriting blocks
 * the file already has changes no metadata, so the sync is one data
 * flush, where a rename made durable costs a directory sync, a second
 * flush on every commit.  Whether a file holds entries is therefore
 * decided by its header, never by its name: spool_open() indexes every
 * file whose header and sum are right, whatever it is called, and takes
 * every other recycled file as free.  The file is then renamed to its
 * first queue id without a directory sync, so that its name says what it
 * holds while the system stays up; after a power loss a live file may
 * still be called free-N and a freed one by a queue id, and the header
 * decides.  A crash while a free file is overwritten leaves a sum that
 * does not match: the file is free again, and nothing in it was
 * acknowledged.  The file is never cut to length (that is metadata to
 * sync too): octets after LEN are stale.  A file is created (written as
 * ID.tmp, renamed, directory sync'd) only when none is free.
 */
#define SPOOL_HDR	64
#define SPOOL_MAGIC	"Rebound-Batch "
#define SPOOL_FREE_MAX	1024

#define SPOOL_INFLIGHT	"inflight"

void spool_seterr(char **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
int spool_valid_id(const char *id);
/* Strictly increasing microseconds, so ids sort in arrival order. */
int64_t spool_tick(struct spool *s);
char *spool_id_for(int64_t us);
/*
 * Parses an envelope header (NUL-terminated, without the blank line; the
 * buffer is modified).  *version is the Rebound-Spool value, *have_size
 * whether a Size line was seen.  Returns a new envelope (never NULL).
 */
struct spool_envelope *spool_envelope_parse(char *buf, int *version, int *have_size);
/* Reads len bytes at off; returns how many were read (short at end of file). */
size_t spool_pread_all(int fd, char *buf, size_t len, off_t off);
/* Caller holds s->lock. */
void spool_index_add(struct spool *s, struct spool_file *f, const char *id, off_t off, size_t len);
/* Whether queue_id is an entry of the spool. */
gboolean spool_has(struct spool *s, const char *queue_id);

/* The batch header (spool_scan.c): SUM over LEN and the records. */
EVP_MD_CTX *spool_sum_begin(uint64_t len);
void spool_sum_add(EVP_MD_CTX *ctx, const void *p, size_t len);
/* Finishes the digest into the SPOOL_HDR octets of a batch header. */
void spool_sum_header(EVP_MD_CTX *ctx, uint64_t len, char hdr[SPOOL_HDR]);
/* The header of a file with no entries: never valid, whatever follows. */
void spool_free_header(char hdr[SPOOL_HDR]);
/* Indexes queue/NAME at start-up; FALSE when it holds no entries (free). */
gboolean spool_index_file(struct spool *s, const char *name);

/* The writer thread (spool_commit.c). */
gpointer spool_writer(gpointer arg);

/* Attempts (spool_attempts.c): the recorded count of id, 0 if none. */
int spool_read_attempts(struct spool *s, const char *id);
/* At open: counts of a batch the daemon died in become the entries' attempts. */
int spool_inflight_recover(struct spool *s, char **err);

#endif
