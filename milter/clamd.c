/*
 * clamd.c - a direct client of ClamAV's clamd: one INSTREAM scan per
 * connection, fed as the message arrives.
 *
 * The protocol (clamd(8), "INSTREAM"): the client connects to clamd's
 * TCP or unix socket and sends the command "zINSTREAM\0" (the z prefix
 * makes clamd end its reply with a NUL), then the data as chunks, each
 * a 4-byte length in network byte order followed by that many bytes, and
 * a chunk of length 0 to end the stream. clamd scans what it received,
 * answers one line and closes the connection:
 *   stream: OK                              clean
 *   stream: Eicar-Test-Signature FOUND      a signature matched (names of
 *   stream: MHKIT.Test.Sig.UNOFFICIAL FOUND  unofficial databases end in
 *                                            .UNOFFICIAL)
 *   stream: Can't allocate memory ERROR     clamd could not scan
 *   INSTREAM size limit exceeded. ERROR     more than StreamMaxLength sent
 *   UNKNOWN COMMAND                         not a clamd, or a very old one
 * clamd checks every chunk's length against what is left of its
 * StreamMaxLength (clamd.conf, 25M by default): a chunk that does not fit
 * gets "INSTREAM size limit exceeded. ERROR" at once, and clamd closes the
 * connection without reading the rest, so the client's next writes fail
 * (EPIPE or ECONNRESET). The caller avoids that by passing a max_bytes at
 * or below clamd's StreamMaxLength: clamd_write sends the first max_bytes
 * bytes and drops the rest, and the result says "truncated" (the caller
 * decides what an unscanned tail means). Should the error come anyway
 * (a smaller StreamMaxLength than configured here), it is read and
 * reported as an error with clamd's text, and the broken pipe never
 * raises SIGPIPE: every send uses MSG_NOSIGNAL.
 *
 * Public functions: clamd_parse (a pure parser of one complete reply),
 * clamd_open, clamd_write, clamd_finish, clamd_abort. A scan is
 * clamd_open, any number of clamd_write, then clamd_finish (the verdict)
 * or clamd_abort; both close the connection and free the scan, also
 * after an error.
 *
 * Limits: data goes out in chunks of at most CLAMD_CHUNK_MAX bytes;
 * small writes are gathered into one chunk, so one scan holds one
 * chunk's buffer (about 64 KB) and never the message. A reply is at most
 * CLAMD_REPLY_MAX bytes with its terminator (a NUL, or a newline from a
 * clamd that ignores the z prefix); a longer one is an error. A
 * signature name is made printable (bytes outside ASCII 0x20-0x7e become
 * '?') and kept to CLAMD_NAME_MAX bytes; a longer one is cut and ends in
 * "...": the verdict stands, only its name is shortened. Reply text in
 * error messages is made printable the same way and cut at
 * CLAMD_TEXT_MAX bytes. Each step waits at most timeout_ms: clamd_open
 * (connect and command), each clamd_write call, and clamd_finish (the
 * last chunk, the end mark and the verdict, which includes clamd's scan
 * time). A timeout_ms or max_bytes of 0 is refused by clamd_open. A
 * host name in an inet: endpoint is resolved with getaddrinfo, outside
 * that bound: configure an address.
 *
 * Threads: no static mutable state; one struct clamd belongs to one
 * thread at a time, and different scans run in parallel freely.
 *
 * Logging: none; the caller logs the verdict or the error.
 *
 * Failures: -1 (or NULL) with one line in the caller's err buffer,
 * starting with "clamd" and the endpoint as configured (clamd_parse,
 * which knows no endpoint, says "clamd: ..."):
 *   clamd inet:127.0.0.1:3310: Connection refused
 *   clamd unix:/run/clamav/clamd.ctl: No such file or directory
 *   clamd inet:127.0.0.1:3310: timed out after 30000 ms waiting for the verdict
 *   clamd inet:127.0.0.1:3310: INSTREAM size limit exceeded. ERROR
 *   clamd inet:127.0.0.1:3310: connection closed before the end of the stream
 *   clamd inet:127.0.0.1:3310: unexpected reply "UNKNOWN COMMAND"
 * An error is sticky: once a step failed the connection is closed, and
 * later clamd_write and clamd_finish calls return the same error. An
 * error is never a verdict: "found" and "clean" come only from a whole,
 * well-formed reply after the whole stream.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clamd.h"
#include "clock.h"

#define CLAMD_COMMAND		"zINSTREAM"	/* sent with its NUL */
#define CLAMD_HEAD_LEN		4	/* chunk length, network byte order */
#define CLAMD_TEXT_MAX		200	/* bytes of reply text quoted in an error */
#define CLAMD_ERR_MAX		512	/* bytes of a scan's sticky error */
#define CLAMD_ADDR_MAX		ENDPOINT_FORMAT_MAX	/* "inet:[host]:port", "unix:/path" */
#define CLAMD_PORT_TEXT_MAX	8	/* "65535" and its NUL */
#define CLAMD_STRERROR_MAX	128	/* bytes of an errno's text */
#define CLAMD_PREFIX		"stream: "	/* INSTREAM's file name, then a space */
#define CLAMD_OK		"OK"
#define CLAMD_FOUND		" FOUND"
#define CLAMD_ERROR		" ERROR"

