/* dnsbl.h - DNSBL query names and answers (see dnsbl.c) */
#ifndef MH_DNSBL_H
#define MH_DNSBL_H

#include <stddef.h>

#define DNSBL_NAME_MAX	255

enum dnsbl_answer {
	DNSBL_ANSWER_CLEAN,		/* NXDOMAIN, or no A record in 127.0.0.0/8 */
	DNSBL_ANSWER_LISTED,		/* an A record in 127.0.0.0/8 outside 127.255.255.0/24 */
	DNSBL_ANSWER_ERRCODE,		/* only 127.255.255.0/24: the list says we may not query it */
	DNSBL_ANSWER_FAILED		/* SERVFAIL, timeout: not known */
};

/* dnsbl_query_name - "4.3.2.1.zone" or the IPv6 nibble form; -1 for a bad IP or a long name */
int	dnsbl_query_name(const char *ip, const char *zone, char *out, size_t outlen);
/* dnsbl_classify - what a set of A records (network order IPv4) means */
enum dnsbl_answer dnsbl_classify(const unsigned char (*addrs)[4], size_t count);
const char *dnsbl_answer_name(enum dnsbl_answer);

#endif
