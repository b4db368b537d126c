/* endpoint.h - socket strings as Postfix writes them, DNS server specs (see endpoint.c) */
#ifndef MH_ENDPOINT_H
#define MH_ENDPOINT_H

#include <stddef.h>

#define ENDPOINT_HOST_MAX	255	/* host name or address text, bytes */
#define ENDPOINT_PATH_MAX	107	/* sun_path minus the NUL */
#define ENDPOINT_TEXT_MAX	300	/* bytes of input text */
#define ENDPOINT_FORMAT_MAX	(ENDPOINT_HOST_MAX + 16)	/* buffer for *_format */

enum endpoint_kind {
	ENDPOINT_NONE,			/* empty string: feature off */
	ENDPOINT_INET,			/* inet:host:port, inet:[v6]:port */
	ENDPOINT_UNIX			/* unix:/path */
};

struct endpoint {
	enum endpoint_kind kind;
	char	host[ENDPOINT_HOST_MAX + 1];	/* inet: name or address, no brackets */
	unsigned port;			/* inet: 1..65535 */
	char	path[ENDPOINT_PATH_MAX + 1];	/* unix: */
};

/* endpoint_parse - "inet:127.0.0.1:10027", "inet:[::1]:10027", "unix:/run/x.sock", "" */
int	endpoint_parse(const char *text, struct endpoint *out, char *err, size_t errlen);
/* endpoint_format - back to the main.cf form */
char   *endpoint_format(const struct endpoint *, char *buf, size_t buflen);

struct hostport {
	char	host[ENDPOINT_HOST_MAX + 1];	/* address or name, no brackets */
	unsigned port;			/* 0 when not given */
};

/* dnsserver_parse - "127.0.0.1", "127.0.0.1@5353", "::1@5353": IP address and optional port */
int	dnsserver_parse(const char *text, struct hostport *out, char *err, size_t errlen);
/* hostport_parse - "host", "host:port", "[v6]:port", "v6" (no port) */
int	hostport_parse(const char *text, unsigned default_port, struct hostport *out,
		       char *err, size_t errlen);
/* hostport_same - the same host (as written) and port */
int	hostport_same(const struct hostport *, const struct hostport *);
/* hostport_format - "host:port", "[v6]:port", host alone when port is 0 */
char   *hostport_format(const struct hostport *, char *buf, size_t buflen);
/* dnsserver_format - "address" or "address@port" */
char   *dnsserver_format(const struct hostport *, char *buf, size_t buflen);
/* hostname_valid - 1 when name is a syntactically valid DNS host name (LDH labels) */
int	hostname_valid(const char *name);

#endif
