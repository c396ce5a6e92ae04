/*
 * cmd_parse.c - "rebound parse": the offline parser, one JSON line per record.
 *
 * Messages are parsed in the daemon's sandbox, the persistent parser
 * worker pool (workers/workers.h; [parser] workers, cpu_seconds, memory_mb
 * from -c FILE or the defaults): GMime has aborted on crafted headers
 * before, and the neutraliser only knows the shapes seen so far.  The
 * workers are forked before the input is read, and each message goes to
 * the pool as soon as it is opened (a plain file as its descriptor, which
 * the worker reads; an mbox's messages and standard input as bytes), so
 * that the workers parse while the files after it are opened; the
 * workers render the printed lines
 * (workers/render.h), and those are written in input order.  A
 * message whose worker dies, or runs over its limits, is retried on a
 * fresh worker up to [parser] max_attempts times, then reported as the
 * daemon would quarantine it: "unparseable" on stderr and kind none with
 * the outcome in the JSON; the next message is parsed as usual.
 * --no-fork parses in-process (benchmarks, debugging).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/log.h"
#include "workers/parser_config.h"
#include "common/config.h"
#include "parsers/parser.h"
#include "parsers/report.h"
#include "workers/render.h"
#include "workers/workers.h"

/*
 * Messages read and not printed yet, or their bytes: past either, reading
 * waits for the workers, so that what is held in memory stays in check
 * when many large files are given.
 */
#define PARSE_BATCH		8192
#define PARSE_BATCH_BYTES	(64u << 20)

/*
 * A plain file goes to its worker as an open descriptor, which the worker
 * reads: this process then neither reads nor copies the message.  With so
 * many descriptors held, reading waits for the workers as above (far more
 * than the pool has in flight, and within the default limit of 1024 open
 * files).
 */
#define PARSE_MAX_FDS		256

static char stdout_buf[256 * 1024];

/* A message given to the pool, until its lines are printed. */
struct parse_msg {
	char *file;
	long index;
	GBytes *data;
	struct workers_job job;
	int attempts;			/* given to the pool so many times */
};

struct parse_ctx {
	struct parser *p;		/* --no-fork */
	struct workers *pool;		/* otherwise */
	int max_attempts;
	GQueue queue;			/* struct parse_msg *, in input order */
	gsize queued;			/* bytes of message in queue */
	char *pool_err;			/* the pool could not start: nothing more is done */
	const char *envelope_rcpt;
	int format;			/* enum render_format */
	GString *out, *err;		/* print_report() */
	int failures;
	int fds;			/* messages in queue given by descriptor */
	char *dir;			/* parse_open(): the directory last opened, */
	int dirfd;			/* and its descriptor (-1: none) */
};

/* Print what render_report() made of one message, in order. */
static void
parse_print(const char *out, gsize out_len, const char *err)
{
	if (err != NULL && *err != '\0')
		fputs(err, stderr);
	if (out_len > 0)
		fwrite(out, 1, out_len, stdout);
}

static void
print_report(struct parse_ctx *c, const char *file, long index, const struct report *r)
{
	g_string_truncate(c->out, 0);
	g_string_truncate(c->err, 0);
	render_report(c->out, c->err, c->format, file, index, r);
	parse_print(c->out->str, c->out->len, c->err->str);
}

static void
parse_msg_free(gpointer p)
{
	struct parse_msg *m = p;

	workers_job_clear(&m->job);
	if (m->job.by_fd)
		close(m->job.fd);
	g_free(m->file);
	if (m->data != NULL)
		g_bytes_unref(m->data);
	g_free(m);
}

/* The pool's workers have started (0), or it cannot parse anything (-1, c->pool_err). */
static int
parse_ready(struct parse_ctx *c)
{
	if (c->pool_err != NULL)
		return -1;
	if (workers_ready(c->pool, &c->pool_err) == -1) {
		g_queue_clear_full(&c->queue, parse_msg_free);
		c->queued = 0;
		return -1;
	}
	return 0;
}

