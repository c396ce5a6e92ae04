/*
 * render.h - a parse report as "rebound parse" prints it.
 *
 * The pool's workers render the lines of the command-line parser
 * themselves (workers_job.render), so that the printing parent only
 * writes bytes in input order; cli/cmd_parse.c renders with the same
 * function when it parses in-process or reports a message the pool gave
 * up on.  One function, so both ways print the same bytes.
 */
#ifndef REBOUND_RENDER_H
#define REBOUND_RENDER_H

#include <glib.h>

#include "parsers/report.h"

enum render_format {
	RENDER_TAB = 1,		/* file, kind, recipient, class, reason, status, rule */
	RENDER_JSON,		/* one JSON object per record, every field */
};
/*
 * Or'ed to the format: print the correlation pairs in the order of a
 * report_deserialize()d copy, as the parent printed them when workers sent
 * reports (a worker rendering for "rebound parse" sets it).
 */
#define RENDER_WIRE_ORDER	0x100
/*
 * Or'ed to RENDER_JSON: a message with no record whose outcome is not "ok"
 * (no recipient found, a hostile message) also gets one object, recipient
 * null, on standard output.  Without it standard output holds records only,
 * one object per record, so a consumer never mistakes an outcome for a
 * recipient; the diagnostic line on standard error is printed either way.
 */
#define RENDER_OUTCOMES		0x200

/*
 * Append to out what goes to standard output for report r of file (index:
 * the message's position in an mbox, or -1), and to err the diagnostic
 * lines for standard error ("rebound parse: FILE: ...").  The JSON is
 * byte for byte what json-glib's generator writes for the same members.
 */
void render_report(GString *out, GString *err, int format, const char *file, long index,
    const struct report *r);

#endif
