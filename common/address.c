/*
 * address.c - RFC 5321 mailbox parsing into mhkit's canonical form.
 *
 * Every address, local part and domain that enters a list, a Redis key or
 * a comparison passes through here first, so that each mailbox has exactly
 * one spelling (described in address.h). The parsers take bytes and a
 * length, hold no state, log nothing and never abort: bad input is -1 with
 * one phrase in the caller's error buffer.
 *
 * Public functions: address_parse, address_parse_local, address_parse_domain,
 * address_parse_hostname, address_valid_hostname, address_format,
 * address_check_bytes.
 *
 * Accepted:
 *   - Mailbox (RFC 5321 4.1.2): dot-atom or quoted-string local part, '@',
 *     a domain or an address literal ([192.0.2.1], [IPv6:2001:db8::1]);
 *     with or without angle brackets.
 *   - A source route inside angle brackets (<@a,@b:bob@x>): RFC 5321 C
 *     says to accept and ignore it, so each hop is checked for syntax and
 *     then dropped. Outside angle brackets it is an error.
 *   - "<>" and the empty text: the null sender.
 *   - Domains inside an address may have one label (bob@localhost);
 *     address_parse_domain, used for customer domains, needs two.
 *
 * Refused, with the phrase naming the problem: NUL bytes, control
 * characters (CR, LF, TAB, DEL...), 8-bit bytes (SMTPUTF8 is out of scope),
 * no '@', empty local part, local part over 64 bytes (as it would be sent,
 * quotes included), domain over 255 bytes, label over 63 bytes, empty
 * labels, labels starting or ending with '-', characters outside LDH, an
 * all-digit top-level label, unbalanced quotes or brackets, General
 * address literals other than IPv6, and text after the address.
 * No white space is trimmed: that is the caller's job.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "address.h"

static void address_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* address_error - put one phrase in the caller's error buffer, if any */
static void
address_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* address_lower - ASCII lowercase, whatever the locale */
static inline char
address_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* address_is_alnum - ASCII letter or digit */
static inline int
address_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* address_is_atext - RFC 5322 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static inline int
address_is_atext(char c)
{
	return address_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* address_check_bytes - refuse NUL, control and 8-bit bytes, naming the first */
int
address_check_bytes(const char *text, size_t len, const char *what,
		    char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) text[i];

		if (c == 0) {
			address_error(err, errlen, "NUL byte in %s", what);
			return -1;
		}
		if (c >= 0x80) {
			address_error(err, errlen,
				      "8-bit byte 0x%02x in %s (SMTPUTF8 is not supported)",
				      c, what);
			return -1;
		}
		if (c < 0x20 || c == 0x7f) {
			address_error(err, errlen, "control character 0x%02x in %s", c, what);
			return -1;
		}
	}
	return 0;
}

/* address_is_dot_atom - atext runs separated by single dots, none at either end */
static int
address_is_dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!address_is_atext(s[i])) {
			return 0;
		}
	}
	return 1;
}

/* address_canon_local - content (unquoted, lowercased) to its canonical spelling */
static int
address_canon_local(const char *content, size_t len, char *out,
		    char *err, size_t errlen)
{
	char	buf[2 * ADDRESS_LOCAL_MAX + 3];
	size_t	n = 0;

	if (len == 0) {
		address_error(err, errlen, "empty local part");
		return -1;
	}
	if (address_is_dot_atom(content, len)) {
		memcpy(buf, content, len);
		n = len;
	} else {
		buf[n++] = '"';
		for (size_t i = 0; i < len; i++) {
			if (content[i] == '"' || content[i] == '\\')
				buf[n++] = '\\';
			buf[n++] = content[i];
		}
		buf[n++] = '"';
	}
	if (n > ADDRESS_LOCAL_MAX) {
		address_error(err, errlen, "local part longer than %d bytes", ADDRESS_LOCAL_MAX);
		return -1;
	}
	memcpy(out, buf, n);
	out[n] = '\0';
	return 0;
}

/*
 * address_scan_local - parse the local part at the start of text, stopping
 * at the first byte that cannot continue it; *used is how far it went.
 */
static int
address_scan_local(const char *text, size_t len, size_t *used, char *out,
		   char *err, size_t errlen)
{
	char	content[ADDRESS_LOCAL_MAX + 1];
	size_t	n = 0;
	size_t	i;

	if (len > 0 && text[0] == '"') {
		for (i = 1; i < len && text[i] != '"'; i++) {
			if (text[i] == '\\' && ++i == len)
				break;
			if (n < ADDRESS_LOCAL_MAX)
				content[n] = address_lower(text[i]);
			n++;
		}
		if (i >= len) {
			address_error(err, errlen, "unbalanced quotes in local part");
			return -1;
		}
		i++;				/* the closing quote */
	} else {
		for (i = 0; i < len && (address_is_atext(text[i]) || text[i] == '.'); i++)
			if (i < ADDRESS_LOCAL_MAX)
				content[i] = address_lower(text[i]);
		n = i;
		if (n == 0 && len > 0 && text[0] != '@') {
			address_error(err, errlen, "invalid character '%c' in local part", text[0]);
			return -1;
		}
	}
	if (i > ADDRESS_LOCAL_MAX) {
		address_error(err, errlen, "local part longer than %d bytes", ADDRESS_LOCAL_MAX);
		return -1;
	}
	*used = i;
	return address_canon_local(content, n, out, err, errlen);
}

