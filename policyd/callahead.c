/*
 * callahead.c - verify a recipient at the customer's server before we
 * accept mail for it (SPEC "Call-ahead"), so that every node of the
 * cluster makes at most one probe per address at a time, no destination
 * sees more than callahead.max_per_destination probes at once, and two
 * relays that call ahead to each other cannot loop.
 *
 * One check, all on the event loop (Redis through aredis, the dialogue
 * through probe.c):
 *
 *  1. The verdict mh:{D}:ca:LOCAL, from the local copy (lcache, kept
 *     true by Redis client tracking) or Redis. Found: answer from it.
 *  2. Take the address's lock mh:{D}:calock:LOCAL (SET NX PX, value
 *     "NODE HOST:PORT"), which lives as long as a probe can, in one
 *     script with a second look at the verdict: a probe that ended since
 *     step 1 (verdict written, lock given back) is answered from, not
 *     followed by a second probe.
 *  3a. Taken: take a slot of the destination (a Lua script on the ZSET
 *     mh:{cadest:HOST:PORT}:inflight: expired members dropped by Redis's
 *     clock, then a member added only if fewer than the cap remain). The
 *     checks of this process that want a slot of one destination queue
 *     up here, in arrival order, and only the first asks Redis: at once,
 *     then every CALLAHEAD_POLL_MS, and at once again when a probe of
 *     ours to that destination ends. So a destination that hangs with
 *     hundreds of checks waiting costs Redis a few commands a second,
 *     not one per check per poll. A check still waiting at its deadline
 *     is "destination busy" (inconclusive, not cached). Slot: probe;
 *     write the verdict (PX positive_ttl / negative_ttl / tempfail_ttl),
 *     give back the lock (a script deletes it only if it is still ours),
 *     answer; give back the slot when the probe's connection is gone
 *     (the server closed it after our QUIT, or reply_timeout passed), so
 *     the destination never holds more than the cap of our connections.
 *  3b. Held by another probe: a request that looks like a verification
 *     probe (null sender, double-bounce@, postmaster@, mailer-daemon@, or
 *     the client is the very address being probed) is the other relay
 *     calling back while it verifies our probe: a loop. It is answered at
 *     once (accept), and logged once per address per
 *     CALLAHEAD_LOOP_WINDOW_S (SET NX EX on mh:{D}:caloop:LOCAL). Any
 *     other request waits: it polls the verdict and the lock (one MGET;
 *     same hash tag) until the verdict appears (answer from it), the lock
 *     goes without one (its holder died: start over once), or the wait
 *     ends (inconclusive).
 *
 * Every wait is bounded by the check's deadline: connect_timeout plus
 * five reply_timeouts (banner, EHLO, HELO, MAIL, RCPT), at most
 * CALLAHEAD_TOTAL_MAX_MS, below Postfix's 100 s policy timeout. Redis
 * failing at any step: inconclusive without a probe (without Redis there
 * is no single flight and no cap, so no probe is the safe side), logged.
 *
 * A verdict in the local copy is answered before anything is allocated
 * (callahead_check's first lines): the cache-hit path costs a key name,
 * a lookup and a parse.
 *
 * A check outlives its callback while its last Redis writes are out; it
 * is freed when both are done.
 *
 * Public functions: callahead_check, callahead_source_name.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "aredis.h"
#include "callahead.h"
#include "conf.h"
#include "keys.h"
#include "lcache.h"
#include "log.h"
#include "pmetrics.h"
#include "policyd.h"
#include "probe.h"

/*
 * KEYS[1] inflight ZSET, KEYS[2] the down mark; ARGV cap, ms, id: 1 when
 * a slot was taken, 0 when none is free, -1 when the destination is down
 */
static const char ca_slot_script[] =
	"if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end "
	"local t = redis.call('TIME') "
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
	"if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end "
	"redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3]) "
	"redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000) "
	"return 1";

