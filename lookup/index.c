/* index.c - the compact suppression index; see index.h. */
#include "lookup/index.h"

#include <string.h>
#include <sys/mman.h>
#include <glib.h>
#include <openssl/evp.h>

#include "common/log.h"

struct index_slot {
	uint64_t h;			/* 0 = empty */
	uint32_t expires;
	uint16_t reason;		/* index into reasons */
	uint8_t cls;
	uint8_t pad;
};

#define INDEX_MIN_SLOTS	1024
/* Tables from this size on are mapped on their own and asked for huge
 * pages: a lookup or insert touches one random slot, and with 4 KiB pages
 * in a table of hundreds of MiB nearly every one is a TLB miss too. */
#define INDEX_HUGE_BYTES	((size_t)4 << 20)
#define INDEX_MAX_REASONS 65535

struct index {
	GRWLock lock;
	struct index_slot *slots;
	size_t mask;			/* slots - 1 */
	size_t count;
	GHashTable *reason_ids;		/* reason -> id + 1 */
	GPtrArray *reasons;		/* id -> reason */
	size_t reason_bytes;
};

static const char *index_classes[] = { "none", "hard", "soft", "complaint", "manual" };

const char *
index_class_name(enum index_class cls)
{
	return (unsigned)cls < G_N_ELEMENTS(index_classes) ? index_classes[cls] : "none";
}

static EVP_MD *index_md;

static void
index_md_ctx_free(gpointer ctx)
{
	EVP_MD_CTX_free(ctx);
}

/* One digest context per thread, reset for each hash: EVP_Digest() would
 * allocate and free a context (and look up its provider) every time. */
static GPrivate index_md_ctx = G_PRIVATE_INIT(index_md_ctx_free);

static uint64_t
index_hash(const char *tenant, const char *key)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx;
	uint64_t h;

	if (g_once_init_enter(&index_md)) {
		EVP_MD *m = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (m == NULL)
			fatalx("index: SHA256 unavailable");
		g_once_init_leave(&index_md, m);
	}
	if ((ctx = g_private_get(&index_md_ctx)) == NULL) {
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			fatalx("index: EVP_MD_CTX_new failed");
		g_private_set(&index_md_ctx, ctx);
	}
	/* SHA-256(tenant NUL key), fed in pieces rather than copied together */
	if (!EVP_DigestInit_ex2(ctx, index_md, NULL) ||
	    !EVP_DigestUpdate(ctx, tenant, strlen(tenant) + 1) ||
	    !EVP_DigestUpdate(ctx, key, strlen(key)) ||
	    !EVP_DigestFinal_ex(ctx, md, NULL))
		fatalx("index: SHA-256 failed");
	memcpy(&h, md, sizeof(h));
	return h ? h : 1;	/* 0 marks an empty slot */
}

static struct index_slot *
index_slots_new(size_t n)
{
	size_t bytes = n * sizeof(struct index_slot);
	void *p;

	if (bytes < INDEX_HUGE_BYTES)
		return g_new0(struct index_slot, n);
	/* anonymous memory is zero: an empty table */
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatalx("index: cannot map %zu bytes", bytes);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, bytes, MADV_HUGEPAGE);	/* advice only */
#endif
	return p;
}

static void
index_slots_free(struct index_slot *slots, size_t n)
{
	if (n * sizeof(struct index_slot) < INDEX_HUGE_BYTES)
		g_free(slots);
	else
		munmap(slots, n * sizeof(struct index_slot));
}

static void
index_init(struct index *ix)
{
	ix->slots = index_slots_new(INDEX_MIN_SLOTS);
	ix->mask = INDEX_MIN_SLOTS - 1;
	ix->count = 0;
	ix->reason_ids = g_hash_table_new(g_str_hash, g_str_equal);
	ix->reasons = g_ptr_array_new_with_free_func(g_free);
	ix->reason_bytes = 0;
	/* id 0: no reason */
	g_ptr_array_add(ix->reasons, g_strdup(""));
}

static void
index_clear(struct index *ix)
{
	index_slots_free(ix->slots, ix->mask + 1);
	g_hash_table_destroy(ix->reason_ids);
	g_ptr_array_free(ix->reasons, TRUE);
}

struct index *
index_new(void)
{
	struct index *ix = g_new0(struct index, 1);

	g_rw_lock_init(&ix->lock);
	index_init(ix);
	return ix;
}

void
index_free(struct index *ix)
{
	if (ix == NULL)
		return;
	index_clear(ix);
	g_rw_lock_clear(&ix->lock);
	g_free(ix);
}

/* Slot holding h, or the empty slot where it would go. Lock held. */
static size_t
index_probe(const struct index *ix, uint64_t h)
{
	size_t i = h & ix->mask;

	while (ix->slots[i].h != 0 && ix->slots[i].h != h)
		i = (i + 1) & ix->mask;
	return i;
}

/* Rehash into a table of want slots (a power of two). Lock held. */
static void
index_resize(struct index *ix, size_t want)
{
	struct index_slot *old = ix->slots;
	size_t n = ix->mask + 1, i;

	ix->slots = index_slots_new(want);
	ix->mask = want - 1;
	for (i = 0; i < n; i++)
		if (old[i].h != 0)
			ix->slots[index_probe(ix, old[i].h)] = old[i];
	index_slots_free(old, n);
}

