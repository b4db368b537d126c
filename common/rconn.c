/*
 * rconn.c - the synchronous Redis connection every program uses.
 *
 * An rconn holds at most one hiredis context to the Redis that
 * mhkit.conf names: a TCP host and port, a unix socket (redis.unix), or
 * the primary that a set of Sentinels names (redis.sentinel.master).  It
 * connects lazily on the first command, with redis.timeout as connect
 * timeout and as timeout of every command; then sends AUTH [user]
 * password when a password is set and SELECT when redis.db is not 0.
 * Under Sentinel it asks each sentinel in turn for the primary's address
 * (SENTINEL get-master-addr-by-name, after AUTH when
 * redis.sentinel.password is set), connects there and accepts the server
 * only when ROLE says "master"; otherwise it tries the next sentinel.
 *
 * A command that fails with an I/O error, EOF, a timeout, or a reply
 * that means "wrong or unready server" (READONLY, LOADING, MASTERDOWN)
 * drops the connection and returns NULL; the next call reconnects, and
 * under Sentinel re-discovers the primary.  Other error replies are
 * returned to the caller as replies.  A failed connect (or an unready
 * server) starts a backoff of 100 ms that doubles up to 5 s (1 s on a
 * cluster, where a failover ends within the next map read) and resets
 * on a successful connect; until it has passed, calls fail at once with
 * "backend unavailable, next attempt in N ms".  Nothing here waits
 * without a timeout, exits or aborts because of the backend.
 *
 * Public functions: rconn_new, rconn_free, rconn_connect, rconn_errstr,
 * rconn_address, rconn_reconnects, rconn_primary, rconn_command, rconn_commandargv,
 * rconn_append, rconn_appendargv, rconn_get_reply, rconn_totals.
 *
 * Limits: one rconn per thread; the settings are copied at rconn_new,
 * so the conf may be freed (or swapped on SIGHUP) afterwards.  Error
 * text is at most RCONN_ERR_MAX bytes; a sentinel's answer longer than
 * ENDPOINT_HOST_MAX is refused.  rconn_new sets SIGPIPE to SIG_IGN when
 * it is at its default, since hiredis writes with write(2) and a Redis
 * that goes away must not kill the process.
 *
 * Logging: a warning (msg_warn) once per state change, never per
 * command: "connection lost" when an established connection breaks,
 * "reconnected" when a connection is back after it broke or failed,
 * and "primary changed OLD -> NEW" when Sentinel names another primary.
 * A first connect that fails is not logged: the caller reports
 * rconn_errstr(), which always starts with the address tried.
 *
 * Failures: every function that can fail returns -1 or NULL and leaves
 * one line in rconn_errstr(); a NULL reply always means "Redis is down
 * or unusable", never "not found".  The line starts with the address:
 *   127.0.0.1:6379: Connection refused
 *   127.0.0.1:6379: AUTH failed: WRONGPASS invalid username-password pair ...
 *   unix:/run/redis.sock: timeout after 2000 ms
 *   127.0.0.1:6379: backend unavailable, next attempt in 380 ms (Connection refused)
 *   sentinel mymaster: no primary found: 10.0.0.1:26379: Connection refused;
 *     10.0.0.2:26379 named 10.0.0.9:6379: not the primary (ROLE slave)
 * A command sent while pipelined replies are unread is refused (our
 * bug, reported as an error).  A redis.host or redis.unix too long for
 * its buffer makes every connect fail.  Out of memory panics, as in sbuf.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "cluster.h"
#include "conf.h"
#include "endpoint.h"
#include "log.h"
#include "rconn.h"

#define RCONN_ERR_MAX		512	/* bytes of error text */
#define RCONN_ADDR_MAX		(ENDPOINT_HOST_MAX + CONF_STR_MAX + 32)	/* "sentinel M -> [h]:p" */
#define RCONN_BACKOFF_MIN_MS	100	/* first wait after a failed connect */
#define RCONN_BACKOFF_MAX_MS	5000	/* the wait doubles up to this */
#define RCONN_TIMEOUT_DEFAULT_MS 2000	/* when redis.timeout is 0 */
#define RCONN_PORT_DEFAULT	6379
#define RCONN_SENTINEL_PORT_DEFAULT 26379
#define RCONN_CL_CONNS_MAX	(2 * CLUSTER_NODES_MAX)	/* connections of one rconn to cluster nodes */
#define RCONN_CL_PIPE_MAX	100000	/* commands of one pipeline awaiting replies */
#define RCONN_CL_REDIRECTS	5	/* MOVED/ASK followed for one command */
#define RCONN_CL_BACKOFF_MAX_MS	1000	/* a cluster: a failover is over within the next second's map read */

/* cluster mode: one command of the pipeline, kept until its reply is read */
struct rconn_cmd {
	char   *buf;			/* as formatted (RESP): a redirect sends it again */
	size_t	len;
	int	conn;			/* index into conns; -1 = held (keyless, no node yet) */
	unsigned long seq;		/* its place among the replies of that connection */
	redisReply *reply;		/* read before its turn */
	int	multi;			/* inside MULTI ... EXEC: not redirected */
};

/* cluster mode: a connection to one node */
struct rconn_clconn {
	struct hostport hp;
	char	addr[ENDPOINT_HOST_MAX + 16];
	redisContext *ctx;		/* NULL = not connected */
	unsigned long sent, got;	/* commands written, replies read */
};

struct rconn_cl {
	struct cluster_map map;
	int	mapped;			/* map read since the last failure */
	int	stale;			/* a MOVED said the map is out of date */
	struct rconn_clconn conns[RCONN_CL_CONNS_MAX];
	size_t	nconns;
	struct rconn_cmd *q;		/* the pipeline: q[head .. head+len) */
	size_t	qcap, qhead, qlen;
	int	cur;			/* connection of the pipeline's last keyed command; -1 */
	int	multi;			/* a MULTI is open in the pipeline */
	size_t	next_seed;
};

enum rconn_state {
	RCONN_STATE_NEW,		/* never connected, nothing logged */
	RCONN_STATE_UP,			/* a connection is (or was last) established */
	RCONN_STATE_DOWN		/* broke or failed; logged once */
};

struct rconn {
	/* settings, copied from struct conf */
	char	host[ENDPOINT_HOST_MAX + 1];
	unsigned port;
	char	unix_path[ENDPOINT_PATH_MAX + 1];
	unsigned db;
	char   *user;
	char   *password;
	uint64_t timeout_ms;
	char   *master;			/* "" = no Sentinel */
	struct hostport sentinels[CONF_LIST_MAX];
	size_t	sentinel_count;
	char   *sentinel_password;
	struct hostport seeds[CONF_LIST_MAX];	/* redis.cluster.servers */
	size_t	seed_count;		/* 0 = not a cluster */
	struct rconn_cl *cl;		/* cluster mode: the slot map and a connection per primary */