/* KEYS[1] the lock; ARGV[1] our value: delete it only if it is still ours */
/*
 * KEYS[1] the verdict, KEYS[2] the lock; ARGV the lock's value and life
 * (ms): {1, verdict} when a verdict is there, {0} when the lock is ours,
 * {2} when another holds it. One step, so that a probe that ends between
 * our reading of the verdict and our taking of the lock (its verdict
 * written, its lock given back) is not followed by a second probe.
 */
static const char ca_lock_script[] =
	"local v = redis.call('GET', KEYS[1]) "
	"if v then return {1, v} end "
	"if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0} end "
	"return {2}";

static const char ca_unlock_script[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
	"return 0";

enum ca_state {
	CA_READ,			/* the verdict */
	CA_LOCK,			/* SET NX */
	CA_HELD,			/* GET of another's lock */
	CA_WAIT,			/* polling for the verdict */
	CA_SLOT,			/* asking for a slot */
	CA_PROBE,			/* our probe runs */
	CA_DONE
};

struct ca_queue;

struct ca_check {
	struct policyd *pd;
	const struct conf *conf;
	callahead_cb *cb;
	void   *arg;
	enum ca_state state;
	char	domain[ADDRESS_DOMAIN_MAX + 1];
	char	local[ADDRESS_LOCAL_MAX + 1];
	char	host[PROBE_HOST_MAX + 1];
	unsigned port;
	char	client_ip[64];
	char	sender[ADDRESS_TEXT_MAX + 2];
	char	where[CACACHE_WHERE_MAX + 1];
	char	vkey[KEYS_MAX], lkey[KEYS_MAX], dkey[KEYS_MAX], downkey[KEYS_MAX];
	char	lockval[CACACHE_WHERE_MAX + 300];
	char	slot_id[300];
	struct lcache_string_read read;
	char	buf[CACACHE_VALUE_MAX + 1];
	struct event *timer;
	struct timespec started;
	uint64_t total_ms;		/* the deadline, from started */
	unsigned outstanding;		/* Redis commands whose callback has not run */
	int	answered;		/* cb has run */
	int	restarted;		/* the lock vanished without a verdict once already */
	int	own_lock, own_slot;
	struct probe *probe;
	struct ca_queue *queue;		/* waiting for a slot (CA_SLOT) */
	struct ca_check *qnext;
	int	asking;			/* its slot script is out */
	int	kicked;			/* a slot freed while it was out: ask again at once */
};

/*
 * The checks of this process waiting for a slot of one destination, first
 * come first served; only the head asks Redis. One list for the process
 * (one event loop); a queue lives while it has checks, and there are as
 * many as destinations with probes waiting.
 */
struct ca_queue {
	struct ca_queue *next;
	struct ca_check *head, *tail;
	char	dkey[KEYS_MAX];
};
static struct ca_queue *ca_queues;

static unsigned long ca_seq;		/* slot ids: node, pid, sequence */
static long ca_pid;			/* getpid() once: it is a system call */

const char *
callahead_source_name(enum callahead_source s)
{
	static const char *const names[] = {"cache", "probe", "waited for another probe", "loop",
	"destination busy", "redis error", "destination down"};

	return (unsigned) s <= CALLAHEAD_DOWN ? names[s] : "?";
}

static uint64_t
ca_elapsed(const struct ca_check *c)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t) (now.tv_sec - c->started.tv_sec) * 1000
		+ (uint64_t) ((now.tv_nsec - c->started.tv_nsec) / 1000000);
}

/* ca_deadline_left - ms to the check's deadline (0: passed) */
static uint64_t
ca_deadline_left(const struct ca_check *c)
{
	uint64_t el = ca_elapsed(c);

	return c->total_ms > el ? c->total_ms - el : 0;
}

/* ca_node - this node's name for lock values and slot ids */
static const char *
ca_node(const struct conf *conf)
{
	static char host[256];

	if (conf->node_hostnames.count)
		return conf->node_hostnames.items[0];
	if (host[0] == 0 && (gethostname(host, sizeof(host) - 1) < 0 || host[0] == 0))
		snprintf(host, sizeof(host), "localhost");
	return host;
}

static void ca_dequeue(struct ca_check *);

