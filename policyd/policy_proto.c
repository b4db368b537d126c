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
};

struct policy_parser {
	enum policy_state state;
	struct sbuf buf;		/* name NUL value NUL, per attribute */
	struct policy_attr attrs[POLICY_ATTRS_MAX];
	size_t	nattrs;			/* complete attributes */
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

/* policy_is_name_byte - Postfix attribute names: lowercase ASCII, digits, '_' */
static inline int
policy_is_name_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
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

/* policy_end_name - the '=': check the name, start the value */
static int
policy_end_name(struct policy_parser *p)
{
	const char *name;

	if (p->buf.len == p->name_start)
		return policy_parser_fail(p, "empty attribute name in line %zu", p->line_no);
	if (policy_store(p, '\0') < 0)
		return -1;
	name = p->buf.data + p->name_start;
	for (size_t i = 0; i < p->nattrs; i++)
		if (strcmp(p->buf.data + p->attrs[i].name, name) == 0)
			return policy_parser_fail(p, "duplicate attribute %s in line %zu",
						  name, p->line_no);
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
			/*
			 * Fast path inside a value: the run of plain bytes up to the
			 * next NUL, CR or LF, within the line and request budgets, is
			 * taken in one append; the byte that ends it goes through
			 * policy_take as before, so every check and error is the same.
			 */
			if (p->state == POLICY_STATE_VALUE && !p->cr_pending) {
				size_t	cap = len - i, n = 0;

				if (cap > (size_t) POLICY_LINE_MAX - p->line_bytes)
					cap = (size_t) POLICY_LINE_MAX - p->line_bytes;
				if (cap > (size_t) POLICY_REQUEST_MAX - p->request_bytes)
					cap = (size_t) POLICY_REQUEST_MAX - p->request_bytes;
				while (n < cap && data[i + n] != '\n' && data[i + n] != '\r' && data[i + n] != '\0')
					n++;
				if (n > 0) {
					if (sbuf_append(&p->buf, data + i, n) < 0) {
						policy_parser_fail(p, "request longer than %d bytes", POLICY_REQUEST_MAX);
						break;
					}
					p->line_bytes += n;
					p->request_bytes += n;
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
	if (p->state != POLICY_STATE_DONE || name == NULL)
		return NULL;
	for (size_t i = 0; i < p->nattrs; i++)
		if (strcmp(p->buf.data + p->attrs[i].name, name) == 0)
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
