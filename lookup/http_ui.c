/* http_ui.c - the analysts' web page under /ui/ (filled in below). */
#include "lookup/http_int.h"

const struct http_route http_ui_routes[] = {
	{ NULL, 0, 0, NULL, NULL },
};
