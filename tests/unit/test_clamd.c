/*
 * test_clamd.c - milter/clamd.c: the reply parser from a table of named
 * replies, and whole scans against small fake clamd servers.
 *
 * Each fake server is a child process forked by the test on a socket the
 * test bound first (127.0.0.1 port 0, or a unix socket in a private
 * directory), so there is no race with the client. It serves one
 * connection the way its mode says (a checking clamd, a fixed reply, a
 * silent one, one that closes or stops reading in mid-stream, one with
 * clamd's StreamMaxLength behaviour), and is killed and reaped by the
 * test (SIGKILL, waitpid). Should a test fail before that, the child
 * dies anyway: it has an alarm, and on Linux it is killed with its
 * parent.
 *
 * The checking server reads the INSTREAM framing itself: "zINSTREAM\0",
 * then chunks (4-byte network-order length, data) up to a length of 0.
 * The data is a pattern (byte i is i % 251), so a byte lost, doubled or
 * moved across a chunk boundary shows. It answers "stream: OK" only when
 * every chunk is 1..CLAMD_CHUNK_MAX bytes and it saw exactly the
 * expected bytes, else "stream: BAD... FOUND" naming what it saw.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <check.h>

#include "clamd.h"

#define PATTERN_PERIOD		251	/* byte i of a stream is i % 251 */
#define FAKE_LIFE_S		60	/* a fake server's alarm */
#define FAKE_BUF		65536	/* a fake server's read buffer */
#define TIMEOUT_MS		5000	/* a scan step that should not wait */
#define SHORT_TIMEOUT_MS	300	/* for the servers that hang */
#define MARGIN_MS		1500	/* slack on a timeout (valgrind is slow) */
#define THREADS			8	/* parallel scans */

/* --- the parser -------------------------------------------------------- */

#define R(s)	s, sizeof(s) - 1	/* a reply's bytes, NULs included */

struct parse_case {
	const char *name;
	const char *in;
	size_t	len;
	int	ret;			/* 0 verdict, -1 error */
	int	found;
	const char *sig;		/* the name kept, when found */
	const char *err;		/* the exact error, when -1 */
};

static const struct parse_case parse_cases[] = {
	{"ok, NUL-terminated", R("stream: OK\0"), 0, 0, "", NULL},
	{"ok, newline-terminated", R("stream: OK\n"), 0, 0, "", NULL},
	{"ok, no terminator", R("stream: OK"), 0, 0, "", NULL},
	{"found: Eicar-Test-Signature", R("stream: Eicar-Test-Signature FOUND\0"), 0, 1,
	 "Eicar-Test-Signature", NULL},
	{"found: Win.Test.EICAR_HDB-1", R("stream: Win.Test.EICAR_HDB-1 FOUND\0"), 0, 1,
	 "Win.Test.EICAR_HDB-1", NULL},
	{"found: an unofficial signature, newline", R("stream: MHKIT.Test.Sig.UNOFFICIAL FOUND\n"), 0, 1,
	 "MHKIT.Test.Sig.UNOFFICIAL", NULL},
	{"found: ExtendedDetectionInfo", R("stream: Eicar-Test-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND\0"),
	 0, 1, "Eicar-Test-Signature(44d88612fea8a8f36de82e1278abb02f:68)", NULL},
	{"found: heuristic", R("stream: Heuristics.Encrypted.Zip FOUND\0"), 0, 1,
	 "Heuristics.Encrypted.Zip", NULL},
	{"found: a name with spaces", R("stream: Some Name With Spaces FOUND\0"), 0, 1,
	 "Some Name With Spaces", NULL},
	{"found: spaces around the name", R("stream:   Spaced.Name   FOUND\0"), 0, 1, "Spaced.Name", NULL},
	{"found: the word FOUND twice", R("stream: A FOUND FOUND\0"), 0, 1, "A FOUND", NULL},
	{"found: control and 8-bit bytes made printable", R("stream: Bad\tName\x01\x7f\xc3\xa9 FOUND\0"), 0, 1,
	 "Bad?Name????", NULL},
	{"found: no name", R("stream:  FOUND\0"), -1, 0, NULL,
	 "clamd: FOUND without a signature name: \"stream:  FOUND\""},
	{"found: only spaces", R("stream:     FOUND\0"), -1, 0, NULL,
	 "clamd: FOUND without a signature name: \"stream:     FOUND\""},
	{"found: prefix and suffix overlap", R("stream: FOUND\0"), -1, 0, NULL,
	 "clamd: unexpected reply \"stream: FOUND\""},
	{"error: size limit", R("INSTREAM size limit exceeded. ERROR\0"), -1, 0, NULL,
	 "clamd: INSTREAM size limit exceeded. ERROR"},
	{"error: out of memory", R("stream: Can't allocate memory ERROR\0"), -1, 0, NULL,
	 "clamd: stream: Can't allocate memory ERROR"},
	{"error: a newline-terminated one", R("stream: Can't create temporary file ERROR\n"), -1, 0, NULL,
	 "clamd: stream: Can't create temporary file ERROR"},
	{"error: ERROR beats FOUND", R("stream: X FOUND ERROR\0"), -1, 0, NULL,
	 "clamd: stream: X FOUND ERROR"},
	{"error: control bytes made printable", R("stream: bad\x1b[0m ERROR\0"), -1, 0, NULL,
	 "clamd: stream: bad?[0m ERROR"},
	{"UNKNOWN COMMAND", R("UNKNOWN COMMAND\0"), -1, 0, NULL,
	 "clamd: unexpected reply \"UNKNOWN COMMAND\""},
	{"COMMAND READ TIMED OUT", R("COMMAND READ TIMED OUT\0"), -1, 0, NULL,
	 "clamd: unexpected reply \"COMMAND READ TIMED OUT\""},
	{"PONG", R("PONG\0"), -1, 0, NULL, "clamd: unexpected reply \"PONG\""},
	{"empty", R(""), -1, 0, NULL, "clamd: empty reply"},
	{"only a NUL", R("\0"), -1, 0, NULL, "clamd: empty reply"},
	{"only a newline", R("\n"), -1, 0, NULL, "clamd: empty reply"},
	{"missing stream: (OK)", R("OK\0"), -1, 0, NULL, "clamd: unexpected reply \"OK\""},
	{"missing stream: (FOUND)", R("Eicar-Test-Signature FOUND\0"), -1, 0, NULL,
	 "clamd: unexpected reply \"Eicar-Test-Signature FOUND\""},
	{"another file name", R("/tmp/x: Eicar-Test-Signature FOUND\0"), -1, 0, NULL,
	 "clamd: unexpected reply \"/tmp/x: Eicar-Test-Signature FOUND\""},
	{"IDSESSION numbering", R("1: stream: OK\0"), -1, 0, NULL, "clamd: unexpected reply \"1: stream: OK\""},
	{"lower case", R("stream: ok\0"), -1, 0, NULL, "clamd: unexpected reply \"stream: ok\""},
	{"trailing space", R("stream: OK \0"), -1, 0, NULL, "clamd: unexpected reply \"stream: OK \""},
	{"CR LF", R("stream: OK\r\n"), -1, 0, NULL, "clamd: unexpected reply \"stream: OK?\""},
	{"two terminators", R("stream: OK\n\0"), -1, 0, NULL, "clamd: unexpected reply \"stream: OK?\""},
	{"ERROR without a space", R("ERROR\0"), -1, 0, NULL, "clamd: unexpected reply \"ERROR\""},
	{"garbage", R("\x16\x03\x01\x02garbage\xff\0"), -1, 0, NULL, "clamd: unexpected reply \"????garbage?\""},
	{"an HTTP server", R("HTTP/1.1 400 Bad Request\r\n"), -1, 0, NULL,
	 "clamd: unexpected reply \"HTTP/1.1 400 Bad Request?\""},
	{"NUL inside (OK)", R("stream: OK\0\0"), -1, 0, NULL, "clamd: NUL byte in the reply"},
	{"NUL inside (name)", R("stream: E\0vil FOUND\0"), -1, 0, NULL, "clamd: NUL byte in the reply"},
	{"NUL first", R("\0stream: OK\0"), -1, 0, NULL, "clamd: NUL byte in the reply"},
};

