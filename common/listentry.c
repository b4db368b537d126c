/*
 * listentry.c - sender white/blacklist entries (SPEC "Sender lists").
 *
 * An entry is one of:
 *   bob@example.org	that mailbox (address.c canonical form: lowercased)
 *   @example.org	that domain only
 *   .example.org	that domain and every subdomain (example.org itself,
 *			a.example.org, a.b.example.org...)
 *   192.0.2.1, 192.0.2.0/24, 2001:db8::/32, ::1
 *			the SMTP client's address, IPv4 or IPv6, in a network
 *
 * Lists are Redis sets of canonical entry texts. A lookup does not scan a
 * list: listentry_candidates() lists every text that could match a given
 * sender and client, and one SMISMEMBER asks which are present. That
 * function and listentry_match() must agree exactly; the unit test checks
 * it over many combinations.
 *
 * Canonical text: lowercased; networks through inet_pton/inet_ntop, with
 * no prefix when it is full length (/32, /128). Decisions:
 *   - a network with host bits set is an error that suggests the network;
 *   - an IPv4-mapped IPv6 entry (::ffff:192.0.2.1, ::ffff:192.0.2.0/120)
 *     becomes its IPv4 form, and a client address given as IPv4-mapped is
 *     treated as IPv4; so IPv4 clients match IPv4 entries only, and an
 *     IPv6 entry such as ::/0 matches IPv6 clients only;
 *   - domain entries allow one label (.org, @localhost): blacklisting a
 *     whole top-level domain is a real use;
 *   - a sender whose domain is an address literal (bob@[192.0.2.1]) is
 *     matched by its full address only; "@[...]" is not an entry (list the
 *     client IP instead);
 *   - the null sender <> is not an entry and matches no address or
 *     domain entry; network entries still match its client;
 *   - a bare domain (example.org) is an error suggesting @ or . forms.
 *
 * Public functions: listentry_parse, listentry_match, listentry_candidates.
 * Pure: no I/O, no logging, no allocation.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "address.h"
#include "listentry.h"

static void listentry_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* listentry_error - put one phrase in the caller's error buffer, if any */
static void
listentry_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* listentry_bits - address width of a family: 32 or 128 */
static inline unsigned
listentry_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* listentry_unmap - turn an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into IPv4 */
static void
listentry_unmap(int *family, unsigned char *addr, unsigned *prefix)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (*family != AF_INET6 || *prefix < 96 || memcmp(addr, mapped, 12) != 0)
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
	*prefix -= 96;
}

/* listentry_mask - clear every bit after the first prefix bits */
static void
listentry_mask(unsigned char *addr, unsigned prefix, unsigned bits)
{
	for (unsigned i = 0; i < bits / 8; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (unsigned char) (0xff << (8 - (prefix - 8 * i)));
	}
}

/* listentry_client - parse a client address; IPv4-mapped becomes IPv4 */
static int
listentry_client(const char *client_ip, int *family, unsigned char *addr)
{
	unsigned full = 128;

	memset(addr, 0, 16);
	if (client_ip == NULL)
		return -1;
	if (inet_pton(AF_INET, client_ip, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, client_ip, addr) == 1) {
		*family = AF_INET6;
		listentry_unmap(family, addr, &full);
		return 0;
	}
	return -1;
}

/* listentry_network_text - canonical text of a network: "192.0.2.0/24", "::1" */
static int
listentry_network_text(int family, const unsigned char *addr, unsigned prefix,
		       char *out, size_t outlen)
{
	char	ntop[INET6_ADDRSTRLEN];
	int	n;

	if (inet_ntop(family, addr, ntop, sizeof(ntop)) == NULL)
		return -1;
	if (prefix == listentry_bits(family))
		n = snprintf(out, outlen, "%s", ntop);
	else
		n = snprintf(out, outlen, "%s/%u", ntop, prefix);
	return (n < 0 || (size_t) n >= outlen) ? -1 : 0;
}

