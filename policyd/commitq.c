/*
 * commitq.c - the END-OF-MESSAGE counts of many messages in one COMMIT.
 *
 * Every accepted message costs one COMMIT script in Redis, and Redis
 * spends more on running a script (finding it, setting up its
 * arguments, converting its reply) and on the command's round trip than
 * on the few writes a message needs. So the messages that arrive
 * together share one call, as a database groups the commits of
 * concurrent transactions into one log write:
 *   - commitq_add puts the message in the waiting list and asks for a
 *     flush at the end of this turn of the event loop (after the other
 *     requests read in the same turn have been parsed);
 *   - the flush sends the waiting messages, at most QUOTA_BATCH_MAX in one
 *     EVALSHA, while fewer than COMMITQ_INFLIGHT batches are in flight;
 *     the others wait for a batch's reply, which flushes again.
 * A lone message is sent at once (the same turn), so nothing waits when
 * the load is light; under load a batch holds what came in during one
 * turn, or, with COMMITQ_INFLIGHT batches out, what came in while they
 * were in Redis. Eight, not two: the calls in flight are pipelined on one
 * connection, and Redis reads and runs them back to back, so a request
 * that comes while the others are in Redis need not wait a whole round
 * trip before it is sent (bench/quota at 8 connections, both in the same
 * script: 50.0k-52.0k decisions/s with two, 61.8k-64.9k with eight,
 * Redis's CPU per decision no higher; bench/README.md). Each message is still counted as if alone, in
 * order (quota.c), and gets its own outcome: counted, refused, already
 * counted, or its own error.
 *
 * What a batch's failure means for its messages: never sent (Redis
 * unavailable) -> COMMITQ_UNSENT, nothing counted; sent and no reply
 * (redis.timeout, connection lost, aredis_free at a reload) ->
 * COMMITQ_LOST, each may have counted (outbound.c sends it again, same
 * queue ID); NOSCRIPT -> the batch is sent again as EVAL, once; any other
 * error reply -> COMMITQ_FAILED for all (the script stops only before its
 * first write, quota.c).
 *
 * Replicas (redis.wait_replicas N > 0): a primary answers a COMMIT
 * before its replicas have it, and a failover to a replica that had not
 * got it yet loses the count of a message that was accepted (with a
 * Sentinel that failed over twice in a row, those of whole seconds). So
 * once the COMMIT's reply is in, the batch sends WAIT N (half of
 * redis.timeout) on the same connection, and the outcomes the COMMIT gave
 * are handed over only when N replicas have it. Fewer -> COMMITQ_LOST
 * for all, as a reply that never came: outbound.c sends the same COMMIT
 * again (QUOTA_ALREADY where the count survived, counted anew where a
 * failover lost it), and when that is not on N replicas either the
 * message gets a 451 and its count is taken back. A script error is not
 * waited for (it wrote nothing).
 *
 * Cluster: a script may only name keys of one hash slot on Redis
 * Cluster; every key of one account is under its hash tag. On a single
 * Redis (standalone or Sentinel's primary) a batch takes whatever waits;
 * on a cluster (aredis_cluster) it takes the oldest message and those
 * waiting whose account hashes to the same slot, in order; the others
 * wait for the next batch.
 *
 * Public functions: commitq_add, commitq_end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "account.h"
#include "aredis.h"
#include "cluster.h"
#include "commitq.h"
#include "log.h"
#include "policyd.h"
#include "quota.h"

#define COMMITQ_INFLIGHT	8	/* batches sent and not answered, at most */
#define COMMITQ_ERR_MAX		256	/* bytes of an error phrase */
#define COMMITQ_TAG_MAX		(ACCOUNT_NAME_MAX + 9)	/* "{acct:USER}" */

struct commitq;

/* what COMMIT said of one message (kept while WAIT is out) */
struct commitq_held {
	int	failed;			/* the reply could not be read: err */
	struct quota_result res;
	char	err[COMMITQ_ERR_MAX];
};

struct commitq_batch {
	struct commitq *q;
	struct commitq_item *head, *tail;	/* in the order of q->b.msg */
	int	evaled;			/* NOSCRIPT answered: sent again as EVAL */
	unsigned wait;			/* replicas that must have it (redis.wait_replicas) */
	uint64_t wait_ms;		/* WAIT's own timeout */
	struct commitq_held hold[QUOTA_BATCH_MAX];	/* COMMIT's outcomes, once answered */
	struct quota_batch b;		/* argv points into it */
};

struct commitq {
	struct policyd *pd;
	struct event *flush;		/* made active: runs at the end of this loop turn */
	struct commitq_item *head, *tail;	/* waiting, oldest first */
	int	inflight;		/* batches sent and not answered */
	struct commitq_batch *spare[COMMITQ_INFLIGHT];	/* free batches, kept for reuse */
	int	nspare;
};

static void commitq_flush(evutil_socket_t, short, void *);

