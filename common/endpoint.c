/*
 * endpoint.c - socket strings as Postfix writes them, DNS servers, host:port.
 *
 * endpoint_parse reads what main.cf would say, so an admin pastes the same
 * string into both files:
 *	inet:127.0.0.1:10027	inet:localhost:10027	inet:[::1]:10027
 *	unix:/run/mhkit/policy.sock
 * and "" (ENDPOINT_NONE: the feature is off).  An IPv6 address must be in
 * brackets; the port is decimal, 1..65535 (no service names); a host is an
 * IPv4 address or a host name (hostname_valid).  A unix path must be
 * absolute (Postfix's private/x form is relative to a queue directory we
 * do not know) and fit in sun_path.  endpoint_format writes the same form
 * back.
 *
 * dnsserver_parse reads a resolver address with an optional port after
 * '@' ("127.0.0.1", "127.0.0.1@5353", "::1@5353"); the address must be an
 * IP literal.  hostport_parse reads "host", "host:port", "[v6]:port",
 * "[v6]" or a bare IPv6 address (then without a port).  hostport_format
 * and dnsserver_format write them back.
 *
 * Limits: ENDPOINT_HOST_MAX bytes of host, ENDPOINT_PATH_MAX of path,
 * ENDPOINT_TEXT_MAX of input.  Failures return -1 with one line in err
 * that quotes the input, printable and capped:
 *	bad socket "inet:::1:25": an IPv6 address must be in brackets (inet:[::1]:25)
 * A format buffer smaller than ENDPOINT_FORMAT_MAX that cannot hold the
 * result is our own bug (panic).  Nothing is logged.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "endpoint.h"
#include "log.h"

#define ENDPOINT_QUOTE_MAX	80	/* input bytes quoted in an error */
#define ENDPOINT_LABEL_MAX	63	/* bytes in one DNS label */
#define ENDPOINT_NAME_MAX	253	/* bytes in a host name */

/* endpoint_quote - input text, printable and capped, for an error message */
static const char *
endpoint_quote(char *buf, size_t buflen, const char *text)
{
	return log_printable(buf, buflen, text, strlen(text));
}

/* hostname_valid - letters, digits and hyphens in dot-separated labels */
int
hostname_valid(const char *name)
{
	size_t	len = strlen(name);
	size_t	label = 0;
	int	numeric = 1;			/* last label so far all digits */

	if (len == 0 || len > ENDPOINT_NAME_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char) name[i];

		if (c == '.' || c == 0) {
			if (label == 0 || name[i - 1] == '-')
				return 0;
			if (c == 0)
				break;
			label = 0;
			numeric = 1;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (!isdigit(c))
			numeric = 0;
		if (++label > ENDPOINT_LABEL_MAX)
			return 0;
	}
	/* an all-numeric top-level label is a mistyped address, not a name */
	return !numeric;
}

/* endpoint_is_ip - 4 or 6 when text is an address of that family, else 0 */
static int
endpoint_is_ip(const char *text)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, text, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return 6;
	return 0;
}

/* endpoint_port - "1".."65535", decimal digits only */
static int
endpoint_port(const char *text, unsigned *port)
{
	unsigned v = 0;
	size_t	i;

	for (i = 0; isdigit((unsigned char) text[i]); i++) {
		v = v * 10 + (unsigned) (text[i] - '0');
		if (v > 65535)
			return -1;
	}
	if (i == 0 || text[i] != 0 || v == 0)
		return -1;
	*port = v;
	return 0;
}

/* endpoint_copy_host - host of len bytes into dst, checked; NULL or why not */
static const char *
endpoint_copy_host(char *dst, const char *host, size_t len, int v6)
{
	if (len == 0)
		return "missing host";
	if (len > ENDPOINT_HOST_MAX)
		return "host name too long";
	memcpy(dst, host, len);
	dst[len] = 0;
	if (v6)
		return endpoint_is_ip(dst) == 6 ? NULL : "not an IPv6 address in brackets";
	if (endpoint_is_ip(dst) == 4 || hostname_valid(dst))
		return NULL;
	return "not an IPv4 address or host name";
}

