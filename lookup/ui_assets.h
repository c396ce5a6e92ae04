/*
 * ui_assets.h - the files of the analysts' page (lookup/ui/), compiled into
 * the binary by scripts/ui_assets.sh, so the daemon serves them with no
 * share path to install and nothing loaded from elsewhere.
 */
#ifndef REBOUND_UI_ASSETS_H
#define REBOUND_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *name;		/* file name under lookup/ui/ */
	const char *ctype;
	const unsigned char *data;	/* NUL after len bytes */
	size_t len;
};

extern const struct ui_asset ui_assets[];	/* ended by a NULL name */

#endif
