/*
 * http_ui.c - the analysts' page under /ui/ on the API listener: static
 * files compiled in from lookup/ui/ (lookup/ui_assets.h).  The page reads
 * and writes through the JSON API, so it has exactly the API's rights: the
 * bearer token an analyst types in is sent with its requests and kept in
 * the tab's sessionStorage only.
 */
#include <string.h>
#include <event2/http.h>

#include "lookup/http_int.h"
#include "lookup/ui_assets.h"

/* Nothing from elsewhere, no inline script, no framing by other sites. */
#define UI_CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';" \
	" connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static void
http_ui_file(struct evhttp_request *req, const char *name)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	size_t i;

	for (i = 0; ui_assets[i].name != NULL; i++)
		if (strcmp(ui_assets[i].name, name) == 0) {
			evhttp_add_header(h, "Content-Security-Policy", UI_CSP);
			evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
			evhttp_add_header(h, "Referrer-Policy", "no-referrer");
			http_send(req, 200, ui_assets[i].ctype, (const char *)ui_assets[i].data,
			    ui_assets[i].len);
			return;
		}
	http_error(req, 404, "no such file: /ui/%s", name);
}

static void
http_ui_redirect(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	(void)api;
	(void)arg;
	(void)q;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/ui/");
	http_send(req, 301, "text/plain", "/ui/\n", 5);
}

static void
http_ui_index(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	(void)api;
	(void)arg;
	(void)q;
	http_ui_file(req, "index.html");
}

static void
http_ui_asset(struct http_api *api, struct evhttp_request *req, const char *name,
    struct evkeyvalq *q)
{
	(void)api;
	(void)q;
	/* flat folder: a name with '/' is nothing of ours */
	if (strchr(name, '/') != NULL) {
		http_error(req, 404, "no such file: /ui/%s", name);
		return;
	}
	http_ui_file(req, name);
}

const struct http_route http_ui_routes[] = {
	{ "/ui", 0, M_GET, "", http_ui_redirect },
	{ "/ui/", 0, M_GET, "", http_ui_index },
	{ "/ui/", 1, M_GET, "", http_ui_asset },
	{ NULL, 0, 0, NULL, NULL },
};
