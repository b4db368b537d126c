/*
 * spamd.c - a direct client of SpamAssassin's spamd: the SYMBOLS command.
 *
 * spamd_check connects to spamd (inet:host:port or unix:/path), sends
 *
 *	SYMBOLS SPAMC/1.5\r\n
 *	Content-length: N\r\n
 *	\r\n
 *	<the N bytes of the message>
 *
 * shuts down its side for writing, and reads the reply, which spamd
 * (protocol 1.3 and later) writes as
 *
 *	SPAMD/1.1 0 EX_OK\r\n
 *	Content-length: 27\r\n
 *	Spam: True ; 1000.0 / 5.0\r\n
 *	\r\n
 *	GTUBE,NO_RECEIVED,NO_RELAYS
 *
 * (the body is the comma list of the rules that hit, without a line end;
 * older servers add CR LF, which is dropped).  A status other than 0
 * ("SPAMD/1.0 76 Bad header line: ...") comes alone and ends the reply.
 * No User header is sent: spamd applies its own (site) configuration.
 * spamd_parse is the parser on its own: bytes in, a result out, no
 * socket, so the unit test and the fuzzer feed it directly.
 *
 * Public functions: spamd_parse, spamd_check.
 *
 * Limits (spamd.h): a reply of at most SPAMD_REPLY_MAX bytes, status and
 * header lines of at most SPAMD_LINE_MAX bytes (checked as bytes arrive,
 * CR LF or LF alone), at most SPAMD_HEADERS_MAX header lines, rule names
 * of SPAMD_RULE_MAX bytes of letters, digits and '_'.  Crossing a limit
 * is an error, never a silent cut, with one exception: the rule names
 * kept in res->tests.  When they do not fit in SPAMD_TESTS_MAX - 1
 * bytes, the list stops before the first name that does not fit (never
 * inside a name), and res->tests_cut is 1; every name is still checked.
 * Scores are read by our own decimal reader, not strtod, so LC_NUMERIC
 * does not matter: an optional sign, 1 to 6 digits, optionally '.' and 1
 * to 6 digits; no exponent, no inf or nan, no trailing bytes.  What it
 * accepts is finite and within +-10^6 by construction, and it gives the
 * same double strtod would, except that "-0.0" (which spamd writes for a
 * tiny negative score) reads as 0.  spamd writes "%2.1f" ("15.0", "-1.2").
 * Header names are matched without regard to case; unknown headers are
 * ignored (as the protocol asks); a second Content-length or Spam header
 * is an error.  The verdict word is True or False (Yes or No, as
 * REPORT_IFSPAM says it, is accepted too), in any case.
 *
 * spamd_check waits at most timeout_ms in all (0: SPAMD_TIMEOUT_DEFAULT_MS):
 * non-blocking connect, send and receive, each wait a poll() bounded by
 * what is left of one deadline on the monotonic clock; EINTR is retried
 * with what is left.  A host name (rather than an address) is resolved
 * by getaddrinfo() first, bounded by the resolver's own timeouts, not by
 * ours; the deadline is checked after it.  Each address a name has is
 * tried in turn.  Writes use MSG_NOSIGNAL: a spamd that goes away gives
 * EPIPE, never SIGPIPE; process signal handling is not touched.  Partial
 * writes continue where they stopped.  The reply is parsed as it arrives
 * (after each line until the headers end, then once the body is there),
 * so a bad reply fails at once and a complete one does not wait for the
 * close.  A reply that starts while the message is still being sent is
 * read and reported (a status other than 0 is the usual case).
 *
 * Thread safety: no static mutable state; each call has its own socket and
 * buffers (the reply buffer, SPAMD_REPLY_MAX + 1 bytes, is malloc'ed, not
 * on the thread's stack).  strerror_r is the GNU one (config.h defines
 * _GNU_SOURCE).
 *
 * Logging: none; the caller logs err.
 *
 * Failures: -1 and one line in err; res is written only on success.
 * spamd_parse's lines start with "spamd: ", spamd_check's with "spamd
 * ENDPOINT: " (the main.cf form); text from the peer is made printable
 * and quoted at most SPAMD_QUOTE_MAX bytes (spamd's own status text:
 * SPAMD_STATUS_TEXT_MAX).  For example:
 *	spamd: status 76: Bad header line: (Content-Length mismatch: ...)
 *	spamd: not a spamd reply: "HTTP/1.1 400 Bad Request"
 *	spamd: bad score "1e9" in Spam header
 *	spamd: reply truncated: 5 of 23 bytes of body
 *	spamd inet:127.0.0.1:783: connect: Connection refused
 *	spamd unix:/run/spamd.sock: timeout after 5000 ms waiting for the reply
 */
