/*
 * cmd_parse.c - "rebound parse": the offline parser, one JSON line per record.
 *
 * Each message is parsed in a forked child by default (GMime has aborted on crafted headers before, and the neutraliser only
 * knows the shapes seen so far).  The child sends its report back over a
 * pipe with report_serialize(); a child that dies, or runs over its CPU
 * limit, makes the message "unparseable" on stderr and in the JSON, and the
 * next file is parsed as usual.  --no-fork parses in-process (benchmarks).
 * The child calls workers_before_parse (set by the test build only) before parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "cli/commands.h"
#include "common/io.h"
#include "workers/parser_config.h"
#include "common/config.h"
#include "parsers/parser.h"
#include "parsers/report.h"
#include "workers/workers.h"

struct parse_ctx {
	struct parser *p;
	const char *envelope_rcpt;
	gboolean json;
	gboolean fork_guard;
	int cpu_seconds;
	int failures;
};

static void
json_str(JsonBuilder *b, const char *k, const char *v)
{
	json_builder_set_member_name(b, k);
	if (v != NULL)
		json_builder_add_string_value(b, v);
	else
		json_builder_add_null_value(b);
}

static void
emit(const char *file, long index, const struct report *r, const struct report_record *rec)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *s;

	json_builder_begin_object(b);
	json_str(b, "file", file);
	if (index >= 0) {
		json_builder_set_member_name(b, "message");
		json_builder_add_int_value(b, index);
	}
	json_str(b, "kind", report_kind_name(r->kind));
	json_str(b, "recipient", rec ? rec->recipient : NULL);
	json_str(b, "original_recipient", rec ? rec->original_recipient : NULL);
	json_str(b, "class", rec ? report_class_name(rec->class_) : NULL);
	json_str(b, "reason", rec ? rec->reason : NULL);
	json_str(b, "status", rec ? rec->status : NULL);
	json_str(b, "replycode", rec ? rec->replycode : NULL);
	json_str(b, "action", rec ? rec->action : NULL);
	json_str(b, "diagnostic", rec ? rec->diagnostic : NULL);
	json_str(b, "remote_mta", rec ? rec->remote_mta : NULL);
	json_str(b, "last_attempt", rec ? rec->last_attempt : NULL);
	json_str(b, "feedback_type", rec ? rec->feedback_type : NULL);
	json_str(b, "smtp_command", rec ? rec->smtp_command : NULL);
	json_str(b, "rule", rec ? rec->rule : NULL);
	json_str(b, "reporting_mta", r->reporting_mta);
	json_str(b, "mta", r->mta);
	json_str(b, "arrival_date", r->arrival_date);
	json_str(b, "original_message_id", r->orig_message_id);
	json_str(b, "original_from", r->orig_from);
	json_str(b, "original_to", r->orig_to);
	json_str(b, "original_subject", r->orig_subject);
	json_str(b, "list_id", r->orig_list_id);
	if (r->kind == REPORT_KIND_ARF) {
		json_str(b, "user_agent", r->user_agent);
		json_str(b, "source_ip", r->source_ip);
		json_str(b, "original_mail_from", r->original_mail_from);
		json_str(b, "reported_domain", r->reported_domain);
		json_str(b, "authentication_results", r->auth_results);
	}
	if (g_hash_table_size(r->correlation) > 0) {
		GHashTableIter it;
		gpointer k, v;

		json_builder_set_member_name(b, "correlation");
		json_builder_begin_object(b);
		g_hash_table_iter_init(&it, r->correlation);
		while (g_hash_table_iter_next(&it, &k, &v))
			json_str(b, k, v);
		json_builder_end_object(b);
	}
	/* Records were dropped at [parser] max_recipients: this is not the whole report. */
	json_builder_set_member_name(b, "truncated");
	json_builder_add_boolean_value(b, (r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS) != 0);
	json_builder_set_member_name(b, "anomalies");
	json_builder_add_int_value(b, r->anomalies);
	json_str(b, "outcome", r->outcome);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	s = json_generator_to_data(g, NULL);
	puts(s);
	g_free(s);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
}