	/* connection */
	redisContext *ctx;		/* NULL = not connected */
	size_t	pending;		/* replies owed to rconn_get_reply */
	char	primary[ENDPOINT_HOST_MAX + 1];	/* under Sentinel: last primary found */
	unsigned primary_port;
	size_t	next_sentinel;		/* the one to ask first */
	char	addr[RCONN_ADDR_MAX];	/* what rconn_address says */
	char	errstr[RCONN_ERR_MAX];
	char	lasterr[RCONN_ERR_MAX];	/* why the last connect failed, without the address */

	/* backoff and state */
	enum rconn_state state;
	const char *bad_setting;	/* non-NULL: every connect fails with this */
	int	ever_connected;
	uint64_t backoff_ms;		/* 0 = none */
	uint64_t next_attempt_ms;	/* monotonic time of the next allowed connect */
	unsigned long reconnects;
	unsigned long connects;		/* connections made, the first included (rconn_serial) */
};

/* every rconn of the process, for the metrics (rconn_totals) */
static _Atomic unsigned long rconn_all_failures, rconn_all_reconnects;

/* rconn_count - one more in a process-wide total */
static inline void
rconn_count(_Atomic unsigned long *total)
{
	atomic_fetch_add_explicit(total, 1, memory_order_relaxed);
}

/* rconn_strdup - copy a setting, NULL reads as "" */
static char *
rconn_strdup(const char *s)
{
	char   *copy = strdup(s ? s : "");

	if (copy == NULL)
		msg_panic("rconn: out of memory");
	return copy;
}

/* rconn_copy - copy a setting into a fixed buffer; -1 when it does not fit */
static int
rconn_copy(char *dst, size_t dstlen, const char *src)
{
	size_t	len = strlen(src ? src : "");

	if (len >= dstlen)
		return -1;
	memcpy(dst, src ? src : "", len + 1);
	return 0;
}

/* rconn_format_hostport - "host:port", "[v6]:port" */
static void
rconn_format_hostport(char *buf, size_t len, const char *host, unsigned port)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

/* rconn_set_address - recompute what rconn_address says */
static void
rconn_set_address(struct rconn *rc)
{
	char	hp[ENDPOINT_HOST_MAX + 16];

	if (rc->seed_count) {
		cluster_seeds_format(rc->addr, sizeof(rc->addr), rc->seeds, rc->seed_count);
	} else if (*rc->master) {
		if (*rc->primary) {
			rconn_format_hostport(hp, sizeof(hp), rc->primary, rc->primary_port);
			snprintf(rc->addr, sizeof(rc->addr), "sentinel %s -> %s", rc->master, hp);
		} else {
			snprintf(rc->addr, sizeof(rc->addr), "sentinel %s", rc->master);
		}
	} else if (*rc->unix_path) {
		snprintf(rc->addr, sizeof(rc->addr), "unix:%s", rc->unix_path);
	} else {
		rconn_format_hostport(rc->addr, sizeof(rc->addr), rc->host, rc->port);
	}
}

/* rconn_seterr - errstr = "ADDR: text", cut at RCONN_ERR_MAX; no argument may point into errstr */
static void
rconn_seterr(struct rconn *rc, const char *addr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rconn_seterr(struct rconn *rc, const char *addr, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(rc->errstr, sizeof(rc->errstr), "%s: ", addr);
	if (n < 0 || (size_t) n >= sizeof(rc->errstr))
		return;				/* the address alone fills it */
	va_start(ap, fmt);
	vsnprintf(rc->errstr + n, sizeof(rc->errstr) - (size_t) n, fmt, ap);
	va_end(ap);
}

/* rconn_ctx_error - text for a hiredis context error; timeouts named as such */
static const char *
rconn_ctx_error(const redisContext *ctx, int saved_errno, uint64_t timeout_ms,
		char *buf, size_t len)
{
	if (ctx == NULL)
		return "cannot allocate redis context";
	if (ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK
					 || saved_errno == ETIMEDOUT)) {
		snprintf(buf, len, "timeout after %llu ms", (unsigned long long) timeout_ms);
		return buf;
	}
	if (ctx->err == REDIS_ERR_EOF)
		return "connection closed by server";
	return ctx->errstr[0] ? ctx->errstr : "unknown error";
}

/* rconn_reply_text - printable text of an error or status reply */
static const char *
rconn_reply_text(const redisReply *r, char *buf, size_t len)
{
	if (r == NULL)
		return "no reply";
	if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS
	    || r->type == REDIS_REPLY_STRING)
		return log_printable(buf, len, r->str, r->len);
	snprintf(buf, len, "unexpected reply type %d", r->type);
	return buf;
}

/* rconn_unready - an error reply meaning "wrong or unready server" */
static int
rconn_unready(const redisReply *r)
{
	static const char *const words[] = {"READONLY", "LOADING", "MASTERDOWN", "CLUSTERDOWN"};

	if (r == NULL || r->type != REDIS_REPLY_ERROR || r->str == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t	n = strlen(words[i]);

		if ((size_t) r->len >= n && strncmp(r->str, words[i], n) == 0
		    && (r->len == n || r->str[n] == ' '))
			return 1;
	}
	return 0;
}

/* rconn_timeval - milliseconds as a struct timeval */
static struct timeval
rconn_timeval(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t) (ms / 1000);
	tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
	return tv;
}

/*
 * rconn_open - connect to one server with the timeout, set the command
 * timeout; NULL with errstr "ADDR: why"
 */
static redisContext *
rconn_open(struct rconn *rc, const char *addr, const char *host, unsigned port,
	   const char *path)
{
	struct timeval tv = rconn_timeval(rc->timeout_ms);
	redisContext *ctx;
	char	buf[64];
	int	saved_errno;

	errno = 0;
	ctx = path ? redisConnectUnixWithTimeout(path, tv)
	    : redisConnectWithTimeout(host, (int) port, tv);
	saved_errno = errno;
	if (ctx == NULL || ctx->err) {
		rconn_seterr(rc, addr, "%s",
			     rconn_ctx_error(ctx, saved_errno, rc->timeout_ms, buf, sizeof(buf)));
		goto fail;
	}
	if (redisSetTimeout(ctx, tv) != REDIS_OK) {
		rconn_seterr(rc, addr, "cannot set timeout: %s", ctx->errstr);
		goto fail;
	}
	if (path == NULL)
		(void) redisEnableKeepAlive(ctx);
	return ctx;

fail:
	if (ctx)
		redisFree(ctx);
	return NULL;
}

