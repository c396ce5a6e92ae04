/*
 * spool_commit.c - writing batches: the writer thread, the commit of a
 * batch file, the synchronous commit and the files a long DATA goes to;
 * see spool.h and SPOOL_HDR in spool_int.h.
 */
#include "receiver/spool.h"

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

#include "common/log.h"
#include "common/metrics.h"
#include "receiver/spool_int.h"

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
 * Empty files for the batches to come, created before the directory sync
 * that a new batch file needs, so that the same sync makes their entries
 * durable too: a batch later written into one (it is in the pool like a
 * recycled file) needs its data sync only, where a new file costs a
 * directory sync as well.  Names go to names[]; returns how many.
 */
#define SPOOL_SPARES	15

static int
spool_make_spares(struct spool *s, char names[SPOOL_SPARES][32])
{
	int i, n = 0, fd;

	g_mutex_lock(&s->lock);
	if (s->free_names.length + SPOOL_SPARES > SPOOL_FREE_MAX) {
		g_mutex_unlock(&s->lock);
		return 0;
	}
	for (i = 0; i < SPOOL_SPARES; i++)
		snprintf(names[i], 32, "free-%" G_GUINT64_FORMAT, s->free_seq++);
	g_mutex_unlock(&s->lock);
	for (i = 0; i < SPOOL_SPARES; i++) {
		fd = openat(s->qfd, names[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1)
			break;
		close(fd);
		n++;
	}
	return n;
}

/*
 * Prepares each job (building its record header); returns the first job
 * with a record to write, NULL when none has, and the records' size.
 */
static struct spool_job *
spool_batch_prepare(struct spool *s, struct spool_job **jobs, int n, uint64_t *size)
{
	struct spool_job *first = NULL;
	int i;

	*size = 0;
	for (i = 0; i < n; i++) {
		struct spool_job *j = jobs[i];
		spool_job_prepare(s, j);
		if (j->hdr == NULL)
			continue;
		if (first == NULL)
			first = j;
		*size += j->hdr->len + j->len;
	}
	return first;
}

/*
 * Opens the file to write the batch into: a recycled free-N file when the
 * pool has one (*reused set), else a new ID.tmp.  The name goes to tmpname.
 * Written next to its final name: a rename within one directory avoids the
 * file system's global cross-directory rename lock.
 */
static int
spool_batch_open(struct spool *s, const struct spool_job *first, char tmpname[32], int *reused)
{
	char *fname;
	int fd = -1;

	*reused = 0;
	g_mutex_lock(&s->lock);
	fname = g_queue_pop_head(&s->free_names);
	g_mutex_unlock(&s->lock);
	if (fname != NULL) {
		g_strlcpy(tmpname, fname, 32);
		g_free(fname);
		fd = openat(s->qfd, tmpname, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		*reused = fd != -1;
	}
	if (fd == -1) {
		snprintf(tmpname, 32, "%s.tmp", first->env->queue_id);
		fd = openat(s->qfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	return fd;
}

/*
 * Writes the batch header and the records and syncs the data; -1 with
 * errno.  On failure the header is overwritten as free: whatever reached
 * the disk must never count as entries.
 */
static int
spool_batch_write(int fd, const char *tmpname, struct spool_job **jobs, int n, uint64_t size,
    struct iovec *iov)
{
	char bhdr[SPOOL_HDR];
	int e;

	if (spool_batch_header(jobs, n, size, bhdr) != -1 &&
	    spool_write_records(fd, bhdr, jobs, n, iov) != -1 && fdatasync(fd) != -1)
		return 0;
	e = errno;
	spool_free_header(bhdr);
	if (pwrite(fd, bhdr, SPOOL_HDR, 0) != SPOOL_HDR)
		log_warn("spool event=unmark-failed file=queue/%s", tmpname);
	errno = e;
	return -1;
}

/*
 * Gives the synced file the batch's first queue id.  A recycled file is
 * durable already (its header, not its name, makes it live): a failed
 * rename only leaves it under its free-N name.  A new file needs queue/
 * fsync'd before anything is acknowledged; the spares made first ride on
 * the same sync.  *fd is closed before the rename of a new file, as ever.
 * tmpname follows the file's name; SPOOL_OK or the failure with *err set.
 */
static enum spool_status
spool_batch_publish(struct spool *s, int *fd, int reused, const char *qid, char tmpname[32],
    char **err)
{
	char spares[SPOOL_SPARES][32];
	enum spool_status st;
	int i, nspares;

	if (reused) {
		if (renameat(s->qfd, tmpname, s->qfd, qid) == 0)
			g_strlcpy(tmpname, qid, 32);
		return SPOOL_OK;
	}
	close(*fd);
	*fd = -1;
	if (renameat(s->qfd, tmpname, s->qfd, qid) == -1) {
		st = spool_errno_status(errno);
		*err = g_strdup_printf("rename %s: %s", qid, strerror(errno));
		return st;
	}
	g_strlcpy(tmpname, qid, 32);
	nspares = spool_make_spares(s, spares);
	if (fsync(s->qfd) == -1) {
		/* Not known durable: the caller takes the file back out. */
		st = spool_errno_status(errno);
		*err = g_strdup_printf("fsync queue: %s", strerror(errno));
		for (i = 0; i < nspares; i++)
			unlinkat(s->qfd, spares[i], 0);
		return st;
	}
	if (nspares > 0) {
		g_mutex_lock(&s->lock);
		for (i = 0; i < nspares; i++)
			g_queue_push_tail(&s->free_names, g_strdup(spares[i]));
		g_mutex_unlock(&s->lock);
	}
	return SPOOL_OK;
}

/* Indexes the durable batch file's entries and reports the jobs done. */
static void
spool_batch_index(struct spool *s, struct spool_job **jobs, int n, const char *name)
{
	struct spool_file *f = g_new0(struct spool_file, 1);
	void (*notify)(void *);
	void *narg;
	off_t off = SPOOL_HDR;
	int i;

	g_strlcpy(f->name, name, sizeof f->name);
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

/*
 * Commits a batch: every prepared job's record goes into one file behind
 * a batch header, written over a recycled free-N file (or, when none is
 * free, a new ID.tmp) and fdatasync'd; a recycled file is then renamed to
 * the batch's first queue id without a directory sync (its header, not
 * its name, makes it live: see SPOOL_HDR), a new one renamed and queue/
 * fsync'd, with spare files for the next batches (spool_make_spares).
 * Only then are the entries indexed and the jobs reported done.
 * One file per batch instead of per message: a commit costs one data
 * flush however many messages it carries, where per-message files spent
 * most of the writers' time allocating inodes, contending for the
 * directory lock and flushing the disk cache once per file.
 */
static void
spool_batch_commit(struct spool *s, struct spool_job **jobs, int n)
{
	struct iovec *iov = g_new(struct iovec, 2 * n + 1);
	struct spool_job *first;
	char tmpname[32], *err = NULL;
	enum spool_status st = SPOOL_OK;
	uint64_t size;
	int i, fd, reused;

	if ((first = spool_batch_prepare(s, jobs, n, &size)) == NULL) {
		g_free(iov);
		return;
	}
	fd = spool_batch_open(s, first, tmpname, &reused);
	if (fd == -1 || spool_batch_write(fd, tmpname, jobs, n, size, iov) == -1) {
		st = spool_errno_status(errno);
		err = g_strdup_printf("write queue/%s: %s", tmpname, strerror(errno));
	} else
		st = spool_batch_publish(s, &fd, reused, first->env->queue_id, tmpname, &err);
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
	spool_batch_index(s, jobs, n, tmpname);
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

gpointer
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

