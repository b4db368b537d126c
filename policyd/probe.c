/*
 * probe.c - one call-ahead: an SMTP dialogue with a customer's server,
 * on mhpolicyd's event loop (no thread, no blocking call):
 *
 *	connect, banner, EHLO helo (HELO if EHLO gets 5xx), MAIL FROM:<sender>,
 *	RCPT TO:<rcpt>, QUIT
 *
 * The name is looked up with dnsq (c-ares, dns.servers), the first A
 * record is used; an address literal is used as is. The lookup and the
 * TCP connect share connect_timeout; each reply must be complete within
 * reply_timeout of our command (of the connect, for the banner), however
 * slowly its bytes come. Replies are read by common/smtpreply.c: bounded
 * lines and line counts, strict codes, and only a sanitised copy of the
 * text (printable ASCII, at most 200 bytes) is kept, so what we repeat in
 * a reply or a log cannot carry CR, LF, NUL or escape sequences. Bytes a
 * server sends before we asked (pipelining it was not offered) end the
 * dialogue as garbage.
 *
 * Outcome: 2xx to RCPT accept, 5xx to RCPT reject, everything else
 * inconclusive (SPEC "Call-ahead"). After the deciding reply, QUIT is
 * written if the socket takes it at once. Without spec->closed the
 * connection is closed then and QUIT's reply is not awaited. With it, a
 * dialogue still in step (the outcome came from a whole reply) is ended
 * politely after the callback: the probe reads (and drops, at most
 * PROBE_LINGER_MAX bytes) until the server closes, at most reply_timeout,
 * and then runs closed(arg); otherwise closed(arg) runs just after the
 * callback. So a caller that counts connections per destination (the
 * call-ahead's cap) can count this one until the server has let it go.
 *
 * Lifetime: probe_start arms a zero timer, so the callback never runs
 * inside it. The callback runs once; the probe is freed after it returns
 * (or, with spec->closed, after closed(arg) has run).
 * probe_cancel frees at once, except during the name lookup: then the
 * probe is marked gone and the lookup's callback (which dnsq always runs)
 * frees it.
 *
 * Public functions: probe_start, probe_cancel, probe_outcome_name.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "dnsq.h"
#include "log.h"
#include "probe.h"

#define PROBE_CMD_MAX		(PROBE_ADDR_MAX + 32)	/* one command line */
#define PROBE_READ_CHUNK	4096
#define PROBE_LINGER_MAX	65536	/* bytes read after QUIT before we close anyway */

enum probe_state {
	PS_START,
	PS_RESOLVE,
	PS_CONNECT,
	PS_BANNER,
	PS_EHLO,
	PS_HELO,
	PS_MAIL,
	PS_RCPT,
	PS_QUIT				/* the outcome is out; waiting for the server to close */
};

static const char *const probe_state_names[] = {
	"start", "lookup", "connect", "banner", "EHLO", "HELO", "MAIL FROM", "RCPT TO", "QUIT"
};

struct probe {
	struct event_base *base;
	struct dnsq *dns;
	probe_cb *cb;
	void	(*closed)(void *arg);
	void   *arg;
	char	host[PROBE_HOST_MAX + 1];
	unsigned port;
	char	helo[PROBE_HOST_MAX + 1];
	char	sender[PROBE_ADDR_MAX + 1];
	char	rcpt[PROBE_ADDR_MAX + 1];
	uint64_t connect_ms, reply_ms;
	int	keep_transcript;
	struct sbuf transcript;
	enum probe_state state;
	int	resolving;		/* a dnsq lookup is out */
	int	gone;			/* cancelled while resolving: the lookup's callback frees */
	int	fd;
	int	in_step;		/* the outcome comes from a whole reply */
	size_t	lingered;		/* bytes read after QUIT */
	struct event *rev, *wev, *timer;
	char	out[PROBE_CMD_MAX];
	size_t	outlen, outoff;
	struct smtpreply reply;
	struct timespec started;
	struct probe_result res;
};

const char *
probe_outcome_name(enum probe_outcome o)
{
	switch (o) {
	case PROBE_ACCEPT:
		return "accept";
	case PROBE_REJECT:
		return "reject";
	default:
		return "inconclusive";
	}
}

