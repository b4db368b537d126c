/*
 * aredis.c - asynchronous Redis for mhpolicyd's event loop.
 *
 * One hiredis async context attached to the libevent loop, to the Redis
 * that mhkit.conf names (TCP, unix socket, or the primary a Sentinel
 * names), logged in with AUTH [user] password and SELECT db.
 *
 * States: DOWN -> CONNECTING -> UP -> DOWN ... Commands are accepted only
 * while UP; otherwise aredis_command returns -1 at once and the caller
 * answers with policyd.on_backend_error - a dead Redis never makes a
 * request wait. A lost connection is retried by itself after a backoff
 * of 100 ms doubling to 1 s (reset once up again), so service resumes
 * within a second of Redis coming back.
 *
 * Every wait has a timer. hiredis 0.14 has neither a connect timeout nor
 * a command timeout, so both are ours: a connect that takes longer than
 * redis.timeout is abandoned, and a command whose reply takes longer
 * than redis.timeout gets its callback with NULL at once; the connection
 * is then dropped (a server that stops answering is not trusted again
 * until it reconnects), which hands every other pending command a NULL
 * too. The late reply of a timed-out command, if any, is discarded.
 * Replies that mean "wrong or unready server" (READONLY, LOADING,
 * MASTERDOWN) also drop the connection, so that under Sentinel the next
 * connect finds the new primary.
 *
 * Sentinel (redis.sentinel.master): before each connect the primary's
 * address is asked, asynchronously, of one sentinel at a time (AUTH with
 * redis.sentinel.password, SENTINEL get-master-addr-by-name), each given
 * redis.timeout, starting with the one that answered last; the server it
 * names is accepted only when ROLE says "master" (a replica, or a
 * sentinel's stale answer, drops the connection and the next attempt
 * starts at the next sentinel). When no sentinel names a primary the
 * usual backoff applies. Requests never wait for any of this: while it
 * runs, Redis is simply unavailable. While up, the connection to the
 * sentinel that answered stays open and is asked again every heartbeat:
 * when it names another primary (a failover; the old primary may serve
 * reads for seconds until the sentinels demote it) the connection is
 * dropped at once and discovery finds the new one.
 *
 * Client-side caching (aredis_track): once the connection is up, a
 * second connection logs in, learns its CLIENT ID and subscribes to
 * __redis__:invalidate; then the main connection sends CLIENT TRACKING
 * on REDIRECT <id>, and from its OK on every key read here is tracked by
 * Redis, which publishes the key's name to us when anyone changes it,
 * deletes it or it expires. Losing either connection, or Redis refusing
 * tracking (before 6.0, or an ACL without CLIENT), turns tracking off
 * (the owner forgets its cache); a lost invalidation connection is
 * reopened after a second. A PING every second on the main connection
 * notices a Redis that stopped answering within redis.timeout + 1 s even
 * when every lookup is answered from the cache.
 *
 * The loop glue is ours, not hiredis's libevent adapter, which adds and
 * deletes the socket's events around every command and every reply
 * (four epoll_ctl calls a round trip). Here the read event is added once
 * (persistent), and a command queued while the connection is up is
 * written at the end of the current loop turn (a user event made
 * active: no system call), together with whatever else the turn queued.
 * The write event is used only while connecting and when the socket's
 * buffer is full.
 *
 * Logging: one warning per state change ("connection lost", "connected"),
 * never per command.
 *
 * Redis Cluster (redis.cluster.servers): aredis_new returns a front
 * over one such connection per node; see "Redis Cluster" below.
 *
 * Public functions: aredis_new, aredis_free, aredis_command,
 * aredis_commandargv, aredis_up, aredis_address, aredis_reconnects,
 * aredis_errors, aredis_cluster.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "aredis.h"
#include "clock.h"
#include "cluster.h"
#include "pmetrics.h"
#include "conf.h"
#include "log.h"

#define AREDIS_BACKOFF_MIN_MS	100
#define AREDIS_BACKOFF_MAX_MS	1000	/* back within a second of Redis coming back */
#define AREDIS_ADDR_MAX		(ENDPOINT_HOST_MAX + 32)
#define AREDIS_HEARTBEAT_MS	1000	/* PING while up */
#define AREDIS_TRACK_RETRY_MS	1000	/* reopen a lost invalidation connection */
#define AREDIS_INVALIDATE_CHANNEL "__redis__:invalidate"

enum aredis_state {
	AREDIS_DOWN,			/* no connection; a reconnect timer is pending */
	AREDIS_DISCOVERING,		/* asking a sentinel where the primary is */
	AREDIS_CONNECTING,		/* connect (and AUTH/SELECT) in progress */
	AREDIS_UP			/* commands accepted */
};

static const char *const aredis_state_names[] = {"down", "discovering", "connecting", "up"};

enum aredis_track_state {
	AREDIS_TRACK_OFF,		/* not tracking; maybe a retry timer */
	AREDIS_TRACK_STARTING,		/* invalidation connection opening; CLIENT TRACKING sent */
	AREDIS_TRACK_ON			/* reads are tracked */
};

struct aredis {
	struct event_base *base;
	redisAsyncContext *ac;
	enum aredis_state state;
	struct event *timer;		/* reconnect backoff, or connect timeout */
	struct timeval timeout;		/* redis.timeout */
	uint64_t backoff_ms;
	unsigned long reconnects;
	unsigned long errors;
	int	ever_up;
	int	freeing;

	/* settings, copied */
	char   *host;
	unsigned port;
	char   *unix_path;
	unsigned db;
	char   *user;
	char   *password;
	/* Sentinel: master "" = none */
	char   *master;
	struct hostport sentinels[CONF_LIST_MAX];
	size_t	nsentinels;
	char   *sentinel_password;
	size_t	sentinel_first;		/* asked first: the last one that answered */
	size_t	sentinel_tried;		/* in this round */
	redisAsyncContext *sc;		/* the sentinel being asked; then watched while up */
	uint64_t sc_asked_ms;		/* watching: when the outstanding question went out (0: none) */
	char	sentinel_err[300];	/* why the last one failed */
	char	addr[AREDIS_ADDR_MAX];

	struct event *heartbeat;	/* PING every AREDIS_HEARTBEAT_MS while up */

	/* client-side caching (aredis_track) */
	aredis_inval_cb *inval;		/* NULL: not wanted */
	aredis_track_cb *track_on;
	void   *track_arg;
	redisAsyncContext *tc;		/* the invalidation connection */
	enum aredis_track_state tstate;
	long long tc_id;		/* its CLIENT ID */
	int	track_refused;		/* Redis said no: not asked again until the next connect */
	struct event *ttimer;		/* start timeout, or retry after a loss */

	/* Redis Cluster */
	struct acluster *cl;		/* non-NULL: this is the front (see below) */
	int	is_node;		/* one of a front's node connections */
};

/* one command in flight */
struct aredis_req {
	struct aredis *ar;
	aredis_cb *cb;
	void   *arg;
	struct event *timer;
	int	answered;		/* the callback has been called (timeout) */
};

static void aredis_schedule(struct aredis *);
static void aredis_drop(struct aredis *, const char *why);
static void aredis_track_start(struct aredis *);
static void aredis_sentinel_ask(struct aredis *);
static void aredis_sentinel_fail(struct aredis *, const char *why);
static void aredis_sentinel_close(struct aredis *);
static void aredis_track_stop(struct aredis *, const char *why, int retry);
static int acl_command(struct aredis *, aredis_cb *, void *arg, char *buf, int len);
static void acl_free(struct aredis *);

