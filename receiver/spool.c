/* spool.c - the durable queue; see spool.h for layout and group commit. */
#include "spool.h"

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

#include "log.h"
#include "store/metrics.h"

#define SPOOL_ID_LEN	16
#define SPOOL_BATCH	64
/* Creating and syncing a file mostly waits on the file system's journal;
 * several writers overlap those waits (and ext4 merges their commits). */
#define SPOOL_WRITERS	4

struct spool_job {
	struct spool_envelope *env;
	char *data;
	size_t len;
	spool_done_fn done;
	void *arg;
	int fd;				/* tmp file while in a batch */
	enum spool_status st;
	char *err;
	int stop;			/* sentinel: writer exits */
	char tmpname[32];		/* queue/ID.tmp or a recycled queue/free-N */
};

struct spool {
	char *dir;
	int qfd, tmpfd, afd;		/* queue/, tmp/, attempts/ */
	GMutex lock;			/* count, last_us, notify */
	size_t count;
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
 * Spool files are recycled: a removed entry is renamed to queue/free-N and
 * its inode reused for a later message (truncated and rewritten) instead
 * of unlinked, up to SPOOL_FREE_MAX files.  Allocating a fresh inode is
 * the costliest step of a commit on ext4 without a journal (it skips
 * every recently freed inode one by one), and a busy spool frees them
 * constantly.  A free file is never listed (not a queue id) and a crash
 * while one is rewritten leaves it a free file.
 */
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

static void
spool_tmpname(const char *id, char *out)
{
	snprintf(out, 32, "%s.tmp", id);
}
static int spool_inflight_recover(struct spool *s, char **err);

struct spool *
spool_open(const char *dir, char **err)
{
	struct spool *s;
	int dfd, i;
	DIR *d;
	struct dirent *de;

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
		while ((de = readdir(d)) != NULL)
			if (spool_valid_id(de->d_name))
				s->count++;
			else if (g_str_has_prefix(de->d_name, "free-")) {
				guint64 seq = g_ascii_strtoull(de->d_name + 5, NULL, 10);
				/* New names must never collide with one on disk. */
				if (seq >= s->free_seq)
					s->free_seq = seq + 1;
				if (strlen(de->d_name) < 32 && s->free_names.length < SPOOL_FREE_MAX)
					g_queue_push_tail(&s->free_names, g_strdup(de->d_name));
				else
					unlinkat(s->qfd, de->d_name, 0);
			} else if (g_str_has_suffix(de->d_name, ".tmp") &&
			    unlinkat(s->qfd, de->d_name, 0) == 0)
				log_info("spool event=discard-partial file=queue/%s", de->d_name);
		closedir(d);
	}
	if (spool_inflight_recover(s, err) == -1) {
		spool_close(s);
		return NULL;
	}
	metrics_set("rebound_spool_backlog", NULL, NULL, (double)s->count);
	metrics_help("rebound_spool_backlog", "messages in the spool waiting for processing");
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
	n = s->count;
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
	struct iovec iov[2];
	ssize_t w;
	int i = 0;