_Static_assert(CLAMD_CHUNK_MAX > 0 && CLAMD_CHUNK_MAX <= UINT32_MAX, "a chunk length fits 4 bytes");
_Static_assert(CLAMD_NAME_MAX >= 4, "room for a cut name and its \"...\"");
_Static_assert(CLAMD_TEXT_MAX >= 4, "room for cut text and its \"...\"");
_Static_assert(CLAMD_ADDR_MAX + 16 < CLAMD_ERR_MAX, "an error names the endpoint in full");

struct clamd {
	int	fd;			/* -1 once closed */
	uint64_t timeout_ms;		/* each step's bound */
	uint64_t max_bytes;		/* data bytes sent at most */
	uint64_t taken;			/* data bytes accepted so far (<= max_bytes) */
	int	truncated;		/* bytes were dropped past max_bytes */
	int	failed;			/* sticky: err says why, fd is closed */
	size_t	fill;			/* data bytes waiting in out */
	char	addr[CLAMD_ADDR_MAX];	/* the endpoint, as configured */
	char	err[CLAMD_ERR_MAX];
	/* one chunk: its length, its data, and room for the end mark */
	unsigned char out[CLAMD_HEAD_LEN + CLAMD_CHUNK_MAX + CLAMD_HEAD_LEN];
};

/* clamd_set_err - format into the caller's err buffer, when there is one */
static void __attribute__((format(printf, 3, 4)))
clamd_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* clamd_deadline - now plus timeout_ms, without overflow */
static uint64_t
clamd_deadline(uint64_t timeout_ms)
{
	uint64_t now = clock_mono_ms();

	return timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms;
}

/* clamd_strerror - an errno's text, thread-safe */
static const char *
clamd_strerror(int e, char *buf, size_t buflen)
{
	return strerror_r(e, buf, buflen);	/* the GNU form: config.h sets _GNU_SOURCE */
}

/*
 * clamd_printable - copy len bytes of text into dst (size dstlen >= 4)
 * with every byte outside 0x20-0x7e as '?'; text that does not fit is cut
 * and ends in "..."
 */