static void
ca_free_if_done(struct ca_check *c)
{
	if (!c->answered || c->outstanding > 0 || c->probe != NULL)
		return;
	if (c->timer)
		event_free(c->timer);
	free(c);
}

/* ca_answer - the callback, once */
static void
ca_answer(struct ca_check *c, enum callahead_source src, const struct cacache_entry *e)
{
	struct callahead_result r;

	if (c->answered) {
		ca_free_if_done(c);
		return;
	}
	c->answered = 1;
	c->state = CA_DONE;
	if (c->timer)
		evtimer_del(c->timer);
	if (c->queue)
		ca_dequeue(c);
	r.source = src;
	r.e = *e;
	c->cb(&r, c->arg);
	ca_free_if_done(c);
}

/* ca_inconclusive - answer "tempfail" (accept), not cached, with why */
static void
ca_inconclusive(struct ca_check *c, enum callahead_source src, const char *why)
{
	struct cacache_entry e;

	memset(&e, 0, sizeof(e));
	e.verdict = CACACHE_TEMPFAIL;
	e.at = (long long) time(NULL);
	snprintf(e.where, sizeof(e.where), "%s", c->where);
	snprintf(e.text, sizeof(e.text), "%s", why);
	ca_answer(c, src, &e);
}

/* ca_done_cmd - a fire-and-forget command's callback */
static void
ca_done_cmd(redisReply *rep, void *arg)
{
	struct ca_check *c = arg;

	(void) rep;
	c->outstanding--;
	ca_free_if_done(c);
}

static void ca_kick(const char *dkey);

/*
 * ca_release - give back the lock and the slot we hold; the slot only once
 * our probe's connection is gone (ca_probe_closed): until the server has
 * let it go, it still counts against max_per_destination
 */
static void
ca_release(struct ca_check *c)
{
	if (c->own_slot && c->probe == NULL) {
		c->own_slot = 0;
		if (aredis_command(c->pd->redis, ca_done_cmd, c, "ZREM %s %s", c->dkey, c->slot_id) == 0)
			c->outstanding++;
		ca_kick(c->dkey);	/* after the ZREM, on the same connection */
	}
	if (c->own_lock) {
		c->own_lock = 0;
		if (aredis_command(c->pd->redis, ca_done_cmd, c, "EVAL %s 1 %s %s", ca_unlock_script,
				   c->lkey, c->lockval) == 0)
			c->outstanding++;
	}
}

/* ca_wait_timer - arm the poll timer, or give up when the deadline has passed */
static int
ca_wait_timer(struct ca_check *c, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t) (ms / 1000), .tv_usec = (suseconds_t) (ms % 1000 * 1000)};

	if (ca_elapsed(c) + ms > c->total_ms)
		return -1;
	evtimer_add(c->timer, &tv);
	return 0;
}

static void ca_lock(struct ca_check *);
static void ca_slot(struct ca_check *);

/* --- our probe -------------------------------------------------------------------- */

