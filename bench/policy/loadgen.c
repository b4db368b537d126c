/*
 * loadgen.c - closed-loop load generator for Postfix policy servers.
 *
 * C connections to one policy server (inet:HOST:PORT, HOST:PORT,
 * unix:PATH or /PATH), each with one request outstanding at a time on a
 * connection it keeps, as Postfix's smtpd does. The requests are RCPT
 * requests of Postfix 3.7 (every attribute it sends, ending with an
 * empty line) built ahead of time from a pool of recipients, senders and
 * client addresses, so no formatting happens while the clock runs.
 * A reply is complete at "\n\n" and must start with "action=".
 *
 * Phases: connect (and K extra connections that stay idle: with -I each
 * first makes one request; they open B at a time (-b, default 64), each
 * batch ready before the next), W seconds of warm-up (not recorded), then D seconds or
 * N requests, whichever ends first, recorded; then every connection is
 * closed. Every phase is bounded in time; a connection without an answer
 * for REQUEST_TIMEOUT seconds is an error and is reconnected, at most
 * RECONNECT_MAX times in all.
 *
 * Latencies go into a log-linear histogram (64 linear sub-buckets per
 * power of two of nanoseconds: at most 1.6% error), printed in
 * microseconds: p50, p90, p99, p99.9, max. With -p PID, the VmRSS and
 * VmHWM of that process are read from /proc just before the connections
 * close (so with -i K they include K idle clients).
 *
 * Mode eom (-m eom): END-OF-MESSAGE requests with policy_context=outbound,
 * as Postfix 3.7 sends them from smtpd_end_of_data_restrictions to an
 * outbound quota service: sasl_username cycling over the accounts (-u),
 * size (-z) and recipient_count (-k) from lists, recipient= only for a
 * one-recipient message (Postfix leaves it empty for several), and a
 * queue_id unique to each request: a per-process prefix (-q, default 8
 * random letters and digits) and a 10-digit counter, written in place into
 * a per-connection copy of a prebuilt request (no formatting per request);
 * the same counter makes `instance` unique too. Every answer, warm-up and
 * the end included, is tallied per account: messages, recipients and
 * relays (recipients x the SPEC's size multiplier, 1 MB = 1,048,576 bytes)
 * of the requests answered DUNNO or OK (any case), and the others
 * (refused). At the end no new request is sent and those outstanding are
 * awaited (REQUEST_TIMEOUT at most), so the tallies are complete; a request
 * whose connection broke or that got no answer is "lost" (its outcome is
 * unknown). Without -e, refusals are not errors.
 *
 * Single-threaded, epoll, level-triggered. Exit 0 when the run completed
 * (errors are counted and printed, not fatal), 1 on a setup failure,
 * 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX	10000
#define IDLE_MAX	100000
#define LIST_MAX	256		/* entries in -r/-f/-a lists */
#define POOL_MAX	4096		/* prebuilt requests */
#define REQUEST_MAX	2048
#define REPLY_MAX	4096		/* bytes of one reply */
#define REQUEST_TIMEOUT	5.0		/* seconds without an answer: error */
#define CONNECT_TIMEOUT	5.0
#define RECONNECT_MAX	1000
#define DURATION_MAX	3600.0
#define REQUESTS_MAX	1000000000ULL
#define QID_CTR_LEN	10		/* digits of the eom queue-ID counter */
#define QID_PREFIX_MAX	20		/* + QID_CTR_LEN <= 32, what Postfix and mhpolicyd take */
#define MB		1048576ULL

#define SUB_BITS	6
#define SUB		(1 << SUB_BITS)
#define HIST_BUCKETS	((64 - SUB_BITS) * SUB)

struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t n;
	uint64_t max;
};

/* hist_index - bucket of a value in ns */
static unsigned
hist_index(uint64_t v)
{
	if (v < 2 * SUB)
		return (unsigned) v;
	unsigned mag = 63 - (unsigned) __builtin_clzll(v);	/* >= SUB_BITS + 1 */
	unsigned shift = mag - SUB_BITS;
	return (shift + 1) * SUB + (unsigned) ((v >> shift) - SUB);
}

/* hist_upper - highest value of a bucket */
static uint64_t
hist_upper(unsigned i)
{
	if (i < 2 * SUB)
		return i;
	unsigned shift = i / SUB - 1;
	uint64_t base = (uint64_t) (i % SUB + SUB) << shift;
	return base + ((uint64_t) 1 << shift) - 1;
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* hist_pct - value (ns) at or below which q of the samples lie */
static uint64_t
hist_pct(const struct hist *h, double q)
{
	if (h->n == 0)
		return 0;
	uint64_t want = (uint64_t) (q * (double) h->n + 0.999999);
	uint64_t seen = 0;

	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want) {
			uint64_t u = hist_upper(i);
			return u < h->max ? u : h->max;
		}
	}
	return h->max;
}

enum conn_state { C_CONNECTING, C_WAITING, C_IDLE, C_DEAD };

