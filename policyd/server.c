/*
 * server.c - mhpolicyd's listeners and client connections.
 *
 * Two listeners on the one event loop: policyd.listen speaks the Postfix
 * policy delegation protocol, policyd.socketmap the socketmap protocol;
 * each is inet (host:port, v4 or v6) or a unix socket (mode 0666, so
 * Postfix's unprivileged processes can connect; put it in a directory
 * only Postfix can reach).
 *
 * A connection is a small state machine:
 *	READING  -- a complete request -->  WAITING (a job decides)
 *	WAITING  -- the job answers    -->  READING (the reply is sent)
 *	any      -- protocol error      -->  CLOSING (the error reply, if the
 *					    protocol has one, then close)
 * Only one request per connection is decided at a time.
 *
 * I/O is plain read() and send() on a non-blocking socket, two events a
 * connection: a persistent read event, on except while closing or while
 * too much input waits; a write event, added only while a reply could
 * not be written whole. A request answered at once (a cache hit) costs
 * one read() and one send(). On readable, bytes are read into a buffer on
 * the stack (at most CONN_READ_BUDGET a wakeup, so one client cannot
 * starve the others) and fed straight to the parser. Bytes the parser has
 * not taken because a job is deciding (a pipelined request) go to the
 * input buffer; bytes the socket would not take go to the output buffer.
 * Both are allocated only while they hold something, so an idle
 * connection costs its struct, its two events and its parser.
 *
 * A reply given inside the read loop (decided at once) lets the loop go
 * on with the next request; a reply given later (a Redis or DNS callback)
 * activates the read event, whose callback decides the buffered requests:
 * no recursion. A connection is never freed under its own read callback:
 * conn_free marks it, the callback frees it on its way out.
 *
 * Bounds: CONN_INPUT_MAX of input waits while a job runs (then reading
 * stops until it drains); CONN_OUTPUT_MAX of unwritten replies (then the
 * client "does not read its replies" and is closed). Time: every
 * connection keeps the time of its last read or write (or of its reply);
 * one sweep timer for the whole server, every idle_timeout/4 (100 ms to
 * 1 s) while there are connections, closes those silent for
 * policyd.idle_timeout: an idle or half-sent request ("idle timeout",
 * READING; never while WAITING, when the client waits for us), a reply
 * the client does not take ("write timeout"). A timeout fires between
 * idle_timeout and idle_timeout plus the sweep interval; a reload's new
 * idle_timeout applies to every connection.
 *
 * A connection that closes while its job runs is freed when the closing
 * is read; the job is told (its `gone` hook) and drops its answer.
 *
 * At most policyd.max_connections at once: beyond that a new connection
 * is closed at once and logged (Postfix then uses its default action).
 *
 * Logging: protocol errors "warning: policy: malformed request from PEER:
 * WHY; closing", write timeouts; with -v idle timeouts and socket errors;
 * with -vv connections, disconnections and state changes.
 *
 * Public functions: server_listen, server_stop_listening, server_drain,
 * conn_reply, conn_close_after_reply, conn_peer, conn_set_job, conn_txn.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "policy_proto.h"
#include "pmetrics.h"
#include "policyd.h"
#include "sbuf.h"
#include "socketmap_proto.h"

#define CONN_PEER_MAX		64
#define CONN_OUTPUT_MAX		(256 * 1024)	/* unread replies: a client that never reads */
#define CONN_INPUT_MAX		(2 * POLICY_REQUEST_MAX)	/* buffered input while a job runs */
#define CONN_READ_CHUNK		16384	/* one read(), on the stack */
#define CONN_READ_BUDGET	(64 * 1024)	/* bytes read from one client per wakeup */
#define SERVER_SWEEP_MIN_MS	100	/* the timeout sweep: idle_timeout/4 within these */
#define SERVER_SWEEP_MAX_MS	1000

#ifdef CLOCK_MONOTONIC_COARSE
#define SERVER_CLOCK		CLOCK_MONOTONIC_COARSE	/* a few ms resolution, no system call */
#else
#define SERVER_CLOCK		CLOCK_MONOTONIC
#endif

enum conn_state {
	CONN_READING,
	CONN_WAITING,
	CONN_CLOSING
};

static const char *const conn_state_names[] = {"reading", "waiting", "closing"};
static const char *const conn_kind_names[] = {"policy", "socketmap"};

