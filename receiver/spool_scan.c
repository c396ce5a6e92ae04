/*
 * spool_scan.c - the batch header's sum, and reading the files of queue/
 * into the index at start-up; see SPOOL_HDR in spool_int.h.
 */
#include "receiver/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/log.h"
#include "receiver/spool_int.h"

/* SUM for a batch header: starts the digest of LEN and the records. */
EVP_MD_CTX *
spool_sum_begin(uint64_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char l[17];

	snprintf(l, sizeof l, "%016" G_GINT64_MODIFIER "x", (guint64)len);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, l, 16) != 1)
		g_error("spool: EVP sha256 unavailable");	/* can't happen */
	return ctx;
}

void
spool_sum_add(EVP_MD_CTX *ctx, const void *p, size_t len)
{
	if (EVP_DigestUpdate(ctx, p, len) != 1)
		g_error("spool: EVP_DigestUpdate failed");	/* can't happen */
}

/* Finishes the digest into the SPOOL_HDR octets of a batch header. */
void
spool_sum_header(EVP_MD_CTX *ctx, uint64_t len, char hdr[SPOOL_HDR])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char text[SPOOL_HDR + 1];
	int i, k;

	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16)
		g_error("spool: EVP_DigestFinal failed");	/* can't happen */
	EVP_MD_CTX_free(ctx);
	k = snprintf(text, sizeof text, SPOOL_MAGIC "%016" G_GINT64_MODIFIER "x ", (guint64)len);
	for (i = 0; i < 16; i++)
		k += snprintf(text + k, sizeof text - k, "%02x", md[i]);
	memset(hdr, ' ', SPOOL_HDR);
	memcpy(hdr, text, MIN((size_t)k, (size_t)SPOOL_HDR - 1));
	hdr[SPOOL_HDR - 1] = '\n';
}

/*
 * Whether fd starts with a batch header whose sum matches the records
 * after it; *len their octets.  A torn or freed file does not.
 */
static gboolean
spool_batch_valid(int fd, off_t fsize, uint64_t *len)
{
	char hdr[SPOOL_HDR], want[SPOOL_HDR], *buf, *end;
	uint64_t n;
	gboolean ok;

	if (fsize < SPOOL_HDR || spool_pread_all(fd, hdr, SPOOL_HDR, 0) != SPOOL_HDR ||
	    memcmp(hdr, SPOOL_MAGIC, strlen(SPOOL_MAGIC)) != 0)
		return FALSE;
	n = g_ascii_strtoull(hdr + strlen(SPOOL_MAGIC), &end, 16);
	if (end != hdr + strlen(SPOOL_MAGIC) + 16 || n > (uint64_t)(fsize - SPOOL_HDR))
		return FALSE;
	buf = g_malloc(n ? n : 1);
	ok = spool_pread_all(fd, buf, n, SPOOL_HDR) == n;
	if (ok) {
		EVP_MD_CTX *ctx = spool_sum_begin(n);
		spool_sum_add(ctx, buf, n);
		spool_sum_header(ctx, n, want);
		ok = memcmp(hdr, want, SPOOL_HDR) == 0;
	}
	g_free(buf);
	*len = n;
	return ok;
}

/* The header of a file with no entries: never valid, whatever follows. */
void
spool_free_header(char hdr[SPOOL_HDR])
{
	memset(hdr, ' ', SPOOL_HDR);
	memcpy(hdr, SPOOL_MAGIC "free", strlen(SPOOL_MAGIC "free"));
	hdr[SPOOL_HDR - 1] = '\n';
}

/* Envelope headers are small; this bounds a damaged one. */
#define SPOOL_HEADER_MAX	(1024 * 1024)

/*
 * Reads the envelope header of the record at off: a g_malloc'd
 * NUL-terminated copy without the blank line, *hlen the octets it takes
 * with the blank line; NULL if there is none within SPOOL_HEADER_MAX.
 */
