/* socketmap_proto.h - Postfix socketmap protocol, parser and reply (see socketmap_proto.c) */
#ifndef MH_SOCKETMAP_PROTO_H
#define MH_SOCKETMAP_PROTO_H

#include <stddef.h>

#define SOCKETMAP_LEN_DIGITS	5	/* digits in a netstring length */
#define SOCKETMAP_QUERY_MAX	10000	/* request payload "NAME KEY", bytes */
#define SOCKETMAP_TEXT_MAX	1000	/* reply text after the status word, bytes */
#define SOCKETMAP_REPLY_MAX	(SOCKETMAP_TEXT_MAX + 16)	/* whole reply netstring and a NUL */

enum socketmap_parse_result {
	SOCKETMAP_PARSE_MORE,		/* all bytes taken, the request is not complete */
	SOCKETMAP_PARSE_DONE,		/* one request complete; later bytes not taken */
	SOCKETMAP_PARSE_ERROR		/* protocol error, see socketmap_parser_error() */
};

enum socketmap_status {
	SOCKETMAP_OK,			/* "OK text": found, text is the result */
	SOCKETMAP_NOTFOUND,		/* "NOTFOUND ": no text */
	SOCKETMAP_TEMP,			/* "TEMP text": try again */
	SOCKETMAP_TIMEOUT,		/* "TIMEOUT text": try again */
	SOCKETMAP_PERM			/* "PERM text": configuration error */
};

struct socketmap_parser;

/* socketmap_parser_create - parser for one client connection */
struct socketmap_parser *socketmap_parser_create(void);
/* socketmap_parser_free - release it; NULL is fine */
void	socketmap_parser_free(struct socketmap_parser *);

/*
 * socketmap_parser_feed - take bytes of the request in progress. *consumed
 * (may be NULL) says how many: all of them on MORE; up to and including
 * the ',' on DONE; up to and including the offending byte on ERROR. Once
 * DONE or ERROR, further feeds take nothing and return the same result,
 * until socketmap_parser_reset() after DONE.
 */
enum socketmap_parse_result socketmap_parser_feed(struct socketmap_parser *, const char *data,
						  size_t len, size_t *consumed);
/* socketmap_parser_reset - forget the request, ready for the next one; an error stays */
void	socketmap_parser_reset(struct socketmap_parser *);
/* socketmap_parser_error - the protocol error in one phrase, NULL when there is none */
const char *socketmap_parser_error(const struct socketmap_parser *);

/* socketmap_request_name - the map name, NULL when not DONE */
const char *socketmap_request_name(const struct socketmap_parser *);
/* socketmap_request_key - the key, everything after the first space; NULL when not DONE */
const char *socketmap_request_key(const struct socketmap_parser *);

/*
 * socketmap_reply_format - the reply netstring ("9:NOTFOUND ,", "7:OK smtp,")
 * into buf; the length, or -1 (and "" in buf when len > 0) for an unknown
 * status, text with NOTFOUND, text longer than SOCKETMAP_TEXT_MAX or with
 * a byte outside printable ASCII and space, or too small a buffer
 * (SOCKETMAP_REPLY_MAX is always enough). text NULL is "".
 */
int	socketmap_reply_format(char *buf, size_t len, enum socketmap_status status,
			       const char *text);

#endif