#define NPARSE	(sizeof(parse_cases) / sizeof(parse_cases[0]))

START_TEST(test_parse_case)
{
	const struct parse_case *pc = &parse_cases[_i];
	struct clamd_result res;
	char	err[512] = "";
	char	small[12];
	int	ret;

	memset(&res, 0x5a, sizeof(res));
	ret = clamd_parse(pc->in, pc->len, &res, err, sizeof(err));
	ck_assert_msg(ret == pc->ret, "%s: returned %d (err \"%s\")", pc->name, ret, err);
	ck_assert_int_eq(res.truncated, 0);
	if (ret == 0) {
		ck_assert_msg(res.found == pc->found, "%s: found %d", pc->name, res.found);
		ck_assert_msg(strcmp(res.name, pc->sig) == 0, "%s: name \"%s\"", pc->name, res.name);
	} else {
		ck_assert_msg(strcmp(err, pc->err) == 0, "%s: err \"%s\"", pc->name, err);
		ck_assert_int_eq(res.found, 0);
		ck_assert_str_eq(res.name, "");
	}
	/* a small err buffer is cut, never overrun; none at all is allowed */
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(clamd_parse(pc->in, pc->len, &res, small, 8), pc->ret);
	ck_assert(small[8] == 'x');
	if (pc->ret < 0)
		ck_assert_uint_eq(strlen(small), 7);
	ck_assert_int_eq(clamd_parse(pc->in, pc->len, &res, NULL, 0), pc->ret);
}
END_TEST