/* aredis_enter_state - log the transition, then set it */
static void
aredis_enter_state(struct aredis *ar, enum aredis_state state, const char *why)
{
	if (msg_verbose)
		msg_info("redis %s: %s -> %s%s%s", ar->addr, aredis_state_names[ar->state],
			 aredis_state_names[state], why ? ": " : "", why ? why : "");
	ar->state = state;
	if (!ar->is_node)		/* on a cluster, the front says whether the map is known */
		metrics_set(&pm_redis_up, 0, state == AREDIS_UP);
}

static char *
aredis_strdup(const char *s)
{
	char   *p = strdup(s ? s : "");

	if (p == NULL)
		msg_panic("aredis: out of memory");
	return p;
}

/* aredis_unready - a reply that means the server cannot serve us */
static int
aredis_unready(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR
	    && (strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "LOADING", 7) == 0
		|| strncmp(r->str, "MASTERDOWN", 10) == 0);
}

/* aredis_req_reply - hiredis hands us the reply (or NULL on disconnect) */
static void
aredis_req_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct aredis_req *req = privdata;
	redisReply *reply = r;

	(void) ac;
	if (req->timer)
		event_free(req->timer);
	if (!req->answered) {
		if (reply == NULL) {
			req->ar->errors++;
			metrics_inc(&pm_redis_errors, 0);
		}
		req->cb(reply, req->arg);
	}
	if (aredis_unready(reply) && req->ar->state == AREDIS_UP)
		aredis_drop(req->ar, reply->str);
	free(req);
}

/* aredis_req_timeout - answer NULL now, drop the connection */
static void
aredis_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct aredis_req *req = arg;
	struct aredis *ar = req->ar;

	(void) fd;
	(void) what;
	event_free(req->timer);
	req->timer = NULL;
	req->answered = 1;
	ar->errors++;
	metrics_inc(&pm_redis_errors, 0);
	req->cb(NULL, req->arg);
	/* the req itself is freed when hiredis gives it back, at the latest at the drop */
	if (ar->state == AREDIS_UP)
		aredis_drop(ar, "command timed out");
}

/* aredis_req_new - a request for one command, its timer not yet started */
static struct aredis_req *
aredis_req_new(struct aredis *ar, aredis_cb *cb, void *arg)
{
	struct aredis_req *req;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		msg_panic("aredis: out of memory");
	req->ar = ar;
	req->cb = cb;
	req->arg = arg;
	if ((req->timer = evtimer_new(ar->base, aredis_req_timeout, req)) == NULL)
		msg_panic("aredis: evtimer_new failed");
	return req;
}

/* aredis_req_queued - hiredis took the command (start its timer) or did not (drop it) */
static int
aredis_req_queued(struct aredis *ar, struct aredis_req *req, int status)
{
	if (status != REDIS_OK) {
		event_free(req->timer);
		free(req);
		return -1;
	}
	evtimer_add(req->timer, &ar->timeout);
	return 0;
}

/* aredis_commandargv - one command */
int
aredis_commandargv(struct aredis *ar, aredis_cb *cb, void *arg, int argc, const char **argv,
		   const size_t *lens)
{
	struct aredis_req *req;

	if (ar->cl) {
		char   *buf;

		return acl_command(ar, cb, arg, buf, redisFormatCommandArgv(&buf, argc, argv, lens));
	}
	if (ar->state != AREDIS_UP || ar->ac == NULL) {
		metrics_inc(&pm_redis_unavailable, 0);
		return -1;
	}
	req = aredis_req_new(ar, cb, arg);
	return aredis_req_queued(ar, req, redisAsyncCommandArgv(ar->ac, aredis_req_reply, req,
								argc, argv, lens));
}

/* aredis_command - printf-style, as redisAsyncCommand; formatted here so the timer covers it */
int
aredis_command(struct aredis *ar, aredis_cb *cb, void *arg, const char *fmt, ...)
{
	struct aredis_req *req;
	va_list	ap;
	int	status;

	if (ar->cl) {
		char   *buf;

		va_start(ap, fmt);
		status = redisvFormatCommand(&buf, fmt, ap);
		va_end(ap);
		return acl_command(ar, cb, arg, buf, status);
	}
	if (ar->state != AREDIS_UP || ar->ac == NULL) {
		metrics_inc(&pm_redis_unavailable, 0);
		return -1;
	}
	req = aredis_req_new(ar, cb, arg);
	va_start(ap, fmt);
	status = redisvAsyncCommand(ar->ac, aredis_req_reply, req, fmt, ap);
	va_end(ap);
	return aredis_req_queued(ar, req, status);
}

/* aredis_login_reply - AUTH or SELECT answered; the last one makes us UP */
static void
aredis_login_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct aredis *ar = ac->data;
	redisReply *reply = r;
	const char *what = privdata;

	if (ar == NULL || ar->state != AREDIS_CONNECTING)
		return;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		char	why[300];

		snprintf(why, sizeof(why), "%s failed: %.200s", what, reply ? reply->str : "no reply");
		aredis_drop(ar, why);
		return;
	}
	if (strcmp(what, "ROLE") == 0) {
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
		    || reply->element[0]->type != REDIS_REPLY_STRING
		    || strcmp(reply->element[0]->str, "master") != 0) {
			/* a stale sentinel: the next attempt asks the next one first */
			ar->sentinel_first = (ar->sentinel_first + 1) % (ar->nsentinels ? ar->nsentinels : 1);
			aredis_drop(ar, "the server the sentinel named is not a primary (ROLE)");
		}
		return;
	}
	if (strcmp(what, "PING") != 0)
		return;
	evtimer_del(ar->timer);
	aredis_enter_state(ar, AREDIS_UP, NULL);
	ar->backoff_ms = 0;
	if (ar->ever_up) {
		ar->reconnects++;
		metrics_inc(&pm_redis_reconnects, 0);
		msg_warn("redis %s: connected again", ar->addr);
	} else if (msg_verbose) {
		msg_info("redis %s: connected", ar->addr);
	}
	ar->ever_up = 1;
	ar->track_refused = 0;
	aredis_track_start(ar);
}

/* aredis_on_connect - TCP (or unix) connect finished */
static void
aredis_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *) cac;
	struct aredis *ar = ac->data;
	char	db[16];

	if (ar == NULL)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback */
		char	why[300];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		ar->ac = NULL;
		aredis_drop(ar, why);
		return;
	}
	/* login pipelined; PING last, so its reply means all went through */
	if (*ar->password) {
		if (*ar->user)
			redisAsyncCommand(ac, aredis_login_reply, "AUTH", "AUTH %s %s", ar->user, ar->password);
		else
			redisAsyncCommand(ac, aredis_login_reply, "AUTH", "AUTH %s", ar->password);
	}
	if (ar->db) {
		snprintf(db, sizeof(db), "%u", ar->db);
		redisAsyncCommand(ac, aredis_login_reply, "SELECT", "SELECT %s", db);
	}
	if (*ar->master)
		redisAsyncCommand(ac, aredis_login_reply, "ROLE", "ROLE");
	redisAsyncCommand(ac, aredis_login_reply, "PING", "PING");
}

