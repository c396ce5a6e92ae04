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
 * Append to out what goes to standard output for report r of file (index:
 * the message's position in an mbox, or -1), and to err the diagnostic
 * lines for standard error ("rebound parse: FILE: ...").
 */
void render_report(GString *out, GString *err, int format, const char *file, long index,
    const struct report *r);

#endif