static void
ca_probed(const struct probe_result *pr, void *arg)
{
	struct ca_check *c = arg;
	struct cacache_entry e;
	char	val[CACACHE_VALUE_MAX + 1];
	uint64_t ttl;

	pmetrics_probe(pr->outcome, pr->elapsed_ms);
	memset(&e, 0, sizeof(e));
	e.at = (long long) time(NULL);
	e.code = pr->code;
	snprintf(e.where, sizeof(e.where), "%s", c->where);
	switch (pr->outcome) {
	case PROBE_ACCEPT:
		e.verdict = CACACHE_ACCEPT;
		ttl = c->conf->callahead_positive_ttl_ms;
		snprintf(e.text, sizeof(e.text), "%s", pr->text);
		break;
	case PROBE_REJECT:
		e.verdict = CACACHE_REJECT;
		ttl = c->conf->callahead_negative_ttl_ms;
		snprintf(e.text, sizeof(e.text), "%s", pr->text);
		break;
	default:
		e.verdict = CACACHE_TEMPFAIL;
		ttl = c->conf->callahead_tempfail_ttl_ms;
		snprintf(e.text, sizeof(e.text), "%.*s", (int) sizeof(e.text) - 1, pr->why);
		msg_info("callahead: <%s@%s> at %s: inconclusive: %s (%llu ms)", c->local, c->domain,
			 c->where, pr->why, (unsigned long long) pr->elapsed_ms);
		/* no connection or no banner: the destination is down for everyone, for a while */
		if (!pr->reached && aredis_command(c->pd->redis, ca_done_cmd, c, "SET %s %s PX %llu",
						   c->downkey, pr->why, (unsigned long long)
						   CALLAHEAD_DOWN_MS(c->conf)) == 0) {
			c->outstanding++;
			msg_info("callahead: %s: no answer (%s): call-aheads to it are inconclusive "
				 "without a probe for %llu s", c->where, pr->why,
				 (unsigned long long) CALLAHEAD_DOWN_MS(c->conf) / 1000);
		}
		break;
	}
	if (msg_verbose || e.verdict != CACACHE_TEMPFAIL)
		msg_info("callahead: <%s@%s> at %s: %s: %d %s (%llu ms)", c->local, c->domain, c->where,
			 cacache_verdict_name(e.verdict), pr->code, pr->text,
			 (unsigned long long) pr->elapsed_ms);
	if (cacache_format(val, sizeof(val), &e) == 0
	    && aredis_command(c->pd->redis, ca_done_cmd, c, "SET %s %s PX %llu", c->vkey, val,
			      (unsigned long long) ttl) == 0)
		c->outstanding++;
	ca_release(c);
	ca_answer(c, CALLAHEAD_PROBE, &e);
}

/* ca_probe_closed - our probe's connection is gone: the slot is free */
static void
ca_probe_closed(void *arg)
{
	struct ca_check *c = arg;

	c->probe = NULL;
	ca_release(c);
	ca_free_if_done(c);
}

static void
ca_start_probe(struct ca_check *c)
{
	struct probe_spec spec;
	char	helo[PROBE_HOST_MAX + 1];

	snprintf(helo, sizeof(helo), "%s", c->conf->callahead_helo[0] ? c->conf->callahead_helo
		 : ca_node(c->conf));
	memset(&spec, 0, sizeof(spec));
	spec.host = c->host;
	spec.port = c->port;
	spec.helo = helo;
	spec.sender = c->conf->callahead_probe_sender;
	spec.rcpt = c->buf;		/* free now: the verdict's text is not needed any more */
	snprintf(c->buf, sizeof(c->buf), "%s@%s", c->local, c->domain);
	spec.connect_timeout_ms = c->conf->callahead_connect_timeout_ms;
	spec.reply_timeout_ms = c->conf->callahead_reply_timeout_ms;
	spec.closed = ca_probe_closed;
	c->state = CA_PROBE;
	if ((c->probe = probe_start(c->pd->base, c->pd->dns, &spec, ca_probed, c)) == NULL) {
		ca_release(c);
		ca_inconclusive(c, CALLAHEAD_ERROR, "out of memory");
		return;
	}
	/* the deadline: a probe still going then is stopped (ca_timer) */
	{
		uint64_t ms = ca_deadline_left(c);
		struct timeval tv = {.tv_sec = (time_t) (ms / 1000), .tv_usec = (suseconds_t) (ms % 1000 * 1000)};

		evtimer_add(c->timer, &tv);
	}
}

/* --- this process's queues for a destination's slots --------------------------------------- */

/* ca_soon - run the check's timer on the next loop pass (no recursion through answers) */
static void
ca_soon(struct ca_check *c)
{
	static const struct timeval zero = {0, 0};

	evtimer_del(c->timer);
	evtimer_add(c->timer, &zero);
}

/* ca_kick - a slot of dkey freed here: its queue's head asks again now */
static void
ca_kick(const char *dkey)
{
	for (struct ca_queue *q = ca_queues; q; q = q->next) {
		if (strcmp(q->dkey, dkey) != 0)
			continue;
		if (q->head->asking)
			q->head->kicked = 1;
		else
			ca_soon(q->head);
		return;
	}
}