/* listentry_not_entry - explain text that is none of the four kinds */
static void
listentry_not_entry(const char *text, size_t len, char *err, size_t errlen)
{
	char	host[ADDRESS_DOMAIN_MAX + 1];

	if (address_parse_hostname(text, len, host, sizeof(host), NULL, 0) == 0)
		listentry_error(err, errlen, "a bare domain is not an entry; "
				"write @%s (that domain only) or .%s (with its subdomains)",
				host, host);
	else
		listentry_error(err, errlen, "not an address, @domain, .domain, "
				"IP address or network");
}

/* listentry_parse_network - "192.0.2.1", "192.0.2.0/24", "2001:db8::/32" */
static int
listentry_parse_network(const char *text, size_t len, struct listentry *out,
			char *err, size_t errlen)
{
	char	tmp[INET6_ADDRSTRLEN + 1];
	char	suggest[LISTENTRY_TEXT_MAX];
	unsigned char masked[16];
	const char *slash = memchr(text, '/', len);
	size_t	alen = slash ? (size_t) (slash - text) : len;
	unsigned bits;

	if (alen == 0 || alen >= sizeof(tmp)) {
		listentry_not_entry(text, len, err, errlen);
		return -1;
	}
	memcpy(tmp, text, alen);
	tmp[alen] = '\0';
	if (inet_pton(AF_INET, tmp, out->addr) == 1) {
		out->family = AF_INET;
	} else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
		out->family = AF_INET6;
	} else {
		listentry_not_entry(text, len, err, errlen);
		return -1;
	}
	bits = listentry_bits(out->family);
	out->prefix = bits;
	if (slash != NULL) {
		size_t	plen = len - alen - 1;

		out->prefix = 0;
		if (plen == 0 || plen > 3) {
			listentry_error(err, errlen, "invalid prefix length");
			return -1;
		}
		for (size_t i = alen + 1; i < len; i++) {
			if (text[i] < '0' || text[i] > '9') {
				listentry_error(err, errlen, "invalid prefix length");
				return -1;
			}
			out->prefix = out->prefix * 10 + (unsigned) (text[i] - '0');
		}
		if (out->prefix > bits) {
			listentry_error(err, errlen, "prefix length /%u out of range for %s (0-%u)",
					out->prefix, out->family == AF_INET ? "IPv4" : "IPv6",
					bits);
			return -1;
		}
	}
	listentry_unmap(&out->family, out->addr, &out->prefix);
	bits = listentry_bits(out->family);
	memcpy(masked, out->addr, sizeof(masked));
	listentry_mask(masked, out->prefix, bits);
	if (memcmp(masked, out->addr, sizeof(masked)) != 0) {
		if (listentry_network_text(out->family, masked, out->prefix,
					   suggest, sizeof(suggest)) < 0)
			suggest[0] = '\0';
		listentry_error(err, errlen, "host bits set; did you mean %s?", suggest);
		return -1;
	}
	if (listentry_network_text(out->family, out->addr, out->prefix,
				   out->text, sizeof(out->text)) < 0) {
		listentry_error(err, errlen, "cannot format network");
		return -1;
	}
	out->kind = LISTENTRY_NETWORK;
	return 0;
}

/* listentry_parse_domain - "@example.org" or ".example.org": mark, then a host name */
static int
listentry_parse_domain(const char *text, size_t len, struct listentry *out,
		       char *err, size_t errlen)
{
	if (len > 1 && text[1] == '[') {
		listentry_error(err, errlen, "an address literal is not a domain entry; "
				"list the full address or the client IP");
		return -1;
	}
	out->kind = text[0] == '@' ? LISTENTRY_DOMAIN : LISTENTRY_SUBDOMAINS;
	out->text[0] = text[0];
	return address_parse_hostname(text + 1, len - 1, out->text + 1,
				      sizeof(out->text) - 1, err, errlen);
}

/* listentry_parse_address - "bob@example.org", with or without angle brackets */
static int
listentry_parse_address(const char *text, size_t len, struct listentry *out,
			char *err, size_t errlen)
{
	struct address a;

	if (address_parse(text, len, &a, err, errlen) < 0)
		return -1;
	if (a.null) {
		listentry_error(err, errlen, "the null sender <> cannot be listed");
		return -1;
	}
	if (address_format(&a, out->text, sizeof(out->text)) == NULL) {
		listentry_error(err, errlen, "address longer than %d bytes", LISTENTRY_TEXT_MAX - 1);
		return -1;
	}
	out->kind = LISTENTRY_ADDRESS;
	return 0;
}

