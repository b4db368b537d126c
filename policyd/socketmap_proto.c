/*
 * socketmap_proto.c - Postfix socketmap protocol: request parser and reply
 * formatter.
 *
 * Protocol (Postfix socketmap_table(5), client in util/dict_sockmap.c):
 * the client sends a netstring "LEN:NAME KEY," where LEN is the payload
 * length in decimal, NAME the map name (we serve relay_domains and
 * transport_maps) and KEY the lookup key. The server answers with one
 * netstring: "OK result", "NOTFOUND ", "TEMP reason", "TIMEOUT reason"
 * or "PERM reason". One connection carries many lookups, one after another.
 *
 * The parser takes bytes and holds no socket: the caller feeds whatever
 * read() returned, in any chunks, and gets MORE, DONE or ERROR. On DONE
 * the bytes after the ',' are not taken, so a pipelined request stays in
 * the caller's buffer for the next feed after socketmap_parser_reset().
 * It logs nothing and never aborts on input.
 *
 * Public functions: socketmap_parser_create, socketmap_parser_free,
 * socketmap_parser_feed, socketmap_parser_reset, socketmap_parser_error,
 * socketmap_request_name, socketmap_request_key, socketmap_reply_format.
 *
 * Limits (socketmap_proto.h), each checked on the byte that would pass it:
 *   SOCKETMAP_LEN_DIGITS	5 digits in the length;
 *   SOCKETMAP_QUERY_MAX	10000 bytes of payload. Postfix allows
 *				100000, but our keys are domain names
 *				and addresses;
 *   SOCKETMAP_TEXT_MAX		1000 bytes of reply text. Postfix reads
 *				up to socketmap_max_reply_len (100000).
 * The payload is buffered in an sbuf limited to SOCKETMAP_QUERY_MAX, and
 * only once its length has been read and checked.
 *
 * Accepted: a length of decimal digits, "0" alone or without a leading
 * zero; a map name of printable ASCII (0x21-0x7e); one space; a key of
 * any bytes but NUL, spaces and 8-bit included (Postfix sends what it
 * looks up; deciding whether a key is a valid domain or address is the
 * caller's job, and a strange key deserves NOTFOUND, not a dropped
 * connection).
 *
 * Errors, each one phrase from socketmap_parser_error(), sticky until the
 * parser is freed (socketmap_parser_reset() keeps it: the caller closes):
 *   "netstring length has a sign"		a leading '+' or '-'
 *   "non-digit 0xHH in netstring length"	any other byte before a digit
 *   "netstring length is empty"		':' first
 *   "netstring length has a leading zero"
 *   "netstring length has more than 5 digits"
 *   "netstring length over 10000"
 *   "missing ':' after netstring length"	a non-digit after digits
 *   "NUL byte in netstring payload"
 *   "empty map name"				payload empty or starting with ' '
 *   "non-printable byte 0xHH in map name"
 *   "no space between map name and key"
 *   "empty key"
 *   "missing ',' after netstring payload"
 *
 * socketmap_reply_format() is the single exit for the bytes we write
 * back: it refuses (-1) an unknown status, any text with NOTFOUND, text
 * over SOCKETMAP_TEXT_MAX, or text with a byte outside printable ASCII and
 * space (which covers CR, LF and the other control characters; a NUL
 * simply ends the C string). It always writes the space after the status
 * word: Postfix reads "OK" without one as "not found".
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sbuf.h"
#include "socketmap_proto.h"

#define SOCKETMAP_ERROR_MAX	128	/* one error phrase, NUL included */

enum socketmap_state {
	SOCKETMAP_STATE_LEN,		/* reading the length digits */
	SOCKETMAP_STATE_PAYLOAD,	/* reading LEN payload bytes */
	SOCKETMAP_STATE_COMMA,		/* payload read, ',' expected */
	SOCKETMAP_STATE_DONE,		/* one request held */
	SOCKETMAP_STATE_ERROR		/* protocol error recorded */
};

