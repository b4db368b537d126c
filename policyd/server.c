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
 *	WAITING  -- the job answers    -->  READING (the reply is queued)
 *	any      -- protocol error      -->  CLOSING (the error reply, if the
 *					    protocol has one, then close)
 * Only one request per connection is decided at a time; bytes of the
 * next (pipelined) request wait in the input buffer. A connection that
 * closes while its job runs is freed at once; the job is told (its
 * `gone` hook) and drops its answer. Every wait has a timer: an idle or
 * half-sent request times out after policyd.idle_timeout, a reply that
 * cannot be written after the same time closes the connection.
 *
 * At most policyd.max_connections at once: beyond that a new connection
 * is closed at once and logged (Postfix then uses its default action).
 *
 * Logging: protocol errors "warning: policy: malformed request from PEER:
 * WHY; closing", connection events with -v.
 *
 * Public functions: server_listen, server_stop_listening, server_drain,
 * conn_reply, conn_close_after_reply, conn_peer, conn_set_job.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "log.h"
#include "policy_proto.h"
#include "policyd.h"
#include "socketmap_proto.h"

#define CONN_PEER_MAX		64
#define CONN_OUTPUT_MAX		(256 * 1024)	/* unread replies: a client that never reads */
#define CONN_INPUT_MAX		(2 * POLICY_REQUEST_MAX)	/* buffered input while a job runs */

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
	struct bufferevent *bev;
	char	peer[CONN_PEER_MAX];
	struct policy_parser *pp;
	struct socketmap_parser *sp;
	void   *job;			/* the request being decided */
	void	(*job_gone) (void *);
	struct conn *prev, *next;	/* pd->conns */
};

static void conn_read_requests(struct conn *);

/* conn_enter_state - log old -> new with -v */
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

/* conn_free - the connection is done; a job in flight is told */
static void
conn_free(struct conn *c)
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
	bufferevent_free(c->bev);
	policy_parser_free(c->pp);
	socketmap_parser_free(c->sp);
	free(c);
	pd->nconns--;
	if (pd->draining && policyd_idle(pd))
		event_base_loopexit(pd->base, NULL);
}

/* conn_set_job - the job now deciding for this connection */
void
conn_set_job(struct conn *c, void *job, void (*gone)(void *))
{
	c->job = job;
	c->job_gone = gone;
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

/* conn_read_requests - feed buffered bytes to the parser; start a job on a whole request */
static void
conn_read_requests(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->state == CONN_READING && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t	consumed = 0;
		int	res;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (c->kind == CONN_POLICY)
			res = policy_parser_feed(c->pp, v.iov_base, v.iov_len, &consumed);
		else
			res = socketmap_parser_feed(c->sp, v.iov_base, v.iov_len, &consumed);
		evbuffer_drain(in, consumed);
		if ((c->kind == CONN_POLICY && res == POLICY_PARSE_ERROR)
		    || (c->kind == CONN_SOCKETMAP && res == SOCKETMAP_PARSE_ERROR)) {
			conn_fail(c, c->kind == CONN_POLICY ? policy_parser_error(c->pp)
				  : socketmap_parser_error(c->sp));
			return;
		}
		if ((c->kind == CONN_POLICY && res == POLICY_PARSE_MORE)
		    || (c->kind == CONN_SOCKETMAP && res == SOCKETMAP_PARSE_MORE))
			continue;
		/*
		 * A whole request: decide it before looking at more input. Reading
		 * stays on (Postfix sends one request at a time; a client that
		 * pipelines more is bounded by the read high-water mark).
		 */
		conn_enter_state(c, CONN_WAITING);
		if (c->kind == CONN_POLICY)
			policy_handle(c->pd, c, c->pp);
		else
			socketmap_handle(c->pd, c, c->sp);
		/* answered at once (conn_reply ran), or a job runs; c is still valid here */
	}
}

