/*
 * dnsq_parse.c - DNS answer messages parsed for their records and TTLs.
 *
 * c-ares 1.18 gives no TTL for MX or TXT answers, so dnsq.c hands the raw
 * message here: header, one question, answer and authority records with
 * every offset and length checked against the message; names expanded by
 * ares_expand_name (compression loops refused). CNAMEs inside the answer
 * are followed up to DNSQ_CNAME_MAX hops; the TTL of an answer is the
 * smallest along the chain, capped at DNSQ_TTL_MAX; NXDOMAIN and NODATA
 * take the negative TTL of RFC 2308 (min of the SOA's TTL and MINIMUM), or
 * DNSQ_NEG_TTL_DEFAULT, capped at DNSQ_NEG_TTL_MAX. A malformed message is
 * DNSQ_TEMPFAIL with the reason in why.
 *
 * Pure code: no socket, no logging; tested and fuzzed on its own.
 *
 * Public functions: dnsq_parse_mx, dnsq_parse_a, dnsq_parse_txt,
 * dnsq_status_name; for dnsq.c: dnsq_mx_parse, dnsq_a_parse,
 * dnsq_txt_parse (with counts of what was dropped at a bound).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "dnsq_parse.h"

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
enum dnsq_status
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
enum dnsq_status
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
enum dnsq_status
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