/* parse_name_len - a FOUND reply whose name is n bytes of ch; the name kept */
static void
parse_name_len(size_t n, char ch, struct clamd_result *res)
{
	char	buf[CLAMD_REPLY_MAX + 16];
	char	err[256] = "";
	size_t	len;

	len = (size_t) snprintf(buf, sizeof(buf), "stream: ");
	memset(buf + len, ch, n);
	len += n;
	memcpy(buf + len, " FOUND", 7);	/* with its NUL: the terminator */
	len += 7;
	ck_assert_msg(clamd_parse(buf, len, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res->found, 1);
}

START_TEST(test_parse_long_name)
{
	struct clamd_result res;
	char	want[CLAMD_NAME_MAX + 1];

	/* exactly CLAMD_NAME_MAX: kept whole */
	parse_name_len(CLAMD_NAME_MAX, 'B', &res);
	memset(want, 'B', CLAMD_NAME_MAX);
	want[CLAMD_NAME_MAX] = '\0';
	ck_assert_str_eq(res.name, want);

	/* one more: cut, and marked as cut; the verdict stands */
	parse_name_len(CLAMD_NAME_MAX + 1, 'C', &res);
	memset(want, 'C', CLAMD_NAME_MAX - 3);
	memcpy(want + CLAMD_NAME_MAX - 3, "...", 4);
	ck_assert_str_eq(res.name, want);
	ck_assert_uint_eq(strlen(res.name), CLAMD_NAME_MAX);

	/* as long as a reply may be */
	parse_name_len(CLAMD_REPLY_MAX - strlen("stream:  FOUND") - 1, 'D', &res);
	ck_assert_uint_eq(strlen(res.name), CLAMD_NAME_MAX);
	ck_assert_str_eq(res.name + CLAMD_NAME_MAX - 3, "...");
}
END_TEST

START_TEST(test_parse_too_long)
{
	struct clamd_result res;
	char	buf[CLAMD_REPLY_MAX + 2];
	char	want[512];
	char	err[512] = "";

	/* CLAMD_REPLY_MAX bytes with the terminator: still a reply */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "stream: ", 8);
	memcpy(buf + CLAMD_REPLY_MAX - 7, " FOUND", 7);
	ck_assert_msg(clamd_parse(buf, CLAMD_REPLY_MAX, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.found, 1);

	/* one byte more: refused before anything is looked at */
	memcpy(buf + CLAMD_REPLY_MAX - 6, " FOUND", 7);
	ck_assert_int_eq(clamd_parse(buf, CLAMD_REPLY_MAX + 1, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "clamd: reply longer than 4096 bytes");
	ck_assert_int_eq(res.found, 0);

	/* long garbage is quoted, cut at 200 bytes */
	memset(buf, 'g', 300);
	buf[300] = '\0';
	ck_assert_int_eq(clamd_parse(buf, 301, &res, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "clamd: unexpected reply \"%.*s...\"", 197, buf);
	ck_assert_str_eq(err, want);
}
END_TEST

/* --- fake clamd servers ------------------------------------------------ */

enum fake_mode {
	FAKE_VERIFY,			/* read the stream, check framing and bytes */
	FAKE_REPLY,			/* read the stream, send reply, close */
	FAKE_GREET,			/* send reply at once, then read the stream */
	FAKE_HANG,			/* read the stream, never answer */
	FAKE_NOREAD,			/* accept, never read */
	FAKE_CLOSE_MID,			/* read limit data bytes, close */
	FAKE_SHUT_RD,			/* read the command, stop reading (shutdown), stay */
	FAKE_LIMIT			/* clamd's StreamMaxLength = limit */
};

struct fake_opts {
	enum fake_mode mode;
	uint64_t expect;		/* VERIFY: the data bytes it must see */
	int	report;			/* VERIFY: answer "stream: chunks.N.max.M.total.T FOUND" */
	const char *reply;		/* REPLY, GREET */
	size_t	reply_len;
	uint64_t limit;			/* CLOSE_MID, LIMIT */
	int	conns;			/* connections served, each in its own process (0: 1) */
};

struct fake {
	pid_t	pid;
	struct endpoint ep;		/* unix: a socket in sockdir */
};

static char sockdir[64];		/* made by main, emptied and removed at the end */

/* fake_read_full - read n bytes; -1 at EOF or error */
static int
fake_read_full(int fd, void *buf, size_t n)
{
	unsigned char *p = buf;
	ssize_t	r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t) r;
	}
	return 0;
}

/* fake_write_full - write n bytes, ignoring errors */
static void
fake_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t	w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t) w;
	}
}

/* fake_reply - send a NUL-terminated text */
static void
fake_reply(int fd, const char *text)
{
	fake_write_full(fd, text, strlen(text) + 1);
}

/*
 * fake_stream - read chunks up to the end mark, checking the pattern
 * from *total on; bad set on a framing or data error; -1 at EOF
 */
static int
fake_stream(int fd, uint64_t *total, unsigned *chunks, uint32_t *max, int *bad)
{
	unsigned char buf[FAKE_BUF];
	uint32_t head;
	uint32_t len;
	size_t	n;

	for (;;) {
		if (fake_read_full(fd, &head, 4) < 0)
			return -1;
		len = ntohl(head);
		if (len == 0)
			return 0;
		if (len > CLAMD_CHUNK_MAX)
			*bad = 1;
		(*chunks)++;
		if (len > *max)
			*max = len;
		while (len > 0) {
			n = len < sizeof(buf) ? len : sizeof(buf);
			if (fake_read_full(fd, buf, n) < 0)
				return -1;
			for (size_t i = 0; i < n; i++)
				if (buf[i] != (unsigned char) ((*total + i) % PATTERN_PERIOD))
					*bad = 1;
			*total += n;
			len -= (uint32_t) n;
		}
	}
}

/* fake_command - read "zINSTREAM\0"; 0 when that is what came */
static int
fake_command(int fd)
{
	char	cmd[10];

	if (fake_read_full(fd, cmd, sizeof(cmd)) < 0)
		return -1;
	return memcmp(cmd, "zINSTREAM\0", sizeof(cmd)) == 0 ? 0 : -1;
}

/* fake_limit - clamd's INSTREAM loop with StreamMaxLength = quota */
static void
fake_limit(int fd, uint64_t quota)
{
	unsigned char buf[FAKE_BUF];
	uint32_t head;
	uint32_t len;
	size_t	n;

	for (;;) {
		if (fake_read_full(fd, &head, 4) < 0)
			return;
		len = ntohl(head);
		if (len == 0) {
			fake_reply(fd, "stream: OK");
			return;
		}
		if (len > quota) {
			/* answer and close with the rest unread, as clamd does */
			fake_reply(fd, "INSTREAM size limit exceeded. ERROR");
			return;
		}
		quota -= len;
		while (len > 0) {
			n = len < sizeof(buf) ? len : sizeof(buf);
			if (fake_read_full(fd, buf, n) < 0)
				return;
			len -= (uint32_t) n;
		}
	}
}

