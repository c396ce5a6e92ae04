/*
 * rules_fold.c - text folded for the rules (see rules.h).
 */
#include <string.h>
#include <glib.h>

#include "parsers/rules.h"
#include "parsers/scan.h"

char *
rules_fold(const char *text)
{
	return rules_fold_n(text, G_MAXSIZE);
}

char *
rules_fold_n(const char *text, gsize max)
{
	const char *p, *end, *slow;
	char *out, *w;
	gboolean sp = FALSE, cont = FALSE;	/* cont: inside a multi-line reply */

	if (text == NULL)
		return NULL;
	end = text + strnlen(text, max);
	/* Cut short: never inside a UTF-8 sequence, which the regexes (PCRE2
	 * JIT, UTF mode, unchecked) must not see. */
	while (*end != '\0' && end > text && ((guchar)*end & 0xc0) == 0x80)
		end--;
	/* Never longer than the text: each byte written stands for one read. */
	w = out = g_malloc(end - text + 1);
	/* the word-at-a-time path below reads bytes in memory order */
	slow = G_BYTE_ORDER == G_LITTLE_ENDIAN ? text : end;
	for (p = text; p < end; p++) {
		/*
		 * Eight bytes at a time while none is a control or a line end
		 * and no two spaces meet (most of a text: words and single
		 * spaces, which fold to themselves): copied, A-Z made a-z.
		 * After a word that cannot be, the bytes up to what stopped it
		 * go one at a time.
		 */
		while (end - p >= 8 && p >= slow) {
			const guint64 hi = 0x8080808080808080ull, lo7 = ~hi;
			guint64 v, x, sm, up, bad;

			memcpy(&v, p, 8);
			/* any byte below ' ': the first such is exact */
			if ((bad = (v - 0x2020202020202020ull) & ~v & hi) != 0) {
				slow = p + __builtin_ctzll(bad) / 8 + 1;
				break;
			}
			/* 0x80 in each space byte, exactly */
			x = v ^ 0x2020202020202020ull;
			sm = ~(((x & lo7) + lo7) | x | lo7);
			if ((bad = sm & (sm >> 8)) != 0) {
				/* two spaces in a row */
				slow = p + __builtin_ctzll(bad) / 8 + 2;
				break;
			}
			if ((sm & 0x80) != 0 && (sp || w == out)) {
				/* a space first: it joins a pending one, or leads */
				slow = p + 1;
				break;
			}
			/* ASCII bytes at or above 'A' and not above 'Z' */
			up = ((v & lo7) + 0x3f3f3f3f3f3f3f3full) & ~((v & lo7) + 0x2525252525252525ull) &
			    ~v & hi;
			v |= up >> 2;
			if (sp)
				*w++ = ' ';
			memcpy(w, &v, 8);
			/* a space last waits, as one would, for what follows it */
			sp = (sm >> 56) != 0;
			w += sp ? 7 : 8;
			p += 8;
		}
		if (p >= end)
			break;
		if ((guchar)*p > ' ') {
			/* most bytes: neither a space nor a line end */
			if (sp)
				*w++ = ' ';
			sp = FALSE;
			*w++ = *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
			continue;
		}
		if ((*p == '\n' || *p == '\r') && p + 1 < end && scan_noise_field(p + 1, end)) {
			/*
			 * A quoted header field that is no evidence (scan.h), and
			 * its folded lines: left out, as if it were not there.
			 */
			const char *q = p + 1;

			do {
				while (q < end && *q != '\n' && *q != '\r')
					q++;
				if (q + 1 < end && *q == '\r' && q[1] == '\n')
					q++;
			} while (q + 1 < end && (q[1] == ' ' || q[1] == '\t') && ++q);
			sp = w > out;
			p = q - 1;
			continue;
		}
		if ((*p == '\n' || *p == '\r') && p[1] != '\0') {
			/*
			 * A continuation line of a multi-line SMTP reply repeats
			 * "550-5.7.1 ": drop it so that the sentence it splits reads
			 * as one.
			 */
			const char *q = p + 1;

			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == '<')
				q++;
			if ((*q == '4' || *q == '5') && g_ascii_isdigit(q[1]) && g_ascii_isdigit(q[2]) &&
			    (q[3] == '-' || (q[3] == ' ' && cont))) {
				const char *r = q + 4;

				if ((*r == '4' || *r == '5') && r[1] == '.') {
					while (*r != '\0' && !g_ascii_isspace(*r))
						r++;
				}
				if (w > out)
					sp = TRUE;
				cont = q[3] == '-';
				p = r - 1;
				continue;
			}
			cont = FALSE;
		}
		if (g_ascii_isspace(*p)) {
			sp = w > out;
			continue;
		}
		if (sp)
			*w++ = ' ';
		sp = FALSE;
		/* g_ascii_tolower() is a function call, for every byte of an 8 KB text */
		*w++ = *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
	}
	*w = '\0';
	return out;
}
