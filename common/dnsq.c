/*
 * dnsq.c - asynchronous DNS for mhpolicyd's event loop: MX, A and TXT
 * lookups that report the TTL to cache the answer for.
 *
 * c-ares does the sending, retrying and matching of answers; it runs on
 * the caller's libevent base: ARES_OPT_SOCK_STATE_CB adds and removes one
 * persistent read/write event per c-ares socket, and one timer follows
 * ares_timeout() so that c-ares's retries and timeouts happen without a
 * blocking call. Servers are dns.servers ("127.0.0.1@5353": port 0 means
 * 53), or /etc/resolv.conf when there are none. Names are absolute
 * (ares_query, never ares_search: no search domains are appended).
 *
 * Timing: each query has its own deadline of dns.timeout; when it passes
 * the callback gets DNSQ_TEMPFAIL, whatever c-ares is still doing. Within
 * that budget c-ares tries each server DNSQ_TRIES (2) times; the first
 * try waits dns.timeout/3 and c-ares doubles the wait for the second, so
 * with one server both tries fit the budget.
 *
 * c-ares 1.18 gives no TTL for MX or TXT, so answers are parsed here from
 * the raw message (dnsq_parse_*: pure, no socket, no logging): header,
 * one question, answer and authority records with their bounds checked;
 * names expanded by ares_expand_name (compression loops are refused).
 * CNAMEs inside the answer are followed up to DNSQ_CNAME_MAX hops. The
 * TTL of an answer is the smallest TTL along the chain, capped at
 * DNSQ_TTL_MAX; NXDOMAIN and NODATA take the negative TTL of RFC 2308,
 * min(SOA TTL, SOA MINIMUM) of the SOA in the authority section, or
 * DNSQ_NEG_TTL_DEFAULT without one, capped at DNSQ_NEG_TTL_MAX. TTLs with
 * the top bit set count as 0 (RFC 2181).
 *
 * Bounds: MX_HOSTS_MAX exchanges (the most preferred, as mx_set_add
 * keeps), DNSQ_A_MAX addresses, DNSQ_TXT_MAX bytes of TXT (the strings of
 * the first record joined; a NUL byte becomes '?'). Anything past a bound
 * is dropped with a warning. MX records naming "." (null MX, RFC 7505) or
 * a name that is not a host name are skipped: a domain with only such
 * records answers DNSQ_OK with an empty set.
 *
 * Lifetime: the callback of an accepted query runs exactly once, from the
 * event loop (never inside dnsq_mx/a/txt), or from dnsq_free with
 * DNSQ_CANCELLED. A request stays allocated until both its callback has
 * run and c-ares has let go of it. A caller that goes away first marks its
 * own request object and lets the callback free it. dnsq_free from inside
 * a callback is deferred until that callback returns.
 *
 * Public functions: dnsq_new, dnsq_free, dnsq_mx, dnsq_a, dnsq_txt,
 * dnsq_pending, dnsq_parse_mx, dnsq_parse_a, dnsq_parse_txt,
 * dnsq_status_name.
 *
 * Logs: a warning for a malformed answer (with the reason), for records
 * dropped at a bound, and when the resolver cannot watch a socket; with
 * -v, every failed lookup. Failures never stop the daemon: they are
 * DNSQ_TEMPFAIL.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <event2/event.h>

#include "conf.h"
#include "dnsq.h"
#include "log.h"

#define DNSQ_HDR_LEN		12	/* bytes in the message header */
#define DNSQ_RR_FIXED		10	/* type, class, TTL, rdlength */
#define DNSQ_WIRE_NAME_MAX	255	/* bytes in an encoded name */
#define DNSQ_TEXT_NAME_MAX	1024	/* bytes in an expanded name, escapes included */
#define DNSQ_WHY_MAX		160	/* bytes in a reason for the log */
#define DNSQ_SOA_FIXED		20	/* serial, refresh, retry, expire, minimum */

#define DNSQ_T_A		1
#define DNSQ_T_CNAME		5
#define DNSQ_T_SOA		6
#define DNSQ_T_MX		15
#define DNSQ_T_TXT		16
#define DNSQ_C_IN		1

#define DNSQ_RCODE_NOERROR	0
#define DNSQ_RCODE_NXDOMAIN	3

static int dnsq_library_users;		/* dnsq objects alive: ares_library_init once */

/* --- the parser --------------------------------------------------------------- */

struct dnsq_rr {
	int	type;
	int	class;
	uint32_t ttl;
	int	owner;			/* offset of the owner name */
	int	rdoff;			/* offset of the rdata */
	int	rdlen;
};

/* a record collector: 0, or -1 with why set (the record is malformed) */
typedef int dnsq_collect_fn(void *ctx, const unsigned char *abuf, int alen,
			    const struct dnsq_rr *, char *why, size_t whylen);

/* what the collectors keep and what they dropped */
struct dnsq_mx_ctx {
	struct mx_set *set;
	size_t	records;		/* MX records of the final name */
	size_t	skipped;		/* null MX or not a host name */
};