struct conn {
	struct policyd *pd;
	enum conn_kind kind;
	enum conn_state state;
	evutil_socket_t fd;
	struct event *rd;		/* persistent; pending iff `reading` */
	struct event *wr;		/* persistent; pending iff out.len > 0 */
	struct sbuf in;			/* received, not yet parsed (a job runs) */
	struct sbuf out;		/* replies the socket did not take yet */
	int64_t	last_active;		/* ms, SERVER_CLOCK: last read, write or reply */
	size_t	unfed;			/* while feeding: bytes after the request being decided */
	unsigned reading:1;		/* the read event is pending */
	unsigned in_read:1;		/* inside conn_on_read: free later */
	unsigned feeding:1;		/* inside conn_feed: `unfed` counts */
	unsigned resume:1;		/* read event activated to decide buffered requests */
	unsigned dead:1;		/* conn_free under conn_on_read: free on its way out */
	char	peer[CONN_PEER_MAX];
	struct policy_parser *pp;
	struct socketmap_parser *sp;
	void   *job;			/* the request being decided */
	void	(*job_gone) (void *);
	struct conn_txn txn;		/* outbound.c's count of the transaction */
	struct conn *prev, *next;	/* pd->conns */
};

/* the one timeout sweep of the process (one server a process) */
static struct event *server_sweep_timer;

