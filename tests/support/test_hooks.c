/* test_hooks.c - see test_hooks.h. */
#include "tests/support/test_hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/prctl.h>
#include <glib.h>
#include <gmime/gmime.h>

/* The X-Rebound-Test value in the header block, or NULL (g_free). */
static char *
test_hooks_value(const char *data, size_t len)
{
	static const char name[] = "X-Rebound-Test:";
	size_t i, lim = MIN(len, 65536);

	for (i = 0; i < lim; i++) {
		if (i > 0 && data[i - 1] != '\n')
			continue;
		if (data[i] == '\n' || (data[i] == '\r' && i + 1 < lim && data[i + 1] == '\n'))
			return NULL;	/* end of the header block */
		if (lim - i > sizeof(name) - 1 &&
		    g_ascii_strncasecmp(data + i, name, sizeof(name) - 1) == 0) {
			size_t s = i + sizeof(name) - 1, e;
			for (e = s; e < lim && data[e] != '\r' && data[e] != '\n'; e++)
				;
			return g_strstrip(g_strndup(data + s, e - s));
		}
	}
	return NULL;
}

static void
test_hooks_misbehave(const char *hook)
{
	/* A name the end-to-end tests can find the busy process by. */
	prctl(PR_SET_NAME, strcmp(hook, "spin") == 0 ? "rb-hook-spin" : "rb-hook");
	if (strcmp(hook, "spin") == 0) {
		volatile unsigned long spin = 0;
		for (;;)
			spin++;
	} else if (strcmp(hook, "abort") == 0) {
		abort();
	} else if (strcmp(hook, "segv") == 0) {
		raise(SIGSEGV);
	} else if (strcmp(hook, "memory") == 0) {
		for (;;) {
			char *p = g_malloc(1 << 20);
			memset(p, 1, 1 << 20);
		}
	} else if (strcmp(hook, "escape") == 0) {
		/* What a parser taken over would try: be root, then make a file. */
		char path[64];
		int fd;
		if (geteuid() == 0)
			abort();
		snprintf(path, sizeof path, "/tmp/rebound-escape-%ld", (long)getpid());
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) != -1) {
			close(fd);
			unlink(path);
		}
	} else if (g_str_has_prefix(hook, "sleep")) {
		long s = strtol(hook + 5, NULL, 10);
		if (s <= 0)
			s = 3;
		g_usleep((gulong)MIN(s, 600) * G_USEC_PER_SEC);
	}
	prctl(PR_SET_NAME, "rebound");
}

void
test_hooks_run(const char *data, size_t len)
{
	char *hook;

	if (g_strcmp0(g_getenv("REBOUND_TEST_HOOKS"), "1") != 0)
		return;
	if ((hook = test_hooks_value(data, len)) != NULL) {
		test_hooks_misbehave(hook);
		g_free(hook);
	}
	if (g_strcmp0(g_getenv("REBOUND_TEST_GMIME_FIRST"), "1") == 0) {
		GMimeStream *st = g_mime_stream_mem_new_with_buffer(data, len);
		GMimeParser *gp = g_mime_parser_new_with_stream(st);
		GMimeMessage *m = g_mime_parser_construct_message(gp, NULL);

		if (m != NULL)
			g_object_unref(m);
		g_object_unref(gp);
		g_object_unref(st);
	}
}