/* endpoint_inet - "host:port" or "[v6]:port" after "inet:"; NULL or why not, maybe in buf */
static const char *
endpoint_inet(const char *rest, struct endpoint *ep, char *buf, size_t buflen)
{
	const char *colon;
	const char *why;

	if (*rest == '[') {
		const char *close = strchr(rest, ']');

		if (close == NULL)
			return "missing ] after IPv6 address";
		if ((why = endpoint_copy_host(ep->host, rest + 1, (size_t) (close - rest - 1), 1)) != NULL)
			return why;
		if (close[1] == 0)
			return "missing port (inet:[ADDRESS]:PORT)";
		if (close[1] != ':')
			return "expected :PORT after ]";
		colon = close + 1;
	} else {
		if ((colon = strrchr(rest, ':')) == NULL)
			return "missing port (inet:HOST:PORT)";
		if (memchr(rest, ':', (size_t) (colon - rest)) != NULL) {
			char	q[ENDPOINT_QUOTE_MAX + 1];
			size_t	hostlen = (size_t) (colon - rest);

			/* the quoted copy is byte for byte, maybe cut short */
			endpoint_quote(q, sizeof(q), rest);
			snprintf(buf, buflen, "an IPv6 address must be in brackets (inet:[%.*s]:%s)",
				 (int) hostlen, q, hostlen < strlen(q) ? q + hostlen + 1 : "");
			return buf;
		}
		if ((why = endpoint_copy_host(ep->host, rest, (size_t) (colon - rest), 0)) != NULL)
			return why;
	}
	if (colon[1] == 0)
		return "missing port";
	if (endpoint_port(colon + 1, &ep->port) < 0)
		return "port must be a number 1..65535";
	return NULL;
}

/* endpoint_unix - "/path" after "unix:"; NULL or why not */
static const char *
endpoint_unix(const char *path, struct endpoint *ep)
{
	size_t	len = strlen(path);

	if (len == 0)
		return "missing path";
	if (path[0] != '/')
		return "path must be absolute";
	if (len > ENDPOINT_PATH_MAX)
		return "path too long for a unix socket";
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char) path[i]))
			return "path has control characters";
	memcpy(ep->path, path, len + 1);
	return NULL;
}

/* endpoint_parse - "inet:127.0.0.1:10027", "inet:[::1]:10027", "unix:/run/x.sock", "" */
int
endpoint_parse(const char *text, struct endpoint *out, char *err, size_t errlen)
{
	struct endpoint ep;
	char	q[ENDPOINT_QUOTE_MAX + 1];
	char	buf[2 * ENDPOINT_QUOTE_MAX];
	const char *why = NULL;

	memset(&ep, 0, sizeof(ep));
	if (*text == 0)
		ep.kind = ENDPOINT_NONE;
	else if (strlen(text) > ENDPOINT_TEXT_MAX)
		why = "too long";
	else if (strncmp(text, "inet:", 5) == 0) {
		ep.kind = ENDPOINT_INET;
		why = endpoint_inet(text + 5, &ep, buf, sizeof(buf));
	} else if (strncmp(text, "unix:", 5) == 0) {
		ep.kind = ENDPOINT_UNIX;
		why = endpoint_unix(text + 5, &ep);
	} else if (strchr(text, ':') != NULL)
		why = "unknown socket type (use inet:HOST:PORT or unix:/PATH)";
	else
		why = "missing inet: or unix: (use inet:HOST:PORT or unix:/PATH)";
	if (why != NULL) {
		snprintf(err, errlen, "bad socket \"%s\": %s", endpoint_quote(q, sizeof(q), text), why);
		return -1;
	}
	*out = ep;
	return 0;
}

/* endpoint_fit - panic when snprintf did not fit: the caller's buffer is our bug */
static char *
endpoint_fit(int n, char *buf, size_t buflen)
{
	if (n < 0 || (size_t) n >= buflen)
		msg_panic("endpoint: format buffer of %zu bytes is too small", buflen);
	return buf;
}

/* endpoint_format - back to the main.cf form */
char   *
endpoint_format(const struct endpoint *ep, char *buf, size_t buflen)
{
	int	n;

	switch (ep->kind) {
	case ENDPOINT_INET:
		n = snprintf(buf, buflen, strchr(ep->host, ':') ? "inet:[%s]:%u" : "inet:%s:%u",
			     ep->host, ep->port);
		break;
	case ENDPOINT_UNIX:
		n = snprintf(buf, buflen, "unix:%s", ep->path);
		break;
	default:
		n = snprintf(buf, buflen, "%s", "");
		break;
	}
	return endpoint_fit(n, buf, buflen);
}

