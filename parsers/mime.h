/*
 * mime.h - the MIME structure of a well-formed report, without GMime's objects.
 *
 * Building and freeing GMime's object tree was about 40% of the time the
 * parser spent on a typical bounce, most of it GObject bookkeeping for
 * parts never read.  mime_split() cuts a body into its parts where every
 * boundary line, part header and Content-Type is of the plain, unambiguous
 * kind real reports use, and says so; anything else (a parameter it would
 * have to decode, a part header that ends in a boundary, an unclosed inner
 * multipart, a boundary that is a prefix of another, too many parts or too
 * deep) makes it return FALSE, and the caller hands the message to GMime.
 * Where it accepts, it finds what GMime would: the same parts in the same
 * order, each with GMime's content bytes (tests/unit/test_mime.c and
 * fuzz_parser compare the two).
 *
 * Parts are appended to out (a GArray of struct mime_part, emptied first),
 * in document order.  Every pointer in them points into body or ct: valid
 * while those are.  Nothing is allocated but out's storage.
 */
#ifndef REBOUND_MIME_H
#define REBOUND_MIME_H

#include <glib.h>

enum mime_node {
	MIME_MULTIPART,
	MIME_MESSAGE,		/* message/rfc822, message/global: an enclosed message */
	MIME_LEAF,
};

struct mime_part {
	enum mime_node node;
	int depth;			/* 0: the body itself */
	const char *type, *sub;		/* not NUL-terminated */
	gsize type_len, sub_len;
	const char *charset;		/* NULL when none; not NUL-terminated */
	gsize charset_len;
	const char *boundary;		/* MIME_MULTIPART; NULL: none, no parts under it */
	gsize boundary_len;
	int encoding;			/* GMimeContentEncoding of the part */
	/* The content as GMime delimits it (MIME_LEAF, MIME_MESSAGE). */
	const char *content;
	gsize content_len;
	int content_eol;		/* bytes of the line end GMime left out after it: 0-2 */
	/*
	 * MIME_MESSAGE: GMime makes an enclosed message only when the content
	 * does not start with a boundary line (or the end); then its header
	 * block is [content, content + header_len).
	 */
	gboolean has_message;
	gsize header_len;
};

/*
 * ct, cte: the body's Content-Type and Content-Transfer-Encoding values
 * (NUL-terminated, NULL when absent).  TRUE when the body was split.
 */
gboolean mime_split(const char *ct, const char *cte, const char *body, gsize len,
    int max_parts, int max_depth, GArray *out);

#endif