#include "config.h"

#include <errno.h>
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

#include "clock.h"
#include "endpoint.h"
#include "log.h"
#include "spamd.h"

#define SPAMD_QUOTE_MAX		80	/* bytes of peer text quoted in an error */
#define SPAMD_STATUS_TEXT_MAX	200	/* bytes of spamd's own status text in an error */
#define SPAMD_ERR_MAX		512	/* bytes of an error line built here */
#define SPAMD_SCORE_INT_DIGITS	6	/* digits before the point of a score */
#define SPAMD_SCORE_FRAC_DIGITS	6	/* digits after it */
#define SPAMD_REQUEST_HEAD_MAX	64	/* bytes of "SYMBOLS ... \r\n\r\n" */
#define SPAMD_CLEN_DIGITS	9	/* digits of a Content-length value */
#define SPAMD_STRERROR_MAX	128	/* bytes of strerror_r text */

#define SPAMD_REQUEST_FMT	"SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n\r\n"

enum spamd_parse_status {
	SPAMD_PARSE_DONE,		/* a whole, good reply */
	SPAMD_PARSE_MORE,		/* good so far, not complete */
	SPAMD_PARSE_ERROR		/* bad; more bytes will not help */
};

enum spamd_line_status {
	SPAMD_LINE_OK,			/* a line ending in LF */
	SPAMD_LINE_MORE,		/* no LF yet, still within the limit */
	SPAMD_LINE_LONG			/* no LF within SPAMD_LINE_MAX (+ CR LF) bytes */
};

/* spamd_seterr - one line into err, cut to errlen */
static void spamd_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
spamd_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* spamd_quote - peer bytes, printable and capped, for an error message */
static const char *
spamd_quote(char *buf, size_t buflen, const char *text, size_t len)
{
	return log_printable(buf, buflen, text, len);
}

/* spamd_is_digit - '0'..'9', whatever the locale */
static inline int
spamd_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* spamd_is_space - SP or HT */
static inline int
spamd_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* spamd_is_rule_char - what a SpamAssassin rule name is made of */
static inline int
spamd_is_rule_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || spamd_is_digit(c) || c == '_';
}

/* spamd_lower - ASCII lower case */
static inline char
spamd_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* spamd_word_eq - the n bytes at s are word, ignoring ASCII case */
static int
spamd_word_eq(const char *s, size_t n, const char *word)
{
	if (strlen(word) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (spamd_lower(s[i]) != spamd_lower(word[i]))
			return 0;
	return 1;
}

/*
 * spamd_number - a score as spamd writes it ("15.0", "-1.2", "0") from the
 * n bytes at s; -1 when it is not one. Locale-independent; see the top.
 */
static int
spamd_number(const char *s, size_t n, double *out)
{
	static const double pow10[SPAMD_SCORE_FRAC_DIGITS + 1] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6
	};
	uint64_t mant = 0;			/* at most 12 digits: exact in a double */
	size_t	i = 0;
	size_t	int_digits = 0;
	size_t	frac_digits = 0;
	int	negative = 0;
	double	v;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		negative = s[i++] == '-';
	for (; i < n && spamd_is_digit(s[i]); i++) {
		if (++int_digits > SPAMD_SCORE_INT_DIGITS)
			return -1;
		mant = mant * 10 + (uint64_t) (s[i] - '0');
	}
	if (int_digits == 0)
		return -1;
	if (i < n && s[i] == '.') {
		for (i++; i < n && spamd_is_digit(s[i]); i++) {
			if (++frac_digits > SPAMD_SCORE_FRAC_DIGITS)
				return -1;
			mant = mant * 10 + (uint64_t) (s[i] - '0');
		}
		if (frac_digits == 0)
			return -1;
	}
	if (i != n)
		return -1;
	/* both exact, one correctly rounded division: what strtod gives */
	v = (double) mant / pow10[frac_digits];
	*out = negative && mant != 0 ? -v : v;	/* "-0.0" (spamd writes it) is 0 */
	return 0;
}

