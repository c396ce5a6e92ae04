/* policy.c - suppression policy rules; see policy.h. */
#include "store/policy.h"

#include <string.h>

#define DAY_US	(INT64_C(86400) * 1000000)

enum policy_action
policy_decide(const struct config *cfg, enum report_class cls, const char *feedback_type)
{
	switch (cls) {
	case REPORT_CLASS_HARD:
		return POLICY_SUPPRESS;
	case REPORT_CLASS_SOFT:
		return POLICY_SOFT;
	case REPORT_CLASS_DELIVERED:
		return POLICY_RESET;
	case REPORT_CLASS_COMPLAINT: {
		char *ft;
		gboolean listed;

		if (feedback_type == NULL || *feedback_type == '\0')
			return POLICY_SUPPRESS;
		/* Never configurable: a user saying "this is not spam" must not
		 * get their address suppressed. */
		if (g_ascii_strcasecmp(feedback_type, "not-spam") == 0)
			return POLICY_NONE;
		ft = g_ascii_strdown(feedback_type, -1);
		listed = cfg->policy_complaint_types != NULL &&
		    g_strv_contains((const char *const *)cfg->policy_complaint_types, ft);
		g_free(ft);
		return listed ? POLICY_SUPPRESS : POLICY_NONE;
	}
	case REPORT_CLASS_BLOCK:
	case REPORT_CLASS_AUTOREPLY:
	case REPORT_CLASS_UNKNOWN:
		return POLICY_NONE;
	}
	return POLICY_NONE;
}

const char *
policy_class_name(enum report_class cls)
{
	switch (cls) {
	case REPORT_CLASS_HARD:
		return "hard";
	case REPORT_CLASS_SOFT:
		return "soft";
	case REPORT_CLASS_COMPLAINT:
		return "complaint";
	default:
		return NULL;
	}
}

/* Mirrors store.c's upsert: a permanent suppression stays permanent, a new
 * permanent one replaces class and reason, a soft one extends the expiry. */
static void
policy_apply(struct policy_state *st, const struct policy_event *e, const char *cls,
    int64_t expires_us, int count)
{
	if (!st->suppressed) {
		st->suppressed = TRUE;
		st->first_us = st->last_us = e->at_us;
		st->event_count = count;
		st->class_name = cls;
		st->reason = e->reason;
		st->expires_us = expires_us;
		st->event_id = e->event_id;
		return;
	}
	st->event_count++;
	if (e->at_us > st->last_us)
		st->last_us = e->at_us;
	if (expires_us == 0) {
		st->class_name = cls;
		st->reason = e->reason;
		st->expires_us = 0;
		st->event_id = e->event_id;
	} else if (st->expires_us != 0) {
		if (st->expires_us < e->at_us) {
			/* an expired soft suppression is renewed by this event */
			st->reason = e->reason;
			st->event_id = e->event_id;
		}
		st->class_name = cls;
		if (expires_us > st->expires_us)
			st->expires_us = expires_us;
	}
}

void
policy_replay(const struct config *cfg, const struct policy_event *ev, size_t n,
    struct policy_state *out)
{
	int64_t window = cfg->policy_soft_window_days * DAY_US;
	int64_t last_delivered = INT64_MIN;
	size_t i, j;

	memset(out, 0, sizeof *out);
	for (i = 0; i < n; i++) {
		const struct policy_event *e = &ev[i];
		switch (policy_decide(cfg, e->cls, e->feedback_type)) {
		case POLICY_SUPPRESS:
			policy_apply(out, e, policy_class_name(e->cls), 0, 1);
			break;
		case POLICY_SOFT: {
			/* distinct reports with a soft failure in (t - window, t],
			 * after the last delivery */
			int count = 0;
			int64_t prev_msg = -1;
			for (j = 0; j <= i; j++) {
				const struct policy_event *f = &ev[j];
				if (f->cls != REPORT_CLASS_SOFT || f->at_us <= e->at_us - window ||
				    f->at_us <= last_delivered || f->at_us > e->at_us)
					continue;
				if (f->message_id != 0 && f->message_id == prev_msg)
					continue;
				prev_msg = f->message_id;
				count++;
			}
			if (count >= cfg->policy_soft_threshold)
				policy_apply(out, e, "soft", e->at_us +
				    cfg->policy_soft_expire_days * DAY_US, count);
			break;
		}
		case POLICY_RESET:
			if (e->at_us > last_delivered)
				last_delivered = e->at_us;
			if (out->suppressed && out->expires_us != 0 &&
			    strcmp(out->class_name, "soft") == 0 && out->last_us <= e->at_us)
				memset(out, 0, sizeof *out);
			break;
		case POLICY_NONE:
			break;
		}
	}
}
