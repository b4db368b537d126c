/*
 * mcache.c - mhmilter's local copies of what a recipient check reads from
 * Redis, kept exact by Redis client-side caching (CLIENT TRACKING).
 *
 * Every recipient needs its domain's settings, whether its local part is
 * on the domain's user list and whether the sender/client pair is on the
 * four sender lists: one pipeline of six commands (store_rcpt_get), and
 * nearly every message asks the same again. mcache keeps the answers in
 * process (milter.cache_size bytes, least recently used first out;
 * common/rcache.c), under the Redis key they came from:
 *   mh:{D}:cfg    ""                  the lookup's result and struct domain
 *   mh:{D}:users  LOCAL               1 byte: on the list or not
 *   list keys     SENDER "\0" CLIENT  1 byte: any of the pair's entries listed
 * A recipient whose six answers are all copied costs no round trip.
 *
 * Exactness, as mhpolicyd's lcache: the tracker thread holds a connection
 * of its own subscribed to __redis__:invalidate. A lookup connection sends
 * CLIENT TRACKING on REDIRECT <tracker's id> before its first read that is
 * to be kept (again after it was made again, or the tracker subscribed
 * again), so Redis remembers the keys it reads and publishes their names
 * to the tracker when anyone changes them, deletes them or they expire;
 * their copies are dropped at once. A read in flight when its key changed
 * is not kept (rcache tickets). Copies exist only while the tracker is
 * subscribed: losing its connection forgets them all, and lookups go to
 * Redis until it is back. A copy also expires after MCACHE_MAX_AGE_MS.
 *
 * Not on a Redis Cluster (tracking would need an invalidation connection
 * per node), nor with milter.cache_size 0, nor when Redis refuses tracking
 * (before 6.0, an ACL without CLIENT): then every lookup goes to Redis, as
 * before. Under Sentinel, a lookup connection that finds a primary other
 * than the tracker's (a failover) forgets every copy and has the tracker
 * subscribe again, on the primary the sentinels name.
 *
 * Threads: libmilter's (lookups) and the tracker share the cache under one
 * lock, held only for memory work, never across Redis I/O.
 *
 * Public functions: mcache_start, mcache_reload, mcache_stop, mcache_rcpt_get,
 * mcache_counts.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "clock.h"
#include "conf.h"
#include "endpoint.h"
#include "keys.h"
#include "log.h"
#include "mcache.h"
#include "milter.h"
#include "rcache.h"
#include "rconn.h"
#include "senderlist.h"

#define MCACHE_CHANNEL		"__redis__:invalidate"
#define MCACHE_WAIT_MS		200	/* the tracker looks at its flags this often */
#define MCACHE_RETRY_MS		1000	/* a lost subscription is tried again after this */

/* what a domain's copy holds */
struct mcache_domain {
	enum store_result res;		/* OK or NOTFOUND */
	struct domain d;		/* OK: the settings */
};

static struct {
	pthread_mutex_t lock;
	struct rcache *cache;		/* NULL: no copies (not started, size 0, a cluster) */
	unsigned long tgen;		/* raised at each subscription of the tracker */
	long long tid;			/* the tracker's CLIENT ID while subscribed, else 0 */
	char	primary[ENDPOINT_HOST_MAX + 1];	/* under Sentinel: the tracker's primary */
	unsigned primary_port;
	int	refused;		/* Redis refused tracking: no copies until a reload */
	int	resubscribe;		/* a lookup saw another primary: subscribe again */
	int	stop;			/* the tracker ends */
	int	running;		/* the tracker thread exists */
	pthread_t thread;
	struct rconn *rc;		/* the tracker's connection (its thread's alone) */
} mc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_ulong mcache_hits, mcache_misses;

/* --- the tracker ----------------------------------------------------------------- */

/* mcache_stopping - the tracker ends: asked to, or Redis refused tracking */
static int
mcache_stopping(void)
{
	int	stop;

	pthread_mutex_lock(&mc.lock);
	stop = mc.stop || mc.refused;
	pthread_mutex_unlock(&mc.lock);
	return stop;
}

/* mcache_sleep - up to ms, in steps, until mcache_stopping */
static void
mcache_sleep(unsigned ms)
{
	struct timespec ts = {0, MCACHE_WAIT_MS * 1000000L};

	for (unsigned slept = 0; slept < ms && !mcache_stopping(); slept += MCACHE_WAIT_MS)
		nanosleep(&ts, NULL);
}

/*
 * mcache_subscribe - the tracker's connection: CLIENT ID, then SUBSCRIBE;
 * 0 with *id, -1 (logged when why differs from last time: *logged)
 */