/*
 * spamd_line - the line that starts at pos: its text (without CR LF) at
 * *line, *linelen bytes, and where the next one starts (*next).
 */
static enum spamd_line_status
spamd_line(const char *buf, size_t len, size_t pos, const char **line, size_t *linelen,
	   size_t *next)
{
	size_t	window = len - pos;
	const char *lf;
	size_t	n;

	if (window > SPAMD_LINE_MAX + 2)
		window = SPAMD_LINE_MAX + 2;		/* the text, CR, LF */
	if ((lf = memchr(buf + pos, '\n', window)) == NULL)
		return window == SPAMD_LINE_MAX + 2 ? SPAMD_LINE_LONG : SPAMD_LINE_MORE;
	n = (size_t) (lf - (buf + pos));
	*next = pos + n + 1;
	if (n > 0 && buf[pos + n - 1] == '\r')
		n--;
	if (n > SPAMD_LINE_MAX)
		return SPAMD_LINE_LONG;
	*line = buf + pos;
	*linelen = n;
	return SPAMD_LINE_OK;
}

/* spamd_parse_status - "SPAMD/1.1 0 EX_OK"; DONE when the code is 0 */
static enum spamd_parse_status
spamd_parse_status(const char *line, size_t n, char *err, size_t errlen)
{
	char	q[SPAMD_STATUS_TEXT_MAX + 1];
	size_t	i = 6;
	size_t	digits = 0;
	unsigned code = 0;

	if (n < 6 || memcmp(line, "SPAMD/", 6) != 0) {
		spamd_seterr(err, errlen, "not a spamd reply: \"%s\"",
			     spamd_quote(q, SPAMD_QUOTE_MAX + 1, line, n));
		return SPAMD_PARSE_ERROR;
	}
	/* version: digits '.' digits */
	while (i < n && spamd_is_digit(line[i]))
		i++;
	if (i == 6 || i >= n || line[i] != '.' || i + 1 >= n || !spamd_is_digit(line[i + 1]))
		goto bad;
	for (i++; i < n && spamd_is_digit(line[i]); i++)
		;
	if (i >= n || line[i] != ' ')
		goto bad;
	/* code: 1 to 3 digits, then the end or a space and the text */
	for (i++; i < n && spamd_is_digit(line[i]); i++) {
		if (++digits > 3)
			goto bad;
		code = code * 10 + (unsigned) (line[i] - '0');
	}
	if (digits == 0 || (i < n && line[i] != ' '))
		goto bad;
	if (code != 0) {
		while (i < n && line[i] == ' ')
			i++;
		spamd_seterr(err, errlen, "status %u: %s", code,
			     spamd_quote(q, sizeof(q), line + i, n - i));
		return SPAMD_PARSE_ERROR;
	}
	return SPAMD_PARSE_DONE;
bad:
	spamd_seterr(err, errlen, "bad status line \"%s\"", spamd_quote(q, SPAMD_QUOTE_MAX + 1, line, n));
	return SPAMD_PARSE_ERROR;
}

/* spamd_token - from *i, the bytes up to a space, HT or stop (or the end); its length */
static size_t
spamd_token(const char *v, size_t n, size_t *i, char stop)
{
	size_t	start = *i;

	while (*i < n && !spamd_is_space(v[*i]) && v[*i] != stop)
		(*i)++;
	return *i - start;
}

/* spamd_skip_space - past SP and HT from *i */
static void
spamd_skip_space(const char *v, size_t n, size_t *i)
{
	while (*i < n && spamd_is_space(v[*i]))
		(*i)++;
}