/* aredis_on_disconnect - the connection is gone (hiredis frees the context) */
static void
aredis_on_disconnect(const redisAsyncContext *cac, int status)
{
	struct aredis *ar = cac->data;

	(void) status;
	if (ar == NULL)
		return;
	ar->ac = NULL;
	if (ar->freeing)
		return;
	aredis_track_stop(ar, NULL, 0);
	if (ar->state == AREDIS_UP)
		msg_warn("redis %s: connection lost: %s", ar->addr,
			 cac->errstr[0] ? cac->errstr : "closed by the server");
	aredis_enter_state(ar, AREDIS_DOWN, NULL);
	aredis_schedule(ar);
}

/* aredis_drop - close the connection (pending commands get NULL) and retry later */
static void
aredis_drop(struct aredis *ar, const char *why)
{
	redisAsyncContext *ac = ar->ac;

	aredis_track_stop(ar, NULL, 0);
	aredis_sentinel_close(ar);
	if (ar->state == AREDIS_UP)
		msg_warn("redis %s: connection lost: %s", ar->addr, why);
	else if (ar->state == AREDIS_CONNECTING && (msg_verbose || !ar->ever_up))
		msg_warn("redis %s: cannot connect: %s", ar->addr, why);
	aredis_enter_state(ar, AREDIS_DOWN, why);
	ar->ac = NULL;
	if (ac) {
		ac->data = NULL;	/* its callbacks must not touch ar any more */
		redisAsyncFree(ac);	/* calls every pending req callback with NULL */
	}
	aredis_schedule(ar);
}

/* aredis_connect_timeout - the connect (or login) took too long */
static void aredis_connect(struct aredis *);

static void
aredis_timer(evutil_socket_t fd, short what, void *arg)
{
	struct aredis *ar = arg;

	(void) fd;
	(void) what;
	if (ar->state == AREDIS_DISCOVERING)
		aredis_sentinel_fail(ar, "no answer within redis.timeout");
	else if (ar->state == AREDIS_CONNECTING)
		aredis_drop(ar, "connect timed out");
	else if (ar->state == AREDIS_DOWN)
		aredis_connect(ar);
}

/* aredis_schedule - the next connect after the backoff */
static void
aredis_schedule(struct aredis *ar)
{
	struct timeval tv;

	ar->backoff_ms = ar->backoff_ms ? ar->backoff_ms * 2 : AREDIS_BACKOFF_MIN_MS;
	if (ar->backoff_ms > AREDIS_BACKOFF_MAX_MS)
		ar->backoff_ms = AREDIS_BACKOFF_MAX_MS;
	tv.tv_sec = (time_t) (ar->backoff_ms / 1000);
	tv.tv_usec = (suseconds_t) (ar->backoff_ms % 1000) * 1000;
	evtimer_add(ar->timer, &tv);
}

/* --- the loop glue: hiredis's ev hooks on libevent --------------------------- */

struct aredis_ev {
	redisAsyncContext *ac;
	struct event *rev;		/* persistent, added while hiredis wants to read */
	struct event *wev;		/* persistent: connecting, or the socket buffer is full */
	struct event *flush;		/* made active: write at the end of this loop turn */
	int	reading;
	int	in_write;		/* redisAsyncHandleWrite runs */
	int	dead;			/* cleaned up while in_write: freed when it returns */
};

/* aredis_ev_destroy - free the glue */
static void
aredis_ev_destroy(struct aredis_ev *e)
{
	event_free(e->rev);
	event_free(e->wev);
	event_free(e->flush);
	free(e);
}

/* aredis_ev_read - readable: hiredis reads and calls back */
static void
aredis_ev_read(evutil_socket_t fd, short what, void *arg)
{
	struct aredis_ev *e = arg;

	(void) fd;
	(void) what;
	redisAsyncHandleRead(e->ac);
}

/* aredis_ev_write - writable, or the end of the turn: hiredis writes what is queued */
static void
aredis_ev_write(evutil_socket_t fd, short what, void *arg)
{
	struct aredis_ev *e = arg;

	(void) fd;
	(void) what;
	e->in_write = 1;
	redisAsyncHandleWrite(e->ac);	/* may clean up (a write error) */
	e->in_write = 0;
	if (e->dead)
		aredis_ev_destroy(e);
}

static void
aredis_ev_add_read(void *arg)
{
	struct aredis_ev *e = arg;

	if (!e->reading)
		event_add(e->rev, NULL);
	e->reading = 1;
}

static void
aredis_ev_del_read(void *arg)
{
	struct aredis_ev *e = arg;

	if (e->reading)
		event_del(e->rev);
	e->reading = 0;
}

/*
 * aredis_ev_add_write - hiredis has bytes to write: at the end of the
 * turn; but wait for the socket while connecting (writability is how a
 * connect completes) or when a write just left bytes behind
 */
static void
aredis_ev_add_write(void *arg)
{
	struct aredis_ev *e = arg;

	if (!(e->ac->c.flags & REDIS_CONNECTED) || e->in_write)
		event_add(e->wev, NULL);
	else
		event_active(e->flush, EV_WRITE, 1);
}

static void
aredis_ev_del_write(void *arg)
{
	struct aredis_ev *e = arg;

	event_del(e->wev);
}

/* aredis_ev_cleanup - the context is being freed */
static void
aredis_ev_cleanup(void *arg)
{
	struct aredis_ev *e = arg;

	if (e == NULL)
		return;
	e->ac->ev.data = NULL;
	if (e->in_write) {
		event_del(e->rev);
		event_del(e->wev);
		event_del(e->flush);
		e->dead = 1;
		return;
	}
	aredis_ev_destroy(e);
}

/* aredis_ev_attach - hiredis's hooks on the loop; reading and (connecting) writing at once */
static void
aredis_ev_attach(redisAsyncContext *ac, struct event_base *base)
{
	struct aredis_ev *e;
	int	fd = ac->c.fd;

	if ((e = calloc(1, sizeof(*e))) == NULL
	    || (e->rev = event_new(base, fd, EV_READ | EV_PERSIST, aredis_ev_read, e)) == NULL
	    || (e->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, aredis_ev_write, e)) == NULL
	    || (e->flush = event_new(base, -1, 0, aredis_ev_write, e)) == NULL)
		msg_panic("aredis: out of memory");
	e->ac = ac;
	ac->ev.data = e;
	ac->ev.addRead = aredis_ev_add_read;
	ac->ev.delRead = aredis_ev_del_read;
	ac->ev.addWrite = aredis_ev_add_write;
	ac->ev.delWrite = aredis_ev_del_write;
	ac->ev.cleanup = aredis_ev_cleanup;
	aredis_ev_add_read(e);
	event_add(e->wev, NULL);
}

/*
 * aredis_open - start connecting (unix_path when not "", else host:port),
 * attached to the loop with ar as its data; NULL, with why, when hiredis
 * failed at once.
 */