/* fake_serve - one connection, as the mode says */
static void
fake_serve(int fd, const struct fake_opts *o)
{
	unsigned char buf[FAKE_BUF];
	char	text[256];
	uint64_t total = 0;
	uint32_t max = 0;
	unsigned chunks = 0;
	int	bad = 0;
	size_t	n;

	if (o->mode == FAKE_NOREAD) {
		pause();
		return;
	}
	if (o->mode == FAKE_GREET)
		fake_write_full(fd, o->reply, o->reply_len);
	if (fake_command(fd) < 0) {
		fake_reply(fd, "stream: BAD.command FOUND");
		return;
	}
	switch (o->mode) {
	case FAKE_VERIFY:
		if (fake_stream(fd, &total, &chunks, &max, &bad) < 0)
			return;
		if (bad || total != o->expect)
			snprintf(text, sizeof(text), "stream: BAD.total.%llu.chunks.%u.max.%u.bad.%d FOUND",
				 (unsigned long long) total, chunks, max, bad);
		else if (o->report)
			snprintf(text, sizeof(text), "stream: chunks.%u.max.%u.total.%llu FOUND",
				 chunks, max, (unsigned long long) total);
		else
			snprintf(text, sizeof(text), "stream: OK");
		fake_reply(fd, text);
		break;
	case FAKE_REPLY:
		if (fake_stream(fd, &total, &chunks, &max, &bad) < 0)
			return;
		fake_write_full(fd, o->reply, o->reply_len);
		break;
	case FAKE_GREET:
	case FAKE_HANG:
		if (fake_stream(fd, &total, &chunks, &max, &bad) < 0)
			return;
		pause();
		break;
	case FAKE_CLOSE_MID:
		for (total = 0; total < o->limit; total += n) {
			n = o->limit - total < sizeof(buf) ? (size_t) (o->limit - total) : sizeof(buf);
			if (fake_read_full(fd, buf, n) < 0)
				return;
		}
		break;
	case FAKE_SHUT_RD:
		shutdown(fd, SHUT_RD);
		pause();
		break;
	case FAKE_LIMIT:
		fake_limit(fd, o->limit);
		break;
	case FAKE_NOREAD:
		break;
	}
}

/* fake_die_with_parent - a fake server never outlives the test */
static void
fake_die_with_parent(void)
{
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	alarm(FAKE_LIFE_S);
}

/* fake_run - the child: serve o->conns connections on lfd, each in a process of its own */
static void __attribute__((noreturn))
fake_run(int lfd, const struct fake_opts *o)
{
	int	conns = o->conns > 0 ? o->conns : 1;
	int	fd;

	fake_die_with_parent();
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < conns; i++) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			_exit(1);
		}
		if (conns > 1 && fork() != 0) {
			close(fd);
			continue;
		}
		if (conns > 1)
			fake_die_with_parent();
		fake_serve(fd, o);
		close(fd);
		if (conns > 1)
			_exit(0);
	}
	pause();
	_exit(0);
}

/* fake_fork - run the server on the bound, listening lfd */
static void
fake_fork(struct fake *f, int lfd, const struct fake_opts *o)
{
	ck_assert_int_eq(listen(lfd, 16), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0)
		fake_run(lfd, o);
	close(lfd);
}

/* fake_tcp_socket - a socket bound to 127.0.0.1 on a port of the kernel's choice */
static int
fake_tcp_socket(unsigned *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int	fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* fake_start_tcp - a fake server on 127.0.0.1, port 0 */
static void
fake_start_tcp(struct fake *f, const struct fake_opts *o)
{
	memset(f, 0, sizeof(*f));
	f->ep.kind = ENDPOINT_INET;
	snprintf(f->ep.host, sizeof(f->ep.host), "127.0.0.1");
	fake_fork(f, fake_tcp_socket(&f->ep.port), o);
}

/* fake_unix_socket - a unix socket bound in sockdir, named by PID and a count */
static int
fake_unix_socket(struct fake *f)
{
	struct sockaddr_un sun;
	int	fd;

	static unsigned seq;		/* per process: names are made unique by the PID */

	memset(f, 0, sizeof(*f));
	f->ep.kind = ENDPOINT_UNIX;
	snprintf(f->ep.path, sizeof(f->ep.path), "%s/%ld.%u.sock", sockdir, (long) getpid(), seq++);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->ep.path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	return fd;
}

/* fake_start_unix - a fake server on a unix socket */
static void
fake_start_unix(struct fake *f, const struct fake_opts *o)
{
	int	fd = fake_unix_socket(f);

	fake_fork(f, fd, o);
}

/* fake_stop - kill and reap the server, remove its socket */
static void
fake_stop(struct fake *f)
{
	int	status;

	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		ck_assert_int_eq(waitpid(f->pid, &status, 0), f->pid);
		f->pid = 0;
	}
	if (f->ep.kind == ENDPOINT_UNIX)
		unlink(f->ep.path);
}

/* --- clients --------------------------------------------------------------- */

/* now_ms - monotonic milliseconds */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static unsigned char pattern[PATTERN_PERIOD + 300000];	/* filled by main, read only after */

/*
 * write_pattern - stream total bytes of the pattern in writes whose sizes
 * cycle through sizes; 0, or -1 with err
 */