/* spamd_parse_spam - the value of "Spam: True ; 15.0 / 5.0" into res */
static int
spamd_parse_spam(const char *v, size_t n, struct spamd_result *res, char *err, size_t errlen)
{
	char	q[SPAMD_QUOTE_MAX + 1];
	size_t	i = 0;
	size_t	start;
	size_t	len;

	len = spamd_token(v, n, &i, ';');
	if (spamd_word_eq(v, len, "true") || spamd_word_eq(v, len, "yes"))
		res->is_spam = 1;
	else if (spamd_word_eq(v, len, "false") || spamd_word_eq(v, len, "no"))
		res->is_spam = 0;
	else
		goto bad;
	spamd_skip_space(v, n, &i);
	if (i >= n || v[i++] != ';')
		goto bad;
	spamd_skip_space(v, n, &i);
	start = i;
	if ((len = spamd_token(v, n, &i, '/')) == 0)
		goto bad;
	if (spamd_number(v + start, len, &res->score) < 0) {
		spamd_seterr(err, errlen, "bad score \"%s\" in Spam header",
			     spamd_quote(q, sizeof(q), v + start, len));
		return -1;
	}
	spamd_skip_space(v, n, &i);
	if (i >= n || v[i++] != '/')
		goto bad;
	spamd_skip_space(v, n, &i);
	start = i;
	if ((len = spamd_token(v, n, &i, '\0')) == 0)
		goto bad;
	if (spamd_number(v + start, len, &res->threshold) < 0) {
		spamd_seterr(err, errlen, "bad threshold \"%s\" in Spam header",
			     spamd_quote(q, sizeof(q), v + start, len));
		return -1;
	}
	spamd_skip_space(v, n, &i);
	if (i != n)
		goto bad;
	return 0;
bad:
	spamd_seterr(err, errlen, "bad Spam header \"%s\"", spamd_quote(q, sizeof(q), v, n));
	return -1;
}

/* spamd_parse_clen - a Content-length value: 1 to SPAMD_CLEN_DIGITS digits, at most SPAMD_REPLY_MAX */
static int
spamd_parse_clen(const char *v, size_t n, size_t *out, char *err, size_t errlen)
{
	char	q[SPAMD_QUOTE_MAX + 1];
	size_t	val = 0;

	if (n == 0 || n > SPAMD_CLEN_DIGITS)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (!spamd_is_digit(v[i]))
			goto bad;
		val = val * 10 + (size_t) (v[i] - '0');
	}
	if (val > SPAMD_REPLY_MAX) {
		spamd_seterr(err, errlen, "Content-length %zu over the limit of %d bytes",
			     val, SPAMD_REPLY_MAX);
		return -1;
	}
	*out = val;
	return 0;
bad:
	spamd_seterr(err, errlen, "bad Content-length \"%s\"", spamd_quote(q, sizeof(q), v, n));
	return -1;
}

/* spamd_parse_tests - the body, "A,B,C" (trailing CR LF dropped), into res->tests */
static int
spamd_parse_tests(const char *body, size_t n, struct spamd_result *res, char *err, size_t errlen)
{
	char	q[SPAMD_QUOTE_MAX + 1];
	size_t	kept = 0;
	size_t	start = 0;

	while (n > 0 && (body[n - 1] == '\r' || body[n - 1] == '\n'))
		n--;
	res->tests[0] = '\0';
	res->tests_cut = 0;
	if (n == 0)
		return 0;
	while (start <= n) {
		const char *comma = memchr(body + start, ',', n - start);
		size_t	end = comma ? (size_t) (comma - body) : n;
		size_t	len = end - start;

		if (len == 0 || len > SPAMD_RULE_MAX)
			goto bad;
		for (size_t i = start; i < end; i++)
			if (!spamd_is_rule_char(body[i]))
				goto bad;
		if (!res->tests_cut && kept + (kept ? 1 : 0) + len < SPAMD_TESTS_MAX) {
			if (kept)
				res->tests[kept++] = ',';
			memcpy(res->tests + kept, body + start, len);
			kept += len;
			res->tests[kept] = '\0';
		} else {
			res->tests_cut = 1;
		}
		start = end + 1;
	}
	return 0;
bad:
	spamd_seterr(err, errlen, "bad rule list \"%s\"", spamd_quote(q, sizeof(q), body, n));
	return -1;
}

/*
 * spamd_parse_reply - the first len bytes of a reply: DONE with *out,
 * MORE (err says what is missing), or ERROR with err. *need is the whole
 * reply's length once the headers are complete, else 0.
 */