/* ca_enqueue - join the destination's queue; 1 when c is its head (it asks now) */
static int
ca_enqueue(struct ca_check *c)
{
	struct ca_queue *q;

	for (q = ca_queues; q; q = q->next)
		if (strcmp(q->dkey, c->dkey) == 0)
			break;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return -1;
		memcpy(q->dkey, c->dkey, sizeof(q->dkey));
		q->next = ca_queues;
		ca_queues = q;
	}
	c->queue = q;
	c->qnext = NULL;
	if (q->tail)
		q->tail->qnext = c;
	else
		q->head = c;
	q->tail = c;
	return q->head == c;
}

/* ca_dequeue - leave the queue; a new head asks on the next loop pass */
static void
ca_dequeue(struct ca_check *c)
{
	struct ca_queue *q = c->queue, **qp;
	struct ca_check **pp, *prev = NULL;

	for (pp = &q->head; *pp && *pp != c; pp = &(*pp)->qnext)
		prev = *pp;
	if (*pp == NULL)
		return;
	*pp = c->qnext;
	if (q->tail == c)
		q->tail = prev;
	c->queue = NULL;
	c->qnext = NULL;
	if (q->head) {
		if (prev == NULL && !q->head->asking)
			ca_soon(q->head);
		return;
	}
	for (qp = &ca_queues; *qp != q; qp = &(*qp)->next)
		;
	*qp = q->next;
	free(q);
}

/*
 * ca_slot_left - ms the check may still wait for a slot: a probe must
 * have connect_timeout + reply_timeout left (time to connect and hear the
 * banner), or it would only knock at the door and be stopped
 */
static uint64_t
ca_slot_left(const struct ca_check *c)
{
	uint64_t el = ca_elapsed(c), need = c->conf->callahead_connect_timeout_ms
		+ c->conf->callahead_reply_timeout_ms;
	uint64_t until = c->total_ms > need ? c->total_ms - need : 0;

	return until > el ? until - el : 0;
}

/* ca_down - the destination did not answer a probe lately: inconclusive at once, no probe */
static void
ca_down(struct ca_check *c, const char *why)
{
	if (msg_verbose)
		msg_info("callahead: <%s@%s>: %s did not answer a probe lately (%s): inconclusive",
			 c->local, c->domain, c->where, why);
	ca_release(c);
	ca_inconclusive(c, CALLAHEAD_DOWN, "destination not answering");
}

/* ca_busy - the deadline passed in the queue */
static void
ca_busy(struct ca_check *c)
{
	msg_info("callahead: <%s@%s>: %s has had %u probes in flight too long: inconclusive",
		 c->local, c->domain, c->where, c->conf->callahead_max_per_destination);
	ca_release(c);
	ca_inconclusive(c, CALLAHEAD_BUSY, "destination busy");
}

/* --- the destination's slot ---------------------------------------------------------- */

static void
ca_slot_done(redisReply *rep, void *arg)
{
	struct ca_check *c = arg;
	int	kicked = c->kicked;
	uint64_t left;

	c->outstanding--;
	c->asking = 0;
	c->kicked = 0;
	if (c->answered) {
		if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
			c->own_slot = 1;
			ca_release(c);
		}
		ca_free_if_done(c);
		return;
	}
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
		ca_release(c);
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis: cannot count the destination's probes");
		return;
	}
	if (rep->integer == 1) {
		c->own_slot = 1;
		ca_dequeue(c);
		ca_start_probe(c);
		return;
	}
	if (rep->integer < 0) {
		ca_down(c, "marked down in Redis");
		return;
	}
	left = ca_slot_left(c);
	if (left == 0 || (!kicked && ca_wait_timer(c, left < CALLAHEAD_POLL_MS ? left
						   : CALLAHEAD_POLL_MS) < 0))
		ca_busy(c);
	else if (kicked)
		ca_soon(c);
}

