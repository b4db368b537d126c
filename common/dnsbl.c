/*
 * dnsbl.c - DNSBL query names and the meaning of their answers.
 *
 * A client IP is looked up under each zone in reversed form: IPv4
 * 192.0.2.1 -> 1.2.0.192.ZONE, IPv6 in nibble form (32 hex digits,
 * least significant first), as RFC 5782 says. IPv4-mapped IPv6 clients
 * are looked up as IPv4. Any A record in 127.0.0.0/8 means listed,
 * except 127.255.255.0/24, which DNSBLs use for error codes (query
 * refused, quota exceeded, open resolver): those are ignored, never a
 * reject.
 *
 * Public functions: dnsbl_query_name, dnsbl_classify, dnsbl_answer_name.
 * Pure code: no I/O, no logging.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dnsbl.h"

/* dnsbl_query_name - the reversed name to ask for */
int
dnsbl_query_name(const char *ip, const char *zone, char *out, size_t outlen)
{
	unsigned char a[16];
	size_t	used = 0;
	int	n;

	if (inet_pton(AF_INET, ip, a) == 1) {
		n = snprintf(out, outlen, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
		return n < 0 || (size_t) n >= outlen ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		n = snprintf(out, outlen, "%u.%u.%u.%u.%s", a[15], a[14], a[13], a[12], zone);
		return n < 0 || (size_t) n >= outlen ? -1 : 0;
	}
	for (int i = 15; i >= 0; i--) {
		static const char hex[] = "0123456789abcdef";

		if (used + 4 >= outlen)
			return -1;
		out[used++] = hex[a[i] & 0xf];
		out[used++] = '.';
		out[used++] = hex[a[i] >> 4];
		out[used++] = '.';
	}
	n = snprintf(out + used, outlen - used, "%s", zone);
	return n < 0 || (size_t) n >= outlen - used ? -1 : 0;
}

/* dnsbl_classify - listed, clean or an error code */
enum dnsbl_answer
dnsbl_classify(const unsigned char (*addrs)[4], size_t count)
{
	int	errcode = 0;

	for (size_t i = 0; i < count; i++) {
		if (addrs[i][0] != 127)
			continue;
		if (addrs[i][1] == 255 && addrs[i][2] == 255) {
			errcode = 1;
			continue;
		}
		return DNSBL_ANSWER_LISTED;
	}
	return errcode ? DNSBL_ANSWER_ERRCODE : DNSBL_ANSWER_CLEAN;
}

const char *
dnsbl_answer_name(enum dnsbl_answer a)
{
	static const char *const names[] = {"clean", "listed", "error-code", "failed"};

	return names[a];
}