static enum spamd_parse_status
spamd_parse_reply(const char *buf, size_t len, struct spamd_result *out, size_t *need,
		  char *err, size_t errlen)
{
	struct spamd_result res;
	enum spamd_parse_status st;
	char	q[SPAMD_QUOTE_MAX + 1];
	const char *line = NULL;
	size_t	linelen = 0;
	size_t	pos = 0;
	size_t	next = 0;
	size_t	headers = 0;
	size_t	clen = 0;
	int	have_clen = 0;
	int	have_spam = 0;

	*need = 0;
	memset(&res, 0, sizeof(res));
	if (len > SPAMD_REPLY_MAX) {
		spamd_seterr(err, errlen, "reply longer than %d bytes", SPAMD_REPLY_MAX);
		return SPAMD_PARSE_ERROR;
	}
	if (len > 0 && memchr(buf, '\0', len) != NULL) {
		spamd_seterr(err, errlen, "NUL byte in reply");
		return SPAMD_PARSE_ERROR;
	}

	/* the status line */
	switch (spamd_line(buf, len, 0, &line, &linelen, &next)) {
	case SPAMD_LINE_MORE:
		/* a partial line already shows a wrong protocol word */
		if (len > 0 && memcmp(buf, "SPAMD/", len < 6 ? len : 6) != 0)
			return spamd_parse_status(buf, len, err, errlen);
		if (len == 0)
			spamd_seterr(err, errlen, "empty reply");
		else
			spamd_seterr(err, errlen, "reply truncated in the status line");
		return SPAMD_PARSE_MORE;
	case SPAMD_LINE_LONG:
		spamd_seterr(err, errlen, "reply line longer than %d bytes", SPAMD_LINE_MAX);
		return SPAMD_PARSE_ERROR;
	case SPAMD_LINE_OK:
		break;
	}
	if ((st = spamd_parse_status(line, linelen, err, errlen)) != SPAMD_PARSE_DONE)
		return st;
	pos = next;

	/* headers, up to the empty line */
	for (;;) {
		const char *colon;
		const char *value;
		size_t	namelen;
		size_t	vlen;

		switch (spamd_line(buf, len, pos, &line, &linelen, &next)) {
		case SPAMD_LINE_MORE:
			spamd_seterr(err, errlen, "reply truncated in the headers");
			return SPAMD_PARSE_MORE;
		case SPAMD_LINE_LONG:
			spamd_seterr(err, errlen, "reply line longer than %d bytes", SPAMD_LINE_MAX);
			return SPAMD_PARSE_ERROR;
		case SPAMD_LINE_OK:
			break;
		}
		pos = next;
		if (linelen == 0)
			break;
		if (++headers > SPAMD_HEADERS_MAX) {
			spamd_seterr(err, errlen, "more than %d header lines", SPAMD_HEADERS_MAX);
			return SPAMD_PARSE_ERROR;
		}
		if ((colon = memchr(line, ':', linelen)) == NULL || colon == line) {
			spamd_seterr(err, errlen, "bad header line \"%s\"",
				     spamd_quote(q, sizeof(q), line, linelen));
			return SPAMD_PARSE_ERROR;
		}
		namelen = (size_t) (colon - line);
		value = colon + 1;
		vlen = linelen - namelen - 1;
		while (vlen > 0 && spamd_is_space(*value))
			value++, vlen--;
		while (vlen > 0 && spamd_is_space(value[vlen - 1]))
			vlen--;
		if (spamd_word_eq(line, namelen, "content-length")) {
			if (have_clen++) {
				spamd_seterr(err, errlen, "two Content-length headers");
				return SPAMD_PARSE_ERROR;
			}
			if (spamd_parse_clen(value, vlen, &clen, err, errlen) < 0)
				return SPAMD_PARSE_ERROR;
		} else if (spamd_word_eq(line, namelen, "spam")) {
			if (have_spam++) {
				spamd_seterr(err, errlen, "two Spam headers");
				return SPAMD_PARSE_ERROR;
			}
			if (spamd_parse_spam(value, vlen, &res, err, errlen) < 0)
				return SPAMD_PARSE_ERROR;
		}
		/* other headers: ignored, as the protocol asks */
	}
	if (!have_spam) {
		spamd_seterr(err, errlen, "no Spam header");
		return SPAMD_PARSE_ERROR;
	}
	if (!have_clen) {
		spamd_seterr(err, errlen, "no Content-length header");
		return SPAMD_PARSE_ERROR;
	}

	/* the body: exactly Content-length bytes */
	*need = pos + clen;
	if (len - pos < clen) {
		spamd_seterr(err, errlen, "reply truncated: %zu of %zu bytes of body", len - pos, clen);
		return SPAMD_PARSE_MORE;
	}
	if (len - pos > clen) {
		spamd_seterr(err, errlen, "%zu bytes of body, Content-length says %zu", len - pos, clen);
		return SPAMD_PARSE_ERROR;
	}
	if (spamd_parse_tests(buf + pos, clen, &res, err, errlen) < 0)
		return SPAMD_PARSE_ERROR;
	if (out != NULL)
		*out = res;
	return SPAMD_PARSE_DONE;
}