/* ca_slot - ask for a slot (the queue's head) */
static void
ca_slot(struct ca_check *c)
{
	uint64_t left = ca_deadline_left(c);

	if (left == 0) {
		ca_busy(c);
		return;
	}
	c->state = CA_SLOT;
	/* the slot lives as long as the probe can, closing politely included */
	if (aredis_command(c->pd->redis, ca_slot_done, c, "EVAL %s 2 %s %s %u %llu %s", ca_slot_script,
			   c->dkey, c->downkey, c->conf->callahead_max_per_destination,
			   (unsigned long long) (left + c->conf->callahead_reply_timeout_ms),
			   c->slot_id) < 0) {
		ca_release(c);
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis unavailable");
		return;
	}
	c->outstanding++;
	c->asking = 1;
}

/* ca_queue_slot - the lock is ours: wait for a slot in this process's queue */
static void
ca_queue_slot(struct ca_check *c)
{
	int	head = ca_enqueue(c);
	uint64_t left = ca_slot_left(c);
	struct timeval tv = {.tv_sec = (time_t) (left / 1000), .tv_usec = (suseconds_t) (left % 1000 * 1000)};

	c->state = CA_SLOT;
	if (head < 0) {
		ca_release(c);
		ca_inconclusive(c, CALLAHEAD_ERROR, "out of memory");
	} else if (head) {
		ca_slot(c);
	} else {
		evtimer_add(c->timer, &tv);	/* the end of its wait, unless it becomes the head first */
	}
}

/* --- another probe of the address ------------------------------------------------------ */

/* ca_probe_like - does this request look like a verification probe? */
static int
ca_probe_like(const struct ca_check *c, const char *lockval)
{
	static const char *const probers[] = {"double-bounce@", "postmaster@", "mailer-daemon@"};
	const char *sp = strchr(lockval, ' '), *colon;

	if (c->sender[0] == 0)
		return 1;
	for (size_t i = 0; i < sizeof(probers) / sizeof(probers[0]); i++)
		if (strncasecmp(c->sender, probers[i], strlen(probers[i])) == 0)
			return 1;
	if (sp && c->client_ip[0] && (colon = strrchr(sp + 1, ':')) != NULL
	    && (size_t) (colon - sp - 1) == strlen(c->client_ip)
	    && strncmp(sp + 1, c->client_ip, strlen(c->client_ip)) == 0)
		return 1;
	return 0;
}

static void
ca_polled(redisReply *rep, void *arg)
{
	struct ca_check *c = arg;
	struct cacache_entry e;

	c->outstanding--;
	if (c->answered) {
		ca_free_if_done(c);
		return;
	}
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis: cannot read the other probe's verdict");
		return;
	}
	if (rep->element[0]->type == REDIS_REPLY_STRING && cacache_parse(rep->element[0]->str, &e) == 0) {
		ca_answer(c, CALLAHEAD_WAITED, &e);
		return;
	}
	if (rep->element[1]->type == REDIS_REPLY_NIL) {
		if (!c->restarted) {	/* its holder went without a verdict: try ourselves */
			c->restarted = 1;
			ca_lock(c);
			return;
		}
		ca_inconclusive(c, CALLAHEAD_WAITED, "the other probe ended without a verdict");
		return;
	}
	if (ca_wait_timer(c, CALLAHEAD_POLL_MS) < 0)
		ca_inconclusive(c, CALLAHEAD_WAITED, "timed out waiting for another probe");
}

static void
ca_poll(struct ca_check *c)
{
	c->state = CA_WAIT;
	if (aredis_command(c->pd->redis, ca_polled, c, "MGET %s %s", c->vkey, c->lkey) < 0) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis unavailable");
		return;
	}
	c->outstanding++;
}

static void
ca_loop_logged(redisReply *rep, void *arg)
{
	struct ca_check *c = arg;

	c->outstanding--;
	if (rep && rep->type == REDIS_REPLY_STATUS)	/* OK: first in this window */
		msg_warn("callahead: verification loop on <%s@%s>: a probe for it came from %s "
			 "(sender <%s>) while our own probe of %s was in flight; accepted at once "
			 "(logged once per %d s)", c->local, c->domain,
			 c->client_ip[0] ? c->client_ip : "unknown", c->sender, c->where,
			 CALLAHEAD_LOOP_WINDOW_S);
	ca_free_if_done(c);
}

