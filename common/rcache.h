/* rcache.h - bounded in-process cache of Redis reads, kept by invalidation (see rcache.c) */
#ifndef MH_RCACHE_H
#define MH_RCACHE_H

#include <stddef.h>
#include <stdint.h>

struct rcache;
struct rcache_key;			/* opaque */

struct rcache_ticket {			/* a read in flight: see rcache_want */
	struct rcache_key *node;	/* NULL: the answer will not be cached */
	uint64_t gen;
	uint64_t epoch;
};

struct rcache_stats {
	unsigned long hits, misses, stores, stale_stores, invalidations, evictions, flushes;
	size_t	entries, keys, bytes;
};

/* rcache_new - empty cache, disabled; max_bytes 0: a cache that never stores */
struct rcache *rcache_new(size_t max_bytes);
/* rcache_free - release it and all it holds; NULL is fine */
void	rcache_free(struct rcache *);
/* rcache_enable - turn storing on/off; off also flushes. Starts disabled. */
void	rcache_enable(struct rcache *, int on);
int	rcache_enabled(const struct rcache *);

/*
 * rcache_get - the value of (key, field) or NULL (miss, or expired at
 * now_ms: an expired entry is removed); *vlen its length. A hit makes the
 * entry most recently used. The value is aligned for any type and stays
 * valid until the next call that changes the cache.
 */
const void *rcache_get(struct rcache *, const char *key, size_t klen,
		       const char *field, size_t flen, size_t *vlen, uint64_t now_ms);

/*
 * rcache_want - call just before sending the Redis read of key; the
 * ticket pins the key node. When disabled (or the key cannot be held):
 * ticket.node = NULL. Every ticket must end in exactly one
 * rcache_release, after any number of rcache_put.
 */
void	rcache_want(struct rcache *, const char *key, size_t klen, struct rcache_ticket *);
/*
 * rcache_put - store (field, value) under the ticket's key, unless the key
 * was invalidated or the cache flushed/disabled since rcache_want (then it
 * is dropped and counted in stale_stores); expires_ms 0 = no expiry other
 * than eviction. Does not end the ticket.
 */
void	rcache_put(struct rcache *, const struct rcache_ticket *, const char *field, size_t flen,
		   const void *val, size_t vlen, uint64_t expires_ms);
/* rcache_release - end the ticket (node becomes NULL) */
void	rcache_release(struct rcache *, struct rcache_ticket *);

/* rcache_invalidate - Redis said key changed: drop its entries; tickets on it become stale */
void	rcache_invalidate(struct rcache *, const char *key, size_t klen);
/* rcache_flush - drop everything; every outstanding ticket becomes stale */
void	rcache_flush(struct rcache *);
void	rcache_stats(const struct rcache *, struct rcache_stats *);

#endif
