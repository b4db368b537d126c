/*
 * policy_proto.c - Postfix policy delegation protocol: request parser and
 * reply formatter.
 *
 * Protocol (Postfix SMTPD_POLICY_README): the client sends a request as
 * "name=value" lines, each ended by LF, and ends it with an empty line;
 * the server answers "action=TEXT" LF LF. One connection carries many
 * requests, one after another.
 *
 * The parser takes bytes and holds no socket: the caller feeds whatever
 * read() returned, in any chunks, and gets MORE, DONE or ERROR. On DONE
 * the bytes after the empty line are not taken, so a pipelined request
 * stays in the caller's buffer for the next feed after
 * policy_parser_reset(). It logs nothing and never aborts on input.
 *
 * Public functions: policy_parser_create, policy_parser_free,
 * policy_parser_feed, policy_parser_reset, policy_parser_error,
 * policy_request_get, policy_request_count, policy_request_attr,
 * policy_reply_format.
 *
 * Limits (policy_proto.h), each checked on the byte that would pass it,
 * so nothing is buffered beyond them:
 *   POLICY_LINE_MAX	4096 bytes in a line, its LF or CR LF not counted;
 *   POLICY_NAME_MAX	64 bytes in an attribute name;
 *   POLICY_ATTRS_MAX	128 attributes in a request;
 *   POLICY_REQUEST_MAX	32768 bytes in a request as received, every CR
 *			and LF counted, the final empty line included.
 * The request is stored as name NUL value NUL pairs in one sbuf, which is
 * never longer than the bytes received.
 *
 * Accepted: names of [a-z0-9_] (Postfix sends lowercase ASCII names);
 * values of any bytes but NUL, CR and LF, 8-bit included, possibly empty
 * ("sasl_username="); a value keeps everything after the first '=',
 * further '=' included. A CR right before an LF is dropped (lenient, for
 * hand-typed tests over telnet).
 *
 * Errors, each one phrase from policy_parser_error(), sticky until the
 * parser is freed (policy_parser_reset() keeps it: the caller answers
 * once and closes, as Postfix expects of a broken conversation):
 *   "NUL byte in line N"
 *   "bare CR in line N"		a CR not followed by LF; so CR-only
 *					line ends fail at the second line
 *   "line N has no '='"
 *   "empty attribute name in line N"
 *   "invalid byte 0xHH in attribute name in line N"	uppercase too
 *   "attribute name longer than 64 bytes in line N"
 *   "line N longer than 4096 bytes"
 *   "more than 128 attributes"
 *   "request longer than 32768 bytes"
 *   "duplicate attribute NAME in line N"	Postfix never repeats an
 *					attribute; taking the first or the last
 *					would let two readers of one request
 *					disagree, so a repeat is refused
 *   "empty request"			an empty line before any attribute
 * Line numbers count from 1 within the request.
 *
 * policy_reply_format() is the single exit for the bytes we write back:
 * it refuses (-1) an empty action, one over POLICY_ACTION_MAX bytes, or
 * one with any byte outside printable ASCII and space (which covers CR,
 * LF and the rest of the control characters; a NUL simply ends the C
 * string). Sanitising remote text is the caller's job; this is the last
 * check, not a cleaner.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_proto.h"
#include "sbuf.h"

#define POLICY_ERROR_MAX	128	/* one error phrase, NUL included */

enum policy_state {
	POLICY_STATE_NAME,		/* at a line start or in a name */
	POLICY_STATE_VALUE,		/* after the '=' */
	POLICY_STATE_DONE,		/* empty line seen: one request held */
	POLICY_STATE_ERROR		/* protocol error recorded */
};

struct policy_attr {
	size_t	name;			/* offset of the name in buf */
	size_t	value;			/* offset of the value in buf */
	uint32_t hash;			/* of the name: compared before the bytes */
};

struct policy_parser {
	enum policy_state state;
	struct sbuf buf;		/* name NUL value NUL, per attribute */
	struct policy_attr attrs[POLICY_ATTRS_MAX];
	size_t	nattrs;			/* complete attributes */
	uint64_t names_seen;		/* bit (hash & 63) of each name: most duplicate checks end here */
	size_t	name_start;		/* offset in buf of the line's name */
	size_t	request_bytes;		/* bytes of this request taken */
	size_t	line_bytes;		/* bytes of this line, line end excluded */
	size_t	line_no;		/* current line, from 1 */
	int	cr_pending;		/* last byte was a CR: an LF must follow */
	char	error[POLICY_ERROR_MAX];
};