static redisAsyncContext *
aredis_open(struct aredis *ar, const char *unix_path, const char *host, unsigned port,
	    redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect,
	    char *why, size_t whylen)
{
	redisAsyncContext *ac;

	ac = *unix_path ? redisAsyncConnectUnix(unix_path) : redisAsyncConnect(host, (int) port);
	if (ac == NULL)
		msg_panic("aredis: out of memory");
	if (ac->err) {
		snprintf(why, whylen, "%s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = ar;
	aredis_ev_attach(ac, ar->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

/* --- Sentinel ------------------------------------------------------------------ */

/* aredis_sentinel_close - forget the sentinel connection */
static void
aredis_sentinel_close(struct aredis *ar)
{
	redisAsyncContext *sc = ar->sc;

	ar->sc = NULL;
	if (sc) {
		sc->data = NULL;
		redisAsyncFree(sc);
	}
}

/* aredis_sentinel_fail - this sentinel could not tell: ask the next one */
static void
aredis_sentinel_fail(struct aredis *ar, const char *why)
{
	const struct hostport *h = &ar->sentinels[(ar->sentinel_first + ar->sentinel_tried) % ar->nsentinels];

	aredis_sentinel_close(ar);
	evtimer_del(ar->timer);
	snprintf(ar->sentinel_err, sizeof(ar->sentinel_err), "%s%s%s:%u: %s",
		 strchr(h->host, ':') ? "[" : "", h->host, strchr(h->host, ':') ? "]" : "",
		 h->port ? h->port : 26379, why);
	ar->sentinel_tried++;
	aredis_sentinel_ask(ar);
}

/* aredis_sentinel_reply - AUTH, or the primary's address */
static void
aredis_sentinel_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct aredis *ar = ac->data;
	redisReply *r = reply;
	const char *what = privdata;
	char	why[300], old[AREDIS_ADDR_MAX];
	long	port;
	char   *end;

	if (ar == NULL || ar->state != AREDIS_DISCOVERING)
		return;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s failed: %.200s", what, r ? r->str : "no reply");
		aredis_sentinel_fail(ar, why);
		return;
	}
	if (strcmp(what, "AUTH") == 0)
		return;
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(why, sizeof(why), "does not know master %.100s", ar->master);
		aredis_sentinel_fail(ar, why);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING
	    || r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len == 0
	    || r->element[0]->len > ENDPOINT_HOST_MAX || memchr(r->element[0]->str, 0, r->element[0]->len)
	    || (port = strtol(r->element[1]->str, &end, 10)) < 1 || port > 65535 || *end) {
		aredis_sentinel_fail(ar, "unexpected answer to SENTINEL get-master-addr-by-name");
		return;
	}
	snprintf(old, sizeof(old), "%s:%u", ar->host, ar->port);
	free(ar->host);
	ar->host = aredis_strdup(r->element[0]->str);
	ar->port = (unsigned) port;
	ar->sentinel_first = (ar->sentinel_first + ar->sentinel_tried) % ar->nsentinels;
	ar->sc_asked_ms = 0;			/* the connection stays: it watches (aredis_sentinel_watch) */
	evtimer_del(ar->timer);
	snprintf(ar->addr, sizeof(ar->addr), "sentinel %s -> %s%s%s:%u", ar->master,
		 strchr(ar->host, ':') ? "[" : "", ar->host, strchr(ar->host, ':') ? "]" : "", ar->port);
	snprintf(why, sizeof(why), "%s:%u", ar->host, ar->port);
	if (*old != ':' && strcmp(old, why) != 0)
		msg_warn("redis sentinel %s: primary changed %s -> %s", ar->master, old, why);
	aredis_connect(ar);			/* state DISCOVERING: straight to the primary */
}

/* aredis_sentinel_connected - the sentinel's connection is open (or failed) */
static void
aredis_sentinel_connected(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *) cac;
	struct aredis *ar = ac->data;

	if (ar == NULL)
		return;
	if (status != REDIS_OK) {
		char	why[300];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		ar->sc = NULL;			/* hiredis frees it after this callback */
		aredis_sentinel_fail(ar, why);
		return;
	}
	if (*ar->sentinel_password)
		redisAsyncCommand(ac, aredis_sentinel_reply, "AUTH", "AUTH %s", ar->sentinel_password);
	redisAsyncCommand(ac, aredis_sentinel_reply, "SENTINEL", "SENTINEL get-master-addr-by-name %s", ar->master);
}

/* aredis_sentinel_disconnected - closed under us before it answered */
static void
aredis_sentinel_disconnected(const redisAsyncContext *cac, int status)
{
	struct aredis *ar = cac->data;

	(void) status;
	if (ar == NULL)
		return;
	ar->sc = NULL;
	if (ar->state != AREDIS_DISCOVERING) {	/* the watch: opened again at the next heartbeat */
		ar->sentinel_first = (ar->sentinel_first + 1) % ar->nsentinels;
		return;
	}
	aredis_sentinel_fail(ar, cac->errstr[0] ? cac->errstr : "closed the connection");
}

/*
 * aredis_sentinel_check - the watch's answer: a sentinel naming another
 * primary than ours means a failover happened; the old primary may still
 * answer reads for a while (until the sentinels demote it), so do not
 * wait for it to go away: reconnect now, and discovery finds the new one.
 */
static void
aredis_sentinel_check(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct aredis *ar = ac->data;
	redisReply *r = reply;
	char	why[300];

	if (ar == NULL)
		return;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		aredis_sentinel_close(ar);	/* try the next sentinel at the next heartbeat */
		ar->sentinel_first = (ar->sentinel_first + 1) % ar->nsentinels;
		return;
	}
	if (strcmp((const char *) privdata, "AUTH") == 0)
		return;
	ar->sc_asked_ms = 0;
	if (ar->state != AREDIS_UP || r->type != REDIS_REPLY_ARRAY || r->elements != 2
	    || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, ar->host) == 0 && strtoul(r->element[1]->str, NULL, 10) == ar->port)
		return;
	snprintf(why, sizeof(why), "sentinel names another primary, %.100s:%.10s", r->element[0]->str,
		 r->element[1]->str);
	aredis_drop(ar, why);
}

/* aredis_sentinel_ask_watch - send the question on the watch connection */
static void
aredis_sentinel_ask_watch(struct aredis *ar)
{
	ar->sc_asked_ms = clock_mono_ms();
	redisAsyncCommand(ar->sc, aredis_sentinel_check, "SENTINEL", "SENTINEL get-master-addr-by-name %s",
			  ar->master);
}

/* aredis_sentinel_watch_connected - a new watch connection is open (or failed) */
static void
aredis_sentinel_watch_connected(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *) cac;
	struct aredis *ar = ac->data;

	if (ar == NULL)
		return;
	if (status != REDIS_OK) {
		ar->sc = NULL;			/* hiredis frees it after this callback */
		ar->sentinel_first = (ar->sentinel_first + 1) % ar->nsentinels;
		return;
	}
	if (*ar->sentinel_password)
		redisAsyncCommand(ac, aredis_sentinel_check, "AUTH", "AUTH %s", ar->sentinel_password);
	aredis_sentinel_ask_watch(ar);
}

/*
 * aredis_sentinel_watch - while up under Sentinel, once a heartbeat: ask
 * the sentinel that answered last (on a connection kept open) where the
 * primary is. A sentinel silent for redis.timeout is dropped for the next.
 */
static void
aredis_sentinel_watch(struct aredis *ar)
{
	const struct hostport *h;
	redisAsyncContext *sc;
	char	why[300];

	if (!*ar->master || ar->state != AREDIS_UP || ar->nsentinels == 0)
		return;
	if (ar->sc != NULL) {
		if (ar->sc_asked_ms == 0) {
			aredis_sentinel_ask_watch(ar);
		} else if (clock_mono_ms() - ar->sc_asked_ms
			   > (uint64_t) ar->timeout.tv_sec * 1000 + (uint64_t) ar->timeout.tv_usec / 1000) {
			aredis_sentinel_close(ar);
			ar->sentinel_first = (ar->sentinel_first + 1) % ar->nsentinels;
		}
		return;
	}
	h = &ar->sentinels[ar->sentinel_first % ar->nsentinels];
	if ((sc = aredis_open(ar, "", h->host, h->port ? h->port : 26379, aredis_sentinel_watch_connected,
			      aredis_sentinel_disconnected, why, sizeof(why))) == NULL) {
		ar->sentinel_first = (ar->sentinel_first + 1) % ar->nsentinels;
		return;
	}
	ar->sc = sc;
	ar->sc_asked_ms = clock_mono_ms();		/* the connect counts against the timeout too */
}

