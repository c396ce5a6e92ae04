/* spool.c - the durable queue: open, index, read, remove; see spool.h. */
#include "receiver/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/metrics.h"
#include "receiver/spool_int.h"

static const char spool_b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


void
spool_seterr(char **err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	*err = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

int
spool_valid_id(const char *id)
{
	size_t i;

	for (i = 0; i < SPOOL_ID_LEN; i++)
		if (id[i] == '\0' || strchr(spool_b62, id[i]) == NULL)
			return 0;
	return id[i] == '\0';
}

/* Strictly increasing microseconds, so ids sort in arrival order. */
int64_t
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

char *
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


/*
 * Parses an envelope header (NUL-terminated, without the blank line; the
 * buffer is modified).  *version is the Rebound-Spool value, *have_size
 * whether a Size line was seen.  Returns a new envelope (never NULL).
 */
struct spool_envelope *
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
size_t
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

/* Caller holds s->lock. */
void
spool_index_add(struct spool *s, struct spool_file *f, const char *id, off_t off, size_t len)
{
	struct spool_entry *e = g_new(struct spool_entry, 1);

	e->file = f;
	e->off = off;
	e->len = len;
	f->live++;
	g_hash_table_replace(s->index, g_strdup(id), e);
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

/* tmp/ holds only writes that were never acknowledged: drop them. */
static void
spool_discard_tmp(struct spool *s)
{
	struct dirent *de;
	DIR *d;

	if ((d = fdopendir(dup(s->tmpfd))) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && unlinkat(s->tmpfd, de->d_name, 0) == 0)
			log_info("spool event=discard-partial file=tmp/%s", de->d_name);
	closedir(d);
}

/*
 * Reads queue/: partial ID.tmp files are dropped, batch files indexed, and
 * the names of files without entries go to freed.  free_seq ends past every
 * free-N on disk.
 */
static void
spool_scan_queue(struct spool *s, GQueue *freed)
{
	struct dirent *de;
	DIR *d;

	if ((d = fdopendir(dup(s->qfd))) == NULL)
		return;
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
		g_queue_push_tail(freed, g_strdup(de->d_name));
	}
	closedir(d);
}

/*
 * Puts the files without entries into the pool of free files, up to
 * SPOOL_FREE_MAX (the rest are removed).  One still named after a queue id
 * is renamed free-N only now that the scan is over, so that its new name
 * cannot collide with one the scan had yet to see.
 */
static void
spool_pool_free_files(struct spool *s, GQueue *freed)
{
	char *name;

	while ((name = g_queue_pop_head(freed)) != NULL) {
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
}

struct spool *
spool_open(const char *dir, char **err)
{
	struct spool *s;
	int dfd, i;
	GQueue freed = G_QUEUE_INIT;

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

	spool_discard_tmp(s);
	spool_scan_queue(s, &freed);
	spool_pool_free_files(s, &freed);
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
gboolean
spool_has(struct spool *s, const char *queue_id)
{
	gboolean r;

	g_mutex_lock(&s->lock);
	r = g_hash_table_contains(s->index, queue_id);
	g_mutex_unlock(&s->lock);
	return r;
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
	/* Taken first: its blocks are allocated already, so a batch written
	 * over it changes no metadata (an empty spare's does). */
	g_mutex_lock(&s->lock);
	g_queue_push_head(&s->free_names, g_strdup(name));
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

