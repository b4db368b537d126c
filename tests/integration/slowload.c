/*
 * slowload.c - idle, slow-drip and timed clients against mhpolicyd's
 * listeners (and idle clients against mhmilter's), for
 * tests/e2e/test_slow_clients.sh.
 *
 *   slowload [options] MODE
 *
 * Endpoint: -a ADDR -p PORT (IPv4 loopback; default 127.0.0.1), or
 * -u PATH (a unix socket). -s PID names the daemon: its open file
 * descriptors, VmRSS and threads are read from /proc/PID to know when it
 * holds the connections opened and what they cost it.
 *
 * Requests: -P policy|socketmap (default policy); -r RCPT the recipient
 * of a policy RCPT request (as tests/lib/wire.py's `policy`), -k 'MAP KEY'
 * the socketmap lookup; -e REPLY the exact reply expected (C escapes \n,
 * \\), e.g. 'action=DUNNO\n\n' or '13:OK relay.test,'.
 *
 * Modes, each bounded by -t SECONDS (default 60) in all:
 *   load	-c K connections send requests in turn, -b N of them before
 *		anything else (the baseline), then -i N idle and -d N drip
 *		connections are opened (a drip connection sends the same
 *		request one byte every -D MS, default 1000, spread evenly),
 *		and once the daemon holds them -n N more requests are timed
 *		(-R N requests a second in all, default 500).
 *   idle	-i N idle and -d N drip connections; waits until the daemon
 *		has closed every idle one, and says how long after its
 *		connect each was closed.
 *   cap	-i N idle connections, held; then one more, which the daemon
 *		should close at once; then one of the N is closed and a
 *		new one should stay.
 *   milter	-i N idle connections to a milter, held; then -n milter
 *		option negotiations (SMFIC_OPTNEG), one connection each,
 *		timed from the connect.
 *
 * Other options: -O N connects a second (default 2000: on loopback a
 * connect completes before the daemon accepts it, so a faster opener
 * overflows the listen queue); -T N -G MS repeat load's timed phase up
 * to N times until its p99 is under MS (a busy machine's pauses are not
 * the daemon's); -v MS show each reply that took MS or more on stderr.
 *
 * Output: one line per result, "WHAT key=value ...", e.g.
 *   loaded attempt=1 count=3000 wrong=0 failed=0 p50_ms=0.210 p99_ms=0.800 max_ms=2.100
 *   held idle=5000/5000 drip=1000/1000 fds=6012 rss_base_kb=9000 rss_held_kb=30000 kb_per_conn=3.5
 * The first wrong reply is shown on stderr. Exit 0 when the mode ran to
 * its end (whatever the figures: the test judges them), 1 when it could
 * not (a connection limit of this process, a deadline), 64 on usage.
 *
 * Limits: SLOWLOAD_CONNS_MAX connections, SLOWLOAD_REPLY_MAX bytes of a
 * reply, SLOWLOAD_SAMPLES_MAX timed requests. Loopback or a unix socket
 * only. Raise `ulimit -n` above the connections wanted.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SLOWLOAD_CONNS_MAX	20000	/* connections of one run */
#define SLOWLOAD_REPLY_MAX	1100	/* one reply (policy: "action=" + 1000 bytes) */
#define SLOWLOAD_REQUEST_MAX	1024	/* one request */
#define SLOWLOAD_SAMPLES_MAX	200000	/* timed requests */
#define SLOWLOAD_INFLIGHT	100	/* connects under way at once */
#define SLOWLOAD_EVENTS		512	/* epoll events a wakeup */
#define SLOWLOAD_TIMED_MAX	64	/* -c */
#define SLOWLOAD_MS		1000000LL	/* ns */

enum sl_kind {
	SL_IDLE,			/* connects, then says nothing */
	SL_DRIP,			/* one byte of a request every -D ms */
	SL_TIMED,			/* whole requests, each timed */
	SL_PROBE			/* cap mode's extra connection */
};

enum sl_state {
	SL_CONNECTING,
	SL_OPEN,
	SL_CLOSED,			/* the server closed it (EOF or reset) */
	SL_FAILED			/* the connect failed */
};

struct sl_conn {
	int	fd;
	enum sl_kind kind;
	enum sl_state state;
	int64_t	t_open;			/* ns: connected */
	int64_t	t_closed;		/* ns: the server's close seen */
	int64_t	next;			/* ns: next drip byte or next request */
	size_t	sent;			/* drip: bytes sent */
	int64_t	t_sent;			/* timed: the request went out */
	int	busy;			/* timed: waiting for its reply */
	size_t	rlen;
	char   *reply;			/* timed and probe connections: SLOWLOAD_REPLY_MAX */
};