/* aredis_sentinel_ask - the next sentinel of this round, or give up until the backoff ends */
static void
aredis_sentinel_ask(struct aredis *ar)
{
	const struct hostport *h;
	redisAsyncContext *sc;
	char	why[sizeof(ar->sentinel_err) + 64];

	if (ar->sentinel_tried >= ar->nsentinels) {
		snprintf(ar->addr, sizeof(ar->addr), "sentinel %s", ar->master);
		snprintf(why, sizeof(why), "no primary found: %s",
			 ar->nsentinels ? ar->sentinel_err : "no sentinels configured (redis.sentinel.servers)");
		aredis_enter_state(ar, AREDIS_CONNECTING, NULL);	/* so that the drop logs it */
		aredis_drop(ar, why);
		return;
	}
	h = &ar->sentinels[(ar->sentinel_first + ar->sentinel_tried) % ar->nsentinels];
	aredis_enter_state(ar, AREDIS_DISCOVERING, NULL);
	if ((sc = aredis_open(ar, "", h->host, h->port ? h->port : 26379, aredis_sentinel_connected,
			      aredis_sentinel_disconnected, why, sizeof(why))) == NULL) {
		aredis_sentinel_fail(ar, why);
		return;
	}
	ar->sc = sc;
	evtimer_add(ar->timer, &ar->timeout);
}

/* aredis_connect - start connecting to where Redis is now */
static void
aredis_connect(struct aredis *ar)
{
	redisAsyncContext *ac;
	char	why[300];

	if (*ar->master && ar->state != AREDIS_DISCOVERING) {
		ar->sentinel_tried = 0;
		aredis_sentinel_ask(ar);
		return;
	}
	aredis_enter_state(ar, AREDIS_CONNECTING, NULL);
	if ((ac = aredis_open(ar, ar->unix_path, ar->host, ar->port, aredis_on_connect, aredis_on_disconnect,
			      why, sizeof(why))) == NULL) {
		aredis_drop(ar, why);
		return;
	}
	ar->ac = ac;
	evtimer_add(ar->timer, &ar->timeout);
}

/* --- client-side caching -------------------------------------------------------- */

static void
aredis_ms_tv(struct timeval *tv, uint64_t ms)
{
	tv->tv_sec = (time_t) (ms / 1000);
	tv->tv_usec = (suseconds_t) (ms % 1000) * 1000;
}

/*
 * aredis_track_stop - tracking off: close the invalidation connection,
 * tell the owner (if it was on), and with retry try again in a second.
 * why: a warning to log, or NULL.
 */
static void
aredis_track_stop(struct aredis *ar, const char *why, int retry)
{
	redisAsyncContext *tc = ar->tc;
	int	was_on = ar->tstate == AREDIS_TRACK_ON;
	struct timeval tv;

	if (ar->inval == NULL)
		return;
	ar->tc = NULL;
	ar->tstate = AREDIS_TRACK_OFF;
	evtimer_del(ar->ttimer);
	if (tc) {
		tc->data = NULL;	/* its callbacks must not touch ar any more */
		redisAsyncFree(tc);
	}
	if (why)
		msg_warn("redis %s: client-side caching off: %s", ar->addr, why);
	if (was_on && !ar->freeing)
		ar->track_on(ar->track_arg, 0);
	if (retry && ar->state == AREDIS_UP && !ar->track_refused) {
		aredis_ms_tv(&tv, AREDIS_TRACK_RETRY_MS);
		evtimer_add(ar->ttimer, &tv);
	}
}

/* aredis_track_enabled - the main connection answered CLIENT TRACKING */
static void
aredis_track_enabled(redisReply *r, void *arg)
{
	struct aredis *ar = arg;
	char	why[300];

	if (ar->tstate != AREDIS_TRACK_STARTING)
		return;
	if (r == NULL) {			/* the main connection is going: it stops us */
		aredis_track_stop(ar, NULL, 0);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "CLIENT TRACKING refused: %.200s; every lookup goes to Redis", r->str);
		ar->track_refused = 1;
		aredis_track_stop(ar, why, 0);
		return;
	}
	evtimer_del(ar->ttimer);
	ar->tstate = AREDIS_TRACK_ON;
	if (msg_verbose)
		msg_info("redis %s: client-side caching on (invalidations to client %lld)", ar->addr, ar->tc_id);
	ar->track_on(ar->track_arg, 1);
}

/* aredis_track_message - the invalidation connection's subscription and its messages */
static void
aredis_track_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct aredis *ar = ac->data;
	redisReply *r = reply, *keys;

	(void) privdata;
	if (ar == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3
	    || r->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "subscribe") == 0) {
		if (ar->tstate != AREDIS_TRACK_STARTING)
			return;
		if (aredis_command(ar, aredis_track_enabled, ar, "CLIENT TRACKING on REDIRECT %lld", ar->tc_id) < 0)
			aredis_track_stop(ar, NULL, 0);
		return;
	}
	if (strcmp(r->element[0]->str, "message") != 0)
		return;
	keys = r->element[2];
	if (keys->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < keys->elements; i++)
			if (keys->element[i]->type == REDIS_REPLY_STRING)
				ar->inval(ar->track_arg, keys->element[i]->str, keys->element[i]->len);
	} else {
		ar->inval(ar->track_arg, NULL, 0);	/* FLUSHALL, FLUSHDB: everything */
	}
}

/* aredis_track_login - AUTH or CLIENT ID answered on the invalidation connection */
static void
aredis_track_login(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct aredis *ar = ac->data;
	redisReply *r = reply;
	const char *what = privdata;
	char	why[300];

	if (ar == NULL || ar->tstate != AREDIS_TRACK_STARTING)
		return;
	if (r == NULL) {
		snprintf(why, sizeof(why), "invalidation connection: %s: no reply", what);
		aredis_track_stop(ar, why, 1);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* an ACL without CLIENT, or a Redis without it: asking again will not help */
		snprintf(why, sizeof(why), "%s refused: %.200s; every lookup goes to Redis", what, r->str);
		ar->track_refused = 1;
		aredis_track_stop(ar, why, 0);
		return;
	}
	if (strcmp(what, "CLIENT ID") == 0) {
		if (r->type != REDIS_REPLY_INTEGER) {
			aredis_track_stop(ar, "invalidation connection: CLIENT ID: not an integer", 1);
			return;
		}
		ar->tc_id = r->integer;
	}
}

/* aredis_track_connected - the invalidation connection is open: log in, subscribe */
static void
aredis_track_connected(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *) cac;
	struct aredis *ar = ac->data;
	char	why[300];

	if (ar == NULL)
		return;
	if (status != REDIS_OK) {
		snprintf(why, sizeof(why), "invalidation connection: %s", ac->errstr);
		ar->tc = NULL;			/* hiredis frees it after this callback */
		aredis_track_stop(ar, why, 1);
		return;
	}
	if (*ar->password) {
		if (*ar->user)
			redisAsyncCommand(ac, aredis_track_login, "AUTH", "AUTH %s %s", ar->user, ar->password);
		else
			redisAsyncCommand(ac, aredis_track_login, "AUTH", "AUTH %s", ar->password);
	}
	redisAsyncCommand(ac, aredis_track_login, "CLIENT ID", "CLIENT ID");
	redisAsyncCommand(ac, aredis_track_message, NULL, "SUBSCRIBE " AREDIS_INVALIDATE_CHANNEL);
}

