/* render.c - see render.h. */
#include "workers/render.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * JSON as json-glib's generator writes it, byte for byte (the lines were
 * made with it, and scripts compare them): no spaces, members in order,
 * strings up to their NUL with '"' and '\\' escaped, \b \t \n \f \r by
 * name, the other bytes 0x01-0x1e and 0x7f as \u00xx, everything else
 * (0x1f, non-ASCII, invalid UTF-8) as is.  test_workers_render checks it
 * against json-glib.
 */
/* g_string_append_len() inline: most appends fit, and the call costs more than the copy. */
static inline void
put(GString *o, const char *s, gsize n)
{
	if (o->allocated_len - o->len > n) {
		memcpy(o->str + o->len, s, n);
		o->len += n;
		o->str[o->len] = '\0';
	} else
		g_string_append_len(o, s, n);
}

/* s: a string literal */
#define put_lit(o, s)	put((o), (s), sizeof(s) - 1)

/* v in decimal, as "%" G_GINT64_FORMAT writes it. */
static void
put_int(GString *o, gint64 v)
{
	char buf[24], *w = buf + sizeof(buf);
	guint64 u = v < 0 ? -(guint64)v : (guint64)v;

	do
		*--w = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--w = '-';
	put(o, w, buf + sizeof(buf) - w);
}

/* Does byte c need escaping (see above)? */
static inline int
json_escaped(unsigned char c)
{
	return c == '"' || c == '\\' || c == 0x7f || c < 0x1f;
}

/*
 * Do the eight bytes of v hold one that may need escaping: below 0x20
 * (0x1f too: the byte loop decides), '"', '\\' or 0x7f?  Exact for a word
 * without any: most words of most strings are copied whole.
 */
static inline int
json_word_suspect(guint64 v)
{
	const guint64 ones = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	guint64 q = v ^ (ones * '"'), b = v ^ (ones * '\\'), d = v ^ (ones * 0x7f);

	return ((((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b) |
	    ((d - ones) & ~d)) & hi) != 0;
}

#ifdef __SSE2__
/* The bits of the sixteen bytes at p that json_word_suspect() would suspect, one a byte. */
static inline int
json_suspects16(const unsigned char *p)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	/* below 0x20 unsigned: min(v, 0x1f) == v */
	__m128i m = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);

	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
	return _mm_movemask_epi8(m);
}
#endif

static void
json_string(GString *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p, *end;

	end = p + strlen(s);
	g_string_append_c(o, '"');
	while (p < end) {
		unsigned char c;
		char esc;

#ifdef __SSE2__
		/* sixteen bytes at a time, on to the first that may need escaping */
		if (end - p >= 16) {
			int m = json_suspects16(p);

			if (m == 0) {
				p += 16;
				continue;
			}
			p += __builtin_ctz((unsigned)m);
		} else {
			/* the last bytes, copied out: the string may end at a page's end */
			unsigned char tail[16] = { 0 };
			int m;

			memcpy(tail, p, end - p);
			m = json_suspects16(tail) & ((1 << (end - p)) - 1);
			if (m == 0) {
				p = end;
				break;
			}
			p += __builtin_ctz((unsigned)m);
		}
#else
		if (end - p >= 8) {
			guint64 v;

			memcpy(&v, p, 8);
			if (!json_word_suspect(v)) {
				p += 8;
				continue;
			}
		}
#endif
		if (!json_escaped(c = *p)) {
			p++;
			continue;
		}
		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\b': esc = 'b'; break;
		case '\t': esc = 't'; break;
		case '\n': esc = 'n'; break;
		case '\f': esc = 'f'; break;
		case '\r': esc = 'r'; break;
		default: esc = 'u'; break;
		}
		put(o, (const char *)run, p - run);
		g_string_append_c(o, '\\');
		g_string_append_c(o, esc);
		if (esc == 'u') {
			put_lit(o, "00");
			g_string_append_c(o, hex[c >> 4]);
			g_string_append_c(o, hex[c & 15]);
		}
		run = ++p;
	}
	put(o, (const char *)run, end - run);
	g_string_append_c(o, '"');
}

/* ,"k":"v" (or null): key, the member's name escaped already, with its comma and colon. */
static void
json_member(GString *o, const char *key, gsize keylen, const char *v)
{
	put(o, key, keylen);
	if (v != NULL)
		json_string(o, v);
	else
		put_lit(o, "null");
}

/* k: a string literal that needs no escaping */
#define json_str(o, k, v)	json_member((o), ",\"" k "\":", sizeof(",\"" k "\":") - 1, (v))

/*
 * The correlation pairs in the order a report_deserialize()d copy of the
 * report iterates them: the lines are the same whether the report crossed
 * the process boundary (it was re-inserted in this table's iteration order,
 * which can differ from the original's when keys collide) or not.
 */
