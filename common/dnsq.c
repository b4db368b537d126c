/*
 * dnsq.c - asynchronous DNS for mhpolicyd's event loop: MX, A and TXT
 * lookups that report the TTL to cache the answer for.
 *
 * c-ares does the sending, retrying and matching of answers; it runs on
 * the caller's libevent base: ARES_OPT_SOCK_STATE_CB adds and removes one
 * persistent read/write event per c-ares socket, and one timer follows
 * ares_timeout() so that c-ares's retries and timeouts happen without a
 * blocking call. Servers are dns.servers ("127.0.0.1@5353": port 0 means
 * 53), or /etc/resolv.conf when there are none. Names are absolute
 * (ares_query, never ares_search: no search domains are appended).
 *
 * Timing: each query has its own deadline of dns.timeout; when it passes
 * the callback gets DNSQ_TEMPFAIL, whatever c-ares is still doing. Within
 * that budget c-ares tries each server DNSQ_TRIES (2) times; the first
 * try waits dns.timeout/3 and c-ares doubles the wait for the second, so
 * with one server both tries fit the budget.
 *
 * c-ares 1.18 gives no TTL for MX or TXT, so answers are parsed from the
 * raw message by dnsq_parse.c (pure: no socket, no logging), which also
 * follows CNAMEs and works out positive and negative TTLs.
 *
 * Bounds: MX_HOSTS_MAX exchanges (the most preferred, as mx_set_add
 * keeps), DNSQ_A_MAX addresses, DNSQ_TXT_MAX bytes of TXT (the strings of
 * the first record joined; a NUL byte becomes '?'). Anything past a bound
 * is dropped with a warning. MX records naming "." (null MX, RFC 7505) or
 * a name that is not a host name are skipped: a domain with only such
 * records answers DNSQ_OK with an empty set.
 *
 * Lifetime: the callback of an accepted query runs exactly once, from the
 * event loop (never inside dnsq_mx/a/txt), or from dnsq_free with
 * DNSQ_CANCELLED. A request stays allocated until both its callback has
 * run and c-ares has let go of it. A caller that goes away first marks its
 * own request object and lets the callback free it. dnsq_free from inside
 * a callback is deferred until that callback returns.
 *
 * Public functions: dnsq_new, dnsq_free, dnsq_mx, dnsq_a, dnsq_txt,
 * dnsq_pending (the answer parsers are in dnsq_parse.c).
 *
 * Logs: a warning for a malformed answer (with the reason), for records
 * dropped at a bound, and when the resolver cannot watch a socket; with
 * -v, every failed lookup. Failures never stop the daemon: they are
 * DNSQ_TEMPFAIL.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <event2/event.h>

#include "conf.h"
#include "dnsq.h"
#include "dnsq_ares.h"
#include "dnsq_parse.h"
#include "log.h"

static int dnsq_library_users;		/* dnsq objects alive: ares_library_init once */

/* --- the resolver on the event loop -------------------------------------------- */

enum dnsq_type {
	DNSQ_TYPE_MX,
	DNSQ_TYPE_A,
	DNSQ_TYPE_TXT
};

/* one socket c-ares asked us to watch */
struct dnsq_sock {
	ares_socket_t fd;
	struct event *ev;
	struct dnsq_sock *next;
};

struct dnsq {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;		/* c-ares's retries and timeouts (ares_timeout) */
	struct dnsq_sock *socks;
	struct dnsq_req *reqs;		/* every request not yet freed */
	size_t	pending;		/* callbacks not yet run */
	struct timeval deadline;	/* dns.timeout */
	int	busy;			/* depth of user callbacks running */
	int	dying;			/* dnsq_free was called */
};

