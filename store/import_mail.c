/* import_mail.c - backfill from an mbox or maildir; see import_mail.h. */
#include "store/import_mail.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <glib.h>

#include "common/address.h"
#include "store/classify.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/provider.h"
#include "store/store.h"
#include "workers/workers.h"

struct import_msg {
	GString *raw;
	struct spool_envelope env;
	char *rcpt;
};

struct import {
	const struct config *cfg;
	PGconn *conn;
	struct classify *cls;
	const char *rcpt;
	GPtrArray *batch;		/* struct import_msg * */
	int batch_max;
	gint64 run;			/* start of the run, Unix seconds */
	long seq;
	struct import_stats *st;
};

static void
import_msg_free(gpointer p)
{
	struct import_msg *m = p;

	g_string_free(m->raw, TRUE);
	g_free(m->env.queue_id);
	g_free(m->env.mail_from);
	g_free(m->env.rcpts);		/* its one element is m->rcpt */
	g_free(m->rcpt);
	g_free(m);
}

/* The address in a header value such as "Name <a@b>" or "a@b", or NULL. */
static char *
import_address(const char *v)
{
	const char *lt, *gt;
	char *a, *n;

	if (v == NULL)
		return NULL;
	if ((lt = strchr(v, '<')) != NULL && (gt = strchr(lt, '>')) != NULL)
		a = g_strndup(lt + 1, gt - lt - 1);
	else {
		a = g_strdup(v);
		if (strchr(a, ',') != NULL)
			*strchr(a, ',') = '\0';
	}
	g_strstrip(a);
	n = address_normalise(a);
	g_free(a);
	return n;
}

/* Lines end in CRLF, as they do when received over SMTP (so that a report
 * both imported and received is one message to the dedupe). */
static void
import_append_line(GString *out, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n') {
		len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		g_string_append_len(out, line, len);
		g_string_append(out, "\r\n");
	} else
		g_string_append_len(out, line, len);
}

static int import_flush(struct import *im, char **err);

static int
import_add(struct import *im, GString *raw, char **err)
{
	struct import_msg *m = g_new0(struct import_msg, 1);
	char *v;

	m->raw = raw;
	/* "import-" + the run's start + a sequence: unique across runs */
	m->env.queue_id = g_strdup_printf("import-%" G_GINT64_FORMAT "-%06ld", im->run, ++im->seq);
	m->env.arrival_us = g_get_real_time();
	v = provider_header(raw->str, raw->len, "Return-Path");
	m->env.mail_from = v ? import_address(v) : NULL;
	if (m->env.mail_from == NULL)
		m->env.mail_from = g_strdup("");
	g_free(v);
	if (im->rcpt != NULL)
		m->rcpt = g_strdup(im->rcpt);
	else {
		static const char *const hdr[] = { "Delivered-To", "X-Original-To", "To", NULL };
		int i;
		for (i = 0; hdr[i] != NULL && m->rcpt == NULL; i++) {
			v = provider_header(raw->str, raw->len, hdr[i]);
			m->rcpt = import_address(v);
			g_free(v);
		}
	}
	m->env.rcpts = g_new0(char *, 2);
	m->env.rcpts[0] = m->rcpt;
	m->env.size = raw->len;
	m->env.attempts = 1;
	g_ptr_array_add(im->batch, m);
	im->st->read++;
	if ((int)im->batch->len >= im->batch_max)
		return import_flush(im, err);
	return 0;
}

static void
import_count(struct import *im, const struct store_result *r)
{
	if (r->duplicate)
		im->st->duplicates++;
	else
		im->st->stored++;
	im->st->events += r->events;
	im->st->suppressions += r->suppressions;
}