static int
write_pattern(struct clamd *c, uint64_t total, const size_t *sizes, size_t nsizes,
	      char *err, size_t errlen)
{
	uint64_t off = 0;
	size_t	n;

	for (size_t i = 0; off < total; i++) {
		n = sizes[i % nsizes];
		if (n > total - off)
			n = (size_t) (total - off);
		ck_assert_uint_le(n, sizeof(pattern) - PATTERN_PERIOD);
		if (clamd_write(c, pattern + off % PATTERN_PERIOD, n, err, errlen) < 0)
			return -1;
		off += n;
	}
	return 0;
}

static const size_t odd_sizes[] = {1, 2, 3, 4093, 65535, 65536, 65537, 7, 200000, 1, 13, 0, 131072};

#define NODD	(sizeof(odd_sizes) / sizeof(odd_sizes[0]))

/* scan_pattern - a whole scan of total pattern bytes; clamd_finish's return */
static int
scan_pattern(const struct endpoint *ep, uint64_t max_bytes, uint64_t total,
	     struct clamd_result *res, char *err, size_t errlen)
{
	struct clamd *c;

	c = clamd_open(ep, TIMEOUT_MS, max_bytes, err, errlen);
	ck_assert_msg(c != NULL, "open: %s", err);
	ck_assert_msg(write_pattern(c, total, odd_sizes, NODD, err, errlen) == 0, "write: %s", err);
	return clamd_finish(c, res, err, errlen);
}

START_TEST(test_stream_tcp)
{
	struct fake_opts o = {.mode = FAKE_VERIFY, .expect = 1000003};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";

	fake_start_tcp(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, 25 * 1024 * 1024, o.expect, &res, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(res.found, 0);
	ck_assert_int_eq(res.truncated, 0);
	fake_stop(&f);
}
END_TEST

START_TEST(test_stream_unix)
{
	struct fake_opts o = {.mode = FAKE_VERIFY, .expect = 777777};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";

	fake_start_unix(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, o.expect, o.expect, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.found, 0);
	ck_assert_int_eq(res.truncated, 0);	/* exactly max_bytes is not truncated */
	fake_stop(&f);
}
END_TEST

START_TEST(test_stream_chunks)
{
	/* small writes are gathered: full chunks, then the rest */
	struct fake_opts o = {.mode = FAKE_VERIFY, .expect = 3 * CLAMD_CHUNK_MAX + 5, .report = 1};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";
	char	want[128];

	fake_start_tcp(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, UINT64_MAX, o.expect, &res, err, sizeof(err)) == 0, "%s", err);
	snprintf(want, sizeof(want), "chunks.4.max.%d.total.%llu", CLAMD_CHUNK_MAX,
		 (unsigned long long) o.expect);
	ck_assert_int_eq(res.found, 1);
	ck_assert_str_eq(res.name, want);
	fake_stop(&f);
}
END_TEST