/* one query: alive until its callback ran and c-ares let go of it */
struct dnsq_req {
	struct dnsq *q;
	struct dnsq_req *prev;
	struct dnsq_req *next;
	struct event *ev;		/* the deadline; made active to deliver */
	enum dnsq_type type;
	union {
		dnsq_mx_cb *mx;
		dnsq_a_cb *a;
		dnsq_txt_cb *txt;
	}	cb;
	void   *arg;
	int	in_ares;		/* c-ares still holds a pointer to us */
	int	answered;		/* status and data are final */
	int	delivered;		/* the callback ran */
	enum dnsq_status status;
	uint32_t ttl;
	union {
		struct mx_set mx;
		struct {
			unsigned char addrs[DNSQ_A_MAX][4];
			size_t	count;
		}	a;
		char	txt[DNSQ_TXT_MAX + 1];
	}	u;
	char	name[DNSQ_NAME_MAX + 1];
};

static const char *const dnsq_type_names[] = {"MX", "A", "TXT"};

static void dnsq_timer_update(struct dnsq *);

/* dnsq_name_ok - copy a query name without its trailing dot; 0 if it is a valid DNS name */
static int
dnsq_name_ok(const char *name, char *out)
{
	size_t	len = strlen(name);
	size_t	label = 0;

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNSQ_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) name[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			   || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[i] = (char) c;
	}
	out[len] = 0;
	return label ? 0 : -1;
}

/* dnsq_req_free - unlink and free one request */
static void
dnsq_req_free(struct dnsq_req *req)
{
	struct dnsq *q = req->q;

	if (req->prev)
		req->prev->next = req->next;
	else
		q->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	event_free(req->ev);
	free(req);
}

/* dnsq_deliver - run the callback once; data only with DNSQ_OK */
static void
dnsq_deliver(struct dnsq_req *req)
{
	struct dnsq *q = req->q;
	int	ok = req->status == DNSQ_OK;
	static const struct mx_set no_mx;

	req->delivered = 1;
	q->pending--;
	q->busy++;
	switch (req->type) {
	case DNSQ_TYPE_MX:
		req->cb.mx(req->status, ok ? &req->u.mx : &no_mx, req->ttl, req->arg);
		break;
	case DNSQ_TYPE_A:
		req->cb.a(req->status, (const unsigned char (*)[4]) req->u.a.addrs,
			  ok ? req->u.a.count : 0, req->ttl, req->arg);
		break;
	case DNSQ_TYPE_TXT:
		req->cb.txt(req->status, ok ? req->u.txt : "", req->ttl, req->arg);
		break;
	}
	q->busy--;
}

/* dnsq_destroy - the real dnsq_free: cancel what is left, free everything */
static void
dnsq_destroy(struct dnsq *q)
{
	struct dnsq_sock *s;

	ares_destroy(q->channel);		/* dnsq_ares_done runs for each query in flight */
	while (q->reqs) {
		struct dnsq_req *req = q->reqs;

		req->in_ares = 0;
		if (!req->delivered) {
			req->status = DNSQ_CANCELLED;
			req->ttl = 0;
			dnsq_deliver(req);
		}
		dnsq_req_free(req);
	}
	while ((s = q->socks) != NULL) {	/* ares_destroy closed them; in case */
		q->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	event_free(q->timer);
	free(q);
	if (--dnsq_library_users == 0)
		ares_library_cleanup();
}

/* dnsq_free - cancel and free, now or when the running callback returns */
void
dnsq_free(struct dnsq *q)
{
	if (q == NULL || q->dying)
		return;
	q->dying = 1;
	if (q->busy == 0)
		dnsq_destroy(q);
}

/* dnsq_req_event - the request's event: deliver its answer, or its deadline passed */
static void
dnsq_req_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq_req *req = arg;
	struct dnsq *q = req->q;

	(void) fd;
	(void) what;
	if (!req->answered) {
		req->answered = 1;
		req->status = DNSQ_TEMPFAIL;
		req->ttl = 0;
		if (msg_verbose)
			msg_info("dns: %s %s: no answer within dns.timeout",
				 dnsq_type_names[req->type], req->name);
	}
	dnsq_deliver(req);
	if (!req->in_ares)
		dnsq_req_free(req);
	if (q->busy == 0 && q->dying)
		dnsq_destroy(q);
}

