/* address.h - RFC 5321 mailbox parsing into mhkit's canonical form (see address.c) */
#ifndef MH_ADDRESS_H
#define MH_ADDRESS_H

#include <stddef.h>

#define ADDRESS_LOCAL_MAX	64	/* local part, bytes (RFC 5321 4.5.3.1.1) */
#define ADDRESS_DOMAIN_MAX	255	/* domain or address literal, bytes (4.5.3.1.2) */
#define ADDRESS_LABEL_MAX	63	/* one domain label, bytes */
#define ADDRESS_TEXT_MAX	(ADDRESS_LOCAL_MAX + 1 + ADDRESS_DOMAIN_MAX + 1)	/* local@domain + NUL */

/*
 * Canonical form, the only form stored in Redis and compared:
 *   - the domain is lowercased and loses one trailing dot; an address
 *     literal is rewritten by inet_ntop: "[192.0.2.1]", "[ipv6:2001:db8::1]";
 *   - the local part is LOWERCASED. SMTP says local parts are
 *     case-sensitive; mhkit's user and sender lists are deliberately not
 *     (Bob@ and bob@ are one mailbox at every real server we front);
 *   - a quoted local part whose content is a dot-atom loses its quotes
 *     ("bob"@x is bob@x); any other keeps them, with a backslash only
 *     before '"' and '\' ("a\"b", "john doe");
 *   - an unquoted local part with a leading, trailing or doubled dot
 *     (seen in the wild, e.g. "foo.@docomo.ne.jp") is accepted and
 *     written quoted: "foo."@docomo.ne.jp.
 * The null sender (<> or empty text) has null = 1 and empty fields.
 */
struct address {
	char	local[ADDRESS_LOCAL_MAX + 1];
	char	domain[ADDRESS_DOMAIN_MAX + 1];
	int	null;
};

/*
 * All parsers take explicit lengths (a NUL byte is an error, not an end),
 * return 0 or -1, and on -1 put one phrase in err naming the problem
 * ("local part longer than 64 bytes"); the phrase never repeats the input.
 * err may be NULL.
 */

/* address_parse - "bob@x.org", "<bob@x.org>", "<@a,@b:bob@x.org>", "<>", "" */
int	address_parse(const char *text, size_t len, struct address *out,
		      char *err, size_t errlen);
/* address_parse_local - one local part alone, as in a user list; out >= ADDRESS_LOCAL_MAX + 1 */
int	address_parse_local(const char *text, size_t len, char *out, size_t outlen,
			    char *err, size_t errlen);
/* address_parse_domain - a customer domain: LDH labels, at least two; out >= ADDRESS_DOMAIN_MAX + 1 */
int	address_parse_domain(const char *text, size_t len, char *out, size_t outlen,
			     char *err, size_t errlen);
/* address_parse_hostname - a host name: LDH labels, one label allowed ("localhost", "org") */
int	address_parse_hostname(const char *text, size_t len, char *out, size_t outlen,
			       char *err, size_t errlen);
/* address_valid_hostname - 1 when text is a host name address_parse_hostname accepts */
int	address_valid_hostname(const char *text, size_t len);
/* address_check_bytes - -1 on a NUL, control or 8-bit byte: "control character 0x0d in WHAT" */
int	address_check_bytes(const char *text, size_t len, const char *what,
			    char *err, size_t errlen);
/* address_format - "local@domain", "" for the null sender; NULL when len is too small */
char   *address_format(const struct address *, char *buf, size_t len);

/* address_domain_is_literal - 1 for "[192.0.2.1]" and "[ipv6:...]" */
static inline int
address_domain_is_literal(const struct address *a)
{
	return a->domain[0] == '[';
}

#endif