/*
 * Print the messages at the head of the queue that the pool has settled,
 * in order; one the pool could not finish is given to it again (the pool
 * replaces a worker that died) until it has had max_attempts.  Waits for
 * the workers until the queue is empty (all), or back within its bounds.
 */
static void
parse_drain(struct parse_ctx *c, gboolean all)
{
	struct parse_msg *m;

	for (;;) {
		while ((m = g_queue_peek_head(&c->queue)) != NULL && m->job.settled) {
			if (m->job.status != WORKERS_OK && m->attempts < c->max_attempts) {
				workers_job_clear(&m->job);
				m->attempts++;
				workers_submit(c->pool, &m->job);
				continue;
			}
			if (m->job.status == WORKERS_OK) {
				gsize len;
				const char *out = g_bytes_get_data(m->job.out, &len);

				parse_print(out, len, m->job.notes);
			} else {
				struct report *r = report_new(REPORT_KIND_NONE);

				r->outcome = workers_outcome(&m->job, m->attempts);
				print_report(c, m->file, m->index, r);
				report_free(r);
			}
			g_queue_pop_head(&c->queue);
			c->queued -= m->job.len;
			if (m->job.by_fd)
				c->fds--;
			parse_msg_free(m);
		}
		if (g_queue_is_empty(&c->queue) || (!all && c->queue.length < PARSE_BATCH &&
		    c->queued < PARSE_BATCH_BYTES && c->fds < PARSE_MAX_FDS))
			return;
		workers_step(c->pool);
	}
}

/* A new message for the pool, its data or descriptor not set yet; NULL if the pool cannot start. */
static struct parse_msg *
parse_msg_new(struct parse_ctx *c, const char *file, long index)
{
	struct parse_msg *m;

	if (parse_ready(c) == -1)
		return NULL;
	m = g_new0(struct parse_msg, 1);
	m->file = g_strdup(file);
	m->index = index;
	return m;
}

/* Queue m and give it to the pool. */
static void
parse_submit(struct parse_ctx *c, struct parse_msg *m)
{
	m->job.envelope_rcpt = c->envelope_rcpt;
	m->job.render = c->format;
	m->job.file = m->file;
	m->job.index = m->index;
	m->job.status = WORKERS_ERROR;
	g_queue_push_tail(&c->queue, m);
	c->queued += m->job.len;
	if (c->max_attempts < 1)
		m->job.settled = TRUE;	/* never tried: reported as the daemon would */
	else {
		m->attempts = 1;
		workers_submit(c->pool, &m->job);
	}
	parse_drain(c, FALSE);
}

static void
parse_one(struct parse_ctx *c, const char *file, long index, GBytes *whole, const char *data,
    gsize len)
{
	struct parse_msg *m;
	struct report *r;

	if (c->pool == NULL) {
		r = parser_parse(c->p, data, len, c->envelope_rcpt);
		print_report(c, file, index, r);
		report_free(r);
		return;
	}
	if ((m = parse_msg_new(c, file, index)) == NULL)
		return;
	/* A reference, not a copy: an mbox is held once. */
	m->data = g_bytes_new_from_bytes(whole, (gsize)(data - (const char *)g_bytes_get_data(whole,
	    NULL)), len);
	m->job.data = g_bytes_get_data(m->data, &m->job.len);
	parse_submit(c, m);
}

/*
 * open(file) for reading, through the descriptor of its directory when it
 * is the last file's too: the path's leading components are looked up
 * once for a run over one directory, not once a file.
 */