static int
mcache_subscribe(struct rconn *rc, long long *id, int *logged)
{
	redisReply *r;
	char	why[300];

	if ((r = rconn_command(rc, "CLIENT ID")) == NULL) {
		snprintf(why, sizeof(why), "%s", rconn_errstr(rc));
		goto fail;
	}
	if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
		snprintf(why, sizeof(why), "CLIENT ID refused: %.200s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
		freeReplyObject(r);
		pthread_mutex_lock(&mc.lock);
		mc.refused = 1;
		pthread_mutex_unlock(&mc.lock);
		goto fail;
	}
	*id = r->integer;
	freeReplyObject(r);
	if ((r = rconn_command(rc, "SUBSCRIBE " MCACHE_CHANNEL)) == NULL) {
		snprintf(why, sizeof(why), "%s", rconn_errstr(rc));
		goto fail;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		snprintf(why, sizeof(why), "SUBSCRIBE refused: %.200s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	*logged = 0;
	return 0;
fail:
	if (!*logged)
		msg_warn("local cache off: invalidation connection: %s; every lookup goes to Redis", why);
	*logged = 1;
	return -1;
}

/* mcache_message - a message on the subscribed connection: the keys changed (nil: all) */
static void
mcache_message(const redisReply *r)
{
	const redisReply *keys;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING
	    || strcmp(r->element[0]->str, "message") != 0)
		return;				/* not an invalidation: nothing to do */
	keys = r->element[2];
	pthread_mutex_lock(&mc.lock);
	if (keys->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < keys->elements; i++)
			if (keys->element[i]->type == REDIS_REPLY_STRING)
				rcache_invalidate(mc.cache, keys->element[i]->str, keys->element[i]->len);
	} else {
		rcache_flush(mc.cache);		/* FLUSHALL, FLUSHDB */
	}
	pthread_mutex_unlock(&mc.lock);
}

/* mcache_tracker - the thread: subscribe, take invalidations, again after a loss */
static void *
mcache_tracker(void *arg)
{
	const struct conf *conf = arg;
	struct rconn *rc = rconn_new(conf);
	long long id;
	int	logged = 0, timed_out, stop = 0, again;
	const char *host;
	unsigned port;
	redisReply *r;

	while (!stop) {
		if (mcache_subscribe(rc, &id, &logged) < 0) {
			rconn_free(rc);
			rc = rconn_new(conf);
			mcache_sleep(MCACHE_RETRY_MS);	/* none when stopping */
			stop = mcache_stopping();
			continue;
		}
		pthread_mutex_lock(&mc.lock);
		mc.tid = id;
		mc.tgen++;
		mc.resubscribe = 0;
		if (rconn_primary(rc, &host, &port) == 0) {
			snprintf(mc.primary, sizeof(mc.primary), "%s", host);
			mc.primary_port = port;
		} else {
			mc.primary[0] = 0;
		}
		rcache_enable(mc.cache, !mc.refused);
		pthread_mutex_unlock(&mc.lock);
		msg_info("local cache on: invalidations from redis %s", rconn_address(rc));
		for (;;) {
			pthread_mutex_lock(&mc.lock);
			stop = mc.stop;
			again = mc.resubscribe;
			pthread_mutex_unlock(&mc.lock);
			if (stop || again)
				break;
			if ((r = rconn_wait_reply(rc, MCACHE_WAIT_MS, &timed_out)) == NULL) {
				if (timed_out)
					continue;
				msg_warn("local cache off: invalidation connection lost: %s", rconn_errstr(rc));
				logged = 1;
				break;
			}
			mcache_message(r);
			freeReplyObject(r);
		}
		pthread_mutex_lock(&mc.lock);
		mc.tid = 0;
		rcache_enable(mc.cache, 0);	/* forgets every copy; tickets become stale */
		pthread_mutex_unlock(&mc.lock);
		rconn_free(rc);			/* a subscribed connection is not reused */
		rc = rconn_new(conf);
	}
	rconn_free(rc);
	milter_conf_release(conf);
	return NULL;
}

/*
 * mcache_tracker_start - the thread, on the redis.* in force: it holds
 * those settings (milter_conf_hold) until it ends, for every rconn_new
 */
static void
mcache_tracker_start(void)
{
	const struct conf *conf = milter_conf_hold();

	pthread_mutex_lock(&mc.lock);
	mc.stop = 0;
	mc.refused = 0;
	mc.resubscribe = 0;
	pthread_mutex_unlock(&mc.lock);
	if (pthread_create(&mc.thread, NULL, mcache_tracker, (void *) conf) != 0) {
		milter_conf_release(conf);
		msg_warn("local cache off: cannot start its thread");
		return;
	}
	mc.running = 1;
}

