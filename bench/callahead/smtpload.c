/*
 * smtpload.c - SMTP RCPT load for the call-ahead benchmark: how fast a
 * Postfix smtpd answers RCPT TO when its recipient check is a policy
 * service, reject_unverified_recipient, or nothing, and what happens when
 * many clients ask for one address at once.
 *
 * Mode rate (default): C connections, each with one command outstanding
 * at a time (no pipelining), as a client that waits for each reply does:
 * banner, EHLO, MAIL FROM, then RCPT TO cycling over the recipients (-r),
 * K recipients a transaction (-k, default 100), QUIT and a new connection
 * after each transaction (Postfix counts RSET as a junk command). W
 * seconds of warm-up, then D seconds or N RCPTs, whichever ends first,
 * recorded: RCPTs/s, the latency of each RCPT (p50, p90, p99, max) and its
 * reply class (2xx, 4xx, 5xx; the first non-2xx reply is kept).
 *
 * Mode burst (-m burst): C connections, each brought to just after MAIL
 * FROM (all of them, bounded by 10 s), then every one sends its RCPT TO at
 * the same moment (recipients from -r, cycled over the connections: one
 * address for all with -r ADDR), and the replies are awaited (-t, default
 * 60 s); prints the reply classes, the first reply of each class and the
 * slowest reply's time. Then QUIT.
 *
 * Single-threaded, epoll. Every phase is bounded in time; a reply longer
 * than REPLY_MAX or a connection that breaks is an error (in rate mode
 * the connection is reopened, at most RECONNECT_MAX times in all).
 * Exit 0 when the run completed (errors are counted and printed), 1 on a
 * setup failure, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#define CONNS_MAX	2000
#define LIST_MAX	4096
#define REPLY_MAX	8192
#define CMD_MAX		600
#define SAMPLES_MAX	20000000
#define RECONNECT_MAX	1000
#define STEP_TIMEOUT	30.0		/* seconds for any one reply in rate mode */
#define READY_TIMEOUT	10.0		/* burst: every connection past MAIL FROM */

enum step { S_CONNECT, S_BANNER, S_EHLO, S_MAIL, S_RCPT, S_QUIT, S_READY, S_DONE, S_DEAD };

struct conn {
	int	fd;
	enum step step;
	char	rbuf[REPLY_MAX];
	size_t	rlen;
	uint64_t sent_ns;
	int	in_txn;			/* RCPTs sent in this transaction */
	int	burst_code;		/* burst: the RCPT reply's code */
	char	burst_text[256];
};

static struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int	conns, per_txn, burst, json;
	double	duration, warmup, timeout;
	unsigned long long max_rcpts;
	const char *server, *sender, *helo;
	char   *rcpts[LIST_MAX];
	int	nrcpts;
} opt;

static struct conn *conns;
static int epfd;
static int recording, stopping;
static unsigned long long rcpt_next, done_rcpts, errors, reconnects;
static unsigned long long class_count[6];	/* by first digit */
static char first_other[256], first_error[256];
static uint64_t *samples;
static size_t nsamples;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smtpload: ");
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
		"usage: smtpload -s HOST:PORT -r RCPT,... [-c CONNS] [-d SECONDS] [-w WARMUP] [-n RCPTS]\n"
		"                [-k RCPTS_PER_TRANSACTION] [-f SENDER] [-H HELO] [--json]\n"
		"       smtpload -m burst -s HOST:PORT -r RCPT,... [-c CONNS] [-t SECONDS] [--json]\n"
		"  rate: C connections, one command outstanding each; RCPTs cycle over -r,\n"
		"        -k a transaction (default 100), then QUIT and a new connection\n"
		"  burst: C connections brought to MAIL FROM, then all send RCPT TO at once\n"
		"         (recipients cycled over the connections); replies awaited -t s (60)\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