/*
 * rconn_call - one command during setup (AUTH, SELECT, ROLE, SENTINEL);
 * returns the reply, or NULL with errstr "ADDR: WHAT: why" when the
 * connection failed or the reply is an error
 */
static redisReply *
rconn_call(struct rconn *rc, redisContext *ctx, const char *addr, const char *what,
	   int argc, const char **argv)
{
	redisReply *r;
	char	buf[RCONN_ERR_MAX];
	int	saved_errno;

	errno = 0;
	r = redisCommandArgv(ctx, argc, argv, NULL);
	saved_errno = errno;
	if (r == NULL) {
		rconn_seterr(rc, addr, "%s failed: %s", what,
			     rconn_ctx_error(ctx, saved_errno, rc->timeout_ms, buf, sizeof(buf)));
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rconn_seterr(rc, addr, "%s failed: %s", what, rconn_reply_text(r, buf, sizeof(buf)));
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* rconn_login - AUTH and SELECT on a fresh connection; 0 or -1 */
static int
rconn_login(struct rconn *rc, redisContext *ctx, const char *addr)
{
	redisReply *r;
	char	dbtext[16];

	if (*rc->password) {
		const char *argv[3] = {"AUTH", rc->user, rc->password};

		if (*rc->user)
			r = rconn_call(rc, ctx, addr, "AUTH", 3, argv);
		else {
			argv[1] = rc->password;
			r = rconn_call(rc, ctx, addr, "AUTH", 2, argv);
		}
		if (r == NULL)
			return -1;
		freeReplyObject(r);
	}
	if (rc->db != 0) {
		const char *argv[2] = {"SELECT", dbtext};

		snprintf(dbtext, sizeof(dbtext), "%u", rc->db);
		if ((r = rconn_call(rc, ctx, addr, "SELECT", 2, argv)) == NULL)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

/* rconn_is_master - ROLE says master; 0 = yes, -1 with errstr */
static int
rconn_is_master(struct rconn *rc, redisContext *ctx, const char *addr)
{
	const char *argv[1] = {"ROLE"};
	redisReply *r;
	int	ok;
	char	buf[64];

	if ((r = rconn_call(rc, ctx, addr, "ROLE", 1, argv)) == NULL)
		return -1;
	ok = r->type == REDIS_REPLY_ARRAY && r->elements > 0
	    && r->element[0]->type == REDIS_REPLY_STRING
	    && strcmp(r->element[0]->str, "master") == 0;
	if (!ok)
		rconn_seterr(rc, addr, "not the primary (ROLE %s)",
			     r->type == REDIS_REPLY_ARRAY && r->elements > 0
			     ? rconn_reply_text(r->element[0], buf, sizeof(buf))
			     : rconn_reply_text(r, buf, sizeof(buf)));
	freeReplyObject(r);
	return ok ? 0 : -1;
}

/*
 * rconn_ask_sentinel - the primary's address from one sentinel; 0 or -1
 * with errstr "SENTINEL-ADDR: why"
 */
static int
rconn_ask_sentinel(struct rconn *rc, const struct hostport *s, char *host, size_t hostlen,
		   unsigned *port)
{
	const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", rc->master};
	char	saddr[ENDPOINT_HOST_MAX + 16];
	unsigned sport = s->port ? s->port : RCONN_SENTINEL_PORT_DEFAULT;
	redisContext *ctx;
	redisReply *r = NULL;
	char   *end;
	unsigned long p;
	int	ret = -1;

	rconn_format_hostport(saddr, sizeof(saddr), s->host, sport);
	if ((ctx = rconn_open(rc, saddr, s->host, sport, NULL)) == NULL)
		return -1;
	if (*rc->sentinel_password) {
		const char *aargv[2] = {"AUTH", rc->sentinel_password};

		if ((r = rconn_call(rc, ctx, saddr, "AUTH", 2, aargv)) == NULL)
			goto out;
		freeReplyObject(r);
	}
	if ((r = rconn_call(rc, ctx, saddr, "SENTINEL get-master-addr-by-name", 3, argv)) == NULL)
		goto out;
	if (r->type == REDIS_REPLY_NIL) {
		rconn_seterr(rc, saddr, "does not know master %s", rc->master);
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
	    || r->element[0]->type != REDIS_REPLY_STRING
	    || r->element[1]->type != REDIS_REPLY_STRING) {
		rconn_seterr(rc, saddr, "unexpected reply to SENTINEL get-master-addr-by-name");
		goto out;
	}
	if (r->element[0]->len == 0 || r->element[0]->len >= hostlen
	    || memchr(r->element[0]->str, 0, r->element[0]->len) != NULL) {
		rconn_seterr(rc, saddr, "bad primary host name in reply");
		goto out;
	}
	errno = 0;
	p = strtoul(r->element[1]->str, &end, 10);
	if (errno || *end || p == 0 || p > 65535) {
		rconn_seterr(rc, saddr, "bad primary port in reply");
		goto out;
	}
	memcpy(host, r->element[0]->str, r->element[0]->len + 1);
	*port = (unsigned) p;
	ret = 0;

out:
	if (r)
		freeReplyObject(r);
	redisFree(ctx);
	return ret;
}

/*
 * rconn_discover - under Sentinel: ask each sentinel in turn, connect to
 * the primary it names and check its role; the context or NULL
 */
static redisContext *
rconn_discover(struct rconn *rc)
{
	char	host[ENDPOINT_HOST_MAX + 1];
	char	paddr[ENDPOINT_HOST_MAX + 16];
	char	errs[RCONN_ERR_MAX];
	size_t	errlen = 0;
	unsigned port = 0;
	redisContext *ctx;

	errs[0] = 0;
	for (size_t n = 0; n < rc->sentinel_count; n++) {
		size_t	i = (rc->next_sentinel + n) % rc->sentinel_count;

		int	answered = 0;

		ctx = NULL;
		if (rconn_ask_sentinel(rc, &rc->sentinels[i], host, sizeof(host), &port) == 0) {
			answered = 1;
			rconn_format_hostport(paddr, sizeof(paddr), host, port);
			ctx = rconn_open(rc, paddr, host, port, NULL);
			if (ctx && (rconn_login(rc, ctx, paddr) < 0
				    || rconn_is_master(rc, ctx, paddr) < 0)) {
				redisFree(ctx);
				ctx = NULL;
			}
		}
		if (ctx) {
			rc->next_sentinel = i;
			if (*rc->primary && (strcmp(rc->primary, host) != 0 || rc->primary_port != port)) {
				char	old[ENDPOINT_HOST_MAX + 16];

				rconn_format_hostport(old, sizeof(old), rc->primary, rc->primary_port);
				msg_warn("redis sentinel %s: primary changed %s -> %s",
					 rc->master, old, paddr);
			}
			memcpy(rc->primary, host, strlen(host) + 1);
			rc->primary_port = port;
			rconn_set_address(rc);
			return ctx;
		}
		if (errlen < sizeof(errs) - 1) {
			char	saddr[ENDPOINT_HOST_MAX + 16];
			int	w;

			/* "S: why" when the sentinel failed, "S named P: why" when the primary did */
			rconn_format_hostport(saddr, sizeof(saddr), rc->sentinels[i].host,
					      rc->sentinels[i].port ? rc->sentinels[i].port
					      : RCONN_SENTINEL_PORT_DEFAULT);
			w = snprintf(errs + errlen, sizeof(errs) - errlen, "%s%s%s%s",
				     errlen ? "; " : "", answered ? saddr : "",
				     answered ? " named " : "", rc->errstr);

			errlen = (w < 0) ? errlen : errlen + (size_t) w;
			if (errlen >= sizeof(errs))
				errlen = sizeof(errs) - 1;
		}
	}
	if (rc->sentinel_count == 0)
		snprintf(errs, sizeof(errs), "no sentinels configured (redis.sentinel.servers)");
	{
		char	who[RCONN_ADDR_MAX];

		snprintf(who, sizeof(who), "sentinel %s", rc->master);
		rconn_seterr(rc, who, "no primary found: %s", errs);
	}
	return NULL;
}

static void rconn_drop(struct rconn *, int unready);
static void rconn_cl_reset(struct rconn_cl *);

/* rconn_direct - connect to the configured host or socket and log in */
static redisContext *
rconn_direct(struct rconn *rc)
{
	redisContext *ctx;

	ctx = rconn_open(rc, rc->addr, *rc->unix_path ? NULL : rc->host, rc->port,
			 *rc->unix_path ? rc->unix_path : NULL);
	if (ctx && rconn_login(rc, ctx, rc->addr) < 0) {
		redisFree(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* rconn_cause - errstr without its leading "ADDR: " or "sentinel M: " */
static const char *
rconn_cause(const struct rconn *rc)
{
	char	who[RCONN_ADDR_MAX];
	size_t	n;

	n = strlen(rc->addr);
	if (strncmp(rc->errstr, rc->addr, n) == 0 && strncmp(rc->errstr + n, ": ", 2) == 0)
		return rc->errstr + n + 2;
	if (*rc->master) {
		snprintf(who, sizeof(who), "sentinel %s: ", rc->master);
		n = strlen(who);
		if (strncmp(rc->errstr, who, n) == 0)
			return rc->errstr + n;
	}
	return rc->errstr;
}

/* rconn_failed - a connect failed or the server was unready: start or double the backoff */
static void
rconn_failed(struct rconn *rc)
{
	uint64_t max = rc->cl ? RCONN_CL_BACKOFF_MAX_MS : RCONN_BACKOFF_MAX_MS;

	if (rc->backoff_ms == 0)
		rc->backoff_ms = RCONN_BACKOFF_MIN_MS;
	else if (rc->backoff_ms < max)
		rc->backoff_ms = rc->backoff_ms * 2 > max ? max : rc->backoff_ms * 2;
	rc->next_attempt_ms = clock_mono_ms() + rc->backoff_ms;
	snprintf(rc->lasterr, sizeof(rc->lasterr), "%s", rconn_cause(rc));
	if (rc->state == RCONN_STATE_UP)
		msg_warn("redis %s: connection lost: %s", rc->addr, rconn_cause(rc));
	if (rc->state != RCONN_STATE_NEW || rc->ever_connected)
		rc->state = RCONN_STATE_DOWN;
}

/* rconn_drop - close a broken connection; the next call reconnects */
static void
rconn_drop(struct rconn *rc, int unready)
{
	if (rc->ctx) {
		redisFree(rc->ctx);
		rc->ctx = NULL;
	}
	if (rc->cl)
		rconn_cl_reset(rc->cl);
	rc->pending = 0;
	if (unready) {
		rconn_failed(rc);
	} else if (rc->state == RCONN_STATE_UP) {
		msg_warn("redis %s: connection lost: %s", rc->addr, rconn_cause(rc));
		rc->state = RCONN_STATE_DOWN;
	}
}

/* --- Redis Cluster ------------------------------------------------------------ */

/*
 * Cluster mode (redis.cluster.servers): the slot map is read with CLUSTER
 * SLOTS from the first seed that answers, at the first command and again
 * after any failure or MOVED. Each command is formatted first (RESP), its
 * key found in it (cluster_command_key) and it is written to the primary
 * serving the key's slot, on a connection made when first needed. A
 * keyless command (MULTI, EXEC, PING) follows the pipeline's last keyed
 * command, or is held until the next one names a node, so MULTI ... EXEC
 * on one domain's keys stays on one primary. Replies are returned in the
 * order the commands were appended: a reply read from one connection
 * while waiting for another's is kept with its command. MOVED (the map is
 * out of date: read again before the next pipeline) and ASK (this command
 * only, after ASKING) are followed up to RCONN_CL_REDIRECTS times, except
 * inside MULTI ... EXEC, where the error reaches the caller. A failed
 * connection, a timeout or an unready reply (CLUSTERDOWN, LOADING,
 * MASTERDOWN, READONLY) drops every connection and the map, with the
 * usual backoff; the next call reads the map again, which after a
 * failover names the promoted replica.
 */

/* rconn_cl_conn - the connection to node hp, made when new; its index or -1 with errstr */
static int
rconn_cl_conn(struct rconn *rc, const struct hostport *hp)
{
	struct rconn_cl *cl = rc->cl;
	struct rconn_clconn *c;
	size_t	i;

	for (i = 0; i < cl->nconns; i++)
		if (hostport_same(&cl->conns[i].hp, hp))
			break;
	if (i == cl->nconns) {
		if (cl->nconns == RCONN_CL_CONNS_MAX) {
			rconn_seterr(rc, rc->addr, "more than %d cluster nodes", RCONN_CL_CONNS_MAX);
			return -1;
		}
		c = &cl->conns[cl->nconns++];
		memset(c, 0, sizeof(*c));
		c->hp = *hp;
		rconn_format_hostport(c->addr, sizeof(c->addr), hp->host, hp->port);
	}
	c = &cl->conns[i];
	if (c->ctx == NULL) {
		if ((c->ctx = rconn_open(rc, c->addr, c->hp.host, c->hp.port, NULL)) == NULL)
			return -1;
		if (rconn_login(rc, c->ctx, c->addr) < 0) {
			redisFree(c->ctx);
			c->ctx = NULL;
			return -1;
		}
		c->sent = c->got = 0;
	}
	return (int) i;
}

/* rconn_cl_clear - forget the pipeline */
static void
rconn_cl_clear(struct rconn_cl *cl)
{
	for (size_t i = 0; i < cl->qlen; i++) {
		struct rconn_cmd *e = &cl->q[cl->qhead + i];

		free(e->buf);
		if (e->reply)
			freeReplyObject(e->reply);
	}
	cl->qhead = cl->qlen = 0;
	cl->cur = -1;
	cl->multi = 0;
}

/* rconn_cl_reset - close every connection, forget the pipeline and the map */
static void
rconn_cl_reset(struct rconn_cl *cl)
{
	rconn_cl_clear(cl);
	for (size_t i = 0; i < cl->nconns; i++)
		if (cl->conns[i].ctx) {
			redisFree(cl->conns[i].ctx);
			cl->conns[i].ctx = NULL;
		}
	cl->nconns = 0;
	cl->mapped = 0;
	cl->stale = 0;
}

/*
 * rconn_cl_map - read the slot map from the first seed that answers;
 * 0, or -1 with errstr "cluster ...: no usable node: why; why"
 */
static int
rconn_cl_map(struct rconn *rc)
{
	struct rconn_cl *cl = rc->cl;
	const char *argv[2] = {"CLUSTER", "SLOTS"};
	char	errs[RCONN_ERR_MAX] = "", err[CLUSTER_ERR_MAX];
	size_t	used = 0;

	for (size_t n = 0; n < rc->seed_count; n++) {
		size_t	i = (cl->next_seed + n) % rc->seed_count;
		const struct hostport *seed = &rc->seeds[i];
		char	saddr[ENDPOINT_HOST_MAX + 16];
		redisContext *ctx;
		redisReply *r = NULL;

		rconn_format_hostport(saddr, sizeof(saddr), seed->host, seed->port);
		if ((ctx = rconn_open(rc, saddr, seed->host, seed->port, NULL)) != NULL
		    && rconn_login(rc, ctx, saddr) == 0
		    && (r = rconn_call(rc, ctx, saddr, "CLUSTER SLOTS", 2, argv)) != NULL) {
			if (cluster_map_parse(&cl->map, r, seed->host, err, sizeof(err)) < 0)
				rconn_seterr(rc, saddr, "%s", err);
			else if (cl->map.nnodes == 0)
				rconn_seterr(rc, saddr, "CLUSTER SLOTS: no slot has a primary");
			else {
				freeReplyObject(r);
				redisFree(ctx);
				cl->mapped = 1;
				cl->stale = 0;
				cl->next_seed = i;
				return 0;
			}
		}
		if (r)
			freeReplyObject(r);
		if (ctx)
			redisFree(ctx);
		used += (size_t) snprintf(errs + used, sizeof(errs) - used, "%s%s",
					  used ? "; " : "", rc->errstr);
		if (used >= sizeof(errs))
			break;
	}
	rconn_seterr(rc, rc->addr, "no usable node: %s", errs);
	return -1;
}

/* rconn_cl_push - one more command in the pipeline; the entry, or NULL with errstr */
static struct rconn_cmd *
rconn_cl_push(struct rconn *rc, char *buf, size_t len)
{
	struct rconn_cl *cl = rc->cl;
	struct rconn_cmd *e;

	if (cl->qlen >= RCONN_CL_PIPE_MAX) {
		rconn_seterr(rc, rc->addr, "more than %d pipelined commands", RCONN_CL_PIPE_MAX);
		return NULL;
	}
	if (cl->qhead + cl->qlen == cl->qcap) {
		if (cl->qhead > 0) {
			memmove(cl->q, cl->q + cl->qhead, cl->qlen * sizeof(*cl->q));
			cl->qhead = 0;
		} else {
			size_t	cap = cl->qcap ? 2 * cl->qcap : 16;
			struct rconn_cmd *q = realloc(cl->q, cap * sizeof(*q));

			if (q == NULL)
				msg_panic("rconn: out of memory");
			cl->q = q;
			cl->qcap = cap;
		}
	}
	e = &cl->q[cl->qhead + cl->qlen++];
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->len = len;
	e->conn = -1;
	return e;
}

/* rconn_cl_write - write entry e on connection i; 0 or -1 with errstr */
static int
rconn_cl_write(struct rconn *rc, struct rconn_cmd *e, int i)
{
	struct rconn_clconn *c = &rc->cl->conns[i];

	if (redisAppendFormattedCommand(c->ctx, e->buf, e->len) != REDIS_OK) {
		rconn_seterr(rc, c->addr, "cannot queue command: %s", c->ctx->errstr);
		return -1;
	}
	e->conn = i;
	e->seq = c->sent++;
	return 0;
}

/* rconn_cl_send_held - write the held (keyless) commands at the pipeline's tail on connection i */
static int
rconn_cl_send_held(struct rconn *rc, int i)
{
	struct rconn_cl *cl = rc->cl;

	for (size_t k = 0; k < cl->qlen; k++) {
		struct rconn_cmd *e = &cl->q[cl->qhead + k];

		if (e->conn < 0 && rconn_cl_write(rc, e, i) < 0)
			return -1;
	}
	return 0;
}

/*
 * rconn_cl_append - route one formatted command (buf, from hiredis's
 * formatter, owned from here on); 0 or -1 with errstr (the pipeline is
 * then lost, as on a single server)
 */
static int
rconn_cl_append(struct rconn *rc, char *buf, int len)
{
	struct rconn_cl *cl = rc->cl;
	struct rconn_cmd *e;
	const struct hostport *hp;
	const char *argv[6], *key;
	size_t	lens[6], keylen;
	int	argc, i;

	if (len < 0) {
		rconn_seterr(rc, rc->addr, "cannot queue command: bad format");
		return -1;
	}
	if ((argc = cluster_resp_args(buf, (size_t) len, argv, lens, 6)) < 0) {
		free(buf);
		rconn_seterr(rc, rc->addr, "cannot queue command: malformed");
		return -1;
	}
	if (cl->qlen == 0 && cl->stale && rconn_cl_map(rc) < 0) {
		free(buf);
		rconn_drop(rc, 1);
		rconn_count(&rconn_all_failures);
		return -1;
	}
	if (cluster_command_key(argc, argv, lens, &key, &keylen) < 0) {
		i = cl->cur;			/* -1: held, the next keyed command names the node */
	} else {
		unsigned slot = cluster_keyslot(key, keylen);

		if ((hp = cluster_map_node(&cl->map, slot)) == NULL) {
			free(buf);
			rconn_seterr(rc, rc->addr, "slot %u has no primary", slot);
			goto fail;
		}
		if ((i = rconn_cl_conn(rc, hp)) < 0 || rconn_cl_send_held(rc, i) < 0) {
			free(buf);
			goto fail;
		}
		cl->cur = i;
	}
	if ((e = rconn_cl_push(rc, buf, (size_t) len)) == NULL) {
		free(buf);
		goto fail;
	}
	if (lens[0] == 5 && strncasecmp(argv[0], "MULTI", 5) == 0)
		cl->multi = 1;
	e->multi = cl->multi;
	if ((lens[0] == 4 && strncasecmp(argv[0], "EXEC", 4) == 0)
	    || (lens[0] == 7 && strncasecmp(argv[0], "DISCARD", 7) == 0))
		cl->multi = 0;
	if (i >= 0 && rconn_cl_write(rc, e, i) < 0)
		goto fail;
	return 0;

fail:
	rconn_drop(rc, 1);
	rconn_count(&rconn_all_failures);
	return -1;
}

/*
 * rconn_cl_read - the reply of entry e, read from its connection (replies
 * of other entries read on the way are kept with them); NULL with errstr
 */
static redisReply *
rconn_cl_read(struct rconn *rc, struct rconn_cmd *e)
{
	struct rconn_cl *cl = rc->cl;
	struct rconn_clconn *c = &cl->conns[e->conn];
	char	buf[RCONN_ERR_MAX];

	while (e->reply == NULL) {
		void   *r = NULL;
		int	saved_errno;
		size_t	k;

		errno = 0;
		if (redisGetReply(c->ctx, &r) != REDIS_OK || r == NULL) {
			saved_errno = errno;
			rconn_seterr(rc, c->addr, "%s",
				     rconn_ctx_error(c->ctx, saved_errno, rc->timeout_ms, buf, sizeof(buf)));
			return NULL;
		}
		for (k = 0; k < cl->qlen; k++) {
			struct rconn_cmd *o = &cl->q[cl->qhead + k];

			if (o->conn == e->conn && o->seq == c->got && o->reply == NULL) {
				o->reply = r;
				break;
			}
		}
		c->got++;
		if (k == cl->qlen) {		/* a redirected command's first answer: not ours now */
			freeReplyObject(r);
		}
	}
	return e->reply;
}

/*
 * rconn_cl_redirect - send entry e again, alone, to the node a MOVED or
 * ASK named (ASKING first for ASK), after reading what that connection
 * still owes; its new reply in e->reply, or NULL with errstr
 */
static redisReply *
rconn_cl_redirect(struct rconn *rc, struct rconn_cmd *e, enum cluster_redirect kind,
		  struct hostport *hp)
{
	struct rconn_cl *cl = rc->cl;
	struct rconn_clconn *c;
	int	i;

	if (*hp->host == 0)
		memcpy(hp->host, cl->conns[e->conn].hp.host, sizeof(hp->host));
	if ((i = rconn_cl_conn(rc, hp)) < 0)
		return NULL;
	c = &cl->conns[i];
	for (size_t k = 0; k < cl->qlen; k++) {	/* what it still owes, kept with its commands */
		struct rconn_cmd *o = &cl->q[cl->qhead + k];

		if (o->conn == i && o->reply == NULL && rconn_cl_read(rc, o) == NULL)
			return NULL;
	}
	if (kind == CLUSTER_REDIRECT_ASK) {
		redisReply *r;
		int	saved_errno;
		char	buf[RCONN_ERR_MAX];

		errno = 0;
		r = redisCommand(c->ctx, "ASKING");
		saved_errno = errno;
		if (r == NULL) {
			rconn_seterr(rc, c->addr, "ASKING: %s",
				     rconn_ctx_error(c->ctx, saved_errno, rc->timeout_ms, buf, sizeof(buf)));
			return NULL;
		}
		freeReplyObject(r);
		c->sent++;
		c->got++;
	}
	freeReplyObject(e->reply);
	e->reply = NULL;
	if (rconn_cl_write(rc, e, i) < 0)
		return NULL;
	return rconn_cl_read(rc, e);
}

/* rconn_cl_get_reply - the next reply of the pipeline, redirects followed */
static redisReply *
rconn_cl_get_reply(struct rconn *rc)
{
	struct rconn_cl *cl = rc->cl;
	struct rconn_cmd *e;
	redisReply *r;
	char	buf[RCONN_ERR_MAX];
	int	hops = 0;

	if (cl->qlen == 0) {
		if (rc->errstr[0] && !cl->mapped)
			return NULL;		/* keep the error that lost the pipeline */
		rconn_seterr(rc, rc->addr, "no pipelined command to read a reply for");
		return NULL;
	}
	e = &cl->q[cl->qhead];
	if (e->conn < 0) {			/* only keyless commands: any primary */
		const struct hostport *hp = cl->map.nnodes ? &cl->map.nodes[0] : NULL;
		int	i = cl->cur >= 0 ? cl->cur : hp ? rconn_cl_conn(rc, hp) : -1;

		if (i < 0 || rconn_cl_send_held(rc, i) < 0)
			goto fail;
		cl->cur = i;
	}
	for (;;) {
		enum cluster_redirect kind;
		struct hostport hp;
		unsigned slot;

		if ((r = rconn_cl_read(rc, e)) == NULL)
			goto fail;
		if (r->type != REDIS_REPLY_ERROR || e->multi
		    || (kind = cluster_redirect_parse(r->str, r->len, &slot, &hp)) == CLUSTER_REDIRECT_NONE)
			break;
		if (++hops > RCONN_CL_REDIRECTS) {
			rconn_seterr(rc, rc->addr, "more than %d redirects: %s", RCONN_CL_REDIRECTS,
				     rconn_reply_text(r, buf, sizeof(buf)));
			goto fail;
		}
		if (kind == CLUSTER_REDIRECT_MOVED)
			cl->stale = 1;
		if (rconn_cl_redirect(rc, e, kind, &hp) == NULL)
			goto fail;
	}
	if (rconn_unready(r)) {
		rconn_seterr(rc, cl->conns[e->conn].addr, "%s", rconn_reply_text(r, buf, sizeof(buf)));
		rconn_drop(rc, 1);
		rconn_count(&rconn_all_failures);
		return NULL;
	}
	free(e->buf);
	cl->qhead++;
	if (--cl->qlen == 0) {
		cl->qhead = 0;
		cl->cur = -1;
		cl->multi = 0;
	}
	return r;

fail:
	rconn_drop(rc, 0);
	rconn_count(&rconn_all_failures);
	return NULL;
}

/* rconn_cl_command - one formatted command, one reply */
static redisReply *
rconn_cl_command(struct rconn *rc, char *buf, int len)
{
	if (rc->cl->qlen) {
		free(buf);
		rconn_seterr(rc, rc->addr, "command sent with %zu pipelined replies unread",
			     rc->cl->qlen);
		return NULL;
	}
	if (rconn_cl_append(rc, buf, len) < 0)
		return NULL;
	return rconn_cl_get_reply(rc);
}

/* rconn_new - an unconnected rconn with a copy of the redis settings */
struct rconn *
rconn_new(const struct conf *conf)
{
	struct rconn *rc;
	struct sigaction sa;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		msg_panic("rconn: out of memory");
	if (rconn_copy(rc->host, sizeof(rc->host), conf->redis_host) < 0)
		rc->bad_setting = "redis.host is too long";
	if (rconn_copy(rc->unix_path, sizeof(rc->unix_path), conf->redis_unix) < 0)
		rc->bad_setting = "redis.unix is too long for a socket path";
	if (*rc->host == 0 && rc->bad_setting == NULL)
		memcpy(rc->host, "127.0.0.1", sizeof("127.0.0.1"));
	rc->port = conf->redis_port ? conf->redis_port : RCONN_PORT_DEFAULT;
	rc->db = conf->redis_db;
	rc->user = rconn_strdup(conf->redis_user);
	rc->password = rconn_strdup(conf->redis_password);
	rc->timeout_ms = conf->redis_timeout_ms ? conf->redis_timeout_ms : RCONN_TIMEOUT_DEFAULT_MS;
	rc->master = rconn_strdup(conf->redis_sentinel_master);
	rc->sentinel_count = conf->redis_sentinel_count > CONF_LIST_MAX
	    ? CONF_LIST_MAX : conf->redis_sentinel_count;
	memcpy(rc->sentinels, conf->redis_sentinels, rc->sentinel_count * sizeof(rc->sentinels[0]));
	rc->sentinel_password = rconn_strdup(conf->redis_sentinel_password);
	rc->seed_count = conf->redis_cluster_count > CONF_LIST_MAX
	    ? CONF_LIST_MAX : conf->redis_cluster_count;
	memcpy(rc->seeds, conf->redis_cluster, rc->seed_count * sizeof(rc->seeds[0]));
	for (size_t i = 0; i < rc->seed_count; i++)
		if (rc->seeds[i].port == 0)
			rc->seeds[i].port = RCONN_PORT_DEFAULT;
	if (rc->seed_count) {
		if ((rc->cl = calloc(1, sizeof(*rc->cl))) == NULL)
			msg_panic("rconn: out of memory");
		rc->cl->cur = -1;
	}
	rc->state = RCONN_STATE_NEW;
	rconn_set_address(rc);

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;
		(void) sigaction(SIGPIPE, &sa, NULL);
	}
	return rc;
}

/* rconn_free - close and release; NULL is fine */
void
rconn_free(struct rconn *rc)
{
	if (rc == NULL)
		return;
	if (rc->ctx)
		redisFree(rc->ctx);
	if (rc->cl) {
		rconn_cl_reset(rc->cl);
		free(rc->cl->q);
		free(rc->cl);
	}
	free(rc->user);
	if (rc->password) {
		memset(rc->password, 0, strlen(rc->password));
		free(rc->password);
	}
	free(rc->master);
	if (rc->sentinel_password) {
		memset(rc->sentinel_password, 0, strlen(rc->sentinel_password));
		free(rc->sentinel_password);
	}
	free(rc);
}

/* rconn_connect - connect unless connected or backing off */
int
rconn_connect(struct rconn *rc)
{
	uint64_t now;

	if (rc->ctx || (rc->cl && rc->cl->mapped))
		return 0;
	if (rc->bad_setting) {
		rconn_seterr(rc, rc->addr, "%s", rc->bad_setting);
		rconn_count(&rconn_all_failures);
		return -1;
	}
	now = clock_mono_ms();
	if (rc->backoff_ms && now < rc->next_attempt_ms) {
		rconn_seterr(rc, rc->addr, "backend unavailable, next attempt in %llu ms (%s)",
			     (unsigned long long) (rc->next_attempt_ms - now), rc->lasterr);
		rconn_count(&rconn_all_failures);
		return -1;
	}
	if (rc->cl ? rconn_cl_map(rc) < 0
	    : (rc->ctx = *rc->master ? rconn_discover(rc) : rconn_direct(rc)) == NULL) {
		rconn_failed(rc);
		rconn_count(&rconn_all_failures);
		return -1;
	}
	rc->pending = 0;
	rc->backoff_ms = 0;
	if (rc->ever_connected) {
		rc->reconnects++;
		rconn_count(&rconn_all_reconnects);
	}
	if (rc->state == RCONN_STATE_DOWN)
		msg_warn("redis %s: reconnected", rc->addr);
	rc->ever_connected = 1;
	rc->connects++;
	rc->state = RCONN_STATE_UP;
	rc->errstr[0] = 0;
	return 0;
}

/* rconn_errstr - the last error, "ADDR: why" */
const char *
rconn_errstr(const struct rconn *rc)
{
	return rc->errstr;
}

/* rconn_address - where it connects or would */
const char *
rconn_address(const struct rconn *rc)
{
	return rc->addr;
}

/* rconn_reconnects - connections re-established after the first */
unsigned long
rconn_reconnects(const struct rconn *rc)
{
	return rc->reconnects;
}

/*
 * rconn_check - a reply read from the connection: NULL or an unready
 * error drops the connection and yields NULL; anything else is returned
 */
static redisReply *
rconn_check(struct rconn *rc, redisReply *r, int saved_errno)
{
	char	buf[RCONN_ERR_MAX];

	if (r == NULL) {
		rconn_seterr(rc, rc->addr, "%s",
			     rconn_ctx_error(rc->ctx, saved_errno, rc->timeout_ms, buf, sizeof(buf)));
		rconn_drop(rc, 0);
		rconn_count(&rconn_all_failures);
		return NULL;
	}
	if (rconn_unready(r)) {
		rconn_seterr(rc, rc->addr, "%s", rconn_reply_text(r, buf, sizeof(buf)));
		freeReplyObject(r);
		rconn_drop(rc, 1);
		rconn_count(&rconn_all_failures);
		return NULL;
	}
	return r;
}

/* rconn_ready - connected and no pipelined reply left unread; 0 or -1 */
static int
rconn_ready(struct rconn *rc)
{
	if (rc->pending) {
		rconn_seterr(rc, rc->addr, "command sent with %zu pipelined replies unread",
			     rc->pending);
		return -1;
	}
	return rconn_connect(rc);
}

/* rconn_command - one formatted command, one reply; NULL when Redis is down or unusable */
redisReply *
rconn_command(struct rconn *rc, const char *fmt, ...)
{
	va_list	ap;
	void   *r;
	int	saved_errno;

	if (rc->cl) {
		char   *buf;
		int	len;

		if (rconn_connect(rc) < 0)
			return NULL;
		va_start(ap, fmt);
		len = redisvFormatCommand(&buf, fmt, ap);
		va_end(ap);
		return rconn_cl_command(rc, buf, len);
	}
	if (rconn_ready(rc) < 0)
		return NULL;
	errno = 0;
	va_start(ap, fmt);
	r = redisvCommand(rc->ctx, fmt, ap);
	va_end(ap);
	saved_errno = errno;
	return rconn_check(rc, r, saved_errno);
}

/* rconn_commandargv - one command from an argument vector */
redisReply *
rconn_commandargv(struct rconn *rc, int argc, const char **argv, const size_t *argvlen)
{
	void   *r;
	int	saved_errno;

	if (rc->cl) {
		char   *buf;

		if (rconn_connect(rc) < 0)
			return NULL;
		return rconn_cl_command(rc, buf, redisFormatCommandArgv(&buf, argc, argv, argvlen));
	}
	if (rconn_ready(rc) < 0)
		return NULL;
	errno = 0;
	r = redisCommandArgv(rc->ctx, argc, argv, argvlen);
	saved_errno = errno;
	return rconn_check(rc, r, saved_errno);
}

/* rconn_queued - account for one appended command; 0 or -1 */
static int
rconn_queued(struct rconn *rc, int status)
{
	if (status != REDIS_OK) {
		rconn_seterr(rc, rc->addr, "cannot queue command: %s",
			     rc->ctx->errstr[0] ? rc->ctx->errstr : "bad format");
		return -1;
	}
	rc->pending++;
	return 0;
}

/* rconn_append - queue a formatted command for rconn_get_reply */
int
rconn_append(struct rconn *rc, const char *fmt, ...)
{
	va_list	ap;
	int	status;

	if (rconn_connect(rc) < 0)
		return -1;
	if (rc->cl) {
		char   *buf;
		int	len;

		va_start(ap, fmt);
		len = redisvFormatCommand(&buf, fmt, ap);
		va_end(ap);
		return rconn_cl_append(rc, buf, len);
	}
	va_start(ap, fmt);
	status = redisvAppendCommand(rc->ctx, fmt, ap);
	va_end(ap);
	return rconn_queued(rc, status);
}

/* rconn_appendargv - queue a command from an argument vector */
int
rconn_appendargv(struct rconn *rc, int argc, const char **argv, const size_t *argvlen)
{
	if (rconn_connect(rc) < 0)
		return -1;
	if (rc->cl) {
		char   *buf;

		return rconn_cl_append(rc, buf, redisFormatCommandArgv(&buf, argc, argv, argvlen));
	}
	return rconn_queued(rc, redisAppendCommandArgv(rc->ctx, argc, argv, argvlen));
}

/* rconn_get_reply - the next pipelined reply; NULL once the pipeline is lost */
redisReply *
rconn_get_reply(struct rconn *rc)
{
	void   *r = NULL;
	int	saved_errno;

	if (rc->cl)
		return rconn_cl_get_reply(rc);
	if (rc->ctx == NULL || rc->pending == 0) {
		if (rc->ctx == NULL && rc->errstr[0])
			return NULL;		/* keep the error that lost the pipeline */
		rconn_seterr(rc, rc->addr, "no pipelined command to read a reply for");
		return NULL;
	}
	errno = 0;
	if (redisGetReply(rc->ctx, &r) != REDIS_OK)
		r = NULL;
	saved_errno = errno;
	if (r != NULL)
		rc->pending--;
	return rconn_check(rc, r, saved_errno);
}

/*
 * rconn_wait_reply - a message the server sends unasked (a subscribed
 * connection's): wait at most wait_ms for its first byte; then it is
 * read as any reply, within redis.timeout. NULL with *timed_out set:
 * nothing came, the connection stays. NULL without it: the connection
 * failed and was dropped (rconn_errstr). Not on a cluster.
 */
redisReply *
rconn_wait_reply(struct rconn *rc, unsigned wait_ms, int *timed_out)
{
	void   *r = NULL;
	struct pollfd pfd;
	int	n;

	*timed_out = 0;
	if (rc->cl || rc->ctx == NULL) {
		rconn_seterr(rc, rc->addr, "%s", rc->cl ? "not on a cluster" : "not connected");
		return NULL;
	}
	if (redisGetReplyFromReader(rc->ctx, &r) != REDIS_OK)
		return rconn_check(rc, NULL, errno);
	if (r != NULL)
		return rconn_check(rc, r, 0);
	pfd.fd = rc->ctx->fd;
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, (int) wait_ms)) < 0 && errno == EINTR)
		 /* again: the bound is approximate */ ;
	if (n == 0) {
		*timed_out = 1;
		return NULL;
	}
	errno = 0;
	if (redisGetReply(rc->ctx, &r) != REDIS_OK)
		r = NULL;
	return rconn_check(rc, r, errno);
}

/* rconn_serial - which connection this is: raised at every connect, 0 before the first */
unsigned long
rconn_serial(const struct rconn *rc)
{
	return rc->connects;
}

/* rconn_primary - under Sentinel, the primary last found (connect first); -1 otherwise */
int
rconn_primary(const struct rconn *rc, const char **host, unsigned *port)
{
	if (*rc->master == 0 || *rc->primary == 0)
		return -1;
	*host = rc->primary;
	*port = rc->primary_port;
	return 0;
}

/* rconn_totals - failed calls and reconnects of every rconn of the process, from any thread */
void
rconn_totals(unsigned long *failures, unsigned long *reconnects)
{
	*failures = atomic_load_explicit(&rconn_all_failures, memory_order_relaxed);
	*reconnects = atomic_load_explicit(&rconn_all_reconnects, memory_order_relaxed);
}