static void
clamd_printable(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t	n = len;
	size_t	i;

	if (n > dstlen - 1)
		n = dstlen - 4;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) src[i];

		dst[i] = (ch >= 0x20 && ch <= 0x7e) ? (char) ch : '?';
	}
	if (n < len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

/* clamd_ends_with - the len bytes of text end with suffix */
static int
clamd_ends_with(const char *text, size_t len, const char *suffix)
{
	size_t	n = strlen(suffix);

	return len >= n && memcmp(text + len - n, suffix, n) == 0;
}

/*
 * clamd_parse_as - clamd_parse, its errors starting with who ("clamd",
 * or "clamd ENDPOINT" for a connection)
 */
static int
clamd_parse_as(const char *who, const char *buf, size_t len, struct clamd_result *res,
	       char *err, size_t errlen)
{
	char	text[CLAMD_TEXT_MAX + 1];
	const char *name;
	size_t	namelen;

	memset(res, 0, sizeof(*res));
	if (len > CLAMD_REPLY_MAX) {
		clamd_set_err(err, errlen, "%s: reply longer than %d bytes", who, CLAMD_REPLY_MAX);
		return -1;
	}
	/* one terminator: NUL after a z command, newline after an n or a bare one */
	if (len > 0 && (buf[len - 1] == '\0' || buf[len - 1] == '\n'))
		len--;
	if (len == 0) {
		clamd_set_err(err, errlen, "%s: empty reply", who);
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		clamd_set_err(err, errlen, "%s: NUL byte in the reply", who);
		return -1;
	}
	clamd_printable(text, sizeof(text), buf, len);

	if (len == strlen(CLAMD_PREFIX CLAMD_OK) && memcmp(buf, CLAMD_PREFIX CLAMD_OK, len) == 0)
		return 0;
	if (clamd_ends_with(buf, len, CLAMD_ERROR)) {
		clamd_set_err(err, errlen, "%s: %s", who, text);
		return -1;
	}
	if (len >= strlen(CLAMD_PREFIX) + strlen(CLAMD_FOUND)
	    && memcmp(buf, CLAMD_PREFIX, strlen(CLAMD_PREFIX)) == 0
	    && clamd_ends_with(buf, len, CLAMD_FOUND)) {
		name = buf + strlen(CLAMD_PREFIX);
		namelen = len - strlen(CLAMD_PREFIX) - strlen(CLAMD_FOUND);
		while (namelen > 0 && name[0] == ' ') {
			name++;
			namelen--;
		}
		while (namelen > 0 && name[namelen - 1] == ' ')
			namelen--;
		if (namelen == 0) {
			clamd_set_err(err, errlen, "%s: FOUND without a signature name: \"%s\"", who, text);
			return -1;
		}
		res->found = 1;
		clamd_printable(res->name, sizeof(res->name), name, namelen);
		return 0;
	}
	clamd_set_err(err, errlen, "%s: unexpected reply \"%s\"", who, text);
	return -1;
}

/* clamd_parse - see clamd.h; the reply may end in its NUL or newline */
int
clamd_parse(const char *buf, size_t len, struct clamd_result *res, char *err, size_t errlen)
{
	return clamd_parse_as("clamd", buf, len, res, err, errlen);
}

/* clamd_close - close the connection, once */
static void
clamd_close(struct clamd *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* clamd_fail - record the sticky error "clamd ENDPOINT: ...", close; -1 */
static int __attribute__((format(printf, 2, 3)))
clamd_fail(struct clamd *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(c->err, sizeof(c->err), "clamd %s: ", c->addr);
	if (n >= 0 && (size_t) n < sizeof(c->err)) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, sizeof(c->err) - (size_t) n, fmt, ap);
		va_end(ap);
	}
	c->failed = 1;
	clamd_close(c);
	return -1;
}

/* clamd_poll - wait for events until deadline: 1 ready (revents set), 0 timed out, -1 errno */
static int
clamd_poll(int fd, short events, uint64_t deadline, short *revents)
{
	struct pollfd pfd;
	uint64_t now;
	uint64_t left;
	int	rc;

	for (;;) {
		now = clock_mono_ms();
		left = deadline > now ? deadline - now : 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int) left);
		if (rc > 0) {
			*revents = pfd.revents;
			return 1;
		}
		if (rc == 0 && left <= INT_MAX)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

enum clamd_read {
	CLAMD_READ_OK,			/* a terminated reply */
	CLAMD_READ_EOF,			/* closed first (partial text, maybe none) */
	CLAMD_READ_TIMEOUT,		/* deadline passed first */
	CLAMD_READ_LONG,		/* CLAMD_REPLY_MAX bytes and no terminator */
	CLAMD_READ_ERROR		/* a socket error, in *e */
};

/*
 * clamd_read_reply - read up to a NUL or newline (kept in *len), until
 * deadline; what stopped it
 */
