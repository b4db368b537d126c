/*
 * lcache.c - mhpolicyd's local copies of what it reads from Redis.
 *
 * Most policy requests ask Redis the same few things again and again: a
 * domain's settings, its cached MX set, whether a local part is on its
 * user list, whether a sender/client pair is on a sender list, a cached
 * DNSBL answer. lcache keeps the answers in process (policyd.cache_size
 * bytes, least recently used first out) and keeps them exact with Redis
 * client-side caching (aredis_track): Redis remembers which keys this
 * node read and publishes a key's name when anyone changes it, deletes it
 * or it expires; the copies under that key are dropped at once. A read
 * in flight when its key changes is not kept (rcache tickets). Without
 * tracking - Redis before 6.0, an ACL without CLIENT, either connection
 * lost - nothing is copied and every lookup goes to Redis, as before.
 *
 * What is copied, under which Redis key and field:
 *   mh:{D}:cfg   ""                 struct domain (OK), or nothing (NOTFOUND)
 *   mh:{acct:U}:cfg ""              struct account (OK), or nothing (NOTFOUND)
 *   mh:{D}:mx    ""                 the GET value, expiring with the key (PTTL)
 *   mh:{dnsbl:…} ""                 the same
 *   mh:{D}:users LOCAL              1 byte: member or not
 *   list keys    SENDER "\0" CLIENT 1 byte: any of that pair's entries listed
 * Errors are never copied. Each copy also expires after LCACHE_MAX_AGE_MS
 * (a bound if an invalidation were ever missed; Redis sends one for every
 * change, so this should only cost a re-read a minute per key).
 *
 * Public functions: lcache_start, lcache_reload, lcache_end, lcache_want, lcache_release,
 * lcache_domain_get/put, lcache_account_get/put, lcache_string_get/put, lcache_string_read, lcache_flag_get/put.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "aredis.h"
#include "clock.h"
#include "lcache.h"
#include "log.h"
#include "policyd.h"

/* what a domain copy holds */
struct lcache_domain {
	enum store_result res;
	struct domain d;
};

/* what an account copy holds */
struct lcache_account {
	enum store_result res;
	struct account a;
};

/* lcache_invalidate - aredis: key changed (NULL: everything) */
static void
lcache_invalidate(void *arg, const char *key, size_t len)
{
	struct policyd *pd = arg;

	if (key == NULL)
		rcache_flush(pd->cache);
	else
		rcache_invalidate(pd->cache, key, len);
}

/* lcache_tracking - aredis: reads are tracked (on) or not any more */
static void
lcache_tracking(void *arg, int on)
{
	struct policyd *pd = arg;

	rcache_enable(pd->cache, on);
}

/* lcache_open - a cache of conf's size, tracked on pd->redis */
static void
lcache_open(struct policyd *pd, const struct conf *conf)
{
	pd->cache = rcache_new((size_t) conf->policyd_cache_size);
	if (conf->policyd_cache_size > 0)
		aredis_track(pd->redis, lcache_invalidate, lcache_tracking, pd);
}

void
lcache_start(struct policyd *pd)
{
	lcache_open(pd, pd->conf);
}

void
lcache_reload(struct policyd *pd, const struct conf *conf, int new_redis)
{
	if (new_redis) {
		rcache_free(pd->cache);
		lcache_open(pd, conf);
		return;
	}
	rcache_flush(pd->cache);
	if (conf->policyd_cache_size != pd->conf->policyd_cache_size)
		msg_warn("policyd.cache_size: the new size takes effect at the next restart");
}

void
lcache_end(struct policyd *pd)
{
	rcache_free(pd->cache);
	pd->cache = NULL;
}

void
lcache_want(struct policyd *pd, const char *key, struct rcache_ticket *t)
{
	rcache_want(pd->cache, key, strlen(key), t);
}

void
lcache_release(struct policyd *pd, struct rcache_ticket *t)
{
	rcache_release(pd->cache, t);
}

/* lcache_domain_get - a domain's settings */
int
lcache_domain_get(struct policyd *pd, const char *key, enum store_result *res, struct domain *d)
{
	const struct lcache_domain *v;
	size_t	len;

	if ((v = rcache_get(pd->cache, key, strlen(key), "", 0, &len, clock_coarse_ms())) == NULL
	    || len != sizeof(*v))
		return 0;
	*res = v->res;
	if (v->res == STORE_OK)
		memcpy(d, &v->d, sizeof(*d));
	return 1;
}

void
lcache_domain_put(struct policyd *pd, const struct rcache_ticket *t, enum store_result res,
		  const struct domain *d)
{
	struct lcache_domain v;

	if (t->node == NULL || (res != STORE_OK && res != STORE_NOTFOUND))
		return;
	memset(&v, 0, sizeof(v));
	v.res = res;
	if (res == STORE_OK)
		memcpy(&v.d, d, sizeof(*d));
	rcache_put(pd->cache, t, "", 0, &v, sizeof(v), clock_coarse_ms() + LCACHE_MAX_AGE_MS);
}

/* lcache_account_get - an account's settings */
int
lcache_account_get(struct policyd *pd, const char *key, enum store_result *res, struct account *a)
{
	const struct lcache_account *v;
	size_t	len;

	if ((v = rcache_get(pd->cache, key, strlen(key), "", 0, &len, clock_coarse_ms())) == NULL
	    || len != sizeof(*v))
		return 0;
	*res = v->res;
	if (v->res == STORE_OK)
		memcpy(a, &v->a, sizeof(*a));
	return 1;
}