/* the run's settings (options) */
static struct {
	const char *addr, *unix_path, *proto, *rcpt, *key, *expect;
	unsigned port;
	long	pid;
	size_t	idle, drip, conns, baseline, requests, rate, open_rate, tries;
	int64_t	goal_ms;			/* -G: a p99 that ends the attempts */
	int64_t	drip_interval;		/* ns */
	int64_t	deadline;		/* ns */
} sl = {
	.addr = "127.0.0.1", .proto = "policy", .rcpt = "bob@relay.test", .key = "relay_domains relay.test",
	.conns = 1, .requests = 1000, .rate = 500, .open_rate = 2000, .tries = 1,
	.drip_interval = 1000 * SLOWLOAD_MS,
};

static struct sl_conn *sl_conns;
static size_t sl_nconns;
static int sl_ep;
static char sl_request[SLOWLOAD_REQUEST_MAX];
static size_t sl_request_len;
static char sl_expect[SLOWLOAD_REPLY_MAX];
static size_t sl_expect_len;
static int64_t *sl_samples;		/* ns, timed requests of the current phase */
static size_t sl_nsamples;
static size_t sl_wrong, sl_failed;	/* the phase's wrong replies, closed timed connections */
static size_t sl_unexpected;		/* bytes sent to an idle or drip connection */
static int64_t sl_slow_ms;		/* -v MS: show replies that took this long */
static int64_t sl_phase_start;		/* ns: the timed phase began */
static size_t sl_nstate[4][4];		/* connections by kind and state */
static size_t sl_timed_idx[SLOWLOAD_TIMED_MAX], sl_ntimed;
static size_t *sl_drip_idx, sl_ndrip, sl_drip_cursor;	/* drips in the order of their turns */

/* sl_now - CLOCK_MONOTONIC in ns */
static int64_t
sl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* sl_die - a run that cannot go on: exit 1 */
static void
sl_die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "slowload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* sl_usage - exit 64 */
static void
sl_usage(const char *why)
{
	fprintf(stderr, "slowload: %s\n"
		"usage: slowload [-a ADDR -p PORT | -u PATH] [-s PID] [-P policy|socketmap]\n"
		"  [-r RCPT] [-k 'MAP KEY'] [-e REPLY] [-i IDLE] [-d DRIP] [-D MS] [-c CONNS]\n"
		"  [-b BASELINE] [-n REQUESTS] [-R RATE] [-t SECONDS] load|idle|cap|milter\n", why);
	exit(64);
}

/* sl_number - a decimal option value */
static size_t
sl_number(const char *s, const char *opt)
{
	char   *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		sl_usage(opt);
	return (size_t) v;
}

/* sl_unescape - C escapes \n, \r, \\ into out; the length */
static size_t
sl_unescape(const char *s, char *out, size_t outlen)
{
	size_t	n = 0;

	for (; *s; s++) {
		char	ch = *s;

		if (ch == '\\' && s[1]) {
			s++;
			ch = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
		}
		if (n + 1 >= outlen)
			sl_usage("-e: reply too long");
		out[n++] = ch;
	}
	out[n] = 0;
	return n;
}