	memcpy(iov, iov0, sizeof(struct iovec) * n);
	while (i < n) {
		if (iov[i].iov_len == 0) {
			i++;
			continue;
		}
		w = writev(fd, iov + i, n - i);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
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
	return 0;
}

static enum spool_status
spool_errno_status(int e)
{
	return (e == ENOSPC || e == EDQUOT) ? SPOOL_ENOSPACE : SPOOL_EIO;
}

/* Stage one: tmp/ID written and fdatasync'd; j->fd left open on success. */
static void
spool_job_write(struct spool *s, struct spool_job *j)
{
	struct spool_envelope *env = j->env;
	struct statvfs vfs;
	struct iovec iov[2];
	GString *h;
	uint64_t min_free;
	int i;

	j->fd = -1;
	if (env->queue_id == NULL) {
		if (env->arrival_us == 0)
			env->arrival_us = spool_tick(s);
		env->queue_id = spool_id_for(env->arrival_us);
	} else if (!spool_valid_id(env->queue_id)) {
		j->st = SPOOL_EIO;
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

	iov[0].iov_base = h->str;
	iov[0].iov_len = h->len;
	iov[1].iov_base = (void *)j->data;
	iov[1].iov_len = j->len;
	/* Written next to its final name: a rename within one directory
	 * avoids the file system's global cross-directory rename lock, which
	 * serialises the writers. */
	j->fd = -1;
	{
		char *fname;
		g_mutex_lock(&s->lock);
		fname = g_queue_pop_head(&s->free_names);
		g_mutex_unlock(&s->lock);
		if (fname != NULL) {
			g_strlcpy(j->tmpname, fname, sizeof j->tmpname);
			g_free(fname);
			j->fd = openat(s->qfd, j->tmpname, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
		}
	}
	if (j->fd == -1) {
		spool_tmpname(env->queue_id, j->tmpname);
		j->fd = openat(s->qfd, j->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	/* The fdatasync comes later, for the whole batch (spool_batch_sync):
	 * here writeback only starts, so the batch's data and allocations go
	 * to disk together and ext4 commits its journal about once. */
	if (j->fd == -1 || spool_write_all(j->fd, iov, 2) == -1 ||
	    (sync_file_range(j->fd, 0, 0, SYNC_FILE_RANGE_WRITE) == -1 && errno != ENOSYS &&
	    errno != EINVAL && errno != ESPIPE)) {
		int e = errno;
		j->st = spool_errno_status(e);
		j->err = g_strdup_printf("write queue/%s: %s", j->tmpname, strerror(e));
		if (j->fd != -1) {
			close(j->fd);
			unlinkat(s->qfd, j->tmpname, 0);
			j->fd = -1;
		}
	}
	g_string_free(h, TRUE);
}

/*
 * Stage one and a half: fdatasync each file written.  The first call waits
 * for the journal commit that carries the whole batch's allocations; the
 * others then find little left to do.  Durability is the same as syncing
 * each file right after writing it: nothing is renamed before its sync.
 */
static void
spool_batch_sync(struct spool *s, struct spool_job **jobs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct spool_job *j = jobs[i];
		if (j->fd == -1 || fdatasync(j->fd) == 0)
			continue;
		j->st = spool_errno_status(errno);
		j->err = g_strdup_printf("fdatasync queue/%s: %s", j->tmpname, strerror(errno));
		close(j->fd);
		unlinkat(s->qfd, j->tmpname, 0);
		j->fd = -1;
	}
}

/* Stage two for a batch: rename each written file into queue/, then one fsync. */
static void
spool_batch_finish(struct spool *s, struct spool_job **jobs, int n)
{
	int i, renamed = 0;
	void (*notify)(void *);
	void *narg;

	for (i = 0; i < n; i++) {
		struct spool_job *j = jobs[i];
		if (j->fd == -1)
			continue;
		close(j->fd);
		j->fd = -1;
		if (renameat(s->qfd, j->tmpname, s->qfd, j->env->queue_id) == -1) {
			j->st = spool_errno_status(errno);
			j->err = g_strdup_printf("rename %s: %s", j->env->queue_id, strerror(errno));
			unlinkat(s->qfd, j->tmpname, 0);
			continue;
		}
		j->st = SPOOL_OK;
		renamed++;
	}
	if (renamed > 0 && fsync(s->qfd) == -1) {
		/* Not known durable: take the entries back out and fail them all. */
		int e = errno;
		for (i = 0; i < n; i++)
			if (jobs[i]->st == SPOOL_OK && jobs[i]->err == NULL) {
				unlinkat(s->qfd, jobs[i]->env->queue_id, 0);
				jobs[i]->st = spool_errno_status(e);
				jobs[i]->err = g_strdup_printf("fsync queue: %s", strerror(e));
				renamed--;
			}
	}
	g_mutex_lock(&s->lock);
	s->count += renamed;
	/* Set under the lock so that concurrent updates land in order. */
	metrics_set("rebound_spool_backlog", NULL, NULL, (double)s->count);
	notify = s->notify;
	narg = s->notify_arg;
	g_mutex_unlock(&s->lock);
	if (renamed > 0 && notify != NULL)
		notify(narg);
}

static void
spool_job_free(struct spool_job *j)
{
	spool_envelope_free(j->env);
	g_free(j->data);
	g_free(j->err);
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
		for (i = 0; i < n; i++)
			spool_job_write(s, batch[i]);
		spool_batch_sync(s, batch, n);
		spool_batch_finish(s, batch, n);
		for (i = 0; i < n; i++) {
			batch[i]->done(batch[i]->arg, batch[i]->env->queue_id, batch[i]->st,
			    batch[i]->err);
			spool_job_free(batch[i]);
		}
	}
	return NULL;
}

void
spool_commit_async(struct spool *s, struct spool_envelope *env, char *data, size_t len,
    spool_done_fn done, void *arg)
{
	struct spool_job *j = g_new0(struct spool_job, 1);

	j->env = env;
	j->data = data;
	j->len = len;
	j->done = done;
	j->arg = arg;
	j->fd = -1;
	if (env->queue_id == NULL) {
		env->arrival_us = spool_tick(s);
		env->queue_id = spool_id_for(env->arrival_us);
	}
	g_async_queue_push(s->jobs, j);
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
	spool_job_write(s, &j);
	spool_batch_sync(s, &jp, 1);
	spool_batch_finish(s, &jp, 1);
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
	struct dirent *de;
	DIR *d;

	if ((d = fdopendir(dup(s->qfd))) == NULL)
		return out;
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (spool_valid_id(de->d_name))
			g_ptr_array_add(out, g_strdup(de->d_name));
	closedir(d);
	g_ptr_array_sort(out, spool_cmp);
	return out;
}

/* Reads a whole file below dirfd; returns a g_malloc'd buffer or NULL with errno. */
static char *
spool_slurp(int dirfd, const char *name, size_t *lenp)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	ssize_t r;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	buf = g_malloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		r = read(fd, buf + off, st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += r;
	}
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
	GPtrArray *rcpts;
	char *buf, *p, *end, *body;
	size_t len;
	int version = 0, have_size = 0;

	*envp = NULL;
	*data = NULL;
	if (!spool_valid_id(queue_id)) {
		spool_seterr(err, "invalid queue id");
		return -1;
	}
	if ((buf = spool_slurp(s->qfd, queue_id, &len)) == NULL) {
		spool_seterr(err, "%s: %s", queue_id, strerror(errno));
		return -1;
	}
	if ((end = strstr(buf, "\n\n")) == NULL) {
		g_free(buf);
		spool_seterr(err, "%s: damaged entry (no envelope)", queue_id);
		return -1;
	}
	*end = '\0';
	body = end + 2;
	env = g_new0(struct spool_envelope, 1);
	rcpts = g_ptr_array_new();
	for (p = buf; p != NULL && *p != '\0'; ) {
		char *nl = strchr(p, '\n'), *colon, *val;
		if (nl != NULL)
			*nl = '\0';
		if ((colon = strstr(p, ": ")) != NULL) {
			*colon = '\0';
			val = g_strcompress(colon + 2);
			if (strcmp(p, "Rebound-Spool") == 0)
				version = atoi(val);
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
				have_size = 1;
			}
			g_free(val);
		}
		p = nl ? nl + 1 : NULL;
	}
	g_ptr_array_add(rcpts, NULL);
	env->rcpts = (char **)g_ptr_array_free(rcpts, FALSE);
	if (env->mail_from == NULL)
		env->mail_from = g_strdup("");
	if (version != 1 || !have_size || env->size != (uint64_t)(len - (body - buf))) {
		spool_seterr(err, "%s: damaged entry (version %d, size mismatch)", queue_id, version);
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
		if (faccessat(s->qfd, ids[i], F_OK, 0) == -1) {
			errs[i] = g_strdup_printf("%s: %s", ids[i], strerror(errno));
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

/* Takes queue/ID out of the queue: renamed for reuse, or unlinked. */
static int
spool_recycle(struct spool *s, const char *id)
{
	char name[32];
	gboolean keep;

	g_mutex_lock(&s->lock);
	keep = s->free_names.length < SPOOL_FREE_MAX;
	snprintf(name, sizeof name, "free-%" G_GUINT64_FORMAT, s->free_seq++);
	g_mutex_unlock(&s->lock);
	if (!keep)
		return unlinkat(s->qfd, id, 0);
	if (renameat(s->qfd, id, s->qfd, name) == -1)
		return -1;
	g_mutex_lock(&s->lock);
	g_queue_push_tail(&s->free_names, g_strdup(name));
	g_mutex_unlock(&s->lock);
	return 0;
}

int
spool_remove_many(struct spool *s, const char *const *ids, size_t n, char **errs)
{
	size_t i, removed = 0;
	int failed = 0;

	for (i = 0; i < n; i++) {
		errs[i] = NULL;
		if (!spool_valid_id(ids[i])) {
			errs[i] = g_strdup("invalid queue id");
			failed++;
			continue;
		}
		if (spool_recycle(s, ids[i]) == -1) {
			errs[i] = g_strdup_printf("%s: %s", ids[i], strerror(errno));
			failed++;
			continue;
		}
		unlinkat(s->afd, ids[i], 0);
		removed++;
	}
	g_mutex_lock(&s->lock);
	s->count = s->count > removed ? s->count - removed : 0;
	metrics_set("rebound_spool_backlog", NULL, NULL, (double)s->count);
	g_mutex_unlock(&s->lock);
	/* A lost unlink only means processing it again, which is idempotent;
	 * one directory sync per batch bounds that after a crash. */
	if (removed > 0)
		fsync(s->qfd);
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
			    faccessat(s->qfd, id, F_OK, 0) == -1 || att <= spool_read_attempts(s, id))
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
