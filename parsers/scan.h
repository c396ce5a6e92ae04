/*
 * scan.h - byte scans shared by the parsers' line readers (fields.c,
 * sanitize.c).  Lines of mail are short (tens of bytes), where memchr()'s
 * call costs more than its scan, and a line end is either of two bytes:
 * sixteen bytes are tested at a time, inline.  Not an API.
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

/* The first line end (LF or CR) in [p, end), or end. */
static inline const char *
scan_eol(const char *p, const char *end)
{
	return scan_either(p, end, '\n', '\r');
}

#endif