struct dnsq_a_ctx {
	unsigned char (*addrs)[4];
	size_t	max;
	size_t	count;
	size_t	dropped;
};

struct dnsq_txt_ctx {
	char   *out;
	size_t	outlen;
	size_t	used;
	int	have;			/* the first record was taken */
	int	cut;
};

/* dnsq_get16 - a network-order 16-bit value */
static inline unsigned
dnsq_get16(const unsigned char *p)
{
	return (unsigned) p[0] << 8 | p[1];
}

/* dnsq_get32 - a network-order 32-bit value */
static inline uint32_t
dnsq_get32(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* dnsq_ttl - a TTL from the wire: the top bit set means 0 (RFC 2181 8) */
static inline uint32_t
dnsq_ttl(uint32_t ttl)
{
	return ttl & 0x80000000u ? 0 : ttl;
}

/* dnsq_min - the smaller of two TTLs */
static inline uint32_t
dnsq_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* dnsq_skip_name - move *off past an encoded name (its pointer is not followed) */
static int
dnsq_skip_name(const unsigned char *abuf, int alen, int *off)
{
	int	p = *off;
	int	wire = 0;

	for (;;) {
		unsigned c;

		if (p >= alen)
			return -1;
		c = abuf[p];
		if ((c & 0xc0) == 0xc0) {
			if (p + 2 > alen)
				return -1;
			*off = p + 2;
			return 0;
		}
		if (c & 0xc0)
			return -1;		/* 01 and 10 label types: unknown */
		if (c == 0) {
			*off = p + 1;
			return 0;
		}
		wire += (int) c + 1;
		if (wire > DNSQ_WIRE_NAME_MAX)
			return -1;
		p += (int) c + 1;
	}
}

/* dnsq_expand - the name at off as text (ares_expand_name); caller ares_free_string()s it */
static int
dnsq_expand(const unsigned char *abuf, int alen, int off, char **name, long *enclen,
	    char *why, size_t whylen)
{
	*name = NULL;
	if (off < 0 || off >= alen) {
		snprintf(why, whylen, "name past the end of the message");
		return -1;
	}
	if (ares_expand_name(abuf + off, abuf, alen, name, enclen) != ARES_SUCCESS) {
		*name = NULL;
		snprintf(why, whylen, "bad name at offset %d (bad label or compression pointer)", off);
		return -1;
	}
	if (strlen(*name) > DNSQ_TEXT_NAME_MAX) {
		ares_free_string(*name);
		*name = NULL;
		snprintf(why, whylen, "name at offset %d longer than %d bytes", off, DNSQ_TEXT_NAME_MAX);
		return -1;
	}
	return 0;
}

/* dnsq_rr_next - read the record at *off and move past it */
static int
dnsq_rr_next(const unsigned char *abuf, int alen, int *off, struct dnsq_rr *rr,
	     char *why, size_t whylen)
{
	int	p = *off;

	rr->owner = p;
	if (dnsq_skip_name(abuf, alen, &p) < 0) {
		snprintf(why, whylen, "bad record name at offset %d", rr->owner);
		return -1;
	}
	if (alen - p < DNSQ_RR_FIXED) {
		snprintf(why, whylen, "record at offset %d cut short", rr->owner);
		return -1;
	}
	rr->type = (int) dnsq_get16(abuf + p);
	rr->class = (int) dnsq_get16(abuf + p + 2);
	rr->ttl = dnsq_ttl(dnsq_get32(abuf + p + 4));
	rr->rdlen = (int) dnsq_get16(abuf + p + 8);
	rr->rdoff = p + DNSQ_RR_FIXED;
	if (rr->rdlen > alen - rr->rdoff) {
		snprintf(why, whylen, "rdlength %d of record at offset %d past the end",
			 rr->rdlen, rr->owner);
		return -1;
	}
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/* dnsq_soa_ttl - the negative TTL from the first SOA in the authority section */
static int
dnsq_soa_ttl(const unsigned char *abuf, int alen, int off, unsigned count, uint32_t *ttl,
	     char *why, size_t whylen)
{
	struct dnsq_rr rr;

	*ttl = DNSQ_NEG_TTL_DEFAULT;
	for (unsigned i = 0; i < count; i++) {
		int	p;

		if (dnsq_rr_next(abuf, alen, &off, &rr, why, whylen) < 0)
			return -1;
		if (rr.type != DNSQ_T_SOA || rr.class != DNSQ_C_IN)
			continue;
		p = rr.rdoff;
		if (dnsq_skip_name(abuf, rr.rdoff + rr.rdlen, &p) < 0
		    || dnsq_skip_name(abuf, rr.rdoff + rr.rdlen, &p) < 0
		    || rr.rdoff + rr.rdlen - p != DNSQ_SOA_FIXED) {
			snprintf(why, whylen, "bad SOA record at offset %d", rr.owner);
			return -1;
		}
		*ttl = dnsq_min(rr.ttl, dnsq_ttl(dnsq_get32(abuf + p + 16)));
		return 0;
	}
	return 0;
}

/* dnsq_rcode_name - an rcode for the log */
static const char *
dnsq_rcode_name(int rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	};

	return rcode >= 0 && rcode < (int) (sizeof(names) / sizeof(names[0])) ? names[rcode] : "other";
}

/*
 * dnsq_chain - walk the answer section from qname along CNAMEs; collect
 * (when fn is set) the qtype records of the last name. *found counts
 * them, *ttl gets the smallest TTL of the CNAMEs and the records.
 */
static int
dnsq_chain(const unsigned char *abuf, int alen, int an_off, unsigned ancount, int qtype,
	   const char *qname, dnsq_collect_fn *fn, void *ctx, size_t *found, uint32_t *ttl,
	   char *why, size_t whylen)
{
	char   *cur = NULL;
	char   *next = NULL;
	char   *owner = NULL;
	long	enclen;
	int	ret = -1;

	*found = 0;
	*ttl = UINT32_MAX;
	if ((cur = strdup(qname)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (int hop = 0;; hop++) {
		int	off = an_off;
		uint32_t cname_ttl = 0;
		struct dnsq_rr rr;

		for (unsigned i = 0; i < ancount; i++) {
			int	cmp;

			if (dnsq_rr_next(abuf, alen, &off, &rr, why, whylen) < 0)
				goto out;
			if (rr.class != DNSQ_C_IN || (rr.type != qtype && rr.type != DNSQ_T_CNAME))
				continue;
			if (dnsq_expand(abuf, alen, rr.owner, &owner, &enclen, why, whylen) < 0)
				goto out;
			cmp = strcasecmp(owner, cur);
			ares_free_string(owner);
			owner = NULL;
			if (cmp != 0)
				continue;
			if (rr.type == qtype) {
				if (fn && fn(ctx, abuf, alen, &rr, why, whylen) < 0)
					goto out;
				*found += 1;
				*ttl = dnsq_min(*ttl, rr.ttl);
			} else if (next == NULL) {
				if (dnsq_expand(abuf, alen, rr.rdoff, &next, &enclen, why, whylen) < 0)
					goto out;
				if (enclen != rr.rdlen) {
					snprintf(why, whylen, "bad CNAME record at offset %d", rr.owner);
					goto out;
				}
				cname_ttl = rr.ttl;
			}
		}
		if (*found || next == NULL)
			break;
		if (hop == DNSQ_CNAME_MAX) {
			snprintf(why, whylen, "CNAME chain longer than %d", DNSQ_CNAME_MAX);
			goto out;
		}
		*ttl = dnsq_min(*ttl, cname_ttl);
		free(cur);
		cur = strdup(next);
		ares_free_string(next);
		next = NULL;
		if (cur == NULL) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	if (next)
		ares_free_string(next);
	free(cur);
	return ret;
}

/*
 * dnsq_parse_msg - the common part: check the message, find the records
 * of qtype for the question name (fn sees each) and the TTL. why gets the
 * reason of a DNSQ_TEMPFAIL.
 */
static enum dnsq_status
dnsq_parse_msg(const unsigned char *abuf, int alen, int qtype, dnsq_collect_fn *fn, void *ctx,
	       uint32_t *ttl, char *why, size_t whylen)
{
	char   *qname = NULL;
	long	enclen;
	unsigned qdcount, ancount, nscount;
	int	rcode, off, an_off, ns_off;
	size_t	found;
	uint32_t chain_ttl, neg_ttl;
	struct dnsq_rr rr;
	enum dnsq_status status = DNSQ_TEMPFAIL;

	*ttl = 0;
	if (whylen)
		why[0] = 0;
	if (abuf == NULL || alen < DNSQ_HDR_LEN) {
		snprintf(why, whylen, "message shorter than its header (%d bytes)", alen);
		return DNSQ_TEMPFAIL;
	}
	if (!(abuf[2] & 0x80) || (abuf[2] & 0x78) != 0) {
		snprintf(why, whylen, "not an answer to a standard query");
		return DNSQ_TEMPFAIL;
	}
	if (abuf[2] & 0x02) {
		snprintf(why, whylen, "truncated answer (TC)");
		return DNSQ_TEMPFAIL;
	}
	rcode = abuf[3] & 0x0f;
	qdcount = dnsq_get16(abuf + 4);
	ancount = dnsq_get16(abuf + 6);
	nscount = dnsq_get16(abuf + 8);
	if (qdcount != 1) {
		snprintf(why, whylen, "%u questions, expected 1", qdcount);
		return DNSQ_TEMPFAIL;
	}
	off = DNSQ_HDR_LEN;
	if (dnsq_expand(abuf, alen, off, &qname, &enclen, why, whylen) < 0)
		return DNSQ_TEMPFAIL;
	if (dnsq_skip_name(abuf, alen, &off) < 0 || alen - off < 4) {
		snprintf(why, whylen, "question cut short");
		goto out;
	}
	if ((int) dnsq_get16(abuf + off) != qtype || dnsq_get16(abuf + off + 2) != DNSQ_C_IN) {
		snprintf(why, whylen, "answer to another question (type %u class %u)",
			 dnsq_get16(abuf + off), dnsq_get16(abuf + off + 2));
		goto out;
	}
	off += 4;

	/* every answer and authority record must be within bounds */
	an_off = off;
	for (unsigned i = 0; i < ancount; i++)
		if (dnsq_rr_next(abuf, alen, &off, &rr, why, whylen) < 0)
			goto out;
	ns_off = off;
	for (unsigned i = 0; i < nscount; i++)
		if (dnsq_rr_next(abuf, alen, &off, &rr, why, whylen) < 0)
			goto out;

	if (rcode != DNSQ_RCODE_NOERROR && rcode != DNSQ_RCODE_NXDOMAIN) {
		snprintf(why, whylen, "rcode %s (%d)", dnsq_rcode_name(rcode), rcode);
		goto out;
	}
	if (dnsq_chain(abuf, alen, an_off, ancount, qtype, qname,
		       rcode == DNSQ_RCODE_NOERROR ? fn : NULL, ctx, &found, &chain_ttl,
		       why, whylen) < 0)
		goto out;
	if (rcode == DNSQ_RCODE_NOERROR && found) {
		*ttl = dnsq_min(chain_ttl, DNSQ_TTL_MAX);
		status = DNSQ_OK;
		goto out;
	}
	if (dnsq_soa_ttl(abuf, alen, ns_off, nscount, &neg_ttl, why, whylen) < 0)
		goto out;
	*ttl = dnsq_min(dnsq_min(neg_ttl, chain_ttl), DNSQ_NEG_TTL_MAX);
	status = rcode == DNSQ_RCODE_NXDOMAIN ? DNSQ_NXDOMAIN : DNSQ_NODATA;
out:
	ares_free_string(qname);
	return status;
}

/* dnsq_collect_mx - one MX record into the set */
static int
dnsq_collect_mx(void *ctx, const unsigned char *abuf, int alen, const struct dnsq_rr *rr,
		char *why, size_t whylen)
{
	struct dnsq_mx_ctx *c = ctx;
	char   *name;
	long	enclen;
	unsigned pref;

	if (rr->rdlen < 3) {
		snprintf(why, whylen, "MX record at offset %d too short", rr->owner);
		return -1;
	}
	pref = dnsq_get16(abuf + rr->rdoff);
	if (dnsq_expand(abuf, alen, rr->rdoff + 2, &name, &enclen, why, whylen) < 0)
		return -1;
	if (enclen != rr->rdlen - 2) {
		ares_free_string(name);
		snprintf(why, whylen, "bad MX record at offset %d", rr->owner);
		return -1;
	}
	c->records++;
	if (name[0] == 0 || mx_set_add(c->set, pref, name, strlen(name)) < 0)
		c->skipped++;
	ares_free_string(name);
	return 0;
}

/* dnsq_collect_a - one A record */
static int
dnsq_collect_a(void *ctx, const unsigned char *abuf, int alen, const struct dnsq_rr *rr,
	       char *why, size_t whylen)
{
	struct dnsq_a_ctx *c = ctx;

	(void) alen;
	if (rr->rdlen != 4) {
		snprintf(why, whylen, "A record at offset %d has %d bytes", rr->owner, rr->rdlen);
		return -1;
	}
	if (c->count < c->max)
		memcpy(c->addrs[c->count++], abuf + rr->rdoff, 4);
	else
		c->dropped++;
	return 0;
}

/* dnsq_collect_txt - check one TXT record; the strings of the first are joined */
static int
dnsq_collect_txt(void *ctx, const unsigned char *abuf, int alen, const struct dnsq_rr *rr,
		 char *why, size_t whylen)
{
	struct dnsq_txt_ctx *c = ctx;
	int	p = rr->rdoff;
	int	end = rr->rdoff + rr->rdlen;

	(void) alen;
	while (p < end) {
		int	len = abuf[p];

		if (len > end - p - 1) {
			snprintf(why, whylen, "TXT string at offset %d past its record", p);
			return -1;
		}
		for (int i = 0; !c->have && i < len; i++) {
			if (c->used + 1 >= c->outlen) {
				c->cut = 1;
				break;
			}
			c->out[c->used++] = abuf[p + 1 + i] ? (char) abuf[p + 1 + i] : '?';
		}
		p += len + 1;
	}
	if (c->outlen)
		c->out[c->used] = 0;
	c->have = 1;
	return 0;
}

/* dnsq_mx_parse - MX with the collector's counts */
static enum dnsq_status
dnsq_mx_parse(const unsigned char *abuf, int alen, struct dnsq_mx_ctx *c, uint32_t *ttl,
	      char *why, size_t whylen)
{
	enum dnsq_status s;

	c->set->count = 0;
	s = dnsq_parse_msg(abuf, alen, DNSQ_T_MX, dnsq_collect_mx, c, ttl, why, whylen);
	if (s != DNSQ_OK)
		c->set->count = 0;
	return s;
}

/* dnsq_a_parse - A with the collector's counts */
static enum dnsq_status
dnsq_a_parse(const unsigned char *abuf, int alen, struct dnsq_a_ctx *c, uint32_t *ttl,
	     char *why, size_t whylen)
{
	enum dnsq_status s;

	s = dnsq_parse_msg(abuf, alen, DNSQ_T_A, dnsq_collect_a, c, ttl, why, whylen);
	if (s != DNSQ_OK)
		c->count = 0;
	return s;
}

/* dnsq_txt_parse - TXT with the collector's state */
static enum dnsq_status
dnsq_txt_parse(const unsigned char *abuf, int alen, struct dnsq_txt_ctx *c, uint32_t *ttl,
	       char *why, size_t whylen)
{
	enum dnsq_status s;

	if (c->outlen)
		c->out[0] = 0;
	s = dnsq_parse_msg(abuf, alen, DNSQ_T_TXT, dnsq_collect_txt, c, ttl, why, whylen);
	if (s != DNSQ_OK && c->outlen)
		c->out[0] = 0;
	return s;
}

/* dnsq_parse_mx - the MX set of an answer */
enum dnsq_status
dnsq_parse_mx(const unsigned char *abuf, int alen, struct mx_set *out, uint32_t *ttl)
{
	struct dnsq_mx_ctx c = {.set = out};
	char	why[DNSQ_WHY_MAX];

	return dnsq_mx_parse(abuf, alen, &c, ttl, why, sizeof(why));
}

/* dnsq_parse_a - the IPv4 addresses of an answer, at most max */
enum dnsq_status
dnsq_parse_a(const unsigned char *abuf, int alen, unsigned char (*addrs)[4], size_t max,
	     size_t *count, uint32_t *ttl)
{
	struct dnsq_a_ctx c = {.addrs = addrs, .max = max};
	char	why[DNSQ_WHY_MAX];
	enum dnsq_status s = dnsq_a_parse(abuf, alen, &c, ttl, why, sizeof(why));

	*count = c.count;
	return s;
}

/* dnsq_parse_txt - the text of the first TXT record of an answer */
enum dnsq_status
dnsq_parse_txt(const unsigned char *abuf, int alen, char *out, size_t outlen, uint32_t *ttl)
{
	struct dnsq_txt_ctx c = {.out = out, .outlen = outlen};
	char	why[DNSQ_WHY_MAX];

	return dnsq_txt_parse(abuf, alen, &c, ttl, why, sizeof(why));
}

/* dnsq_status_name - for logs and the probe */
const char *
dnsq_status_name(enum dnsq_status s)
{
	switch (s) {
	case DNSQ_OK:
		return "ok";
	case DNSQ_NXDOMAIN:
		return "nxdomain";
	case DNSQ_NODATA:
		return "nodata";
	case DNSQ_TEMPFAIL:
		return "tempfail";
	case DNSQ_BADNAME:
		return "badname";
	case DNSQ_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* --- the resolver on the event loop -------------------------------------------- */

enum dnsq_type {
	DNSQ_TYPE_MX,
	DNSQ_TYPE_A,
	DNSQ_TYPE_TXT
};

/* one socket c-ares asked us to watch */
struct dnsq_sock {
	ares_socket_t fd;
	struct event *ev;
	struct dnsq_sock *next;
};

struct dnsq {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;		/* c-ares's retries and timeouts (ares_timeout) */
	struct dnsq_sock *socks;
	struct dnsq_req *reqs;		/* every request not yet freed */
	size_t	pending;		/* callbacks not yet run */
	struct timeval deadline;	/* dns.timeout */
	int	busy;			/* depth of user callbacks running */
	int	dying;			/* dnsq_free was called */
};

/* one query: alive until its callback ran and c-ares let go of it */
struct dnsq_req {
	struct dnsq *q;
	struct dnsq_req *prev;
	struct dnsq_req *next;
	struct event *ev;		/* the deadline; made active to deliver */
	enum dnsq_type type;
	union {
		dnsq_mx_cb *mx;
		dnsq_a_cb *a;
		dnsq_txt_cb *txt;
	}	cb;
	void   *arg;
	int	in_ares;		/* c-ares still holds a pointer to us */
	int	answered;		/* status and data are final */
	int	delivered;		/* the callback ran */
	enum dnsq_status status;
	uint32_t ttl;
	union {
		struct mx_set mx;
		struct {
			unsigned char addrs[DNSQ_A_MAX][4];
			size_t	count;
		}	a;
		char	txt[DNSQ_TXT_MAX + 1];
	}	u;
	char	name[DNSQ_NAME_MAX + 1];
};

static const char *const dnsq_type_names[] = {"MX", "A", "TXT"};

static void dnsq_timer_update(struct dnsq *);

/* dnsq_name_ok - copy a query name without its trailing dot; 0 if it is a valid DNS name */
static int
dnsq_name_ok(const char *name, char *out)
{
	size_t	len = strlen(name);
	size_t	label = 0;

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNSQ_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) name[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			   || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[i] = (char) c;
	}
	out[len] = 0;
	return label ? 0 : -1;
}

/* dnsq_req_free - unlink and free one request */
static void
dnsq_req_free(struct dnsq_req *req)
{
	struct dnsq *q = req->q;

	if (req->prev)
		req->prev->next = req->next;
	else
		q->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	event_free(req->ev);
	free(req);
}

/* dnsq_deliver - run the callback once; data only with DNSQ_OK */
static void
dnsq_deliver(struct dnsq_req *req)
{
	struct dnsq *q = req->q;
	int	ok = req->status == DNSQ_OK;
	static const struct mx_set no_mx;

	req->delivered = 1;
	q->pending--;
	q->busy++;
	switch (req->type) {
	case DNSQ_TYPE_MX:
		req->cb.mx(req->status, ok ? &req->u.mx : &no_mx, req->ttl, req->arg);
		break;
	case DNSQ_TYPE_A:
		req->cb.a(req->status, (const unsigned char (*)[4]) req->u.a.addrs,
			  ok ? req->u.a.count : 0, req->ttl, req->arg);
		break;
	case DNSQ_TYPE_TXT:
		req->cb.txt(req->status, ok ? req->u.txt : "", req->ttl, req->arg);
		break;
	}
	q->busy--;
}

/* dnsq_destroy - the real dnsq_free: cancel what is left, free everything */
static void
dnsq_destroy(struct dnsq *q)
{
	struct dnsq_sock *s;

	ares_destroy(q->channel);		/* dnsq_ares_done runs for each query in flight */
	while (q->reqs) {
		struct dnsq_req *req = q->reqs;

		req->in_ares = 0;
		if (!req->delivered) {
			req->status = DNSQ_CANCELLED;
			req->ttl = 0;
			dnsq_deliver(req);
		}
		dnsq_req_free(req);
	}
	while ((s = q->socks) != NULL) {	/* ares_destroy closed them; in case */
		q->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	event_free(q->timer);
	free(q);
	if (--dnsq_library_users == 0)
		ares_library_cleanup();
}

/* dnsq_free - cancel and free, now or when the running callback returns */
void
dnsq_free(struct dnsq *q)
{
	if (q == NULL || q->dying)
		return;
	q->dying = 1;
	if (q->busy == 0)
		dnsq_destroy(q);
}

/* dnsq_req_event - the request's event: deliver its answer, or its deadline passed */
static void
dnsq_req_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq_req *req = arg;
	struct dnsq *q = req->q;

	(void) fd;
	(void) what;
	if (!req->answered) {
		req->answered = 1;
		req->status = DNSQ_TEMPFAIL;
		req->ttl = 0;
		if (msg_verbose)
			msg_info("dns: %s %s: no answer within dns.timeout",
				 dnsq_type_names[req->type], req->name);
	}
	dnsq_deliver(req);
	if (!req->in_ares)
		dnsq_req_free(req);
	if (q->busy == 0 && q->dying)
		dnsq_destroy(q);
}

/* dnsq_parse_answer - fill the request from the message c-ares passed on */
static void
dnsq_parse_answer(struct dnsq_req *req, const unsigned char *abuf, int alen)
{
	char	why[DNSQ_WHY_MAX];
	const char *type = dnsq_type_names[req->type];

	switch (req->type) {
	case DNSQ_TYPE_MX: {
		struct dnsq_mx_ctx c = {.set = &req->u.mx};

		req->status = dnsq_mx_parse(abuf, alen, &c, &req->ttl, why, sizeof(why));
		if (req->status == DNSQ_OK && c.skipped)
			msg_warn("dns: MX %s: %zu of %zu exchanges skipped (null MX or not a host name)",
				 req->name, c.skipped, c.records);
		if (req->status == DNSQ_OK && c.records - c.skipped > MX_HOSTS_MAX)
			msg_warn("dns: MX %s: %zu exchanges, kept the %d most preferred",
				 req->name, c.records - c.skipped, MX_HOSTS_MAX);
		break;
	}
	case DNSQ_TYPE_A: {
		struct dnsq_a_ctx c = {.addrs = req->u.a.addrs, .max = DNSQ_A_MAX};

		req->status = dnsq_a_parse(abuf, alen, &c, &req->ttl, why, sizeof(why));
		req->u.a.count = c.count;
		if (req->status == DNSQ_OK && c.dropped)
			msg_warn("dns: A %s: %zu addresses, kept the first %d",
				 req->name, c.count + c.dropped, DNSQ_A_MAX);
		break;
	}
	case DNSQ_TYPE_TXT: {
		struct dnsq_txt_ctx c = {.out = req->u.txt, .outlen = sizeof(req->u.txt)};

		req->status = dnsq_txt_parse(abuf, alen, &c, &req->ttl, why, sizeof(why));
		if (req->status == DNSQ_OK && c.cut)
			msg_warn("dns: TXT %s: text longer than %d bytes: cut", req->name, DNSQ_TXT_MAX);
		break;
	}
	}
	if (req->status == DNSQ_TEMPFAIL)
		msg_warn("dns: %s %s: bad answer: %s", type, req->name, why);
}

/* dnsq_ares_done - c-ares's callback: record the outcome, deliver it from the loop */
static void
dnsq_ares_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dnsq_req *req = arg;
	struct dnsq *q = req->q;

	(void) timeouts;
	req->in_ares = 0;
	if (req->delivered) {			/* the deadline answered already */
		if (!q->dying)
			dnsq_req_free(req);	/* dnsq_destroy frees it otherwise */
		return;
	}
	if (q->dying)				/* ares_destroy: dnsq_destroy delivers */
		return;
	req->ttl = 0;
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		if (abuf != NULL) {
			dnsq_parse_answer(req, abuf, alen);
		} else if (status == ARES_SUCCESS) {
			req->status = DNSQ_TEMPFAIL;
		} else {
			req->status = status == ARES_ENODATA ? DNSQ_NODATA : DNSQ_NXDOMAIN;
			req->ttl = DNSQ_NEG_TTL_DEFAULT;
		}
		break;
	case ARES_EBADNAME:
		req->status = DNSQ_BADNAME;
		break;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		req->status = DNSQ_CANCELLED;
		break;
	default:				/* SERVFAIL, REFUSED, timeout, network */
		req->status = DNSQ_TEMPFAIL;
		break;
	}
	if (req->status != DNSQ_OK && msg_verbose)
		msg_info("dns: %s %s: %s (%s)", dnsq_type_names[req->type], req->name,
			 dnsq_status_name(req->status), ares_strerror(status));
	req->answered = 1;
	evtimer_del(req->ev);
	event_active(req->ev, EV_TIMEOUT, 1);
}

/* dnsq_req_new - a request on the list, its callback still to be set; NULL when out of memory */
static struct dnsq_req *
dnsq_req_new(struct dnsq *q, enum dnsq_type type, void *arg)
{
	struct dnsq_req *req;

	if (q->dying) {
		msg_warn("dns: %s query while the resolver is shutting down", dnsq_type_names[type]);
		return NULL;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL
	    || (req->ev = evtimer_new(q->base, dnsq_req_event, req)) == NULL) {
		free(req);
		msg_warn("dns: %s query: out of memory", dnsq_type_names[type]);
		return NULL;
	}
	req->q = q;
	req->type = type;
	req->arg = arg;
	req->next = q->reqs;
	if (q->reqs)
		q->reqs->prev = req;
	q->reqs = req;
	q->pending++;
	return req;
}

/* dnsq_req_start - send the query, or answer DNSQ_BADNAME from the loop */
static int
dnsq_req_start(struct dnsq_req *req, const char *name)
{
	static const int qtypes[] = {DNSQ_T_MX, DNSQ_T_A, DNSQ_T_TXT};
	struct dnsq *q = req->q;

	if (dnsq_name_ok(name, req->name) < 0) {
		req->name[0] = 0;
		req->status = DNSQ_BADNAME;
		req->answered = 1;
		event_active(req->ev, EV_TIMEOUT, 1);
		return 0;
	}
	evtimer_add(req->ev, &q->deadline);
	req->in_ares = 1;
	ares_query(q->channel, req->name, DNSQ_C_IN, qtypes[req->type], dnsq_ares_done, req);
	dnsq_timer_update(q);
	return 0;
}

/* dnsq_mx - the MX set of name */
int
dnsq_mx(struct dnsq *q, const char *name, dnsq_mx_cb *cb, void *arg)
{
	struct dnsq_req *req = dnsq_req_new(q, DNSQ_TYPE_MX, arg);

	if (req == NULL)
		return -1;
	req->cb.mx = cb;
	return dnsq_req_start(req, name);
}

/* dnsq_a - the IPv4 addresses of name */
int
dnsq_a(struct dnsq *q, const char *name, dnsq_a_cb *cb, void *arg)
{
	struct dnsq_req *req = dnsq_req_new(q, DNSQ_TYPE_A, arg);

	if (req == NULL)
		return -1;
	req->cb.a = cb;
	return dnsq_req_start(req, name);
}

/* dnsq_txt - the text of name's first TXT record */
int
dnsq_txt(struct dnsq *q, const char *name, dnsq_txt_cb *cb, void *arg)
{
	struct dnsq_req *req = dnsq_req_new(q, DNSQ_TYPE_TXT, arg);

	if (req == NULL)
		return -1;
	req->cb.txt = cb;
	return dnsq_req_start(req, name);
}

/* dnsq_pending - callbacks still to run */
size_t
dnsq_pending(const struct dnsq *q)
{
	return q->pending;
}

/* dnsq_timer_update - follow c-ares's next timeout */
static void
dnsq_timer_update(struct dnsq *q)
{
	struct timeval tv;
	struct timeval *next = ares_timeout(q->channel, NULL, &tv);

	if (next)
		evtimer_add(q->timer, next);
	else
		evtimer_del(q->timer);
}

/* dnsq_timer_event - let c-ares retry or give up on what timed out */
static void
dnsq_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq *q = arg;

	(void) fd;
	(void) what;
	ares_process_fd(q->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dnsq_timer_update(q);
}

/* dnsq_sock_event - a c-ares socket is readable or writable */
static void
dnsq_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq *q = arg;

	ares_process_fd(q->channel, what & EV_READ ? (ares_socket_t) fd : ARES_SOCKET_BAD,
			what & EV_WRITE ? (ares_socket_t) fd : ARES_SOCKET_BAD);
	dnsq_timer_update(q);
}

/* dnsq_sock_state - c-ares's ARES_OPT_SOCK_STATE_CB: watch, rewatch or forget a socket */
static void
dnsq_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dnsq *q = data;
	struct dnsq_sock **sp, *s;

	for (sp = &q->socks; (s = *sp) != NULL; sp = &s->next)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		if (s) {
			*sp = s->next;
			event_free(s->ev);
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			msg_warn("dns: cannot watch socket %d: out of memory; its queries will time out",
				 (int) fd);
			return;
		}
		s->fd = fd;
		s->next = q->socks;
		q->socks = s;
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(q->base, fd, EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0),
			  dnsq_sock_event, q);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0) {
		msg_warn("dns: cannot watch socket %d; its queries will time out", (int) fd);
		if (s->ev)
			event_free(s->ev);
		for (sp = &q->socks; *sp != NULL; sp = &(*sp)->next)
			if (*sp == s) {
				*sp = s->next;
				break;
			}
		free(s);
	}
}

