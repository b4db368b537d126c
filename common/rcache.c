/*
 * rcache.c - a bounded in-process cache of values read from Redis, kept
 * coherent by Redis client-side caching (CLIENT TRACKING). No I/O here:
 * the caller reads Redis and feeds in the answers and the invalidations.
 *
 * An item is addressed by (key, field): key is a Redis key name, the unit
 * of invalidation; field a sub-item under it (a set member whose
 * SISMEMBER answer was cached, say), possibly empty. Keys, fields and
 * values are bytes with a length, NUL allowed; values are copied in and
 * handed back aligned for any type.
 *
 * A read goes: rcache_get misses; rcache_want before the Redis command is
 * sent pins the key node and notes its generation and the cache's epoch
 * in a ticket; rcache_put for each field of the answer; rcache_release.
 * An invalidation in between gives the node a new generation (from one
 * counter, so it never repeats); a flush or disable bumps the epoch:
 * either way the put finds its ticket stale and drops the answer, so a
 * value read before a change is never kept after its invalidation came.
 *
 * Limits: max_bytes bounds the sum of every entry's allocation (record,
 * field, value) and every key node's (record, key); hash buckets are not
 * counted. An entry or node bigger than max_bytes / RCACHE_ITEM_SHARE is
 * not kept. A put evicts least-recently-used entries until it fits; nodes
 * pinned by tickets cannot be evicted, so a want that would not fit
 * beside them gets a NULL ticket. Hash tables double when their load
 * passes 1 and never shrink. FNV-1a, not seeded: colliding names slow
 * lookups but cannot grow memory past max_bytes.
 *
 * Public functions: rcache_new, rcache_free, rcache_enable, rcache_enabled,
 * rcache_get, rcache_want, rcache_put, rcache_release, rcache_invalidate,
 * rcache_flush, rcache_stats.
 *
 * Logs nothing. Out of memory and a ticket released twice are our own
 * fatal conditions (panic).
 */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rcache.h"

#define RCACHE_ITEM_SHARE	8	/* one item holds at most 1/8 of max_bytes */
#define RCACHE_BUCKETS_MIN	16	/* initial buckets of each table */
#define RCACHE_FNV_BASIS	UINT64_C(0xcbf29ce484222325)

/* One hash chain link; the first member of the records chained. */
struct rcache_link {
	struct rcache_link *hnext;
	uint64_t hash;
};

struct rcache_table {
	struct rcache_link **bucket;
	size_t	mask;			/* buckets - 1, buckets a power of two */
	size_t	count;
};

/* A key node: the unit of invalidation. */
struct rcache_key {
	struct rcache_link link;	/* first: the key table's chain */
	struct rcache_entry *entries;	/* its entries, any order */
	uint64_t gen;			/* changes when Redis says the key changed */
	size_t	pending;		/* tickets on it */
	size_t	size;			/* bytes counted for it */
	size_t	klen;
	char	key[];
};

/* An entry, followed by its value (at RCACHE_ENTRY_HDR) then its field. */
struct rcache_entry {
	struct rcache_link link;	/* first: the entry table's chain */
	struct rcache_entry *prev, *next;	/* LRU list, most recent first */
	struct rcache_entry *kprev, *knext;	/* its node's entries */
	struct rcache_key *node;
	uint64_t expires_ms;		/* 0: none */
	size_t	flen, vlen, size;
};

#define RCACHE_ALIGN		alignof(max_align_t)
#define RCACHE_ENTRY_HDR \
	((sizeof(struct rcache_entry) + RCACHE_ALIGN - 1) / RCACHE_ALIGN * RCACHE_ALIGN)

struct rcache {
	struct rcache_table keys;	/* struct rcache_key by key */
	struct rcache_table entries;	/* struct rcache_entry by (node, field) */
	struct rcache_entry *lru_head, *lru_tail;
	size_t	max_bytes, bytes;
	uint64_t gen;			/* last node generation handed out */
	uint64_t epoch;			/* bumped by each flush */
	int	enabled;
	struct rcache_stats st;		/* counters; sizes filled by rcache_stats */
};