/* address_local_trailer - explain the byte that stopped a local part */
static void
address_local_trailer(const char *text, size_t used, char *err, size_t errlen)
{
	if (text[0] == '"')
		address_error(err, errlen, "text after the closing quote of the local part");
	else
		address_error(err, errlen, "invalid character '%c' in local part", text[used]);
}

/* address_scan_hostname - LDH labels, lowercased, one trailing dot dropped */
static int
address_scan_hostname(const char *text, size_t len, char *out, size_t outlen,
		      size_t min_labels, char *err, size_t errlen)
{
	size_t	start = 0;
	size_t	labels = 0;
	int	all_digits = 1;

	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len == 0) {
		address_error(err, errlen, "empty domain");
		return -1;
	}
	if (len > ADDRESS_DOMAIN_MAX) {
		address_error(err, errlen, "domain longer than %d bytes", ADDRESS_DOMAIN_MAX);
		return -1;
	}
	if (len >= outlen) {
		address_error(err, errlen, "domain longer than the output buffer");
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i == len || text[i] == '.') {
			size_t	n = i - start;

			if (n == 0) {
				address_error(err, errlen, "empty label in domain");
				return -1;
			}
			if (n > ADDRESS_LABEL_MAX) {
				address_error(err, errlen, "domain label longer than %d bytes",
					      ADDRESS_LABEL_MAX);
				return -1;
			}
			if (text[start] == '-' || text[i - 1] == '-') {
				address_error(err, errlen, "domain label %s with '-'",
					      text[start] == '-' ? "starts" : "ends");
				return -1;
			}
			labels++;
			if (i < len) {
				out[i] = '.';
				all_digits = 1;
			}
			start = i + 1;
			continue;
		}
		if (!address_is_alnum(text[i]) && text[i] != '-') {
			address_error(err, errlen, "invalid character '%c' in domain", text[i]);
			return -1;
		}
		if (!(text[i] >= '0' && text[i] <= '9'))
			all_digits = 0;
		out[i] = address_lower(text[i]);
	}
	out[len] = '\0';
	if (all_digits) {
		address_error(err, errlen, "top-level label of domain is all digits");
		return -1;
	}
	if (labels < min_labels) {
		address_error(err, errlen, "domain needs at least %zu labels", min_labels);
		return -1;
	}
	return 0;
}

