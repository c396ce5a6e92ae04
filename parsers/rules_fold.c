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

/* Where folding is: what is written so far, and how. */
struct fold {
	char *out, *w;		/* the folded text, and where the next byte goes */
	const char *slow;	/* bytes before it go one at a time */
	gboolean sp;		/* a space is pending */
};

/*
 * Eight bytes at a time from p while none is a control or a line end
 * and no two spaces meet (most of a text: words and single spaces, which
 * fold to themselves): copied, A-Z made a-z.  After a word that cannot be,
 * the bytes up to what stopped it go one at a time (f->slow).  Returns
 * where it stopped.
 */
static const char *
fold_words(struct fold *f, const char *p, const char *end)
{
	while (end - p >= 8 && p >= f->slow) {
		const guint64 hi = 0x8080808080808080ull, lo7 = ~hi;
		guint64 v, x, sm, up, bad;

		memcpy(&v, p, 8);
		/* any byte below ' ': the first such is exact */
		if ((bad = (v - 0x2020202020202020ull) & ~v & hi) != 0) {
			f->slow = p + __builtin_ctzll(bad) / 8 + 1;
			break;
		}
		/* 0x80 in each space byte, exactly */
		x = v ^ 0x2020202020202020ull;
		sm = ~(((x & lo7) + lo7) | x | lo7);
		if ((bad = sm & (sm >> 8)) != 0) {
			/* two spaces in a row */
			f->slow = p + __builtin_ctzll(bad) / 8 + 2;
			break;
		}
		if ((sm & 0x80) != 0 && (f->sp || f->w == f->out)) {
			/* a space first: it joins a pending one, or leads */
			f->slow = p + 1;
			break;
		}
		/* ASCII bytes at or above 'A' and not above 'Z' */
		up = ((v & lo7) + 0x3f3f3f3f3f3f3f3full) & ~((v & lo7) + 0x2525252525252525ull) &
		    ~v & hi;
		v |= up >> 2;
		if (f->sp)
			*f->w++ = ' ';
		memcpy(f->w, &v, 8);
		/* a space last waits, as one would, for what follows it */
		f->sp = (sm >> 56) != 0;
		f->w += f->sp ? 7 : 8;
		p += 8;
	}
	return p;
}

/*
 * A quoted header field that is no evidence (scan.h) after the line end
 * at p, and its folded lines: the last byte of them.
 */
static const char *
noise_end(const char *p, const char *end)
{
	const char *q = p + 1;

	do {
		while (q < end && *q != '\n' && *q != '\r')
			q++;
		if (q + 1 < end && *q == '\r' && q[1] == '\n')
			q++;
	} while (q + 1 < end && (q[1] == ' ' || q[1] == '\t') && ++q);
	return q - 1;
}

/*
 * The length of the prefix a line of a multi-line SMTP reply starts with
 * at q ("550-5.7.1 "; the last line's "550 5.7.1 " when cont: after a
 * continuation), or 0; *more: the reply goes on.  code: the reply code
 * the prefix must repeat, and then a last line's prefix must hold a
 * status ("550 messages" in a sentence is words); NULL: any code.
 */
static gsize
reply_prefix(const char *q, const char *code, gboolean cont, gboolean *more)
{
	const char *r = q + 4;

	if (!((*q == '4' || *q == '5') && g_ascii_isdigit(q[1]) && g_ascii_isdigit(q[2]) &&
	    (q[3] == '-' || (q[3] == ' ' && cont))) || (code != NULL && memcmp(q, code, 3) != 0))
		return 0;
	if ((*r == '4' || *r == '5') && r[1] == '.') {
		while (*r != '\0' && !g_ascii_isspace(*r))
			r++;
	} else if (code != NULL && q[3] == ' ')
		return 0;
	*more = q[3] == '-';
	return r - q;
}

/*
 * A continuation line of a multi-line SMTP reply repeats "550-5.7.1 "
 * after the line end at p: the last byte of that prefix, or NULL when
 * there is none.  cont: inside such a reply; *more: the reply goes on.
 * With NULL, *seen is where the blanks after p end: a line end before
 * it has no prefix either (the same bytes follow it, and cont is
 * FALSE then), so a run of empty lines is read once, not once a line.
 */