static int
import_flush(struct import *im, char **err)
{
	size_t n = im->batch->len, i, failed, from = 0;
	struct classify_job *jobs;
	struct store_msg *msgs;
	struct store_result *res;
	enum pg_error_class cls;
	int rc = -1;

	if (n == 0)
		return 0;
	jobs = g_new0(struct classify_job, n);
	msgs = g_new0(struct store_msg, n);
	res = g_new0(struct store_result, n);
	for (i = 0; i < n; i++) {
		struct import_msg *m = im->batch->pdata[i];
		jobs[i].data = m->raw->str;
		jobs[i].len = m->raw->len;
		jobs[i].envelope_rcpt = m->rcpt;
	}
	classify_batch(im->cls, jobs, n);
	for (i = 0; i < n; i++) {
		struct import_msg *m = im->batch->pdata[i];
		msgs[i].env = &m->env;
		msgs[i].raw = m->raw->str;
		msgs[i].len = m->raw->len;
		msgs[i].report = jobs[i].report;
		msgs[i].dated_by_report = TRUE;
		if (jobs[i].report == NULL) {
			msgs[i].outcome = jobs[i].outcome ? jobs[i].outcome : "parser returned nothing";
			msgs[i].quarantined = jobs[i].status != WORKERS_OK;
			im->st->unparsed++;
		}
	}
	/* A message the database refuses is stored alone without its report,
	 * as the pipeline does; the rest of the batch goes again. */
	while (from < n) {
		char *e = NULL;
		cls = PG_OK;
		if (store_batch(im->conn, im->cfg, msgs + from, n - from, res + from, &failed, &cls, &e) == 0) {
			for (i = from; i < n; i++)
				import_count(im, &res[i]);
			break;
		}
		if (cls != PG_PERMANENT) {
			*err = e;
			goto out;
		}
		g_free(e);
		e = NULL;
		failed += from;
		if (failed > from && store_batch(im->conn, im->cfg, msgs + from, failed - from, res + from,
		    &i, &cls, &e) < 0) {
			*err = e;
			goto out;
		}
		for (i = from; i < failed; i++)
			import_count(im, &res[i]);
		msgs[failed].report = NULL;
		msgs[failed].outcome = "stored without its report: the database refused it";
		if (store_message(im->conn, im->cfg, &msgs[failed], &res[failed], &cls, &e) < 0) {
			*err = e;
			goto out;
		}
		import_count(im, &res[failed]);
		im->st->unparsed++;
		from = failed + 1;
	}
	rc = 0;
out:
	classify_jobs_free(jobs, n);
	g_free(msgs);
	g_free(res);
	g_ptr_array_set_size(im->batch, 0);
	return rc;
}

/* The blank line that ends each message of an mbox belongs to none. */
static int
import_mbox_add(struct import *im, GString *cur, char **err)
{
	if (cur->len >= 4 && memcmp(cur->str + cur->len - 4, "\r\n\r\n", 4) == 0)
		g_string_truncate(cur, cur->len - 2);
	return import_add(im, cur, err);
}

/* "From " at a line start begins a message; ">From ", ">>From " ... in
 * a body lose one '>' (mboxrd; for mboxo only ">From " is quoted). */
static int
import_mbox(struct import *im, const char *path, import_progress_fn progress, void *arg, char **err)
{
	struct stat sb;
	const char *data, *p, *end;
	GString *cur = NULL;
	gint64 last = 0;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
		*err = g_strdup_printf("%s: %s", path, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sb.st_size == 0) {
		close(fd);
		return 0;
	}
	data = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED) {
		*err = g_strdup_printf("%s: %s", path, g_strerror(errno));
		return -1;
	}
	end = data + sb.st_size;
	for (p = data; p < end && rc == 0; ) {
		const char *nl = memchr(p, '\n', end - p), *q;
		size_t len = (nl ? nl + 1 : end) - p;
		if (len >= 5 && memcmp(p, "From ", 5) == 0) {
			if (cur != NULL)
				rc = import_mbox_add(im, cur, err);
			cur = g_string_sized_new(4096);
		} else if (cur != NULL) {
			for (q = p; q < p + len && *q == '>'; q++)
				;
			if (q > p && (size_t)(p + len - q) >= 5 && memcmp(q, "From ", 5) == 0)
				import_append_line(cur, p + 1, len - 1);
			else
				import_append_line(cur, p, len);
		} else if (p == data) {
			munmap((void *)data, sb.st_size);
			*err = g_strdup_printf("%s: not an mbox (it does not start with a \"From \" line)", path);
			return -1;
		}
		p += len;
		if (progress != NULL && g_get_monotonic_time() - last > 100000) {
			progress(p - data, sb.st_size, im->st, arg);
			last = g_get_monotonic_time();
		}
	}
	if (rc == 0 && cur != NULL)
		rc = import_mbox_add(im, cur, err);
	else if (cur != NULL)
		g_string_free(cur, TRUE);
	munmap((void *)data, sb.st_size);
	if (rc == 0)
		rc = import_flush(im, err);
	if (progress != NULL)
		progress(sb.st_size, sb.st_size, im->st, arg);
	return rc;
}