/* rcache_entry_value - where an entry's value starts; its field follows */
static inline unsigned char *
rcache_entry_value(struct rcache_entry *e)
{
	return (unsigned char *) e + RCACHE_ENTRY_HDR;
}

/* rcache_hash - FNV-1a of len bytes from h, then a final mix for the low bits */
static uint64_t
rcache_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

/* rcache_bytes_eq - binary-safe comparison of two byte strings */
static inline int
rcache_bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* rcache_table_grow - double the buckets and rechain every link */
static void
rcache_table_grow(struct rcache_table *t)
{
	size_t	n = t->mask + 1;
	struct rcache_link **b, *l, *next;

	if (n > SIZE_MAX / 2 / sizeof(*b))
		return;
	if ((b = calloc(n * 2, sizeof(*b))) == NULL)
		msg_panic("rcache: out of memory");
	for (size_t i = 0; i < n; i++) {
		for (l = t->bucket[i]; l != NULL; l = next) {
			next = l->hnext;
			l->hnext = b[l->hash & (n * 2 - 1)];
			b[l->hash & (n * 2 - 1)] = l;
		}
	}
	free(t->bucket);
	t->bucket = b;
	t->mask = n * 2 - 1;
}

/* rcache_table_add - chain a link whose hash is set */
static void
rcache_table_add(struct rcache_table *t, struct rcache_link *l)
{
	struct rcache_link **head = &t->bucket[l->hash & t->mask];

	l->hnext = *head;
	*head = l;
	if (++t->count > t->mask + 1)
		rcache_table_grow(t);
}

/* rcache_table_del - unchain a link that is in the table */
static void
rcache_table_del(struct rcache_table *t, struct rcache_link *l)
{
	struct rcache_link **pp = &t->bucket[l->hash & t->mask];

	while (*pp != l) {
		if (*pp == NULL)
			msg_panic("rcache: link not in its table");
		pp = &(*pp)->hnext;
	}
	*pp = l->hnext;
	t->count--;
}

/* rcache_key_find - the node of key, or NULL */
static struct rcache_key *
rcache_key_find(struct rcache *rc, const char *key, size_t klen, uint64_t h)
{
	struct rcache_link *l;
	struct rcache_key *node;

	for (l = rc->keys.bucket[h & rc->keys.mask]; l != NULL; l = l->hnext) {
		node = (struct rcache_key *) l;
		if (l->hash == h && rcache_bytes_eq(node->key, node->klen, key, klen))
			return node;
	}
	return NULL;
}

/* rcache_key_reap - free a node that has neither entries nor tickets */
static void
rcache_key_reap(struct rcache *rc, struct rcache_key *node)
{
	if (node->entries != NULL || node->pending != 0)
		return;
	rcache_table_del(&rc->keys, &node->link);
	rc->bytes -= node->size;
	free(node);
}

/* rcache_entry_find - the entry of (node, field), or NULL */
static struct rcache_entry *
rcache_entry_find(struct rcache *rc, const struct rcache_key *node,
		  const char *field, size_t flen, uint64_t h)
{
	struct rcache_link *l;
	struct rcache_entry *e;

	for (l = rc->entries.bucket[h & rc->entries.mask]; l != NULL; l = l->hnext) {
		e = (struct rcache_entry *) l;
		if (l->hash == h && e->node == node
		    && rcache_bytes_eq(rcache_entry_value(e) + e->vlen, e->flen, field, flen))
			return e;
	}
	return NULL;
}

/* rcache_lru_unlink - take an entry off the LRU list */
static void
rcache_lru_unlink(struct rcache *rc, struct rcache_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		rc->lru_head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		rc->lru_tail = e->prev;
}

/* rcache_lru_push - put an entry at the most recently used end */
static void
rcache_lru_push(struct rcache *rc, struct rcache_entry *e)
{
	e->prev = NULL;
	e->next = rc->lru_head;
	if (rc->lru_head != NULL)
		rc->lru_head->prev = e;
	else
		rc->lru_tail = e;
	rc->lru_head = e;
}