struct conn {
	int	fd;
	enum conn_state state;
	int	measured;		/* a load connection (not an idle one) */
	uint64_t sent_ns;
	size_t	wpos, wlen;		/* request bytes written / to write */
	const char *req;
	char	rbuf[REPLY_MAX];
	size_t	rlen;
	int	outstanding;		/* eom: a request sent, its answer not tallied */
	size_t	pool_idx;		/* eom: the template it came from */
	char   *wbuf;			/* eom: this connection's copy of the request */
};

static struct {
	const char *server;
	int	family;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int	conns, idle, idle_request, idle_batch;
	double	duration, warmup;
	unsigned long long max_requests;
	int	json;
	long	pid;
	const char *expect;
	char   *rcpts[LIST_MAX], *senders[LIST_MAX], *clients[LIST_MAX];
	int	nrcpts, nsenders, nclients;
	int	eom;			/* -m eom */
	int	senders_given;		/* -f; eom without it: USER@customer.example */
	char   *users[LIST_MAX], *sizes_s[LIST_MAX], *counts_s[LIST_MAX];
	int	nusers, nsizes, ncounts;
	unsigned long long sizes[LIST_MAX], counts[LIST_MAX];
	char	qid_prefix[QID_PREFIX_MAX + 1];
} opt;

/* eom: what a template is, and what its answers added up to */
struct eom_entry {
	int	user;			/* index in opt.users */
	unsigned long long rcpts, relays;	/* relays 0: over 50 MB */
	size_t	qid_off, inst_off;	/* where the counter goes */
};
static struct eom_entry eom_pool[POOL_MAX];
struct eom_tally {
	unsigned long long msgs, rcpts, relays, refused, lost;
};
static struct eom_tally eom_user[LIST_MAX], eom_total;
static char qid_ctr[QID_CTR_LEN];	/* decimal, incremented in place */
static int draining;			/* eom: the end, no new requests */
static unsigned long long eom_sent;

static char *pool[POOL_MAX];
static size_t pool_len[POOL_MAX];
static size_t npool;
static unsigned long long next_req;

static int epfd;
static struct conn *conns;		/* conns + idle */
static struct hist hist;
static int recording;
static unsigned long long requests, errors, answers_expected, answers_other, reconnects;
static char first_other[128];
static char first_error[160];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "loadgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: loadgen -s SERVER [-c CONNS] [-d SECONDS] [-n REQUESTS] [-w WARMUP]\n"
		"               [-r RCPT,...] [-f SENDER,...] [-a IP,... | -A COUNT]\n"
		"               [-i IDLE [-I] [-b BATCH]] [-p PID] [-e ACTION] [--json]\n"
		"               [-m rcpt | -m eom [-u USERS] [-z SIZES] [-k COUNTS] [-q PREFIX]]\n"
		"  SERVER: inet:HOST:PORT, HOST:PORT, unix:PATH or /PATH\n"
		"  -c connections with one request outstanding each (default 8)\n"
		"  -d seconds recorded (default 5), -n at most this many requests (default 1e9)\n"
		"  -w seconds of warm-up, not recorded (default 1)\n"
		"  -r recipients, -f senders, -a client addresses (cycled), -A COUNT generated ones\n"
		"  -i extra connections that stay open and idle (-I: after one request each),\n"
		"     opened BATCH at a time, each batch ready before the next (default 64)\n"
		"  -p PID: report that process's VmRSS/VmHWM before closing the connections\n"
		"  -e ACTION: count replies other than \"action=ACTION\" as errors (e.g. -e DUNNO)\n"
		"  -m eom: END-OF-MESSAGE requests, policy_context=outbound, a unique queue_id each:\n"
		"     -u USER,... or -u COUNT (user1..userCOUNT) sasl_username (default 8),\n"
		"     -z SIZE,... bytes (default 2000,15000,120000), -k N,... recipient_count\n"
		"     (default 1,2,3), -q PREFIX of the queue IDs (default 8 random [0-9A-Za-z]);\n"
		"     sender USER@customer.example unless -f; recipient= only when recipient_count=1;\n"
		"     answers tallied per account (DUNNO/OK: granted), outstanding ones awaited\n");
	exit(2);
}

/* split_list - comma list into argv (strdup'd) */
static int
split_list(const char *s, char **out)
{
	char   *copy = strdup(s), *save = NULL;
	int	n = 0;

	if (copy == NULL)
		die("out of memory");
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == LIST_MAX)
			die("more than %d entries in \"%.40s...\"", LIST_MAX, s);
		if (strlen(t) > 200 || strpbrk(t, "\r\n=") != NULL)
			die("bad list entry \"%.40s\"", t);
		out[n++] = t;
	}
	if (n == 0)
		die("empty list");
	return n;
}

