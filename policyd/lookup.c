/*
 * lookup.c - asynchronous lookups shared by mhpolicyd's jobs: a domain's
 * settings, and its MX set.
 *
 * The MX set is cached in Redis (mh:{DOMAIN}:mx, the text of
 * mx_set_format, "" for a domain without MX records) for as long as its
 * DNS TTL says, clamped to LOOKUP_MX_TTL_MIN..LOOKUP_MX_TTL_MAX, so that
 * every node shares one answer; each node then works out its own
 * standing from node.hostnames. A cache miss asks DNS and writes the
 * answer back (without waiting for the write). A DNS failure (SERVFAIL,
 * timeout) is not cached: the caller processes the mail as configured
 * and this module logs a warning. A Redis failure on the cache read
 * falls through to DNS: the MX check does not need Redis to work.
 *
 * Both are answered from mhpolicyd's local copies when it has them
 * (lcache.c), then without waiting: the callback runs before
 * lookup_domain or lookup_mx returns.
 *
 * A domain that is not found is checked against the index of domains
 * (mh:domains): a Redis that lost its data (restarted empty, flushed)
 * has none, and every domain would be "not ours" - Postfix would refuse
 * mail for customers with 554 and route queued mail wrong. So without
 * the index the answer is STORE_ERROR (the caller's "Redis unavailable":
 * 4xx, TEMP), not NOTFOUND, and a warning says why, once a minute.
 *
 * Public functions: lookup_domain, lookup_index, lookup_mx.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aredis.h"
#include "dnsq.h"
#include "keys.h"
#include "lcache.h"
#include "log.h"
#include "policyd.h"

#define LOOKUP_MX_TTL_MIN	60	/* seconds an MX set is cached at least */
#define LOOKUP_MX_TTL_MAX	86400	/* and at most */

struct lookup_domain_req {
	struct policyd *pd;
	struct rcache_ticket ticket;
	const struct conf *conf;
	char	name[DOMAIN_NAME_MAX + 1];
	lookup_domain_cb *cb;
	void   *arg;
};

struct lookup_index_req {
	struct policyd *pd;
	struct rcache_ticket ticket;
	const char *key;
	lookup_index_cb *cb;
	void   *arg;
};

/*
 * lookup_index_missing - warn, once a minute per index, that Redis lost its
 * data (what: "domains", "accounts")
 */
static void
lookup_index_missing(const char *key)
{
	static time_t warned_domains, warned_accounts;
	int	domains = strcmp(key, KEYS_DOMAINS) == 0;
	time_t *warned = domains ? &warned_domains : &warned_accounts;
	time_t	now = time(NULL);

	if (now - *warned < 60)
		return;
	*warned = now;
	msg_warn("redis holds no %s (%s is missing: restarted without its data?): answering as if it "
		 "were unavailable until %s is added", domains ? "domains" : "accounts", key,
		 domains ? "a domain" : "an account");
}

/* lookup_index_reply - EXISTS answered (or failed: NULL) */
static void
lookup_index_reply(redisReply *r, void *arg)
{
	struct lookup_index_req *req = arg;
	int	state = (r != NULL && r->type == REDIS_REPLY_INTEGER) ? r->integer > 0 : -1;

	if (state >= 0)
		lcache_flag_put(req->pd, &req->ticket, "", 0, state);
	if (state == 0)
		lookup_index_missing(req->key);
	lcache_release(req->pd, &req->ticket);
	req->cb(req->arg, state);
	free(req);
}

void
lookup_index(struct policyd *pd, const char *key, lookup_index_cb *cb, void *arg)
{
	struct lookup_index_req *req;
	int	flag;

	if (lcache_flag_get(pd, key, "", 0, &flag)) {
		if (flag == 0)
			lookup_index_missing(key);
		cb(arg, flag);
		return;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL)
		msg_panic("lookup: out of memory");
	req->pd = pd;
	req->key = key;
	req->cb = cb;
	req->arg = arg;
	lcache_want(pd, key, &req->ticket);
	if (aredis_command(pd->redis, lookup_index_reply, req, "EXISTS %s", key) < 0)
		lookup_index_reply(NULL, req);
}

/* lookup_domain_finish - keep the answer locally (not an error), answer, free */
static void
lookup_domain_finish(struct lookup_domain_req *req, enum store_result res, const struct domain *d)
{
	lcache_domain_put(req->pd, &req->ticket, res, d);
	lcache_release(req->pd, &req->ticket);
	req->cb(res, res == STORE_OK ? d : NULL, req->arg);
	free(req);
}

/* lookup_domain_indexed - a domain not found: real only while the index exists */
static void
lookup_domain_indexed(void *arg, int state)
{
	lookup_domain_finish(arg, state == 1 ? STORE_NOTFOUND : STORE_ERROR, NULL);
}

/* lookup_domain_reply - HGETALL answered (or failed: NULL) */
static void
lookup_domain_reply(redisReply *r, void *arg)
{
	struct lookup_domain_req *req = arg;
	struct domain d;
	enum store_result res = store_domain_from_reply(req->conf, req->name, r, &d);

	if (res == STORE_NOTFOUND) {
		lookup_index(req->pd, KEYS_DOMAINS, lookup_domain_indexed, req);
		return;
	}
	lookup_domain_finish(req, res, &d);
}

