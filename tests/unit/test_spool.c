/* test_spool.c - the durable spool: commit, list order, read back, attempts, remove, recovery, group commit. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "receiver/spool.h"
#include "unit.h"

#define SPOOL_TMPL	"rebound-spool-XXXXXX"

static struct spool_envelope *
envelope(const char *from, const char *rcpt)
{
	struct spool_envelope *e = g_new0(struct spool_envelope, 1);

	e->client_addr = g_strdup("2001:db8::1");
	e->helo = g_strdup("mx \"quoted\"\\ \xc3\xbc");
	e->tls = g_strdup("TLSv1.3 TLS_AES_256_GCM_SHA384");
	e->mail_from = g_strdup(from);
	e->rcpts = g_new0(char *, 3);
	e->rcpts[0] = g_strdup(rcpt);
	e->rcpts[1] = g_strdup("fbl@example.com");
	return e;
}

static char *
record(const char *id, const char *msg)
{
	return g_strdup_printf("Rebound-Spool: 1\nQueue-Id: %s\nArrival-Us: 1\nClient: 192.0.2.1\n"
	    "Helo: mx\nMail-From: \nRcpt: r@b.example\nSize: %zu\n\n%s", id, strlen(msg), msg);
}

static guint
count_files(const char *dir, const char *prefix)
{
	char *q = g_build_filename(dir, "queue", NULL);
	GDir *d = g_dir_open(q, 0, NULL);
	const char *n;
	guint c = 0;

	g_assert_nonnull(d);
	while ((n = g_dir_read_name(d)) != NULL)
		if (prefix == NULL ? strlen(n) == 16 : g_str_has_prefix(n, prefix))
			c++;
	g_dir_close(d);
	g_free(q);
	return c;
}

static void
test_commit_read_roundtrip(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *e = envelope("", "bounce-x=y@b.example"), *r = NULL;
	/* Binary-safe: NUL, bare CR/LF and a "\n\n" inside the message. */
	static const char msg[] = "Received: x\r\n\r\nbody\0with NUL\n\nand \r bare\r\n";
	GBytes *data = NULL;
	GPtrArray *ids;

	g_assert_nonnull(s);
	g_assert_cmpuint(spool_count(s), ==, 0);
	g_assert_cmpint(spool_commit(s, e, msg, sizeof msg - 1, &err), ==, 0);
	g_assert_nonnull(e->queue_id);
	g_assert_cmpuint(strlen(e->queue_id), ==, 16);
	g_assert_cmpuint(e->size, ==, sizeof msg - 1);
	g_assert_cmpuint(spool_count(s), ==, 1);
	ids = spool_list(s);
	g_assert_cmpuint(ids->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(ids, 0), ==, e->queue_id);
	g_assert_cmpint(spool_read(s, e->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpstr(r->queue_id, ==, e->queue_id);
	g_assert_cmpstr(r->mail_from, ==, "");
	g_assert_cmpstr(r->client_addr, ==, "2001:db8::1");
	g_assert_cmpstr(r->helo, ==, e->helo);
	g_assert_cmpstr(r->tls, ==, e->tls);
	g_assert_cmpstr(r->rcpts[0], ==, "bounce-x=y@b.example");
	g_assert_cmpstr(r->rcpts[1], ==, "fbl@example.com");
	g_assert_null(r->rcpts[2]);
	g_assert_cmpint(r->arrival_us, ==, e->arrival_us);
	g_assert_cmpint(r->attempts, ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), msg, sizeof msg - 1);
	g_bytes_unref(data);
	spool_envelope_free(r);
	spool_envelope_free(e);
	g_ptr_array_unref(ids);
	spool_close(s);
	unit_rmtree(dir);
	g_free(dir);
}