/* dnsq_parse_answer - fill the request from the message c-ares passed on */
static void
dnsq_parse_answer(struct dnsq_req *req, const unsigned char *abuf, int alen)
{
	char	why[DNSQ_WHY_MAX];
	const char *type = dnsq_type_names[req->type];

	switch (req->type) {
	case DNSQ_TYPE_MX: {
		struct dnsq_mx_ctx c = {.set = &req->u.mx};

		req->status = dnsq_mx_parse(abuf, alen, &c, &req->ttl, why, sizeof(why));
		if (req->status == DNSQ_OK && c.skipped)
			msg_warn("dns: MX %s: %zu of %zu exchanges skipped (null MX or not a host name)",
				 req->name, c.skipped, c.records);
		if (req->status == DNSQ_OK && c.records - c.skipped > MX_HOSTS_MAX)
			msg_warn("dns: MX %s: %zu exchanges, kept the %d most preferred",
				 req->name, c.records - c.skipped, MX_HOSTS_MAX);
		break;
	}
	case DNSQ_TYPE_A: {
		struct dnsq_a_ctx c = {.addrs = req->u.a.addrs, .max = DNSQ_A_MAX};

		req->status = dnsq_a_parse(abuf, alen, &c, &req->ttl, why, sizeof(why));
		req->u.a.count = c.count;
		if (req->status == DNSQ_OK && c.dropped)
			msg_warn("dns: A %s: %zu addresses, kept the first %d",
				 req->name, c.count + c.dropped, DNSQ_A_MAX);
		break;
	}
	case DNSQ_TYPE_TXT: {
		struct dnsq_txt_ctx c = {.out = req->u.txt, .outlen = sizeof(req->u.txt)};

		req->status = dnsq_txt_parse(abuf, alen, &c, &req->ttl, why, sizeof(why));
		if (req->status == DNSQ_OK && c.cut)
			msg_warn("dns: TXT %s: text longer than %d bytes: cut", req->name, DNSQ_TXT_MAX);
		break;
	}
	}
	if (req->status == DNSQ_TEMPFAIL)
		msg_warn("dns: %s %s: bad answer: %s", type, req->name, why);
}

/* dnsq_ares_done - c-ares's callback: record the outcome, deliver it from the loop */
static void
dnsq_ares_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dnsq_req *req = arg;
	struct dnsq *q = req->q;

	(void) timeouts;
	req->in_ares = 0;
	if (req->delivered) {			/* the deadline answered already */
		if (!q->dying)
			dnsq_req_free(req);	/* dnsq_destroy frees it otherwise */
		return;
	}
	if (q->dying)				/* ares_destroy: dnsq_destroy delivers */
		return;
	req->ttl = 0;
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		if (abuf != NULL) {
			dnsq_parse_answer(req, abuf, alen);
		} else if (status == ARES_SUCCESS) {
			req->status = DNSQ_TEMPFAIL;
		} else {
			req->status = status == ARES_ENODATA ? DNSQ_NODATA : DNSQ_NXDOMAIN;
			req->ttl = DNSQ_NEG_TTL_DEFAULT;
		}
		break;
	case ARES_EBADNAME:
		req->status = DNSQ_BADNAME;
		break;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		req->status = DNSQ_CANCELLED;
		break;
	default:				/* SERVFAIL, REFUSED, timeout, network */
		req->status = DNSQ_TEMPFAIL;
		break;
	}
	if (req->status != DNSQ_OK && msg_verbose)
		msg_info("dns: %s %s: %s (%s)", dnsq_type_names[req->type], req->name,
			 dnsq_status_name(req->status), ares_strerror(status));
	req->answered = 1;
	evtimer_del(req->ev);
	event_active(req->ev, EV_TIMEOUT, 1);
}

