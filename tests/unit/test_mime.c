/*
 * test_mime.c - mime_split() against GMime: where it splits a body, the
 * parts (media type, charset, boundary, content bytes, enclosed message or
 * not) must be GMime's, and parser_parse() must give the same report with
 * and without it; where it declines, GMime parses.  Over every fixture
 * file and over edge cases written here.
 */
#include <string.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "parsers/fields.h"
#include "parsers/mime.h"
#include "parsers/parser.h"
#include "parsers/report.h"
#include "parsers/sanitize.h"
#include "unit.h"

static GMimeParserOptions *gopts;

/* One part as a line of text, for comparing the two splits. */
static void
describe(GString *out, const char *kind, const char *type, gsize tn, const char *sub, gsize sn,
    const char *cs, gssize csn, const char *content, gssize cn)
{
	g_string_append_printf(out, "%s %.*s/%.*s", kind, (int)tn, type, (int)sn, sub);
	if (cs != NULL)
		g_string_append_printf(out, " charset=%.*s", (int)csn, cs);
	if (content != NULL) {
		char *sum = g_compute_checksum_for_data(G_CHECKSUM_MD5, (const guchar *)content, cn);

		g_string_append_printf(out, " content=%zd:%s", cn, sum);
		g_free(sum);
	}
	g_string_append_c(out, '\n');
}

static void
gmime_describe(GString *out, GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *t = g_mime_content_type_get_media_type(ct);
	const char *s = g_mime_content_type_get_media_subtype(ct);
	const char *cs = g_mime_object_get_content_type_parameter(o, "charset");

	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		const char *b = g_mime_object_get_content_type_parameter(o, "boundary");

		describe(out, b != NULL ? "multipart" : "multipart-noboundary", t, strlen(t), s,
		    strlen(s), cs, cs != NULL ? (gssize)strlen(cs) : 0, NULL, 0);
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			gmime_describe(out, g_mime_multipart_get_part(mp, i));
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		describe(out, m != NULL ? "message" : "message-empty", t, strlen(t), s, strlen(s),
		    cs, cs != NULL ? (gssize)strlen(cs) : 0, NULL, 0);
	} else if (GMIME_IS_PART(o)) {
		GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(o));
		GByteArray *ba = g_byte_array_new();
		GMimeStream *ms = g_mime_stream_mem_new_with_byte_array(ba);

		if (dw != NULL && g_mime_data_wrapper_get_stream(dw) != NULL) {
			GMimeStream *src = g_mime_data_wrapper_get_stream(dw);

			g_mime_stream_reset(src);
			g_mime_stream_write_to_stream(src, ms);
		}
		describe(out, "leaf", t, strlen(t), s, strlen(s), cs,
		    cs != NULL ? (gssize)strlen(cs) : 0, ba->len > 0 ? (const char *)ba->data : "", ba->len);
		g_object_unref(ms);
	} else
		g_string_append(out, "other\n");
}

static void
split_describe(GString *out, const GArray *parts)
{
	for (guint i = 0; i < parts->len; i++) {
		const struct mime_part *m = &g_array_index(parts, struct mime_part, i);

		if (m->node == MIME_MULTIPART)
			describe(out, m->boundary != NULL ? "multipart" : "multipart-noboundary",
			    m->type, m->type_len, m->sub, m->sub_len, m->charset, m->charset_len,
			    NULL, 0);
		else if (m->node == MIME_MESSAGE)
			describe(out, m->has_message ? "message" : "message-empty", m->type,
			    m->type_len, m->sub, m->sub_len, m->charset, m->charset_len, NULL, 0);
		else
			describe(out, "leaf", m->type, m->type_len, m->sub, m->sub_len, m->charset,
			    m->charset_len, m->content != NULL ? m->content : "", m->content_len);
	}
}