struct socketmap_parser {
	enum socketmap_state state;
	size_t	digits;			/* length digits read */
	size_t	length;			/* payload length announced */
	size_t	got;			/* payload bytes read */
	size_t	name_len;		/* bytes of the map name, once the space is seen */
	int	have_space;		/* the space after the map name was seen */
	struct sbuf buf;		/* name NUL key */
	char	error[SOCKETMAP_ERROR_MAX];
};

static const char *const socketmap_words[] = {
	[SOCKETMAP_OK] = "OK",
	[SOCKETMAP_NOTFOUND] = "NOTFOUND",
	[SOCKETMAP_TEMP] = "TEMP",
	[SOCKETMAP_TIMEOUT] = "TIMEOUT",
	[SOCKETMAP_PERM] = "PERM",
};

#define SOCKETMAP_NWORDS	(sizeof(socketmap_words) / sizeof(socketmap_words[0]))

static int socketmap_parser_fail(struct socketmap_parser *, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* socketmap_parser_fail - record the protocol error, once; always -1 */
static int
socketmap_parser_fail(struct socketmap_parser *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->state = SOCKETMAP_STATE_ERROR;
	return -1;
}

/* socketmap_parser_clear - ready for a length, error untouched */
static void
socketmap_parser_clear(struct socketmap_parser *p)
{
	sbuf_reset(&p->buf);
	p->digits = 0;
	p->length = 0;
	p->got = 0;
	p->name_len = 0;
	p->have_space = 0;
}

struct socketmap_parser *
socketmap_parser_create(void)
{
	struct socketmap_parser *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		msg_panic("socketmap_parser_create: out of memory");
	sbuf_init(&p->buf, SOCKETMAP_QUERY_MAX);
	socketmap_parser_clear(p);
	p->state = SOCKETMAP_STATE_LEN;
	return p;
}

void
socketmap_parser_free(struct socketmap_parser *p)
{
	if (p == NULL)
		return;
	sbuf_free(&p->buf);
	free(p);
}

void
socketmap_parser_reset(struct socketmap_parser *p)
{
	if (p->state == SOCKETMAP_STATE_ERROR)
		return;
	socketmap_parser_clear(p);
	p->state = SOCKETMAP_STATE_LEN;
}

const char *
socketmap_parser_error(const struct socketmap_parser *p)
{
	return p->state == SOCKETMAP_STATE_ERROR ? p->error : NULL;
}

/* socketmap_end_payload - all LEN bytes read: check there is a name and a key */
static int
socketmap_end_payload(struct socketmap_parser *p)
{
	if (p->buf.len == 0)
		return socketmap_parser_fail(p, "empty map name");
	if (!p->have_space)
		return socketmap_parser_fail(p, "no space between map name and key");
	if (p->buf.len == p->name_len + 1)
		return socketmap_parser_fail(p, "empty key");
	p->state = SOCKETMAP_STATE_COMMA;
	return 0;
}

/* socketmap_take_len - one byte of the length or its ':' */
static int
socketmap_take_len(struct socketmap_parser *p, unsigned char c)
{
	if (c >= '0' && c <= '9') {
		if (p->digits > 0 && p->length == 0)
			return socketmap_parser_fail(p, "netstring length has a leading zero");
		if (p->digits == SOCKETMAP_LEN_DIGITS)
			return socketmap_parser_fail(p, "netstring length has more than %d digits",
						     SOCKETMAP_LEN_DIGITS);
		p->length = p->length * 10 + (size_t) (c - '0');
		p->digits++;
		if (p->length > SOCKETMAP_QUERY_MAX)
			return socketmap_parser_fail(p, "netstring length over %d",
						     SOCKETMAP_QUERY_MAX);
		return 0;
	}
	if (p->digits > 0) {
		if (c != ':')
			return socketmap_parser_fail(p, "missing ':' after netstring length");
		p->state = SOCKETMAP_STATE_PAYLOAD;
		return p->length == 0 ? socketmap_end_payload(p) : 0;
	}
	if (c == ':')
		return socketmap_parser_fail(p, "netstring length is empty");
	if (c == '+' || c == '-')
		return socketmap_parser_fail(p, "netstring length has a sign");
	return socketmap_parser_fail(p, "non-digit 0x%02x in netstring length", c);
}

/* socketmap_take_payload - one byte of "NAME KEY" */
static int
socketmap_take_payload(struct socketmap_parser *p, unsigned char c)
{
	if (c == '\0')
		return socketmap_parser_fail(p, "NUL byte in netstring payload");
	if (!p->have_space) {
		if (c == ' ') {
			if (p->buf.len == 0)
				return socketmap_parser_fail(p, "empty map name");
			p->name_len = p->buf.len;
			p->have_space = 1;
			c = '\0';
		} else if (c < 0x21 || c > 0x7e) {
			return socketmap_parser_fail(p, "non-printable byte 0x%02x in map name", c);
		}
	}
	/* the sbuf limit equals the largest length accepted above */
	if (sbuf_putc(&p->buf, (char) c) < 0)
		return socketmap_parser_fail(p, "netstring length over %d", SOCKETMAP_QUERY_MAX);
	if (++p->got == p->length)
		return socketmap_end_payload(p);
	return 0;
}

/* socketmap_take - one byte of the request; -1 on a protocol error */
static int
socketmap_take(struct socketmap_parser *p, unsigned char c)
{
	switch (p->state) {
	case SOCKETMAP_STATE_LEN:
		return socketmap_take_len(p, c);
	case SOCKETMAP_STATE_PAYLOAD:
		return socketmap_take_payload(p, c);
	case SOCKETMAP_STATE_COMMA:
		if (c != ',')
			return socketmap_parser_fail(p, "missing ',' after netstring payload");
		p->state = SOCKETMAP_STATE_DONE;
		return 0;
	default:
		msg_panic("socketmap_take: byte in state %d", (int) p->state);
	}
}

/* socketmap_result - the parser state as the caller sees it */
static enum socketmap_parse_result
socketmap_result(const struct socketmap_parser *p)
{
	switch (p->state) {
	case SOCKETMAP_STATE_DONE:
		return SOCKETMAP_PARSE_DONE;
	case SOCKETMAP_STATE_ERROR:
		return SOCKETMAP_PARSE_ERROR;
	default:
		return SOCKETMAP_PARSE_MORE;
	}
}

enum socketmap_parse_result
socketmap_parser_feed(struct socketmap_parser *p, const char *data, size_t len,
		      size_t *consumed)
{
	size_t	i = 0;

	while (i < len && socketmap_result(p) == SOCKETMAP_PARSE_MORE) {
		if (socketmap_take(p, (unsigned char) data[i++]) < 0)
			break;
	}
	if (consumed != NULL)
		*consumed = i;
	return socketmap_result(p);
}

const char *
socketmap_request_name(const struct socketmap_parser *p)
{
	return p->state == SOCKETMAP_STATE_DONE ? p->buf.data : NULL;
}

const char *
socketmap_request_key(const struct socketmap_parser *p)
{
	return p->state == SOCKETMAP_STATE_DONE ? p->buf.data + p->name_len + 1 : NULL;
}

int
socketmap_reply_format(char *buf, size_t len, enum socketmap_status status, const char *text)
{
	const char *word;
	size_t	n;
	int	w;

	if (len > 0)
		buf[0] = '\0';
	if ((size_t) status >= SOCKETMAP_NWORDS)
		return -1;
	word = socketmap_words[status];
	if (text == NULL)
		text = "";
	for (n = 0; text[n] != '\0'; n++) {
		if (n == SOCKETMAP_TEXT_MAX)
			return -1;
		if ((unsigned char) text[n] < 0x20 || (unsigned char) text[n] > 0x7e)
			return -1;
	}
	if (status == SOCKETMAP_NOTFOUND && n > 0)
		return -1;
	w = snprintf(buf, len, "%zu:%s %s,", strlen(word) + 1 + n, word, text);
	if (w < 0 || (size_t) w >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return w;
}
