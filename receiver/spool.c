/* spool.c - the durable queue; see spool.h for layout and group commit. */
#include "receiver/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/random.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/metrics.h"

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

static const char spool_b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void
spool_seterr(char **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
spool_seterr(char **err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	*err = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

static int
spool_valid_id(const char *id)
{
	size_t i;

	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (id[i] == '\0' || strchr(spool_b62, id[i]) == NULL)
			return 0;
	return id[i] == '\0';
}

/* Strictly increasing microseconds, so ids sort in arrival order. */
static int64_t
spool_tick(struct spool *s)
{
	int64_t now = g_get_real_time();

	g_mutex_lock(&s->lock);
	if (now <= s->last_us)
		now = s->last_us + 1;
	s->last_us = now;
	g_mutex_unlock(&s->lock);
	return now;
}

static char *
spool_id_for(int64_t us)
{
	char id[SPOOL_ID_LEN + 1];
	uint64_t v = (uint64_t)us;
	int i;

	/* 11 base-62 digits of time (good past year 10^6), 5 random ones. */
	for (i = 10; i >= 0; i--) {
		id[i] = spool_b62[v % 62];
		v /= 62;
	}
	for (i = 11; i < SPOOL_ID_LEN; i++)
		id[i] = spool_b62[g_random_int_range(0, 62)];
	id[SPOOL_ID_LEN] = '\0';
	return g_strdup(id);
}

char *
spool_new_id(struct spool *s)
{
	return spool_id_for(spool_tick(s));
}

static int
spool_mkdir(int parent, const char *name, char **err)
{
	int fd;

	if (mkdirat(parent, name, 0700) == -1 && errno != EEXIST) {
		spool_seterr(err, "mkdir %s: %s", name, strerror(errno));
		return -1;
	}
	if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		spool_seterr(err, "open %s: %s", name, strerror(errno));
	return fd;
}

static gpointer spool_writer(gpointer arg);

/*
 * Parses an envelope header (NUL-terminated, without the blank line; the
 * buffer is modified).  *version is the Rebound-Spool value, *have_size
 * whether a Size line was seen.  Returns a new envelope (never NULL).
 */
static struct spool_envelope *
spool_envelope_parse(char *buf, int *version, int *have_size)
{
	struct spool_envelope *env = g_new0(struct spool_envelope, 1);
	GPtrArray *rcpts = g_ptr_array_new();
	char *p;

	*version = 0;
	*have_size = 0;
	for (p = buf; p != NULL && *p != '\0'; ) {
		char *nl = strchr(p, '\n'), *colon, *val;
		if (nl != NULL)
			*nl = '\0';
		if ((colon = strstr(p, ": ")) != NULL) {
			*colon = '\0';
			val = g_strcompress(colon + 2);
			if (strcmp(p, "Rebound-Spool") == 0)
				*version = atoi(val);
			else if (strcmp(p, "Queue-Id") == 0)
				g_free(env->queue_id), env->queue_id = g_strdup(val);
			else if (strcmp(p, "Arrival-Us") == 0)
				env->arrival_us = g_ascii_strtoll(val, NULL, 10);
			else if (strcmp(p, "Client") == 0)
				g_free(env->client_addr), env->client_addr = g_strdup(val);
			else if (strcmp(p, "Helo") == 0)
				g_free(env->helo), env->helo = g_strdup(val);
			else if (strcmp(p, "Tls") == 0)
				g_free(env->tls), env->tls = g_strdup(val);
			else if (strcmp(p, "Mail-From") == 0)
				g_free(env->mail_from), env->mail_from = g_strdup(val);
			else if (strcmp(p, "Rcpt") == 0)
				g_ptr_array_add(rcpts, g_strdup(val));
			else if (strcmp(p, "Size") == 0) {
				env->size = g_ascii_strtoull(val, NULL, 10);
				*have_size = 1;
			}
			g_free(val);
		}
		p = nl ? nl + 1 : NULL;
	}
	g_ptr_array_add(rcpts, NULL);
	env->rcpts = (char **)g_ptr_array_free(rcpts, FALSE);
	if (env->mail_from == NULL)
		env->mail_from = g_strdup("");
	return env;
}

/* Reads len bytes at off; returns how many were read (short at end of file). */
static size_t
spool_pread_all(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = pread(fd, buf + got, len - got, off + (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* SUM for a batch header: starts the digest of LEN and the records. */
static EVP_MD_CTX *
spool_sum_begin(uint64_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char l[17];

	snprintf(l, sizeof l, "%016" G_GINT64_MODIFIER "x", (guint64)len);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, l, 16) != 1)
		g_error("spool: EVP sha256 unavailable");	/* can't happen */
	return ctx;
}

static void
spool_sum_add(EVP_MD_CTX *ctx, const void *p, size_t len)
{
	if (EVP_DigestUpdate(ctx, p, len) != 1)
		g_error("spool: EVP_DigestUpdate failed");	/* can't happen */
}

/* Finishes the digest into the SPOOL_HDR octets of a batch header. */
static void
spool_sum_header(EVP_MD_CTX *ctx, uint64_t len, char hdr[SPOOL_HDR])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char text[SPOOL_HDR + 1];
	int i, k;

	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16)
		g_error("spool: EVP_DigestFinal failed");	/* can't happen */
	EVP_MD_CTX_free(ctx);
	k = snprintf(text, sizeof text, SPOOL_MAGIC "%016" G_GINT64_MODIFIER "x ", (guint64)len);
	for (i = 0; i < 16; i++)
		k += snprintf(text + k, sizeof text - k, "%02x", md[i]);
	memset(hdr, ' ', SPOOL_HDR);
	memcpy(hdr, text, MIN((size_t)k, (size_t)SPOOL_HDR - 1));
	hdr[SPOOL_HDR - 1] = '\n';
}

/*
 * Whether fd starts with a batch header whose sum matches the records
 * after it; *len their octets.  A torn or freed file does not.
 */
static gboolean
spool_batch_valid(int fd, off_t fsize, uint64_t *len)
{
	char hdr[SPOOL_HDR], want[SPOOL_HDR], *buf, *end;
	uint64_t n;
	gboolean ok;

	if (fsize < SPOOL_HDR || spool_pread_all(fd, hdr, SPOOL_HDR, 0) != SPOOL_HDR ||
	    memcmp(hdr, SPOOL_MAGIC, strlen(SPOOL_MAGIC)) != 0)
		return FALSE;
	n = g_ascii_strtoull(hdr + strlen(SPOOL_MAGIC), &end, 16);
	if (end != hdr + strlen(SPOOL_MAGIC) + 16 || n > (uint64_t)(fsize - SPOOL_HDR))
		return FALSE;
	buf = g_malloc(n ? n : 1);
	ok = spool_pread_all(fd, buf, n, SPOOL_HDR) == n;
	if (ok) {
		EVP_MD_CTX *ctx = spool_sum_begin(n);
		spool_sum_add(ctx, buf, n);
		spool_sum_header(ctx, n, want);
		ok = memcmp(hdr, want, SPOOL_HDR) == 0;
	}
	g_free(buf);
	*len = n;
	return ok;
}

/* The header of a file with no entries: never valid, whatever follows. */
static void
spool_free_header(char hdr[SPOOL_HDR])
{
	memset(hdr, ' ', SPOOL_HDR);
	memcpy(hdr, SPOOL_MAGIC "free", strlen(SPOOL_MAGIC "free"));
	hdr[SPOOL_HDR - 1] = '\n';
}

/* Caller holds s->lock. */
static void
spool_index_add(struct spool *s, struct spool_file *f, const char *id, off_t off, size_t len)
{
	struct spool_entry *e = g_new(struct spool_entry, 1);

	e->file = f;
	e->off = off;
	e->len = len;
	f->live++;
	g_hash_table_replace(s->index, g_strdup(id), e);
}

/* Envelope headers are small; this bounds a damaged one. */
#define SPOOL_HEADER_MAX	(1024 * 1024)

/*
 * Reads the envelope header of the record at off: a g_malloc'd
 * NUL-terminated copy without the blank line, *hlen the octets it takes
 * with the blank line; NULL if there is none within SPOOL_HEADER_MAX.
 */
static char *
spool_header_at(int fd, off_t off, off_t fsize, size_t *hlen)
{
	size_t want = 4096, got;
	char *buf, *end;

	for (;;) {
		if ((off_t)want > fsize - off)
			want = fsize - off;
		buf = g_malloc(want + 1);
		got = spool_pread_all(fd, buf, want, off);
		buf[got] = '\0';
		if ((end = g_strstr_len(buf, got, "\n\n")) != NULL) {
			*end = '\0';
			*hlen = (end - buf) + 2;
			return buf;
		}
		g_free(buf);
		if (got < want || (off_t)want >= fsize - off || want >= SPOOL_HEADER_MAX)
			return NULL;
		want *= 4;
	}
}

/*
 * Indexes the records of queue/NAME (at start-up); FALSE when it holds
 * none (a free file, to be reused).  A file with a batch header holds
 * entries when its sum matches, whatever its name.  A file without one
 * was written whole under its queue id: one whose first record is
 * unreadable is indexed whole under its name, so that spool_read()
 * reports it damaged and processing decides what to do.  An unreadable
 * record after good ones marks the file damaged, so that it is set aside
 * rather than recycled once its good entries are done.
 */
static gboolean
spool_index_file(struct spool *s, const char *name)
{
	struct spool_file *f = g_new0(struct spool_file, 1);
	struct stat st = { 0 };
	off_t off = 0, end;
	uint64_t len = 0;
	gboolean batch = FALSE;
	int fd;

	g_strlcpy(f->name, name, sizeof f->name);
	if ((fd = openat(s->qfd, name, O_RDONLY | O_CLOEXEC)) != -1 && fstat(fd, &st) == 0) {
		char magic[sizeof SPOOL_MAGIC - 1];
		batch = spool_pread_all(fd, magic, sizeof magic, 0) == sizeof magic &&
		    memcmp(magic, SPOOL_MAGIC, sizeof magic) == 0;
	}
	if (fd != -1 && batch && !spool_batch_valid(fd, st.st_size, &len)) {
		close(fd);
		g_free(f);
		return FALSE;
	}
	if (!batch && !spool_valid_id(name)) {
		if (fd != -1)
			close(fd);
		g_free(f);
		return FALSE;
	}
	off = batch ? SPOOL_HDR : 0;
	end = batch ? (off_t)(SPOOL_HDR + len) : st.st_size;
	while (fd != -1 && off < end) {
		struct spool_envelope *env;
		size_t hlen;
		char *h = spool_header_at(fd, off, end, &hlen);
		int version, have_size, ok;

		if (h == NULL)
			break;
		env = spool_envelope_parse(h, &version, &have_size);
		ok = version == 1 && have_size && env->queue_id != NULL &&
		    spool_valid_id(env->queue_id) &&
		    env->size <= (uint64_t)(end - off - hlen) &&
		    !g_hash_table_contains(s->index, env->queue_id);
		if (ok)
			spool_index_add(s, f, env->queue_id, off, hlen + env->size);
		off += hlen + (ok ? env->size : 0);
		spool_envelope_free(env);
		g_free(h);
		if (!ok)
			break;
	}
	if (f->live == 0 && batch) {
		/* a right sum over records that do not parse: for an operator */
		char aside[48];

		snprintf(aside, sizeof aside, "damaged-%s", name);
		log_warnx("spool event=set-aside file=queue/%s", aside);
		renameat(s->qfd, name, s->qfd, aside);
		g_free(f);
	} else if (f->live == 0)
		spool_index_add(s, f, name, 0, fd != -1 ? (size_t)st.st_size : 0);
	else if (off < end) {
		f->damaged = TRUE;
		log_warnx("spool event=damaged file=queue/%s offset=%jd size=%jd", name,
		    (intmax_t)off, (intmax_t)end);
	}
	if (fd != -1)
		close(fd);
	return TRUE;
}

static void
spool_index_free(struct spool *s)
{
	GHashTableIter it;
	gpointer v;
	/* Files are shared by their entries: collect each once, then free. */
	GHashTable *files = g_hash_table_new(NULL, NULL);

	g_hash_table_iter_init(&it, s->index);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_hash_table_add(files, ((struct spool_entry *)v)->file);
	g_hash_table_iter_init(&it, files);
	while (g_hash_table_iter_next(&it, &v, NULL))
		g_free(v);
	g_hash_table_destroy(files);
	g_hash_table_destroy(s->index);
	s->index = NULL;
}
static int spool_inflight_recover(struct spool *s, char **err);

struct spool *
spool_open(const char *dir, char **err)
{
	struct spool *s;
	int dfd, i;
	DIR *d;
	struct dirent *de;
	GQueue freed = G_QUEUE_INIT;
	char *name;

	if (g_mkdir_with_parents(dir, 0700) == -1) {
		spool_seterr(err, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		spool_seterr(err, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	s = g_new0(struct spool, 1);
	s->dir = g_strdup(dir);
	s->qfd = s->tmpfd = s->afd = s->inflight_fd = -1;
	g_mutex_init(&s->lock);
	s->index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if ((s->qfd = spool_mkdir(dfd, "queue", err)) == -1 ||
	    (s->tmpfd = spool_mkdir(dfd, "tmp", err)) == -1 ||
	    (s->afd = spool_mkdir(dfd, "attempts", err)) == -1) {
		close(dfd);
		spool_close(s);
		return NULL;
	}
	fsync(dfd);
	close(dfd);

	/* tmp/ holds only writes that were never acknowledged: drop them. */
	if ((d = fdopendir(dup(s->tmpfd))) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && unlinkat(s->tmpfd, de->d_name, 0) == 0)
				log_info("spool event=discard-partial file=tmp/%s", de->d_name);
		closedir(d);
	}
	if ((d = fdopendir(dup(s->qfd))) != NULL) {
		while ((de = readdir(d)) != NULL) {
			gboolean is_free = g_str_has_prefix(de->d_name, "free-");

			if (is_free) {
				guint64 seq = g_ascii_strtoull(de->d_name + 5, NULL, 10);
				/* New names must never collide with one on disk. */
				if (seq >= s->free_seq)
					s->free_seq = seq + 1;
			}
			if (g_str_has_suffix(de->d_name, ".tmp")) {
				if (unlinkat(s->qfd, de->d_name, 0) == 0)
					log_info("spool event=discard-partial file=queue/%s", de->d_name);
				continue;
			}
			if ((!is_free && !spool_valid_id(de->d_name)) ||
			    strlen(de->d_name) >= sizeof ((struct spool_file *)0)->name ||
			    spool_index_file(s, de->d_name))
				continue;
			/* No entries: a free file, named so once the queue ids are known. */
			g_queue_push_tail(&freed, g_strdup(de->d_name));
		}
		closedir(d);
	}
	while ((name = g_queue_pop_head(&freed)) != NULL) {
		char fresh[32];

		snprintf(fresh, sizeof fresh, "free-%" G_GUINT64_FORMAT, s->free_seq++);
		if (s->free_names.length >= SPOOL_FREE_MAX)
			unlinkat(s->qfd, name, 0);
		else if (g_str_has_prefix(name, "free-"))
			g_queue_push_tail(&s->free_names, g_strdup(name));
		else if (renameat(s->qfd, name, s->qfd, fresh) == 0)
			g_queue_push_tail(&s->free_names, g_strdup(fresh));
		g_free(name);
	}
	if (spool_inflight_recover(s, err) == -1) {
		spool_close(s);
		return NULL;
	}
	metrics_set("rebound_spool_backlog", NULL, NULL, (double)g_hash_table_size(s->index));
	s->jobs = g_async_queue_new();
	for (i = 0; i < SPOOL_WRITERS; i++)
		s->writers[i] = g_thread_new("spool-writer", spool_writer, s);
	return s;
}

void
spool_close(struct spool *s)
{
	int i;

	if (s == NULL)
		return;
	/* One sentinel per writer, queued behind every job: all jobs finish. */
	for (i = 0; i < SPOOL_WRITERS; i++)
		if (s->writers[i] != NULL) {
			struct spool_job *stop = g_new0(struct spool_job, 1);
			stop->stop = 1;
			g_async_queue_push(s->jobs, stop);
		}
	for (i = 0; i < SPOOL_WRITERS; i++)
		if (s->writers[i] != NULL)
			g_thread_join(s->writers[i]);
	if (s->jobs)
		g_async_queue_unref(s->jobs);
	if (s->qfd != -1)
		close(s->qfd);
	if (s->tmpfd != -1)
		close(s->tmpfd);
	if (s->afd != -1)
		close(s->afd);
	if (s->inflight_fd != -1)
		close(s->inflight_fd);
	g_queue_clear_full(&s->free_names, g_free);
	if (s->index != NULL)
		spool_index_free(s);
	g_mutex_clear(&s->lock);
	g_free(s->dir);
	g_free(s);
}

void
spool_set_notify(struct spool *s, void (*fn)(void *arg), void *arg)
{
	g_mutex_lock(&s->lock);
	s->notify = fn;
	s->notify_arg = arg;
	g_mutex_unlock(&s->lock);
}

void
spool_set_min_free(struct spool *s, uint64_t bytes)
{
	g_mutex_lock(&s->lock);
	s->min_free = bytes;
	g_mutex_unlock(&s->lock);
}

size_t
spool_count(struct spool *s)
{
	size_t n;

	g_mutex_lock(&s->lock);
	n = g_hash_table_size(s->index);
	g_mutex_unlock(&s->lock);
	return n;
}

static void
spool_header_add(GString *h, const char *key, const char *val)
{
	char *e = g_strescape(val ? val : "", NULL);

	g_string_append_printf(h, "%s: %s\n", key, e);
	g_free(e);
}

static int
spool_write_all(int fd, const struct iovec *iov0, int n)
{
	struct iovec *iov = g_memdup2(iov0, sizeof(struct iovec) * n);
	ssize_t w;
	int i = 0, rc = 0;

	while (i < n) {
		if (iov[i].iov_len == 0) {
			i++;
			continue;
		}
		w = writev(fd, iov + i, MIN(n - i, IOV_MAX));
		if (w == -1) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		while (w > 0 && i < n) {
			if ((size_t)w >= iov[i].iov_len) {
				w -= iov[i].iov_len;
				iov[i].iov_len = 0;
				i++;
			} else {
				iov[i].iov_base = (char *)iov[i].iov_base + w;
				iov[i].iov_len -= w;
				w = 0;
			}
		}
	}
	g_free(iov);
	return rc;
}

static enum spool_status
spool_errno_status(int e)
{
	return (e == ENOSPC || e == EDQUOT) ? SPOOL_ENOSPACE : SPOOL_EIO;
}

/*
 * Assigns the queue id and builds the envelope header; a job refused here
 * (bad id, below min_free) keeps its error and is left out of the batch.
 */
static void
spool_job_prepare(struct spool *s, struct spool_job *j)
{
	struct spool_envelope *env = j->env;
	struct statvfs vfs;
	uint64_t min_free;
	GString *h;
	int i;

	if (env->queue_id == NULL) {
		if (env->arrival_us == 0)
			env->arrival_us = spool_tick(s);
		env->queue_id = spool_id_for(env->arrival_us);
	} else if (!spool_valid_id(env->queue_id)) {
		j->err = g_strdup("invalid queue id");
		return;
	}
	if (env->arrival_us == 0)
		env->arrival_us = g_get_real_time();
	env->size = j->len;

	g_mutex_lock(&s->lock);
	min_free = s->min_free;
	g_mutex_unlock(&s->lock);
	if (min_free > 0 && fstatvfs(s->qfd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < min_free + j->len) {
		j->st = SPOOL_ENOSPACE;
		j->err = g_strdup("spool file system below min_free_mb");
		return;
	}

	h = g_string_sized_new(512);
	g_string_append(h, "Rebound-Spool: 1\n");
	spool_header_add(h, "Queue-Id", env->queue_id);
	g_string_append_printf(h, "Arrival-Us: %" G_GINT64_FORMAT "\n", env->arrival_us);
	spool_header_add(h, "Client", env->client_addr);
	spool_header_add(h, "Helo", env->helo);
	if (env->tls != NULL)
		spool_header_add(h, "Tls", env->tls);
	spool_header_add(h, "Mail-From", env->mail_from);
	for (i = 0; env->rcpts && env->rcpts[i]; i++)
		spool_header_add(h, "Rcpt", env->rcpts[i]);
	g_string_append_printf(h, "Size: %" G_GUINT64_FORMAT "\n\n", env->size);
	j->hdr = h;
}

/* Appends the first len octets of in to out at out's file offset. */
static int
spool_copy_fd(int out, int in, size_t len)
{
	char buf[65536];
	loff_t off = 0;
	ssize_t r;

	while (len > 0) {
		r = copy_file_range(in, &off, out, NULL, len, 0);
		if (r > 0) {
			len -= r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0 || (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP && errno != EBADF))
			break;
		/* No in-kernel copy between these files: through a small buffer. */
		while (len > 0) {
			struct iovec v;
			r = pread(in, buf, MIN(len, sizeof buf), off);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			v.iov_base = buf;
			v.iov_len = r;
			if (spool_write_all(out, &v, 1) == -1)
				return -1;
			off += r;
			len -= r;
		}
		break;
	}
	if (len > 0) {
		if (errno == 0)
			errno = EIO;	/* the file was shorter than its length */
		return -1;
	}
	return 0;
}

/*
 * The batch header for the prepared jobs' records (size octets); -1 with
 * errno when a message in a file cannot be read.
 */
static int
spool_batch_header(struct spool_job **jobs, int n, uint64_t size, char hdr[SPOOL_HDR])
{
	EVP_MD_CTX *ctx = spool_sum_begin(size);
	char buf[65536];
	int i, rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		struct spool_job *j = jobs[i];
		size_t done = 0;
		ssize_t r;

		if (j->hdr == NULL)
			continue;
		spool_sum_add(ctx, j->hdr->str, j->hdr->len);
		if (!j->from_fd) {
			spool_sum_add(ctx, j->data, j->len);
			continue;
		}
		while (done < j->len) {
			r = pread(j->fd, buf, MIN(j->len - done, sizeof buf), (off_t)done);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (r == 0)
					errno = EIO;	/* the file was shorter than its length */
				rc = -1;
				break;
			}
			spool_sum_add(ctx, buf, (size_t)r);
			done += (size_t)r;
		}
	}
	spool_sum_header(ctx, size, hdr);
	return rc;
}

/*
 * Writes the batch header, then each prepared job's header and message,
 * end to end: messages in memory with one writev per run of them,
 * messages in a file by copying.
 */
static int
spool_write_records(int fd, const char *bhdr, struct spool_job **jobs, int n, struct iovec *iov)
{
	int i, k = 0;

	iov[k].iov_base = (void *)(uintptr_t)bhdr;
	iov[k++].iov_len = SPOOL_HDR;
	for (i = 0; i < n; i++) {
		struct spool_job *j = jobs[i];
		if (j->hdr == NULL)
			continue;
		iov[k].iov_base = j->hdr->str;
		iov[k++].iov_len = j->hdr->len;
		if (!j->from_fd) {
			iov[k].iov_base = j->data;
			iov[k++].iov_len = j->len;
			continue;
		}
		if (spool_write_all(fd, iov, k) == -1)
			return -1;
		k = 0;
		errno = 0;
		if (spool_copy_fd(fd, j->fd, j->len) == -1)
			return -1;
	}
	return k > 0 ? spool_write_all(fd, iov, k) : 0;
}

/*
 * Commits a batch: every prepared job's record goes into one file behind
 * a batch header, written over a recycled free-N file (or, when none is
 * free, a new ID.tmp) and fdatasync'd; a recycled file is then renamed to
 * the batch's first queue id without a directory sync (its header, not
 * its name, makes it live: see SPOOL_HDR), a new one renamed and queue/
 * fsync'd.  Only then are the entries indexed and the jobs reported done.
 * One file per batch instead of per message: a commit costs one data
 * flush however many messages it carries, where per-message files spent
 * most of the writers' time allocating inodes, contending for the
 * directory lock and flushing the disk cache once per file.
 */
static void
spool_batch_commit(struct spool *s, struct spool_job **jobs, int n)
{
	struct iovec *iov = g_new(struct iovec, 2 * n + 1);
	struct spool_job *first = NULL;
	struct spool_file *f;
	char tmpname[32], bhdr[SPOOL_HDR], *fname, *err = NULL;
	enum spool_status st = SPOOL_OK;
	void (*notify)(void *);
	void *narg;
	uint64_t size = 0;
	off_t off;
	int i, fd = -1, reused = 0;

	for (i = 0; i < n; i++) {
		struct spool_job *j = jobs[i];
		spool_job_prepare(s, j);
		if (j->hdr == NULL)
			continue;
		if (first == NULL)
			first = j;
		size += j->hdr->len + j->len;
	}
	if (first == NULL) {
		g_free(iov);
		return;
	}

	/* Written next to its final name: a rename within one directory
	 * avoids the file system's global cross-directory rename lock. */
	g_mutex_lock(&s->lock);
	fname = g_queue_pop_head(&s->free_names);
	g_mutex_unlock(&s->lock);
	if (fname != NULL) {
		g_strlcpy(tmpname, fname, sizeof tmpname);
		g_free(fname);
		fd = openat(s->qfd, tmpname, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		reused = fd != -1;
	}
	if (fd == -1) {
		snprintf(tmpname, sizeof tmpname, "%s.tmp", first->env->queue_id);
		fd = openat(s->qfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd == -1 || spool_batch_header(jobs, n, size, bhdr) == -1 ||
	    spool_write_records(fd, bhdr, jobs, n, iov) == -1 || fdatasync(fd) == -1) {
		st = spool_errno_status(errno);
		err = g_strdup_printf("write queue/%s: %s", tmpname, strerror(errno));
		if (fd != -1) {
			/* whatever reached the disk must never count as entries */
			spool_free_header(bhdr);
			if (pwrite(fd, bhdr, SPOOL_HDR, 0) != SPOOL_HDR)
				log_warn("spool event=unmark-failed file=queue/%s", tmpname);
		}
	} else if (reused) {
		/* durable already; the name only follows what it holds */
		if (renameat(s->qfd, tmpname, s->qfd, first->env->queue_id) == 0)
			g_strlcpy(tmpname, first->env->queue_id, sizeof tmpname);
	} else if (close(fd), fd = -1,
	    renameat(s->qfd, tmpname, s->qfd, first->env->queue_id) == -1) {
		st = spool_errno_status(errno);
		err = g_strdup_printf("rename %s: %s", first->env->queue_id, strerror(errno));
	} else if (g_strlcpy(tmpname, first->env->queue_id, sizeof tmpname), fsync(s->qfd) == -1) {
		/* Not known durable: take the file back out and fail the batch. */
		st = spool_errno_status(errno);
		err = g_strdup_printf("fsync queue: %s", strerror(errno));
	}
	g_free(iov);
	if (fd != -1)
		close(fd);
	if (err != NULL) {
		unlinkat(s->qfd, tmpname, 0);
		for (i = 0; i < n; i++)
			if (jobs[i]->hdr != NULL) {
				jobs[i]->st = st;
				jobs[i]->err = g_strdup(err);
			}
		g_free(err);
		return;
	}

	f = g_new0(struct spool_file, 1);
	g_strlcpy(f->name, tmpname, sizeof f->name);
	off = SPOOL_HDR;
	g_mutex_lock(&s->lock);
	for (i = 0; i < n; i++) {
		struct spool_job *j = jobs[i];
		if (j->hdr == NULL)
			continue;
		spool_index_add(s, f, j->env->queue_id, off, j->hdr->len + j->len);
		off += j->hdr->len + j->len;
		j->st = SPOOL_OK;
	}
	/* Set under the lock so that concurrent updates land in order. */
	metrics_set("rebound_spool_backlog", NULL, NULL, (double)g_hash_table_size(s->index));
	notify = s->notify;
	narg = s->notify_arg;
	g_mutex_unlock(&s->lock);
	if (notify != NULL)
		notify(narg);
}

static void
spool_job_free(struct spool_job *j)
{
	spool_envelope_free(j->env);
	g_free(j->data);
	if (j->from_fd)
		close(j->fd);
	g_free(j->err);
	if (j->hdr != NULL)
		g_string_free(j->hdr, TRUE);
	g_free(j);
}

static gpointer
spool_writer(gpointer arg)
{
	struct spool *s = arg;
	struct spool_job *batch[SPOOL_BATCH];
	int n, i, stop = 0;

	while (!stop) {
		struct spool_job *j = g_async_queue_pop(s->jobs);
		n = 0;
		while (j != NULL) {
			if (j->stop) {
				g_free(j);
				stop = 1;
				break;
			}
			j->st = SPOOL_EIO;
			batch[n++] = j;
			if (n == SPOOL_BATCH)
				break;
			j = g_async_queue_try_pop(s->jobs);
		}
		if (n > 0)
			spool_batch_commit(s, batch, n);
		for (i = 0; i < n; i++) {
			batch[i]->done(batch[i]->arg, batch[i]->env->queue_id, batch[i]->st,
			    batch[i]->err);
			spool_job_free(batch[i]);
		}
	}
	return NULL;
}

/* A new job for the writer thread: the body (in memory or in a file) is the caller's to set. */
static struct spool_job *
spool_job_new(struct spool *s, struct spool_envelope *env, size_t len, spool_done_fn done,
    void *arg)
{
	struct spool_job *j = g_new0(struct spool_job, 1);

	j->env = env;
	j->len = len;
	j->done = done;
	j->arg = arg;
	if (env->queue_id == NULL) {
		env->arrival_us = spool_tick(s);
		env->queue_id = spool_id_for(env->arrival_us);
	}
	return j;
}

void
spool_commit_async(struct spool *s, struct spool_envelope *env, char *data, size_t len,
    spool_done_fn done, void *arg)
{
	struct spool_job *j = spool_job_new(s, env, len, done, arg);

	j->data = data;
	g_async_queue_push(s->jobs, j);
}

void
spool_commit_async_fd(struct spool *s, struct spool_envelope *env, int fd, size_t len,
    spool_done_fn done, void *arg)
{
	struct spool_job *j = spool_job_new(s, env, len, done, arg);

	j->fd = fd;
	j->from_fd = 1;
	g_async_queue_push(s->jobs, j);
}

int
spool_has_room(struct spool *s, uint64_t len)
{
	struct statvfs vfs;
	uint64_t min_free;

	g_mutex_lock(&s->lock);
	min_free = s->min_free;
	g_mutex_unlock(&s->lock);
	return min_free == 0 || fstatvfs(s->tmpfd, &vfs) != 0 ||
	    (uint64_t)vfs.f_bavail * vfs.f_frsize >= min_free + len;
}

int
spool_tmpfile(struct spool *s, char **err)
{
	char name[32];
	guint32 r;
	int fd, tries;

	fd = openat(s->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		spool_seterr(err, "tmpfile in %s/tmp: %s", s->dir, strerror(errno));
		return -1;
	}
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	for (tries = 0; tries < 8; tries++) {
		if (getrandom(&r, sizeof r, 0) != sizeof r)
			r = g_random_int();
		snprintf(name, sizeof name, "data-%08x", r);
		fd = openat(s->tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1) {
			unlinkat(s->tmpfd, name, 0);
			return fd;
		}
		if (errno != EEXIST)
			break;
	}
	spool_seterr(err, "tmpfile in %s/tmp: %s", s->dir, strerror(errno));
	return -1;
}

int
spool_commit(struct spool *s, struct spool_envelope *env, const char *data, size_t len,
    char **err)
{
	struct spool_job j, *jp = &j;
	int rc;

	memset(&j, 0, sizeof j);
	j.env = env;
	j.data = (char *)(uintptr_t)data;
	j.len = len;
	j.st = SPOOL_EIO;
	spool_batch_commit(s, &jp, 1);
	if (j.hdr != NULL)
		g_string_free(j.hdr, TRUE);
	rc = j.st == SPOOL_OK ? 0 : -1;
	if (rc == -1) {
		if (err != NULL)
			*err = j.err;
		else
			g_free(j.err);
	}
	return rc;
}

static int
spool_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *
spool_list(struct spool *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer k;

	g_mutex_lock(&s->lock);
	g_ptr_array_set_size(out, 0);
	g_hash_table_iter_init(&it, s->index);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(out, g_strdup(k));
	g_mutex_unlock(&s->lock);
	g_ptr_array_sort(out, spool_cmp);
	return out;
}

/* Whether queue_id is an entry of the spool. */
static gboolean
spool_has(struct spool *s, const char *queue_id)
{
	gboolean r;

	g_mutex_lock(&s->lock);
	r = g_hash_table_contains(s->index, queue_id);
	g_mutex_unlock(&s->lock);
	return r;
}

/* Reads a whole file below dirfd; returns a g_malloc'd buffer or NULL with errno. */
static char *
spool_slurp(int dirfd, const char *name, size_t *lenp)
{
	struct stat st;
	char *buf;
	size_t off;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	buf = g_malloc((size_t)st.st_size + 1);
	off = spool_pread_all(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

static int
spool_read_attempts(struct spool *s, const char *id)
{
	size_t len;
	char *b = spool_slurp(s->afd, id, &len);
	int n = b ? atoi(b) : 0;

	g_free(b);
	return n;
}

int
spool_read(struct spool *s, const char *queue_id, struct spool_envelope **envp,
    GBytes **data, char **err)
{
	struct spool_envelope *env;
	struct spool_entry *e;
	char name[SPOOL_ID_LEN + 1], *buf, *end, *body;
	size_t len, got;
	off_t off;
	int fd, version, have_size;

	*envp = NULL;
	*data = NULL;
	if (!spool_valid_id(queue_id)) {
		spool_seterr(err, "invalid queue id");
		return -1;
	}
	g_mutex_lock(&s->lock);
	if ((e = g_hash_table_lookup(s->index, queue_id)) != NULL) {
		g_strlcpy(name, e->file->name, sizeof name);
		off = e->off;
		len = e->len;
	}
	g_mutex_unlock(&s->lock);
	if (e == NULL) {
		spool_seterr(err, "%s: %s", queue_id, strerror(ENOENT));
		return -1;
	}
	if ((fd = openat(s->qfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		spool_seterr(err, "%s: queue/%s: %s", queue_id, name, strerror(errno));
		return -1;
	}
	buf = g_malloc(len + 1);
	got = spool_pread_all(fd, buf, len, off);
	close(fd);
	buf[got] = '\0';
	if (got < len || (end = g_strstr_len(buf, got, "\n\n")) == NULL) {
		g_free(buf);
		spool_seterr(err, "%s: damaged entry (%s)", queue_id,
		    got < len ? "truncated" : "no envelope");
		return -1;
	}
	*end = '\0';
	body = end + 2;
	env = spool_envelope_parse(buf, &version, &have_size);
	if (version != 1 || !have_size || env->size != (uint64_t)(len - (body - buf)) ||
	    (env->queue_id != NULL && strcmp(env->queue_id, queue_id) != 0)) {
		spool_seterr(err, "%s: damaged entry (version %d, size or id mismatch)", queue_id,
		    version);
		spool_envelope_free(env);
		g_free(buf);
		return -1;
	}
	if (env->queue_id == NULL)
		env->queue_id = g_strdup(queue_id);
	env->attempts = spool_read_attempts(s, queue_id);
	*data = g_bytes_new(body, env->size);
	g_free(buf);
	*envp = env;
	return 0;
}

int
spool_set_attempts(struct spool *s, const char *queue_id, int attempts, char **err)
{
	const char *ids[] = { queue_id };
	char *errs[1] = { NULL };

	if (spool_set_attempts_many(s, ids, &attempts, 1, errs) == 0)
		return 0;
	if (err != NULL)
		*err = errs[0];
	else
		g_free(errs[0]);
	return -1;
}

/*
 * Same steps as a message commit, batched: write each tmp/ID.att and start
 * its writeback, fdatasync them, rename them into attempts/, then one
 * fsync of attempts/.  An entry counts as recorded only after that fsync.
 */
int
spool_set_attempts_many(struct spool *s, const char *const *ids, const int *attempts, size_t n,
    char **errs)
{
	char tmpname[SPOOL_ID_LEN + 8], num[32];
	int *fds = g_new(int, n);
	size_t i, renamed = 0;
	int failed = 0, len;

	for (i = 0; i < n; i++) {
		fds[i] = -1;
		errs[i] = NULL;
		if (!spool_valid_id(ids[i])) {
			errs[i] = g_strdup("invalid queue id");
			continue;
		}
		if (!spool_has(s, ids[i])) {
			errs[i] = g_strdup_printf("%s: %s", ids[i], strerror(ENOENT));
			continue;
		}
		snprintf(tmpname, sizeof tmpname, "%s.att", ids[i]);
		len = snprintf(num, sizeof num, "%d\n", attempts[i]);
		fds[i] = openat(s->tmpfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fds[i] == -1 || write(fds[i], num, len) != len ||
		    (sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE) == -1 && errno != ENOSYS &&
		    errno != EINVAL && errno != ESPIPE))
			goto fail_one;
		continue;
fail_one:
		errs[i] = g_strdup_printf("%s: attempts: %s", ids[i], strerror(errno));
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
		unlinkat(s->tmpfd, tmpname, 0);
	}
	for (i = 0; i < n; i++) {
		if (fds[i] == -1)
			continue;
		snprintf(tmpname, sizeof tmpname, "%s.att", ids[i]);
		if (fdatasync(fds[i]) == -1 || renameat(s->tmpfd, tmpname, s->afd, ids[i]) == -1) {
			errs[i] = g_strdup_printf("%s: attempts: %s", ids[i], strerror(errno));
			unlinkat(s->tmpfd, tmpname, 0);
		} else
			renamed++;
		close(fds[i]);
		fds[i] = errs[i] == NULL ? 0 : -1;	/* 0: renamed */
	}
	if (renamed > 0 && fsync(s->afd) == -1) {
		int e = errno;
		for (i = 0; i < n; i++)
			if (fds[i] == 0 && errs[i] == NULL)
				errs[i] = g_strdup_printf("%s: attempts: fsync: %s", ids[i], strerror(e));
	}
	for (i = 0; i < n; i++)
		if (errs[i] != NULL)
			failed++;
	g_free(fds);
	return failed;
}

int
spool_remove(struct spool *s, const char *queue_id, char **err)
{
	const char *ids[] = { queue_id };
	char *errs[1] = { NULL };

	if (spool_remove_many(s, ids, 1, errs) == 0)
		return 0;
	if (err != NULL)
		*err = errs[0];
	else
		g_free(errs[0]);
	return -1;
}

/*
 * Takes a file whose entries are all removed out of queue/: its header
 * marked free and the file renamed for reuse, or unlinked; a damaged one
 * is set aside as damaged-NAME for an operator.  Nothing here is synced:
 * a crash may bring the file's entries back (see spool_remove_many).
 */
static int
spool_recycle(struct spool *s, const struct spool_file *f)
{
	char name[48], hdr[SPOOL_HDR];
	gboolean keep;
	int fd;

	if (f->damaged) {
		snprintf(name, sizeof name, "damaged-%s", f->name);
		log_warnx("spool event=set-aside file=queue/%s", name);
		return renameat(s->qfd, f->name, s->qfd, name);
	}
	g_mutex_lock(&s->lock);
	keep = s->free_names.length < SPOOL_FREE_MAX;
	snprintf(name, sizeof name, "free-%" G_GUINT64_FORMAT, s->free_seq++);
	g_mutex_unlock(&s->lock);
	if (!keep)
		return unlinkat(s->qfd, f->name, 0);
	spool_free_header(hdr);
	if ((fd = openat(s->qfd, f->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (pwrite(fd, hdr, SPOOL_HDR, 0) != SPOOL_HDR) {
		close(fd);
		return unlinkat(s->qfd, f->name, 0);
	}
	close(fd);
	if (renameat(s->qfd, f->name, s->qfd, name) == -1)
		return -1;
	g_mutex_lock(&s->lock);
	g_queue_push_tail(&s->free_names, g_strdup(name));
	g_mutex_unlock(&s->lock);
	return 0;
}

/*
 * An entry leaves the index at once; its file goes when its last entry
 * does.  Until then, and until the file's freeing reaches the disk (the
 * kernel's writeback, typically within 30 s: nothing here syncs, so that
 * removal never competes with commits for the disk), a crash brings the
 * removed entries back, to be processed again: the store recognises a
 * message it already committed by its hash, so that costs time, not
 * correctness.
 */
int
spool_remove_many(struct spool *s, const char *const *ids, size_t n, char **errs)
{
	GPtrArray *done = g_ptr_array_new_with_free_func(g_free);
	size_t i;
	int failed = 0;

	g_mutex_lock(&s->lock);
	for (i = 0; i < n; i++) {
		struct spool_entry *e;
		errs[i] = NULL;
		if (!spool_valid_id(ids[i])) {
			errs[i] = g_strdup("invalid queue id");
			failed++;
			continue;
		}
		if ((e = g_hash_table_lookup(s->index, ids[i])) == NULL) {
			errs[i] = g_strdup_printf("%s: %s", ids[i], strerror(ENOENT));
			failed++;
			continue;
		}
		if (--e->file->live == 0)
			g_ptr_array_add(done, e->file);
		g_hash_table_remove(s->index, ids[i]);
	}
	metrics_set("rebound_spool_backlog", NULL, NULL, (double)g_hash_table_size(s->index));
	g_mutex_unlock(&s->lock);
	for (i = 0; i < n; i++)
		if (errs[i] == NULL)
			unlinkat(s->afd, ids[i], 0);
	for (i = 0; i < done->len; i++) {
		const struct spool_file *f = g_ptr_array_index(done, i);
		if (spool_recycle(s, f) == -1)
			log_warn("spool event=remove-failed file=queue/%s", f->name);
	}
	g_ptr_array_free(done, TRUE);
	return failed;
}

void
spool_envelope_free(struct spool_envelope *env)
{
	if (env == NULL)
		return;
	g_free(env->queue_id);
	g_free(env->client_addr);
	g_free(env->helo);
	g_free(env->tls);
	g_free(env->mail_from);
	g_strfreev(env->rcpts);
	g_free(env);
}

/*
 * The in-flight record: one file, attempts/inflight, rewritten in place for
 * each batch ("ID attempts" lines), fdatasync'd before the batch is parsed.
 * It replaces a durable attempts/ID file per message per attempt (a new
 * inode, two syncs and a directory sync each) with one write and one sync
 * per batch.  Per-message files are still written where a count must
 * outlive the batch: a failed parse kept for retry (spool_set_attempts),
 * and at start-up for the ids of a batch the daemon died in.
 */
int
spool_begin_attempts(struct spool *s, const char *const *ids, const int *attempts, size_t n,
    char **err)
{
	GString *b = g_string_sized_new(n * 24 + 1);
	size_t i;
	int rc = -1;

	for (i = 0; i < n; i++)
		if (spool_valid_id(ids[i]))
			g_string_append_printf(b, "%s %d\n", ids[i], attempts[i]);
	/* A torn rewrite can only leave lines of this batch or of an older,
	 * finished one; recovery checks each line and never lowers a count. */
	if (pwrite(s->inflight_fd, b->str, b->len, 0) != (ssize_t)b->len ||
	    ftruncate(s->inflight_fd, b->len) == -1 || fdatasync(s->inflight_fd) == -1)
		spool_seterr(err, "attempts/%s: %s", SPOOL_INFLIGHT, strerror(errno));
	else
		rc = 0;
	g_string_free(b, TRUE);
	return rc;
}

static int
spool_inflight_recover(struct spool *s, char **err)
{
	size_t len, n = 0;
	char *b, **lines;
	int i;

	if ((b = spool_slurp(s->afd, SPOOL_INFLIGHT, &len)) != NULL) {
		lines = g_strsplit(b, "\n", -1);
		for (i = 0; lines[i] != NULL; i++) {
			char id[SPOOL_ID_LEN + 1];
			int att;

			if (sscanf(lines[i], "%16s %d", id, &att) != 2 || !spool_valid_id(id) ||
			    !spool_has(s, id) || att <= spool_read_attempts(s, id))
				continue;
			if (spool_set_attempts(s, id, att, NULL) == 0)
				n++;
		}
		g_strfreev(lines);
		g_free(b);
		if (n > 0)
			log_info("spool event=recovered-attempts entries=%zu", n);
	}
	s->inflight_fd = openat(s->afd, SPOOL_INFLIGHT, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->inflight_fd == -1 || ftruncate(s->inflight_fd, 0) == -1 || fsync(s->inflight_fd) == -1 ||
	    fsync(s->afd) == -1) {
		spool_seterr(err, "attempts/%s: %s", SPOOL_INFLIGHT, strerror(errno));
		return -1;
	}
	return 0;
}