void
lcache_account_put(struct policyd *pd, const struct rcache_ticket *t, enum store_result res,
		   const struct account *a)
{
	struct lcache_account v;

	if (t->node == NULL || (res != STORE_OK && res != STORE_NOTFOUND))
		return;
	memset(&v, 0, sizeof(v));
	v.res = res;
	if (res == STORE_OK)
		memcpy(&v.a, a, sizeof(*a));
	rcache_put(pd->cache, t, "", 0, &v, sizeof(v), clock_coarse_ms() + LCACHE_MAX_AGE_MS);
}

/* lcache_string_get - a GET value ("" + *found 0 when the key does not exist) */
int
lcache_string_get(struct policyd *pd, const char *key, char *buf, size_t len, int *found)
{
	const char *v;
	size_t	vlen;

	if ((v = rcache_get(pd->cache, key, strlen(key), "", 0, &vlen, clock_coarse_ms())) == NULL
	    || vlen == 0 || vlen - 1 > len)
		return 0;
	/* stored as one tag byte ('+' found, '-' absent), the value and its NUL */
	*found = v[0] == '+';
	memcpy(buf, v + 1, vlen - 1);
	return 1;
}

void
lcache_string_put(struct policyd *pd, const struct rcache_ticket *t, const char *val, size_t len,
		  long long pttl)
{
	char	v[LCACHE_STRING_MAX + 2];
	uint64_t now = clock_coarse_ms(), expires = now + LCACHE_MAX_AGE_MS;

	if (t->node == NULL || len > LCACHE_STRING_MAX || (val && memchr(val, 0, len) != NULL))
		return;
	v[0] = val ? '+' : '-';
	if (val)
		memcpy(v + 1, val, len);
	else
		len = 0;
	v[len + 1] = 0;
	/* PTTL: -2 no key, -1 no expiry, else ms left; a key about to expire is not worth a copy */
	if (pttl >= 0) {
		if (pttl < 10)
			return;
		if ((uint64_t) pttl < LCACHE_MAX_AGE_MS)
			expires = now + (uint64_t) pttl;
	}
	rcache_put(pd->cache, t, "", 0, v, len + 2, expires);
}

void
lcache_string_reply(struct policyd *pd, const struct rcache_ticket *t, const redisReply *get,
		    const redisReply *pttl)
{
	if (get == NULL || pttl == NULL || pttl->type != REDIS_REPLY_INTEGER)
		return;
	if (get->type == REDIS_REPLY_STRING)
		lcache_string_put(pd, t, get->str, get->len, pttl->integer);
	else if (get->type == REDIS_REPLY_NIL)
		lcache_string_put(pd, t, NULL, 0, pttl->integer);
}

/* lcache_read_done - GET and PTTL both answered (or failed): keep a copy, call back */
static void
lcache_read_done(struct lcache_string_read *r)
{
	if (--r->outstanding > 0)
		return;
	if (r->got >= 0 && r->pttl_ok)
		lcache_string_put(r->pd, &r->ticket, r->got ? r->buf : NULL, r->got ? strlen(r->buf) : 0, r->pttl);
	lcache_release(r->pd, &r->ticket);
	r->cb(r->arg, r->got, r->buf);
}

/* lcache_read_get - the GET */
static void
lcache_read_get(redisReply *rep, void *arg)
{
	struct lcache_string_read *r = arg;

	if (rep != NULL && rep->type == REDIS_REPLY_NIL) {
		r->got = 0;
	} else if (rep != NULL && rep->type == REDIS_REPLY_STRING && rep->len < r->buflen) {
		memcpy(r->buf, rep->str, rep->len + 1);
		r->got = 1;
	}
	lcache_read_done(r);
}

/* lcache_read_pttl - the PTTL sent with it: how long a copy may live */
static void
lcache_read_pttl(redisReply *rep, void *arg)
{
	struct lcache_string_read *r = arg;

	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER) {
		r->pttl = rep->integer;
		r->pttl_ok = 1;
	}
	lcache_read_done(r);
}

void
lcache_string_read(struct policyd *pd, struct lcache_string_read *r, const char *key,
		   char *buf, size_t buflen, lcache_string_cb *cb, void *arg)
{
	int	found;

	r->pd = pd;
	r->cb = cb;
	r->arg = arg;
	r->buf = buf;
	r->buflen = buflen;
	if (lcache_string_get(pd, key, buf, buflen, &found)) {
		cb(arg, found, buf);
		return;
	}
	r->got = -1;
	r->pttl_ok = 0;
	r->outstanding = 1;			/* held while both are sent */
	lcache_want(pd, key, &r->ticket);
	if (aredis_command(pd->redis, lcache_read_get, r, "GET %s", key) == 0) {
		r->outstanding++;
		if (aredis_command(pd->redis, lcache_read_pttl, r, "PTTL %s", key) == 0)
			r->outstanding++;
	}
	lcache_read_done(r);
}

/* lcache_flag_get - yes/no under key and field */
int
lcache_flag_get(struct policyd *pd, const char *key, const char *field, size_t flen, int *flag)
{
	const char *v;
	size_t	vlen;

	if ((v = rcache_get(pd->cache, key, strlen(key), field, flen, &vlen, clock_coarse_ms())) == NULL
	    || vlen != 1)
		return 0;
	*flag = v[0] == '1';
	return 1;
}

void
lcache_flag_put(struct policyd *pd, const struct rcache_ticket *t, const char *field, size_t flen, int flag)
{
	char	v = flag ? '1' : '0';

	if (t->node == NULL)
		return;
	rcache_put(pd->cache, t, field, flen, &v, 1, clock_coarse_ms() + LCACHE_MAX_AGE_MS);
}