static int policy_parser_fail(struct policy_parser *, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* policy_parser_fail - record the protocol error, once; always -1 */
static int
policy_parser_fail(struct policy_parser *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->state = POLICY_STATE_ERROR;
	return -1;
}

/* policy_parser_clear - empty request at line 1, error untouched */
static void
policy_parser_clear(struct policy_parser *p)
{
	sbuf_reset(&p->buf);
	p->nattrs = 0;
	p->names_seen = 0;
	p->name_start = 0;
	p->request_bytes = 0;
	p->line_bytes = 0;
	p->line_no = 1;
	p->cr_pending = 0;
}

struct policy_parser *
policy_parser_create(void)
{
	struct policy_parser *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		msg_panic("policy_parser_create: out of memory");
	sbuf_init(&p->buf, POLICY_REQUEST_MAX);
	policy_parser_clear(p);
	p->state = POLICY_STATE_NAME;
	return p;
}

void
policy_parser_free(struct policy_parser *p)
{
	if (p == NULL)
		return;
	sbuf_free(&p->buf);
	free(p);
}

void
policy_parser_reset(struct policy_parser *p)
{
	if (p->state == POLICY_STATE_ERROR)
		return;
	policy_parser_clear(p);
	p->state = POLICY_STATE_NAME;
}

const char *
policy_parser_error(const struct policy_parser *p)
{
	return p->state == POLICY_STATE_ERROR ? p->error : NULL;
}

/* which bytes may be in an attribute name: lowercase ASCII, digits, '_' (as Postfix sends) */
#define POLICY_NAME_BYTES_09	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, \
	['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1
#define POLICY_NAME_BYTES_AZ	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, \
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, \
	['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, \
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1
static const unsigned char policy_name_bytes[256] = {
	POLICY_NAME_BYTES_09, POLICY_NAME_BYTES_AZ, ['_'] = 1
};

/* policy_is_name_byte - one of them */
static inline int
policy_is_name_byte(unsigned char c)
{
	return policy_name_bytes[c];
}

/*
 * policy_fast_line - a whole, well-formed attribute line at the start of
 * data, taken in one step: memchr for its end, one append. Anything
 * unusual (no LF yet, a CR or NUL inside, a bad or repeated name, any
 * limit reached) returns 0 and leaves the line to policy_take, byte by
 * byte, so every error and *consumed count stays what it always was.
 * Returns the bytes taken (the LF included) or 0.
 */
static size_t
policy_fast_line(struct policy_parser *p, const char *data, size_t len)
{
	const char *lf, *eq, *value;
	size_t	linelen, content, namelen, vlen, room;
	uint32_t hash = 2166136261u;
	char   *dst;

	if (p->state != POLICY_STATE_NAME || p->line_bytes != 0 || p->cr_pending
	    || p->nattrs == POLICY_ATTRS_MAX)
		return 0;
	room = (size_t) POLICY_REQUEST_MAX - p->request_bytes;
	if ((lf = memchr(data, '\n', len < room ? len : room)) == NULL)
		return 0;
	linelen = (size_t) (lf - data);
	content = linelen > 0 && data[linelen - 1] == '\r' ? linelen - 1 : linelen;
	if (content == 0 || content > POLICY_LINE_MAX
	    || (eq = memchr(data, '=', content)) == NULL)
		return 0;
	namelen = (size_t) (eq - data);
	if (namelen == 0 || namelen > POLICY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < namelen; i++) {
		if (!policy_is_name_byte((unsigned char) data[i]))
			return 0;
		hash = (hash ^ (unsigned char) data[i]) * 16777619u;
	}
	value = eq + 1;
	vlen = content - namelen - 1;
	if (memchr(value, '\0', vlen) != NULL || memchr(value, '\r', vlen) != NULL)
		return 0;
	if (p->names_seen & (1ULL << (hash & 63))) {
		for (size_t i = 0; i < p->nattrs; i++)
			if (p->attrs[i].hash == hash && strncmp(p->buf.data + p->attrs[i].name, data, namelen) == 0
			    && p->buf.data[p->attrs[i].name + namelen] == 0)
				return 0;
	}
	if (sbuf_reserve(&p->buf, namelen + vlen + 2) < 0)
		return 0;
	dst = p->buf.data + p->buf.len;
	memcpy(dst, data, namelen);
	dst[namelen] = 0;
	memcpy(dst + namelen + 1, value, vlen);
	dst[namelen + 1 + vlen] = 0;
	p->attrs[p->nattrs].name = p->buf.len;
	p->attrs[p->nattrs].value = p->buf.len + namelen + 1;
	p->attrs[p->nattrs].hash = hash;
	p->names_seen |= 1ULL << (hash & 63);
	p->nattrs++;
	p->buf.len += namelen + vlen + 2;
	p->buf.data[p->buf.len] = 0;
	p->name_start = p->buf.len;
	p->request_bytes += linelen + 1;
	p->line_no++;
	return linelen + 1;
}

/* policy_store - keep one byte of the request; the sbuf limit is never reached */
static int
policy_store(struct policy_parser *p, char c)
{
	if (sbuf_putc(&p->buf, c) < 0)
		return policy_parser_fail(p, "request longer than %d bytes", POLICY_REQUEST_MAX);
	return 0;
}

/* policy_end_line - an LF: the end of an attribute, or of the request */
static int
policy_end_line(struct policy_parser *p)
{
	if (p->state == POLICY_STATE_NAME) {
		if (p->line_bytes > 0)
			return policy_parser_fail(p, "line %zu has no '='", p->line_no);
		if (p->nattrs == 0)
			return policy_parser_fail(p, "empty request");
		p->state = POLICY_STATE_DONE;
		return 0;
	}
	if (policy_store(p, '\0') < 0)
		return -1;
	p->nattrs++;
	p->state = POLICY_STATE_NAME;
	p->line_bytes = 0;
	p->line_no++;
	p->name_start = p->buf.len;
	return 0;
}

/* policy_name_hash - FNV-1a of an attribute name */
static uint32_t
policy_name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	while (*name)
		h = (h ^ (unsigned char) *name++) * 16777619u;
	return h;
}

/* policy_name_seen - an attribute of this name is already in the request */
static int
policy_name_seen(const struct policy_parser *p, const char *name, uint32_t hash)
{
	if ((p->names_seen & (1ULL << (hash & 63))) == 0)
		return 0;
	for (size_t i = 0; i < p->nattrs; i++)
		if (p->attrs[i].hash == hash && strcmp(p->buf.data + p->attrs[i].name, name) == 0)
			return 1;
	return 0;
}

/* policy_end_name - the '=': check the name, start the value */
static int
policy_end_name(struct policy_parser *p)
{
	const char *name;
	uint32_t hash;

	if (p->buf.len == p->name_start)
		return policy_parser_fail(p, "empty attribute name in line %zu", p->line_no);
	if (policy_store(p, '\0') < 0)
		return -1;
	name = p->buf.data + p->name_start;
	hash = policy_name_hash(name);
	if (policy_name_seen(p, name, hash))
		return policy_parser_fail(p, "duplicate attribute %s in line %zu", name, p->line_no);
	p->names_seen |= 1ULL << (hash & 63);
	p->attrs[p->nattrs].hash = hash;
	p->attrs[p->nattrs].name = p->name_start;
	p->attrs[p->nattrs].value = p->buf.len;
	p->state = POLICY_STATE_VALUE;
	return 0;
}

/* policy_take - one byte of the request; -1 on a protocol error */
static int
policy_take(struct policy_parser *p, unsigned char c)
{
	if (p->request_bytes == POLICY_REQUEST_MAX)
		return policy_parser_fail(p, "request longer than %d bytes", POLICY_REQUEST_MAX);
	p->request_bytes++;
	if (p->cr_pending && c != '\n')
		return policy_parser_fail(p, "bare CR in line %zu", p->line_no);
	p->cr_pending = 0;
	if (c == '\0')
		return policy_parser_fail(p, "NUL byte in line %zu", p->line_no);
	if (c == '\n')
		return policy_end_line(p);
	if (c == '\r') {
		p->cr_pending = 1;
		return 0;
	}
	if (p->line_bytes == POLICY_LINE_MAX)
		return policy_parser_fail(p, "line %zu longer than %d bytes",
					  p->line_no, POLICY_LINE_MAX);
	p->line_bytes++;
	if (p->state == POLICY_STATE_VALUE)
		return policy_store(p, (char) c);

	/* in a name */
	if (p->line_bytes == 1 && p->nattrs == POLICY_ATTRS_MAX)
		return policy_parser_fail(p, "more than %d attributes", POLICY_ATTRS_MAX);
	if (c == '=')
		return policy_end_name(p);
	if (!policy_is_name_byte(c))
		return policy_parser_fail(p, "invalid byte 0x%02x in attribute name in line %zu",
					  c, p->line_no);
	if (p->buf.len - p->name_start == POLICY_NAME_MAX)
		return policy_parser_fail(p, "attribute name longer than %d bytes in line %zu",
					  POLICY_NAME_MAX, p->line_no);
	return policy_store(p, (char) c);
}

/* policy_run_cap - how many of avail bytes the line and request budgets leave */
static size_t
policy_run_cap(const struct policy_parser *p, size_t avail)
{
	if (avail > (size_t) POLICY_LINE_MAX - p->line_bytes)
		avail = (size_t) POLICY_LINE_MAX - p->line_bytes;
	if (avail > (size_t) POLICY_REQUEST_MAX - p->request_bytes)
		avail = (size_t) POLICY_REQUEST_MAX - p->request_bytes;
	return avail;
}

/* policy_take_run - n plain bytes of a name or value, checked by the caller, in one append */
static int
policy_take_run(struct policy_parser *p, const char *data, size_t n)
{
	if (sbuf_append(&p->buf, data, n) < 0)
		return policy_parser_fail(p, "request longer than %d bytes", POLICY_REQUEST_MAX);
	p->line_bytes += n;
	p->request_bytes += n;
	return 0;
}

/* policy_result - the parser state as the caller sees it */
static enum policy_parse_result
policy_result(const struct policy_parser *p)
{
	switch (p->state) {
	case POLICY_STATE_DONE:
		return POLICY_PARSE_DONE;
	case POLICY_STATE_ERROR:
		return POLICY_PARSE_ERROR;
	default:
		return POLICY_PARSE_MORE;
	}
}

enum policy_parse_result
policy_parser_feed(struct policy_parser *p, const char *data, size_t len, size_t *consumed)
{
	size_t	i = 0;

	if (p->state == POLICY_STATE_NAME || p->state == POLICY_STATE_VALUE) {
		while (i < len && p->state != POLICY_STATE_DONE) {
			size_t	taken;

			if ((taken = policy_fast_line(p, data + i, len - i)) > 0) {
				i += taken;
				continue;
			}
			/*
			 * Fast path inside a value: the run of plain bytes up to the
			 * next NUL, CR or LF, within the line and request budgets, is
			 * taken in one append; the byte that ends it goes through
			 * policy_take as before, so every check and error is the same.
			 */
			if (p->state == POLICY_STATE_VALUE && !p->cr_pending) {
				size_t	cap = policy_run_cap(p, len - i), n = 0;

				while (n < cap && data[i + n] != '\n' && data[i + n] != '\r' && data[i + n] != '\0')
					n++;
				if (n > 0) {
					if (policy_take_run(p, data + i, n) < 0)
						break;
					i += n;
					continue;
				}
			}
			/*
			 * The same for a run of name bytes after the first of a line
			 * (which checks the attribute count): up to the '=' or any
			 * other byte, within the name, line and request budgets.
			 */
			if (p->state == POLICY_STATE_NAME && !p->cr_pending && p->line_bytes > 0) {
				size_t	cap = policy_run_cap(p, len - i), n = 0, used = p->buf.len - p->name_start;

				if (cap > (size_t) POLICY_NAME_MAX - used)
					cap = (size_t) POLICY_NAME_MAX - used;
				while (n < cap && policy_is_name_byte((unsigned char) data[i + n]))
					n++;
				if (n > 0) {
					if (policy_take_run(p, data + i, n) < 0)
						break;
					i += n;
					continue;
				}
			}
			if (policy_take(p, (unsigned char) data[i++]) < 0)
				break;
		}
	}
	if (consumed != NULL)
		*consumed = i;
	return policy_result(p);
}

const char *
policy_request_get(const struct policy_parser *p, const char *name)
{
	uint32_t hash;

	if (p->state != POLICY_STATE_DONE || name == NULL)
		return NULL;
	hash = policy_name_hash(name);
	for (size_t i = 0; i < p->nattrs; i++)
		if (p->attrs[i].hash == hash && strcmp(p->buf.data + p->attrs[i].name, name) == 0)
			return p->buf.data + p->attrs[i].value;
	return NULL;
}

size_t
policy_request_count(const struct policy_parser *p)
{
	return p->state == POLICY_STATE_DONE ? p->nattrs : 0;
}

int
policy_request_attr(const struct policy_parser *p, size_t i,
		    const char **name, const char **value)
{
	if (i >= policy_request_count(p))
		return -1;
	if (name != NULL)
		*name = p->buf.data + p->attrs[i].name;
	if (value != NULL)
		*value = p->buf.data + p->attrs[i].value;
	return 0;
}

int
policy_reply_format(char *buf, size_t len, const char *action)
{
	static const char prefix[] = "action=";
	size_t	n;

	if (len > 0)
		buf[0] = '\0';
	if (action == NULL)
		return -1;
	for (n = 0; action[n] != '\0'; n++) {
		if (n == POLICY_ACTION_MAX)
			return -1;
		if ((unsigned char) action[n] < 0x20 || (unsigned char) action[n] > 0x7e)
			return -1;
	}
	if (n == 0 || len < sizeof(prefix) - 1 + n + 3)
		return -1;
	memcpy(buf, prefix, sizeof(prefix) - 1);
	memcpy(buf + sizeof(prefix) - 1, action, n);
	memcpy(buf + sizeof(prefix) - 1 + n, "\n\n", 3);
	return (int) (sizeof(prefix) - 1 + n + 2);
}