note_error(const char *fmt, ...)
{
	va_list ap;

	errors++;
	if (first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(first_error, sizeof(first_error), fmt, ap);
	va_end(ap);
}

static void
parse_server(const char *s)
{
	const char *p = strncmp(s, "inet:", 5) == 0 ? s + 5 : s, *colon = strrchr(p, ':');
	char	host[256];
	struct addrinfo hints = {0}, *res;
	int	rc;

	if (colon == NULL || colon == p || (size_t) (colon - p) >= sizeof(host))
		die("server \"%s\": want HOST:PORT", s);
	memcpy(host, p, (size_t) (colon - p));
	host[colon - p] = 0;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		die("server \"%s\": %s (numeric addresses only)", s, gai_strerror(rc));
	memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
	opt.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
split_list(const char *s)
{
	char   *copy = strdup(s), *save = NULL;

	if (copy == NULL)
		die("out of memory");
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (opt.nrcpts == LIST_MAX)
			die("more than %d recipients", LIST_MAX);
		if (strlen(t) > 254 || strpbrk(t, "\r\n<> ") != NULL)
			die("bad recipient \"%.40s\"", t);
		opt.rcpts[opt.nrcpts++] = t;
	}
	if (opt.nrcpts == 0)
		die("no recipients");
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

static void
conn_open(struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
	int	one = 1;

	c->fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *) &opt.addr, opt.addrlen) < 0 && errno != EINPROGRESS)
		die("connect %s: %s", opt.server, strerror(errno));
	c->step = S_CONNECT;
	c->rlen = 0;
	c->in_txn = 0;
	c->sent_ns = now_ns();
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* conn_fail - an error on c: rate mode opens it again (bounded), burst mode gives up on it */
static void
conn_fail(struct conn *c, const char *why)
{
	note_error("%s", why);
	conn_close(c);
	if (opt.burst || stopping || reconnects >= RECONNECT_MAX) {
		c->step = S_DEAD;
		return;
	}
	reconnects++;
	conn_open(c);
}

static void
conn_send(struct conn *c, const char *fmt, ...)
{
	char	buf[CMD_MAX];
	va_list ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= sizeof(buf))
		die("command too long");
	/* one short line on an idle connection: the socket buffer takes it whole */
	if (send(c->fd, buf, (size_t) n, MSG_NOSIGNAL) != n) {
		conn_fail(c, "send failed");
		return;
	}
	c->sent_ns = now_ns();
}

static void
send_rcpt(struct conn *c)
{
	const char *r = opt.rcpts[rcpt_next++ % (unsigned long long) opt.nrcpts];

	c->step = S_RCPT;
	c->in_txn++;
	conn_send(c, "RCPT TO:<%s>\r\n", r);
}

/* reply_done - the code of a whole reply in rbuf (its last line "NNN " or "NNN\r\n"), 0: not yet */
static int
reply_done(struct conn *c, size_t *len)
{
	size_t	start = 0;

	for (size_t i = 0; i < c->rlen; i++) {
		if (c->rbuf[i] != '\n')
			continue;
		if (i - start >= 3 && (i - start == 3 || c->rbuf[start + 3] == ' ' || c->rbuf[start + 3] == '\r')) {
			*len = i + 1;
			return (c->rbuf[start] - '0') * 100 + (c->rbuf[start + 1] - '0') * 10 + (c->rbuf[start + 2] - '0');
		}
		start = i + 1;
	}
	return 0;
}