/* sl_proc_status - a "Name: N kB" (or plain number) line of /proc/PID/status; -1 unknown */
static long
sl_proc_status(const char *name)
{
	char	path[64], line[256];
	size_t	len = strlen(name);
	long	v = -1;
	FILE   *fp;

	if (sl.pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", sl.pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(fp);
	return v;
}

/* sl_proc_fds - open descriptors of the daemon; -1 unknown */
static long
sl_proc_fds(void)
{
	char	path[64];
	long	n = 0;
	DIR    *d;
	struct dirent *e;

	if (sl.pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/fd", sl.pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* sl_set_state - a connection's new state, counted */
static void
sl_set_state(struct sl_conn *c, enum sl_state state)
{
	sl_nstate[c->kind][c->state]--;
	sl_nstate[c->kind][state]++;
	c->state = state;
}

/* sl_watch - (re)register a connection with epoll */
static void
sl_watch(struct sl_conn *c, int op, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(sl_ep, op, c->fd, &ev) < 0)
		sl_die("epoll_ctl: %s", strerror(errno));
}

/* sl_opened - connected: from now on only reads matter */
static void
sl_opened(struct sl_conn *c, int op)
{
	sl_set_state(c, SL_OPEN);
	c->t_open = sl_now();
	sl_watch(c, op, EPOLLIN | EPOLLRDHUP);
}

/* sl_connect - start a non-blocking connect for a new connection of KIND */
static struct sl_conn *
sl_connect(enum sl_kind kind)
{
	struct sl_conn *c;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int	rc;

	if (sl_nconns >= SLOWLOAD_CONNS_MAX)
		sl_die("more than %d connections", SLOWLOAD_CONNS_MAX);
	c = &sl_conns[sl_nconns++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->state = SL_CONNECTING;
	sl_nstate[kind][SL_CONNECTING]++;
	if ((kind == SL_TIMED || kind == SL_PROBE) && (c->reply = malloc(SLOWLOAD_REPLY_MAX)) == NULL)
		sl_die("out of memory");
	memset(&ss, 0, sizeof(ss));
	if (sl.unix_path) {
		struct sockaddr_un *sun = (struct sockaddr_un *) &ss;

		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", sl.unix_path);
		sslen = sizeof(*sun);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t) sl.port);
		if (inet_pton(AF_INET, sl.addr, &sin->sin_addr) != 1)
			sl_usage("-a: not an IPv4 address");
		sslen = sizeof(*sin);
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		sl_die("socket: %s (connection %zu; raise ulimit -n)", strerror(errno), sl_nconns);
	if (!sl.unix_path && kind == SL_TIMED) {
		int	on = 1;

		(void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	do {
		rc = connect(c->fd, (struct sockaddr *) &ss, sslen);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		sl_opened(c, EPOLL_CTL_ADD);
	} else if (errno == EINPROGRESS || errno == EAGAIN) {
		/* a full unix listen queue says EAGAIN: writable once there is room? no: retry later */
		if (errno == EAGAIN && sl.unix_path) {
			close(c->fd);
			free(c->reply);
			sl_nstate[kind][SL_CONNECTING]--;
			sl_nconns--;
			return NULL;
		}
		sl_watch(c, EPOLL_CTL_ADD, EPOLLOUT);
	} else {
		sl_set_state(c, SL_FAILED);
		close(c->fd);
		c->fd = -1;
	}
	if (kind == SL_TIMED && sl_ntimed < SLOWLOAD_TIMED_MAX)
		sl_timed_idx[sl_ntimed++] = sl_nconns - 1;
	if (kind == SL_DRIP)
		sl_drip_idx[sl_ndrip++] = sl_nconns - 1;
	return c;
}

/* sl_server_closed - the server closed a connection */
static void
sl_server_closed(struct sl_conn *c)
{
	sl_set_state(c, SL_CLOSED);
	c->t_closed = sl_now();
	close(c->fd);
	c->fd = -1;
	if (c->kind == SL_TIMED && c->busy)
		sl_failed++;
}

/* sl_reply_done - whether the reply in c->reply is whole */
static int
sl_reply_done(const struct sl_conn *c)
{
	size_t	len = 0, i;

	if (strcmp(sl.proto, "policy") == 0)
		return c->rlen >= 2 && memmem(c->reply, c->rlen, "\n\n", 2) != NULL;
	if (strcmp(sl.proto, "milter") == 0)
		return c->rlen >= 4 && c->rlen >= 4 + ((size_t) (unsigned char) c->reply[2] << 8
						       | (unsigned char) c->reply[3]);
	/* socketmap: LEN ":" DATA "," */
	for (i = 0; i < c->rlen && c->reply[i] >= '0' && c->reply[i] <= '9'; i++)
		len = len * 10 + (size_t) (c->reply[i] - '0');
	return i < c->rlen && c->reply[i] == ':' && c->rlen >= i + 1 + len + 1;
}

/* sl_reply_check - a whole reply: time it, compare it */
static void
sl_reply_check(struct sl_conn *c, int64_t now)
{
	int	ok;

	if (strcmp(sl.proto, "milter") == 0)
		ok = c->rlen >= 5 && c->reply[4] == 'O';
	else
		ok = c->rlen == sl_expect_len && memcmp(c->reply, sl_expect, sl_expect_len) == 0;
	if (!ok) {
		if (sl_wrong == 0)
			fprintf(stderr, "slowload: wrong reply (%zu bytes): %.*s\n", c->rlen, (int) c->rlen, c->reply);
		sl_wrong++;
	}
	if (sl_nsamples < SLOWLOAD_SAMPLES_MAX)
		sl_samples[sl_nsamples++] = now - c->t_sent;
	if (sl_slow_ms && now - c->t_sent >= sl_slow_ms * SLOWLOAD_MS)
		fprintf(stderr, "slowload: slow reply: %.3f ms, sent at +%.3f s\n", (now - c->t_sent) / 1e6,
			(c->t_sent - sl_phase_start) / 1e9);
	c->busy = 0;
	c->rlen = 0;
}

/* sl_readable - bytes or a close from the server */
static void
sl_readable(struct sl_conn *c)
{
	char	buf[4096];
	ssize_t	n;

	for (;;) {
		char   *dst = buf;
		size_t	room = sizeof(buf);

		if (c->kind == SL_TIMED) {
			dst = c->reply + c->rlen;
			room = SLOWLOAD_REPLY_MAX - c->rlen;
			if (room == 0) {
				sl_reply_check(c, sl_now());	/* too long: wrong */
				continue;
			}
		}
		n = read(c->fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			sl_server_closed(c);
			return;
		}
		if (c->kind != SL_TIMED) {
			sl_unexpected += (size_t) n;
			continue;
		}
		c->rlen += (size_t) n;
		if (c->busy && sl_reply_done(c))
			sl_reply_check(c, sl_now());
	}
}

/* sl_drip_bytes - bytes the drip connections sent */
static size_t
sl_drip_bytes(void)
{
	size_t	n = 0;

	for (size_t i = 0; i < sl_nconns; i++)
		if (sl_conns[i].kind == SL_DRIP)
			n += sl_conns[i].sent;
	return n;
}

/* sl_poll - wait up to timeout_ms for events and handle them */
static void
sl_poll(int timeout_ms)
{
	struct epoll_event ev[SLOWLOAD_EVENTS];
	int	n;

	n = epoll_wait(sl_ep, ev, SLOWLOAD_EVENTS, timeout_ms);
	if (n < 0 && errno != EINTR)
		sl_die("epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct sl_conn *c = ev[i].data.ptr;

		if (c->state == SL_CONNECTING) {
			int	err = 0;
			socklen_t len = sizeof(err);

			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (err) {
				sl_set_state(c, SL_FAILED);
				close(c->fd);
				c->fd = -1;
			} else {
				sl_opened(c, EPOLL_CTL_MOD);
			}
		} else if (c->state == SL_OPEN) {
			sl_readable(c);
		}
	}
}

/* sl_count - connections of KIND in STATE */
static size_t
sl_count(enum sl_kind kind, enum sl_state state)
{
	return sl_nstate[kind][state];
}

/* sl_drip_tick - the drip connections whose turn has come send one byte; the next turn */
static int64_t
sl_drip_tick(int64_t now)
{
	for (size_t k = 0; k < sl_ndrip; k++) {
		struct sl_conn *c = &sl_conns[sl_drip_idx[sl_drip_cursor]];

		if (c->state == SL_OPEN && c->next != INT64_MAX) {
			if (c->next > now)
				return c->next;
			/* all but the request's last byte: it never becomes whole; then silence */
			if (send(c->fd, sl_request + c->sent, 1, MSG_NOSIGNAL) == 1)
				c->sent++;
			c->next += sl.drip_interval;
			if (c->next <= now)
				c->next = now + sl.drip_interval;
			if (c->sent + 1 >= sl_request_len)
				c->next = INT64_MAX;
		}
		sl_drip_cursor = (sl_drip_cursor + 1) % sl_ndrip;
	}
	return now + sl.drip_interval;
}

/* sl_open - open COUNT connections of KIND at sl.open_rate a second, dripping meanwhile */
static void
sl_open(enum sl_kind kind, size_t count)
{
	size_t	first = sl_nconns, started = 0;
	int64_t	start = sl_now();

	while (sl_now() < sl.deadline) {
		size_t	connecting = sl_count(kind, SL_CONNECTING);
		size_t	allowed = (size_t) ((sl_now() - start) / SLOWLOAD_MS * (int64_t) sl.open_rate / 1000) + 1;

		/*
		 * On loopback a connect completes before the server has accepted
		 * it. Faster than the daemon accepts, its listen queue (128)
		 * overflows: Linux then drops handshakes (a second's wait each)
		 * and, with SYN cookies, can lose an idle client's final ACK for
		 * good - the client thinks it is connected, the server never
		 * heard of it. Hence a steady rate, not bursts.
		 */
		while (started < count && started < allowed && connecting < SLOWLOAD_INFLIGHT) {
			struct sl_conn *c = sl_connect(kind);

			if (c == NULL)
				break;		/* unix queue full: after the next poll */
			if (kind == SL_DRIP)	/* spread evenly over one interval */
				c->next = sl_now() + sl.drip_interval * (int64_t) started / (int64_t) count;
			started++;
			if (c->state == SL_CONNECTING)
				connecting++;
		}
		if (started == count && connecting == 0)
			break;
		sl_poll(1);
		sl_drip_tick(sl_now());
	}
	if (started < count || sl_count(kind, SL_CONNECTING))
		sl_die("deadline: %zu of %zu connections made", sl_nconns - first, count);
}

/* sl_wait_server - dripping, wait (20 s at most) until the daemon holds `want` descriptors; 0 or -1 */
static int
sl_wait_server(long want)
{
	int64_t	end = sl_now() + 20000 * SLOWLOAD_MS, look = 0;

	while (sl_now() < sl.deadline && sl_now() < end) {
		if (sl_now() >= look) {
			/* reading /proc/PID/fd costs the kernel in proportion: 10 looks a second */
			long	have = sl_proc_fds();

			if (have < 0 || have >= want)
				return have < 0 ? -1 : 0;
			look = sl_now() + 100 * SLOWLOAD_MS;
		}
		sl_poll(10);
		sl_drip_tick(sl_now());
	}
	return -1;
}

/* sl_cmp - qsort of int64_t */
static int
sl_cmp(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *) a, y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

/* sl_stats - print the phase's figures; its p99 in ns (0 without samples) */
static int64_t
sl_stats(const char *what, int64_t elapsed)
{
	size_t	n = sl_nsamples;
	int64_t	p99ns = 0;

	qsort(sl_samples, n, sizeof(*sl_samples), sl_cmp);
	printf("%s count=%zu wrong=%zu failed=%zu", what, n, sl_wrong, sl_failed);
	if (n) {
		size_t	p99 = (n * 99 + 99) / 100;

		p99ns = sl_samples[p99 - 1];
		printf(" p50_ms=%.3f p99_ms=%.3f max_ms=%.3f", sl_samples[(n - 1) / 2] / 1e6,
		       p99ns / 1e6, sl_samples[n - 1] / 1e6);
	}
	printf(" seconds=%.1f\n", elapsed / 1e9);
	fflush(stdout);
	return p99ns;
}

/* sl_timed - N requests over the timed connections at sl.rate a second in all, dripping meanwhile; the p99 */
static int64_t
sl_timed(const char *what, size_t requests)
{
	int64_t	period = 1000000000LL * (int64_t) sl.conns / (int64_t) (sl.rate ? sl.rate : 1);
	int64_t	start = sl_now();
	size_t	sent = 0;

	sl_phase_start = start;
	sl_nsamples = sl_wrong = sl_failed = 0;
	for (size_t i = 0; i < sl_ntimed; i++)
		sl_conns[sl_timed_idx[i]].next = start + period * (int64_t) i / (int64_t) sl_ntimed;
	while (sl_nsamples + sl_failed < requests && sl_now() < sl.deadline) {
		int64_t	now = sl_now(), next = sl_drip_tick(now);
		int	wait_ms;

		for (size_t i = 0; i < sl_ntimed; i++) {
			struct sl_conn *c = &sl_conns[sl_timed_idx[i]];

			if (c->state != SL_OPEN || c->busy)
				continue;
			if (c->next <= now && sent < requests) {
				c->t_sent = sl_now();
				c->busy = 1;
				c->rlen = 0;
				if (send(c->fd, sl_request, sl_request_len, MSG_NOSIGNAL) != (ssize_t) sl_request_len) {
					sl_failed++;
					sl_server_closed(c);
					continue;
				}
				sent++;
				c->next += period;
				if (c->next < now)
					c->next = now;	/* late: no burst to catch up */
			}
			if (c->next < next)
				next = c->next;
		}
		if (sl_count(SL_TIMED, SL_OPEN) == 0)
			break;
		wait_ms = (int) ((next - sl_now()) / SLOWLOAD_MS);
		sl_poll(wait_ms < 0 ? 0 : wait_ms > 10 ? 10 : wait_ms);
	}
	return sl_stats(what, sl_now() - start);
}

/* sl_request_build - the request of -P, in sl_request */
static void
sl_request_build(void)
{
	int	n;

	if (strcmp(sl.proto, "policy") == 0) {
		n = snprintf(sl_request, sizeof(sl_request),
			     "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
			     "client_address=192.0.2.1\nclient_name=unknown\nhelo_name=client.test\n"
			     "sender=a@sender.test\nrecipient=%s\nqueue_id=TESTQ\n\n", sl.rcpt);
	} else if (strcmp(sl.proto, "socketmap") == 0) {
		n = snprintf(sl_request, sizeof(sl_request), "%zu:%s,", strlen(sl.key), sl.key);
	} else {
		/* milter: SMFIC_OPTNEG, version 6, all actions, no protocol steps skipped */
		static const char optneg[] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 1, (char) 0xff,
			0, 0, 0, 0};

		memcpy(sl_request, optneg, sizeof(optneg));
		n = (int) sizeof(optneg);
	}
	if (n < 0 || (size_t) n >= sizeof(sl_request))
		sl_usage("request too long");
	sl_request_len = (size_t) n;
}

/* sl_mode_load - baseline, then idle and drip connections, then the timed requests */
static void
sl_mode_load(void)
{
	long	rss0, rss1, fds0, fds1;

	for (size_t i = 0; i < sl.conns; i++)
		sl_connect(SL_TIMED);
	sl_open(SL_TIMED, 0);
	if (sl.baseline)
		sl_timed("baseline", sl.baseline);
	rss0 = sl_proc_status("VmRSS");
	fds0 = sl_proc_fds();
	sl_open(SL_IDLE, sl.idle);
	sl_open(SL_DRIP, sl.drip);
	if (sl_wait_server(fds0 + (long) (sl.idle + sl.drip)) < 0 && fds0 >= 0)
		fprintf(stderr, "slowload: the daemon holds %ld descriptors, not %ld\n", sl_proc_fds(),
			fds0 + (long) (sl.idle + sl.drip));
	rss1 = sl_proc_status("VmRSS");
	fds1 = sl_proc_fds();
	printf("held idle=%zu/%zu drip=%zu/%zu fds=%ld rss_base_kb=%ld rss_held_kb=%ld kb_per_conn=%.2f\n",
	       sl_count(SL_IDLE, SL_OPEN), sl.idle, sl_count(SL_DRIP, SL_OPEN), sl.drip, fds1, rss0, rss1,
	       sl.idle + sl.drip ? (double) (rss1 - rss0) / (double) (sl.idle + sl.drip) : 0.0);
	fflush(stdout);
	for (size_t k = 1; k <= sl.tries; k++) {
		char	what[32];

		snprintf(what, sizeof(what), "loaded attempt=%zu", k);
		if (sl_timed(what, sl.requests) < sl.goal_ms * SLOWLOAD_MS && sl_wrong + sl_failed == 0)
			break;
	}
	printf("after idle_open=%zu idle_closed=%zu drip_open=%zu drip_closed=%zu drip_bytes=%zu unexpected_bytes=%zu rss_kb=%ld\n",
	       sl_count(SL_IDLE, SL_OPEN), sl_count(SL_IDLE, SL_CLOSED), sl_count(SL_DRIP, SL_OPEN),
	       sl_count(SL_DRIP, SL_CLOSED), sl_drip_bytes(), sl_unexpected, sl_proc_status("VmRSS"));
}

/* sl_close_times - how long after its connect each closed connection of KIND was closed: min, p50, max */
static void
sl_close_times(enum sl_kind kind, const char *what)
{
	size_t	n = 0;

	for (size_t i = 0; i < sl_nconns; i++)
		if (sl_conns[i].kind == kind && sl_conns[i].state == SL_CLOSED && n < SLOWLOAD_SAMPLES_MAX)
			sl_samples[n++] = sl_conns[i].t_closed - sl_conns[i].t_open;
	qsort(sl_samples, n, sizeof(*sl_samples), sl_cmp);
	printf("%s opened=%zu closed=%zu still_open=%zu", what, sl_count(kind, SL_OPEN) + sl_count(kind, SL_CLOSED),
	       n, sl_count(kind, SL_OPEN));
	if (n)
		printf(" min_ms=%.0f p50_ms=%.0f max_ms=%.0f", sl_samples[0] / 1e6, sl_samples[(n - 1) / 2] / 1e6,
		       sl_samples[n - 1] / 1e6);
	printf("\n");
	fflush(stdout);
}

/* sl_mode_idle - idle and drip connections until the daemon has closed every idle one */
static void
sl_mode_idle(void)
{
	sl_open(SL_IDLE, sl.idle);
	sl_open(SL_DRIP, sl.drip);
	while (sl_count(SL_IDLE, SL_OPEN) > 0 && sl_now() < sl.deadline) {
		int64_t	next = sl_drip_tick(sl_now());
		int	wait_ms = (int) ((next - sl_now()) / SLOWLOAD_MS);

		sl_poll(wait_ms < 0 ? 0 : wait_ms > 50 ? 50 : wait_ms);
	}
	sl_close_times(SL_IDLE, "idle");
	sl_close_times(SL_DRIP, "drip");
	printf("drip bytes=%zu\n", sl_drip_bytes());
}

/* sl_probe - one more connection: whether the daemon closes it within ms; its close time */
static int
sl_probe(int64_t ms, int64_t *closed_after)
{
	struct sl_conn *c;
	size_t	idx;
	int64_t	end;

	sl_open(SL_PROBE, 1);
	idx = sl_nconns - 1;
	c = &sl_conns[idx];
	if (c->state != SL_OPEN)
		return -1;
	end = sl_now() + ms * SLOWLOAD_MS;
	while (sl_conns[idx].state == SL_OPEN && sl_now() < end)
		sl_poll(10);
	c = &sl_conns[idx];
	if (c->state != SL_CLOSED)
		return 0;
	*closed_after = c->t_closed - c->t_open;
	return 1;
}

/* sl_mode_cap - N held, one more refused; one of the N gone, one more kept */
static void
sl_mode_cap(void)
{
	long	fds0 = sl_proc_fds();
	int64_t	after = 0;
	int	extra, again;
	size_t	held;

	if (fds0 < 0)
		sl_usage("cap needs -s PID");
	sl_open(SL_IDLE, sl.idle);
	if (sl_wait_server(fds0 + (long) sl.idle) < 0)
		fprintf(stderr, "slowload: the daemon holds %ld descriptors, not %ld\n", sl_proc_fds(),
			fds0 + (long) sl.idle);
	held = sl_count(SL_IDLE, SL_OPEN);
	extra = sl_probe(2000, &after);
	printf("cap held=%zu/%zu extra_closed=%d extra_close_ms=%.1f idle_open=%zu\n", held, sl.idle,
	       extra == 1, after / 1e6, sl_count(SL_IDLE, SL_OPEN));
	/* one of the N goes: its place is free again */
	for (size_t i = 0; i < sl_nconns; i++) {
		struct sl_conn *c = &sl_conns[i];

		if (c->kind == SL_IDLE && c->state == SL_OPEN) {
			close(c->fd);
			c->fd = -1;
			sl_set_state(c, SL_CLOSED);
			c->t_closed = sl_now();
			break;
		}
	}
	for (int64_t end = sl_now() + 2000 * SLOWLOAD_MS; sl_proc_fds() >= fds0 + (long) sl.idle && sl_now() < end;)
		sl_poll(100);
	again = sl_probe(1000, &after);
	printf("cap after_one_left: new_connection_kept=%d\n", again == 0);
	fflush(stdout);
}

/* sl_mode_milter - N idle milter connections held; then timed negotiations, one connection each */
static void
sl_mode_milter(void)
{
	static const char quit[] = {0, 0, 0, 1, 'Q'};
	long	thr0 = sl_proc_status("Threads"), rss0 = sl_proc_status("VmRSS"), fds0 = sl_proc_fds();
	int64_t	start;

	sl_open(SL_IDLE, sl.idle);
	if (fds0 >= 0 && sl_wait_server(fds0 + (long) sl.idle) < 0)
		fprintf(stderr, "slowload: the milter holds %ld descriptors, not %ld\n", sl_proc_fds(),
			fds0 + (long) sl.idle);
	printf("milter held idle=%zu/%zu fds=%ld->%ld threads=%ld->%ld rss_kb=%ld->%ld\n", sl_count(SL_IDLE, SL_OPEN),
	       sl.idle, fds0, sl_proc_fds(), thr0, sl_proc_status("Threads"), rss0, sl_proc_status("VmRSS"));
	fflush(stdout);
	sl_nsamples = sl_wrong = sl_failed = 0;
	start = sl_now();
	for (size_t i = 0; i < sl.requests && sl_now() < sl.deadline; i++) {
		struct sl_conn *c;
		size_t	idx;

		sl_open(SL_TIMED, 1);
		idx = sl_nconns - 1;
		c = &sl_conns[idx];
		if (c->state != SL_OPEN) {
			sl_failed++;
			continue;
		}
		c->t_sent = c->t_open;		/* connect and thread start count too */
		c->busy = 1;
		if (send(c->fd, sl_request, sl_request_len, MSG_NOSIGNAL) != (ssize_t) sl_request_len) {
			sl_failed++;
			sl_server_closed(c);
			continue;
		}
		while (sl_conns[idx].busy && sl_conns[idx].state == SL_OPEN && sl_now() < sl.deadline)
			sl_poll(10);
		c = &sl_conns[idx];
		if (c->state == SL_OPEN) {
			(void) send(c->fd, quit, sizeof(quit), MSG_NOSIGNAL);
			close(c->fd);
			c->fd = -1;
			sl_set_state(c, SL_CLOSED);
		} else if (c->busy) {
			sl_failed++;
		}
		free(c->reply);
		c->reply = NULL;
	}
	sl_stats("optneg", sl_now() - start);
	printf("milter after idle_open=%zu idle_closed=%zu\n", sl_count(SL_IDLE, SL_OPEN), sl_count(SL_IDLE, SL_CLOSED));
}

int
main(int argc, char **argv)
{
	int	ch;
	const char *mode;

	while ((ch = getopt(argc, argv, "a:p:u:s:P:r:k:e:i:d:D:c:b:n:R:O:T:G:t:v:")) != -1) {
		switch (ch) {
		case 'a': sl.addr = optarg; break;
		case 'p': sl.port = (unsigned) sl_number(optarg, "-p"); break;
		case 'u': sl.unix_path = optarg; break;
		case 's': sl.pid = (long) sl_number(optarg, "-s"); break;
		case 'P': sl.proto = optarg; break;
		case 'r': sl.rcpt = optarg; break;
		case 'k': sl.key = optarg; break;
		case 'e': sl.expect = optarg; break;
		case 'i': sl.idle = sl_number(optarg, "-i"); break;
		case 'd': sl.drip = sl_number(optarg, "-d"); break;
		case 'D': sl.drip_interval = (int64_t) sl_number(optarg, "-D") * SLOWLOAD_MS; break;
		case 'c': sl.conns = sl_number(optarg, "-c"); break;
		case 'b': sl.baseline = sl_number(optarg, "-b"); break;
		case 'n': sl.requests = sl_number(optarg, "-n"); break;
		case 'R': sl.rate = sl_number(optarg, "-R"); break;
		case 'T': sl.tries = sl_number(optarg, "-T"); break;
		case 'G': sl.goal_ms = (int64_t) sl_number(optarg, "-G"); break;
		case 'O': sl.open_rate = sl_number(optarg, "-O"); break;
		case 'v': sl_slow_ms = (int64_t) sl_number(optarg, "-v"); break;
		case 't': sl.deadline = (int64_t) sl_number(optarg, "-t") * 1000 * SLOWLOAD_MS; break;
		default: sl_usage("unknown option");
		}
	}
	if (optind + 1 != argc)
		sl_usage("one MODE");
	mode = argv[optind];
	if (!sl.unix_path && !sl.port)
		sl_usage("-p PORT or -u PATH");
	if (strcmp(mode, "milter") == 0)
		sl.proto = "milter";
	else if (strcmp(sl.proto, "policy") && strcmp(sl.proto, "socketmap"))
		sl_usage("-P: policy or socketmap");
	if (sl.conns == 0 || sl.conns > SLOWLOAD_TIMED_MAX || sl.drip_interval <= 0 || sl.open_rate == 0)
		sl_usage("-c 1..64, -D and -O above 0");
	if (sl.idle + sl.drip + sl.conns + sl.requests + 2 > SLOWLOAD_CONNS_MAX)
		sl_usage("too many connections");
	sl_request_build();
	sl_expect_len = sl_unescape(sl.expect ? sl.expect : strcmp(sl.proto, "policy") == 0
				    ? "action=DUNNO\\n\\n" : "", sl_expect, sizeof(sl_expect));
	sl.deadline = sl.deadline ? sl_now() + sl.deadline : sl_now() + 60 * 1000 * SLOWLOAD_MS;
	if ((sl_conns = calloc(SLOWLOAD_CONNS_MAX, sizeof(*sl_conns))) == NULL
	    || (sl_drip_idx = calloc(SLOWLOAD_CONNS_MAX, sizeof(*sl_drip_idx))) == NULL
	    || (sl_samples = calloc(SLOWLOAD_SAMPLES_MAX, sizeof(*sl_samples))) == NULL)
		sl_die("out of memory");
	if ((sl_ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		sl_die("epoll_create1: %s", strerror(errno));
	if (strcmp(mode, "load") == 0)
		sl_mode_load();
	else if (strcmp(mode, "idle") == 0)
		sl_mode_idle();
	else if (strcmp(mode, "cap") == 0)
		sl_mode_cap();
	else if (strcmp(mode, "milter") == 0)
		sl_mode_milter();
	else
		sl_usage("MODE: load, idle, cap or milter");
	fflush(stdout);
	return sl_now() < sl.deadline ? 0 : 1;
}