static void
ca_held(redisReply *rep, void *arg)
{
	struct ca_check *c = arg;
	char	lkey[KEYS_MAX];
	struct cacache_entry e;

	c->outstanding--;
	if (rep == NULL || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis: cannot read the address's lock");
		return;
	}
	if (rep->type == REDIS_REPLY_NIL) {	/* gone between SET NX and GET */
		ca_poll(c);
		return;
	}
	if (!ca_probe_like(c, rep->str)) {
		ca_poll(c);
		return;
	}
	keys_ca_loop(lkey, sizeof(lkey), c->domain, c->local);
	if (aredis_command(c->pd->redis, ca_loop_logged, c, "SET %s 1 NX EX %d", lkey,
			   CALLAHEAD_LOOP_WINDOW_S) == 0)
		c->outstanding++;
	memset(&e, 0, sizeof(e));
	e.verdict = CACACHE_ACCEPT;
	e.at = (long long) time(NULL);
	snprintf(e.where, sizeof(e.where), "%s", c->where);
	snprintf(e.text, sizeof(e.text), "loop: our own probe of this address is in flight");
	ca_answer(c, CALLAHEAD_LOOP, &e);
}

/* --- the lock ------------------------------------------------------------------------------ */

static void
ca_locked(redisReply *rep, void *arg)
{
	struct ca_check *c = arg;
	struct cacache_entry e;

	c->outstanding--;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1
	    || rep->element[0]->type != REDIS_REPLY_INTEGER || rep->element[0]->integer < 0
	    || rep->element[0]->integer > 2
	    || (rep->element[0]->integer == 1
		&& (rep->elements != 2 || rep->element[1]->type != REDIS_REPLY_STRING))) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis: cannot take the address's lock");
		return;
	}
	if (rep->element[0]->integer == 1) {	/* a probe ended just now: its verdict */
		if (cacache_parse(rep->element[1]->str, &e) == 0) {
			ca_answer(c, CALLAHEAD_WAITED, &e);
			return;
		}
		ca_inconclusive(c, CALLAHEAD_ERROR, "an unreadable verdict appeared");
		return;
	}
	if (rep->element[0]->integer == 0) {
		c->own_lock = 1;
		ca_queue_slot(c);
		return;
	}
	c->state = CA_HELD;
	if (aredis_command(c->pd->redis, ca_held, c, "GET %s", c->lkey) < 0) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis unavailable");
		return;
	}
	c->outstanding++;
}

static void
ca_lock(struct ca_check *c)
{
	uint64_t left = ca_deadline_left(c);

	c->state = CA_LOCK;
	if (aredis_command(c->pd->redis, ca_locked, c, "EVAL %s 2 %s %s %s %llu", ca_lock_script,
			   c->vkey, c->lkey, c->lockval, (unsigned long long) left + 1000) < 0) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis unavailable");
		return;
	}
	c->outstanding++;
}

/* --- the cached verdict ---------------------------------------------------------------------- */

/* ca_down_read - the destination's down mark: set, inconclusive at once; else take the lock */
static void
ca_down_read(void *arg, int state, const char *text)
{
	struct ca_check *c = arg;

	if (state < 0) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis: cannot read the destination's state");
		return;
	}
	if (state == 1) {
		ca_down(c, text);
		return;
	}
	ca_lock(c);
}

static void
ca_cached(void *arg, int state, const char *text)
{
	struct ca_check *c = arg;
	struct cacache_entry e;

	if (state < 0) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "redis: cannot read the cached verdict");
		return;
	}
	if (state == 1 && cacache_parse(text, &e) == 0) {
		ca_answer(c, CALLAHEAD_CACHE, &e);
		return;
	}
	if (state == 1)
		msg_warn("callahead: %s: unreadable cached verdict: probing again", c->vkey);
	/* is the destination down? (the local copy, kept true by tracking, mostly) */
	c->state = CA_READ;
	lcache_string_read(c->pd, &c->read, c->downkey, c->buf, sizeof(c->buf), ca_down_read, c);
}

