/* occurred.c - report times for backfilled messages; see occurred.h. */
#include "store/occurred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "store/provider.h"

#define DAY_US	(86400LL * 1000000LL)

static int
occurred_month(const char *s)
{
	static const char *const m[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
	    "sep", "oct", "nov", "dec" };
	int i;

	for (i = 0; i < 12; i++)
		if (g_ascii_strncasecmp(s, m[i], 3) == 0)
			return i + 1;
	return 0;
}

/* Zone offset in seconds east of UTC; 0 and *ok for a known name. */
static int
occurred_zone(const char *z, int *ok)
{
	static const struct { const char *name; int hours; } names[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -5 }, { "EDT", -4 },
		{ "CST", -6 }, { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	size_t i;

	*ok = 1;
	if ((z[0] == '+' || z[0] == '-') && g_ascii_isdigit(z[1]) && g_ascii_isdigit(z[2]) &&
	    g_ascii_isdigit(z[3]) && g_ascii_isdigit(z[4])) {
		int v = ((z[1] - '0') * 10 + (z[2] - '0')) * 3600 + ((z[3] - '0') * 10 + (z[4] - '0')) * 60;
		return z[0] == '-' ? -v : v;
	}
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (g_ascii_strncasecmp(z, names[i].name, strlen(names[i].name)) == 0 &&
		    !g_ascii_isalpha(z[strlen(names[i].name)]))
			return names[i].hours * 3600;
	*ok = 0;
	return 0;
}

int64_t
occurred_parse_date(const char *s)
{
	char **tok, *copy;
	int day = 0, mon = 0, year = 0, hh = 0, mm = 0, ss = 0, off = 0, i = 0, n, ok;
	GDateTime *dt;
	int64_t out = -1;

	if (s == NULL)
		return -1;
	copy = g_strdup(s);
	g_strdelimit(copy, ",\t", ' ');
	/* a trailing "(comment)" such as "(UTC)" is not part of the date */
	if (strchr(copy, '(') != NULL)
		*strchr(copy, '(') = '\0';
	tok = g_strsplit(g_strstrip(copy), " ", -1);
	for (n = 0; tok[n]; n++)
		;
	/* drop empty tokens left by runs of spaces */
	{
		int w = 0, r;
		for (r = 0; r < n; r++)
			if (*tok[r] != '\0')
				tok[w++] = tok[r];
			else
				g_free(tok[r]);
		tok[w] = NULL;
		n = w;
	}
	if (n > 0 && g_ascii_isalpha(tok[0][0]))
		i = 1;			/* the weekday */
	if (n - i < 4)
		goto out;
	day = atoi(tok[i]);
	mon = occurred_month(tok[i + 1]);
	year = atoi(tok[i + 2]);
	if (year < 100)
		year += year < 50 ? 2000 : 1900;
	if (sscanf(tok[i + 3], "%d:%d:%d", &hh, &mm, &ss) < 2)
		goto out;
	if (n - i >= 5) {
		off = occurred_zone(tok[i + 4], &ok);
		if (!ok)
			off = 0;
	}
	if (day < 1 || day > 31 || mon == 0 || year < 1970 || year > 9999 || hh > 23 || mm > 59 || ss > 60)
		goto out;
	dt = g_date_time_new_utc(year, mon, day, hh, mm, ss > 59 ? 59 : ss);
	if (dt == NULL)
		goto out;
	out = (g_date_time_to_unix(dt) - off) * 1000000LL;
	g_date_time_unref(dt);
out:
	g_strfreev(tok);
	g_free(copy);
	return out;
}

/* t when it is a time a report can hold (read, not after tomorrow). */
static int
occurred_usable(int64_t t, int64_t now_us)
{
	return t > 0 && t <= now_us + DAY_US;
}

int64_t
occurred_notice(const char *raw, size_t len, int64_t fallback_us, int64_t now_us)
{
	char *date = raw ? provider_header(raw, len, "Date") : NULL;
	int64_t t = occurred_parse_date(date);

	g_free(date);
	return occurred_usable(t, now_us) ? t : fallback_us;
}

int64_t
occurred_at(const struct report *r, const struct report_record *rec, const char *raw,
    size_t len, int64_t fallback_us, int64_t now_us)
{
	int64_t t;

	if (rec != NULL && occurred_usable(t = occurred_parse_date(rec->last_attempt), now_us))
		return t;
	if (occurred_usable(t = occurred_notice(raw, len, -1, now_us), now_us))
		return t;
	if (r != NULL && occurred_usable(t = occurred_parse_date(r->arrival_date), now_us))
		return t;
	return fallback_us;
}