/* server_now - SERVER_CLOCK in milliseconds */
static int64_t
server_now(void)
{
	struct timespec ts;

	clock_gettime(SERVER_CLOCK, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* conn_enter_state - log old -> new with -vv */
static void
conn_enter_state(struct conn *c, enum conn_state state)
{
	if (msg_verbose > 1)
		msg_info("%s %s: %s -> %s", conn_kind_names[c->kind], c->peer,
			 conn_state_names[c->state], conn_state_names[state]);
	c->state = state;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

/* conn_close - release the connection now; a job in flight is told */
static void
conn_close(struct conn *c)
{
	struct policyd *pd = c->pd;

	if (c->job && c->job_gone)
		c->job_gone(c->job);
	if (c->prev)
		c->prev->next = c->next;
	else
		pd->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	event_free(c->rd);
	event_free(c->wr);
	evutil_closesocket(c->fd);
	sbuf_free(&c->in);
	sbuf_free(&c->out);
	policy_parser_free(c->pp);
	socketmap_parser_free(c->sp);
	metrics_gauge_add(&pm_connections, c->kind, -1);
	free(c);
	if (--pd->nconns == 0)
		evtimer_del(server_sweep_timer);
	if (pd->draining && policyd_idle(pd))
		event_base_loopexit(pd->base, NULL);
}

/* conn_free - the connection is done (later when under its own read callback) */
static void
conn_free(struct conn *c)
{
	if (c->in_read)
		c->dead = 1;
	else
		conn_close(c);
}

/* conn_txn - what outbound.c keeps about the connection's SMTP transaction */
struct conn_txn *
conn_txn(struct conn *c)
{
	return &c->txn;
}

/* conn_set_job - the job now deciding for this connection */
void
conn_set_job(struct conn *c, void *job, void (*gone)(void *))
{
	c->job = job;
	c->job_gone = gone;
}

/* conn_want_read - add or delete the read event */
static void
conn_want_read(struct conn *c, int on)
{
	if (on && !c->reading)
		event_add(c->rd, NULL);
	else if (!on && c->reading)
		event_del(c->rd);
	c->reading = on ? 1 : 0;
}

/* conn_io_error - a socket error: log with -v, close */
static void
conn_io_error(struct conn *c, int err)
{
	if (msg_verbose)
		msg_info("%s %s: %s; closing", conn_kind_names[c->kind], c->peer, strerror(err));
	conn_free(c);
}

/* conn_write - send(2) what the socket takes: the bytes sent, 0 when it is full, -1 on an error */
static ssize_t
conn_write(struct conn *c, const char *data, size_t len)
{
	ssize_t	n;

	do {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	c->last_active = server_now();
	return n;
}

/* conn_send - send what the socket takes now, keep the rest; -1 when the connection failed */
static int
conn_send(struct conn *c, const char *data, size_t len)
{
	ssize_t	n;

	if (c->out.len == 0) {
		if ((n = conn_write(c, data, len)) < 0) {
			conn_io_error(c, errno);
			return -1;
		}
		data += n;
		len -= (size_t) n;
		if (len == 0)
			return 0;
		event_add(c->wr, NULL);
	}
	/* conn_reply keeps CONN_OUTPUT_MAX, leaving room for one closing reply */
	if (sbuf_append(&c->out, data, len) < 0)
		msg_panic("server: %s: output past its bound (%zu + %zu bytes)", c->peer, c->out.len, len);
	return 0;
}

/* conn_on_write - the socket takes more: send what is kept; close when closing and done */
static void
conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t	n;

	(void) fd;
	(void) what;
	if ((n = conn_write(c, c->out.data, c->out.len)) < 0) {
		conn_io_error(c, errno);
		return;
	}
	if ((size_t) n < c->out.len) {
		sbuf_consume(&c->out, (size_t) n);
		return;
	}
	sbuf_free(&c->out);
	event_del(c->wr);
	if (c->state == CONN_CLOSING)
		conn_free(c);
}

/* conn_fail - protocol error: log, answer if the protocol can, close */
static void
conn_fail(struct conn *c, const char *why)
{
	char	buf[SOCKETMAP_REPLY_MAX] = "";
	int	n = -1;

	msg_warn("%s: malformed request from %s: %s; closing", conn_kind_names[c->kind], c->peer, why);
	if (c->kind == CONN_SOCKETMAP)
		n = socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_PERM, "malformed request");
	conn_close_after_reply(c, buf, n > 0 ? (size_t) n : 0);
}

/* conn_parse - feed the connection's parser: 0 wants more, 1 a whole request, -1 an error */
static int
conn_parse(struct conn *c, const char *data, size_t len, size_t *consumed)
{
	if (c->kind == CONN_POLICY) {
		switch (policy_parser_feed(c->pp, data, len, consumed)) {
		case POLICY_PARSE_MORE:
			return 0;
		case POLICY_PARSE_DONE:
			return 1;
		default:
			return -1;
		}
	}
	switch (socketmap_parser_feed(c->sp, data, len, consumed)) {
	case SOCKETMAP_PARSE_MORE:
		return 0;
	case SOCKETMAP_PARSE_DONE:
		return 1;
	default:
		return -1;
	}
}

/*
 * conn_feed - give bytes to the parser and decide each whole request;
 * returns the bytes taken. It stops at a request that a job decides
 * (WAITING), at a protocol error (CLOSING) or when the connection died.
 */
static size_t
conn_feed(struct conn *c, const char *data, size_t len)
{
	size_t	off = 0;

	c->feeding = 1;
	while (off < len && c->state == CONN_READING && !c->dead) {
		size_t	consumed = 0;
		int	res = conn_parse(c, data + off, len - off, &consumed);

		off += consumed;
		if (res < 0) {
			conn_fail(c, c->kind == CONN_POLICY ? policy_parser_error(c->pp)
				  : socketmap_parser_error(c->sp));
			break;
		}
		if (res == 0)
			break;			/* all taken, the request goes on */
		/* a whole request: decide it before parsing more */
		c->unfed = len - off;
		conn_enter_state(c, CONN_WAITING);
		if (c->kind == CONN_POLICY)
			policy_handle(c->pd, c, c->pp);
		else
			socketmap_handle(c->pd, c, c->sp);
		/* answered at once (READING again), a job runs, or closing/dead: c stays allocated */
	}
	c->feeding = 0;
	c->unfed = 0;
	return off;
}

/* conn_feed_buffered - decide requests waiting in the input buffer */
static void
conn_feed_buffered(struct conn *c)
{
	size_t	n;

	if (c->in.len == 0 || c->state != CONN_READING)
		return;
	n = conn_feed(c, c->in.data, c->in.len);
	if (n >= c->in.len)
		sbuf_free(&c->in);
	else
		sbuf_consume(&c->in, n);
}

/* conn_read_socket - read until the socket is empty or the budget spent; feed or keep */
static void
conn_read_socket(struct conn *c)
{
	char	buf[CONN_READ_CHUNK];
	size_t	total = 0;

	while (!c->dead && c->state != CONN_CLOSING && total < CONN_READ_BUDGET) {
		size_t	room = CONN_INPUT_MAX - c->in.len;
		size_t	taken = 0;
		ssize_t	n;

		if (room == 0)
			break;			/* the high-water mark: conn_on_read stops reading */
		if (room > sizeof(buf))
			room = sizeof(buf);
		if ((n = read(c->fd, buf, room)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_io_error(c, errno);
			break;
		}
		if (n == 0) {
			if (msg_verbose > 1)
				msg_info("%s %s: disconnected", conn_kind_names[c->kind], c->peer);
			conn_free(c);
			break;
		}
		total += (size_t) n;
		c->last_active = server_now();
		if (c->in.len == 0 && c->state == CONN_READING)
			taken = conn_feed(c, buf, (size_t) n);
		if (taken < (size_t) n && c->state != CONN_CLOSING && !c->dead) {
			/* a job decides: the next request waits (room kept the bound) */
			if (sbuf_append(&c->in, buf + taken, (size_t) n - taken) < 0)
				msg_panic("server: %s: input past its bound", c->peer);
			conn_feed_buffered(c);
		}
		if ((size_t) n < room)
			break;			/* most likely empty: epoll says when not */
	}
}

/* conn_on_read - readable, or buffered requests to decide after an answer */
static void
conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void) fd;
	(void) what;
	c->in_read = 1;
	conn_feed_buffered(c);
	if (c->resume)
		c->resume = 0;			/* activated by conn_reply, not by the socket */
	else
		conn_read_socket(c);
	c->in_read = 0;
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (c->state != CONN_CLOSING)
		conn_want_read(c, c->in.len < CONN_INPUT_MAX);
}

/* conn_reply - send the answer, go back to reading (possibly a pipelined request) */
void
conn_reply(struct conn *c, const char *data, size_t len)
{
	c->job = NULL;
	c->job_gone = NULL;
	if (c->state == CONN_CLOSING || c->dead)
		return;
	if (c->out.len + len > CONN_OUTPUT_MAX) {
		conn_fail(c, "client does not read its replies");
		return;
	}
	if (c->kind == CONN_POLICY)
		policy_parser_reset(c->pp);
	else
		socketmap_parser_reset(c->sp);
	conn_enter_state(c, CONN_READING);
	/* the client's turn: its idle time starts now, not when it sent the request */
	c->last_active = server_now();
	if (conn_send(c, data, len) < 0)
		return;
	if (c->pd->draining && (c->feeding ? c->unfed : c->in.len) == 0) {
		conn_close_after_reply(c, NULL, 0);
		return;
	}
	/* a pipelined request already buffered: no new bytes will wake us for it */
	if (!c->in_read && c->in.len > 0) {
		c->resume = 1;
		event_active(c->rd, EV_READ, 1);
	}
}

/* conn_close_after_reply - last bytes, then close */
void
conn_close_after_reply(struct conn *c, const char *data, size_t len)
{
	c->job = NULL;
	c->job_gone = NULL;
	if (c->dead)
		return;
	conn_enter_state(c, CONN_CLOSING);
	conn_want_read(c, 0);
	if (len && conn_send(c, data, len) < 0)
		return;
	if (c->out.len == 0)
		conn_free(c);
	/* else conn_on_write frees it once flushed (or the sweep on a write timeout) */
}

/* server_sweep_arm - next sweep in idle_timeout/4, within SERVER_SWEEP_MIN_MS..MAX_MS */
static void
server_sweep_arm(struct policyd *pd)
{
	uint64_t ms = pd->conf->policyd_idle_timeout_ms / 4;
	struct timeval tv;

	if (ms < SERVER_SWEEP_MIN_MS)
		ms = SERVER_SWEEP_MIN_MS;
	if (ms > SERVER_SWEEP_MAX_MS)
		ms = SERVER_SWEEP_MAX_MS;
	tv.tv_sec = (time_t) (ms / 1000);
	tv.tv_usec = (suseconds_t) (ms % 1000) * 1000;
	evtimer_add(server_sweep_timer, &tv);
}

/* server_sweep - close connections silent for idle_timeout (not those waiting for a job) */
static void
server_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct policyd *pd = arg;
	int64_t	now = server_now();
	int64_t	idle = (int64_t) pd->conf->policyd_idle_timeout_ms;
	struct conn *c, *next;

	(void) fd;
	(void) what;
	for (c = pd->conns; c; c = next) {
		next = c->next;
		if (now - c->last_active < idle)
			continue;
		if (c->out.len > 0) {
			msg_info("%s %s: write timeout; closing", conn_kind_names[c->kind], c->peer);
		} else if (c->state == CONN_READING) {
			if (msg_verbose)
				msg_info("%s %s: idle timeout; closing", conn_kind_names[c->kind], c->peer);
		} else {
			continue;			/* WAITING: the client waits for us */
		}
		conn_free(c);
	}
	if (pd->nconns > 0)
		server_sweep_arm(pd);
}

