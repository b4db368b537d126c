/*
 * test_rcache.c - rcache.c: the bounded cache of Redis reads. Named cases
 * for each rule (miss/put/hit, fields, invalidation, stale tickets, flush,
 * disable, expiry, LRU eviction, replace, oversize items, binary names,
 * nodes freed), then a randomized run of 100,000 operations checked
 * against a plain reference model: exactly with room for everything, and
 * one way (a hit must be right, a miss may be an eviction) under a small
 * max_bytes, which must never be passed.
 */
#include "config.h"

#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcache.h"

#define BIG	(1024 * 1024)		/* max_bytes with room for every case */

/* cache_new - an enabled cache */
static struct rcache *
cache_new(size_t max_bytes)
{
	struct rcache *rc = rcache_new(max_bytes);

	rcache_enable(rc, 1);
	return rc;
}

/* get - rcache_get with C strings */
static const char *
get(struct rcache *rc, const char *key, const char *field, size_t *vlen, uint64_t now)
{
	size_t	dummy;

	return rcache_get(rc, key, strlen(key), field, strlen(field), vlen ? vlen : &dummy, now);
}

/* put_one - want, put and release with C strings */
static void
put_one(struct rcache *rc, const char *key, const char *field, const char *val, uint64_t exp)
{
	struct rcache_ticket t;

	rcache_want(rc, key, strlen(key), &t);
	rcache_put(rc, &t, field, strlen(field), val, strlen(val), exp);
	rcache_release(rc, &t);
	ck_assert_ptr_null(t.node);
}

/* stats - rcache_stats as a value */
static struct rcache_stats
stats(const struct rcache *rc)
{
	struct rcache_stats st;

	rcache_stats(rc, &st);
	return st;
}

/* assert_value - (key, field) holds exactly val */
static void
assert_value(struct rcache *rc, const char *key, const char *field, const char *val)
{
	size_t	vlen;
	const char *p = get(rc, key, field, &vlen, 0);

	ck_assert_msg(p != NULL, "%s/%s: miss", key, field);
	ck_assert_uint_eq(vlen, strlen(val));
	ck_assert_mem_eq(p, val, vlen);
}