static void
index_grow(struct index *ix)
{
	index_resize(ix, (ix->mask + 1) * 2);
}

void
index_reserve(struct index *ix, size_t n)
{
	size_t want = INDEX_MIN_SLOTS;

	while (n * 10 > want * 7)
		want *= 2;
	g_rw_lock_writer_lock(&ix->lock);
	if (want > ix->mask + 1)
		index_resize(ix, want);
	g_rw_lock_writer_unlock(&ix->lock);
}

static uint16_t
index_reason_id(struct index *ix, const char *reason)
{
	gpointer id;

	if (reason == NULL || *reason == '\0')
		return 0;
	if ((id = g_hash_table_lookup(ix->reason_ids, reason)) != NULL)
		return (uint16_t)(GPOINTER_TO_UINT(id) - 1);
	/* Reasons are a small vocabulary; a flood of distinct free-text
	 * reasons degrades to "no reason" in the action text. */
	if (ix->reasons->len >= INDEX_MAX_REASONS)
		return 0;
	g_ptr_array_add(ix->reasons, g_strdup(reason));
	g_hash_table_insert(ix->reason_ids, ix->reasons->pdata[ix->reasons->len - 1],
	    GUINT_TO_POINTER(ix->reasons->len));
	ix->reason_bytes += strlen(reason) + 1;
	return (uint16_t)(ix->reasons->len - 1);
}

static int
index_class_code(const char *cls)
{
	size_t i;

	for (i = 1; i < G_N_ELEMENTS(index_classes); i++)
		if (strcmp(cls, index_classes[i]) == 0)
			return (int)i;
	return -1;
}

int
index_put(struct index *ix, const char *tenant, const char *key, const char *cls,
    const char *reason, int64_t expires)
{
	uint64_t h = index_hash(tenant, key);
	int code = index_class_code(cls);
	size_t i;

	if (code < 0)
		return -1;
	if (expires < 0)
		expires = 1;
	else if (expires > UINT32_MAX)
		expires = UINT32_MAX;
	g_rw_lock_writer_lock(&ix->lock);
	if ((ix->count + 1) * 10 > (ix->mask + 1) * 7)
		index_grow(ix);
	i = index_probe(ix, h);
	if (ix->slots[i].h == 0)
		ix->count++;
	ix->slots[i].h = h;
	ix->slots[i].expires = (uint32_t)expires;
	ix->slots[i].cls = (uint8_t)code;
	ix->slots[i].reason = index_reason_id(ix, reason);
	g_rw_lock_writer_unlock(&ix->lock);
	return 0;
}

int
index_remove(struct index *ix, const char *tenant, const char *key)
{
	uint64_t h = index_hash(tenant, key);
	size_t i, j, home;

	g_rw_lock_writer_lock(&ix->lock);
	i = index_probe(ix, h);
	if (ix->slots[i].h == 0) {
		g_rw_lock_writer_unlock(&ix->lock);
		return 0;
	}
	/* Backward-shift deletion keeps probe chains unbroken without
	 * tombstones, so lookups of absent keys stay short. */
	j = i;
	for (;;) {
		j = (j + 1) & ix->mask;
		if (ix->slots[j].h == 0)
			break;
		home = ix->slots[j].h & ix->mask;
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			ix->slots[i] = ix->slots[j];
			i = j;
		}
	}
	memset(&ix->slots[i], 0, sizeof(ix->slots[i]));
	ix->count--;
	g_rw_lock_writer_unlock(&ix->lock);
	return 1;
}

int
index_get(struct index *ix, const char *tenant, const char *key, time_t now,
    struct index_hit *hit)
{
	uint64_t h = index_hash(tenant, key);
	struct index_slot s;
	int found = 0;

	g_rw_lock_reader_lock(&ix->lock);
	s = ix->slots[index_probe(ix, h)];
	if (s.h != 0 && (s.expires == 0 || (time_t)s.expires > now)) {
		found = 1;
		if (hit != NULL) {
			hit->cls = s.cls;
			hit->expires = s.expires;
			g_strlcpy(hit->reason, ix->reasons->pdata[s.reason], sizeof(hit->reason));
		}
	}
	g_rw_lock_reader_unlock(&ix->lock);
	return found;
}

void
index_replace(struct index *dst, struct index *src)
{
	g_rw_lock_writer_lock(&dst->lock);
	index_clear(dst);
	dst->slots = src->slots;
	dst->mask = src->mask;
	dst->count = src->count;
	dst->reason_ids = src->reason_ids;
	dst->reasons = src->reasons;
	dst->reason_bytes = src->reason_bytes;
	g_rw_lock_writer_unlock(&dst->lock);
	g_rw_lock_clear(&src->lock);
	g_free(src);
}

size_t
index_count(struct index *ix)
{
	size_t n;

	g_rw_lock_reader_lock(&ix->lock);
	n = ix->count;
	g_rw_lock_reader_unlock(&ix->lock);
	return n;
}

size_t
index_memory(struct index *ix)
{
	size_t n;

	g_rw_lock_reader_lock(&ix->lock);
	n = (ix->mask + 1) * sizeof(struct index_slot) + ix->reason_bytes +
	    ix->reasons->len * (sizeof(gpointer) * 4);
	g_rw_lock_reader_unlock(&ix->lock);
	return n;
}