static uint64_t
probe_elapsed(const struct probe *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t) (now.tv_sec - p->started.tv_sec) * 1000
		+ (uint64_t) ((now.tv_nsec - p->started.tv_nsec) / 1000000);
}

static void
probe_note(struct probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* probe_note - a transcript line, when one is kept */
static void
probe_note(struct probe *p, const char *fmt, ...)
{
	va_list	ap;

	if (!p->keep_transcript)
		return;
	va_start(ap, fmt);
	(void) sbuf_vprintf(&p->transcript, fmt, ap);	/* past the limit: the rest is dropped */
	va_end(ap);
	(void) sbuf_putc(&p->transcript, '\n');
}

static void
probe_free(struct probe *p)
{
	if (p->fd >= 0 && p->rev)
		event_del(p->rev);
	if (p->fd >= 0 && p->wev)
		event_del(p->wev);
	if (p->rev)
		event_free(p->rev);
	if (p->wev)
		event_free(p->wev);
	if (p->timer)
		event_free(p->timer);
	if (p->fd >= 0)
		close(p->fd);
	sbuf_free(&p->transcript);
	free(p);
}

void
probe_cancel(struct probe *p)
{
	if (p->resolving) {
		p->gone = 1;
		return;
	}
	probe_free(p);
}

static void probe_arm(struct probe *, uint64_t);

/* probe_closed - the connection is gone (or given up): closed(arg), free */
static void
probe_closed(struct probe *p, const char *how)
{
	if (p->fd >= 0) {
		event_del(p->rev);
		close(p->fd);
		p->fd = -1;
	}
	evtimer_del(p->timer);
	probe_note(p, "--- %s (%llu ms)", how, (unsigned long long) probe_elapsed(p));
	p->closed(p->arg);
	probe_free(p);
}

/* probe_finish - the outcome: QUIT if it fits at once, callback; then close (maybe politely), free */
static void
probe_finish(struct probe *p, enum probe_outcome o, int code, const char *text, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
probe_finish(struct probe *p, enum probe_outcome o, int code, const char *text, const char *fmt, ...)
{
	va_list	ap;
	int	linger = 0;

	if (p->fd >= 0 && p->state >= PS_BANNER) {
		ssize_t	n = send(p->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);

		probe_note(p, ">>> QUIT");
		linger = p->closed != NULL && p->in_step && n == 6;
	}
	if (p->wev)
		event_del(p->wev);
	evtimer_del(p->timer);
	if (!linger) {
		if (p->rev)
			event_del(p->rev);
		if (p->fd >= 0) {
			close(p->fd);
			p->fd = -1;
		}
	}
	p->res.outcome = o;
	p->res.code = code;
	snprintf(p->res.text, sizeof(p->res.text), "%s", text ? text : "");
	va_start(ap, fmt);
	vsnprintf(p->res.why, sizeof(p->res.why), fmt, ap);
	va_end(ap);
	p->res.elapsed_ms = probe_elapsed(p);
	probe_note(p, "--- %s: %s (%llu ms)", probe_outcome_name(o), p->res.why,
		   (unsigned long long) p->res.elapsed_ms);
	p->res.transcript = sbuf_str(&p->transcript);
	p->cb(&p->res, p->arg);
	if (linger) {
		p->state = PS_QUIT;
		probe_arm(p, p->reply_ms);
		return;
	}
	if (p->closed)
		p->closed(p->arg);
	probe_free(p);
}

/* probe_arm - the deadline of the current step */
static void
probe_arm(struct probe *p, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t) (ms / 1000), .tv_usec = (suseconds_t) (ms % 1000 * 1000)};

	evtimer_add(p->timer, &tv);
}