/* dnsq_req_new - a request on the list, its callback still to be set; NULL when out of memory */
static struct dnsq_req *
dnsq_req_new(struct dnsq *q, enum dnsq_type type, void *arg)
{
	struct dnsq_req *req;

	if (q->dying) {
		msg_warn("dns: %s query while the resolver is shutting down", dnsq_type_names[type]);
		return NULL;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL
	    || (req->ev = evtimer_new(q->base, dnsq_req_event, req)) == NULL) {
		free(req);
		msg_warn("dns: %s query: out of memory", dnsq_type_names[type]);
		return NULL;
	}
	req->q = q;
	req->type = type;
	req->arg = arg;
	req->next = q->reqs;
	if (q->reqs)
		q->reqs->prev = req;
	q->reqs = req;
	q->pending++;
	return req;
}

/* dnsq_req_start - send the query, or answer DNSQ_BADNAME from the loop */
static int
dnsq_req_start(struct dnsq_req *req, const char *name)
{
	static const int qtypes[] = {DNSQ_T_MX, DNSQ_T_A, DNSQ_T_TXT};
	struct dnsq *q = req->q;

	if (dnsq_name_ok(name, req->name) < 0) {
		req->name[0] = 0;
		req->status = DNSQ_BADNAME;
		req->answered = 1;
		event_active(req->ev, EV_TIMEOUT, 1);
		return 0;
	}
	evtimer_add(req->ev, &q->deadline);
	req->in_ares = 1;
	ares_query(q->channel, req->name, DNSQ_C_IN, qtypes[req->type], dnsq_ares_done, req);
	dnsq_timer_update(q);
	return 0;
}

/* dnsq_mx - the MX set of name */
int
dnsq_mx(struct dnsq *q, const char *name, dnsq_mx_cb *cb, void *arg)
{
	struct dnsq_req *req = dnsq_req_new(q, DNSQ_TYPE_MX, arg);

	if (req == NULL)
		return -1;
	req->cb.mx = cb;
	return dnsq_req_start(req, name);
}

/* dnsq_a - the IPv4 addresses of name */
int
dnsq_a(struct dnsq *q, const char *name, dnsq_a_cb *cb, void *arg)
{
	struct dnsq_req *req = dnsq_req_new(q, DNSQ_TYPE_A, arg);

	if (req == NULL)
		return -1;
	req->cb.a = cb;
	return dnsq_req_start(req, name);
}

/* dnsq_txt - the text of name's first TXT record */
int
dnsq_txt(struct dnsq *q, const char *name, dnsq_txt_cb *cb, void *arg)
{
	struct dnsq_req *req = dnsq_req_new(q, DNSQ_TYPE_TXT, arg);

	if (req == NULL)
		return -1;
	req->cb.txt = cb;
	return dnsq_req_start(req, name);
}

/* dnsq_pending - callbacks still to run */
size_t
dnsq_pending(const struct dnsq *q)
{
	return q->pending;
}

/* dnsq_timer_update - follow c-ares's next timeout */
static void
dnsq_timer_update(struct dnsq *q)
{
	struct timeval tv;
	struct timeval *next = ares_timeout(q->channel, NULL, &tv);

	if (next)
		evtimer_add(q->timer, next);
	else
		evtimer_del(q->timer);
}

/* dnsq_timer_event - let c-ares retry or give up on what timed out */
static void
dnsq_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq *q = arg;

	(void) fd;
	(void) what;
	ares_process_fd(q->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dnsq_timer_update(q);
}

/* dnsq_sock_event - a c-ares socket is readable or writable */
static void
dnsq_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq *q = arg;

	ares_process_fd(q->channel, what & EV_READ ? (ares_socket_t) fd : ARES_SOCKET_BAD,
			what & EV_WRITE ? (ares_socket_t) fd : ARES_SOCKET_BAD);
	dnsq_timer_update(q);
}

