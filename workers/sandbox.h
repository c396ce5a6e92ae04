/*
 * sandbox.h - what a parser worker gives up before it reads its first
 * message: root (it becomes nobody when started as root) and every system
 * call parsing does not need (a libseccomp filter).
 */
#ifndef REBOUND_SANDBOX_H
#define REBOUND_SANDBOX_H

/*
 * Call after the parser is set up (rules read, GMime initialised) and
 * before any message: drops root, sets no_new_privs, installs the filter.
 * -1 and *err (g_free) on failure: the worker must then not parse.
 */
int sandbox_enter(char **err);

/* 1 when this build installs the filter (not under AddressSanitizer). */
int sandbox_filter_enabled(void);

#endif