/* commitq_get - the daemon's queue, made at its first use */
static struct commitq *
commitq_get(struct policyd *pd)
{
	struct commitq *q = pd->commitq;

	if (q)
		return q;
	if ((q = calloc(1, sizeof(*q))) == NULL
	    || (q->flush = event_new(pd->base, -1, 0, commitq_flush, q)) == NULL)
		msg_panic("commitq: out of memory");
	q->pd = pd;
	pd->commitq = q;
	return q;
}

/* commitq_schedule - flush at the end of this loop turn (once, however often asked) */
static void
commitq_schedule(struct commitq *q)
{
	if (q->head && q->inflight < COMMITQ_INFLIGHT
	    && !event_pending(q->flush, EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL, NULL))
		event_active(q->flush, EV_TIMEOUT, 1);
}

/* commitq_add - wait for the next flush */
int
commitq_add(struct policyd *pd, struct commitq_item *it, char *err, size_t errlen)
{
	struct commitq *q;

	if (quota_commit_valid(it->user, it->limit, it->relays, it->queue_id, err, errlen) < 0)
		return -1;
	q = commitq_get(pd);
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	commitq_schedule(q);
	return 0;
}

/* commitq_batch_new - a spare batch, or a new one */
static struct commitq_batch *
commitq_batch_new(struct commitq *q)
{
	struct commitq_batch *cb;

	if (q->nspare > 0)
		cb = q->spare[--q->nspare];
	else if ((cb = malloc(sizeof(*cb))) == NULL)
		msg_panic("commitq: out of memory");
	cb->q = q;
	cb->head = cb->tail = NULL;
	cb->evaled = 0;
	cb->wait = q->pd->conf->redis_wait_replicas;
	cb->wait_ms = q->pd->conf->redis_timeout_ms / 2 ? q->pd->conf->redis_timeout_ms / 2 : 1;
	quota_batch_reset(&cb->b);
	return cb;
}

/* commitq_batch_free - back to the spares, or freed */
static void
commitq_batch_free(struct commitq *q, struct commitq_batch *cb)
{
	if (q->nspare < COMMITQ_INFLIGHT)
		q->spare[q->nspare++] = cb;
	else
		free(cb);
}

/*
 * commitq_finish - every message of a batch gets one outcome; the batch is
 * freed. COMMITQ_DONE: each its own, as commitq_hold read them.
 */
static void
commitq_finish(struct commitq_batch *cb, enum commitq_outcome how, const char *why)
{
	struct commitq *q = cb->q;
	struct commitq_item *it, *next;
	size_t	i = 0;

	for (it = cb->head; it; it = next, i++) {
		next = it->next;	/* the callback may free it */
		it->next = NULL;
		if (how != COMMITQ_DONE)
			it->done(it, how, NULL, why);
		else if (cb->hold[i].failed)
			it->done(it, COMMITQ_FAILED, NULL, cb->hold[i].err);
		else
			it->done(it, COMMITQ_DONE, &cb->hold[i].res, NULL);
	}
	commitq_batch_free(q, cb);
}

static void commitq_reply(redisReply *, void *);
static void commitq_waited(redisReply *, void *);

/* commitq_hold - read COMMIT's reply for every message of the batch (hiredis frees the reply) */
static void
commitq_hold(struct commitq_batch *cb, const redisReply *r)
{
	size_t	i;

	for (i = 0; i < cb->b.n; i++)
		cb->hold[i].failed = quota_batch_parse(&cb->b, r, i, &cb->hold[i].res, cb->hold[i].err,
						       sizeof(cb->hold[i].err)) < 0;
}

/* commitq_tag - "{acct:USER}", the hash tag of an account's keys; its length */
static size_t
commitq_tag(const char *user, char *tag, size_t len)
{
	int	n = snprintf(tag, len, "{acct:%s}", user);

	return n < 0 ? 0 : (size_t) n < len ? (size_t) n : len - 1;
}

/* commitq_wait - WAIT for the batch's replicas, on the connection of its account's primary */
static int
commitq_wait(struct commitq_batch *cb)
{
	char	tag[COMMITQ_TAG_MAX];
	size_t	n = commitq_tag(cb->head->user, tag, sizeof(tag));

	return aredis_wait(cb->q->pd->redis, tag, n, cb->wait, cb->wait_ms, commitq_waited, cb);
}

/* commitq_send - send a built batch; when it cannot be, its messages are UNSENT */
static void
commitq_send(struct commitq_batch *cb)
{
	struct commitq *q = cb->q;

	quota_batch_argv(&cb->b, cb->evaled);
	if (aredis_commandargv(q->pd->redis, commitq_reply, cb, cb->b.argc, cb->b.argv,
			       cb->b.argvlen) == 0) {
		q->inflight++;
		return;
	}
	commitq_finish(cb, COMMITQ_UNSENT, "Redis unavailable");
}

