/*
 * test_hooks.h - TEST ONLY misbehaviour for the parser guard (the
 * "rebound parse-worker" processes of the daemon and of "rebound parse").
 *
 * Nothing happens unless the environment has REBOUND_TEST_HOOKS=1, so mail
 * from outside cannot trigger any of it.  Then a message whose header block
 * holds "X-Rebound-Test: VALUE" makes the caller misbehave before parsing:
 * spin (loop on the CPU forever), abort, segv, memory (allocate until the
 * address-space limit), sleep N (sleep N seconds, at most 600, then go on).
 * With REBOUND_TEST_GMIME_FIRST=1 as well, the message is then handed to a
 * bare g_mime_parser_construct_message(): a parser without the encoded-word
 * neutraliser, so that the real GMime crash on tests/fixtures/hostile/ can
 * be exercised through the guards.
 */
#ifndef REBOUND_TEST_HOOKS_H
#define REBOUND_TEST_HOOKS_H

#include <stddef.h>

void test_hooks_run(const char *data, size_t len);

#endif