static void
on_reply(struct conn *c, int code, const char *text)
{
	uint64_t t = now_ns();

	switch (c->step) {
	case S_BANNER:
		if (code / 100 != 2) {
			conn_fail(c, "banner not 2xx");
			return;
		}
		c->step = S_EHLO;
		conn_send(c, "EHLO %s\r\n", opt.helo);
		return;
	case S_EHLO:
		if (code / 100 != 2) {
			conn_fail(c, "EHLO not 2xx");
			return;
		}
		c->step = S_MAIL;
		conn_send(c, "MAIL FROM:<%s>\r\n", opt.sender);
		return;
	case S_MAIL:
		if (code / 100 != 2) {
			conn_fail(c, "MAIL not 2xx");
			return;
		}
		if (opt.burst) {
			c->step = S_READY;
			return;
		}
		if (stopping) {
			c->step = S_DONE;
			conn_close(c);
			return;
		}
		send_rcpt(c);
		return;
	case S_RCPT:
		if (opt.burst) {
			c->burst_code = code;
			snprintf(c->burst_text, sizeof(c->burst_text), "%s", text);
			if (t - c->sent_ns > (uint64_t) samples[0])
				samples[0] = t - c->sent_ns;
			class_count[code / 100 % 6]++;
			c->step = S_QUIT;
			conn_send(c, "QUIT\r\n");
			return;
		}
		if (recording) {
			if (nsamples < SAMPLES_MAX)
				samples[nsamples++] = t - c->sent_ns;
			class_count[code / 100 % 6]++;
			if (code / 100 != 2 && !first_other[0])
				snprintf(first_other, sizeof(first_other), "%s", text);
			done_rcpts++;
		}
		if (stopping) {
			c->step = S_DONE;
			conn_close(c);
			return;
		}
		if (c->in_txn >= opt.per_txn) {
			c->step = S_QUIT;
			conn_send(c, "QUIT\r\n");
			return;
		}
		send_rcpt(c);
		return;
	case S_QUIT:
		conn_close(c);
		if (opt.burst || stopping) {
			c->step = S_DONE;
			return;
		}
		conn_open(c);
		return;
	default:
		return;
	}
}

static void
on_event(struct conn *c, uint32_t events)
{
	if (c->step == S_CONNECT) {
		int	err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			conn_fail(c, "connect failed");
			return;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->step = S_BANNER;
		if (!(events & EPOLLIN))
			return;
	}
	ssize_t	n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen);

	if (n == 0) {
		conn_fail(c, c->step == S_QUIT ? "closed after QUIT" : "server closed the connection");
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		{ conn_fail(c, "read error"); return; }
	}
	c->rlen += (size_t) n;
	for (;;) {
		size_t	len = 0;
		int	code = reply_done(c, &len);
		char	text[256];

		if (code == 0) {
			if (c->rlen >= sizeof(c->rbuf) - 1)
				conn_fail(c, "reply too long");
			return;
		}
		/* the last line of the reply, without CR LF */
		size_t	ls = len - 1;

		while (ls > 0 && c->rbuf[ls - 1] != '\n')
			ls--;
		snprintf(text, sizeof(text), "%.*s", (int) (len - ls), c->rbuf + ls);
		text[strcspn(text, "\r\n")] = 0;
		memmove(c->rbuf, c->rbuf + len, c->rlen - len);
		c->rlen -= len;
		if (code < 200 || code > 599) {
			conn_fail(c, "bad reply code");
			return;
		}
		enum step before = c->step;

		on_reply(c, code, text);
		if (c->fd < 0 || c->step == before || c->rlen == 0)
			return;
	}
}

/* loop - until deadline (ns) or done() */
static void
loop(uint64_t deadline, int (*done)(void))
{
	struct epoll_event evs[256];

	while (now_ns() < deadline && !(done && done())) {
		uint64_t left = deadline - now_ns();
		int	ms = left > 100000000ULL ? 100 : (int) (left / 1000000) + 1;
		int	n = epoll_wait(epfd, evs, 256, ms);

		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		if (!opt.burst) {	/* a reply that never comes */
			uint64_t t = now_ns();

			for (int i = 0; i < opt.conns; i++)
				if (conns[i].fd >= 0 && t - conns[i].sent_ns > (uint64_t) (STEP_TIMEOUT * 1e9))
					conn_fail(&conns[i], "no reply in time");
		}
	}
}

static int
enough(void)
{
	return opt.max_rcpts && done_rcpts >= opt.max_rcpts;
}

static int
all_ready(void)
{
	for (int i = 0; i < opt.conns; i++)
		if (conns[i].step != S_READY && conns[i].step != S_DEAD)
			return 0;
	return 1;
}