/* dnsq_set_servers - dns.servers into the channel */
static int
dnsq_set_servers(struct dnsq *q, const struct conf *conf, char *err, size_t errlen)
{
	struct ares_addr_port_node nodes[CONF_LIST_MAX];
	int	rc;

	memset(nodes, 0, sizeof(nodes));
	for (size_t i = 0; i < conf->dns_server_count && i < CONF_LIST_MAX; i++) {
		const struct hostport *hp = &conf->dns_servers[i];
		struct ares_addr_port_node *n = &nodes[i];

		if (inet_pton(AF_INET, hp->host, &n->addr.addr4) == 1) {
			n->family = AF_INET;
		} else if (inet_pton(AF_INET6, hp->host, &n->addr.addr6) == 1) {
			n->family = AF_INET6;
		} else {
			snprintf(err, errlen, "dns.servers: %s is not an IP address", hp->host);
			return -1;
		}
		n->udp_port = n->tcp_port = (int) (hp->port ? hp->port : 53);
		n->next = i + 1 < conf->dns_server_count ? &nodes[i + 1] : NULL;
	}
	if ((rc = ares_set_servers_ports(q->channel, nodes)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns.servers: %s", ares_strerror(rc));
		return -1;
	}
	return 0;
}

/* dnsq_new - a c-ares channel on base */
struct dnsq *
dnsq_new(struct event_base *base, const struct conf *conf, char *err, size_t errlen)
{
	struct dnsq *q;
	struct ares_options opts;
	uint64_t per_try;
	int	rc;

	if (dnsq_library_users == 0 && (rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	dnsq_library_users++;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	q->base = base;
	q->deadline.tv_sec = (time_t) (conf->dns_timeout_ms / 1000);
	q->deadline.tv_usec = (suseconds_t) (conf->dns_timeout_ms % 1000 * 1000);
	if ((q->timer = evtimer_new(base, dnsq_timer_event, q)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* c-ares doubles the wait each try: T/3 + 2T/3 for two tries */
	per_try = conf->dns_timeout_ms / ((1u << DNSQ_TRIES) - 1);
	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.timeout = (int) (per_try ? (per_try > 600000 ? 600000 : per_try) : 1);
	opts.tries = DNSQ_TRIES;
	opts.sock_state_cb = dnsq_sock_state;
	opts.sock_state_cb_data = q;
	rc = ares_init_options(&q->channel, &opts, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS
			       | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start the resolver: %s", ares_strerror(rc));
		goto fail;
	}
	if (conf->dns_server_count && dnsq_set_servers(q, conf, err, errlen) < 0) {
		ares_destroy(q->channel);
		goto fail;
	}
	return q;
fail:
	if (q && q->timer)
		event_free(q->timer);
	free(q);
	if (--dnsq_library_users == 0)
		ares_library_cleanup();
	return NULL;
}
