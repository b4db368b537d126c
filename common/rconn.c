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
 * server) starts a backoff of 100 ms that doubles up to 5 s and resets
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
};

/* every rconn of the process, for the metrics (rconn_totals) */
static _Atomic unsigned long rconn_all_failures, rconn_all_reconnects;

/* rconn_count - one more in a process-wide total */
static inline void
rconn_count(_Atomic unsigned long *total)
{
	atomic_fetch_add_explicit(total, 1, memory_order_relaxed);
}

/* rconn_now_ms - monotonic milliseconds */
static uint64_t
rconn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
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

	if (*rc->master) {
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
	static const char *const words[] = {"READONLY", "LOADING", "MASTERDOWN"};

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
	if (rc->backoff_ms == 0)
		rc->backoff_ms = RCONN_BACKOFF_MIN_MS;
	else if (rc->backoff_ms < RCONN_BACKOFF_MAX_MS)
		rc->backoff_ms = rc->backoff_ms * 2 > RCONN_BACKOFF_MAX_MS
		    ? RCONN_BACKOFF_MAX_MS : rc->backoff_ms * 2;
	rc->next_attempt_ms = rconn_now_ms() + rc->backoff_ms;
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
	rc->pending = 0;
	if (unready) {
		rconn_failed(rc);
	} else if (rc->state == RCONN_STATE_UP) {
		msg_warn("redis %s: connection lost: %s", rc->addr, rconn_cause(rc));
		rc->state = RCONN_STATE_DOWN;
	}
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

	if (rc->ctx)
		return 0;
	if (rc->bad_setting) {
		rconn_seterr(rc, rc->addr, "%s", rc->bad_setting);
		rconn_count(&rconn_all_failures);
		return -1;
	}
	now = rconn_now_ms();
	if (rc->backoff_ms && now < rc->next_attempt_ms) {
		rconn_seterr(rc, rc->addr, "backend unavailable, next attempt in %llu ms (%s)",
			     (unsigned long long) (rc->next_attempt_ms - now), rc->lasterr);
		rconn_count(&rconn_all_failures);
		return -1;
	}
	rc->ctx = *rc->master ? rconn_discover(rc) : rconn_direct(rc);
	if (rc->ctx == NULL) {
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
	return rconn_queued(rc, redisAppendCommandArgv(rc->ctx, argc, argv, argvlen));
}

/* rconn_get_reply - the next pipelined reply; NULL once the pipeline is lost */
redisReply *
rconn_get_reply(struct rconn *rc)
{
	void   *r = NULL;
	int	saved_errno;

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
