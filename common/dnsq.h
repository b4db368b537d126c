/* dnsq.h - asynchronous DNS on the event loop: MX, A, TXT with TTLs (see dnsq.c) */
#ifndef MH_DNSQ_H
#define MH_DNSQ_H

#include <stddef.h>
#include <stdint.h>

#include "mx.h"

struct event_base;
struct conf;
struct dnsq;

#define DNSQ_NAME_MAX		253	/* bytes in a query name, without the trailing dot */
#define DNSQ_A_MAX		16	/* A records kept from one answer */
#define DNSQ_TXT_MAX		512	/* bytes of TXT text kept (strings of one record, joined) */
#define DNSQ_TRIES		2	/* c-ares tries per server within dns.timeout */
#define DNSQ_CNAME_MAX		8	/* CNAME hops followed inside one answer */
#define DNSQ_NEG_TTL_DEFAULT	300	/* seconds: NXDOMAIN/NODATA without an SOA */
#define DNSQ_NEG_TTL_MAX	10800	/* seconds: cap on a negative TTL (3h) */
#define DNSQ_TTL_MAX		604800	/* seconds: cap on a positive TTL (7d) */

enum dnsq_status {
	DNSQ_OK,			/* records found; ttl = the smallest TTL in the chain */
	DNSQ_NXDOMAIN,			/* the name does not exist; ttl = negative TTL */
	DNSQ_NODATA,			/* the name exists, no record of the type; ttl = negative TTL */
	DNSQ_TEMPFAIL,			/* SERVFAIL, REFUSED, timeout, network error, bad answer; ttl 0 */
	DNSQ_BADNAME,			/* the name is not a valid DNS name; nothing was sent; ttl 0 */
	DNSQ_CANCELLED			/* dnsq_free ran first; ttl 0 */
};

/*
 * Callbacks: called exactly once per accepted query, always from the event
 * loop (never from inside dnsq_mx/a/txt), or from dnsq_free with
 * DNSQ_CANCELLED. Data pointers are valid during the call only; on any
 * status but DNSQ_OK the set is empty, count 0, txt "". A caller that goes
 * away first must not free `arg`: it marks it (e.g. `req->gone = 1`) and
 * the callback frees it.
 */
typedef void dnsq_mx_cb(enum dnsq_status, const struct mx_set *, uint32_t ttl, void *arg);
typedef void dnsq_a_cb(enum dnsq_status, const unsigned char (*addrs)[4], size_t count,
		       uint32_t ttl, void *arg);
typedef void dnsq_txt_cb(enum dnsq_status, const char *txt, uint32_t ttl, void *arg);

/* dnsq_new - a resolver on base: conf dns.servers (none = /etc/resolv.conf), dns.timeout */
struct dnsq *dnsq_new(struct event_base *, const struct conf *, char *err, size_t errlen);
/*
 * dnsq_free - cancel every query (their callbacks run now with
 * DNSQ_CANCELLED) and free the resolver. Called from inside a dnsq
 * callback, the cancelling and freeing happen as that callback returns.
 */
void	dnsq_free(struct dnsq *);

/*
 * dnsq_mx, dnsq_a, dnsq_txt - start one query for an absolute name (a
 * trailing dot is optional; no search domains). 0: the callback will run
 * exactly once; -1: out of memory or the resolver is being freed, no
 * callback (logged).
 */
int	dnsq_mx(struct dnsq *, const char *name, dnsq_mx_cb *cb, void *arg);
int	dnsq_a(struct dnsq *, const char *name, dnsq_a_cb *cb, void *arg);
int	dnsq_txt(struct dnsq *, const char *name, dnsq_txt_cb *cb, void *arg);
/* dnsq_pending - queries whose callback has not run yet */
size_t	dnsq_pending(const struct dnsq *);

/*
 * Answer parsers: pure, for tests and fuzzing. abuf is a whole DNS reply
 * message. A malformed message (or SERVFAIL etc.) is DNSQ_TEMPFAIL.
 */
enum dnsq_status dnsq_parse_mx(const unsigned char *abuf, int alen, struct mx_set *out,
			       uint32_t *ttl);
enum dnsq_status dnsq_parse_a(const unsigned char *abuf, int alen, unsigned char (*addrs)[4],
			      size_t max, size_t *count, uint32_t *ttl);
enum dnsq_status dnsq_parse_txt(const unsigned char *abuf, int alen, char *out, size_t outlen,
				uint32_t *ttl);
/* dnsq_status_name - "ok", "nxdomain", "nodata", "tempfail", "badname", "cancelled" */
const char *dnsq_status_name(enum dnsq_status);

#endif