static const char *
reply_prefix_end(const char *p, gboolean cont, gboolean *more, const char **seen)
{
	const char *q = p + 1;
	gsize n;

	while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == '<')
		q++;
	if ((n = reply_prefix(q, NULL, cont, more)) == 0) {
		*seen = q;
		return NULL;
	}
	return q + n - 1;
}

/*
 * A multi-line reply that an MTA wrote on one line ("said: 550-5.7.1 Our
 * system ... 550-5.7.1 this message ... 550 5.7.1 more"; Postfix joins
 * them so): the text without the prefixes after the first, so that a
 * sentence they split reads as one; NULL when there is no such reply.
 */
static char *
join_midline_reply(const char *text, const char *end)
{
	const char *p, *code = NULL, *dash;
	GString *out = NULL;
	gboolean cont = TRUE, more;
	gsize n;

	/* the first "NNN-D." starting a word (most texts have none: one memchr pass) */
	for (dash = memchr(text, '-', end - text); dash != NULL && code == NULL;
	    dash = memchr(dash + 1, '-', end - dash - 1))
		if (dash - text >= 3 && (dash - 3 == text || dash[-4] == ' ' || dash[-4] == '\n' ||
		    dash[-4] == '\r') && (dash[1] == '4' || dash[1] == '5') && dash[2] == '.' &&
		    reply_prefix(dash - 3, NULL, FALSE, &more) > 0)
			code = dash - 3;
	if (code == NULL)
		return NULL;
	/* the first prefix stays; the ones after it go */
	for (p = code + 4; p < end; p++) {
		if (*p == ' ' && (n = reply_prefix(p + 1, code, cont, &more)) > 0) {
			if (out == NULL) {
				out = g_string_sized_new(end - text);
				g_string_append_len(out, text, p - text);
			}
			/* the space before it goes, the one after it stays */
			p += n;
			cont = more;
			continue;
		}
		if (out != NULL)
			g_string_append_c(out, *p);
	}
	return out != NULL ? g_string_free(out, FALSE) : NULL;
}

char *
rules_fold_n(const char *text, gsize max)
{
	const char *p, *end, *r, *seen = NULL;
	struct fold f;
	gboolean cont = FALSE;	/* inside a multi-line reply */
	char *joined;

	if (text == NULL)
		return NULL;
	end = text + strnlen(text, max);
	/* Cut short: never inside a UTF-8 sequence, which the regexes (PCRE2
	 * JIT, UTF mode, unchecked) must not see. */
	while (*end != '\0' && end > text && ((guchar)*end & 0xc0) == 0x80)
		end--;
	if ((joined = join_midline_reply(text, end)) != NULL) {
		char *folded = rules_fold_n(joined, G_MAXSIZE);

		g_free(joined);
		return folded;
	}
	/* Never longer than the text: each byte written stands for one read. */
	f.w = f.out = g_malloc(end - text + 1);
	f.sp = FALSE;
	/* the word-at-a-time path reads bytes in memory order */
	f.slow = G_BYTE_ORDER == G_LITTLE_ENDIAN ? text : end;
	for (p = text; p < end; p++) {
		p = fold_words(&f, p, end);
		if (p >= end)
			break;
		if ((guchar)*p > ' ') {
			/* most bytes: neither a space nor a line end */
			if (f.sp)
				*f.w++ = ' ';
			f.sp = FALSE;
			*f.w++ = *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
			continue;
		}
		if ((*p == '\n' || *p == '\r') && p + 1 < end && scan_noise_field(p + 1, end)) {
			/* left out, as if it were not there */
			f.sp = f.w > f.out;
			p = noise_end(p, end);
			continue;
		}
		if ((*p == '\n' || *p == '\r') && p[1] != '\0') {
			/* dropped, so that the sentence it splits reads as one */
			if (p >= seen && (r = reply_prefix_end(p, cont, &cont, &seen)) != NULL) {
				if (f.w > f.out)
					f.sp = TRUE;
				p = r;
				continue;
			}
			cont = FALSE;
		}
		if (g_ascii_isspace(*p)) {
			f.sp = f.w > f.out;
			continue;
		}
		if (f.sp)
			*f.w++ = ' ';
		f.sp = FALSE;
		/* g_ascii_tolower() is a function call, for every byte of an 8 KB text */
		*f.w++ = *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
	}
	*f.w = '\0';
	return f.out;
}