/* aredis_track_disconnected - the invalidation connection is gone */
static void
aredis_track_disconnected(const redisAsyncContext *cac, int status)
{
	struct aredis *ar = cac->data;
	char	why[300];

	(void) status;
	if (ar == NULL)
		return;
	snprintf(why, sizeof(why), "invalidation connection lost: %s",
		 cac->errstr[0] ? cac->errstr : "closed by the server");
	ar->tc = NULL;				/* hiredis frees it */
	aredis_track_stop(ar, why, 1);
}

/* aredis_track_start - open the invalidation connection (main connection up) */
static void
aredis_track_start(struct aredis *ar)
{
	redisAsyncContext *tc;
	char	why[300], err[256];

	if (ar->inval == NULL || ar->track_refused || ar->state != AREDIS_UP || ar->tstate != AREDIS_TRACK_OFF)
		return;
	evtimer_del(ar->ttimer);
	ar->tstate = AREDIS_TRACK_STARTING;
	if ((tc = aredis_open(ar, ar->unix_path, ar->host, ar->port, aredis_track_connected,
			      aredis_track_disconnected, err, sizeof(err))) == NULL) {
		snprintf(why, sizeof(why), "invalidation connection: %s", err);
		aredis_track_stop(ar, why, 1);
		return;
	}
	ar->tc = tc;
	evtimer_add(ar->ttimer, &ar->timeout);	/* until CLIENT TRACKING is on */
}

/* aredis_track_timer - starting took longer than redis.timeout, or a retry is due */
static void
aredis_track_timer(evutil_socket_t fd, short what, void *arg)
{
	struct aredis *ar = arg;

	(void) fd;
	(void) what;
	if (ar->tstate == AREDIS_TRACK_STARTING)
		aredis_track_stop(ar, "invalidation connection: no subscription within redis.timeout", 1);
	else if (ar->tstate == AREDIS_TRACK_OFF)
		aredis_track_start(ar);
}

/* aredis_track - ask for client-side caching (see aredis.h) */
void
aredis_track(struct aredis *ar, aredis_inval_cb *inval, aredis_track_cb *on, void *arg)
{
	ar->inval = inval;
	ar->track_on = on;
	ar->track_arg = arg;
	if (ar->cl)
		return;			/* no local copies on a cluster (yet): never on */
	if ((ar->ttimer = evtimer_new(ar->base, aredis_track_timer, ar)) == NULL)
		msg_panic("aredis: evtimer_new failed");
	aredis_track_start(ar);
}

int
aredis_tracking(const struct aredis *ar)
{
	return ar->tstate == AREDIS_TRACK_ON;
}

/* aredis_heartbeat - a PING: a Redis that stopped answering is noticed even when nothing is asked */
static void
aredis_ignore(redisReply *r, void *arg)
{
	(void) r;
	(void) arg;
}

static void
aredis_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct aredis *ar = arg;

	(void) fd;
	(void) what;
	(void) aredis_command(ar, aredis_ignore, NULL, "PING");
	aredis_sentinel_watch(ar);
}

/* --- Redis Cluster: a front over one connection per primary ------------------- */

/*
 * With redis.cluster.servers the aredis that mhpolicyd holds is a front:
 * it owns one ordinary aredis per cluster node (direct TCP, each with its
 * own reconnect backoff, heartbeat and timeouts) and a slot map read with
 * CLUSTER SLOTS from any node that is up: at start (every 100 ms until
 * one answers), after a MOVED, after a command to a primary failed, and
 * once a second while the map is thought stale. Each command is formatted
 * here, its key found (cluster_command_key) and it goes to the primary of
 * the key's slot; a keyless one to any primary. A command whose primary
 * is down fails at once (-1, as a single Redis that is down), and the
 * map is read again: after a failover it names the promoted replica.
 * MOVED and ASK replies are followed (ASK: ASKING, then the command, on
 * one connection, so in that order) up to AREDIS_CL_REDIRECTS times; the
 * caller sees the final reply. Client-side caching is off on a cluster
 * (the local copies are not kept: every lookup reads Redis).
 */

#define AREDIS_CL_NODES_MAX	(2 * CLUSTER_NODES_MAX)	/* node connections of one front */
#define AREDIS_CL_REDIRECTS	5	/* MOVED/ASK followed for one command */
#define AREDIS_CL_RETRY_MS	100	/* map not read yet: ask again this often */
#define AREDIS_CL_STALE_MS	1000	/* map thought stale: read again at most this often */

struct acl_node {
	struct hostport hp;
	struct aredis *ar;
};

struct acluster {
	struct aredis *front;
	struct cluster_map *map;	/* NULL until read */
	struct acl_node nodes[AREDIS_CL_NODES_MAX];
	size_t	nnodes;
	struct conf *nconf;		/* the settings each node's aredis is made with */
	struct event *timer;		/* map reads */
	int	asking;			/* a CLUSTER SLOTS in flight */
	size_t	asked;			/* the node it went to */
	uint64_t asked_ms;		/* when the last CLUSTER SLOTS went out */
};

/* one command through the front */
struct acl_req {
	struct acluster *cl;
	aredis_cb *cb;
	void   *arg;
	char   *buf;			/* as formatted: a redirect sends it again */
	size_t	len;
	int	hops;
	int	node;			/* where it went */
};

static struct aredis *aredis_new_one(struct event_base *, const struct conf *, int node);

/* aredis_formatted - one formatted command on a single connection; 0, or -1 (callback not called) */
static int
aredis_formatted(struct aredis *ar, aredis_cb *cb, void *arg, const char *buf, size_t len)
{
	struct aredis_req *req;

	if (ar->state != AREDIS_UP || ar->ac == NULL) {
		metrics_inc(&pm_redis_unavailable, 0);
		return -1;
	}
	req = aredis_req_new(ar, cb, arg);
	return aredis_req_queued(ar, req, redisAsyncFormattedCommand(ar->ac, aredis_req_reply, req,
								     buf, len));
}

/* acl_node - the node at hp, its aredis made when new; the index, or -1 when the table is full */
static int
acl_node(struct acluster *cl, const struct hostport *hp)
{
	struct acl_node *n;

	for (size_t i = 0; i < cl->nnodes; i++)
		if (hostport_same(&cl->nodes[i].hp, hp))
			return (int) i;
	if (cl->nnodes == AREDIS_CL_NODES_MAX)
		return -1;
	n = &cl->nodes[cl->nnodes];
	n->hp = *hp;
	cl->nconf->redis_host = n->hp.host;
	cl->nconf->redis_port = n->hp.port;
	n->ar = aredis_new_one(cl->front->base, cl->nconf, 1);
	return (int) cl->nnodes++;
}

/* acl_stale - the map may be out of date: read it again soon */
static void
acl_stale(struct acluster *cl)
{
	struct timeval tv = {0, 0};
	uint64_t now = clock_mono_ms(), since = now - cl->asked_ms;

	if (!cl->asking && !evtimer_pending(cl->timer, NULL)) {
		if (since < AREDIS_CL_STALE_MS)
			aredis_ms_tv(&tv, AREDIS_CL_STALE_MS - since);
		evtimer_add(cl->timer, &tv);
	}
}