/* rcache_entry_unlink - free an entry; its node stays (see rcache_key_reap) */
static void
rcache_entry_unlink(struct rcache *rc, struct rcache_entry *e)
{
	struct rcache_key *node = e->node;

	rcache_table_del(&rc->entries, &e->link);
	rcache_lru_unlink(rc, e);
	if (e->kprev != NULL)
		e->kprev->knext = e->knext;
	else
		node->entries = e->knext;
	if (e->knext != NULL)
		e->knext->kprev = e->kprev;
	rc->bytes -= e->size;
	free(e);
}

/* rcache_entry_drop - free an entry, and its node if that was the last hold */
static void
rcache_entry_drop(struct rcache *rc, struct rcache_entry *e)
{
	struct rcache_key *node = e->node;

	rcache_entry_unlink(rc, e);
	rcache_key_reap(rc, node);
}

/* rcache_evict - drop LRU entries until need more bytes fit; 1 if they do */
static int
rcache_evict(struct rcache *rc, size_t need)
{
	while (need > rc->max_bytes - rc->bytes && rc->lru_tail != NULL) {
		rcache_entry_drop(rc, rc->lru_tail);
		rc->st.evictions++;
	}
	return need <= rc->max_bytes - rc->bytes;
}

/* rcache_new - empty cache, disabled */
struct rcache *
rcache_new(size_t max_bytes)
{
	struct rcache *rc;

	if ((rc = calloc(1, sizeof(*rc))) == NULL
	    || (rc->keys.bucket = calloc(RCACHE_BUCKETS_MIN, sizeof(*rc->keys.bucket))) == NULL
	    || (rc->entries.bucket = calloc(RCACHE_BUCKETS_MIN, sizeof(*rc->entries.bucket))) == NULL)
		msg_panic("rcache: out of memory");
	rc->keys.mask = rc->entries.mask = RCACHE_BUCKETS_MIN - 1;
	rc->max_bytes = max_bytes;
	return rc;
}

/* rcache_free - release the cache, including nodes of unreleased tickets */
void
rcache_free(struct rcache *rc)
{
	struct rcache_link *l, *next;

	if (rc == NULL)
		return;
	while (rc->lru_head != NULL)
		rcache_entry_unlink(rc, rc->lru_head);
	for (size_t i = 0; i <= rc->keys.mask; i++) {
		for (l = rc->keys.bucket[i]; l != NULL; l = next) {
			next = l->hnext;
			free(l);
		}
	}
	free(rc->keys.bucket);
	free(rc->entries.bucket);
	free(rc);
}

/* rcache_enable - turn storing on or off; off also flushes */
void
rcache_enable(struct rcache *rc, int on)
{
	if (!on)
		rcache_flush(rc);
	rc->enabled = on != 0;
}

/* rcache_enabled - 1 while storing is on */
int
rcache_enabled(const struct rcache *rc)
{
	return rc->enabled;
}

/* rcache_get - the value of (key, field), or NULL */
const void *
rcache_get(struct rcache *rc, const char *key, size_t klen, const char *field, size_t flen,
	   size_t *vlen, uint64_t now_ms)
{
	struct rcache_key *node;
	struct rcache_entry *e = NULL;

	if ((node = rcache_key_find(rc, key, klen, rcache_hash(RCACHE_FNV_BASIS, key, klen))) != NULL)
		e = rcache_entry_find(rc, node, field, flen, rcache_hash(node->link.hash, field, flen));
	if (e != NULL && e->expires_ms != 0 && now_ms >= e->expires_ms) {
		rcache_entry_drop(rc, e);
		e = NULL;
	}
	if (e == NULL) {
		rc->st.misses++;
		if (vlen != NULL)
			*vlen = 0;
		return NULL;
	}
	rcache_lru_unlink(rc, e);
	rcache_lru_push(rc, e);
	rc->st.hits++;
	if (vlen != NULL)
		*vlen = e->vlen;
	return rcache_entry_value(e);
}