/* dnsq_sock_state - c-ares's ARES_OPT_SOCK_STATE_CB: watch, rewatch or forget a socket */
static void
dnsq_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dnsq *q = data;
	struct dnsq_sock **sp, *s;

	for (sp = &q->socks; (s = *sp) != NULL; sp = &s->next)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		if (s) {
			*sp = s->next;
			event_free(s->ev);
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			msg_warn("dns: cannot watch socket %d: out of memory; its queries will time out",
				 (int) fd);
			return;
		}
		s->fd = fd;
		s->next = q->socks;
		q->socks = s;
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(q->base, fd, EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0),
			  dnsq_sock_event, q);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0) {
		msg_warn("dns: cannot watch socket %d; its queries will time out", (int) fd);
		if (s->ev)
			event_free(s->ev);
		for (sp = &q->socks; *sp != NULL; sp = &(*sp)->next)
			if (*sp == s) {
				*sp = s->next;
				break;
			}
		free(s);
	}
}

/* dnsq_set_servers - dns.servers into the channel */
static int
dnsq_set_servers(ares_channel channel, const struct conf *conf, char *err, size_t errlen)
{
	struct ares_addr_port_node nodes[CONF_LIST_MAX];
	int	rc;

	memset(nodes, 0, sizeof(nodes));
	for (size_t i = 0; i < conf->dns_server_count && i < CONF_LIST_MAX; i++) {
		const struct hostport *hp = &conf->dns_servers[i];
		struct ares_addr_port_node *n = &nodes[i];

		if (inet_pton(AF_INET, hp->host, &n->addr.addr4) == 1) {
			n->family = AF_INET;
		} else if (inet_pton(AF_INET6, hp->host, &n->addr.addr6) == 1) {
			n->family = AF_INET6;
		} else {
			snprintf(err, errlen, "dns.servers: %s is not an IP address", hp->host);
			return -1;
		}
		n->udp_port = n->tcp_port = (int) (hp->port ? hp->port : 53);
		n->next = i + 1 < conf->dns_server_count ? &nodes[i + 1] : NULL;
	}
	if ((rc = ares_set_servers_ports(channel, nodes)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns.servers: %s", ares_strerror(rc));
		return -1;
	}
	return 0;
}

/* dnsq_channel_init - see dnsq_ares.h */
int
dnsq_channel_init(ares_channel *channel, const struct conf *conf, ares_sock_state_cb cb,
		  void *cb_data, char *err, size_t errlen)
{
	struct ares_options opts;
	uint64_t per_try;
	int	rc, mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;

	/* c-ares doubles the wait each try: T/3 + 2T/3 for two tries */
	per_try = conf->dns_timeout_ms / ((1u << DNSQ_TRIES) - 1);
	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.timeout = (int) (per_try ? (per_try > 600000 ? 600000 : per_try) : 1);
	opts.tries = DNSQ_TRIES;
	if (cb) {
		opts.sock_state_cb = cb;
		opts.sock_state_cb_data = cb_data;
		mask |= ARES_OPT_SOCK_STATE_CB;
	}
	if ((rc = ares_init_options(channel, &opts, mask)) != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start the resolver: %s", ares_strerror(rc));
		return -1;
	}
	if (conf->dns_server_count && dnsq_set_servers(*channel, conf, err, errlen) < 0) {
		ares_destroy(*channel);
		return -1;
	}
	return 0;
}

/* dnsq_new - a c-ares channel on base */
struct dnsq *
dnsq_new(struct event_base *base, const struct conf *conf, char *err, size_t errlen)
{
	struct dnsq *q;
	int	rc;

	if (dnsq_library_users == 0 && (rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	dnsq_library_users++;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	q->base = base;
	q->deadline.tv_sec = (time_t) (conf->dns_timeout_ms / 1000);
	q->deadline.tv_usec = (suseconds_t) (conf->dns_timeout_ms % 1000 * 1000);
	if ((q->timer = evtimer_new(base, dnsq_timer_event, q)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (dnsq_channel_init(&q->channel, conf, dnsq_sock_state, q, err, errlen) < 0)
		goto fail;
	return q;
fail:
	if (q && q->timer)
		event_free(q->timer);
	free(q);
	if (--dnsq_library_users == 0)
		ares_library_cleanup();
	return NULL;
}