/* conn_reply - queue the answer, go back to reading (possibly a pipelined request) */
void
conn_reply(struct conn *c, const char *data, size_t len)
{
	c->job = NULL;
	c->job_gone = NULL;
	if (c->state == CONN_CLOSING)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) + len > CONN_OUTPUT_MAX) {
		conn_fail(c, "client does not read its replies");
		return;
	}
	bufferevent_write(c->bev, data, len);
	if (c->kind == CONN_POLICY)
		policy_parser_reset(c->pp);
	else
		socketmap_parser_reset(c->sp);
	conn_enter_state(c, CONN_READING);
	if (c->pd->draining && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
		conn_close_after_reply(c, NULL, 0);
		return;
	}
	/* a pipelined request already buffered: no new bytes will wake us for it */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* conn_write_done - output drained: close when closing */
static void
conn_write_done(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void) bev;
	if (c->state == CONN_CLOSING)
		conn_free(c);
}

/* conn_close_after_reply - last bytes, then close */
void
conn_close_after_reply(struct conn *c, const char *data, size_t len)
{
	c->job = NULL;
	c->job_gone = NULL;
	conn_enter_state(c, CONN_CLOSING);
	bufferevent_disable(c->bev, EV_READ);
	if (len)
		bufferevent_write(c->bev, data, len);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
	/* else conn_write_done frees it once flushed (or the write timeout does) */
}

/* conn_on_read - bytes arrived */
static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	(void) bev;
	conn_read_requests(arg);
}

/* conn_on_event - EOF, error, timeout */
static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void) bev;
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->state == CONN_WAITING && (what & BEV_EVENT_READING)) {
			/* the client waits for us, not we for it: keep the connection */
			bufferevent_enable(c->bev, EV_READ);
			return;
		}
		if (msg_verbose || (what & BEV_EVENT_WRITING))
			msg_info("%s %s: %s timeout; closing", conn_kind_names[c->kind], c->peer,
				 (what & BEV_EVENT_WRITING) ? "write" : "idle");
	} else if ((what & BEV_EVENT_ERROR) && msg_verbose) {
		msg_info("%s %s: %s; closing", conn_kind_names[c->kind], c->peer,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	} else if (msg_verbose > 1) {
		msg_info("%s %s: disconnected", conn_kind_names[c->kind], c->peer);
	}
	conn_free(c);
}

/* conn_accept - a new client */
static void
conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct policyd *pd = arg;
	enum conn_kind kind = (l == pd->policy_listener) ? CONN_POLICY : CONN_SOCKETMAP;
	struct conn *c;
	struct timeval idle;
	char	host[INET6_ADDRSTRLEN] = "unix";
	unsigned port = 0;

	(void) salen;
	if (pd->draining || pd->nconns >= pd->max_conns) {
		msg_warn("%s: %s; connection refused", conn_kind_names[kind],
			 pd->draining ? "shutting down" : "too many connections (policyd.max_connections)");
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
	if (port)
		snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s", host);
	c->pd = pd;
	c->kind = kind;
	c->state = CONN_READING;
	if (kind == CONN_POLICY)
		c->pp = policy_parser_create();
	else
		c->sp = socketmap_parser_create();
	c->bev = bufferevent_socket_new(pd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL || (kind == CONN_POLICY ? c->pp == NULL : c->sp == NULL))
		msg_panic("server: out of memory");
	bufferevent_setcb(c->bev, conn_on_read, conn_write_done, conn_on_event, c);
	idle.tv_sec = (time_t) (pd->conf->policyd_idle_timeout_ms / 1000);
	idle.tv_usec = (suseconds_t) (pd->conf->policyd_idle_timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	/* stop reading from a client that sends much more than one request ahead */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_INPUT_MAX);
	bufferevent_enable(c->bev, EV_READ);
	c->next = pd->conns;
	if (pd->conns)
		pd->conns->prev = c;
	pd->conns = c;
	pd->nconns++;
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
		l = evconnlistener_new_bind(pd->base, conn_accept, pd, flags, 128,
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
		l = evconnlistener_new_bind(pd->base, conn_accept, pd, flags, 128, ai->ai_addr,
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
	pd->max_conns = pd->conf->policyd_max_connections;
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