/* lookup_domain - a domain's settings with the defaults of conf */
int
lookup_domain(struct policyd *pd, const struct conf *conf, const char *name,
	      lookup_domain_cb *cb, void *arg)
{
	struct lookup_domain_req *req;
	char	key[KEYS_MAX];
	enum store_result res;
	struct domain d;

	keys_domain_cfg(key, sizeof(key), name);
	if (lcache_domain_get(pd, key, &res, &d)) {
		cb(res, res == STORE_OK ? &d : NULL, arg);
		return 0;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL)
		msg_panic("lookup: out of memory");
	req->pd = pd;
	req->conf = conf;
	snprintf(req->name, sizeof(req->name), "%s", name);
	req->cb = cb;
	req->arg = arg;
	lcache_want(pd, key, &req->ticket);
	if (aredis_command(pd->redis, lookup_domain_reply, req, "HGETALL %s", key) < 0) {
		lcache_release(pd, &req->ticket);
		free(req);
		return -1;
	}
	return 0;
}

struct lookup_mx_req {
	struct policyd *pd;
	struct lcache_string_read read;	/* the MX cache (lcache) */
	char	text[MX_TEXT_MAX];
	char	domain[DOMAIN_NAME_MAX + 1];
	lookup_mx_cb *cb;
	void   *arg;
};

/* lookup_mx_done - answer and free */
static void
lookup_mx_done(struct lookup_mx_req *req, int dns_ok, const struct mx_set *set)
{
	static const struct mx_set empty;

	req->cb(dns_ok, set ? set : &empty, req->arg);
	free(req);
}

/* lookup_mx_stored - the cache write finished; nothing to do */
static void
lookup_mx_stored(redisReply *r, void *arg)
{
	(void) r;
	(void) arg;
}

/* lookup_mx_dns - DNS answered */
static void
lookup_mx_dns(enum dnsq_status status, const struct mx_set *set, uint32_t ttl, void *arg)
{
	struct lookup_mx_req *req = arg;
	char	key[KEYS_MAX];
	char	text[MX_TEXT_MAX];
	static const struct mx_set empty;

	switch (status) {
	case DNSQ_OK:
	case DNSQ_NXDOMAIN:
	case DNSQ_NODATA:
		if (status != DNSQ_OK)
			set = &empty;
		if (ttl < LOOKUP_MX_TTL_MIN)
			ttl = LOOKUP_MX_TTL_MIN;
		if (ttl > LOOKUP_MX_TTL_MAX)
			ttl = LOOKUP_MX_TTL_MAX;
		keys_domain_mx(key, sizeof(key), req->domain);
		if (mx_set_format(set, text, sizeof(text)) != NULL)
			(void) aredis_command(req->pd->redis, lookup_mx_stored, NULL, "SET %s %s EX %u",
					      key, text, (unsigned) ttl);
		lookup_mx_done(req, 1, set);
		return;
	case DNSQ_CANCELLED:
		lookup_mx_done(req, 0, NULL);
		return;
	default:
		msg_warn("MX lookup for %s failed (%s): processing as configured", req->domain,
			 dnsq_status_name(status));
		lookup_mx_done(req, 0, NULL);
		return;
	}
}

/* lookup_mx_ask_dns - cache miss or Redis trouble */
static void
lookup_mx_ask_dns(struct lookup_mx_req *req)
{
	if (dnsq_mx(req->pd->dns, req->domain, lookup_mx_dns, req) < 0) {
		msg_warn("MX lookup for %s could not start: processing as configured", req->domain);
		lookup_mx_done(req, 0, NULL);
	}
}

/* lookup_mx_text - the cached text (NULL: none) */
static void
lookup_mx_text(struct lookup_mx_req *req, const char *text)
{
	struct mx_set set;

	if (text != NULL) {
		if (mx_set_parse(text, &set) == 0) {
			lookup_mx_done(req, 1, &set);
			return;
		}
		msg_warn("MX cache of %s holds garbage; asking DNS", req->domain);
	}
	lookup_mx_ask_dns(req);
}

/* lookup_mx_cached - the MX cache's text (state 1), or none */
static void
lookup_mx_cached(void *arg, int state, const char *text)
{
	lookup_mx_text(arg, state == 1 ? text : NULL);
}

/* lookup_mx - the local copy, else the Redis cache, else DNS */
void
lookup_mx(struct policyd *pd, const char *domain, lookup_mx_cb *cb, void *arg)
{
	struct lookup_mx_req *req;
	char	key[KEYS_MAX];

	if ((req = calloc(1, sizeof(*req))) == NULL)
		msg_panic("lookup: out of memory");
	req->pd = pd;
	snprintf(req->domain, sizeof(req->domain), "%s", domain);
	req->cb = cb;
	req->arg = arg;
	keys_domain_mx(key, sizeof(key), domain);
	lcache_string_read(pd, &req->read, key, req->text, sizeof(req->text), lookup_mx_cached, req);
}
