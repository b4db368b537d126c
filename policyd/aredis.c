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
 * Sentinel: the primary's address is found with the synchronous rconn
 * layer (bounded by redis.timeout per sentinel), which blocks the loop
 * for that long at reconnect time only; then the connection is async.
 *
 * Logging: one warning per state change ("connection lost", "connected"),
 * never per command.
 *
 * Public functions: aredis_new, aredis_free, aredis_command,
 * aredis_commandargv, aredis_up, aredis_address, aredis_reconnects,
 * aredis_errors.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "aredis.h"
#include "conf.h"
#include "log.h"
#include "rconn.h"

#define AREDIS_BACKOFF_MIN_MS	100
#define AREDIS_BACKOFF_MAX_MS	1000	/* back within a second of Redis coming back */
#define AREDIS_ADDR_MAX		(ENDPOINT_HOST_MAX + 32)

enum aredis_state {
	AREDIS_DOWN,			/* no connection; a reconnect timer is pending */
	AREDIS_CONNECTING,		/* connect (and AUTH/SELECT) in progress */
	AREDIS_UP			/* commands accepted */
};

static const char *const aredis_state_names[] = {"down", "connecting", "up"};

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
	struct rconn *sentinel;		/* non-NULL under Sentinel: finds the primary */
	char	addr[AREDIS_ADDR_MAX];
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

/* aredis_enter_state - log the transition, then set it */
static void
aredis_enter_state(struct aredis *ar, enum aredis_state state, const char *why)
{
	if (msg_verbose)
		msg_info("redis %s: %s -> %s%s%s", ar->addr, aredis_state_names[ar->state],
			 aredis_state_names[state], why ? ": " : "", why ? why : "");
	ar->state = state;
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
		if (reply == NULL)
			req->ar->errors++;
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

	if (ar->state != AREDIS_UP || ar->ac == NULL)
		return -1;
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

	if (ar->state != AREDIS_UP || ar->ac == NULL)
		return -1;
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
	if (strcmp(what, "PING") != 0)
		return;
	evtimer_del(ar->timer);
	aredis_enter_state(ar, AREDIS_UP, NULL);
	ar->backoff_ms = 0;
	if (ar->ever_up) {
		ar->reconnects++;
		msg_warn("redis %s: connected again", ar->addr);
	} else if (msg_verbose) {
		msg_info("redis %s: connected", ar->addr);
	}
	ar->ever_up = 1;
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
	if (ar->state == AREDIS_CONNECTING)
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

/* aredis_connect - start connecting to where Redis is now */
static void
aredis_connect(struct aredis *ar)
{
	redisAsyncContext *ac;

	if (ar->sentinel) {
		const char *host;
		unsigned port;

		if (rconn_connect(ar->sentinel) < 0 || rconn_primary(ar->sentinel, &host, &port) < 0) {
			snprintf(ar->addr, sizeof(ar->addr), "%s", rconn_address(ar->sentinel));
			aredis_enter_state(ar, AREDIS_CONNECTING, NULL);
			aredis_drop(ar, rconn_errstr(ar->sentinel));
			return;
		}
		free(ar->host);
		ar->host = aredis_strdup(host);
		ar->port = port;
		snprintf(ar->addr, sizeof(ar->addr), "%s", rconn_address(ar->sentinel));
	}
	aredis_enter_state(ar, AREDIS_CONNECTING, NULL);
	ac = *ar->unix_path ? redisAsyncConnectUnix(ar->unix_path)
		: redisAsyncConnect(ar->host, (int) ar->port);
	if (ac == NULL)
		msg_panic("aredis: out of memory");
	if (ac->err) {
		char	why[300];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		aredis_drop(ar, why);
		return;
	}
	ac->data = ar;
	ar->ac = ac;
	redisLibeventAttach(ac, ar->base);
	redisAsyncSetConnectCallback(ac, aredis_on_connect);
	redisAsyncSetDisconnectCallback(ac, aredis_on_disconnect);
	evtimer_add(ar->timer, &ar->timeout);
}

/* aredis_new - start connecting at once */
struct aredis *
aredis_new(struct event_base *base, const struct conf *conf)
{
	struct aredis *ar;
	uint64_t ms = conf->redis_timeout_ms ? conf->redis_timeout_ms : 2000;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		msg_panic("aredis: out of memory");
	ar->base = base;
	ar->host = aredis_strdup(conf->redis_host);
	ar->port = conf->redis_port;
	ar->unix_path = aredis_strdup(conf->redis_unix);
	ar->db = conf->redis_db;
	ar->user = aredis_strdup(conf->redis_user);
	ar->password = aredis_strdup(conf->redis_password);
	ar->timeout.tv_sec = (time_t) (ms / 1000);
	ar->timeout.tv_usec = (suseconds_t) (ms % 1000) * 1000;
	if (*conf->redis_sentinel_master)
		ar->sentinel = rconn_new(conf);
	if (*ar->unix_path)
		snprintf(ar->addr, sizeof(ar->addr), "unix:%s", ar->unix_path);
	else if (strchr(ar->host, ':'))
		snprintf(ar->addr, sizeof(ar->addr), "[%s]:%u", ar->host, ar->port);
	else
		snprintf(ar->addr, sizeof(ar->addr), "%s:%u", ar->host, ar->port);
	if ((ar->timer = evtimer_new(base, aredis_timer, ar)) == NULL)
		msg_panic("aredis: evtimer_new failed");
	aredis_connect(ar);
	return ar;
}

/* aredis_free - close; pending callbacks get NULL */
void
aredis_free(struct aredis *ar)
{
	ar->freeing = 1;
	if (ar->ac) {
		redisAsyncContext *ac = ar->ac;

		ar->ac = NULL;
		redisAsyncFree(ac);
	}
	event_free(ar->timer);
	if (ar->sentinel)
		rconn_free(ar->sentinel);
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
	return ar->reconnects;
}

unsigned long
aredis_errors(const struct aredis *ar)
{
	return ar->errors;
}
