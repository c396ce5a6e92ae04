/*
 * index.h - the in-memory index of suppressed addresses that relay lookups
 * are answered from, so a lookup never waits on PostgreSQL.
 *
 * Each entry is 16 bytes in an open-addressing (linear probing) table: the
 * first 64 bits of SHA-256(tenant NUL address_key), the expiry (Unix
 * seconds, 0 = permanent), the class and an interned reason.  The table is
 * kept at most 70% full, so 1,000,000 addresses take 2^21 slots = 32 MiB,
 * about 34 bytes per address.  A 64-bit hash makes a false "suppressed"
 * answer for an unlisted address about 1 in 2^44 at 1M entries; the full
 * record (for HTTP detail) always comes from PostgreSQL.
 *
 * Thread safety: every function takes the index's own read/write lock, so
 * one thread (the notify listener) may update while others look up.
 * Keys must already be address_key() output; tenant is the tenant name.
 *
 * index_get() copies the reason into the caller's buffer (so the answer
 * stays valid after the lock is dropped).
 */
#ifndef REBOUND_INDEX_H
#define REBOUND_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum index_class { INDEX_NONE = 0, INDEX_HARD, INDEX_SOFT, INDEX_COMPLAINT, INDEX_MANUAL };

struct index;

struct index_hit {
	enum index_class cls;
	int64_t expires;		/* 0 = permanent */
	char reason[128];		/* truncated copy */
};

struct index *index_new(void);
void index_free(struct index *ix);

/* Make room for n entries at once (a load that knows its size), instead
 * of doubling and rehashing on the way there. */
void index_reserve(struct index *ix, size_t n);

/* Insert or replace; class is "hard"/"soft"/"complaint"/"manual".
 * Returns 0, or -1 for an unknown class (nothing changed). */
int index_put(struct index *ix, const char *tenant, const char *key, const char *cls,
    const char *reason, int64_t expires);
/* Returns 1 if an entry was removed, 0 if there was none. */
int index_remove(struct index *ix, const char *tenant, const char *key);
/* 1 and *hit filled if suppressed at time now (unexpired), else 0. */
int index_get(struct index *ix, const char *tenant, const char *key, time_t now,
    struct index_hit *hit);

/* Move src's contents into dst (replacing dst's) and free src: how a reload
 * built off to the side becomes visible in one step. */
void index_replace(struct index *dst, struct index *src);

size_t index_count(struct index *ix);
/* Bytes held by the table and the reason strings. */
size_t index_memory(struct index *ix);

const char *index_class_name(enum index_class cls);

#endif