/* The message's header ends at its first empty line (as parser.c's raw_body()). */
static gsize
header_end(const char *b, gsize n)
{
	for (gsize i = 0; i + 1 < n; i++)
		if (b[i] == '\n' && (b[i + 1] == '\n' ||
		    (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')))
			return i + 1;
	return n;
}

/*
 * Splits data both ways; TRUE when mime_split() accepted it (and then the
 * two agree, or the test fails).
 */
static gboolean
compare_split(const char *name, const char *data, gsize len)
{
	struct sanitize_limits lim = { 20, 1000, 256 * 1024, 64 * 1024 * 1024, NULL };
	const char *why = NULL, *buf, *ct, *cte;
	char *copy = NULL;
	gsize blen, h;
	guint32 an = 0;
	struct fields *top;
	GArray *parts = g_array_new(FALSE, FALSE, sizeof(struct mime_part));
	gboolean ok;

	buf = sanitize_prepare(&lim, data, len, &blen, &copy, &an, &why);
	if (buf == NULL) {
		g_free(copy);
		g_array_free(parts, TRUE);
		return FALSE;
	}
	h = header_end(buf, blen);
	h = h < blen ? h + (buf[h] == '\r' ? 2 : 1) : blen;
	top = fields_parse_header(buf, h);
	ct = fields_get(top, 0, "Content-Type");
	cte = fields_get(top, 0, "Content-Transfer-Encoding");
	ok = mime_split(ct, cte, buf + h, blen - h, 1000, 20, parts);
	if (ok) {
		GString *pre = g_string_new(NULL), *a = g_string_new(NULL), *b = g_string_new(NULL);
		GMimeStream *st;
		GMimeParser *gp;
		GMimeObject *o;

		if (ct != NULL)
			g_string_append_printf(pre, "Content-Type: %s\n", ct);
		if (cte != NULL)
			g_string_append_printf(pre, "Content-Transfer-Encoding: %s\n", cte);
		g_string_append_c(pre, '\n');
		g_string_append_len(pre, buf + h, blen - h);
		st = g_mime_stream_mem_new_with_buffer(pre->str, pre->len);
		gp = g_mime_parser_new_with_stream(st);
		o = g_mime_parser_construct_part(gp, gopts);
		g_assert_nonnull(o);
		gmime_describe(a, o);
		split_describe(b, parts);
		if (strcmp(a->str, b->str) != 0)
			g_error("%s: GMime:\n%s\nmime_split:\n%s", name, a->str, b->str);
		g_object_unref(o);
		g_object_unref(gp);
		g_object_unref(st);
		g_string_free(pre, TRUE);
		g_string_free(a, TRUE);
		g_string_free(b, TRUE);
	}
	fields_free(top);
	g_free(copy);
	g_array_free(parts, TRUE);
	return ok;
}

/* parser_parse() with and without mime_split(): the same report, byte for byte. */
static void
compare_reports(const char *name, const char *data, gsize len)
{
	static struct parser *p;
	struct report *r1, *r2;
	GBytes *b1, *b2;

	if (p == NULL) {
		struct parser_options o;
		char *err = NULL;
		static char *corr[] = { "X-Campaign-Id", "Feedback-ID", NULL };

		memset(&o, 0, sizeof(o));
		o.rules_path = "conf/rules.conf";
		o.correlation_headers = corr;
		p = parser_new(&o, &err);
		g_assert_nonnull(p);
	}
	parser_set_gmime_only(p, FALSE);
	r1 = parser_parse(p, data, len, NULL);
	parser_set_gmime_only(p, TRUE);
	r2 = parser_parse(p, data, len, NULL);
	parser_set_gmime_only(p, FALSE);
	b1 = report_serialize(r1);
	b2 = report_serialize(r2);
	if (!g_bytes_equal(b1, b2))
		g_error("%s: report differs with and without mime_split", name);
	g_bytes_unref(b1);
	g_bytes_unref(b2);
	report_free(r1);
	report_free(r2);
}

static void
collect(const char *dir, GPtrArray *out)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;

	g_assert_nonnull(d);
	while ((n = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, n, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_DIR))
			collect(path, out);
		else if (g_str_has_suffix(n, ".eml"))
			g_ptr_array_add(out, g_steal_pointer(&path));
		g_free(path);
	}
	g_dir_close(d);
}

static void
test_fixtures(void)
{
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	guint i, split = 0;

	collect("tests/fixtures", files);
	g_assert_cmpuint(files->len, >, 30);
	for (i = 0; i < files->len; i++) {
		const char *f = g_ptr_array_index(files, i);
		char *data;
		gsize len;

		g_assert_true(g_file_get_contents(f, &data, &len, NULL));
		split += compare_split(f, data, len);
		compare_reports(f, data, len);
		g_free(data);
	}
	/* most fixtures are plainly structured: the comparison is not vacuous */
	g_assert_cmpuint(split, >, files->len / 2);
	g_ptr_array_free(files, TRUE);
}

/* Shapes at the edge of what mime_split() takes, and whether it takes them. */
static const struct {
	const char *name;
	gboolean split;
	const char *msg;
} cases[] = {
	{ "plain-report", TRUE,
	  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
	  "preamble\n--B\nContent-Type: text/plain; charset=us-ascii\n\nhello\n\n"
	  "--B\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\n"
	  "Action: failed\nStatus: 5.1.1\n\n--B\nContent-Type: message/rfc822\n\n"
	  "From: x@y.example\nTo: a@b.example\nSubject: hi\n\nbody\n--B--\nepilogue\n" },
	{ "crlf", TRUE,
	  "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n"
	  "\r\nline one\r\nline two\r\n--B--\r\n" },
	{ "mixed-line-ends", FALSE,
	  "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\n"
	  "text\n--B--\r\n" },
	{ "nested-unclosed", TRUE,
	  "Content-Type: multipart/mixed; boundary=\"A\"\n\n--A\n"
	  "Content-Type: multipart/alternative; boundary=\"C\"\n\n--C\nContent-Type: text/plain\n\n"
	  "inner\n--A\nContent-Type: text/html\n\n<p>x</p>\n--A--\n" },
	{ "no-boundary-inner", TRUE,
	  "Content-Type: multipart/mixed; boundary=\"A\"\n\n--A\nX-Test: one\ntwo\n"
	  "Content-Type: multipart/alternative;\nboundary=\"C\"\n\n--C\nContent-Type: text/plain\n\n"
	  "hi\n--C--\n--A\nContent-Type: text/plain\n\nsecond\n--A--\n" },
	{ "base64-and-qp", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQK\n--A\n"
	  "Content-Type: message/delivery-status\nContent-Transfer-Encoding: quoted-printable\n\n"
	  "Status: 5.1.1=\n\nAction: failed=3D\n--A--\n" },
	{ "empty-parts", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain\n\n--A\n"
	  "Content-Type: message/rfc822\n\n--A\n\n\n--A--\n" },
	{ "rfc822-empty-line", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n\n\n--A--\n" },
	{ "unclosed-at-end", TRUE,
	  "Content-Type: multipart/report; boundary=A\n\n--A\nContent-Type: text/plain\n\nnotice\n"
	  "--A\nContent-Type: message/rfc822\n\nFrom: a@b.example\n" },
	{ "boundary-trailing-space", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A  \nContent-Type: text/plain\n\nx\n--A-- \t\n" },
	{ "boundary-lookalike", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain\n\n--Ax\n"
	  "--A--x\n--A--\n" },
	{ "leaf-top", TRUE,
	  "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
	  "caf=E9\n" },
	{ "no-content-type", TRUE, "Subject: x\n\nhello\n" },
	{ "params-without-semicolon", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain\n"
	  "   charset=\"iso-2022-jp\"\n\nx\n--A\nContent-Type: text/plain charset=cc\n\ny\n--A--\n" },
	{ "param-without-value", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n"
	  "Content-Type: text/rfc822-headers; Content-Transfer-Encoding: 8bit\n\nFrom: a@b.example\n"
	  "--A\nContent-Type: text/plain; charset=aa; bad param; boundary=y\n\nz\n--A--\n" },
	{ "junk-after-subtype", TRUE,
	  "Content-Type: multipart/r ro;eptreport-type=delivery-status; boundary=\"B5\"\n\n--B5\n"
	  "Content-Type: text/plain ro;charset=aa\n\nx\n--B5\n"
	  "Content-Type: text/plain x=1 ; charset=bb; y z; charset=q\n\ny\n--B5--\n" },
	{ "top-params-without-semicolon", TRUE,
	  "Content-Type: multipart/mixed boundary=A\n\n--A\nContent-Type: text/plain\n\nx\n--A--\n" },
	{ "partial-and-external", TRUE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/partial; id=x; number=1\n"
	  "\nFrom: a@b.example\n\npart\n--A\nContent-Type: message/external-body; access-type=x\n\n"
	  "Content-Type: text/plain\n\n--A--\n" },
	{ "white-space-line-in-part-header", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain\n \n\nx\n--A--\n" },
	{ "colonless-8bit-line-in-part-header", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n\xb4\n"
	  "X-Test: one\n\nFrom: a@b.example\n\nx\n--A--\n" },
	{ "colonless-line-with-space-in-part-header", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain\nbad line\n"
	  "X-Test: one\n\nx\n--A--\n" },
	{ "8bit-param-name", FALSE,
	  "Content-Type: multipart/report; re\xe9port-type=deli\x8cs; boundary=\"H\"\n\n--H\n"
	  "Content-Type: text/plain\n\nx\n--H--\n" },
	{ "unquoted-value-with-space", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain; charset=dd junk\n"
	  "\nx\n--A--\n" },
	{ "rfc2231-param", FALSE,
	  "Content-Type: multipart/mixed; boundary*=us-ascii''A\n\n--A\n\nx\n--A--\n" },
	{ "comment-in-type", FALSE,
	  "Content-Type: multipart/mixed; boundary=A (c)\n\n--A\n\nx\n--A--\n" },
	{ "part-header-into-boundary", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: text/plain\n--A--\n" },
	{ "clashing-boundaries", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: multipart/mixed; boundary=AB\n\n"
	  "--AB\n\nx\n--AB--\n--A--\n" },
	{ "digest", FALSE,
	  "Content-Type: multipart/digest; boundary=A\n\n--A\n\nFrom: a@b.example\n\nx\n--A--\n" },
	{ "close-first", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A--\n--A\n\nx\n" },
	{ "enclosed-same-boundary", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n\n"
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\n\ninner\n--A--\n--A--\n" },
	{ "enclosed-nested-same-boundary", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n\n"
	  "Content-Type: multipart/mixed; boundary=C\n\n--C\nContent-Type: multipart/mixed; boundary=A\n\n"
	  "--A\n\ninner\n--A--\n--C--\n--A\nContent-Type: text/plain\n\nouter\n--A--\n" },
	{ "enclosed-header-to-boundary", TRUE,
	  "Subject: complaint about message from 192.0.2.1\nContent-Type: multipart/mixed; boundary=A\n\n"
	  "--A\nContent-Type: message/rfc822\n\nMessage-ID:: \nhello\n--A--\n" },
	{ "encoded-rfc822", FALSE,
	  "Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: message/rfc822\n"
	  "Content-Transfer-Encoding: base64\n\nRnJvbTogYUBiCgp4Cg==\n--A--\n" },
};

static void
test_cases(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *m = cases[i].msg;

		if (compare_split(cases[i].name, m, strlen(m)) != cases[i].split)
			g_error("%s: mime_split %s it", cases[i].name,
			    cases[i].split ? "declined" : "took");
		compare_reports(cases[i].name, m, strlen(m));
	}
}

/* What the walk reads from a split: decoded text through the same GMime steps. */
static void
test_split_parts(void)
{
	GArray *parts = g_array_new(FALSE, FALSE, sizeof(struct mime_part));
	const char *body = "--B\nContent-Type: text/plain;\n charset=\"UTF-8\"\n\nhi\n--B\n"
	    "Content-Type: message/rfc822\n\nFrom: a@b.example\nSubject: s\n\nbody\n--B--\n";
	const struct mime_part *m;

	g_assert_true(mime_split("multipart/report; boundary=B", NULL, body, strlen(body), 10, 5,
	    parts));
	g_assert_cmpuint(parts->len, ==, 3);
	m = &g_array_index(parts, struct mime_part, 1);
	g_assert_cmpmem(m->type, m->type_len, "text", 4);
	g_assert_cmpmem(m->sub, m->sub_len, "plain", 5);
	g_assert_cmpint(m->depth, ==, 1);
	g_assert_cmpmem(m->charset, m->charset_len, "UTF-8", 5);
	g_assert_cmpmem(m->content, m->content_len, "hi", 2);
	m = &g_array_index(parts, struct mime_part, 2);
	g_assert_cmpint(m->node, ==, MIME_MESSAGE);
	g_assert_true(m->has_message);
	g_assert_cmpmem(m->content, m->header_len, "From: a@b.example\nSubject: s\n\n", 30);
	/* the limits make it decline, so that GMime's walk flags them */
	g_assert_false(mime_split("multipart/report; boundary=B", NULL, body, strlen(body), 2, 5,
	    parts));
	g_assert_false(mime_split("multipart/report; boundary=B", NULL, body, strlen(body), 10, 0,
	    parts));
	g_array_free(parts, TRUE);
}

static const struct unit_test tests[] = {
	{ "/mime/split_parts", test_split_parts },
	{ "/mime/cases", test_cases },
	{ "/mime/fixtures", test_fixtures },
};

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	gopts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(gopts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(gopts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(gopts, GMIME_RFC_COMPLIANCE_LOOSE);
	unit_add(tests, G_N_ELEMENTS(tests));
	return g_test_run();
}
