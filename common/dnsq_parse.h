/* dnsq_parse.h - DNS answer parsing shared by dnsq.c and its tests (internal; see dnsq_parse.c) */
#ifndef MH_DNSQ_PARSE_H
#define MH_DNSQ_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "dnsq.h"

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

/* the parsers with their collectors' counts (dnsq_parse_* in dnsq.h wrap these) */
enum dnsq_status dnsq_mx_parse(const unsigned char *abuf, int alen, struct dnsq_mx_ctx *c,
			       uint32_t *ttl, char *why, size_t whylen);
enum dnsq_status dnsq_a_parse(const unsigned char *abuf, int alen, struct dnsq_a_ctx *c,
			      uint32_t *ttl, char *why, size_t whylen);
enum dnsq_status dnsq_txt_parse(const unsigned char *abuf, int alen, struct dnsq_txt_ctx *c,
				uint32_t *ttl, char *why, size_t whylen);

#endif