static int
parse_open(struct parse_ctx *c, const char *file)
{
	const char *slash = strrchr(file, '/');
	gsize dlen;

	if (slash == NULL || slash[1] == '\0')
		return open(file, O_RDONLY | O_CLOEXEC);
	dlen = (gsize)(slash - file) + 1;
	if (c->dir == NULL || strlen(c->dir) != dlen || strncmp(c->dir, file, dlen) != 0) {
		g_free(c->dir);
		if (c->dirfd != -1)
			close(c->dirfd);
		c->dir = g_strndup(file, dlen);
		c->dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (c->dirfd == -1)
		return open(file, O_RDONLY | O_CLOEXEC);
	return openat(c->dirfd, slash + 1, O_RDONLY | O_CLOEXEC);
}

/*
 * A plain file for the pool, by descriptor: 1 given, 0 not (no pool, too
 * many held, not a regular file, any error: the caller reads it instead,
 * and reports what failed as usual).
 */
static int
parse_file_fd(struct parse_ctx *c, const char *file)
{
	struct parse_msg *m;
	struct stat st;
	int fd;

	if (c->pool == NULL || c->fds >= PARSE_MAX_FDS || strcmp(file, "-") == 0)
		return 0;
	if ((fd = parse_open(c, file)) == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || (guint64)st.st_size > G_MAXUINT32 ||
	    (m = parse_msg_new(c, file, -1)) == NULL) {
		close(fd);
		return 0;
	}
	m->job.by_fd = TRUE;
	m->job.fd = fd;
	m->job.len = (size_t)st.st_size;
	c->fds++;
	parse_submit(c, m);
	return 1;
}

static char *
read_input(const char *file, gsize *len, GError **gerr)
{
	char *data;

	if (strcmp(file, "-") == 0) {
		GByteArray *ba = g_byte_array_new();
		guint8 tmp[65536];
		size_t n;

		while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
			g_byte_array_append(ba, tmp, n);
		*len = ba->len;
		g_byte_array_append(ba, (const guint8 *)"", 1);
		return (char *)g_byte_array_free(ba, FALSE);
	}
	if (!g_file_get_contents(file, &data, len, gerr))
		return NULL;
	return data;
}

/* mbox: messages start at "From " lines at the start of the file or after a blank line. */
static void
parse_mbox(struct parse_ctx *c, const char *file, GBytes *whole)
{
	gsize len;
	const char *data = g_bytes_get_data(whole, &len);
	const char *p = data, *end = data + len, *start = NULL;
	long idx = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *next = nl != NULL ? nl + 1 : end;

		if ((gsize)(end - p) >= 5 && memcmp(p, "From ", 5) == 0 &&
		    (p == data || (p >= data + 2 && p[-2] == '\n'))) {
			if (start != NULL)
				parse_one(c, file, idx++, whole, start, p - start);
			start = next;	/* the envelope line is not part of the message */
		}
		p = next;
	}
	if (start != NULL && start < end)
		parse_one(c, file, idx++, whole, start, end - start);
}

static int
parse_path(struct parse_ctx *c, const char *file, int mode)
{
	GError *gerr = NULL;
	gsize len;
	char *data;
	GBytes *whole;

	if (mode != 'm' && parse_file_fd(c, file))
		return 0;
	data = read_input(file, &len, &gerr);

	if (data == NULL) {
		/* A pool that cannot start is the one error to report, as it was
		 * when the pool was waited for before reading. */
		if (c->pool != NULL && parse_ready(c) == -1) {
			g_error_free(gerr);
			return -1;
		}
		fprintf(stderr, "rebound parse: %s: %s\n", file, gerr->message);
		g_error_free(gerr);
		c->failures++;
		return -1;
	}
	whole = g_bytes_new_take(data, len);
	if (mode == 'm')
		parse_mbox(c, file, whole);
	else
		parse_one(c, file, -1, whole, data, len);
	g_bytes_unref(whole);
	return 0;
}

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
parse_name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
parse_maildir(struct parse_ctx *c, const char *dir)
{
	static const char *const subs[] = { "cur", "new" };
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(subs); i++) {
		char *d = g_build_filename(dir, subs[i], NULL);
		GDir *gd = g_dir_open(d, 0, NULL);
		GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
		const char *n;
		guint j;

		if (gd == NULL) {
			g_free(d);
			g_ptr_array_free(names, TRUE);
			continue;
		}
		while ((n = g_dir_read_name(gd)) != NULL)
			if (n[0] != '.')
				g_ptr_array_add(names, g_build_filename(d, n, NULL));
		g_dir_close(gd);
		g_ptr_array_sort(names, parse_name_cmp);
		for (j = 0; j < names->len; j++)
			parse_path(c, g_ptr_array_index(names, j), 'f');
		g_ptr_array_free(names, TRUE);
		g_free(d);
	}
}

