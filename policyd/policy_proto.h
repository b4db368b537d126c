/* policy_proto.h - Postfix policy delegation protocol, parser and reply (see policy_proto.c) */
#ifndef MH_POLICY_PROTO_H
#define MH_POLICY_PROTO_H

#include <stddef.h>

#define POLICY_LINE_MAX		4096	/* one name=value line, bytes, without its LF or CR LF */
#define POLICY_NAME_MAX		64	/* one attribute name, bytes */
#define POLICY_ATTRS_MAX	128	/* attributes in one request */
#define POLICY_REQUEST_MAX	32768	/* one request as received, every byte counted */
#define POLICY_ACTION_MAX	1000	/* reply text after "action=", bytes */
#define POLICY_REPLY_MAX	(POLICY_ACTION_MAX + 10)	/* "action=" TEXT LF LF NUL */

enum policy_parse_result {
	POLICY_PARSE_MORE,		/* all bytes taken, the request is not complete */
	POLICY_PARSE_DONE,		/* one request complete; later bytes not taken */
	POLICY_PARSE_ERROR		/* protocol error, see policy_parser_error() */
};

struct policy_parser;

/* policy_parser_create - parser for one client connection */
struct policy_parser *policy_parser_create(void);
/* policy_parser_free - release it; NULL is fine */
void	policy_parser_free(struct policy_parser *);

/*
 * policy_parser_feed - take bytes of the request in progress. *consumed
 * (may be NULL) says how many: all of them on MORE; up to and including
 * the empty line on DONE; up to and including the offending byte on
 * ERROR. Once DONE or ERROR, further feeds take nothing and return the
 * same result, until policy_parser_reset() after DONE.
 */
enum policy_parse_result policy_parser_feed(struct policy_parser *, const char *data,
					    size_t len, size_t *consumed);
/* policy_parser_reset - forget the request, ready for the next one; an error stays */
void	policy_parser_reset(struct policy_parser *);
/* policy_parser_error - the protocol error in one phrase, NULL when there is none */
const char *policy_parser_error(const struct policy_parser *);

/* The request, valid after DONE until the next reset or free. */

/* policy_request_get - value of the named attribute, NULL when absent or not DONE */
const char *policy_request_get(const struct policy_parser *, const char *name);
/* policy_request_count - number of attributes, 0 when not DONE */
size_t	policy_request_count(const struct policy_parser *);
/* policy_request_attr - i-th attribute in arrival order; 0, or -1 when out of range */
int	policy_request_attr(const struct policy_parser *, size_t i,
			    const char **name, const char **value);

/*
 * policy_reply_format - "action=TEXT\n\n" into buf; the length, or -1 (and
 * "" in buf when len > 0) when TEXT is empty, longer than
 * POLICY_ACTION_MAX, has a byte outside printable ASCII and space, or
 * when buf is too small (POLICY_REPLY_MAX is always enough).
 */
int	policy_reply_format(char *buf, size_t len, const char *action);

#endif