/* mcache_tracker_end - stop the thread and wait for it (at most MCACHE_WAIT_MS + redis.timeout) */
static void
mcache_tracker_end(void)
{
	if (!mc.running)
		return;
	pthread_mutex_lock(&mc.lock);
	mc.stop = 1;
	pthread_mutex_unlock(&mc.lock);
	pthread_join(mc.thread, NULL);
	mc.running = 0;
}

/* --- start, reload, stop ----------------------------------------------------------- */

/* mcache_start - conf: the settings in force (the tracker holds its own reference) */
void
mcache_start(const struct conf *conf)
{
	if (conf->milter_cache_size == 0) {
		msg_info("local cache off: milter.cache_size is 0");
		return;
	}
	if (conf->redis_cluster_count > 0) {
		msg_info("local cache off: not on a Redis Cluster");
		return;
	}
	mc.cache = rcache_new((size_t) conf->milter_cache_size);	/* disabled until subscribed */
	mcache_tracker_start();
}

/* mcache_reload - after the new settings were installed */
void
mcache_reload(int new_redis)
{
	const struct conf *conf;
	int	refused, cluster;

	if (mc.cache == NULL)
		return;
	conf = milter_conf_hold();
	cluster = conf->redis_cluster_count > 0;
	milter_conf_release(conf);
	if (cluster) {				/* no copies there: lookups go to Redis */
		mcache_tracker_end();
		msg_info("local cache off: not on a Redis Cluster");
		return;
	}
	pthread_mutex_lock(&mc.lock);
	refused = mc.refused;
	rcache_flush(mc.cache);
	pthread_mutex_unlock(&mc.lock);
	if (new_redis || refused) {		/* Redis may take tracking now: try again */
		mcache_tracker_end();		/* its last act disables: every copy forgotten */
		mcache_tracker_start();
	}
}

void
mcache_stop(void)
{
	mcache_tracker_end();
	rcache_free(mc.cache);
	mc.cache = NULL;
}

void
mcache_counts(unsigned long *hits, unsigned long *misses)
{
	*hits = atomic_load(&mcache_hits);
	*misses = atomic_load(&mcache_misses);
}

/* --- lookups --------------------------------------------------------------------- */

/* the keys and fields of one recipient check */
struct mcache_q {
	char	cfgkey[KEYS_MAX];
	char	ukey[KEYS_MAX];
	char	lkeys[SENDERLIST_LISTS][KEYS_MAX];
	char	lfield[STORE_LIST_FIELD_MAX];	/* SENDER \0 CLIENT */
	size_t	lfield_len;
	struct rcache_ticket tickets[2 + SENDERLIST_LISTS];
};

/* mcache_q_init - q's keys and sender/client field; -1 when the field would not fit */
static int
mcache_q_init(struct mcache_q *q, const char *domain, const struct address *sender,
	      const char *client_ip)
{
	int	n;

	keys_domain_cfg(q->cfgkey, sizeof(q->cfgkey), domain);
	keys_domain_users(q->ukey, sizeof(q->ukey), domain);
	store_list_keys(q->lkeys, domain);
	if ((n = store_list_field(q->lfield, sizeof(q->lfield), sender, client_ip)) < 0)
		return -1;
	q->lfield_len = (size_t) n;
	return 0;
}

/* mcache_q_get - every answer from the copies (lock held): 1 on a full hit, with the results */
static int
mcache_q_get(struct mcache_q *q, const char *local, enum store_result *res, struct domain *d,
	     enum store_result *user, struct senderlist_hits *hits, uint64_t now)
{
	const struct mcache_domain *md;
	const unsigned char *flag;
	size_t	len;

	md = rcache_get(mc.cache, q->cfgkey, strlen(q->cfgkey), "", 0, &len, now);
	if (md == NULL || len != sizeof(*md))
		return 0;
	flag = rcache_get(mc.cache, q->ukey, strlen(q->ukey), local, strlen(local), &len, now);
	if (flag == NULL || len != 1)
		return 0;
	*user = *flag ? STORE_OK : STORE_NOTFOUND;
	for (int k = 0; k < SENDERLIST_LISTS; k++) {
		flag = rcache_get(mc.cache, q->lkeys[k], strlen(q->lkeys[k]), q->lfield, q->lfield_len, &len, now);
		if (flag == NULL || len != 1)
			return 0;
		*senderlist_flag(hits, k) = *flag;
	}
	*res = md->res;
	if (md->res == STORE_OK)
		*d = md->d;
	return 1;
}

/*
 * mcache_track - st's connection tracked for the current subscription
 * (tgen, tid); 1 when its reads may be kept
 */
