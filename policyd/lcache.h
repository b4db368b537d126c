/* lcache.h - mhpolicyd's local copies of Redis reads, by kind (see lcache.c) */
#ifndef MH_LCACHE_H
#define MH_LCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "account.h"
#include "domain.h"
#include "rcache.h"
#include "store.h"

struct policyd;

#define LCACHE_MAX_AGE_MS	60000	/* a copy is re-read at least this often */
#define LCACHE_STRING_MAX	8192	/* longer GET values are not copied */

/* lcache_start - create pd->cache (policyd.cache_size) and ask aredis for tracking */
void	lcache_start(struct policyd *);
/*
 * lcache_reload - SIGHUP: forget every copy (they hold the old defaults);
 * with new_redis, pd->redis is a new connection (the old one answered
 * everything in flight when it was freed): start over on it, with
 * conf's policyd.cache_size. Otherwise a new cache_size waits for a restart.
 */
void	lcache_reload(struct policyd *, const struct conf *, int new_redis);
void	lcache_end(struct policyd *);

/*
 * lcache_want - just before sending the read of key (see rcache_want);
 * the puts below keep answers under the ticket and do not end it: every
 * ticket ends with one lcache_release, answered or not.
 */
void	lcache_want(struct policyd *, const char *key, struct rcache_ticket *);
void	lcache_release(struct policyd *, struct rcache_ticket *);

/* a domain's settings (HGETALL mh:{D}:cfg): 1 with *res (OK: *d filled, or NOTFOUND) on a hit */
int	lcache_domain_get(struct policyd *, const char *key, enum store_result *res, struct domain *d);
/* lcache_domain_put - keep OK and NOTFOUND answers */
void	lcache_domain_put(struct policyd *, const struct rcache_ticket *, enum store_result, const struct domain *);

/*
 * an account's settings (HMGET mh:{acct:U}:cfg blocks enabled): 1 with
 * *res (OK: *a filled, or NOTFOUND) on a hit
 */
int	lcache_account_get(struct policyd *, const char *key, enum store_result *res,
			   struct account *a);
/* lcache_account_put - keep OK and NOTFOUND answers */
void	lcache_account_put(struct policyd *, const struct rcache_ticket *, enum store_result,
			   const struct account *);

/*
 * a string (GET): 1 on a hit, with the value copied to buf (*found 0: the
 * key does not exist). lcache_string_put keeps a GET's answer (val NULL:
 * the key does not exist) with the PTTL read just after it, so that the
 * copy expires with the key.
 */
int	lcache_string_get(struct policyd *, const char *key, char *buf, size_t len, int *found);
void	lcache_string_put(struct policyd *, const struct rcache_ticket *, const char *val, size_t len,
			  long long pttl);
/* lcache_string_reply - lcache_string_put from the GET and PTTL replies (either may be NULL) */
void	lcache_string_reply(struct policyd *, const struct rcache_ticket *, const redisReply *get,
			    const redisReply *pttl);

/*
 * lcache_string_read - a string key's value from the local copy or, on a
 * miss, from Redis: GET and PTTL sent together, the answer kept locally
 * (lcache_string_put). cb(arg, state, buf) runs exactly once - at once on
 * a hit - with state -1 (Redis failed), 0 (no such key) or 1 (the value,
 * in buf). The caller owns r and buf (buflen bytes) until then.
 */
typedef void lcache_string_cb(void *arg, int state, const char *buf);
struct lcache_string_read {
	struct policyd *pd;
	lcache_string_cb *cb;
	void   *arg;
	char   *buf;
	size_t	buflen;
	struct rcache_ticket ticket;
	int	got;			/* the GET: -1 failed, 0 no key, 1 value */
	int	pttl_ok;		/* the PTTL answered: */
	long long pttl;
	unsigned outstanding;		/* GET and PTTL, plus a hold while sending */
};
void	lcache_string_read(struct policyd *, struct lcache_string_read *, const char *key,
			   char *buf, size_t buflen, lcache_string_cb *, void *arg);

/* a yes/no answer about field under key (SISMEMBER, or any of SMISMEMBER's): 1 on a hit */
int	lcache_flag_get(struct policyd *, const char *key, const char *field, size_t flen, int *flag);
/* lcache_flag_put - keep it (several fields may share a ticket) */
void	lcache_flag_put(struct policyd *, const struct rcache_ticket *, const char *field, size_t flen, int flag);

#endif