/* parse_server - the address to connect to */
static void
parse_server(const char *s)
{
	const char *p = s;

	if (strncmp(p, "unix:", 5) == 0 || p[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *) &opt.addr;

		if (strncmp(p, "unix:", 5) == 0)
			p += 5;
		if (strlen(p) >= sizeof(un->sun_path))
			die("unix path too long: %s", p);
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, p);
		opt.family = AF_UNIX;
		opt.addrlen = sizeof(*un);
		return;
	}
	if (strncmp(p, "inet:", 5) == 0)
		p += 5;

	char	host[256];
	const char *colon = strrchr(p, ':');
	struct addrinfo hints = {0}, *res;
	int	rc;

	if (colon == NULL || (size_t) (colon - p) >= sizeof(host) || colon == p)
		die("server \"%s\": want inet:HOST:PORT or unix:PATH", s);
	memcpy(host, p, (size_t) (colon - p));
	host[colon - p] = 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		die("server \"%s\": %s (numeric addresses only)", s, gai_strerror(rc));
	memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
	opt.addrlen = res->ai_addrlen;
	opt.family = res->ai_family;
	freeaddrinfo(res);
}

/* build_pool - every request the run sends, built once */
static void
build_pool(void)
{
	npool = POOL_MAX;		/* every combination, with varying size, port, instance */
	for (size_t i = 0; i < npool; i++) {
		const char *rcpt = opt.rcpts[i % (size_t) opt.nrcpts];
		const char *sender = opt.senders[(i / (size_t) opt.nrcpts) % (size_t) opt.nsenders];
		const char *client = opt.clients[(i / ((size_t) opt.nrcpts * (size_t) opt.nsenders)) % (size_t) opt.nclients];
		unsigned h = (unsigned) (i * 2654435761u);
		char	name[96], *buf = malloc(REQUEST_MAX);
		int	n;

		if (buf == NULL)
			die("out of memory");
		snprintf(name, sizeof(name), "mail-%u.outbound.sender-%u.example", h % 97, h % 13);
		n = snprintf(buf, REQUEST_MAX,
			     "request=smtpd_access_policy\n"
			     "protocol_state=RCPT\n"
			     "protocol_name=ESMTP\n"
			     "client_address=%s\n"
			     "client_name=%s\n"
			     "client_port=%u\n"
			     "reverse_client_name=%s\n"
			     "server_address=127.0.0.1\n"
			     "server_port=25\n"
			     "helo_name=%s\n"
			     "sender=%s\n"
			     "recipient=%s\n"
			     "recipient_count=%u\n"
			     "queue_id=\n"
			     "instance=%x.%x.%x.0\n"
			     "size=%u\n"
			     "etrn_domain=\n"
			     "stress=\n"
			     "sasl_method=\n"
			     "sasl_username=\n"
			     "sasl_sender=\n"
			     "ccert_subject=\n"
			     "ccert_issuer=\n"
			     "ccert_fingerprint=\n"
			     "ccert_pubkey_fingerprint=\n"
			     "encryption_protocol=TLSv1.3\n"
			     "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
			     "encryption_keysize=256\n"
			     "policy_context=\n"
			     "compatibility_level=3.6\n"
			     "mail_version=3.7.11\n"
			     "\n",
			     client, name, 32768 + h % 28000, name, name, sender, rcpt,
			     (unsigned) (i / (size_t) opt.nrcpts) % 3, h & 0xffff, 0x6560 + (h >> 16) % 256,
			     h % 0xfffff, 1500 + h % 200000);
		if (n < 0 || n >= REQUEST_MAX)
			die("request too long");
		pool[i] = buf;
		pool_len[i] = (size_t) n;
	}
}

/* eom_multiplier - the SPEC's size multiplier (doc/quota.md); 0 over 50 MB */
static unsigned
eom_multiplier(unsigned long long size)
{
	if (size > 50 * MB)
		return 0;
	if (size == 50 * MB)
		return 6;
	return (unsigned) (size / (10 * MB)) + 1;
}