/* listentry_parse - one entry of any kind, canonical */
int
listentry_parse(const char *text, size_t len, struct listentry *out,
		char *err, size_t errlen)
{
	int	ret;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		listentry_error(err, errlen, "empty entry");
		ret = -1;
	} else if (address_check_bytes(text, len, "list entry", err, errlen) < 0) {
		ret = -1;
	} else if (text[0] == '@' || text[0] == '.') {
		ret = listentry_parse_domain(text, len, out, err, errlen);
	} else if (text[0] == '<' || memchr(text, '@', len) != NULL) {
		ret = listentry_parse_address(text, len, out, err, errlen);
	} else {
		ret = listentry_parse_network(text, len, out, err, errlen);
	}
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	return ret;
}

/* listentry_within - domain equals parent or is a subdomain of it */
static int
listentry_within(const char *domain, const char *parent)
{
	size_t	dlen = strlen(domain);
	size_t	plen = strlen(parent);

	if (dlen == plen)
		return strcmp(domain, parent) == 0;
	return dlen > plen && domain[dlen - plen - 1] == '.'
		&& strcmp(domain + dlen - plen, parent) == 0;
}

/* listentry_has_domain - a real sender with a named (not literal) domain */
static int
listentry_has_domain(const struct address *sender)
{
	return sender != NULL && !sender->null && !address_domain_is_literal(sender);
}

/* listentry_match - does this entry match this sender or client */
int
listentry_match(const struct listentry *e, const struct address *sender,
		const char *client_ip)
{
	char	buf[ADDRESS_TEXT_MAX];
	unsigned char addr[16];
	int	family;

	switch (e->kind) {
	case LISTENTRY_ADDRESS:
		return sender != NULL && !sender->null
			&& address_format(sender, buf, sizeof(buf)) != NULL
			&& strcmp(buf, e->text) == 0;
	case LISTENTRY_DOMAIN:
		return listentry_has_domain(sender) && strcmp(sender->domain, e->text + 1) == 0;
	case LISTENTRY_SUBDOMAINS:
		return listentry_has_domain(sender) && listentry_within(sender->domain, e->text + 1);
	case LISTENTRY_NETWORK:
		if (listentry_client(client_ip, &family, addr) < 0 || family != e->family)
			return 0;
		listentry_mask(addr, e->prefix, listentry_bits(family));
		return memcmp(addr, e->addr, sizeof(addr)) == 0;
	}
	return 0;
}

/* listentry_add - write one candidate if there is room; count it anyway */
static void
listentry_add(char (*out)[LISTENTRY_TEXT_MAX], size_t max, size_t *n,
	      const char *prefix, const char *text)
{
	if (*n < max)
		snprintf(out[*n], LISTENTRY_TEXT_MAX, "%s%s", prefix, text);
	(*n)++;
}

/* listentry_candidates - every entry text that would match, most specific first */
size_t
listentry_candidates(const struct address *sender, const char *client_ip,
		     char (*out)[LISTENTRY_TEXT_MAX], size_t max)
{
	char	buf[LISTENTRY_TEXT_MAX];
	unsigned char addr[16];
	unsigned char net[16];
	int	family;
	size_t	n = 0;

	if (sender != NULL && !sender->null
	    && address_format(sender, buf, sizeof(buf)) != NULL)
		listentry_add(out, max, &n, "", buf);
	if (listentry_has_domain(sender)) {
		listentry_add(out, max, &n, "@", sender->domain);
		for (const char *d = sender->domain;;) {
			listentry_add(out, max, &n, ".", d);
			if ((d = strchr(d, '.')) == NULL)
				break;
			d++;
		}
	}
	if (listentry_client(client_ip, &family, addr) == 0) {
		for (unsigned p = listentry_bits(family) + 1; p-- > 0;) {
			memcpy(net, addr, sizeof(net));
			listentry_mask(net, p, listentry_bits(family));
			if (listentry_network_text(family, net, p, buf, sizeof(buf)) == 0)
				listentry_add(out, max, &n, "", buf);
		}
	}
	return n;
}