/* spamd_parse - a whole reply to SYMBOLS into res */
int
spamd_parse(const char *buf, size_t len, struct spamd_result *res, char *err, size_t errlen)
{
	char	why[SPAMD_ERR_MAX];
	size_t	need;

	if (buf == NULL) {
		buf = "";
		len = 0;
	}
	if (spamd_parse_reply(buf, len, res, &need, why, sizeof(why)) == SPAMD_PARSE_DONE)
		return 0;
	spamd_seterr(err, errlen, "spamd: %s", why);
	return -1;
}

/* spamd_strerror - errno text, thread-safe (GNU strerror_r) */
static const char *
spamd_strerror(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

/* spamd_wait - poll fd for events until deadline: 1 ready (*revents), 0 timeout, -1 errno */
static int
spamd_wait(int fd, short events, uint64_t deadline, short *revents)
{
	struct pollfd pfd;
	uint64_t now;
	int	ms;
	int	rc;

	for (;;) {
		now = clock_mono_ms();
		if (now >= deadline)
			return 0;
		ms = deadline - now > 60000 ? 60000 : (int) (deadline - now);
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc > 0) {
			*revents = pfd.revents;
			return 1;
		}
		/* rc == 0: loop, and the clock decides */
	}
}

/* the state of one spamd_check call */
struct spamd_call {
	char	where[ENDPOINT_FORMAT_MAX];	/* "inet:127.0.0.1:783" */
	uint64_t timeout_ms;
	uint64_t deadline;			/* monotonic ms */
	int	fd;				/* -1: none */
	char   *err;
	size_t	errlen;
};