static enum clamd_read
clamd_read_reply(struct clamd *c, char *buf, size_t *len, uint64_t deadline, int *e)
{
	const char *end;
	short	revents;
	ssize_t	n;
	int	rc;

	*len = 0;
	for (;;) {
		rc = clamd_poll(c->fd, POLLIN, deadline, &revents);
		if (rc == 0)
			return CLAMD_READ_TIMEOUT;
		if (rc < 0) {
			*e = errno;
			return CLAMD_READ_ERROR;
		}
		n = recv(c->fd, buf + *len, CLAMD_REPLY_MAX - *len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			*e = errno;
			return CLAMD_READ_ERROR;
		}
		if (n == 0)
			return CLAMD_READ_EOF;
		for (end = buf + *len; end < buf + *len + n; end++) {
			if (*end == '\0' || *end == '\n') {
				*len = (size_t) (end - buf) + 1;
				return CLAMD_READ_OK;
			}
		}
		*len += (size_t) n;
		if (*len == CLAMD_REPLY_MAX)
			return CLAMD_READ_LONG;
	}
}

/*
 * clamd_read_fail - the sticky error for a reply that did not come whole;
 * waiting says what we were waiting for
 */
static int
clamd_read_fail(struct clamd *c, enum clamd_read r, const char *buf, size_t len, int e,
		const char *waiting)
{
	char	text[CLAMD_TEXT_MAX + 1];
	char	ebuf[CLAMD_STRERROR_MAX];

	clamd_printable(text, sizeof(text), buf, len);
	if (r == CLAMD_READ_LONG)
		return clamd_fail(c, "reply longer than %d bytes", CLAMD_REPLY_MAX);
	if (len > 0)
		return clamd_fail(c, "connection %s in the middle of the reply \"%s\"",
				  r == CLAMD_READ_TIMEOUT ? "timed out" : "closed", text);
	if (r == CLAMD_READ_TIMEOUT)
		return clamd_fail(c, "timed out after %llu ms %s",
				  (unsigned long long) c->timeout_ms, waiting);
	if (r == CLAMD_READ_ERROR)
		return clamd_fail(c, "%s %s", clamd_strerror(e, ebuf, sizeof(ebuf)), waiting);
	return clamd_fail(c, "connection closed %s", waiting);
}

/*
 * clamd_early - clamd spoke (or the connection broke: send_errno) before
 * the end of the stream; it only does that to refuse, so read what it
 * said (waiting no longer once a send failed) and fail with it
 */
static int
clamd_early(struct clamd *c, uint64_t deadline, int send_errno)
{
	char	buf[CLAMD_REPLY_MAX];
	char	text[CLAMD_TEXT_MAX + 1];
	char	ebuf[CLAMD_STRERROR_MAX];
	char	who[CLAMD_ADDR_MAX + 8];
	struct clamd_result res;
	enum clamd_read r;
	size_t	len;
	int	e = 0;

	r = clamd_read_reply(c, buf, &len, send_errno ? clock_mono_ms() : deadline, &e);
	if (r == CLAMD_READ_OK) {
		snprintf(who, sizeof(who), "clamd %s", c->addr);
		if (clamd_parse_as(who, buf, len, &res, c->err, sizeof(c->err)) < 0) {
			c->failed = 1;
			clamd_close(c);
			return -1;
		}
		clamd_printable(text, sizeof(text), buf, len - 1);
		return clamd_fail(c, "answered \"%s\" before the end of the stream", text);
	}
	if (len == 0 && send_errno != 0)
		return clamd_fail(c, "cannot send: %s",
				  clamd_strerror(send_errno, ebuf, sizeof(ebuf)));
	return clamd_read_fail(c, r, buf, len, e, "before the end of the stream");
}

/*
 * clamd_send - send n bytes until deadline, watching for an early reply;
 * -1 after clamd_fail
 */
static int
clamd_send(struct clamd *c, const unsigned char *p, size_t n, uint64_t deadline)
{
	char	ebuf[CLAMD_STRERROR_MAX];
	short	revents;
	ssize_t	sent;
	int	rc;

	while (n > 0) {
		rc = clamd_poll(c->fd, POLLIN | POLLOUT, deadline, &revents);
		if (rc == 0)
			return clamd_fail(c, "timed out after %llu ms sending the stream",
					  (unsigned long long) c->timeout_ms);
		if (rc < 0)
			return clamd_fail(c, "poll: %s", clamd_strerror(errno, ebuf, sizeof(ebuf)));
		if (revents & POLLIN)
			return clamd_early(c, deadline, 0);
		sent = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return clamd_early(c, deadline, errno);
		}
		p += sent;
		n -= (size_t) sent;
	}
	return 0;
}

