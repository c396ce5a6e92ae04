/*
 * spool_attempts.c - processing attempts: attempts/ID per entry and the
 * in-flight record of the batch being processed; see spool.h.
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

/* Reads a whole file below dirfd; returns a g_malloc'd buffer or NULL with errno. */
static char *
spool_slurp(int dirfd, const char *name, size_t *lenp)
{
	struct stat st;
	char *buf;
	size_t off;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	buf = g_malloc((size_t)st.st_size + 1);
	off = spool_pread_all(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

int
spool_read_attempts(struct spool *s, const char *id)
{
	size_t len;
	char *b = spool_slurp(s->afd, id, &len);
	int n = b ? atoi(b) : 0;

	g_free(b);
	return n;
}

int
spool_set_attempts(struct spool *s, const char *queue_id, int attempts, char **err)
{
	const char *ids[] = { queue_id };
	char *errs[1] = { NULL };

	if (spool_set_attempts_many(s, ids, &attempts, 1, errs) == 0)
		return 0;
	if (err != NULL)
		*err = errs[0];
	else
		g_free(errs[0]);
	return -1;
}

/*
 * Same steps as a message commit, batched: write each tmp/ID.att and start
 * its writeback, fdatasync them, rename them into attempts/, then one
 * fsync of attempts/.  An entry counts as recorded only after that fsync.
 */
int
spool_set_attempts_many(struct spool *s, const char *const *ids, const int *attempts, size_t n,
    char **errs)
{
	char tmpname[SPOOL_ID_LEN + 8], num[32];
	int *fds = g_new(int, n);
	size_t i, renamed = 0;
	int failed = 0, len;

	for (i = 0; i < n; i++) {
		fds[i] = -1;
		errs[i] = NULL;
		if (!spool_valid_id(ids[i])) {
			errs[i] = g_strdup("invalid queue id");
			continue;
		}
		if (!spool_has(s, ids[i])) {
			errs[i] = g_strdup_printf("%s: %s", ids[i], strerror(ENOENT));
			continue;
		}
		snprintf(tmpname, sizeof tmpname, "%s.att", ids[i]);
		len = snprintf(num, sizeof num, "%d\n", attempts[i]);
		fds[i] = openat(s->tmpfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fds[i] == -1 || write(fds[i], num, len) != len ||
		    (sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE) == -1 && errno != ENOSYS &&
		    errno != EINVAL && errno != ESPIPE))
			goto fail_one;
		continue;
fail_one:
		errs[i] = g_strdup_printf("%s: attempts: %s", ids[i], strerror(errno));
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
		unlinkat(s->tmpfd, tmpname, 0);
	}
	for (i = 0; i < n; i++) {
		if (fds[i] == -1)
			continue;
		snprintf(tmpname, sizeof tmpname, "%s.att", ids[i]);
		if (fdatasync(fds[i]) == -1 || renameat(s->tmpfd, tmpname, s->afd, ids[i]) == -1) {
			errs[i] = g_strdup_printf("%s: attempts: %s", ids[i], strerror(errno));
			unlinkat(s->tmpfd, tmpname, 0);
		} else
			renamed++;
		close(fds[i]);
		fds[i] = errs[i] == NULL ? 0 : -1;	/* 0: renamed */
	}
	if (renamed > 0 && fsync(s->afd) == -1) {
		int e = errno;
		for (i = 0; i < n; i++)
			if (fds[i] == 0 && errs[i] == NULL)
				errs[i] = g_strdup_printf("%s: attempts: fsync: %s", ids[i], strerror(e));
	}
	for (i = 0; i < n; i++)
		if (errs[i] != NULL)
			failed++;
	g_free(fds);
	return failed;
}

/*
 * The in-flight record: one file, attempts/inflight, rewritten in place for
 * each batch ("ID attempts" lines), fdatasync'd before the batch is parsed.
 * It replaces a durable attempts/ID file per message per attempt (a new
 * inode, two syncs and a directory sync each) with one write and one sync
 * per batch.  Per-message files are still written where a count must
 * outlive the batch: a failed parse kept for retry (spool_set_attempts),
 * and at start-up for the ids of a batch the daemon died in.
 */
int
spool_begin_attempts(struct spool *s, const char *const *ids, const int *attempts, size_t n,
    char **err)
{
	GString *b = g_string_sized_new(n * 24 + 1);
	size_t i;
	int rc = -1;

	for (i = 0; i < n; i++)
		if (spool_valid_id(ids[i]))
			g_string_append_printf(b, "%s %d\n", ids[i], attempts[i]);
	/* A torn rewrite can only leave lines of this batch or of an older,
	 * finished one; recovery checks each line and never lowers a count. */
	if (pwrite(s->inflight_fd, b->str, b->len, 0) != (ssize_t)b->len ||
	    ftruncate(s->inflight_fd, b->len) == -1 || fdatasync(s->inflight_fd) == -1)
		spool_seterr(err, "attempts/%s: %s", SPOOL_INFLIGHT, strerror(errno));
	else
		rc = 0;
	g_string_free(b, TRUE);
	return rc;
}

int
spool_inflight_recover(struct spool *s, char **err)
{
	size_t len, n = 0;
	char *b, **lines;
	int i;

	if ((b = spool_slurp(s->afd, SPOOL_INFLIGHT, &len)) != NULL) {
		lines = g_strsplit(b, "\n", -1);
		for (i = 0; lines[i] != NULL; i++) {
			char id[SPOOL_ID_LEN + 1];
			int att;

			if (sscanf(lines[i], "%16s %d", id, &att) != 2 || !spool_valid_id(id) ||
			    !spool_has(s, id) || att <= spool_read_attempts(s, id))
				continue;
			if (spool_set_attempts(s, id, att, NULL) == 0)
				n++;
		}
		g_strfreev(lines);
		g_free(b);
		if (n > 0)
			log_info("spool event=recovered-attempts entries=%zu", n);
	}
	s->inflight_fd = openat(s->afd, SPOOL_INFLIGHT, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->inflight_fd == -1 || ftruncate(s->inflight_fd, 0) == -1 || fsync(s->inflight_fd) == -1 ||
	    fsync(s->afd) == -1) {
		spool_seterr(err, "attempts/%s: %s", SPOOL_INFLIGHT, strerror(errno));
		return -1;
	}
	return 0;
}