/* conf/rules.conf in the cwd, else next to the binary (../conf/rules.conf). */
static char *
default_rules(const char *configured)
{
	char *dir, *alt;

	if (configured != NULL && g_path_is_absolute(configured))
		return g_strdup(configured);
	if (configured != NULL && g_file_test(configured, G_FILE_TEST_EXISTS))
		return g_strdup(configured);
	if ((dir = config_exe_dir()) == NULL)
		return g_strdup(configured);
	alt = g_build_filename(dir, "..", configured != NULL ? configured : "conf/rules.conf", NULL);
	g_free(dir);
	if (g_file_test(alt, G_FILE_TEST_EXISTS))
		return alt;
	g_free(alt);
	return g_strdup(configured);
}

/* -c FILE's configuration, or the defaults; NULL said why on stderr. */
static struct config *
parse_config(const char *cfgpath)
{
	struct config *cfg;
	char *err = NULL;

	if (cfgpath == NULL)
		return config_defaults();
	if ((cfg = config_load(cfgpath, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
	}
	return cfg;
}

/* The in-process parser (--no-fork) or the worker pool; -1 said why on stderr. */
static int
parse_start(struct parse_ctx *c, const struct config *cfg, const char *rulespath,
    gboolean gmime_only, gboolean no_fork)
{
	struct parser_worker_config pc;
	char *err = NULL;

	parser_config_worker(cfg, rulespath, &pc);
	pc.gmime_only = gmime_only;
	if (no_fork) {
		if ((c->p = parser_new(&pc.opts, &err)) != NULL)
			parser_set_gmime_only(c->p, gmime_only);
	} else {
		/* A command's stderr is for its findings: the pool's start-up line is not one. */
		log_set_level_name("warn");
		c->pool = workers_new_forked(cfg, &pc, &err);
		c->max_attempts = (int)cfg->parser_max_attempts;
	}
	if (c->p == NULL && c->pool == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		return -1;
	}
	return 0;
}

/* What the command line asked for. */
struct parse_opts {
	gboolean json, outcomes, no_fork, gmime_only;
	char *cfgpath, *rules, *envelope_rcpt, **mboxes, **maildirs;
};

/* cli_options() for "rebound parse": 0 to go on, else the exit status. */
static int
parse_options(int *argc, char ***argv, struct parse_opts *o)
{
	const GOptionEntry entries[] = {
		{ "json", 'j', 0, G_OPTION_ARG_NONE, &o->json, "one JSON object per recipient "
		    "record (every field); default: tab-separated file, kind, recipient, class, "
		    "reason, status, rule", NULL },
		{ "outcomes", 0, 0, G_OPTION_ARG_NONE, &o->outcomes, "with --json, also one object "
		    "(recipient null) for each message that has no record and an outcome other "
		    "than ok, e.g. \"no recipient found\" or a hostile message's limit", NULL },
		{ "mbox", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->mboxes,
		    "parse every message of an mbox file (repeatable)", "FILE" },
		{ "maildir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->maildirs,
		    "parse every message of a Maildir, cur/ and new/ (repeatable)", "DIR" },
		{ "rules", 0, 0, G_OPTION_ARG_FILENAME, &o->rules,
		    "classification rules (default: [parser] rules)", "FILE" },
		{ "envelope-rcpt", 0, 0, G_OPTION_ARG_STRING, &o->envelope_rcpt, "the envelope "
		    "recipient the report was sent to (a VERP or signed return path names the "
		    "failed recipient)", "ADDR" },
		{ "no-fork", 0, 0, G_OPTION_ARG_NONE, &o->no_fork, "parse in this process; by "
		    "default messages are parsed in the daemon's parser worker pool ([parser] "
		    "workers, cpu_seconds, memory_mb, max_attempts), so that a hostile message is "
		    "reported instead of ending the run", NULL },
		{ "gmime-only", 0, 0, G_OPTION_ARG_NONE, &o->gmime_only, "every message through "
		    "GMime's MIME tree instead of Rebound's splitter (a diagnostic: the output is "
		    "meant to be the same)", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};

	return cli_options(argc, argv, "FILE...", "Parse bounces and feedback-loop reports "
	    "offline, without a daemon or database, and print each recipient record.",
	    "FILE \"-\" reads one message from standard input.  Exit 1 when a file could not "
	    "be read or parsed.", entries, NULL, &o->cfgpath);
}

int
cmd_parse(int argc, char **argv)
{
	struct parse_ctx c = { .format = RENDER_TAB, .dirfd = -1 };
	struct parse_opts o = { 0 };
	char *rulespath = NULL;
	struct config *cfg = NULL;
	int i, rc;

	if ((rc = parse_options(&argc, &argv, &o)) != 0)
		goto out;
	c.format = o.json ? RENDER_JSON | (o.outcomes ? RENDER_OUTCOMES : 0) : RENDER_TAB;
	c.out = g_string_new(NULL);
	c.err = g_string_new(NULL);
	c.envelope_rcpt = o.envelope_rcpt;
	if (argc < 2 && o.mboxes == NULL && o.maildirs == NULL) {
		rc = cli_usage_error("parse", "no FILE, --mbox or --maildir to parse");
		goto out;
	}
	rc = 1;
	/* Lines are printed in many small pieces: a pipe or file takes them in
	 * few writes.  (glibc ignores the size unless given the buffer.) */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
	if ((cfg = parse_config(o.cfgpath)) == NULL)
		goto out;
	rulespath = default_rules(o.rules != NULL ? o.rules : cfg->parser_rules);
	if (parse_start(&c, cfg, rulespath, o.gmime_only, o.no_fork) == -1)
		goto out;
	for (i = 1; i < argc; i++)
		parse_path(&c, argv[i], 'f');
	for (i = 0; o.mboxes != NULL && o.mboxes[i] != NULL; i++)
		parse_path(&c, o.mboxes[i], 'm');
	for (i = 0; o.maildirs != NULL && o.maildirs[i] != NULL; i++)
		parse_maildir(&c, o.maildirs[i]);
	if (c.pool != NULL && c.pool_err == NULL)
		parse_drain(&c, TRUE);
	fflush(stdout);
	if (c.pool_err != NULL) {
		fprintf(stderr, "rebound: %s\n", c.pool_err);
		goto out;
	}
	rc = c.failures > 0 ? 1 : 0;
out:
	if (c.p != NULL)
		parser_free(c.p);
	/* Before the pool: a job of an unsettled message may still be the pool's. */
	g_queue_clear_full(&c.queue, parse_msg_free);
	workers_free(c.pool);
	if (c.out != NULL)
		g_string_free(c.out, TRUE);
	if (c.err != NULL)
		g_string_free(c.err, TRUE);
	g_free(c.pool_err);
	g_free(c.dir);
	if (c.dirfd != -1)
		close(c.dirfd);
	g_free(rulespath);
	config_free(cfg);
	g_free(o.cfgpath);
	g_free(o.rules);
	g_free(o.envelope_rcpt);
	g_strfreev(o.mboxes);
	g_strfreev(o.maildirs);
	return rc;
}
