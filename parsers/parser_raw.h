/*
 * parser_raw.h - searches of a message's raw bytes (parser_raw.c).
 * buf/len: the whole message after sanitize_prepare(); no state.
 */
#ifndef REBOUND_PARSER_RAW_H
#define REBOUND_PARSER_RAW_H

#include <glib.h>

/* The body: after the first empty line ("\n\n", "\n\r\n" or "\r\r"), or the end. */
const char *raw_body(const char *buf, gsize len);

/*
 * How much of the message GMime needs to see (up to the enclosed
 * original's body when it may be left out).  *hdr, *hdrlen: the
 * original's header block, to read raw (or NULL); *early: where GMime may
 * stop sooner, before the boundary *tok (*toklen) of that part, or 0.
 * body: where the message's own header ends (raw_body()).
 */
gsize raw_gmime_extent(const char *buf, gsize len, gsize body, const char **hdr,
    gsize *hdrlen, gsize *early, const char **tok, gsize *toklen);

/* Offset just past the line-start "--BOUNDARY--" (b, bn bytes) that closes
 * the top-level multipart, or len when there is none. */
gsize raw_after_close(const char *buf, gsize len, const char *b, gsize bn);

/*
 * A multipart whose boundary does not match its parts (it happens: some
 * MTAs rewrite one and not the other), or a report sent without any MIME
 * header, leaves GMime with no delivery-status part.  The block is still
 * there in the raw body: find it and read up to the next boundary line.
 * skip: how many such parts to pass over first; -1 also looks for fields
 * written inline without any part.  *out, *outlen: the block, in buf.
 */
gboolean raw_dsn_block(const char *buf, gsize len, int skip, const char **out, gsize *outlen);

#endif