/* dnsserver_parse - "127.0.0.1", "127.0.0.1@5353", "::1@5353": IP address and optional port */
int
dnsserver_parse(const char *text, struct hostport *out, char *err, size_t errlen)
{
	struct hostport hp;
	char	q[ENDPOINT_QUOTE_MAX + 1];
	const char *at = strrchr(text, '@');
	size_t	len = at ? (size_t) (at - text) : strlen(text);
	const char *why = NULL;

	memset(&hp, 0, sizeof(hp));
	if (len == 0)
		why = at ? "missing address before @" : "empty value";
	else if (len >= INET6_ADDRSTRLEN)
		why = "not an IP address";
	else {
		memcpy(hp.host, text, len);
		hp.host[len] = 0;
		if (endpoint_is_ip(hp.host) == 0)
			why = "not an IP address (a DNS server is given by address)";
		else if (at != NULL && endpoint_port(at + 1, &hp.port) < 0)
			why = "port after @ must be a number 1..65535";
	}
	if (why != NULL) {
		snprintf(err, errlen, "bad DNS server \"%s\": %s", endpoint_quote(q, sizeof(q), text), why);
		return -1;
	}
	*out = hp;
	return 0;
}

/* hostport_parse - "host", "host:port", "[v6]:port", "[v6]", "v6" (no port) */
int
hostport_parse(const char *text, unsigned default_port, struct hostport *out,
	       char *err, size_t errlen)
{
	struct hostport hp;
	char	q[ENDPOINT_QUOTE_MAX + 1];
	const char *colon = strchr(text, ':');
	const char *port = NULL;
	const char *why = NULL;

	memset(&hp, 0, sizeof(hp));
	hp.port = default_port;
	if (*text == 0)
		why = "empty value";
	else if (strlen(text) > ENDPOINT_TEXT_MAX)
		why = "too long";
	else if (*text == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL)
			why = "missing ] after IPv6 address";
		else if ((why = endpoint_copy_host(hp.host, text + 1, (size_t) (close - text - 1), 1)) == NULL
			 && close[1] != 0) {
			if (close[1] == ':')
				port = close + 2;
			else
				why = "expected :PORT after ]";
		}
	} else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* two or more colons: a bare IPv6 address, which takes no port */
		why = endpoint_copy_host(hp.host, text, strlen(text), 1);
		if (why != NULL)
			why = "not an IPv6 address (write [ADDRESS]:PORT for a port)";
	} else {
		why = endpoint_copy_host(hp.host, text, colon ? (size_t) (colon - text) : strlen(text), 0);
		if (why == NULL && colon != NULL)
			port = colon + 1;
	}
	if (why == NULL && port != NULL && endpoint_port(port, &hp.port) < 0)
		why = "port must be a number 1..65535";
	if (why != NULL) {
		snprintf(err, errlen, "bad host:port \"%s\": %s", endpoint_quote(q, sizeof(q), text), why);
		return -1;
	}
	*out = hp;
	return 0;
}

/* hostport_format - "host:port", "[v6]:port", or the host alone when port is 0 */
char   *
hostport_format(const struct hostport *hp, char *buf, size_t buflen)
{
	if (hp->port == 0)
		return endpoint_fit(snprintf(buf, buflen, "%s", hp->host), buf, buflen);
	return endpoint_fit(snprintf(buf, buflen, strchr(hp->host, ':') ? "[%s]:%u" : "%s:%u",
				     hp->host, hp->port), buf, buflen);
}

/* hostport_same - the same host (as written) and port */
int
hostport_same(const struct hostport *a, const struct hostport *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* dnsserver_format - "address" or "address@port" */
char   *
dnsserver_format(const struct hostport *hp, char *buf, size_t buflen)
{
	if (hp->port == 0)
		return endpoint_fit(snprintf(buf, buflen, "%s", hp->host), buf, buflen);
	return endpoint_fit(snprintf(buf, buflen, "%s@%u", hp->host, hp->port), buf, buflen);
}
