/*
 * occurred.h - when a report says its failure happened, for messages that
 * did not arrive live (rebound import-mail): a backfilled bounce must be
 * dated from the report, not from the day it was imported, or it lands in
 * this week's counts and in the soft-bounce window.
 *
 * occurred_at() takes, for one record: its Last-Attempt-Date, else the
 * notice's own Date, else the report's Arrival-Date; a time that cannot be
 * read, or lies more than a day after now_us, is skipped; fallback_us when
 * none is left.
 */
#ifndef REBOUND_OCCURRED_H
#define REBOUND_OCCURRED_H

#include <stddef.h>
#include <stdint.h>

#include "parsers/report.h"

/* An RFC 5322 date ("Mon, 2 Nov 2026 10:00:00 +0000"; the weekday, the
 * seconds and the zone are optional, obsolete zone names are read) in
 * microseconds since the epoch, or -1. */
int64_t occurred_parse_date(const char *s);
int64_t occurred_at(const struct report *r, const struct report_record *rec, const char *raw,
    size_t len, int64_t fallback_us, int64_t now_us);
/* The notice's own Date (or fallback_us): the time the message stands for. */
int64_t occurred_notice(const char *raw, size_t len, int64_t fallback_us, int64_t now_us);

#endif