/* acl_slots_reply - CLUSTER SLOTS answered (or not) */
static void
acl_slots_reply(redisReply *r, void *arg)
{
	struct acluster *cl = arg;
	struct acl_node *n = &cl->nodes[cl->asked];
	struct cluster_map *map;
	char	err[CLUSTER_ERR_MAX];
	struct timeval tv;

	cl->asking = 0;
	if (cl->front->freeing)
		return;
	if ((map = malloc(sizeof(*map))) == NULL)
		msg_panic("aredis: out of memory");
	if (r == NULL || r->type == REDIS_REPLY_ERROR
	    || cluster_map_parse(map, r, n->hp.host, err, sizeof(err)) < 0 || map->nnodes == 0) {
		if (r && r->type != REDIS_REPLY_ERROR && map->nnodes == 0)
			snprintf(err, sizeof(err), "CLUSTER SLOTS: no slot has a primary");
		msg_warn("redis %s: slot map from %s:%u: %s", cl->front->addr, n->hp.host, n->hp.port,
			 r == NULL ? "no reply" : r->type == REDIS_REPLY_ERROR ? r->str : err);
		free(map);
		aredis_ms_tv(&tv, cl->map ? AREDIS_CL_STALE_MS : AREDIS_CL_RETRY_MS);
		evtimer_add(cl->timer, &tv);
		return;
	}
	for (size_t i = 0; i < map->nnodes; i++)
		if (acl_node(cl, &map->nodes[i]) < 0)
			msg_warn("redis %s: more than %d cluster nodes: %s:%u not used",
				 cl->front->addr, AREDIS_CL_NODES_MAX, map->nodes[i].host, map->nodes[i].port);
	if (cl->map == NULL)
		msg_info("redis %s: slot map read: %zu primaries", cl->front->addr, map->nnodes);
	free(cl->map);
	cl->map = map;
	aredis_enter_state(cl->front, AREDIS_UP, NULL);
}

/* acl_timer - read the map from the first node that is up */
static void
acl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct acluster *cl = arg;
	struct timeval tv;

	(void) fd;
	(void) what;
	if (cl->asking)
		return;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct acl_node *n = &cl->nodes[i];

		if (aredis_command(n->ar, acl_slots_reply, cl, "CLUSTER SLOTS") == 0) {
			cl->asking = 1;
			cl->asked = i;
			cl->asked_ms = clock_mono_ms();
			return;
		}
	}
	aredis_ms_tv(&tv, cl->map ? AREDIS_CL_STALE_MS : AREDIS_CL_RETRY_MS);
	evtimer_add(cl->timer, &tv);	/* none up yet */
}

static void acl_reply(redisReply *, void *);

/* acl_send - req to node i; 0, or -1 (req not sent) */
static int
acl_send(struct acluster *cl, struct acl_req *req, int i)
{
	req->node = i;
	return aredis_formatted(cl->nodes[i].ar, acl_reply, req, req->buf, req->len);
}

/* acl_req_free - done with it */
static void
acl_req_free(struct acl_req *req)
{
	free(req->buf);
	free(req);
}

/* acl_reply - a node answered: follow a redirect, or hand the reply over */
static void
acl_reply(redisReply *r, void *arg)
{
	struct acl_req *req = arg;
	struct acluster *cl = req->cl;
	enum cluster_redirect kind = CLUSTER_REDIRECT_NONE;
	struct hostport hp;
	unsigned slot;
	int	i;

	if (r == NULL) {
		if (!cl->front->freeing)
			acl_stale(cl);
	} else if (r->type == REDIS_REPLY_ERROR && !cl->front->freeing) {
		kind = cluster_redirect_parse(r->str, r->len, &slot, &hp);
		if (kind == CLUSTER_REDIRECT_NONE && strncmp(r->str, "CLUSTERDOWN", 11) == 0)
			acl_stale(cl);
	}
	if (kind != CLUSTER_REDIRECT_NONE && req->hops < AREDIS_CL_REDIRECTS) {
		if (kind == CLUSTER_REDIRECT_MOVED)
			acl_stale(cl);
		if (*hp.host == 0)
			memcpy(hp.host, cl->nodes[req->node].hp.host, sizeof(hp.host));
		req->hops++;
		if ((i = acl_node(cl, &hp)) >= 0
		    && (kind != CLUSTER_REDIRECT_ASK
			|| aredis_command(cl->nodes[i].ar, aredis_ignore, NULL, "ASKING") == 0)
		    && acl_send(cl, req, i) == 0)
			return;			/* hiredis frees r; the new answer comes to acl_reply */
		r = NULL;			/* the node named is not reachable now */
		cl->front->errors++;
		metrics_inc(&pm_redis_errors, 0);
	}
	req->cb(r, req->arg);
	acl_req_free(req);
}

/* acl_command - route one formatted command (buf is ours from here); 0, or -1 (callback not called) */
static int
acl_command(struct aredis *front, aredis_cb *cb, void *arg, char *buf, int len)
{
	struct acluster *cl = front->cl;
	const struct hostport *hp;
	const char *argv[6], *key;
	size_t	lens[6], keylen;
	struct acl_req *req;
	int	argc, i;

	if (len < 0)
		return -1;
	if (cl->map == NULL || (argc = cluster_resp_args(buf, (size_t) len, argv, lens, 6)) < 0) {
		free(buf);
		metrics_inc(&pm_redis_unavailable, 0);
		return -1;
	}
	if (cluster_command_key(argc, argv, lens, &key, &keylen) < 0)
		hp = &cl->map->nodes[0];
	else if ((hp = cluster_map_node(cl->map, cluster_keyslot(key, keylen))) == NULL) {
		free(buf);
		acl_stale(cl);
		metrics_inc(&pm_redis_unavailable, 0);
		return -1;
	}
	if ((i = acl_node(cl, hp)) < 0) {
		free(buf);
		return -1;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL)
		msg_panic("aredis: out of memory");
	req->cl = cl;
	req->cb = cb;
	req->arg = arg;
	req->buf = buf;
	req->len = (size_t) len;
	if (acl_send(cl, req, i) < 0) {
		acl_req_free(req);
		acl_stale(cl);			/* its primary is down: a failover? */
		return -1;
	}
	return 0;
}

/* acl_new - the front: a node per seed, the map asked for at once */
static struct aredis *
acl_new(struct event_base *base, const struct conf *conf)
{
	struct aredis *front;
	struct acluster *cl;
	uint64_t ms = conf->redis_timeout_ms ? conf->redis_timeout_ms : 2000;
	struct hostport seeds[CONF_LIST_MAX];
	size_t	nseeds;
	struct timeval now = {0, 0};

	if ((front = calloc(1, sizeof(*front))) == NULL || (cl = calloc(1, sizeof(*cl))) == NULL
	    || (cl->nconf = calloc(1, sizeof(*cl->nconf))) == NULL)
		msg_panic("aredis: out of memory");
	front->base = base;
	front->cl = cl;
	front->state = AREDIS_DOWN;
	front->host = aredis_strdup("");
	front->unix_path = aredis_strdup("");
	front->user = aredis_strdup(conf->redis_user);
	front->password = aredis_strdup(conf->redis_password);
	front->master = aredis_strdup("");
	front->sentinel_password = aredis_strdup("");
	cl->front = front;
	cl->nconf->redis_unix = "";
	cl->nconf->redis_user = front->user;
	cl->nconf->redis_password = front->password;
	cl->nconf->redis_timeout_ms = ms;
	cl->nconf->redis_sentinel_master = "";
	cl->nconf->redis_sentinel_password = "";
	nseeds = conf->redis_cluster_count < CONF_LIST_MAX ? conf->redis_cluster_count : CONF_LIST_MAX;
	for (size_t i = 0; i < nseeds; i++) {
		seeds[i] = conf->redis_cluster[i];
		if (seeds[i].port == 0)
			seeds[i].port = 6379;
		(void) acl_node(cl, &seeds[i]);
	}
	cluster_seeds_format(front->addr, sizeof(front->addr), seeds, nseeds);
	if ((cl->timer = evtimer_new(base, acl_timer, cl)) == NULL)
		msg_panic("aredis: evtimer_new failed");
	evtimer_add(cl->timer, &now);
	metrics_set(&pm_redis_up, 0, 0);
	return front;
}