static char *
spool_header_at(int fd, off_t off, off_t fsize, size_t *hlen)
{
	size_t want = 4096, got;
	char *buf, *end;

	for (;;) {
		if ((off_t)want > fsize - off)
			want = fsize - off;
		buf = g_malloc(want + 1);
		got = spool_pread_all(fd, buf, want, off);
		buf[got] = '\0';
		if ((end = g_strstr_len(buf, got, "\n\n")) != NULL) {
			*end = '\0';
			*hlen = (end - buf) + 2;
			return buf;
		}
		g_free(buf);
		if (got < want || (off_t)want >= fsize - off || want >= SPOOL_HEADER_MAX)
			return NULL;
		want *= 4;
	}
}

/*
 * Indexes the records of queue/NAME (at start-up); FALSE when it holds
 * none (a free file, to be reused).  A file with a batch header holds
 * entries when its sum matches, whatever its name.  A file without one
 * was written whole under its queue id: one whose first record is
 * unreadable is indexed whole under its name, so that spool_read()
 * reports it damaged and processing decides what to do.  An unreadable
 * record after good ones marks the file damaged, so that it is set aside
 * rather than recycled once its good entries are done.
 */
gboolean
spool_index_file(struct spool *s, const char *name)
{
	struct spool_file *f = g_new0(struct spool_file, 1);
	struct stat st = { 0 };
	off_t off = 0, end;
	uint64_t len = 0;
	gboolean batch = FALSE;
	int fd;

	g_strlcpy(f->name, name, sizeof f->name);
	if ((fd = openat(s->qfd, name, O_RDONLY | O_CLOEXEC)) != -1 && fstat(fd, &st) == 0) {
		char magic[sizeof SPOOL_MAGIC - 1];
		batch = spool_pread_all(fd, magic, sizeof magic, 0) == sizeof magic &&
		    memcmp(magic, SPOOL_MAGIC, sizeof magic) == 0;
	}
	if (fd != -1 && batch && !spool_batch_valid(fd, st.st_size, &len)) {
		close(fd);
		g_free(f);
		return FALSE;
	}
	if (!batch && !spool_valid_id(name)) {
		if (fd != -1)
			close(fd);
		g_free(f);
		return FALSE;
	}
	off = batch ? SPOOL_HDR : 0;
	end = batch ? (off_t)(SPOOL_HDR + len) : st.st_size;
	while (fd != -1 && off < end) {
		struct spool_envelope *env;
		size_t hlen;
		char *h = spool_header_at(fd, off, end, &hlen);
		int version, have_size, ok;

		if (h == NULL)
			break;
		env = spool_envelope_parse(h, &version, &have_size);
		ok = version == 1 && have_size && env->queue_id != NULL &&
		    spool_valid_id(env->queue_id) &&
		    env->size <= (uint64_t)(end - off - hlen) &&
		    !g_hash_table_contains(s->index, env->queue_id);
		if (ok)
			spool_index_add(s, f, env->queue_id, off, hlen + env->size);
		off += hlen + (ok ? env->size : 0);
		spool_envelope_free(env);
		g_free(h);
		if (!ok)
			break;
	}
	if (f->live == 0 && batch) {
		/* a right sum over records that do not parse: for an operator */
		char aside[48];

		snprintf(aside, sizeof aside, "damaged-%s", name);
		log_warnx("spool event=set-aside file=queue/%s", aside);
		renameat(s->qfd, name, s->qfd, aside);
		g_free(f);
	} else if (f->live == 0)
		spool_index_add(s, f, name, 0, fd != -1 ? (size_t)st.st_size : 0);
	else if (off < end) {
		f->damaged = TRUE;
		log_warnx("spool event=damaged file=queue/%s offset=%jd size=%jd", name,
		    (intmax_t)off, (intmax_t)end);
	}
	if (fd != -1)
		close(fd);
	return TRUE;
}