static int
all_done(void)
{
	for (int i = 0; i < opt.conns; i++)
		if (conns[i].fd >= 0 && conns[i].step != S_DONE && conns[i].step != S_DEAD)
			return 0;
	return 1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static double
pct(double q)
{
	if (nsamples == 0)
		return 0;
	size_t	i = (size_t) (q * (double) nsamples + 0.999999);

	if (i < 1)
		i = 1;
	if (i > nsamples)
		i = nsamples;
	return (double) samples[i - 1] / 1e3;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char) *s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static double
num(const char *s, const char *what, double lo, double hi)
{
	char   *end;
	double	v = strtod(s, &end);

	if (*s == 0 || *end != 0 || v < lo || v > hi) {
		fprintf(stderr, "smtpload: %s: want a number in %g..%g\n", what, lo, hi);
		usage();
	}
	return v;
}

int
main(int argc, char **argv)
{
	opt.conns = 8;
	opt.duration = 5;
	opt.warmup = 1;
	opt.timeout = 60;
	opt.per_txn = 100;
	opt.sender = "sender@client.test";
	opt.helo = "client.test";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--json") == 0) {
			opt.json = 1;
			continue;
		}
		if (a[0] != '-' || a[1] == 0 || a[2] != 0 || v == NULL)
			usage();
		i++;
		switch (a[1]) {
		case 's': opt.server = v; parse_server(v); break;
		case 'r': split_list(v); break;
		case 'c': opt.conns = (int) num(v, "-c", 1, CONNS_MAX); break;
		case 'd': opt.duration = num(v, "-d", 0.1, 3600); break;
		case 'w': opt.warmup = num(v, "-w", 0, 600); break;
		case 'n': opt.max_rcpts = (unsigned long long) num(v, "-n", 1, 1e12); break;
		case 'k': opt.per_txn = (int) num(v, "-k", 1, 1000); break;
		case 't': opt.timeout = num(v, "-t", 1, 600); break;
		case 'f': opt.sender = v; break;
		case 'H': opt.helo = v; break;
		case 'm':
			if (strcmp(v, "burst") == 0)
				opt.burst = 1;
			else if (strcmp(v, "rate") != 0)
				usage();
			break;
		default: usage();
		}
	}
	if (opt.server == NULL || opt.nrcpts == 0)
		usage();
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) opt.conns + 64) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if ((conns = calloc((size_t) opt.conns, sizeof(*conns))) == NULL)
		die("out of memory");
	if ((samples = calloc(opt.burst ? 1 : SAMPLES_MAX, sizeof(*samples))) == NULL)
		die("out of memory");

	if (opt.burst) {
		for (int i = 0; i < opt.conns; i++)
			conn_open(&conns[i]);
		loop(now_ns() + (uint64_t) (READY_TIMEOUT * 1e9), all_ready);
		int	ready = 0;

		for (int i = 0; i < opt.conns; i++)
			ready += conns[i].step == S_READY;
		if (ready < opt.conns)
			note_error("%d of %d connections not past MAIL FROM in %g s", opt.conns - ready,
				   opt.conns, READY_TIMEOUT);
		uint64_t t0 = now_ns();

		for (int i = 0; i < opt.conns; i++)
			if (conns[i].step == S_READY) {
				conns[i].step = S_RCPT;
				conn_send(&conns[i], "RCPT TO:<%s>\r\n", opt.rcpts[i % opt.nrcpts]);
			}
		loop(t0 + (uint64_t) (opt.timeout * 1e9), all_done);
		int	unanswered = 0;

		for (int i = 0; i < opt.conns; i++)
			if (conns[i].step == S_RCPT)
				unanswered++;
		if (unanswered)
			note_error("%d RCPTs unanswered after %g s", unanswered, opt.timeout);
		const char *first[6] = {0};

		for (int i = 0; i < opt.conns; i++)
			if (conns[i].burst_code && first[conns[i].burst_code / 100 % 6] == NULL)
				first[conns[i].burst_code / 100 % 6] = conns[i].burst_text;
		if (opt.json) {
			printf("{\"mode\":\"burst\",\"connections\":%d,\"ready\":%d,\"unanswered\":%d,"
			       "\"rcpt_2xx\":%llu,\"rcpt_4xx\":%llu,\"rcpt_5xx\":%llu,\"slowest_ms\":%.1f,"
			       "\"errors\":%llu", opt.conns, ready, unanswered, class_count[2], class_count[4],
			       class_count[5], (double) samples[0] / 1e6, errors);
			for (int k = 2; k <= 5; k++)
				if (first[k]) {
					printf(",\"first_%dxx\":", k);
					json_str(first[k]);
				}
			printf(",\"first_error\":");
			json_str(first_error);
			printf("}\n");
		} else {
			printf("connections  %d (%d past MAIL FROM)\n", opt.conns, ready);
			printf("RCPT replies 2xx %llu, 4xx %llu, 5xx %llu, unanswered %d\n", class_count[2],
			       class_count[4], class_count[5], unanswered);
			for (int k = 2; k <= 5; k++)
				if (first[k])
					printf("first %dxx    %s\n", k, first[k]);
			printf("slowest      %.1f ms\n", (double) samples[0] / 1e6);
			printf("errors       %llu%s%s\n", errors, first_error[0] ? "  first: " : "", first_error);
		}
		for (int i = 0; i < opt.conns; i++)
			conn_close(&conns[i]);
		return 0;
	}

	for (int i = 0; i < opt.conns; i++)
		conn_open(&conns[i]);
	loop(now_ns() + (uint64_t) (opt.warmup * 1e9), NULL);
	errors = 0;
	first_error[0] = 0;
	recording = 1;
	uint64_t t0 = now_ns();

	loop(t0 + (uint64_t) (opt.duration * 1e9), enough);
	uint64_t t1 = now_ns();

	recording = 0;
	stopping = 1;
	loop(now_ns() + 5000000000ULL, all_done);	/* the replies outstanding, then close */
	for (int i = 0; i < opt.conns; i++)
		conn_close(&conns[i]);
	qsort(samples, nsamples, sizeof(*samples), cmp_u64);
	double	secs = (double) (t1 - t0) / 1e9, rps = secs > 0 ? (double) done_rcpts / secs : 0;

	if (opt.json) {
		printf("{\"mode\":\"rate\",\"server\":");
		json_str(opt.server);
		printf(",\"connections\":%d,\"seconds\":%.3f,\"rcpts\":%llu,\"rps\":%.1f,\"p50_us\":%.1f,"
		       "\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"rcpt_2xx\":%llu,\"rcpt_4xx\":%llu,"
		       "\"rcpt_5xx\":%llu,\"errors\":%llu,\"reconnects\":%llu,\"first_other\":",
		       opt.conns, secs, done_rcpts, rps, pct(0.5), pct(0.9), pct(0.99),
		       nsamples ? (double) samples[nsamples - 1] / 1e3 : 0, class_count[2], class_count[4],
		       class_count[5], errors, reconnects);
		json_str(first_other);
		printf(",\"first_error\":");
		json_str(first_error);
		printf("}\n");
		return 0;
	}
	printf("server       %s\n", opt.server);
	printf("connections  %d, %d RCPTs a transaction\n", opt.conns, opt.per_txn);
	printf("duration     %.2f s (after %.1f s warm-up)\n", secs, opt.warmup);
	printf("RCPTs        %llu (2xx %llu, 4xx %llu, 5xx %llu)%s%s\n", done_rcpts, class_count[2],
	       class_count[4], class_count[5], first_other[0] ? "  first other: " : "", first_other);
	printf("RCPTs/s      %.0f\n", rps);
	printf("latency us   p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", pct(0.5), pct(0.9), pct(0.99),
	       nsamples ? (double) samples[nsamples - 1] / 1e3 : 0);
	printf("errors       %llu%s%s\n", errors, first_error[0] ? "  first: " : "", first_error);
	return 0;
}