START_TEST(test_stream_empty)
{
	struct fake_opts o = {.mode = FAKE_VERIFY, .expect = 0};
	struct clamd_result res;
	struct clamd *c;
	struct fake f;
	char	err[512] = "";

	fake_start_unix(&f, &o);
	c = clamd_open(&f.ep, TIMEOUT_MS, 10, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(clamd_write(c, "", 0, err, sizeof(err)), 0);
	ck_assert_msg(clamd_finish(c, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.found, 0);
	ck_assert_int_eq(res.truncated, 0);
	fake_stop(&f);
}
END_TEST

START_TEST(test_truncated)
{
	/* max_bytes: the server sees exactly that many, the result says truncated */
	struct fake_opts o = {.mode = FAKE_VERIFY, .expect = 100000};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";

	fake_start_tcp(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, 100000, 250000, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.found, 0);
	ck_assert_int_eq(res.truncated, 1);
	fake_stop(&f);

	/* a limit inside a chunk, on a unix socket */
	o.expect = CLAMD_CHUNK_MAX + 1;
	fake_start_unix(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, o.expect, 5 * CLAMD_CHUNK_MAX, &res, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(res.truncated, 1);
	fake_stop(&f);
}
END_TEST

START_TEST(test_truncated_found)
{
	/* a verdict on the scanned part stands, and says truncated */
	static const char reply[] = "stream: Eicar-Test-Signature FOUND";
	struct fake_opts o = {.mode = FAKE_REPLY, .reply = reply, .reply_len = sizeof(reply)};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";

	fake_start_tcp(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, 10, 1000, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.found, 1);
	ck_assert_str_eq(res.name, "Eicar-Test-Signature");
	ck_assert_int_eq(res.truncated, 1);
	fake_stop(&f);
}
END_TEST

/* a fixed reply after the whole stream: what clamd_finish makes of it */
struct reply_case {
	const char *name;
	const char *reply;
	size_t	len;
	int	ret;
	const char *sig;		/* ret 0: the name ("" = clean) */
	const char *err;		/* ret -1: after "clamd inet:127.0.0.1:PORT: " */
};

static const struct reply_case reply_cases[] = {
	{"clean", R("stream: OK\0"), 0, "", NULL},
	{"found", R("stream: Eicar-Test-Signature FOUND\0"), 0, "Eicar-Test-Signature", NULL},
	{"found, newline", R("stream: Win.Test.EICAR_HDB-1 FOUND\n"), 0, "Win.Test.EICAR_HDB-1", NULL},
	{"found, data after the NUL", R("stream: X.Y FOUND\0trailing junk"), 0, "X.Y", NULL},
	{"error", R("stream: Can't allocate memory ERROR\0"), -1, NULL, "stream: Can't allocate memory ERROR"},
	{"garbage", R("HTTP/1.1 400 Bad Request\r\n"), -1, NULL, "unexpected reply \"HTTP/1.1 400 Bad Request?\""},
	{"binary garbage", R("\x80\x81\x82\0"), -1, NULL, "unexpected reply \"???\""},
	{"no reply", R(""), -1, NULL, "connection closed waiting for the verdict"},
	{"no terminator", R("stream: OK"), -1, NULL, "connection closed in the middle of the reply \"stream: OK\""},
	{"NUL inside", R("\0stream: OK\0"), -1, NULL, "empty reply"},
};

#define NREPLY	(sizeof(reply_cases) / sizeof(reply_cases[0]))

START_TEST(test_reply_case)
{
	const struct reply_case *rc = &reply_cases[_i];
	struct fake_opts o = {.mode = FAKE_REPLY, .reply = rc->reply, .reply_len = rc->len};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";
	char	want[512];
	int	ret;

	fake_start_tcp(&f, &o);
	ret = scan_pattern(&f.ep, 1000000, 5000, &res, err, sizeof(err));
	ck_assert_msg(ret == rc->ret, "%s: returned %d (%s)", rc->name, ret, err);
	if (ret == 0) {
		ck_assert_int_eq(res.found, rc->sig[0] != '\0');
		ck_assert_str_eq(res.name, rc->sig);
	} else {
		snprintf(want, sizeof(want), "clamd inet:127.0.0.1:%u: %s", f.ep.port, rc->err);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(res.found, 0);
	}
	fake_stop(&f);
}
END_TEST

START_TEST(test_reply_too_long)
{
	static char reply[CLAMD_REPLY_MAX + 100];
	struct fake_opts o = {.mode = FAKE_REPLY, .reply = reply, .reply_len = sizeof(reply)};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";
	char	want[512];

	memset(reply, 'x', sizeof(reply));
	fake_start_unix(&f, &o);
	ck_assert_int_eq(scan_pattern(&f.ep, 1000000, 10, &res, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "clamd unix:%s: reply longer than 4096 bytes", f.ep.path);
	ck_assert_str_eq(err, want);
	fake_stop(&f);
}
END_TEST

START_TEST(test_greeting)
{
	/* a server that speaks first (here, an SMTP server) */
	static const char banner[] = "220 mx.test ESMTP\r\n";
	struct fake_opts o = {.mode = FAKE_GREET, .reply = banner, .reply_len = sizeof(banner) - 1};
	struct clamd_result res;
	struct clamd *c;
	struct fake f;
	char	err[512] = "";
	char	want[512];

	fake_start_tcp(&f, &o);
	snprintf(want, sizeof(want), "clamd inet:127.0.0.1:%u: unexpected reply \"220 mx.test ESMTP?\"",
		 f.ep.port);
	usleep(100000);			/* let the banner arrive */
	c = clamd_open(&f.ep, TIMEOUT_MS, 1000, err, sizeof(err));
	if (c != NULL) {
		ck_assert_int_eq(write_pattern(c, 100, odd_sizes, NODD, err, sizeof(err)), 0);
		ck_assert_int_eq(clamd_finish(c, &res, err, sizeof(err)), -1);
	}
	ck_assert_str_eq(err, want);
	fake_stop(&f);
}
END_TEST

START_TEST(test_hang_reply)
{
	/* the stream is read, the verdict never comes: timeout_ms, then an error */
	struct fake_opts o = {.mode = FAKE_HANG};
	struct clamd_result res;
	struct clamd *c;
	struct fake f;
	char	err[512] = "";
	char	want[512];
	uint64_t t0;
	uint64_t took;

	fake_start_tcp(&f, &o);
	c = clamd_open(&f.ep, SHORT_TIMEOUT_MS, 1000000, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(write_pattern(c, 100000, odd_sizes, NODD, err, sizeof(err)), 0);
	t0 = now_ms();
	ck_assert_int_eq(clamd_finish(c, &res, err, sizeof(err)), -1);
	took = now_ms() - t0;
	snprintf(want, sizeof(want), "clamd inet:127.0.0.1:%u: timed out after 300 ms waiting for the verdict",
		 f.ep.port);
	ck_assert_str_eq(err, want);
	ck_assert_uint_ge(took, SHORT_TIMEOUT_MS - 10);
	ck_assert_uint_le(took, SHORT_TIMEOUT_MS + MARGIN_MS);
	fake_stop(&f);
}
END_TEST

START_TEST(test_hang_read)
{
	/* nobody reads: the write that fills the socket waits timeout_ms */
	struct fake_opts o = {.mode = FAKE_NOREAD};
	struct clamd_result res;
	struct clamd *c;
	struct fake f;
	char	err[512] = "";
	char	want[512];
	uint64_t t0;
	uint64_t took;
	int	ret = 0;
	int	i;

	fake_start_unix(&f, &o);
	c = clamd_open(&f.ep, SHORT_TIMEOUT_MS, UINT64_MAX, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	t0 = now_ms();
	for (i = 0; i < 4096 && ret == 0; i++)	/* up to 256 MB */
		ret = write_pattern(c, CLAMD_CHUNK_MAX, odd_sizes + 5, 1, err, sizeof(err));
	took = now_ms() - t0;
	ck_assert_int_eq(ret, -1);
	snprintf(want, sizeof(want), "clamd unix:%s: timed out after 300 ms sending the stream", f.ep.path);
	ck_assert_str_eq(err, want);
	ck_assert_uint_ge(took, SHORT_TIMEOUT_MS - 10);
	ck_assert_uint_le(took, SHORT_TIMEOUT_MS + MARGIN_MS);
	/* sticky */
	ck_assert_int_eq(clamd_write(c, "x", 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(clamd_finish(c, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	fake_stop(&f);
}
END_TEST

/* stream_until_error - write up to 64 MB in 64 KB writes; the error seen (write or finish) */
static void
stream_until_error(struct clamd *c, char *err, size_t errlen)
{
	struct clamd_result res;
	int	ret = 0;

	for (int i = 0; i < 1024 && ret == 0; i++)
		ret = write_pattern(c, CLAMD_CHUNK_MAX, odd_sizes + 5, 1, err, errlen);
	if (ret == 0)
		ck_assert_int_eq(clamd_finish(c, &res, err, errlen), -1);
	else
		clamd_abort(c);
}

START_TEST(test_close_mid_stream)
{
	/* the server closes with our data unread: an error, and SIGPIPE never comes */
	struct fake_opts o = {.mode = FAKE_CLOSE_MID, .limit = 1000};
	struct clamd_result res;
	struct clamd *c;
	struct fake f;
	char	err[512] = "";
	char	prefix[128];
	int	ret = 0;

	signal(SIGPIPE, SIG_DFL);
	fake_start_tcp(&f, &o);
	c = clamd_open(&f.ep, TIMEOUT_MS, UINT64_MAX, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	for (int i = 0; i < 1024 && ret == 0; i++)
		ret = write_pattern(c, CLAMD_CHUNK_MAX, odd_sizes + 5, 1, err, sizeof(err));
	ck_assert_int_eq(ret, -1);
	snprintf(prefix, sizeof(prefix), "clamd inet:127.0.0.1:%u: ", f.ep.port);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
	ck_assert_msg(strstr(err, "before the end of the stream") != NULL || strstr(err, "cannot send") != NULL,
		      "%s", err);
	ck_assert_int_eq(clamd_finish(c, &res, err, sizeof(err)), -1);
	ck_assert_int_eq(strncmp(err, prefix, strlen(prefix)), 0);
	fake_stop(&f);
}
END_TEST

START_TEST(test_broken_pipe)
{
	/* the peer stops reading (unix socket: our send fails with EPIPE at once) */
	struct fake_opts o = {.mode = FAKE_SHUT_RD};
	struct clamd *c;
	struct fake f;
	char	err[512] = "";
	char	want[512];
	uint64_t t0;

	signal(SIGPIPE, SIG_DFL);
	fake_start_unix(&f, &o);
	c = clamd_open(&f.ep, TIMEOUT_MS, UINT64_MAX, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	usleep(100000);			/* let it read the command and shut down */
	t0 = now_ms();
	stream_until_error(c, err, sizeof(err));
	snprintf(want, sizeof(want), "clamd unix:%s: cannot send: Broken pipe", f.ep.path);
	ck_assert_str_eq(err, want);
	ck_assert_uint_lt(now_ms() - t0, TIMEOUT_MS);	/* no waiting for a reply that will not come */
	fake_stop(&f);
}
END_TEST

START_TEST(test_size_limit)
{
	/* clamd's own StreamMaxLength is lower than our max_bytes: its error, no crash */
	struct fake_opts o = {.mode = FAKE_LIMIT, .limit = 1024 * 1024};
	struct clamd *c;
	struct fake f;
	char	err[512] = "";
	char	want[512];

	signal(SIGPIPE, SIG_DFL);
	for (int round = 0; round < 4; round++) {
		if (round % 2 == 0)
			fake_start_tcp(&f, &o);
		else
			fake_start_unix(&f, &o);
		c = clamd_open(&f.ep, TIMEOUT_MS, UINT64_MAX, err, sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		stream_until_error(c, err, sizeof(err));
		if (round % 2 == 0)
			snprintf(want, sizeof(want), "clamd inet:127.0.0.1:%u: INSTREAM size limit exceeded. ERROR",
				 f.ep.port);
		else
			snprintf(want, sizeof(want), "clamd unix:%s: INSTREAM size limit exceeded. ERROR",
				 f.ep.path);
		ck_assert_str_eq(err, want);
		fake_stop(&f);
	}
}
END_TEST

START_TEST(test_size_limit_respected)
{
	/* max_bytes at clamd's limit: no error, a verdict on what was sent */
	struct fake_opts o = {.mode = FAKE_LIMIT, .limit = 1024 * 1024};
	struct clamd_result res;
	struct fake f;
	char	err[512] = "";

	fake_start_tcp(&f, &o);
	ck_assert_msg(scan_pattern(&f.ep, o.limit, 3 * o.limit, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.found, 0);
	ck_assert_int_eq(res.truncated, 1);
	fake_stop(&f);
}
END_TEST

START_TEST(test_refused)
{
	struct endpoint ep;
	struct fake f;
	char	err[512] = "";
	char	want[512];
	int	fd;

	/* a TCP port nobody listens on */
	memset(&ep, 0, sizeof(ep));
	ep.kind = ENDPOINT_INET;
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	close(fake_tcp_socket(&ep.port));
	ck_assert_ptr_null(clamd_open(&ep, TIMEOUT_MS, 1000, err, sizeof(err)));
	snprintf(want, sizeof(want), "clamd inet:127.0.0.1:%u: Connection refused", ep.port);
	ck_assert_str_eq(err, want);

	/* a unix socket with no server behind it, and none at all */
	fd = fake_unix_socket(&f);
	close(fd);
	ck_assert_ptr_null(clamd_open(&f.ep, TIMEOUT_MS, 1000, err, sizeof(err)));
	snprintf(want, sizeof(want), "clamd unix:%s: Connection refused", f.ep.path);
	ck_assert_str_eq(err, want);
	fake_stop(&f);
	ck_assert_ptr_null(clamd_open(&f.ep, TIMEOUT_MS, 1000, err, sizeof(err)));
	snprintf(want, sizeof(want), "clamd unix:%s: No such file or directory", f.ep.path);
	ck_assert_str_eq(err, want);

	/* a name from /etc/hosts: every address is tried, each refuses */
	snprintf(ep.host, sizeof(ep.host), "localhost");
	ck_assert_ptr_null(clamd_open(&ep, TIMEOUT_MS, 1000, err, sizeof(err)));
	snprintf(want, sizeof(want), "clamd inet:localhost:%u: ", ep.port);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(test_open_args)
{
	struct endpoint ep;
	char	err[512] = "";

	memset(&ep, 0, sizeof(ep));
	ck_assert_ptr_null(clamd_open(&ep, TIMEOUT_MS, 1000, err, sizeof(err)));
	ck_assert_str_eq(err, "clamd: no socket configured");
	ck_assert_ptr_null(clamd_open(NULL, TIMEOUT_MS, 1000, err, sizeof(err)));
	ck_assert_str_eq(err, "clamd: no socket configured");
	ep.kind = ENDPOINT_INET;
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	ep.port = 1;
	ck_assert_ptr_null(clamd_open(&ep, 0, 1000, err, sizeof(err)));
	ck_assert_str_eq(err, "clamd: timeout is 0");
	ck_assert_ptr_null(clamd_open(&ep, TIMEOUT_MS, 0, err, sizeof(err)));
	ck_assert_str_eq(err, "clamd: max_bytes is 0");
	clamd_abort(NULL);
}
END_TEST

struct thread_scan {
	const struct endpoint *ep;
	uint64_t total;
	int	ret;
	struct clamd_result res;
	char	err[512];
};

/* thread_scan - one scan in a thread of its own */
static void *
thread_scan(void *arg)
{
	struct thread_scan *t = arg;
	struct clamd *c;

	t->ret = -1;
	if ((c = clamd_open(t->ep, TIMEOUT_MS, UINT64_MAX, t->err, sizeof(t->err))) == NULL)
		return NULL;
	for (uint64_t off = 0; off < t->total; off += 1000) {
		if (clamd_write(c, pattern + off % PATTERN_PERIOD, 1000, t->err, sizeof(t->err)) < 0) {
			clamd_abort(c);
			return NULL;
		}
	}
	t->ret = clamd_finish(c, &t->res, t->err, sizeof(t->err));
	return NULL;
}

START_TEST(test_threads)
{
	struct fake_opts o = {.mode = FAKE_VERIFY, .expect = 300000, .conns = THREADS};
	struct thread_scan t[THREADS];
	pthread_t th[THREADS];
	struct fake f;

	fake_start_tcp(&f, &o);
	for (int i = 0; i < THREADS; i++) {
		t[i].ep = &f.ep;
		t[i].total = o.expect;
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_scan, &t[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(t[i].ret == 0, "thread %d: %s", i, t[i].err);
		ck_assert_int_eq(t[i].res.found, 0);
	}
	fake_stop(&f);
}
END_TEST

/* clamd_suite - the parser table, then the scans */
static Suite *
clamd_suite(void)
{
	Suite  *s = suite_create("clamd");
	TCase  *tp = tcase_create("parse");
	TCase  *ts = tcase_create("scan");

	tcase_add_loop_test(tp, test_parse_case, 0, (int) NPARSE);
	tcase_add_test(tp, test_parse_long_name);
	tcase_add_test(tp, test_parse_too_long);
	suite_add_tcase(s, tp);

	tcase_set_timeout(ts, 60);
	tcase_add_test(ts, test_stream_tcp);
	tcase_add_test(ts, test_stream_unix);
	tcase_add_test(ts, test_stream_chunks);
	tcase_add_test(ts, test_stream_empty);
	tcase_add_test(ts, test_truncated);
	tcase_add_test(ts, test_truncated_found);
	tcase_add_loop_test(ts, test_reply_case, 0, (int) NREPLY);
	tcase_add_test(ts, test_reply_too_long);
	tcase_add_test(ts, test_greeting);
	tcase_add_test(ts, test_hang_reply);
	tcase_add_test(ts, test_hang_read);
	tcase_add_test(ts, test_close_mid_stream);
	tcase_add_test(ts, test_broken_pipe);
	tcase_add_test(ts, test_size_limit);
	tcase_add_test(ts, test_size_limit_respected);
	tcase_add_test(ts, test_refused);
	tcase_add_test(ts, test_open_args);
	tcase_add_test(ts, test_threads);
	suite_add_tcase(s, ts);
	return s;
}

/* sockdir_remove - remove sockdir and what failed tests left in it */
static void
sockdir_remove(void)
{
	char	path[sizeof(sockdir) + 300];
	struct dirent *de;
	DIR    *d;

	if ((d = opendir(sockdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", sockdir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(sockdir);
}

int
main(void)
{
	SRunner *sr;
	int	failed;

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char) (i % PATTERN_PERIOD);
	snprintf(sockdir, sizeof(sockdir), "%s/mhkit-test-clamd.XXXXXX",
		 getenv("TMPDIR") != NULL && strlen(getenv("TMPDIR")) < 32 ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(sockdir) == NULL) {
		perror(sockdir);
		return EXIT_FAILURE;
	}
	sr = srunner_create(clamd_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	sockdir_remove();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
