/*
 * policy.h - what an event does to the suppression list.
 *
 * Rules (configurable in [policy]):
 *   hard                      -> suppress permanently
 *   complaint                 -> suppress permanently when its ARF feedback
 *                                type is in complaint_types (a complaint with
 *                                no feedback type counts as abuse);
 *                                "not-spam" never suppresses
 *   soft                      -> suppress once soft_threshold soft failures of
 *                                the same address, from distinct reports, fall
 *                                within soft_window_days; expires
 *                                soft_expire_days after the last one
 *   delivered                 -> resets the soft count, and lifts an automatic
 *                                soft suppression older than it
 *   block, autoreply, unknown -> recorded only
 * Times are the arrival times of the reports, so re-processing and a backlog
 * drained late give the same answer as live processing.
 *
 * Pure functions, no I/O.  policy_replay() computes the suppression one
 * address should have from its whole event history (used by reprocess); the
 * store applies the same rules incrementally in SQL.
 */
#ifndef REBOUND_POLICY_H
#define REBOUND_POLICY_H

#include <glib.h>
#include <stdint.h>

#include "common/config.h"
#include "parsers/report.h"

enum policy_action {
	POLICY_NONE = 0,	/* record only */
	POLICY_SUPPRESS,	/* permanent suppression */
	POLICY_SOFT,		/* count; suppress at the threshold */
	POLICY_RESET,		/* delivered: reset soft count */
};

enum policy_action policy_decide(const struct config *cfg, enum report_class cls,
    const char *feedback_type);

/* The suppressions.class for a suppressing event ("hard", "soft", "complaint"). */
const char *policy_class_name(enum report_class cls);

struct policy_event {
	int64_t at_us;			/* arrival time of the report */
	enum report_class cls;
	const char *feedback_type;
	const char *reason;		/* borrowed */
	int64_t event_id;
	int64_t message_id;
};

struct policy_state {
	gboolean suppressed;
	const char *class_name;		/* static string */
	const char *reason;		/* borrowed from the events */
	int64_t first_us, last_us;
	int event_count;
	int64_t expires_us;		/* 0 = permanent */
	int64_t event_id;
};

/* events sorted by at_us; *out receives the final state. */
void policy_replay(const struct config *cfg, const struct policy_event *ev, size_t n,
    struct policy_state *out);

#endif