/* build_pool_eom - one END-OF-MESSAGE template per account x size x recipient count */
static void
build_pool_eom(void)
{
	static const char *const ports[] = {"465", "2525", "10025", "25", "10465"};
	size_t	combos = (size_t) opt.nusers * (size_t) opt.nsizes * (size_t) opt.ncounts;
	char	ph[QID_CTR_LEN + 1];

	memset(ph, 'Q', QID_CTR_LEN);
	ph[QID_CTR_LEN] = 0;
	memset(qid_ctr, '0', QID_CTR_LEN);
	npool = combos < POOL_MAX ? combos : POOL_MAX;
	for (size_t i = 0; i < npool; i++) {
		size_t	u = i % (size_t) opt.nusers;
		size_t	z = (i / (size_t) opt.nusers) % (size_t) opt.nsizes;
		size_t	k = (i / ((size_t) opt.nusers * (size_t) opt.nsizes)) % (size_t) opt.ncounts;
		const char *rcpt = opt.rcpts[i % (size_t) opt.nrcpts];
		const char *sender = opt.senders[i % (size_t) opt.nsenders];
		const char *client = opt.clients[i % (size_t) opt.nclients];
		unsigned h = (unsigned) (i * 2654435761u);
		unsigned long long mult = eom_multiplier(opt.sizes[z]);
		char	name[96], own[300], *buf = malloc(REQUEST_MAX), *q;
		int	n;

		if (buf == NULL)
			die("out of memory");
		snprintf(name, sizeof(name), "mail-%u.customer-%u.example", h % 97, h % 13);
		if (!opt.senders_given) {	/* the account's own address */
			snprintf(own, sizeof(own), "%s%s", opt.users[u],
				 strchr(opt.users[u], '@') ? "" : "@customer.example");
			sender = own;
		}
		n = snprintf(buf, REQUEST_MAX,
			     "request=smtpd_access_policy\n"
			     "protocol_state=END-OF-MESSAGE\n"
			     "protocol_name=ESMTP\n"
			     "client_address=%s\n"
			     "client_name=%s\n"
			     "client_port=%u\n"
			     "reverse_client_name=%s\n"
			     "server_address=127.0.0.1\n"
			     "server_port=%s\n"
			     "helo_name=%s\n"
			     "sender=%s\n"
			     "recipient=%s\n"
			     "recipient_count=%llu\n"
			     "queue_id=%s%s\n"
			     "instance=%x.%x.%s.0\n"
			     "size=%llu\n"
			     "etrn_domain=\n"
			     "stress=\n"
			     "sasl_method=PLAIN\n"
			     "sasl_username=%s\n"
			     "sasl_sender=\n"
			     "ccert_subject=\n"
			     "ccert_issuer=\n"
			     "ccert_fingerprint=\n"
			     "ccert_pubkey_fingerprint=\n"
			     "encryption_protocol=TLSv1.3\n"
			     "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
			     "encryption_keysize=256\n"
			     "policy_context=outbound\n"
			     "compatibility_level=3.6\n"
			     "mail_version=3.7.11\n"
			     "\n",
			     client, name, 32768 + h % 28000, name, ports[i % 5], name, sender,
			     opt.counts[k] == 1 ? rcpt : "", opt.counts[k], opt.qid_prefix, ph,
			     h & 0xffff, 0x6560 + (h >> 16) % 256, ph, opt.sizes[z], opt.users[u]);
		if (n < 0 || n >= REQUEST_MAX)
			die("request too long");
		pool[i] = buf;
		pool_len[i] = (size_t) n;
		eom_pool[i].user = (int) u;
		eom_pool[i].rcpts = opt.counts[k];
		eom_pool[i].relays = opt.counts[k] * mult;
		if ((q = strstr(buf, "\nqueue_id=")) == NULL)
			die("no queue_id in the template");
		eom_pool[i].qid_off = (size_t) (q - buf) + 10 + strlen(opt.qid_prefix);
		if ((q = strstr(buf, "\ninstance=")) == NULL || (q = strstr(q, ph)) == NULL)
			die("no instance in the template");
		eom_pool[i].inst_off = (size_t) (q - buf);
	}
}

/* eom_next_id - the counter + 1, in place */
static void
eom_next_id(void)
{
	for (int i = QID_CTR_LEN - 1; i >= 0; i--) {
		if (qid_ctr[i] != '9') {
			qid_ctr[i]++;
			return;
		}
		qid_ctr[i] = '0';
	}
	die("queue-ID counter wrapped");
}

/* eom_lost - an eom request whose outcome we will never know */
static void
eom_lost(struct conn *c)
{
	if (!opt.eom || !c->outstanding)
		return;
	c->outstanding = 0;
	eom_user[eom_pool[c->pool_idx].user].lost++;
	eom_total.lost++;
}

/* eom_tally - an answer to an eom request: granted (DUNNO or OK, any case) or refused */
static void
eom_tally(struct conn *c, size_t len)
{
	const struct eom_entry *e = &eom_pool[c->pool_idx];
	struct eom_tally *t = &eom_user[e->user];
	size_t	w = 0;

	if (!c->outstanding)
		return;
	c->outstanding = 0;
	if (len >= 7 && memcmp(c->rbuf, "action=", 7) == 0)
		while (7 + w < len && c->rbuf[7 + w] != ' ' && c->rbuf[7 + w] != '\t' && c->rbuf[7 + w] != '\n')
			w++;
	if ((w == 5 && strncasecmp(c->rbuf + 7, "DUNNO", 5) == 0)
	    || (w == 2 && strncasecmp(c->rbuf + 7, "OK", 2) == 0)) {
		t->msgs++, eom_total.msgs++;
		t->rcpts += e->rcpts, eom_total.rcpts += e->rcpts;
		t->relays += e->relays, eom_total.relays += e->relays;
	} else
		t->refused++, eom_total.refused++;
}