static void
print_report(const struct parse_ctx *c, const char *file, long index, const struct report *r)
{
	guint i;

	/* No record but something to say (a DSN without recipients, a hostile message): one line. */
	if (strcmp(r->outcome != NULL ? r->outcome : "ok", "ok") != 0 && r->records->len == 0) {
		if (r->kind == REPORT_KIND_NONE)
			fprintf(stderr, "rebound parse: %s: unparseable: %s\n", file, r->outcome);
		else
			fprintf(stderr, "rebound parse: %s: %s: %s\n", file, report_kind_name(r->kind),
			    r->outcome);
		if (c->json)
			emit(file, index, r, NULL);
		return;
	}
	for (i = 0; i < r->records->len; i++) {
		const struct report_record *rec = g_ptr_array_index(r->records, i);

		if (c->json)
			emit(file, index, r, rec);
		else
			printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", file, report_kind_name(r->kind),
			    rec->recipient ? rec->recipient : "-", report_class_name(rec->class_),
			    rec->reason ? rec->reason : "-", rec->status ? rec->status : "-",
			    rec->rule ? rec->rule : "-");
	}
}

/* Parse in a child; NULL report (and *why) when the child died. */
static struct report *
parse_guarded(struct parse_ctx *c, const char *data, gsize len, char **why)
{
	int fds[2], status;
	pid_t pid;
	GByteArray *buf;
	struct report *r;
	GBytes *b;

	if (pipe(fds) < 0) {
		*why = g_strdup_printf("pipe: %s", strerror(errno));
		return NULL;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		*why = g_strdup_printf("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		struct rlimit rl = { c->cpu_seconds, c->cpu_seconds + 1 };

		close(fds[0]);
		setrlimit(RLIMIT_CPU, &rl);
		if (workers_before_parse != NULL)
			workers_before_parse(data, len);
		r = parser_parse(c->p, data, len, c->envelope_rcpt);
		b = report_serialize(r);
		_exit(io_write_all(fds[1], g_bytes_get_data(b, NULL), g_bytes_get_size(b)) == 0 ? 0 : 1);
	}
	close(fds[1]);
	buf = g_byte_array_new();
	for (;;) {
		guint8 tmp[65536];
		ssize_t n = read(fds[0], tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		g_byte_array_append(buf, tmp, n);
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		*why = g_strdup_printf("parser crashed (signal %d)", WTERMSIG(status));
		g_byte_array_free(buf, TRUE);
		return NULL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		/* Only exit 0 is a finished parse; otherwise the pipe write
		 * failed or a sanitizer's report ended the child early. */
		*why = g_strdup_printf("parser crashed (exit %d)", WEXITSTATUS(status));
		g_byte_array_free(buf, TRUE);
		return NULL;
	}
	b = g_byte_array_free_to_bytes(buf);
	r = report_deserialize(b);
	g_bytes_unref(b);
	if (r == NULL)
		*why = g_strdup("parser failed");
	return r;
}

static void
parse_one(struct parse_ctx *c, const char *file, long index, const char *data, gsize len)
{
	struct report *r;
	char *why = NULL;

	if (c->fork_guard)
		r = parse_guarded(c, data, len, &why);
	else
		r = parser_parse(c->p, data, len, c->envelope_rcpt);
	if (r == NULL) {
		r = report_new(REPORT_KIND_NONE);
		r->outcome = why;
		why = NULL;
	}
	print_report(c, file, index, r);
	report_free(r);
	g_free(why);
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
parse_mbox(struct parse_ctx *c, const char *file, const char *data, gsize len)
{
	const char *p = data, *end = data + len, *start = NULL;
	long idx = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *next = nl != NULL ? nl + 1 : end;

		if ((gsize)(end - p) >= 5 && memcmp(p, "From ", 5) == 0 &&
		    (p == data || (p >= data + 2 && p[-2] == '\n'))) {
			if (start != NULL)
				parse_one(c, file, idx++, start, p - start);
			start = next;	/* the envelope line is not part of the message */
		}
		p = next;
	}
	if (start != NULL && start < end)
		parse_one(c, file, idx++, start, end - start);
}

static int
parse_path(struct parse_ctx *c, const char *file, int mode)
{
	GError *gerr = NULL;
	gsize len;
	char *data = read_input(file, &len, &gerr);

	if (data == NULL) {
		fprintf(stderr, "rebound parse: %s: %s\n", file, gerr->message);
		g_error_free(gerr);
		c->failures++;
		return -1;
	}
	if (mode == 'm')
		parse_mbox(c, file, data, len);
	else
		parse_one(c, file, -1, data, len);
	g_free(data);
	return 0;
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
		g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
		for (j = 0; j < names->len; j++) {
			/* g_ptr_array_sort passes pointers to elements */
			parse_path(c, g_ptr_array_index(names, j), 'f');
		}
		g_ptr_array_free(names, TRUE);
		g_free(d);
	}
}

static int
parse_usage(void)
{
	fprintf(stderr, "usage: rebound parse [--json] [-c FILE] [--rules FILE] [--envelope-rcpt ADDR]\n"
	    "                     [--no-fork] [--gmime-only] [--mbox FILE] [--maildir DIR] FILE...\n"
	    "  FILE \"-\" reads one message from stdin.\n"
	    "  --gmime-only: every message through GMime's MIME tree (a diagnostic: the\n"
	    "  output is meant to be the same).\n");
	return 2;
}

/* conf/rules.conf in the cwd, else next to the binary (../conf/rules.conf). */
static char *
default_rules(const char *configured)
{
	char *exe, *dir, *alt;

	if (configured != NULL && g_path_is_absolute(configured))
		return g_strdup(configured);
	if (configured != NULL && g_file_test(configured, G_FILE_TEST_EXISTS))
		return g_strdup(configured);
	exe = g_file_read_link("/proc/self/exe", NULL);
	if (exe == NULL)
		return g_strdup(configured);
	dir = g_path_get_dirname(exe);
	alt = g_build_filename(dir, "..", configured != NULL ? configured : "conf/rules.conf", NULL);
	g_free(exe);
	g_free(dir);
	if (g_file_test(alt, G_FILE_TEST_EXISTS))
		return alt;
	g_free(alt);
	return g_strdup(configured);
}

int
cmd_parse(int argc, char **argv)
{
	struct parse_ctx c = { .json = FALSE, .fork_guard = TRUE };
	struct parser_options o;
	struct config *cfg;
	GPtrArray *mboxes = g_ptr_array_new(), *maildirs = g_ptr_array_new(),
	    *files = g_ptr_array_new();
	const char *cfgpath = NULL, *rules = NULL;
	char *err = NULL, *rulespath;
	gboolean gmime_only = FALSE;
	int i;
	guint j;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c.json = TRUE;
		else if (strcmp(argv[i], "--no-fork") == 0)
			c.fork_guard = FALSE;
		else if (strcmp(argv[i], "--gmime-only") == 0)
			gmime_only = TRUE;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfgpath = argv[++i];
		else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			rules = argv[++i];
		else if (strcmp(argv[i], "--envelope-rcpt") == 0 && i + 1 < argc)
			c.envelope_rcpt = argv[++i];
		else if (strcmp(argv[i], "--mbox") == 0 && i + 1 < argc)
			g_ptr_array_add(mboxes, argv[++i]);
		else if (strcmp(argv[i], "--maildir") == 0 && i + 1 < argc)
			g_ptr_array_add(maildirs, argv[++i]);
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			parse_usage();
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return parse_usage();
		else
			g_ptr_array_add(files, argv[i]);
	}
	if (files->len + mboxes->len + maildirs->len == 0)
		return parse_usage();
	if (cfgpath != NULL) {
		if ((cfg = config_load(cfgpath, &err)) == NULL) {
			fprintf(stderr, "rebound: %s\n", err);
			g_free(err);
			return 1;
		}
	} else
		cfg = config_defaults();
	rulespath = default_rules(rules != NULL ? rules : cfg->parser_rules);
	parser_config_options(cfg, rulespath, &o);
	c.cpu_seconds = (int)cfg->parser_cpu_seconds;
	if ((c.p = parser_new(&o, &err)) == NULL) {
		fprintf(stderr, "rebound: %s\n", err);
		g_free(err);
		g_free(rulespath);
		config_free(cfg);
		return 1;
	}
	parser_set_gmime_only(c.p, gmime_only);
	for (j = 0; j < files->len; j++)
		parse_path(&c, g_ptr_array_index(files, j), 'f');
	for (j = 0; j < mboxes->len; j++)
		parse_path(&c, g_ptr_array_index(mboxes, j), 'm');
	for (j = 0; j < maildirs->len; j++)
		parse_maildir(&c, g_ptr_array_index(maildirs, j));
	fflush(stdout);
	parser_free(c.p);
	g_free(rulespath);
	config_free(cfg);
	g_ptr_array_free(files, TRUE);
	g_ptr_array_free(mboxes, TRUE);
	g_ptr_array_free(maildirs, TRUE);
	return c.failures > 0 ? 1 : 0;
}