/* ca_timer - the poll period or the deadline */
static void
ca_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ca_check *c = arg;

	(void) fd;
	(void) what;
	switch (c->state) {
	case CA_WAIT:
		ca_poll(c);
		break;
	case CA_SLOT:
		if (c->queue && c->queue->head != c)
			ca_busy(c);	/* the end of its wait, still behind others */
		else
			ca_slot(c);
		break;
	case CA_PROBE:
		/* stopped, and cached as inconclusive like any other timeout */
		if (c->probe) {
			struct probe_result pr;

			probe_cancel(c->probe);
			c->probe = NULL;
			memset(&pr, 0, sizeof(pr));
			pr.outcome = PROBE_INCONCLUSIVE;
			pr.reached = 1;		/* not known: not a reason to call it down */
			pr.elapsed_ms = ca_elapsed(c);
			snprintf(pr.why, sizeof(pr.why), "no verdict within %llu ms",
				 (unsigned long long) c->total_ms);
			ca_probed(&pr, c);
		}
		break;
	default:
		break;
	}
}

void
callahead_check(struct policyd *pd, const struct conf *conf, const struct callahead_request *req,
		callahead_cb *cb, void *arg)
{
	struct ca_check *c;
	struct callahead_result r;
	char	local[ADDRESS_LOCAL_MAX + 1], vkey[KEYS_MAX], val[CACACHE_VALUE_MAX + 1];
	uint64_t total;
	int	found;

	/* the usual case, with nothing allocated: a verdict in the local copy */
	local[0] = 0;			/* "" when it does not fit */
	(void) cacache_local(local, sizeof(local), req->local);
	keys_ca_verdict(vkey, sizeof(vkey), req->domain, local);
	if (lcache_string_get(pd, vkey, val, sizeof(val), &found) && found
	    && cacache_parse(val, &r.e) == 0) {
		r.source = CALLAHEAD_CACHE;
		cb(&r, arg);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		memset(&r, 0, sizeof(r));
		r.source = CALLAHEAD_ERROR;
		r.e.verdict = CACACHE_TEMPFAIL;
		snprintf(r.e.text, sizeof(r.e.text), "out of memory");
		cb(&r, arg);
		return;
	}
	c->pd = pd;
	c->conf = conf;
	c->cb = cb;
	c->arg = arg;
	snprintf(c->domain, sizeof(c->domain), "%s", req->domain);
	memcpy(c->local, local, sizeof(c->local));
	snprintf(c->host, sizeof(c->host), "%s", req->host);
	c->port = req->port;
	snprintf(c->client_ip, sizeof(c->client_ip), "%s", req->client_ip);
	if (!req->sender->null)
		address_format(req->sender, c->sender, sizeof(c->sender));
	snprintf(c->where, sizeof(c->where), "%s:%u", c->host, c->port);
	memcpy(c->vkey, vkey, sizeof(c->vkey));
	keys_ca_lock(c->lkey, sizeof(c->lkey), c->domain, c->local);
	keys_ca_inflight(c->dkey, sizeof(c->dkey), c->host, c->port);
	keys_ca_down(c->downkey, sizeof(c->downkey), c->host, c->port);
	snprintf(c->lockval, sizeof(c->lockval), "%s %s", ca_node(conf), c->where);
	if (ca_pid == 0)
		ca_pid = (long) getpid();
	snprintf(c->slot_id, sizeof(c->slot_id), "%s:%ld:%lu", ca_node(conf), ca_pid, ++ca_seq);
	total = conf->callahead_connect_timeout_ms + 5 * conf->callahead_reply_timeout_ms;
	c->total_ms = total < CALLAHEAD_TOTAL_MAX_MS ? total : CALLAHEAD_TOTAL_MAX_MS;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	if ((c->timer = evtimer_new(pd->base, ca_timer, c)) == NULL) {
		ca_inconclusive(c, CALLAHEAD_ERROR, "out of memory");
		return;
	}
	c->state = CA_READ;
	lcache_string_read(pd, &c->read, c->vkey, c->buf, sizeof(c->buf), ca_cached, c);
}