static void
ep_set(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void conn_send(struct conn *c);

/* conn_open - a non-blocking connect */
static void
conn_open(struct conn *c)
{
	int	one = 1;

	c->rlen = 0;
	c->fd = socket(opt.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	if (opt.family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *) &opt.addr, opt.addrlen) < 0 && errno != EINPROGRESS)
		die("connect %s: %s", opt.server, strerror(errno));
	c->state = C_CONNECTING;
	c->sent_ns = now_ns();
	ep_set(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* conn_error - count, note, and reconnect (bounded) */
static void
conn_error(struct conn *c, const char *why)
{
	if (recording || !c->measured)
		errors++;
	if (first_error[0] == 0)
		snprintf(first_error, sizeof(first_error), "%s", why);
	eom_lost(c);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
	if (draining)
		return;
	if (++reconnects > RECONNECT_MAX)
		die("more than %d reconnects (first error: %s)", RECONNECT_MAX, first_error);
	conn_open(c);
}

/* conn_send - write the next request (usually all at once) */
static void
conn_send(struct conn *c)
{
	size_t	i = (size_t) (next_req++ % npool);

	c->req = pool[i];
	if (opt.eom) {
		/* a copy of the template with the next queue ID (and instance) in it */
		if (c->wbuf == NULL && (c->wbuf = malloc(REQUEST_MAX)) == NULL)
			die("out of memory");
		eom_next_id();
		memcpy(c->wbuf, pool[i], pool_len[i]);
		memcpy(c->wbuf + eom_pool[i].qid_off, qid_ctr, QID_CTR_LEN);
		memcpy(c->wbuf + eom_pool[i].inst_off, qid_ctr, QID_CTR_LEN);
		c->req = c->wbuf;
		c->pool_idx = i;
		c->outstanding = c->measured;
		eom_sent += (unsigned long long) c->measured;
	}
	c->wlen = pool_len[i];
	c->wpos = 0;
	c->rlen = 0;
	c->sent_ns = now_ns();
	c->state = C_WAITING;
	for (;;) {
		ssize_t	n = write(c->fd, c->req + c->wpos, c->wlen - c->wpos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ep_set(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
			return;
		}
		if (n < 0) {
			conn_error(c, "write failed");
			return;
		}
		c->wpos += (size_t) n;
		if (c->wpos == c->wlen)
			return;
	}
}

/* conn_reply - a whole reply arrived */
static void
conn_reply(struct conn *c, size_t len)
{
	uint64_t t = now_ns();
	int	ok = len >= 7 && memcmp(c->rbuf, "action=", 7) == 0;
	int	expected = 0;

	if (ok && opt.expect) {
		size_t	el = strlen(opt.expect);

		expected = len == 7 + el + 2 && memcmp(c->rbuf + 7, opt.expect, el) == 0;
	} else if (ok)
		expected = len == 7 + 5 + 2 && memcmp(c->rbuf + 7, "DUNNO", 5) == 0;
	if (opt.eom && c->measured)
		eom_tally(c, len);
	if (!c->measured) {			/* an idle connection's one request */
		if (!ok)
			errors++;
		c->state = C_IDLE;
		ep_set(c, EPOLLIN, EPOLL_CTL_MOD);	/* watch for a close */
		return;
	}
	if (recording) {
		if (!ok || (opt.expect && !expected)) {
			errors++;
			if (first_error[0] == 0)
				snprintf(first_error, sizeof(first_error), "reply \"%.*s\"",
					 (int) (len > 100 ? 100 : len - (len >= 2 ? 2 : 0)), c->rbuf);
		} else {
			requests++;
			hist_add(&hist, t - c->sent_ns);
		}
		if (expected)
			answers_expected++;
		else {
			answers_other++;
			if (first_other[0] == 0)
				snprintf(first_other, sizeof(first_other), "%.*s",
					 (int) (len > 100 ? 100 : len - (len >= 2 ? 2 : 0)), c->rbuf);
		}
	}
	/* bytes past the reply: a server talking out of turn */
	if (c->rlen > len) {
		conn_error(c, "extra bytes after a reply");
		return;
	}
	c->rlen = 0;
	if (draining) {
		c->state = C_IDLE;	/* the end: no new request; a read now is an error */
		return;
	}
	conn_send(c);
}

/* conn_read - bytes of a reply */
static void
conn_read(struct conn *c)
{
	for (;;) {
		ssize_t	n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_error(c, n == 0 ? "server closed the connection" : "read failed");
			return;
		}
		if (c->state == C_IDLE) {
			conn_error(c, "bytes on an idle connection");
			return;
		}
		size_t	scan = c->rlen >= 1 ? c->rlen - 1 : 0;

		c->rlen += (size_t) n;
		c->rbuf[c->rlen] = 0;
		char   *end = memmem(c->rbuf + scan, c->rlen - scan, "\n\n", 2);

		if (end) {
			conn_reply(c, (size_t) (end - c->rbuf) + 2);
			return;
		}
		if (c->rlen == sizeof(c->rbuf) - 1) {
			conn_error(c, "reply too long");
			return;
		}
	}
}

static void
conn_event(struct conn *c, uint32_t ev)
{
	if (c->state == C_CONNECTING) {
		int	err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (ev & (EPOLLERR | EPOLLHUP)))
			die("connect %s: %s", opt.server, strerror(err ? err : ECONNRESET));
		ep_set(c, EPOLLIN, EPOLL_CTL_MOD);
		if ((!c->measured && !opt.idle_request) || draining) {
			c->state = C_IDLE;
			return;
		}
		conn_send(c);
		return;
	}
	if ((ev & EPOLLOUT) && c->state == C_WAITING && c->wpos < c->wlen) {
		ssize_t	n = write(c->fd, c->req + c->wpos, c->wlen - c->wpos);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_error(c, "write failed");
			return;
		}
		if (n > 0)
			c->wpos += (size_t) n;
		if (c->wpos == c->wlen)
			ep_set(c, EPOLLIN, EPOLL_CTL_MOD);
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_read(c);
}

/* loop - run events until `until` (ns) or a condition; check timeouts */
static void
loop(uint64_t until, int (*done)(void))
{
	struct epoll_event evs[256];
	uint64_t next_check = now_ns() + 100000000ULL;

	for (;;) {
		uint64_t t = now_ns();

		if (t >= until || (done && done()))
			return;
		if (t >= next_check) {
			int	total = opt.conns + opt.idle;

			for (int i = 0; i < total; i++) {
				struct conn *c = &conns[i];
				double	age = (double) (t - c->sent_ns) / 1e9;

				if (c->state == C_WAITING && age > REQUEST_TIMEOUT)
					conn_error(c, "no reply within 5 s");
				else if (c->state == C_CONNECTING && age > CONNECT_TIMEOUT)
					die("connect %s: timed out", opt.server);
			}
			next_check = t + 100000000ULL;
		}
		int	ms = (int) ((until - t) / 1000000ULL);

		if (ms > 100)
			ms = 100;
		int	n = epoll_wait(epfd, evs, 256, ms);

		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
	}
}

static int idle_lo, idle_hi;		/* the batch being opened */

static int
idle_all_ready(void)
{
	for (int i = idle_lo; i < idle_hi; i++)
		if (conns[i].state != C_IDLE)
			return 0;
	return 1;
}

static int
enough_requests(void)
{
	return requests + errors >= opt.max_requests;
}

static int
all_answered(void)
{
	for (int i = 0; i < opt.conns; i++)
		if (conns[i].outstanding)
			return 0;
	return 1;
}

/* eom_list - parse -z / -k: numbers */
static int
eom_numbers(const char *s, char **strs, unsigned long long *out, unsigned long long lo, const char *what)
{
	int	n = split_list(s, strs);

	for (int i = 0; i < n; i++) {
		char   *end;

		errno = 0;
		out[i] = strtoull(strs[i], &end, 10);
		if (strs[i][0] < '0' || strs[i][0] > '9' || *end || errno || out[i] < lo)
			die("%s: \"%s\" is not a number >= %llu", what, strs[i], lo);
	}
	return n;
}

/* read_status - a "Key:   N kB" line of /proc/PID/status, in kB (-1 if none) */
static long
read_status(long pid, const char *key)
{
	char	path[64], line[256];
	FILE   *f;
	long	v = -1;
	size_t	kl = strlen(key);

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char) *s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static double
arg_double(const char *s, double lo, double hi, const char *what)
{
	char   *end;
	double	v = strtod(s, &end);

	if (*s == 0 || *end != 0 || !(v >= lo && v <= hi)) {
		fprintf(stderr, "loadgen: %s: want a number in %g..%g\n", what, lo, hi);
		usage();
	}
	return v;
}

int
main(int argc, char **argv)
{
	const char *rcpts = "bob@example.com,alice@example.com";
	const char *senders = "newsletter@shop.example,jane@partner.example,info@news.example";
	const char *clients = NULL;
	int	nclients_gen = 16;
	char	gen[LIST_MAX][16];
	const char *users = "8", *sizes = "2000,15000,120000", *counts = "1,2,3", *qprefix = NULL;
	static char ugen[LIST_MAX][16];
	int	rcpts_given = 0;

	opt.conns = 8;
	opt.duration = 5;
	opt.warmup = 1;
	opt.idle_batch = 64;
	opt.max_requests = REQUESTS_MAX;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--json") == 0) {
			opt.json = 1;
			continue;
		}
		if (strcmp(a, "-I") == 0) {
			opt.idle_request = 1;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			usage();
		if (a[0] != '-' || strlen(a) != 2 || v == NULL)
			usage();
		i++;
		switch (a[1]) {
		case 's': opt.server = v; break;
		case 'c': opt.conns = (int) arg_double(v, 1, CONNS_MAX, "-c"); break;
		case 'd': opt.duration = arg_double(v, 0.01, DURATION_MAX, "-d"); break;
		case 'w': opt.warmup = arg_double(v, 0, DURATION_MAX, "-w"); break;
		case 'n': opt.max_requests = (unsigned long long) arg_double(v, 1, (double) REQUESTS_MAX, "-n"); break;
		case 'i': opt.idle = (int) arg_double(v, 0, IDLE_MAX, "-i"); break;
		case 'b': opt.idle_batch = (int) arg_double(v, 1, IDLE_MAX, "-b"); break;
		case 'p': opt.pid = (long) arg_double(v, 1, 1e9, "-p"); break;
		case 'r': rcpts = v; rcpts_given = 1; break;
		case 'f': senders = v; opt.senders_given = 1; break;
		case 'a': clients = v; break;
		case 'A': nclients_gen = (int) arg_double(v, 1, LIST_MAX, "-A"); break;
		case 'e': opt.expect = v; break;
		case 'm':
			if (strcmp(v, "eom") == 0)
				opt.eom = 1;
			else if (strcmp(v, "rcpt") != 0)
				usage();
			break;
		case 'u': users = v; break;
		case 'z': sizes = v; break;
		case 'k': counts = v; break;
		case 'q': qprefix = v; break;
		default: usage();
		}
	}
	if (opt.server == NULL)
		usage();
	parse_server(opt.server);
	opt.nrcpts = split_list(rcpts, opt.rcpts);
	opt.nsenders = split_list(senders, opt.senders);
	if (clients)
		opt.nclients = split_list(clients, opt.clients);
	else {
		for (int i = 0; i < nclients_gen; i++) {
			snprintf(gen[i], sizeof(gen[i]), "%s.%d", i % 2 ? "198.51.100" : "203.0.113", 10 + i);
			opt.clients[i] = gen[i];
		}
		opt.nclients = nclients_gen;
	}
	if (opt.eom) {
		if (strspn(users, "0123456789") == strlen(users)) {
			int	n = (int) arg_double(users, 1, LIST_MAX, "-u");

			for (int i = 0; i < n; i++) {
				snprintf(ugen[i], sizeof(ugen[i]), "user%d", i + 1);
				opt.users[i] = ugen[i];
			}
			opt.nusers = n;
		} else
			opt.nusers = split_list(users, opt.users);
		opt.nsizes = eom_numbers(sizes, opt.sizes_s, opt.sizes, 0, "-z");
		opt.ncounts = eom_numbers(counts, opt.counts_s, opt.counts, 1, "-k");
		if (!rcpts_given)
			rcpts = "bob@example.net,alice@example.org,carol@example.com";
		if (qprefix) {
			size_t	ql = strlen(qprefix);

			if (ql < 1 || ql > QID_PREFIX_MAX || strspn(qprefix,
			    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != ql)
				die("-q: 1 to %d letters and digits", QID_PREFIX_MAX);
			memcpy(opt.qid_prefix, qprefix, ql + 1);
		} else {
			static const char an[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
			unsigned char rnd[8];

			if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
				uint64_t x = now_ns() ^ ((uint64_t) getpid() << 32);

				memcpy(rnd, &x, sizeof(rnd));
			}
			for (int i = 0; i < 8; i++)
				opt.qid_prefix[i] = an[rnd[i] % 62];
			opt.qid_prefix[8] = 0;
		}
		opt.nrcpts = split_list(rcpts, opt.rcpts);
	}
	if (opt.eom)
		build_pool_eom();
	else
		build_pool();

	/* room for every socket */
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) (opt.conns + opt.idle + 64)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t) (opt.conns + opt.idle + 64))
			die("need %d file descriptors, the hard limit is %lu", opt.conns + opt.idle + 64,
			    (unsigned long) rl.rlim_max);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if ((conns = calloc((size_t) (opt.conns + opt.idle), sizeof(*conns))) == NULL)
		die("out of memory");
	for (int i = 0; i < opt.conns + opt.idle; i++) {
		conns[i].fd = -1;
		conns[i].state = C_DEAD;
	}

	/* idle connections first, B at a time (with -I, B requests at a time) */
	for (idle_lo = opt.conns; idle_lo < opt.conns + opt.idle; idle_lo = idle_hi) {
		idle_hi = idle_lo + opt.idle_batch < opt.conns + opt.idle ? idle_lo + opt.idle_batch : opt.conns + opt.idle;
		for (int i = idle_lo; i < idle_hi; i++) {
			conns[i].measured = 0;
			conn_open(&conns[i]);
		}
		loop(now_ns() + 10000000000ULL, idle_all_ready);
		if (!idle_all_ready())
			die("idle connections %d..%d not ready after 10 s", idle_lo - opt.conns, idle_hi - opt.conns - 1);
	}
	for (int i = 0; i < opt.conns; i++) {
		conns[i].measured = 1;
		conn_open(&conns[i]);
	}

	unsigned long long idle_errors = errors;

	loop(now_ns() + (uint64_t) (opt.warmup * 1e9), NULL);
	errors = 0;
	first_error[0] = 0;
	recording = 1;
	uint64_t t0 = now_ns();

	loop(t0 + (uint64_t) (opt.duration * 1e9), enough_requests);
	uint64_t t1 = now_ns();

	recording = 0;
	if (opt.eom) {
		/* no new requests; the outstanding ones answered (and tallied) or lost */
		draining = 1;
		loop(now_ns() + (uint64_t) ((REQUEST_TIMEOUT + 1) * 1e9), all_answered);
		for (int i = 0; i < opt.conns; i++)
			eom_lost(&conns[i]);
	}
	long	rss = -1, hwm = -1;

	if (opt.pid) {
		rss = read_status(opt.pid, "VmRSS");
		hwm = read_status(opt.pid, "VmHWM");
	}
	for (int i = 0; i < opt.conns + opt.idle; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	errors += idle_errors;

	double	secs = (double) (t1 - t0) / 1e9;
	double	rps = secs > 0 ? (double) requests / secs : 0;
	double	p50 = hist_pct(&hist, 0.50) / 1e3, p90 = hist_pct(&hist, 0.90) / 1e3;
	double	p99 = hist_pct(&hist, 0.99) / 1e3, p999 = hist_pct(&hist, 0.999) / 1e3;
	double	mx = hist.max / 1e3;
	const char *want = opt.expect ? opt.expect : "DUNNO";

	if (opt.json) {
		printf("{\"server\":");
		json_str(opt.server);
		printf(",\"connections\":%d,\"idle\":%d,\"idle_request\":%d,\"seconds\":%.3f,\"warmup\":%.3f,"
		       "\"requests\":%llu,\"errors\":%llu,\"rps\":%.1f,"
		       "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
		       "\"answers_%s\":%llu,\"answers_other\":%llu,\"first_other\":",
		       opt.conns, opt.idle, opt.idle_request, secs, opt.warmup, requests, errors, rps,
		       p50, p90, p99, p999, mx, want, answers_expected, answers_other);
		json_str(first_other);
		printf(",\"first_error\":");
		json_str(first_error);
		printf(",\"rss_kb\":%ld,\"hwm_kb\":%ld", rss, hwm);
		if (opt.eom) {
			/* per account first: the script's key lookups take the last match */
			printf(",\"mode\":\"eom\",\"accounts\":[");
			for (int i = 0; i < opt.nusers; i++) {
				printf("%s{\"user\":", i ? "," : "");
				json_str(opt.users[i]);
				printf(",\"msgs\":%llu,\"rcpts\":%llu,\"relays\":%llu,\"refused\":%llu,\"lost\":%llu}",
				       eom_user[i].msgs, eom_user[i].rcpts, eom_user[i].relays,
				       eom_user[i].refused, eom_user[i].lost);
			}
			printf("],\"queue_id_prefix\":\"%s\",\"sent\":%llu,\"granted_msgs\":%llu,"
			       "\"granted_rcpts\":%llu,\"granted_relays\":%llu,\"refused_msgs\":%llu,\"lost\":%llu",
			       opt.qid_prefix, eom_sent, eom_total.msgs, eom_total.rcpts, eom_total.relays,
			       eom_total.refused, eom_total.lost);
		}
		printf("}\n");
		return 0;
	}
	printf("server       %s\n", opt.server);
	printf("connections  %d (+%d idle%s)\n", opt.conns, opt.idle,
	       opt.idle && opt.idle_request ? ", one request each first" : "");
	printf("duration     %.2f s (after %.1f s warm-up)\n", secs, opt.warmup);
	printf("requests     %llu\n", requests);
	printf("errors       %llu%s%s\n", errors, first_error[0] ? "  first: " : "", first_error);
	printf("requests/s   %.0f\n", rps);
	printf("latency us   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", p50, p90, p99, p999, mx);
	printf("answers      action=%s %llu, other %llu%s%s\n", want, answers_expected, answers_other,
	       first_other[0] ? "  first: " : "", first_other);
	if (opt.pid)
		printf("server RSS   %ld kB (peak %ld kB)\n", rss, hwm);
	if (opt.eom) {
		printf("queue IDs    %s + %d digits; %llu requests sent in all (warm-up and end included)\n",
		       opt.qid_prefix, QID_CTR_LEN, eom_sent);
		printf("%-20s %10s %10s %12s %10s %6s\n", "account", "granted", "rcpts", "relays", "refused", "lost");
		for (int i = 0; i < opt.nusers; i++)
			printf("%-20s %10llu %10llu %12llu %10llu %6llu\n", opt.users[i], eom_user[i].msgs,
			       eom_user[i].rcpts, eom_user[i].relays, eom_user[i].refused, eom_user[i].lost);
		printf("%-20s %10llu %10llu %12llu %10llu %6llu\n", "(all)", eom_total.msgs, eom_total.rcpts,
		       eom_total.relays, eom_total.refused, eom_total.lost);
	}
	return 0;
}