/* address_scan_literal - "[192.0.2.1]" or "[IPv6:...]", rewritten by inet_ntop */
static int
address_scan_literal(const char *text, size_t len, char *out, size_t outlen,
		     char *err, size_t errlen)
{
	char	tmp[INET6_ADDRSTRLEN + 1];
	char	ntop[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *inner = text + 1;
	size_t	n;
	int	family = AF_INET;
	int	w;

	if (len < 2 || text[len - 1] != ']') {
		address_error(err, errlen, "address literal without closing ']'");
		return -1;
	}
	n = len - 2;
	if (n >= 5 && strncasecmp(inner, "ipv6:", 5) == 0) {
		family = AF_INET6;
		inner += 5;
		n -= 5;
	} else if (memchr(inner, ':', n) != NULL) {
		address_error(err, errlen,
			      "unsupported address literal (IPv6 needs the IPv6: tag)");
		return -1;
	}
	if (n == 0 || n >= sizeof(tmp)) {
		address_error(err, errlen, "invalid %s address literal",
			      family == AF_INET6 ? "IPv6" : "IPv4");
		return -1;
	}
	memcpy(tmp, inner, n);
	tmp[n] = '\0';
	if (inet_pton(family, tmp, bin) != 1
	    || inet_ntop(family, bin, ntop, sizeof(ntop)) == NULL) {
		address_error(err, errlen, "invalid %s address literal",
			      family == AF_INET6 ? "IPv6" : "IPv4");
		return -1;
	}
	w = snprintf(out, outlen, "[%s%s]", family == AF_INET6 ? "ipv6:" : "", ntop);
	if (w < 0 || (size_t) w >= outlen) {
		address_error(err, errlen, "domain longer than the output buffer");
		return -1;
	}
	return 0;
}

/* address_skip_route - check "@a,@b:" at the start of text and step over it */
static int
address_skip_route(const char *text, size_t len, size_t *used,
		   char *err, size_t errlen)
{
	char	hop[ADDRESS_DOMAIN_MAX + 1];
	const char *colon = memchr(text, ':', len);
	size_t	end;
	size_t	start = 0;

	if (colon == NULL) {
		address_error(err, errlen, "source route without ':'");
		return -1;
	}
	end = (size_t) (colon - text);
	for (;;) {
		const char *comma;
		size_t	stop;

		if (start >= end || text[start] != '@') {
			address_error(err, errlen, "malformed source route");
			return -1;
		}
		comma = memchr(text + start, ',', end - start);
		stop = comma ? (size_t) (comma - text) : end;
		if (address_scan_hostname(text + start + 1, stop - start - 1, hop, sizeof(hop),
					  1, NULL, 0) < 0) {
			address_error(err, errlen, "malformed domain in source route");
			return -1;
		}
		if (stop == end)
			break;
		start = stop + 1;
	}
	*used = end + 1;
	return 0;
}

/* address_unbracket - find the '>' closing text[0] == '<', outside quotes */
static int
address_unbracket(const char *text, size_t len, size_t *close,
		  char *err, size_t errlen)
{
	int	quoted = 0;
	size_t	i;

	for (i = 1; i < len; i++) {
		if (quoted && text[i] == '\\')
			i++;
		else if (text[i] == '"')
			quoted = !quoted;
		else if (!quoted && text[i] == '>')
			break;
	}
	if (i >= len) {
		address_error(err, errlen, quoted ? "unbalanced quotes in local part"
			      : "missing closing '>'");
		return -1;
	}
	if (i != len - 1) {
		address_error(err, errlen, "text after closing '>'");
		return -1;
	}
	*close = i;
	return 0;
}

/* address_parse - one mailbox, bracketed or not, or the null sender */
int
address_parse(const char *text, size_t len, struct address *out,
	      char *err, size_t errlen)
{
	size_t	used;
	size_t	close;

	memset(out, 0, sizeof(*out));
	if (address_check_bytes(text, len, "address", err, errlen) < 0)
		goto fail;
	if (len > 0 && text[0] == '<') {
		if (address_unbracket(text, len, &close, err, errlen) < 0)
			goto fail;
		text += 1;
		len = close - 1;
		if (len > 0 && text[0] == '@' && memchr(text, ':', len) != NULL) {
			if (address_skip_route(text, len, &used, err, errlen) < 0)
				goto fail;
			text += used;
			len -= used;
			if (len == 0) {
				address_error(err, errlen, "source route without a mailbox");
				goto fail;
			}
		}
	} else if (len > 0 && text[0] == '@' && memchr(text, ':', len) != NULL) {
		address_error(err, errlen, "source route outside angle brackets");
		goto fail;
	}
	if (len == 0) {
		out->null = 1;
		return 0;
	}
	if (address_scan_local(text, len, &used, out->local, err, errlen) < 0)
		goto fail;
	if (used == len) {
		address_error(err, errlen, "no '@' in address");
		goto fail;
	}
	if (text[used] != '@') {
		address_local_trailer(text, used, err, errlen);
		goto fail;
	}
	text += used + 1;
	len -= used + 1;
	if (len > 0 && text[0] == '[') {
		if (address_scan_literal(text, len, out->domain, sizeof(out->domain),
					 err, errlen) < 0)
			goto fail;
	} else if (address_scan_hostname(text, len, out->domain, sizeof(out->domain),
					 1, err, errlen) < 0) {
		goto fail;
	}
	return 0;

fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

/* address_parse_local - one local part alone */
int
address_parse_local(const char *text, size_t len, char *out, size_t outlen,
		    char *err, size_t errlen)
{
	char	local[ADDRESS_LOCAL_MAX + 1];
	size_t	used;
	size_t	n;

	if (address_check_bytes(text, len, "local part", err, errlen) < 0
	    || address_scan_local(text, len, &used, local, err, errlen) < 0)
		return -1;
	if (used != len) {
		address_local_trailer(text, used, err, errlen);
		return -1;
	}
	n = strlen(local);
	if (n >= outlen) {
		address_error(err, errlen, "local part longer than the output buffer");
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	memcpy(out, local, n + 1);
	return 0;
}

/* address_parse_domain - a customer domain, at least two labels */
int
address_parse_domain(const char *text, size_t len, char *out, size_t outlen,
		     char *err, size_t errlen)
{
	if (address_check_bytes(text, len, "domain", err, errlen) < 0
	    || address_scan_hostname(text, len, out, outlen, 2, err, errlen) < 0) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* address_parse_hostname - a host name, one label allowed */
int
address_parse_hostname(const char *text, size_t len, char *out, size_t outlen,
		       char *err, size_t errlen)
{
	if (address_check_bytes(text, len, "host name", err, errlen) < 0
	    || address_scan_hostname(text, len, out, outlen, 1, err, errlen) < 0) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* address_valid_hostname - yes or no, no error text */
int
address_valid_hostname(const char *text, size_t len)
{
	char	out[ADDRESS_DOMAIN_MAX + 1];

	return address_parse_hostname(text, len, out, sizeof(out), NULL, 0) == 0;
}

/* address_format - the canonical text "local@domain" */
char   *
address_format(const struct address *a, char *buf, size_t len)
{
	size_t	llen, dlen;

	if (len == 0)
		return NULL;
	if (a->null) {
		buf[0] = 0;
		return buf;
	}
	llen = strlen(a->local);
	dlen = strlen(a->domain);
	if (llen + 1 + dlen >= len)
		return NULL;
	memcpy(buf, a->local, llen);
	buf[llen] = '@';
	memcpy(buf + llen + 1, a->domain, dlen + 1);
	return buf;
}