static int
mcache_track(struct rconn *rc, struct mcache_conn *tc, unsigned long tgen, long long tid)
{
	redisReply *r;
	const char *host;
	unsigned port;
	int	ok, refused;

	if (tc->tgen == tgen && tc->serial != 0 && tc->serial == rconn_serial(rc))
		return 1;
	tc->tgen = 0;
	if ((r = rconn_command(rc, "CLIENT TRACKING on REDIRECT %lld", tid)) == NULL)
		return 0;			/* the lookup will fail the same way */
	ok = r->type == REDIS_REPLY_STATUS;
	if (!ok) {
		pthread_mutex_lock(&mc.lock);
		refused = mc.refused;
		if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "redirect") == NULL) {
			mc.refused = 1;		/* not a lost tracker: Redis says no */
			rcache_enable(mc.cache, 0);
		}
		pthread_mutex_unlock(&mc.lock);
		if (!refused)
			msg_warn("local cache: CLIENT TRACKING refused: %.200s",
				 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return 0;
	}
	freeReplyObject(r);
	if (rconn_primary(rc, &host, &port) == 0) {
		pthread_mutex_lock(&mc.lock);
		if (strcmp(host, mc.primary) != 0 || port != mc.primary_port) {
			ok = 0;			/* a failover: the tracker listens to another server */
			if (mc.tgen == tgen && !mc.resubscribe) {
				mc.resubscribe = 1;
				rcache_enable(mc.cache, 0);
				msg_info("local cache: redis primary is now %s:%u; copies forgotten", host, port);
			}
		}
		pthread_mutex_unlock(&mc.lock);
	}
	if (ok) {
		tc->tgen = tgen;
		tc->serial = rconn_serial(rc);
	}
	return ok;
}

enum store_result
mcache_rcpt_get(struct store *st, struct mcache_conn *tc, const char *domain, const char *local,
		const struct address *sender, const char *client_ip, struct domain *d,
		enum store_result *user, struct senderlist_hits *hits)
{
	struct mcache_q q;
	struct mcache_domain md;
	enum store_result res;
	unsigned long tgen;
	long long tid;
	int	keep;
	unsigned char flag;

	if (mc.cache == NULL || mcache_q_init(&q, domain, sender, client_ip) < 0) {
		atomic_fetch_add(&mcache_misses, 1);
		return store_rcpt_get(st, domain, local, sender, client_ip, d, user, hits);
	}
	pthread_mutex_lock(&mc.lock);
	if (!rcache_enabled(mc.cache)) {
		pthread_mutex_unlock(&mc.lock);
		atomic_fetch_add(&mcache_misses, 1);
		return store_rcpt_get(st, domain, local, sender, client_ip, d, user, hits);
	}
	if (mcache_q_get(&q, local, &res, d, user, hits, clock_coarse_ms())) {
		pthread_mutex_unlock(&mc.lock);
		atomic_fetch_add(&mcache_hits, 1);
		return res;
	}
	rcache_want(mc.cache, q.cfgkey, strlen(q.cfgkey), &q.tickets[0]);
	rcache_want(mc.cache, q.ukey, strlen(q.ukey), &q.tickets[1]);
	for (int k = 0; k < SENDERLIST_LISTS; k++)
		rcache_want(mc.cache, q.lkeys[k], strlen(q.lkeys[k]), &q.tickets[2 + k]);
	tgen = mc.tgen;
	tid = mc.tid;
	pthread_mutex_unlock(&mc.lock);
	atomic_fetch_add(&mcache_misses, 1);

	keep = mcache_track(st->rc, tc, tgen, tid);
	res = store_rcpt_get(st, domain, local, sender, client_ip, d, user, hits);
	/* kept only when read over the connection that was tracked (no reconnect since) */
	keep = keep && res != STORE_ERROR && tc->serial == rconn_serial(st->rc);

	pthread_mutex_lock(&mc.lock);
	if (keep) {
		uint64_t expires = clock_coarse_ms() + MCACHE_MAX_AGE_MS;

		memset(&md, 0, sizeof(md));
		md.res = res;
		if (res == STORE_OK)
			md.d = *d;
		rcache_put(mc.cache, &q.tickets[0], "", 0, &md, sizeof(md), expires);
		flag = *user == STORE_OK;
		rcache_put(mc.cache, &q.tickets[1], local, strlen(local), &flag, 1, expires);
		for (int k = 0; k < SENDERLIST_LISTS; k++) {
			flag = (unsigned char) (*senderlist_flag(hits, k) != 0);
			rcache_put(mc.cache, &q.tickets[2 + k], q.lfield, q.lfield_len, &flag, 1, expires);
		}
	}
	for (int i = 0; i < 2 + SENDERLIST_LISTS; i++)
		rcache_release(mc.cache, &q.tickets[i]);
	pthread_mutex_unlock(&mc.lock);
	return res;
}