static void
test_order_attempts_remove_reopen(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL, *tmpfile;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *r;
	GBytes *data;
	GPtrArray *ids;
	char *committed[5];
	int i;

	for (i = 0; i < 5; i++) {
		struct spool_envelope *e = envelope("a@b.example", "r@b.example");
		char body[32];
		g_snprintf(body, sizeof body, "message %d\r\n", i);
		g_assert_cmpint(spool_commit(s, e, body, strlen(body), NULL), ==, 0);
		committed[i] = g_strdup(e->queue_id);
		spool_envelope_free(e);
	}
	ids = spool_list(s);
	g_assert_cmpuint(ids->len, ==, 5);
	for (i = 0; i < 5; i++)
		g_assert_cmpstr(g_ptr_array_index(ids, i), ==, committed[i]);	/* arrival order */
	g_ptr_array_unref(ids);

	g_assert_cmpint(spool_set_attempts(s, committed[1], 2, &err), ==, 0);
	g_assert_cmpint(spool_remove(s, committed[0], &err), ==, 0);
	g_assert_cmpint(spool_remove(s, committed[0], &err), ==, -1);
	g_assert_nonnull(err);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(spool_set_attempts(s, committed[0], 1, &err), ==, -1);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(spool_read(s, "../../etc/passwd", &r, &data, &err), ==, -1);
	g_clear_pointer(&err, g_free);
	g_assert_cmpuint(spool_count(s), ==, 4);
	spool_close(s);

	/* A crash mid-write leaves tmp/ debris: reopening drops it, keeps the rest. */
	tmpfile = g_build_filename(dir, "tmp", "0000000000000000", NULL);
	g_assert_true(g_file_set_contents(tmpfile, "Rebound-Spool: 1\npart", -1, NULL));
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_false(g_file_test(tmpfile, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(spool_count(s), ==, 4);
	g_assert_cmpint(spool_read(s, committed[1], &r, &data, &err), ==, 0);
	g_assert_cmpint(r->attempts, ==, 2);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "message 1\r\n", 11);
	spool_envelope_free(r);
	g_bytes_unref(data);
	spool_close(s);
	for (i = 0; i < 5; i++)
		g_free(committed[i]);
	g_free(tmpfile);
	unit_rmtree(dir);
	g_free(dir);
}

static void
test_truncated_entry_detected(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL, *path;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *e = envelope("", "r@b.example"), *r;
	GBytes *data;

	g_assert_cmpint(spool_commit(s, e, "0123456789", 10, NULL), ==, 0);
	path = g_build_filename(dir, "queue", e->queue_id, NULL);
	g_assert_cmpint(truncate(path, 50), ==, 0);
	g_assert_cmpint(spool_read(s, e->queue_id, &r, &data, &err), ==, -1);
	g_assert_nonnull(strstr(err, "damaged"));
	g_free(err);
	g_free(path);
	spool_envelope_free(e);
	spool_close(s);
	unit_rmtree(dir);
	g_free(dir);
}

struct async_state {
	GMutex lock;
	GCond cond;
	int done, ok, notified;
	GPtrArray *ids;
};

static void
async_done(void *arg, const char *qid, enum spool_status st, const char *err)
{
	struct async_state *a = arg;

	(void)err;
	g_mutex_lock(&a->lock);
	a->done++;
	if (st == SPOOL_OK) {
		a->ok++;
		g_ptr_array_add(a->ids, g_strdup(qid));
	}
	g_cond_signal(&a->cond);
	g_mutex_unlock(&a->lock);
}

static void
async_notify(void *arg)
{
	struct async_state *a = arg;

	g_mutex_lock(&a->lock);
	a->notified++;
	g_mutex_unlock(&a->lock);
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_async_group_commit(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL;
	struct spool *s = spool_open(dir, &err);
	struct async_state a = { .ids = g_ptr_array_new_with_free_func(g_free) };
	GPtrArray *ids;
	int i, n = 200;

	g_mutex_init(&a.lock);
	g_cond_init(&a.cond);
	spool_set_notify(s, async_notify, &a);
	for (i = 0; i < n; i++) {
		struct spool_envelope *e = envelope("", "r@b.example");
		e->queue_id = spool_new_id(s);
		e->arrival_us = g_get_real_time();
		spool_commit_async(s, e, g_strdup_printf("msg %d\r\n", i), strlen("msg \r\n") +
		    (i < 10 ? 1 : i < 100 ? 2 : 3), async_done, &a);
	}
	g_mutex_lock(&a.lock);
	while (a.done < n)
		g_cond_wait(&a.cond, &a.lock);
	g_mutex_unlock(&a.lock);
	g_assert_cmpint(a.ok, ==, n);
	g_assert_cmpint(a.notified, >=, 1);
	g_assert_cmpint(a.notified, <=, n);
	g_assert_cmpuint(spool_count(s), ==, (guint)n);
	ids = spool_list(s);
	g_assert_cmpuint(ids->len, ==, (guint)n);
	/* Several writers complete batches in any order; the listing is in
	 * arrival (id) order and holds exactly the ids completed. */
	for (i = 1; i < n; i++)
		g_assert_cmpstr(g_ptr_array_index(ids, i - 1), <, g_ptr_array_index(ids, i));
	g_ptr_array_sort(a.ids, cmp_str);
	for (i = 0; i < n; i++)
		g_assert_cmpstr(g_ptr_array_index(ids, i), ==, g_ptr_array_index(a.ids, i));
	g_ptr_array_unref(ids);
	/* Batched: fewer files than messages; all found again after a restart. */
	g_assert_cmpuint(count_files(dir, NULL), <, (guint)n);
	spool_close(s);
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	ids = spool_list(s);
	g_assert_cmpuint(ids->len, ==, (guint)n);
	for (i = 0; i < n; i++)
		g_assert_cmpstr(g_ptr_array_index(ids, i), ==, g_ptr_array_index(a.ids, i));
	g_ptr_array_unref(ids);
	g_ptr_array_unref(a.ids);
	spool_close(s);
	unit_rmtree(dir);
	g_free(dir);
}

/*
 * One file holds a batch: every record is found again after a restart,
 * the file stays while any of its entries does and is recycled with the
 * last; a damaged record after good ones is never read as an entry and
 * its file is set aside, not reused.
 */
static void
test_batch_files(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL, *path, *r1, *r2, *contents;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *r = NULL;
	const char *ids[] = { "0000000000Aaaaaa", "0000000000Bbbbbb", "0000000000Cccccc" };
	GBytes *data = NULL;
	GPtrArray *list;

	g_assert_nonnull(s);
	spool_close(s);
	r1 = record(ids[0], "first\r\n");
	r2 = record(ids[1], "second, longer\r\n");
	contents = g_strconcat(r1, r2, NULL);
	path = g_build_filename(dir, "queue", ids[0], NULL);
	g_assert_true(g_file_set_contents(path, contents, -1, NULL));
	g_free(contents);
	/* A file whose second record is cut short. */
	g_free(r1);
	r1 = record(ids[2], "third\r\n");
	contents = g_strconcat(r1, "Rebound-Spool: 1\nQueue-Id: 0000000000Dddddd\nSize: 99\n\nshort",
	    NULL);
	g_free(path);
	path = g_build_filename(dir, "queue", ids[2], NULL);
	g_assert_true(g_file_set_contents(path, contents, -1, NULL));

	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	list = spool_list(s);
	g_assert_cmpuint(list->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(list, 1), ==, ids[1]);
	g_ptr_array_unref(list);
	g_assert_cmpint(spool_read(s, ids[1], &r, &data, &err), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "second, longer\r\n", 16);
	g_assert_cmpstr(r->queue_id, ==, ids[1]);
	spool_envelope_free(r);
	g_bytes_unref(data);
	g_assert_cmpint(spool_read(s, "0000000000Dddddd", &r, &data, &err), ==, -1);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(spool_remove(s, ids[1], &err), ==, 0);
	g_assert_cmpuint(count_files(dir, NULL), ==, 2);	/* ids[0] still lives in it */
	/* A restart now (as after a crash) brings the removed entry back, to
	 * be processed again: the store's dedupe on the hash makes it harmless. */
	spool_close(s);
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_cmpuint(spool_count(s), ==, 3);
	g_assert_cmpint(spool_remove(s, ids[1], &err), ==, 0);
	g_assert_cmpint(spool_read(s, ids[0], &r, &data, &err), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "first\r\n", 7);
	spool_envelope_free(r);
	g_bytes_unref(data);
	g_assert_cmpint(spool_remove(s, ids[0], &err), ==, 0);
	g_assert_cmpuint(count_files(dir, NULL), ==, 1);
	g_assert_cmpuint(count_files(dir, "free-"), ==, 1);
	g_assert_cmpint(spool_remove(s, ids[2], &err), ==, 0);
	g_assert_cmpuint(count_files(dir, NULL), ==, 0);
	g_assert_cmpuint(count_files(dir, "damaged-"), ==, 1);
	g_assert_cmpuint(count_files(dir, "free-"), ==, 1);
	g_assert_cmpuint(spool_count(s), ==, 0);
	spool_close(s);
	g_free(r1);
	g_free(r2);
	g_free(contents);
	g_free(path);
	unit_rmtree(dir);
	g_free(dir);
}

/* The name of the file of queue/ with inode ino (g_free). */
static char *
queue_file_by_ino(const char *dir, ino_t ino)
{
	char *q = g_build_filename(dir, "queue", NULL), *out = NULL;
	GDir *d = g_dir_open(q, 0, NULL);
	const char *n;

	while ((n = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(q, n, NULL);
		struct stat st;
		if (stat(p, &st) == 0 && st.st_ino == ino)
			out = g_strdup(n);
		g_free(p);
	}
	g_dir_close(d);
	g_free(q);
	g_assert_nonnull(out);
	return out;
}

/* A removed entry's file is reused for the next message before any spare. */
static void
test_recycled(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL, *free0, *path;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *a = envelope("", "r@b.example"), *b = envelope("", "r@b.example");
	struct spool_envelope *r = NULL;
	static const char big[] = "a long first message that the second one is shorter than\r\n";
	GBytes *data = NULL;
	GPtrArray *ids;
	struct stat st;
	ino_t ino;

	g_assert_nonnull(s);
	g_assert_cmpint(spool_commit(s, a, big, sizeof big - 1, &err), ==, 0);
	path = g_build_filename(dir, "queue", a->queue_id, NULL);
	g_assert_cmpint(stat(path, &st), ==, 0);
	ino = st.st_ino;
	g_assert_cmpint(spool_remove(s, a->queue_id, &err), ==, 0);
	g_assert_cmpint(spool_count(s), ==, 0);
	free0 = queue_file_by_ino(dir, ino);
	g_assert_true(g_str_has_prefix(free0, "free-"));
	ids = spool_list(s);
	g_assert_cmpuint(ids->len, ==, 0);		/* a free file is no entry */
	g_ptr_array_unref(ids);
	g_assert_cmpint(spool_read(s, a->queue_id, &r, &data, &err), ==, -1);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(spool_commit(s, b, "short\r\n", 7, &err), ==, 0);
	g_free(free0);
	free0 = queue_file_by_ino(dir, ino);
	g_assert_cmpstr(free0, ==, b->queue_id);
	g_free(path);
	path = g_build_filename(dir, "queue", b->queue_id, NULL);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_ino, ==, ino);
	g_assert_cmpint(spool_read(s, b->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "short\r\n", 7);
	g_assert_cmpuint(r->size, ==, 7);
	spool_envelope_free(r);
	g_bytes_unref(data);
	spool_close(s);
	/* Rewritten in place, not cut: the batch header bounds what is read,
	 * so nothing of the longer message trails the shorter one. */
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_cmpuint(spool_count(s), ==, 1);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(spool_read(s, b->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "short\r\n", 7);
	{
		char *raw = NULL;
		gsize rawlen = 0;

		g_assert_true(g_file_get_contents(path, &raw, &rawlen, NULL));
		g_assert_true(g_str_has_prefix(raw, "Rebound-Batch "));
		g_assert_nonnull(g_strstr_len(raw, rawlen, "message that the second"));
		g_free(raw);
	}
	spool_envelope_free(r);
	g_bytes_unref(data);
	spool_close(s);
	spool_envelope_free(a);
	spool_envelope_free(b);
	g_free(path);
	g_free(free0);
	unit_rmtree(dir);
	g_free(dir);
}

/* A batch noted in flight and never finished: the counts survive a restart. */
static void
test_inflight_recovered(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *a = envelope("", "r@b.example"), *b = envelope("", "r@b.example");
	struct spool_envelope *r = NULL;
	const char *ids[3];
	int att[3] = { 1, 2, 5 };
	GBytes *data = NULL;

	g_assert_nonnull(s);
	g_assert_cmpint(spool_commit(s, a, "a\r\n", 3, &err), ==, 0);
	g_assert_cmpint(spool_commit(s, b, "b\r\n", 3, &err), ==, 0);
	g_assert_cmpint(spool_set_attempts(s, b->queue_id, 3, &err), ==, 0);
	ids[0] = a->queue_id;
	ids[1] = b->queue_id;			/* 2 < 3 already recorded: never lowered */
	ids[2] = "0000000000000000";		/* not in the spool: ignored */
	g_assert_cmpint(spool_begin_attempts(s, ids, att, 3, &err), ==, 0);
	/* Before a restart the note changes nothing that spool_read sees. */
	g_assert_cmpint(spool_read(s, a->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpint(r->attempts, ==, 0);
	spool_envelope_free(r);
	g_bytes_unref(data);
	spool_close(s);

	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_cmpint(spool_read(s, a->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpint(r->attempts, ==, 1);
	spool_envelope_free(r);
	g_bytes_unref(data);
	g_assert_cmpint(spool_read(s, b->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpint(r->attempts, ==, 3);
	spool_envelope_free(r);
	g_bytes_unref(data);
	g_assert_cmpuint(spool_count(s), ==, 2);
	spool_close(s);
	/* Recovered once: a second restart finds the note emptied. */
	s = spool_open(dir, &err);
	g_assert_cmpint(spool_read(s, a->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpint(r->attempts, ==, 1);
	spool_envelope_free(r);
	g_bytes_unref(data);
	spool_close(s);
	spool_envelope_free(a);
	spool_envelope_free(b);
	unit_rmtree(dir);
	g_free(dir);
}

/* Renames a file of queue/ (as a power loss can leave it). */
static void
rename_queue_file(const char *dir, const char *from, const char *to)
{
	char *a = g_build_filename(dir, "queue", from, NULL), *b = g_build_filename(dir, "queue", to, NULL);

	g_assert_cmpint(rename(a, b), ==, 0);
	g_free(a);
	g_free(b);
}

static ino_t
queue_ino(const char *dir, const char *name)
{
	char *p = g_build_filename(dir, "queue", name, NULL);
	struct stat st;

	g_assert_cmpint(stat(p, &st), ==, 0);
	g_free(p);
	return st.st_ino;
}

/*
 * A recycled file's name is renamed without a directory sync, so after a
 * power loss it may lag behind what the file holds: the batch header and
 * its sum decide.  A live batch still called free-N is an entry; a freed
 * file still called by a queue id is none; a torn rewrite (a sum that does
 * not match) is none, and its file is free again.  A new file comes with
 * empty spares, whose entries the same directory sync made durable: a
 * batch written into one is read back after a restart.
 */
static void
test_header_decides(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL, *path, *name, *raw = NULL;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *a = envelope("", "r@b.example"), *b = envelope("", "r@b.example");
	struct spool_envelope *c = envelope("", "r@b.example"), *x = envelope("", "r@b.example");
	struct spool_envelope *r = NULL;
	GBytes *data = NULL;
	gsize rawlen = 0;
	guint spares;
	ino_t ino;

	g_assert_nonnull(s);
	g_assert_cmpint(spool_commit(s, a, "first\r\n", 7, &err), ==, 0);
	spares = count_files(dir, "free-");
	g_assert_cmpuint(spares, >, 0);
	/* x goes into an empty spare */
	g_assert_cmpint(spool_commit(s, x, "spare\r\n", 7, &err), ==, 0);
	g_assert_cmpuint(count_files(dir, "free-"), ==, spares - 1);
	/* a, removed: its file is written over in place for b */
	ino = queue_ino(dir, a->queue_id);
	g_assert_cmpint(spool_remove(s, a->queue_id, &err), ==, 0);
	g_assert_cmpint(spool_commit(s, b, "second\r\n", 8, &err), ==, 0);
	g_assert_cmpuint(queue_ino(dir, b->queue_id), ==, ino);
	spool_close(s);
	/* the rename to b's id never reached the disk */
	rename_queue_file(dir, b->queue_id, "free-900");
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_cmpuint(spool_count(s), ==, 2);
	g_assert_cmpint(spool_read(s, b->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "second\r\n", 8);
	spool_envelope_free(r);
	g_bytes_unref(data);
	g_assert_cmpint(spool_read(s, x->queue_id, &r, &data, &err), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "spare\r\n", 7);
	spool_envelope_free(r);
	g_bytes_unref(data);
	/* removed; the rename to free-N never reached the disk */
	g_assert_cmpint(spool_remove(s, b->queue_id, &err), ==, 0);
	g_assert_cmpint(spool_remove(s, x->queue_id, &err), ==, 0);
	spool_close(s);
	name = queue_file_by_ino(dir, ino);
	g_assert_true(g_str_has_prefix(name, "free-"));
	rename_queue_file(dir, name, "0000000000Zzzzzz");
	g_free(name);
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_cmpuint(spool_count(s), ==, 0);
	g_assert_cmpuint(count_files(dir, NULL), ==, 0);
	name = queue_file_by_ino(dir, ino);
	g_assert_true(g_str_has_prefix(name, "free-"));
	g_free(name);
	/* c written over a free file and torn: one octet of its records never landed */
	g_assert_cmpint(spool_commit(s, c, "third\r\n", 7, &err), ==, 0);
	spool_close(s);
	path = g_build_filename(dir, "queue", c->queue_id, NULL);
	g_assert_true(g_file_get_contents(path, &raw, &rawlen, NULL));
	g_assert_cmpuint(rawlen, >, 70);
	raw[70] ^= 1;
	g_assert_true(g_file_set_contents(path, raw, (gssize)rawlen, NULL));
	s = spool_open(dir, &err);
	g_assert_nonnull(s);
	g_assert_cmpuint(spool_count(s), ==, 0);
	g_assert_cmpuint(count_files(dir, NULL), ==, 0);
	spool_close(s);
	spool_envelope_free(a);
	spool_envelope_free(b);
	spool_envelope_free(c);
	spool_envelope_free(x);
	g_free(raw);
	g_free(path);
	unit_rmtree(dir);
	g_free(dir);
}

static void
test_min_free_refuses(void)
{
	char *dir = unit_tmpdir(SPOOL_TMPL), *err = NULL, *tmp;
	struct spool *s = spool_open(dir, &err);
	struct spool_envelope *e = envelope("", "r@b.example");
	GDir *d;

	spool_set_min_free(s, (uint64_t)1 << 62);	/* more than any disk */
	g_assert_cmpint(spool_commit(s, e, "x\r\n", 3, &err), ==, -1);
	g_assert_nonnull(strstr(err, "min_free"));
	g_free(err);
	g_assert_cmpuint(spool_count(s), ==, 0);
	tmp = g_build_filename(dir, "tmp", NULL);
	d = g_dir_open(tmp, 0, NULL);
	g_assert_null(g_dir_read_name(d));
	g_dir_close(d);
	g_free(tmp);
	spool_envelope_free(e);
	spool_close(s);
	unit_rmtree(dir);
	g_free(dir);
}

const struct unit_test unit_tests[] = {
	{ "/spool/commit-read-roundtrip", test_commit_read_roundtrip },
	{ "/spool/order-attempts-remove-reopen", test_order_attempts_remove_reopen },
	{ "/spool/truncated-entry-detected", test_truncated_entry_detected },
	{ "/spool/async-group-commit", test_async_group_commit },
	{ "/spool/min-free-refuses", test_min_free_refuses },
	{ "/spool/inflight-attempts-recovered", test_inflight_recovered },
	{ "/spool/removed-files-recycled", test_recycled },
	{ "/spool/batch-files", test_batch_files },
	{ "/spool/batch-header-decides", test_header_decides },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