/* acl_free - every node closed (their commands answered NULL), then the front */
static void
acl_free(struct aredis *front)
{
	struct acluster *cl = front->cl;

	front->freeing = 1;
	event_free(cl->timer);
	for (size_t i = 0; i < cl->nnodes; i++)
		aredis_free(cl->nodes[i].ar);
	free(cl->map);
	free(cl->nconf);
	free(cl);
	free(front->host);
	free(front->unix_path);
	free(front->user);
	free(front->password);
	free(front->master);
	free(front->sentinel_password);
	free(front);
}

/* aredis_new - start connecting at once */
struct aredis *
aredis_new(struct event_base *base, const struct conf *conf)
{
	return conf->redis_cluster_count ? acl_new(base, conf) : aredis_new_one(base, conf, 0);
}

/* aredis_new_one - one connection (node: one of a cluster front's) */
static struct aredis *
aredis_new_one(struct event_base *base, const struct conf *conf, int node)
{
	struct aredis *ar;
	uint64_t ms = conf->redis_timeout_ms ? conf->redis_timeout_ms : 2000;
	struct timeval hb;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		msg_panic("aredis: out of memory");
	ar->base = base;
	ar->is_node = node;
	ar->host = aredis_strdup(conf->redis_host);
	ar->port = conf->redis_port;
	ar->unix_path = aredis_strdup(conf->redis_unix);
	ar->db = conf->redis_db;
	ar->user = aredis_strdup(conf->redis_user);
	ar->password = aredis_strdup(conf->redis_password);
	ar->timeout.tv_sec = (time_t) (ms / 1000);
	ar->timeout.tv_usec = (suseconds_t) (ms % 1000) * 1000;
	ar->master = aredis_strdup(conf->redis_sentinel_master);
	ar->nsentinels = conf->redis_sentinel_count > CONF_LIST_MAX ? CONF_LIST_MAX : conf->redis_sentinel_count;
	memcpy(ar->sentinels, conf->redis_sentinels, ar->nsentinels * sizeof(ar->sentinels[0]));
	ar->sentinel_password = aredis_strdup(conf->redis_sentinel_password);
	if (*ar->master) {			/* known once a sentinel names it */
		free(ar->host);
		ar->host = aredis_strdup("");
		ar->port = 0;
		free(ar->unix_path);
		ar->unix_path = aredis_strdup("");
	}
	if (*ar->master)
		snprintf(ar->addr, sizeof(ar->addr), "sentinel %s", ar->master);
	else if (*ar->unix_path)
		snprintf(ar->addr, sizeof(ar->addr), "unix:%s", ar->unix_path);
	else if (strchr(ar->host, ':'))
		snprintf(ar->addr, sizeof(ar->addr), "[%s]:%u", ar->host, ar->port);
	else
		snprintf(ar->addr, sizeof(ar->addr), "%s:%u", ar->host, ar->port);
	if ((ar->timer = evtimer_new(base, aredis_timer, ar)) == NULL
	    || (ar->heartbeat = event_new(base, -1, EV_PERSIST, aredis_heartbeat, ar)) == NULL)
		msg_panic("aredis: evtimer_new failed");
	aredis_ms_tv(&hb, AREDIS_HEARTBEAT_MS);
	evtimer_add(ar->heartbeat, &hb);
	aredis_connect(ar);
	return ar;
}

/* aredis_free - close; pending callbacks get NULL */
void
aredis_free(struct aredis *ar)
{
	if (ar->cl) {
		acl_free(ar);
		return;
	}
	ar->freeing = 1;
	aredis_track_stop(ar, NULL, 0);
	if (ar->ttimer)
		event_free(ar->ttimer);
	event_free(ar->heartbeat);
	if (ar->ac) {
		redisAsyncContext *ac = ar->ac;

		ar->ac = NULL;
		redisAsyncFree(ac);
	}
	event_free(ar->timer);
	aredis_sentinel_close(ar);
	free(ar->master);
	free(ar->sentinel_password);
	free(ar->host);
	free(ar->unix_path);
	free(ar->user);
	free(ar->password);
	free(ar);
}

int
aredis_up(const struct aredis *ar)
{
	return ar->state == AREDIS_UP;
}

const char *
aredis_address(const struct aredis *ar)
{
	return ar->addr;
}

unsigned long
aredis_reconnects(const struct aredis *ar)
{
	unsigned long n = ar->reconnects;

	for (size_t i = 0; ar->cl && i < ar->cl->nnodes; i++)
		n += ar->cl->nodes[i].ar->reconnects;
	return n;
}

unsigned long
aredis_errors(const struct aredis *ar)
{
	unsigned long n = ar->errors;

	for (size_t i = 0; ar->cl && i < ar->cl->nnodes; i++)
		n += ar->cl->nodes[i].ar->errors;
	return n;
}

/*
 * aredis_key_conn - the single connection a command for key goes to: ar
 * itself, or on a cluster the one to the primary of key's slot as the map
 * says (NULL while no map names one, or the node table is full)
 */
static struct aredis *
aredis_key_conn(struct aredis *ar, const char *key, size_t keylen)
{
	struct acluster *cl = ar->cl;
	const struct hostport *hp;
	int	i;

	if (cl == NULL)
		return ar;
	if (cl->map == NULL || (hp = cluster_map_node(cl->map, cluster_keyslot(key, keylen))) == NULL
	    || (i = acl_node(cl, hp)) < 0)
		return NULL;
	return cl->nodes[i].ar;
}

/* aredis_up_key - a command for key would be sent now: on a cluster, its slot's primary is connected */
int
aredis_up_key(struct aredis *ar, const char *key, size_t keylen)
{
	struct aredis *conn = aredis_key_conn(ar, key, keylen);

	return conn != NULL && aredis_up(conn);
}

/* aredis_wait - WAIT on the connection that wrote key; 0, or -1 (callback not called) */
int
aredis_wait(struct aredis *ar, const char *key, size_t keylen, unsigned replicas,
	    uint64_t timeout_ms, aredis_cb *cb, void *arg)
{
	/* keyless, so not through acl_command: it goes where the key's write went */
	struct aredis *conn = aredis_key_conn(ar, key, keylen);

	if (conn == NULL) {
		metrics_inc(&pm_redis_unavailable, 0);
		return -1;
	}
	return aredis_command(conn, cb, arg, "WAIT %u %llu", replicas, (unsigned long long) timeout_ms);
}

/* aredis_cluster - a Redis Cluster front: one command may name keys of one slot only */
int
aredis_cluster(const struct aredis *ar)
{
	return ar->cl != NULL;
}