START_TEST(test_miss_put_hit)
{
	struct rcache *rc = cache_new(BIG);
	const char *p;
	size_t	vlen = 99;

	ck_assert_int_eq(rcache_enabled(rc), 1);
	ck_assert_ptr_null(get(rc, "k", "f", &vlen, 0));
	ck_assert_uint_eq(vlen, 0);
	put_one(rc, "k", "f", "value", 0);
	p = get(rc, "k", "f", &vlen, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(vlen, 5);
	ck_assert_mem_eq(p, "value", 5);
	ck_assert_uint_eq((uintptr_t) p % alignof(max_align_t), 0);
	ck_assert_uint_eq(stats(rc).hits, 1);
	ck_assert_uint_eq(stats(rc).misses, 1);
	ck_assert_uint_eq(stats(rc).stores, 1);
	ck_assert_uint_eq(stats(rc).entries, 1);
	ck_assert_uint_eq(stats(rc).keys, 1);
	rcache_free(rc);
	rcache_free(NULL);
}
END_TEST

START_TEST(test_fields)
{
	struct rcache *rc = cache_new(BIG);
	struct rcache_ticket t;

	rcache_want(rc, "set", 3, &t);
	rcache_put(rc, &t, "a", 1, "1", 1, 0);
	rcache_put(rc, &t, "b", 1, "0", 1, 0);
	rcache_put(rc, &t, "", 0, "whole", 5, 0);
	rcache_release(rc, &t);
	put_one(rc, "other", "a", "other-a", 0);
	assert_value(rc, "set", "a", "1");
	assert_value(rc, "set", "b", "0");
	assert_value(rc, "set", "", "whole");
	assert_value(rc, "other", "a", "other-a");
	ck_assert_ptr_null(get(rc, "set", "c", NULL, 0));
	ck_assert_ptr_null(get(rc, "other", "b", NULL, 0));
	ck_assert_uint_eq(stats(rc).entries, 4);
	ck_assert_uint_eq(stats(rc).keys, 2);
	rcache_free(rc);
}
END_TEST

START_TEST(test_invalidate)
{
	struct rcache *rc = cache_new(BIG);

	put_one(rc, "k1", "a", "1a", 0);
	put_one(rc, "k1", "b", "1b", 0);
	put_one(rc, "k2", "a", "2a", 0);
	rcache_invalidate(rc, "k1", 2);
	ck_assert_ptr_null(get(rc, "k1", "a", NULL, 0));
	ck_assert_ptr_null(get(rc, "k1", "b", NULL, 0));
	assert_value(rc, "k2", "a", "2a");
	ck_assert_uint_eq(stats(rc).keys, 1);
	ck_assert_uint_eq(stats(rc).entries, 1);
	rcache_invalidate(rc, "nosuch", 6);
	rcache_invalidate(rc, "k", 1);
	assert_value(rc, "k2", "a", "2a");
	ck_assert_uint_eq(stats(rc).invalidations, 3);
	rcache_free(rc);
}
END_TEST

START_TEST(test_stale_ticket)
{
	struct rcache *rc = cache_new(BIG);
	struct rcache_ticket before, after;

	rcache_want(rc, "k", 1, &before);
	ck_assert_ptr_nonnull(before.node);
	rcache_invalidate(rc, "k", 1);
	rcache_want(rc, "k", 1, &after);
	rcache_put(rc, &before, "f", 1, "old", 3, 0);
	ck_assert_ptr_null(get(rc, "k", "f", NULL, 0));
	ck_assert_uint_eq(stats(rc).stale_stores, 1);
	ck_assert_uint_eq(stats(rc).stores, 0);
	rcache_put(rc, &after, "f", 1, "new", 3, 0);
	assert_value(rc, "k", "f", "new");
	/* a second put on the stale ticket still does not store */
	rcache_put(rc, &before, "g", 1, "old", 3, 0);
	ck_assert_ptr_null(get(rc, "k", "g", NULL, 0));
	ck_assert_uint_eq(stats(rc).stale_stores, 2);
	rcache_release(rc, &before);
	rcache_release(rc, &after);
	rcache_release(rc, &after);	/* node NULL: nothing */
	ck_assert_uint_eq(stats(rc).keys, 1);
	rcache_invalidate(rc, "k", 1);
	ck_assert_uint_eq(stats(rc).keys, 0);
	ck_assert_uint_eq(stats(rc).bytes, 0);
	rcache_free(rc);
}
END_TEST

START_TEST(test_flush)
{
	struct rcache *rc = cache_new(BIG);
	struct rcache_ticket t1, t2, t3;

	put_one(rc, "k0", "f", "v", 0);
	rcache_want(rc, "k1", 2, &t1);
	rcache_want(rc, "k2", 2, &t2);
	rcache_flush(rc);
	ck_assert_ptr_null(get(rc, "k0", "f", NULL, 0));
	ck_assert_uint_eq(stats(rc).keys, 2);	/* pinned by t1, t2 */
	ck_assert_uint_eq(stats(rc).entries, 0);
	rcache_want(rc, "k1", 2, &t3);
	ck_assert_ptr_eq(t3.node, t1.node);
	rcache_put(rc, &t1, "f", 1, "v1", 2, 0);
	rcache_put(rc, &t2, "f", 1, "v2", 2, 0);
	ck_assert_uint_eq(stats(rc).stale_stores, 2);
	ck_assert_ptr_null(get(rc, "k1", "f", NULL, 0));
	ck_assert_ptr_null(get(rc, "k2", "f", NULL, 0));
	rcache_put(rc, &t3, "f", 1, "v3", 2, 0);
	assert_value(rc, "k1", "f", "v3");
	rcache_release(rc, &t1);
	rcache_release(rc, &t2);
	rcache_release(rc, &t3);
	ck_assert_uint_eq(stats(rc).keys, 1);
	rcache_flush(rc);
	ck_assert_uint_eq(stats(rc).keys, 0);
	ck_assert_uint_eq(stats(rc).bytes, 0);
	ck_assert_uint_eq(stats(rc).flushes, 2);
	rcache_free(rc);
}
END_TEST

START_TEST(test_disabled)
{
	struct rcache *rc = rcache_new(BIG);
	struct rcache *none = cache_new(0);
	struct rcache_ticket t;

	ck_assert_int_eq(rcache_enabled(rc), 0);
	rcache_want(rc, "k", 1, &t);
	ck_assert_ptr_null(t.node);
	rcache_put(rc, &t, "f", 1, "v", 1, 0);
	rcache_release(rc, &t);
	ck_assert_ptr_null(get(rc, "k", "f", NULL, 0));
	ck_assert_uint_eq(stats(rc).stores, 0);
	ck_assert_uint_eq(stats(rc).stale_stores, 0);
	ck_assert_uint_eq(stats(rc).keys, 0);
	/* max_bytes 0: enabled, but never stores */
	ck_assert_int_eq(rcache_enabled(none), 1);
	put_one(none, "k", "f", "v", 0);
	ck_assert_ptr_null(get(none, "k", "f", NULL, 0));
	ck_assert_uint_eq(stats(none).bytes, 0);
	ck_assert_uint_eq(stats(none).keys, 0);
	rcache_free(rc);
	rcache_free(none);
}
END_TEST

START_TEST(test_enable_off_flushes)
{
	struct rcache *rc = cache_new(BIG);
	struct rcache_ticket t, t2;

	put_one(rc, "k", "f", "v", 0);
	rcache_want(rc, "k", 1, &t);
	rcache_enable(rc, 0);
	ck_assert_int_eq(rcache_enabled(rc), 0);
	ck_assert_uint_eq(stats(rc).entries, 0);
	ck_assert_uint_eq(stats(rc).flushes, 1);
	rcache_put(rc, &t, "f", 1, "x", 1, 0);
	ck_assert_uint_eq(stats(rc).stale_stores, 1);
	rcache_enable(rc, 1);
	rcache_put(rc, &t, "f", 1, "x", 1, 0);	/* re-enabling does not revive it */
	ck_assert_uint_eq(stats(rc).stale_stores, 2);
	ck_assert_ptr_null(get(rc, "k", "f", NULL, 0));
	rcache_want(rc, "k", 1, &t2);
	rcache_put(rc, &t2, "f", 1, "y", 1, 0);
	assert_value(rc, "k", "f", "y");
	rcache_release(rc, &t);
	rcache_release(rc, &t2);
	rcache_free(rc);
}
END_TEST

START_TEST(test_expiry)
{
	struct rcache *rc = cache_new(BIG);
	size_t	vlen;

	put_one(rc, "k", "f", "v", 1000);
	put_one(rc, "k2", "f", "forever", 0);
	ck_assert_ptr_nonnull(get(rc, "k", "f", &vlen, 999));
	ck_assert_ptr_null(get(rc, "k", "f", &vlen, 1000));
	ck_assert_uint_eq(stats(rc).misses, 1);
	ck_assert_uint_eq(stats(rc).entries, 1);
	ck_assert_uint_eq(stats(rc).keys, 1);
	ck_assert_ptr_null(get(rc, "k", "f", &vlen, 0));	/* gone, not hidden */
	ck_assert_ptr_nonnull(get(rc, "k2", "f", &vlen, UINT64_MAX));
	ck_assert_uint_eq(stats(rc).evictions, 0);
	rcache_free(rc);
}
END_TEST

START_TEST(test_lru)
{
	struct rcache *rc = cache_new(BIG);
	struct rcache_ticket t;
	char	field[16], val[33];
	size_t	node_bytes, entry_bytes, max;

	memset(val, 'v', 32);
	val[32] = 0;
	rcache_want(rc, "k", 1, &t);
	node_bytes = stats(rc).bytes;
	rcache_put(rc, &t, "f00", 3, val, 32, 0);
	entry_bytes = stats(rc).bytes - node_bytes;
	rcache_release(rc, &t);
	rcache_free(rc);
	max = node_bytes + 10 * entry_bytes + entry_bytes / 2;
	ck_assert_uint_le(entry_bytes, max / 8);

	rc = cache_new(max);
	for (int i = 0; i < 10; i++) {
		snprintf(field, sizeof(field), "f%02d", i);
		put_one(rc, "k", field, val, 0);
	}
	ck_assert_uint_eq(stats(rc).entries, 10);
	ck_assert_uint_eq(stats(rc).evictions, 0);
	ck_assert_ptr_nonnull(get(rc, "k", "f00", NULL, 0));	/* f01 is now oldest */
	put_one(rc, "k", "f10", val, 0);
	ck_assert_uint_eq(stats(rc).evictions, 1);
	ck_assert_ptr_null(get(rc, "k", "f01", NULL, 0));
	put_one(rc, "k", "f11", val, 0);
	ck_assert_uint_eq(stats(rc).evictions, 2);
	ck_assert_ptr_null(get(rc, "k", "f02", NULL, 0));
	ck_assert_ptr_nonnull(get(rc, "k", "f00", NULL, 0));
	for (int i = 3; i < 12; i++) {
		snprintf(field, sizeof(field), "f%02d", i);
		ck_assert_msg(get(rc, "k", field, NULL, 0) != NULL, "%s evicted", field);
	}
	ck_assert_uint_le(stats(rc).bytes, max);
	rcache_free(rc);
}
END_TEST

START_TEST(test_replace)
{
	struct rcache *rc = cache_new(BIG);
	char	longer[101];
	size_t	bytes;

	memset(longer, 'x', 100);
	longer[100] = 0;
	put_one(rc, "k", "f", "0123456789", 0);
	bytes = stats(rc).bytes;
	put_one(rc, "k", "f", longer, 0);
	assert_value(rc, "k", "f", longer);
	ck_assert_uint_eq(stats(rc).entries, 1);
	ck_assert_uint_eq(stats(rc).bytes, bytes + 90);
	put_one(rc, "k", "f", "", 0);
	assert_value(rc, "k", "f", "");
	ck_assert_uint_eq(stats(rc).bytes, bytes - 10);
	rcache_free(rc);
}
END_TEST

START_TEST(test_oversize)
{
	struct rcache *rc = cache_new(8192);
	struct rcache_ticket t;
	char   *big = calloc(1, 8192);
	char	key[2048];

	ck_assert_ptr_nonnull(big);
	rcache_want(rc, "k", 1, &t);
	rcache_put(rc, &t, "f", 1, big, 1024, 0);	/* with its record, past 8192 / 8 */
	ck_assert_ptr_null(get(rc, "k", "f", NULL, 0));
	rcache_put(rc, &t, "f", 1, big, 512, 0);
	ck_assert_ptr_nonnull(get(rc, "k", "f", NULL, 0));
	rcache_put(rc, &t, "f", 1, big, 8192, 0);	/* replaced by too big: old value gone */
	ck_assert_ptr_null(get(rc, "k", "f", NULL, 0));
	rcache_put(rc, &t, big, 2000, "v", 1, 0);	/* field too big */
	ck_assert_ptr_null(rcache_get(rc, "k", 1, big, 2000, NULL, 0));
	rcache_release(rc, &t);
	ck_assert_uint_eq(stats(rc).stores, 1);
	ck_assert_uint_eq(stats(rc).keys, 0);
	memset(key, 'k', sizeof(key));
	rcache_want(rc, key, sizeof(key), &t);		/* key too big */
	ck_assert_ptr_null(t.node);
	rcache_release(rc, &t);
	ck_assert_uint_eq(stats(rc).bytes, 0);
	free(big);
	rcache_free(rc);
}
END_TEST

START_TEST(test_binary)
{
	struct rcache *rc = cache_new(BIG);
	static const char k1[] = "a\0b", k2[] = "a\0c";
	struct rcache_ticket t;
	const char *p;
	size_t	vlen;

	rcache_want(rc, k1, 3, &t);
	rcache_put(rc, &t, "\0", 1, "nul", 3, 0);
	rcache_put(rc, &t, "\0\0", 2, "nulnul", 6, 0);
	rcache_put(rc, &t, "", 0, "empty", 5, 0);
	rcache_put(rc, &t, "x", 1, "v\0w", 3, 0);
	rcache_release(rc, &t);
	ck_assert_ptr_null(rcache_get(rc, k2, 3, "\0", 1, &vlen, 0));
	ck_assert_ptr_null(rcache_get(rc, "a", 1, "\0", 1, &vlen, 0));
	ck_assert_ptr_null(rcache_get(rc, "a", 2, "\0", 1, &vlen, 0));
	p = rcache_get(rc, k1, 3, "\0", 1, &vlen, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, "nul", 3);
	p = rcache_get(rc, k1, 3, "\0\0", 2, &vlen, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, "nulnul", 6);
	p = rcache_get(rc, k1, 3, "", 0, &vlen, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, "empty", 5);
	p = rcache_get(rc, k1, 3, "x", 1, &vlen, 0);
	ck_assert_uint_eq(vlen, 3);
	ck_assert_mem_eq(p, "v\0w", 3);
	rcache_invalidate(rc, k2, 3);
	ck_assert_uint_eq(stats(rc).entries, 4);
	rcache_invalidate(rc, k1, 3);
	ck_assert_uint_eq(stats(rc).entries, 0);
	rcache_free(rc);
}
END_TEST

START_TEST(test_nodes_freed)
{
	struct rcache *rc = cache_new(BIG);
	struct rcache_ticket t1, t2;

	rcache_want(rc, "k", 1, &t1);
	rcache_want(rc, "k", 1, &t2);
	ck_assert_uint_eq(stats(rc).keys, 1);
	rcache_release(rc, &t1);
	ck_assert_uint_eq(stats(rc).keys, 1);
	rcache_release(rc, &t2);
	ck_assert_uint_eq(stats(rc).keys, 0);	/* no put: nothing left */
	put_one(rc, "k", "f", "v", 0);
	rcache_invalidate(rc, "k", 1);
	ck_assert_uint_eq(stats(rc).keys, 0);
	put_one(rc, "k", "f", "v", 0);
	rcache_want(rc, "k", 1, &t1);
	rcache_invalidate(rc, "k", 1);
	ck_assert_uint_eq(stats(rc).keys, 1);
	rcache_release(rc, &t1);
	ck_assert_uint_eq(stats(rc).keys, 0);
	put_one(rc, "k", "f", "v", 10);
	ck_assert_ptr_null(get(rc, "k", "f", NULL, 10));	/* expiry frees it too */
	ck_assert_uint_eq(stats(rc).keys, 0);
	ck_assert_uint_eq(stats(rc).bytes, 0);
	/* tickets never released are freed with the cache */
	rcache_want(rc, "leak?", 5, &t1);
	rcache_free(rc);
}
END_TEST

START_TEST(test_pinned_bound)
{
	struct rcache *rc = cache_new(2048);
	struct rcache_ticket t[200];
	char	key[16];
	int	null = 0;

	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		rcache_want(rc, key, strlen(key), &t[i]);
		rcache_put(rc, &t[i], "f", 1, "v", 1, 0);
		null += t[i].node == NULL;
		ck_assert_uint_le(stats(rc).bytes, 2048);
	}
	ck_assert_int_gt(null, 0);
	for (int i = 0; i < 200; i++)
		rcache_release(rc, &t[i]);
	ck_assert_uint_eq(stats(rc).keys, 0);
	ck_assert_uint_eq(stats(rc).bytes, 0);
	rcache_free(rc);
}
END_TEST