/* probe_send - a command; the reply is awaited from now */
static void
probe_send(struct probe *p, enum probe_state next, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
probe_send(struct probe *p, enum probe_state next, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(p->out, sizeof(p->out) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= sizeof(p->out) - 2)
		msg_panic("probe_send: command too long");	/* callers bound what they give */
	probe_note(p, ">>> %s", p->out);
	memcpy(p->out + n, "\r\n", 2);
	p->outlen = (size_t) n + 2;
	p->outoff = 0;
	p->state = next;
	p->in_step = 0;			/* until its reply is whole */
	smtpreply_init(&p->reply);
	probe_arm(p, p->reply_ms);
	event_add(p->wev, NULL);
}

/* probe_reply - a whole reply in the current state */
static void
probe_reply(struct probe *p)
{
	int	code = p->reply.code;
	const char *text = p->reply.text;
	const char *step = probe_state_names[p->state];

	probe_note(p, "<<< %d %s", code, text);
	p->res.reached = 1;
	switch (p->state) {
	case PS_BANNER:
		if (code / 100 != 2)
			break;
		probe_send(p, PS_EHLO, "EHLO %s", p->helo);
		return;
	case PS_EHLO:
		if (code / 100 == 5) {
			probe_send(p, PS_HELO, "HELO %s", p->helo);
			return;
		}
		/* FALLTHROUGH */
	case PS_HELO:
		if (code / 100 != 2)
			break;
		probe_send(p, PS_MAIL, "MAIL FROM:<%s>", p->sender);
		return;
	case PS_MAIL:
		if (code / 100 != 2)
			break;
		probe_send(p, PS_RCPT, "RCPT TO:<%s>", p->rcpt);
		return;
	case PS_RCPT:
		if (code / 100 == 2)
			probe_finish(p, PROBE_ACCEPT, code, text, "RCPT TO: %d", code);
		else if (code / 100 == 5)
			probe_finish(p, PROBE_REJECT, code, text, "RCPT TO: %d", code);
		else
			probe_finish(p, PROBE_INCONCLUSIVE, code, text, "RCPT TO: %d", code);
		return;
	default:
		msg_panic("probe_reply: state %d", (int) p->state);
	}
	probe_finish(p, PROBE_INCONCLUSIVE, code, text, "%s: %d", step, code);
}

static void
probe_read(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	char	buf[PROBE_READ_CHUNK];
	ssize_t	n;
	size_t	off = 0, used;

	(void) what;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (p->state == PS_QUIT) {	/* QUIT's reply and whatever else: dropped */
		if (n <= 0)
			probe_closed(p, n == 0 ? "closed by the server" : "closed: read error");
		else if ((p->lingered += (size_t) n) > PROBE_LINGER_MAX)
			probe_closed(p, "closed: too much after QUIT");
		return;
	}
	if (n <= 0) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "%s: %s", probe_state_names[p->state],
			     n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	if (p->outoff < p->outlen) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "%s: data before our command",
			     probe_state_names[p->state]);
		return;
	}
	switch (smtpreply_feed(&p->reply, buf, (size_t) n, &used)) {
	case SMTPREPLY_MORE:
		return;
	case SMTPREPLY_ERROR:
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "%s: %s", probe_state_names[p->state],
			     p->reply.err);
		return;
	case SMTPREPLY_DONE:
		off = used;
		break;
	}
	if (off < (size_t) n && p->state != PS_RCPT) {
		probe_finish(p, PROBE_INCONCLUSIVE, p->reply.code, p->reply.text,
			     "%s: data after the reply, before our command", probe_state_names[p->state]);
		return;
	}
	evtimer_del(p->timer);
	p->in_step = 1;
	probe_reply(p);
	/* p may be gone */
}

static void
probe_write(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	ssize_t	n;

	(void) what;
	if (p->state == PS_CONNECT) {
		int	err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "connect: %s", strerror(err));
			return;
		}
		probe_note(p, "--- connected");
		p->state = PS_BANNER;
		smtpreply_init(&p->reply);
		probe_arm(p, p->reply_ms);
		event_add(p->rev, NULL);
		return;
	}
	while (p->outoff < p->outlen) {
		n = send(fd, p->out + p->outoff, p->outlen - p->outoff, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			event_add(p->wev, NULL);
			return;
		}
		if (n < 0) {
			probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "%s: %s", probe_state_names[p->state],
				     strerror(errno));
			return;
		}
		p->outoff += (size_t) n;
	}
}

static void
probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void) fd;
	(void) what;
	if (p->state == PS_QUIT) {
		probe_closed(p, "closed: the server did not within reply_timeout");
		return;
	}
	probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "%s: timed out after %llu ms",
		     probe_state_names[p->state], (unsigned long long) (p->state <= PS_CONNECT
		     ? p->connect_ms : p->reply_ms));
}