/* clamd_flush - send the gathered data as one chunk */
static int
clamd_flush(struct clamd *c, uint64_t deadline)
{
	uint32_t head = htonl((uint32_t) c->fill);

	memcpy(c->out, &head, CLAMD_HEAD_LEN);
	if (clamd_send(c, c->out, CLAMD_HEAD_LEN + c->fill, deadline) < 0)
		return -1;
	c->fill = 0;
	return 0;
}

/*
 * clamd_connect_one - a non-blocking connect to one address, bounded by
 * deadline; the socket, or -1 with *e (ETIMEDOUT for the deadline)
 */
static int
clamd_connect_one(int family, const struct sockaddr *sa, socklen_t salen, uint64_t deadline,
		  int *e)
{
	socklen_t elen = sizeof(*e);
	short	revents;
	int	fd;
	int	rc;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*e = errno;
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		*e = errno;
		close(fd);
		return -1;
	}
	rc = clamd_poll(fd, POLLOUT, deadline, &revents);
	if (rc <= 0) {
		*e = rc == 0 ? ETIMEDOUT : errno;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, e, &elen) < 0)
		*e = errno;
	if (*e != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* clamd_connect - connect c to ep before deadline; -1 after clamd_fail */
static int
clamd_connect(struct clamd *c, const struct endpoint *ep, uint64_t deadline)
{
	char	ebuf[CLAMD_STRERROR_MAX];
	char	port[CLAMD_PORT_TEXT_MAX];
	struct sockaddr_un sun;
	struct addrinfo hints;
	struct addrinfo *list;
	struct addrinfo *ai;
	int	e = 0;
	int	rc;

	if (ep->kind == ENDPOINT_UNIX) {
		if (strlen(ep->path) >= sizeof(sun.sun_path))
			return clamd_fail(c, "socket path too long");
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, ep->path, strlen(ep->path) + 1);
		c->fd = clamd_connect_one(AF_UNIX, (struct sockaddr *) &sun, sizeof(sun), deadline, &e);
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%u", ep->port);
		rc = getaddrinfo(ep->host, port, &hints, &list);
		if (rc != 0)
			return clamd_fail(c, "cannot resolve %s: %s", ep->host,
					  rc == EAI_SYSTEM ? clamd_strerror(errno, ebuf, sizeof(ebuf))
					  : gai_strerror(rc));
		for (ai = list; ai != NULL && c->fd < 0 && e != ETIMEDOUT; ai = ai->ai_next)
			c->fd = clamd_connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
						  deadline, &e);
		freeaddrinfo(list);
	}
	if (c->fd >= 0)
		return 0;
	if (e == ETIMEDOUT)
		return clamd_fail(c, "connect timed out after %llu ms",
				  (unsigned long long) c->timeout_ms);
	return clamd_fail(c, "%s", clamd_strerror(e, ebuf, sizeof(ebuf)));
}

/* clamd_address - the endpoint as main.cf writes it */
static void
clamd_address(const struct endpoint *ep, char *buf, size_t buflen)
{
	if (ep->kind == ENDPOINT_UNIX)
		snprintf(buf, buflen, "unix:%s", ep->path);
	else if (strchr(ep->host, ':') != NULL)
		snprintf(buf, buflen, "inet:[%s]:%u", ep->host, ep->port);
	else
		snprintf(buf, buflen, "inet:%s:%u", ep->host, ep->port);
}

