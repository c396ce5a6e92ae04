/*
 * import_mail.h - backfill an existing bounce mailbox (rebound import-mail).
 *
 * Every message of an mbox (mboxo/mboxrd: "From " lines, ">From " unquoted)
 * or a maildir (cur/ and new/, or the files of the folder) goes through the
 * parser worker pool and store_batch(), as mail received over SMTP does:
 * deduplicated on its bytes, stored with its raw message, the policy
 * applied; but dated from the report (store/occurred.h), not from today.
 * The envelope recipient, which a mailbox does not keep, is taken from
 * Delivered-To, X-Original-To or To unless one is given.
 *
 * The connection commits with synchronous_commit off: an import that dies
 * may lose its last transactions, and running it again stores exactly
 * those (the dedupe skips the rest).
 */
#ifndef REBOUND_IMPORT_MAIL_H
#define REBOUND_IMPORT_MAIL_H

#include <stddef.h>

#include "common/config.h"

struct import_stats {
	long read;		/* messages found */
	long stored;		/* new messages written */
	long duplicates;	/* already stored */
	long unparsed;		/* stored without a report (parser failed) */
	long events;
	long suppressions;	/* suppression rows added or changed */
};

/* Called after each batch: bytes (mbox) or files (maildir) done of total. */
typedef void (*import_progress_fn)(size_t done, size_t total, const struct import_stats *st,
    void *arg);

/* Exactly one of mbox and maildir.  rcpt may be NULL.  0, or -1 and *err
 * (nothing after the last committed batch was stored). */
int import_mail_run(const struct config *cfg, const char *mbox, const char *maildir,
    const char *rcpt, int batch, struct import_stats *st, import_progress_fn progress,
    void *arg, char **err);

#endif