/* The randomized run: RK keys times RF fields, RT tickets at most. */
#define RK	8
#define RF	6
#define RT	16
#define RV	64
#define ROPS	100000

struct model_item {
	int	present;
	uint64_t exp;
	size_t	vlen;
	unsigned char v[RV];
};

struct model_ticket {
	int	used;
	int	key;
	int	valid;
	struct rcache_ticket t;
};

static uint64_t rng_state;

/* rng - xorshift64* */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static const size_t random_max[] = {BIG, 1600};

START_TEST(test_random)
{
	size_t	max = random_max[_i];
	int	exact = max == BIG;
	struct rcache *rc = cache_new(max);
	struct model_item m[RK][RF];
	struct model_ticket mt[RT];
	char	keys[RK][3], fields[RF][2];
	size_t	flens[RF];
	unsigned long stale = 0;
	uint64_t now = 1;
	int	enabled = 1;

	rng_state = UINT64_C(0x9e3779b97f4a7c15) + (uint64_t) _i;
	memset(m, 0, sizeof(m));
	memset(mt, 0, sizeof(mt));
	for (int k = 0; k < RK; k++) {
		keys[k][0] = 'k';
		keys[k][1] = 0;
		keys[k][2] = (char) ('0' + k);
	}
	for (int f = 0; f < RF; f++) {
		fields[f][0] = 0;
		fields[f][1] = (char) f;
		flens[f] = f == 0 ? 0 : f % 2 ? 1 : 2;
		if (flens[f] == 1)
			fields[f][0] = (char) ('a' + f);
	}
	for (int op = 0; op < ROPS; op++) {
		unsigned r = (unsigned) (rng() % 100);
		int	k = (int) (rng() % RK), f = (int) (rng() % RF), i = (int) (rng() % RT);
		struct model_item *it = &m[k][f];
		struct rcache_stats st;

		now += rng() % 3;
		if (r < 40) {
			size_t	vlen;
			const unsigned char *p = rcache_get(rc, keys[k], 3, fields[f], flens[f], &vlen, now);
			int	expect = it->present && (it->exp == 0 || now < it->exp);

			if (p != NULL) {
				ck_assert_msg(expect, "op %d: hit on what the model lacks", op);
				ck_assert_uint_eq(vlen, it->vlen);
				ck_assert_int_eq(vlen == 0 || memcmp(p, it->v, vlen) == 0, 1);
			} else {
				ck_assert_msg(!exact || !expect, "op %d: miss on what the model has", op);
				it->present = 0;
			}
		} else if (r < 55) {
			if (!mt[i].used) {
				rcache_want(rc, keys[k], 3, &mt[i].t);
				ck_assert_int_eq(mt[i].t.node != NULL, enabled);
				mt[i].used = 1;
				mt[i].key = k;
				mt[i].valid = enabled;
			}
		} else if (r < 75) {
			if (mt[i].used) {
				unsigned char v[RV];
				size_t	vlen = (size_t) (rng() % (RV + 1));
				uint64_t exp = rng() % 4 == 0 ? now + 1 + rng() % 50 : 0;

				for (size_t j = 0; j < vlen; j++)
					v[j] = (unsigned char) rng();
				rcache_put(rc, &mt[i].t, fields[f], flens[f], v, vlen, exp);
				it = &m[mt[i].key][f];
				if (mt[i].valid) {
					it->present = 1;
					it->exp = exp;
					it->vlen = vlen;
					memcpy(it->v, v, vlen);
				} else if (mt[i].t.node != NULL) {
					stale++;
				}
			}
		} else if (r < 87) {
			if (mt[i].used) {
				rcache_release(rc, &mt[i].t);
				mt[i].used = 0;
			}
		} else if (r < 95) {
			rcache_invalidate(rc, keys[k], 3);
			memset(m[k], 0, sizeof(m[k]));
			for (int j = 0; j < RT; j++)
				if (mt[j].used && mt[j].key == k)
					mt[j].valid = 0;
		} else if (r < 97) {
			now += rng() % 20;
		} else if (r == 98 && !enabled) {
			rcache_enable(rc, enabled = 1);
		} else if (r == 97 || (r == 98 && rng() % 4 == 0)) {
			if (r == 97)
				rcache_flush(rc);
			else
				rcache_enable(rc, enabled = 0);
			memset(m, 0, sizeof(m));
			for (int j = 0; j < RT; j++)
				mt[j].valid = 0;
		}
		rcache_stats(rc, &st);
		ck_assert_msg(st.bytes <= max, "op %d: %zu bytes", op, st.bytes);
		ck_assert_uint_eq(st.stale_stores, stale);
		if (exact) {
			size_t	entries = 0, nkeys = 0;

			for (int kk = 0; kk < RK; kk++) {
				int	held = 0;

				for (int ff = 0; ff < RF; ff++) {
					held |= m[kk][ff].present;
					entries += (size_t) m[kk][ff].present;
				}
				for (int j = 0; j < RT; j++)
					held |= mt[j].used && mt[j].key == kk && mt[j].t.node != NULL;
				nkeys += (size_t) held;
			}
			ck_assert_uint_eq(st.entries, entries);
			ck_assert_uint_eq(st.keys, nkeys);
			ck_assert_uint_eq(st.evictions, 0);
		}
	}
	for (int j = 0; j < RT; j++)
		if (mt[j].used)
			rcache_release(rc, &mt[j].t);
	rcache_flush(rc);
	ck_assert_uint_eq(stats(rc).keys, 0);
	ck_assert_uint_eq(stats(rc).entries, 0);
	ck_assert_uint_eq(stats(rc).bytes, 0);
	if (!exact)
		ck_assert_uint_gt(stats(rc).evictions, 0);
	rcache_free(rc);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("rcache");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_test(tc, test_miss_put_hit);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_invalidate);
	tcase_add_test(tc, test_stale_ticket);
	tcase_add_test(tc, test_flush);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_enable_off_flushes);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_lru);
	tcase_add_test(tc, test_replace);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_binary);
	tcase_add_test(tc, test_nodes_freed);
	tcase_add_test(tc, test_pinned_bound);
	tcase_add_loop_test(tc, test_random, 0, (int) (sizeof(random_max) / sizeof(random_max[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