static void
json_correlation(GString *o, GHashTable *corr, int wire_order)
{
	GHashTable *copy = NULL;
	GHashTableIter it;
	gpointer k, v;

	if (wire_order) {
		copy = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_iter_init(&it, corr);
		while (g_hash_table_iter_next(&it, &k, &v))
			g_hash_table_replace(copy, k, v);
		corr = copy;
	}
	g_string_append(o, ",\"correlation\":{");
	g_hash_table_iter_init(&it, corr);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (o->str[o->len - 1] != '{')
			g_string_append_c(o, ',');
		json_string(o, k);
		g_string_append_c(o, ':');
		json_string(o, v);
	}
	g_string_append_c(o, '}');
	if (copy != NULL)
		g_hash_table_destroy(copy);
}

static void
render_json(GString *out, int wire_order, const char *file, long index,
    const struct report *r, const struct report_record *rec)
{
	put_lit(out, "{\"file\":");
	if (file != NULL)
		json_string(out, file);
	else
		put_lit(out, "null");
	if (index >= 0) {
		put_lit(out, ",\"message\":");
		put_int(out, index);
	}
	json_str(out, "kind", report_kind_name(r->kind));
	json_str(out, "recipient", rec ? rec->recipient : NULL);
	json_str(out, "recipient_from", rec ? rec->recipient_from : NULL);
	json_str(out, "original_recipient", rec ? rec->original_recipient : NULL);
	json_str(out, "class", rec ? report_class_name(rec->class_) : NULL);
	json_str(out, "reason", rec ? rec->reason : NULL);
	json_str(out, "status", rec ? rec->status : NULL);
	json_str(out, "replycode", rec ? rec->replycode : NULL);
	json_str(out, "action", rec ? rec->action : NULL);
	json_str(out, "diagnostic", rec ? rec->diagnostic : NULL);
	json_str(out, "remote_mta", rec ? rec->remote_mta : NULL);
	json_str(out, "last_attempt", rec ? rec->last_attempt : NULL);
	json_str(out, "feedback_type", rec ? rec->feedback_type : NULL);
	json_str(out, "smtp_command", rec ? rec->smtp_command : NULL);
	json_str(out, "rule", rec ? rec->rule : NULL);
	json_str(out, "reporting_mta", r->reporting_mta);
	json_str(out, "mta", r->mta);
	json_str(out, "arrival_date", r->arrival_date);
	json_str(out, "original_message_id", r->orig_message_id);
	json_str(out, "original_from", r->orig_from);
	json_str(out, "original_to", r->orig_to);
	json_str(out, "original_subject", r->orig_subject);
	json_str(out, "list_id", r->orig_list_id);
	if (r->kind == REPORT_KIND_ARF) {
		json_str(out, "user_agent", r->user_agent);
		json_str(out, "source_ip", r->source_ip);
		json_str(out, "original_mail_from", r->original_mail_from);
		json_str(out, "reported_domain", r->reported_domain);
		json_str(out, "authentication_results", r->auth_results);
	}
	if (g_hash_table_size(r->correlation) > 0)
		json_correlation(out, r->correlation, wire_order);
	/* Records were dropped at [parser] max_recipients: this is not the whole report. */
	if ((r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS) != 0)
		put_lit(out, ",\"truncated\":true,\"anomalies\":");
	else
		put_lit(out, ",\"truncated\":false,\"anomalies\":");
	put_int(out, r->anomalies);
	json_str(out, "outcome", r->outcome);
	put_lit(out, "}\n");
}

void
render_report(GString *out, GString *err, int format, const char *file, long index,
    const struct report *r)
{
	int wire_order = (format & RENDER_WIRE_ORDER) != 0;
	int outcomes = (format & RENDER_OUTCOMES) != 0;
	guint i;

	format &= ~(RENDER_WIRE_ORDER | RENDER_OUTCOMES);
	/* No record but something to say (a DSN without recipients, a hostile message): one line. */
	if (strcmp(r->outcome != NULL ? r->outcome : "ok", "ok") != 0 && r->records->len == 0) {
		if (r->kind == REPORT_KIND_NONE)
			g_string_append_printf(err, "rebound parse: %s: unparseable: %s\n", file,
			    r->outcome);
		else
			g_string_append_printf(err, "rebound parse: %s: %s: %s\n", file,
			    report_kind_name(r->kind), r->outcome);
		if (format == RENDER_JSON && outcomes)
			render_json(out, wire_order, file, index, r, NULL);
		return;
	}
	for (i = 0; i < r->records->len; i++) {
		const struct report_record *rec = g_ptr_array_index(r->records, i);

		if (format == RENDER_JSON)
			render_json(out, wire_order, file, index, r, rec);
		else
			g_string_append_printf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", file,
			    report_kind_name(r->kind), rec->recipient ? rec->recipient : "-",
			    report_class_name(rec->class_), rec->reason ? rec->reason : "-",
			    rec->status ? rec->status : "-", rec->rule ? rec->rule : "-");
	}
}