/* spamd_fail - "spamd WHERE: text" into the caller's err; -1 */
static int spamd_fail(struct spamd_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
spamd_fail(struct spamd_call *c, const char *fmt, ...)
{
	char	why[SPAMD_ERR_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	spamd_seterr(c->err, c->errlen, "spamd %s: %s", c->where, why);
	return -1;
}

/* spamd_timeout - the error for a deadline that passed while doing what */
static int
spamd_timeout(struct spamd_call *c, const char *what)
{
	return spamd_fail(c, "timeout after %llu ms %s", (unsigned long long) c->timeout_ms, what);
}

/*
 * spamd_connect_addr - a non-blocking connect to one address, waiting until
 * the deadline: the fd, or -1 with *error (errno; ETIMEDOUT at the deadline)
 */
static int
spamd_connect_addr(const struct sockaddr *sa, socklen_t salen, uint64_t deadline, int *error)
{
	socklen_t optlen = sizeof(*error);
	short	revents = 0;
	int	fd;
	int	rc;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		*error = errno;
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		*error = errno;
		close(fd);
		return -1;
	}
	/* in progress (EINTR: it goes on all the same); writable when done */
	if ((rc = spamd_wait(fd, POLLOUT, deadline, &revents)) <= 0) {
		*error = rc == 0 ? ETIMEDOUT : errno;
		close(fd);
		return -1;
	}
	*error = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, error, &optlen) < 0)
		*error = errno;
	if (*error != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* spamd_connect - c->fd connected to ep, or -1 with the error */
static int
spamd_connect(struct spamd_call *c, const struct endpoint *ep)
{
	char	ebuf[SPAMD_STRERROR_MAX];
	struct addrinfo hints;
	struct addrinfo *ai = NULL;
	struct sockaddr_un sa_un;
	char	port[16];
	int	error = 0;
	int	rc;

	if (ep->kind == ENDPOINT_UNIX) {
		if (strlen(ep->path) >= sizeof(sa_un.sun_path))
			return spamd_fail(c, "socket path too long");
		memset(&sa_un, 0, sizeof(sa_un));
		sa_un.sun_family = AF_UNIX;
		memcpy(sa_un.sun_path, ep->path, strlen(ep->path) + 1);
		c->fd = spamd_connect_addr((struct sockaddr *) &sa_un, sizeof(sa_un), c->deadline, &error);
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%u", ep->port);
		if ((rc = getaddrinfo(ep->host, port, &hints, &ai)) != 0)
			return spamd_fail(c, "cannot resolve %s: %s", ep->host, gai_strerror(rc));
		if (clock_mono_ms() >= c->deadline) {
			freeaddrinfo(ai);
			return spamd_timeout(c, "resolving the host name");
		}
		for (struct addrinfo *a = ai; a != NULL && c->fd < 0; a = a->ai_next) {
			c->fd = spamd_connect_addr(a->ai_addr, a->ai_addrlen, c->deadline, &error);
			if (error == ETIMEDOUT)
				break;			/* the deadline passed: no time for the next */
		}
		freeaddrinfo(ai);
	}
	if (c->fd >= 0)
		return 0;
	if (error == ETIMEDOUT)
		return spamd_timeout(c, "connecting");
	return spamd_fail(c, "connect: %s", spamd_strerror(error, ebuf, sizeof(ebuf)));
}

/*
 * spamd_send - the request head and the message; stops early when the peer
 * replies or closes first (*early = 1). 0, or -1 with *error (errno).
 */
static int
spamd_send(struct spamd_call *c, const char *msg, size_t len, int *early, int *error)
{
	char	head[SPAMD_REQUEST_HEAD_MAX];
	const char *part[2];
	size_t	left[2];
	short	revents;
	ssize_t	n;
	int	rc;

	*early = 0;
	*error = 0;
	rc = snprintf(head, sizeof(head), SPAMD_REQUEST_FMT, len);
	if (rc < 0 || (size_t) rc >= sizeof(head)) {
		*error = EOVERFLOW;
		return -1;
	}
	part[0] = head;
	left[0] = (size_t) rc;
	part[1] = msg;
	left[1] = len;
	for (int i = 0; i < 2; i++) {
		while (left[i] > 0) {
			if ((rc = spamd_wait(c->fd, POLLOUT | POLLIN, c->deadline, &revents)) <= 0) {
				*error = rc == 0 ? ETIMEDOUT : errno;
				return -1;
			}
			if (revents & (POLLIN | POLLHUP)) {
				*early = 1;		/* a reply (or a close) before the end */
				return 0;
			}
			n = send(c->fd, part[i], left[i], MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (n < 0) {
				*error = errno;
				return -1;
			}
			part[i] += n;
			left[i] -= (size_t) n;
		}
	}
	shutdown(c->fd, SHUT_WR);		/* "done writing", as the protocol says */
	return 0;
}

/*
 * spamd_receive - read and parse the reply as it arrives, until it is
 * complete, bad, closed or late. The parse status with res or err (why:
 * a text without the "spamd WHERE" prefix); -1 on a read error or the
 * deadline (*error set), with *got the bytes read.
 */
static int
spamd_receive(struct spamd_call *c, char *buf, size_t cap, size_t *got,
	      struct spamd_result *res, char *why, size_t whylen, int *error)
{
	enum spamd_parse_status st = SPAMD_PARSE_MORE;
	size_t	line_start = 0;			/* where the last LF seen ends */
	size_t	need = 0;
	short	revents;
	ssize_t	n;
	int	rc;

	*got = 0;
	*error = 0;
	spamd_seterr(why, whylen, "empty reply");
	for (;;) {
		if ((rc = spamd_wait(c->fd, POLLIN, c->deadline, &revents)) <= 0) {
			*error = rc == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		n = recv(c->fd, buf + *got, cap - *got, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			*error = errno;
			return -1;
		}
		if (n == 0)			/* closed: what came is all there is */
			return (int) spamd_parse_reply(buf, *got, res, &need, why, whylen);
		*got += (size_t) n;
		/*
		 * Parse again only when it can tell more: in the headers, after a
		 * new LF or a line past the limit; then once the body is all here.
		 * (Each header parse costs at most the headers: bounded by count.)
		 */
		if (need > 0 && *got < need && *got < cap)
			continue;
		if (need == 0) {
			const char *lf = memchr(buf + *got - (size_t) n, '\n', (size_t) n);

			/* (the status line is parsed at every read: a wrong first word fails at once) */
			if (lf != NULL)
				line_start = (size_t) (lf - buf) + 1;
			else if (line_start > 0 && *got - line_start <= SPAMD_LINE_MAX + 1 && *got < cap)
				continue;
		}
		st = spamd_parse_reply(buf, *got, res, &need, why, whylen);
		if (st != SPAMD_PARSE_MORE)
			return (int) st;
	}
}

/* spamd_check - connect, send SYMBOLS with msg, read and parse the reply, within timeout_ms */
int
spamd_check(const struct endpoint *ep, const char *msg, size_t len, uint64_t timeout_ms,
	    struct spamd_result *res, char *err, size_t errlen)
{
	struct spamd_call c;
	struct spamd_result got_res;
	char	why[SPAMD_ERR_MAX];
	char	ebuf[SPAMD_STRERROR_MAX];
	char   *buf = NULL;
	size_t	got = 0;
	int	early = 0;
	int	send_error = 0;
	int	recv_error = 0;
	int	st;
	int	ret = -1;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.err = err;
	c.errlen = errlen;
	c.timeout_ms = timeout_ms ? timeout_ms : SPAMD_TIMEOUT_DEFAULT_MS;
	c.deadline = clock_mono_ms() + c.timeout_ms;
	if (ep == NULL || (ep->kind != ENDPOINT_INET && ep->kind != ENDPOINT_UNIX)) {
		spamd_seterr(err, errlen, "spamd: no socket configured");
		return -1;
	}
	endpoint_format(ep, c.where, sizeof(c.where));
	if (msg == NULL && len > 0) {
		spamd_fail(&c, "no message");
		return -1;
	}
	if ((buf = malloc(SPAMD_REPLY_MAX + 1)) == NULL) {
		spamd_fail(&c, "out of memory");
		return -1;
	}
	if (spamd_connect(&c, ep) < 0)
		goto out;
	if (spamd_send(&c, msg ? msg : "", len, &early, &send_error) < 0 && send_error == ETIMEDOUT) {
		spamd_timeout(&c, "sending the message");
		goto out;
	}
	/* after a failed send, a reply may still say why (EPIPE: spamd said no and closed) */
	st = spamd_receive(&c, buf, SPAMD_REPLY_MAX + 1, &got, &got_res, why, sizeof(why), &recv_error);
	if (st == SPAMD_PARSE_DONE && (early || send_error)) {
		spamd_fail(&c, "replied before the whole message was sent");
	} else if (st == SPAMD_PARSE_DONE) {
		if (res != NULL)
			*res = got_res;
		ret = 0;
	} else if (st == SPAMD_PARSE_ERROR) {
		spamd_fail(&c, "%s", why);
	} else if (send_error && got == 0) {
		spamd_fail(&c, "sending the message: %s", spamd_strerror(send_error, ebuf, sizeof(ebuf)));
	} else if (st == SPAMD_PARSE_MORE) {
		spamd_fail(&c, "%s", why);	/* closed early: empty or truncated */
	} else if (recv_error == ETIMEDOUT) {
		spamd_timeout(&c, got ? "reading the reply" : "waiting for the reply");
	} else {
		spamd_fail(&c, "reading the reply: %s", spamd_strerror(recv_error, ebuf, sizeof(ebuf)));
	}
out:
	if (c.fd >= 0)
		close(c.fd);
	free(buf);
	return ret;
}