/* rcache_want - pin the node of key for a read about to be sent */
void
rcache_want(struct rcache *rc, const char *key, size_t klen, struct rcache_ticket *t)
{
	struct rcache_key *node;
	uint64_t h;
	size_t	size;

	t->node = NULL;
	t->gen = 0;
	t->epoch = rc->epoch;
	if (!rc->enabled)
		return;
	h = rcache_hash(RCACHE_FNV_BASIS, key, klen);
	if ((node = rcache_key_find(rc, key, klen, h)) == NULL) {
		if (klen > rc->max_bytes / RCACHE_ITEM_SHARE
		    || (size = sizeof(*node) + klen) > rc->max_bytes / RCACHE_ITEM_SHARE
		    || !rcache_evict(rc, size))
			return;
		if ((node = malloc(size)) == NULL)
			msg_panic("rcache: out of memory");
		*node = (struct rcache_key) {.link.hash = h, .gen = ++rc->gen, .size = size, .klen = klen};
		if (klen > 0)
			memcpy(node->key, key, klen);
		rcache_table_add(&rc->keys, &node->link);
		rc->bytes += size;
	}
	node->pending++;
	t->node = node;
	t->gen = node->gen;
}

/* rcache_put - store (field, value) under the ticket's key if still valid */
void
rcache_put(struct rcache *rc, const struct rcache_ticket *t, const char *field, size_t flen,
	   const void *val, size_t vlen, uint64_t expires_ms)
{
	struct rcache_key *node = t->node;
	struct rcache_entry *e;
	size_t	share = rc->max_bytes / RCACHE_ITEM_SHARE;
	size_t	size;
	uint64_t h;

	if (node == NULL)
		return;
	if (!rc->enabled || t->epoch != rc->epoch || t->gen != node->gen) {
		rc->st.stale_stores++;
		return;
	}
	h = rcache_hash(node->link.hash, field, flen);
	if ((e = rcache_entry_find(rc, node, field, flen, h)) != NULL)
		rcache_entry_unlink(rc, e);	/* node is pinned: stays */
	if (flen > share || vlen > share || (size = RCACHE_ENTRY_HDR + vlen + flen) > share)
		return;
	if (!rcache_evict(rc, size)) {
		rc->st.evictions++;		/* pinned nodes leave no room */
		return;
	}
	if ((e = malloc(size)) == NULL)
		msg_panic("rcache: out of memory");
	*e = (struct rcache_entry) {.link.hash = h, .node = node, .expires_ms = expires_ms,
	.flen = flen, .vlen = vlen, .size = size, .knext = node->entries};
	if (vlen > 0)
		memcpy(rcache_entry_value(e), val, vlen);
	if (flen > 0)
		memcpy(rcache_entry_value(e) + e->vlen, field, flen);
	rcache_table_add(&rc->entries, &e->link);
	rcache_lru_push(rc, e);
	if (node->entries != NULL)
		node->entries->kprev = e;
	node->entries = e;
	rc->bytes += size;
	rc->st.stores++;
}

/* rcache_release - end a ticket */
void
rcache_release(struct rcache *rc, struct rcache_ticket *t)
{
	struct rcache_key *node = t->node;

	if (node == NULL)
		return;
	if (node->pending == 0)
		msg_panic("rcache_release: no ticket pending on the key");
	node->pending--;
	t->node = NULL;
	rcache_key_reap(rc, node);
}

/* rcache_invalidate - drop the entries of key and stale its tickets */
void
rcache_invalidate(struct rcache *rc, const char *key, size_t klen)
{
	struct rcache_key *node;

	rc->st.invalidations++;
	if ((node = rcache_key_find(rc, key, klen, rcache_hash(RCACHE_FNV_BASIS, key, klen))) == NULL)
		return;
	node->gen = ++rc->gen;
	while (node->entries != NULL)
		rcache_entry_unlink(rc, node->entries);
	rcache_key_reap(rc, node);
}

/* rcache_flush - drop every entry and stale every ticket */
void
rcache_flush(struct rcache *rc)
{
	while (rc->lru_head != NULL)
		rcache_entry_drop(rc, rc->lru_head);
	rc->epoch++;
	rc->st.flushes++;
}

/* rcache_stats - counters since rcache_new, and what is held now */
void
rcache_stats(const struct rcache *rc, struct rcache_stats *st)
{
	*st = rc->st;
	st->entries = rc->entries.count;
	st->keys = rc->keys.count;
	st->bytes = rc->bytes;
}