/* conn_accept - a new client */
static void
conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct policyd *pd = arg;
	enum conn_kind kind = (l == pd->policy_listener) ? CONN_POLICY : CONN_SOCKETMAP;
	struct conn *c;
	char	host[INET6_ADDRSTRLEN] = "unix";
	unsigned port = 0;

	(void) salen;
	if (pd->draining || pd->nconns >= pd->conf->policyd_max_connections) {
		msg_warn("%s: %s; connection refused", conn_kind_names[kind],
			 pd->draining ? "shutting down" : "too many connections (policyd.max_connections)");
		metrics_inc(&pm_connections_refused, kind);
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		msg_panic("server: out of memory");
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *) sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *) sa)->sin6_port);
	}
	if (port) {
		int	on = 1;

		/* replies go out at once, even behind an unacknowledged one (pipelining) */
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	} else {
		snprintf(c->peer, sizeof(c->peer), "%s", host);
	}
	c->pd = pd;
	c->kind = kind;
	c->state = CONN_READING;
	c->fd = fd;				/* non-blocking: the listener has no LEV_OPT_LEAVE_SOCKETS_BLOCKING */
	sbuf_init(&c->in, CONN_INPUT_MAX);
	sbuf_init(&c->out, CONN_OUTPUT_MAX + SOCKETMAP_REPLY_MAX);
	c->last_active = server_now();
	if (kind == CONN_POLICY)
		c->pp = policy_parser_create();
	else
		c->sp = socketmap_parser_create();
	c->rd = event_new(pd->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
	c->wr = event_new(pd->base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
	if (c->rd == NULL || c->wr == NULL || (kind == CONN_POLICY ? c->pp == NULL : c->sp == NULL))
		msg_panic("server: out of memory");
	conn_want_read(c, 1);
	c->next = pd->conns;
	if (pd->conns)
		pd->conns->prev = c;
	pd->conns = c;
	pd->nconns++;
	metrics_gauge_add(&pm_connections, kind, 1);
	if (!evtimer_pending(server_sweep_timer, NULL))
		server_sweep_arm(pd);
	if (msg_verbose > 1)
		msg_info("%s %s: connected", conn_kind_names[kind], c->peer);
}

/* server_bind - a listening socket for an endpoint */
static struct evconnlistener *
server_bind(struct policyd *pd, const struct endpoint *ep, char *err, size_t errlen)
{
	struct evconnlistener *l;
	char	text[ENDPOINT_PATH_MAX + ENDPOINT_HOST_MAX + 16];
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

	endpoint_format(ep, text, sizeof(text));
	if (ep->kind == ENDPOINT_UNIX) {
		struct sockaddr_un sun;
		struct stat st;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ep->path);
		/* a stale socket of a previous run; never remove anything else */
		if (lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(ep->path);
		l = evconnlistener_new_bind(pd->base, conn_accept, pd, flags, -1,
					    (struct sockaddr *) &sun, sizeof(sun));
		if (l == NULL) {
			snprintf(err, errlen, "%s: cannot listen: %s", text, strerror(errno));
			return NULL;
		}
		chmod(ep->path, 0666);
		return l;
	} else {
		struct addrinfo hints, *ai = NULL;
		char	port[8];
		int	rc;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%u", ep->port);
		if ((rc = getaddrinfo(ep->host, port, &hints, &ai)) != 0) {
			snprintf(err, errlen, "%s: %s", text, gai_strerror(rc));
			return NULL;
		}
		l = evconnlistener_new_bind(pd->base, conn_accept, pd, flags, -1, ai->ai_addr,
					    (int) ai->ai_addrlen);
		if (l == NULL)
			snprintf(err, errlen, "%s: cannot listen: %s", text, strerror(errno));
		freeaddrinfo(ai);
		return l;
	}
}

/* server_listen - bind both listeners (before dropping privileges) */
int
server_listen(struct policyd *pd, char *err, size_t errlen)
{
	if (server_sweep_timer == NULL
	    && (server_sweep_timer = evtimer_new(pd->base, server_sweep, pd)) == NULL) {
		snprintf(err, errlen, "cannot create the timeout timer");
		return -1;
	}
	if (pd->conf->policyd_listen.kind != ENDPOINT_NONE
	    && (pd->policy_listener = server_bind(pd, &pd->conf->policyd_listen, err, errlen)) == NULL)
		return -1;
	if (pd->conf->policyd_socketmap.kind != ENDPOINT_NONE
	    && (pd->socketmap_listener = server_bind(pd, &pd->conf->policyd_socketmap, err, errlen)) == NULL)
		return -1;
	return 0;
}

/* server_stop_listening - no new connections */
void
server_stop_listening(struct policyd *pd)
{
	if (pd->policy_listener)
		evconnlistener_disable(pd->policy_listener);
	if (pd->socketmap_listener)
		evconnlistener_disable(pd->socketmap_listener);
}

/* server_drain - SIGTERM: stop listening; close every connection not deciding a request */
void
server_drain(struct policyd *pd)
{
	struct conn *c, *next;

	server_stop_listening(pd);
	for (c = pd->conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_READING)
			conn_close_after_reply(c, NULL, 0);
	}
	if (policyd_idle(pd))
		event_base_loopexit(pd->base, NULL);
}
