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
} opt;

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
		"  SERVER: inet:HOST:PORT, HOST:PORT, unix:PATH or /PATH\n"
		"  -c connections with one request outstanding each (default 8)\n"
		"  -d seconds recorded (default 5), -n at most this many requests (default 1e9)\n"
		"  -w seconds of warm-up, not recorded (default 1)\n"
		"  -r recipients, -f senders, -a client addresses (cycled), -A COUNT generated ones\n"
		"  -i extra connections that stay open and idle (-I: after one request each),\n"
		"     opened BATCH at a time, each batch ready before the next (default 64)\n"
		"  -p PID: report that process's VmRSS/VmHWM before closing the connections\n"
		"  -e ACTION: count replies other than \"action=ACTION\" as errors (e.g. -e DUNNO)\n");
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
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
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
		if (!c->measured && !opt.idle_request) {
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
		case 'r': rcpts = v; break;
		case 'f': senders = v; break;
		case 'a': clients = v; break;
		case 'A': nclients_gen = (int) arg_double(v, 1, LIST_MAX, "-A"); break;
		case 'e': opt.expect = v; break;
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
		printf(",\"rss_kb\":%ld,\"hwm_kb\":%ld}\n", rss, hwm);
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
	return 0;
}