/* probe_connect - a non-blocking connect to the address; the rest is probe_write's */
static void
probe_connect(struct probe *p, const struct sockaddr *sa, socklen_t salen, const char *shown)
{
	p->state = PS_CONNECT;
	probe_note(p, "--- connect %s port %u", shown, p->port);
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "socket: %s", strerror(errno));
		return;
	}
	if (connect(p->fd, sa, salen) < 0 && errno != EINPROGRESS) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "connect: %s", strerror(errno));
		return;
	}
	p->rev = event_new(p->base, p->fd, EV_READ | EV_PERSIST, probe_read, p);
	p->wev = event_new(p->base, p->fd, EV_WRITE, probe_write, p);
	if (p->rev == NULL || p->wev == NULL) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "out of memory");
		return;
	}
	event_add(p->wev, NULL);	/* writable: connected, or failed */
	/* the connect_timeout timer, armed at the start, still runs */
}

static void
probe_connect_v4(struct probe *p, const unsigned char addr[4])
{
	struct sockaddr_in sin;
	char	shown[INET_ADDRSTRLEN];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t) p->port);
	memcpy(&sin.sin_addr, addr, 4);
	inet_ntop(AF_INET, &sin.sin_addr, shown, sizeof(shown));
	probe_connect(p, (struct sockaddr *) &sin, sizeof(sin), shown);
}

static void
probe_resolved(enum dnsq_status st, const unsigned char (*addrs)[4], size_t count, uint32_t ttl,
	       void *arg)
{
	struct probe *p = arg;

	(void) ttl;
	p->resolving = 0;
	if (p->gone) {
		probe_free(p);
		return;
	}
	if (st != DNSQ_OK || count == 0) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "lookup of %s: %s", p->host,
			     st == DNSQ_OK ? "no address" : dnsq_status_name(st));
		return;
	}
	probe_connect_v4(p, addrs[0]);
}

/* probe_begin - the zero timer of probe_start: look up, or connect at once */
static void
probe_begin(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct sockaddr_in6 sin6;
	unsigned char a4[4];

	(void) fd;
	(void) what;
	if (evtimer_assign(p->timer, p->base, probe_timeout, p) < 0) {
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "out of memory");
		return;
	}
	probe_arm(p, p->connect_ms);
	if (inet_pton(AF_INET, p->host, a4) == 1) {
		probe_connect_v4(p, a4);
		return;
	}
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET6, p->host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t) p->port);
		probe_connect(p, (struct sockaddr *) &sin6, sizeof(sin6), p->host);
		return;
	}
	p->state = PS_RESOLVE;
	probe_note(p, "--- lookup %s", p->host);
	p->resolving = 1;
	if (p->dns == NULL || dnsq_a(p->dns, p->host, probe_resolved, p) < 0) {
		p->resolving = 0;
		probe_finish(p, PROBE_INCONCLUSIVE, 0, NULL, "lookup of %s: resolver unavailable", p->host);
	}
}

struct probe *
probe_start(struct event_base *base, struct dnsq *dns, const struct probe_spec *spec, probe_cb *cb,
	    void *arg)
{
	struct probe *p = calloc(1, sizeof(*p));
	struct timeval now = {0, 0};

	if (p == NULL) {
		msg_warn("probe: out of memory");
		return NULL;
	}
	p->base = base;
	p->dns = dns;
	p->cb = cb;
	p->closed = spec->closed;
	p->arg = arg;
	p->fd = -1;
	snprintf(p->host, sizeof(p->host), "%s", spec->host);
	p->port = spec->port;
	snprintf(p->helo, sizeof(p->helo), "%s", spec->helo);
	snprintf(p->sender, sizeof(p->sender), "%s", spec->sender);
	snprintf(p->rcpt, sizeof(p->rcpt), "%s", spec->rcpt);
	p->connect_ms = spec->connect_timeout_ms;
	p->reply_ms = spec->reply_timeout_ms;
	p->keep_transcript = spec->transcript;
	sbuf_init(&p->transcript, PROBE_TRANSCRIPT_MAX);
	snprintf(p->res.where, sizeof(p->res.where), "%s:%u", p->host, p->port);
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	if ((p->timer = evtimer_new(base, probe_begin, p)) == NULL) {
		msg_warn("probe: out of memory");
		free(p);
		return NULL;
	}
	evtimer_add(p->timer, &now);
	return p;
}