static int
import_maildir(struct import *im, const char *dir, import_progress_fn progress, void *arg, char **err)
{
	static const char *const subs[] = { "cur", "new" };
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	gint64 last = 0;
	guint i;
	size_t k;
	int rc = 0, any_sub = 0;

	for (k = 0; k < G_N_ELEMENTS(subs) + 1; k++) {
		char *d = k < G_N_ELEMENTS(subs) ? g_build_filename(dir, subs[k], NULL) : g_strdup(dir);
		GDir *gd;
		const char *name;
		if (k == G_N_ELEMENTS(subs) && any_sub) {
			g_free(d);
			break;
		}
		if ((gd = g_dir_open(d, 0, NULL)) == NULL) {
			if (k == G_N_ELEMENTS(subs)) {
				*err = g_strdup_printf("%s: not a readable folder", dir);
				rc = -1;
			}
			g_free(d);
			continue;
		}
		any_sub |= k < G_N_ELEMENTS(subs);
		while ((name = g_dir_read_name(gd)) != NULL) {
			char *f = g_build_filename(d, name, NULL);
			if (name[0] != '.' && g_file_test(f, G_FILE_TEST_IS_REGULAR))
				g_ptr_array_add(files, f);
			else
				g_free(f);
		}
		g_dir_close(gd);
		g_free(d);
	}
	/* maildir names start with the delivery time: name order is arrival order */
	g_ptr_array_sort(files, (GCompareFunc)(void (*)(void))g_strcmp0);
	for (i = 0; i < files->len && rc == 0; i++) {
		char *text = NULL, *line, *end;
		gsize len;
		GError *gerr = NULL;
		GString *raw;
		if (!g_file_get_contents(files->pdata[i], &text, &len, &gerr)) {
			*err = g_strdup(gerr->message);
			g_error_free(gerr);
			rc = -1;
			break;
		}
		raw = g_string_sized_new(len + len / 32);
		for (line = text, end = text + len; line < end; ) {
			char *nl = memchr(line, '\n', end - line);
			size_t l = (nl ? nl + 1 : end) - line;
			import_append_line(raw, line, l);
			line += l;
		}
		g_free(text);
		rc = import_add(im, raw, err);
		if (progress != NULL && g_get_monotonic_time() - last > 100000) {
			progress(i + 1, files->len, im->st, arg);
			last = g_get_monotonic_time();
		}
	}
	if (rc == 0)
		rc = import_flush(im, err);
	if (progress != NULL)
		progress(files->len, files->len, im->st, arg);
	g_ptr_array_free(files, TRUE);
	return rc;
}

int
import_mail_run(const struct config *cfg, const char *mbox, const char *maildir,
    const char *rcpt, int batch, struct import_stats *st, import_progress_fn progress,
    void *arg, char **err)
{
	struct import im = { 0 };
	int rc = -1;

	memset(st, 0, sizeof(*st));
	im.cfg = cfg;
	im.st = st;
	im.rcpt = rcpt;
	im.run = g_get_real_time() / 1000000;
	im.batch_max = batch > 0 ? batch : 256;
	im.batch = g_ptr_array_new_with_free_func(import_msg_free);
	if ((im.conn = pg_connect(cfg->store_conninfo, err)) == NULL || migrate_check(im.conn, err) < 0)
		goto out;
	if (pg_command(im.conn, "SET synchronous_commit = off", 0, NULL, NULL, err) < 0)
		goto out;
	if ((im.cls = classify_new(cfg, err)) == NULL)
		goto out;
	rc = mbox != NULL ? import_mbox(&im, mbox, progress, arg, err) :
	    import_maildir(&im, maildir, progress, arg, err);
out:
	if (im.cls)
		classify_free(im.cls);
	if (im.conn)
		PQfinish(im.conn);
	g_ptr_array_free(im.batch, TRUE);
	return rc;
}
