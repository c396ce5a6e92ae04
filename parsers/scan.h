/*
 * scan.h - byte scans shared by the parsers' line readers (fields.c,
 * sanitize.c, parser.c).  Lines of mail are short (tens of bytes), where memchr()'s
 * call costs more than its scan, and a line end is either of two bytes:
 * sixteen bytes are tested at a time, inline.  And the lower case of the
 * addresses and values they read, eight bytes at a time.  Not an API.
 */
#ifndef REBOUND_SCAN_H
#define REBOUND_SCAN_H

#include <string.h>
#include <glib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The first of a or b in [p, end), or end. */
static inline const char *
scan_either(const char *p, const char *end, char a, char b)
{
#ifdef __SSE2__
	const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)));

		if (m != 0)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	while (p < end && *p != a && *p != b)
		p++;
	return p;
}

/* The eight bytes of v with A-Z made a-z, the others as they are. */
static inline guint64
scan_lower8(guint64 v)
{
	const guint64 hi = 0x8080808080808080ull, lo7 = ~hi;

	/* ASCII bytes at or above 'A' and not above 'Z' get 0x20 */
	return v | (((v & lo7) + 0x3f3f3f3f3f3f3f3full) & ~((v & lo7) + 0x2525252525252525ull) &
	    ~v & hi) >> 2;
}

/*
 * g_ascii_strncasecmp(a, b, n) == 0 where neither holds a NUL in its
 * first n bytes, inline: field names are compared by the thousand, and
 * most differ at their first or second byte.
 */
static inline gboolean
ascii_eq_ci(const char *a, const char *b, gsize n)
{
	gsize i = 0;

	/* eight bytes at a time: equal names (every lookup that finds one) read whole */
	for (; i + 8 <= n; i += 8) {
		guint64 x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y && scan_lower8(x) != scan_lower8(y))
			return FALSE;
	}
	for (; i < n; i++) {
		char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return FALSE;
	}
	return TRUE;
}

/* The first c in [p, end), or end: memchr() without its call, for a short line. */
static inline const char *
scan_byte(const char *p, const char *end, char c)
{
	return scan_either(p, end, c, c);
}

/* The first line end (LF or CR) in [p, end), or end. */
static inline const char *
scan_eol(const char *p, const char *end)
{
	return scan_either(p, end, '\n', '\r');
}

/*
 * The first p[i] (i >= 1, p + i < end) that is a or b right after an LF:
 * the start of a line beginning with a or b.  end when there is none.
 * p[0] itself is not looked at.
 */
static inline const char *
scan_line_start(const char *p, const char *end, char a, char b)
{
#ifdef __SSE2__
	const __m128i lf = _mm_set1_epi8('\n'), va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);

	while (end - p >= 17) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		int m = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(v, lf),
		    _mm_or_si128(_mm_cmpeq_epi8(w, va), _mm_cmpeq_epi8(w, vb))));

		if (m != 0)
			return p + 1 + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; end - p >= 2; p++)
		if (p[0] == '\n' && (p[1] == a || p[1] == b))
			return p + 1;
	return end;
}

/* The first CR in [p, end) that no LF follows, or end. */
static inline const char *
scan_bare_cr(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');

	while (end - p >= 17) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		int m = _mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(w, lf),
		    _mm_cmpeq_epi8(v, cr)));

		if (m != 0)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (*p == '\r' && (p + 1 >= end || p[1] != '\n'))
			return p;
	return end;
}

/*
 * The first p[i] (i >= 1, p + i < end) that is one of a, b, c, d right
 * after a CR or an LF, or end.  p[0] itself is not looked at.
 */
static inline const char *
scan_line_start4(const char *p, const char *end, char a, char b, char c, char d)
{
#ifdef __SSE2__
	const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vc = _mm_set1_epi8(c),
	    vd = _mm_set1_epi8(d);

	while (end - p >= 17) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i eol = _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, va), _mm_cmpeq_epi8(w, vb)),
		    _mm_or_si128(_mm_cmpeq_epi8(w, vc), _mm_cmpeq_epi8(w, vd)));
		int m = _mm_movemask_epi8(_mm_and_si128(eol, hit));

		if (m != 0)
			return p + 1 + __builtin_ctz((unsigned)m);
		p += 16;
	}
#endif
	for (; end - p >= 2; p++)
		if ((p[0] == '\n' || p[0] == '\r') && (p[1] == a || p[1] == b || p[1] == c || p[1] == d))
			return p + 1;
	return end;
}

/*
 * Is the line at p (up to end) a header field a notice quotes that is
 * never evidence of why or for whom delivery failed: a spam or virus
 * verdict, a trace or signature field?  "X-Spam-Status: No, tests=..."
 * must not make a spam rejection, nor "Received: ... for <x@y>" or
 * "DKIM-Signature: ... i=x@y" a recipient.  Most lines are turned away
 * by their first byte.
 */
static inline gboolean
scan_noise_field(const char *p, const char *end)
{
	/* by first letter: a line is checked against the few names it could start */
	static const char *const x_names[] = { "x-spam", "x-ham", "x-virus", "x-barracuda",
		"x-proofpoint", "x-mimecast-spam", "x-forefront-antispam", "x-microsoft-antispam",
		"x-ms-exchange-organization-scl", "x-ms-exchange-organization-antispam",
		"x-google-dkim-signature:", "x-received:", NULL };
	static const char *const d_names[] = { "dkim-signature:", "domainkey-signature:", NULL };
	static const char *const a_names[] = { "arc-", "authentication-results:", NULL };
	static const char *const r_names[] = { "received:", "received-spf:", NULL };
	const char *const *names;
	const char *q;
	gsize n;

	while (p < end && (*p == ' ' || *p == '>'))
		p++;
	if (p == end)
		return FALSE;
	switch (*p) {
	case 'x': case 'X': names = x_names; break;
	case 'd': case 'D': names = d_names; break;
	case 'a': case 'A': names = a_names; break;
	case 'r': case 'R': names = r_names; break;
	default: return FALSE;
	}
	/* a field name runs up to its colon without blanks */
	for (q = p; q < end && *q != ':' && *q != ' ' && *q != '\t' && *q != '\n'; q++)
		;
	if (q == end || *q != ':')
		return FALSE;
	n = end - p;
	for (; *names != NULL; names++) {
		gsize m = strlen(*names);

		if (n >= m && ascii_eq_ci(p, *names, m))
			return TRUE;
	}
	return FALSE;
}

/*
 * g_ascii_strdown(s, len): a new string, A-Z made a-z, up to the first
 * NUL of s's first len bytes (len < 0: all of s).  Eight bytes at a time
 * rather than a call per byte: it lowers every address and header value
 * a report is matched by.
 */
static inline char *
scan_ascii_down(const char *s, gssize len)
{
	const guint64 ones = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	gsize n = len < 0 ? strlen(s) : (gsize)len, i = 0;
	char *out = g_malloc(n + 1);

	for (; i + 8 <= n; i += 8) {
		guint64 v;

		memcpy(&v, s + i, 8);
		if (((v - ones) & ~v & hi) != 0)
			break;		/* a NUL: the bytes one at a time */
		v = scan_lower8(v);
		memcpy(out + i, &v, 8);
	}
	for (; i < n && s[i] != '\0'; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i];
	memset(out + i, 0, n + 1 - i);
	return out;
}

#endif
