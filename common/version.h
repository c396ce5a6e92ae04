/*
 * version.h - the release, printed by "rebound --version" and in the man
 * pages.  debian/changelog names the same version (a test compares them).
 */
#ifndef REBOUND_VERSION_H
#define REBOUND_VERSION_H

#define REBOUND_VERSION "0.9.0"

#endif