/* clamd_open - see clamd.h */
struct clamd *
clamd_open(const struct endpoint *ep, uint64_t timeout_ms, uint64_t max_bytes, char *err,
	   size_t errlen)
{
	struct clamd *c;
	uint64_t deadline;

	if (ep == NULL || (ep->kind != ENDPOINT_INET && ep->kind != ENDPOINT_UNIX)) {
		clamd_set_err(err, errlen, "clamd: no socket configured");
		return NULL;
	}
	if (timeout_ms == 0 || max_bytes == 0) {
		clamd_set_err(err, errlen, "clamd: %s is 0", timeout_ms == 0 ? "timeout" : "max_bytes");
		return NULL;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		clamd_set_err(err, errlen, "clamd: out of memory");
		return NULL;
	}
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	c->max_bytes = max_bytes;
	c->taken = 0;
	c->truncated = 0;
	c->failed = 0;
	c->fill = 0;
	c->err[0] = '\0';
	clamd_address(ep, c->addr, sizeof(c->addr));

	deadline = clamd_deadline(timeout_ms);
	if (clamd_connect(c, ep, deadline) < 0
	    || clamd_send(c, (const unsigned char *) CLAMD_COMMAND, sizeof(CLAMD_COMMAND), deadline) < 0) {
		clamd_set_err(err, errlen, "%s", c->err);
		free(c);
		return NULL;
	}
	return c;
}

/* clamd_write - see clamd.h; gathers data into chunks of CLAMD_CHUNK_MAX */
int
clamd_write(struct clamd *c, const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;
	uint64_t deadline = 0;
	size_t	n;

	if (c->failed) {
		clamd_set_err(err, errlen, "%s", c->err);
		return -1;
	}
	if (len > c->max_bytes - c->taken) {
		len = (size_t) (c->max_bytes - c->taken);
		c->truncated = 1;
	}
	c->taken += len;
	while (len > 0) {
		n = CLAMD_CHUNK_MAX - c->fill;
		if (n > len)
			n = len;
		memcpy(c->out + CLAMD_HEAD_LEN + c->fill, p, n);
		c->fill += n;
		p += n;
		len -= n;
		if (c->fill < CLAMD_CHUNK_MAX)
			break;
		if (deadline == 0)
			deadline = clamd_deadline(c->timeout_ms);
		if (clamd_flush(c, deadline) < 0) {
			clamd_set_err(err, errlen, "%s", c->err);
			return -1;
		}
	}
	return 0;
}

/* clamd_finish - see clamd.h */
int
clamd_finish(struct clamd *c, struct clamd_result *res, char *err, size_t errlen)
{
	char	buf[CLAMD_REPLY_MAX];
	char	who[CLAMD_ADDR_MAX + 8];
	uint64_t deadline;
	enum clamd_read r;
	size_t	len;
	int	e = 0;
	int	rc = -1;

	memset(res, 0, sizeof(*res));
	if (c->failed)
		goto out;
	deadline = clamd_deadline(c->timeout_ms);

	/* the last chunk and the end mark (a chunk of length 0) in one send */
	memset(c->out + CLAMD_HEAD_LEN + c->fill, 0, CLAMD_HEAD_LEN);
	if (c->fill > 0) {
		uint32_t head = htonl((uint32_t) c->fill);

		memcpy(c->out, &head, CLAMD_HEAD_LEN);
		rc = clamd_send(c, c->out, CLAMD_HEAD_LEN + c->fill + CLAMD_HEAD_LEN, deadline);
	} else {
		rc = clamd_send(c, c->out + CLAMD_HEAD_LEN, CLAMD_HEAD_LEN, deadline);
	}
	if (rc < 0)
		goto out;

	rc = -1;
	r = clamd_read_reply(c, buf, &len, deadline, &e);
	if (r != CLAMD_READ_OK) {
		clamd_read_fail(c, r, buf, len, e, "waiting for the verdict");
		goto out;
	}
	snprintf(who, sizeof(who), "clamd %s", c->addr);
	if (clamd_parse_as(who, buf, len, res, c->err, sizeof(c->err)) < 0)
		goto out;
	res->truncated = c->truncated;
	rc = 0;

out:
	if (rc < 0) {
		memset(res, 0, sizeof(*res));
		clamd_set_err(err, errlen, "%s", c->err);
	}
	clamd_abort(c);
	return rc;
}

/* clamd_abort - see clamd.h; NULL is allowed */
void
clamd_abort(struct clamd *c)
{
	if (c == NULL)
		return;
	clamd_close(c);
	free(c);
}