/*
 * commitq_reply - a batch's answer. This may run inside aredis_free
 * (every command failed at a reload): the next flush is only scheduled,
 * never sent from here.
 */
static void
commitq_reply(redisReply *r, void *arg)
{
	struct commitq_batch *cb = arg;
	struct commitq *q = cb->q;

	q->inflight--;
	if (r == NULL) {
		commitq_finish(cb, COMMITQ_LOST, "no reply from Redis");
	} else if (quota_is_noscript(r) && !cb->evaled) {
		/* Redis restarted or SCRIPT FLUSH: the text, which caches it again */
		if (msg_verbose)
			msg_info("commitq: NOSCRIPT: %zu messages sent again as EVAL", cb->b.n);
		cb->evaled = 1;
		commitq_send(cb);
	} else {
		commitq_hold(cb, r);
		if (cb->wait == 0 || r->type == REDIS_REPLY_ERROR)	/* a script error wrote nothing */
			commitq_finish(cb, COMMITQ_DONE, NULL);
		else if (commitq_wait(cb) == 0)
			q->inflight++;
		else
			commitq_finish(cb, COMMITQ_LOST, "Redis unavailable for WAIT");
	}
	commitq_schedule(q);
}

/* commitq_waited - WAIT's answer: the held outcomes, or all lost */
static void
commitq_waited(redisReply *r, void *arg)
{
	struct commitq_batch *cb = arg;
	struct commitq *q = cb->q;
	char	why[COMMITQ_ERR_MAX];

	q->inflight--;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= (long long) cb->wait) {
		commitq_finish(cb, COMMITQ_DONE, NULL);
	} else {
		if (r == NULL)
			snprintf(why, sizeof(why), "no reply from Redis to WAIT");
		else if (r->type == REDIS_REPLY_INTEGER)
			snprintf(why, sizeof(why), "on %lld of the %u replicas redis.wait_replicas asks for after %llu ms",
				 r->integer, cb->wait, (unsigned long long) cb->wait_ms);
		else if (r->type == REDIS_REPLY_ERROR)
			snprintf(why, sizeof(why), "WAIT answered %.*s", (int) (r->len < 120 ? r->len : 120), r->str);
		else
			snprintf(why, sizeof(why), "WAIT answered something other than a number");
		msg_warn("commitq: COMMIT of %zu messages not known to be on a replica: %s", cb->b.n, why);
		commitq_finish(cb, COMMITQ_LOST, why);
	}
	commitq_schedule(q);
}

/* commitq_slot - the cluster slot of the account's keys */
static unsigned
commitq_slot(const char *user)
{
	char	tag[COMMITQ_TAG_MAX];

	return cluster_keyslot(tag, commitq_tag(user, tag, sizeof(tag)));
}

/* commitq_flush - send what waits, in batches, while few enough are in flight */
static void
commitq_flush(evutil_socket_t fd, short what, void *arg)
{
	struct commitq *q = arg;
	struct commitq_batch *cb;
	struct commitq_item *it, **pp, *prev;
	char	err[COMMITQ_ERR_MAX];
	int	cluster = aredis_cluster(q->pd->redis);
	unsigned slot = 0;

	(void) fd;
	(void) what;
	while (q->head && q->inflight < COMMITQ_INFLIGHT) {
		cb = commitq_batch_new(q);
		pp = &q->head;
		prev = NULL;
		if (cluster)
			slot = commitq_slot(q->head->user);
		while (cb->b.n < QUOTA_BATCH_MAX && (it = *pp) != NULL) {
			if (cluster && commitq_slot(it->user) != slot) {
				prev = it;	/* another primary's: the next batch */
				pp = &it->next;
				continue;
			}
			*pp = it->next;
			if (q->tail == it)
				q->tail = prev;
			it->next = NULL;
			if (quota_batch_add(&cb->b, it->user, it->limit, it->relays, it->queue_id,
					    err, sizeof(err)) < 0) {
				/* checked by commitq_add: cannot happen */
				it->done(it, COMMITQ_FAILED, NULL, err);
				continue;
			}
			if (cb->tail)
				cb->tail->next = it;
			else
				cb->head = it;
			cb->tail = it;
		}
		if (cb->head == NULL) {
			commitq_batch_free(q, cb);
			continue;
		}
		if (msg_verbose)
			msg_info("commitq: COMMIT of %zu messages", cb->b.n);
		commitq_send(cb);
	}
}

/* commitq_end - free the queue (at exit nothing waits or is in flight) */
void
commitq_end(struct policyd *pd)
{
	struct commitq *q = pd->commitq;

	if (q == NULL)
		return;
	if (q->head || q->inflight)
		msg_warn("commitq: %s at exit", q->head ? "messages waiting" : "batches in flight");
	while (q->nspare > 0)
		free(q->spare[--q->nspare]);
	event_free(q->flush);
	free(q);
	pd->commitq = NULL;
}
