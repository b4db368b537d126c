/* spf.h - SPF for mhmilter: libspf2 over our own DNS (see spf.c) */
#ifndef MH_SPF_H
#define MH_SPF_H

#include <stddef.h>

#include <netinet/in.h>
#include <arpa/nameser.h>
#include <spf2/spf.h>

struct conf;

#define SPF_HEADER_MAX		1000	/* bytes of a header value we add (RFC 5322 line, folded) */
#define SPF_AUTHSERV_MAX	255	/* bytes of our authserv-id (a host name) */
#define SPF_DEADLINE_MS		20000	/* all the DNS of one check (RFC 7208 4.6.4: at least 20 s) */

/* the results of RFC 7208, as RFC 8601 names them */
enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

struct spf_verdict {
	enum spf_result result;
	char	received_spf[SPF_HEADER_MAX + 1];	/* Received-SPF value */
	char	auth_results[SPF_HEADER_MAX + 1];	/* Authentication-Results value */
};

/*
 * spf_init - the SPF server, once before the threads start: DNS through
 * dns.servers (none = /etc/resolv.conf) with dns.timeout per query;
 * authserv_id names us in the headers. -1 with err.
 */
int	spf_init(const struct conf *, const char *authserv_id, char *err, size_t errlen);
/* spf_authserv_id - our name in the headers, as spf_init was given it */
const char *spf_authserv_id(void);
/* spf_shutdown - free it (at exit) */
void	spf_shutdown(void);

/*
 * spf_check - evaluate client ip, helo and the MAIL FROM address (""
 * for <>: then the HELO identity is checked, as RFC 7208 2.4 says); any
 * thread. Never fails: trouble is temperror or permerror in the verdict.
 */
void	spf_check(const char *ip, const char *helo, const char *sender, struct spf_verdict *);

/* Pure parts, for tests. */
/*
 * spf_rr_parse - libspf2's record set from a whole DNS answer message:
 * the answer records of type (A, AAAA, MX, PTR, TXT; TXT strings of one
 * record joined, NUL as '?'); NXDOMAIN -> HOST_NOT_FOUND, none -> NO_DATA,
 * another rcode or a malformed message -> TRY_AGAIN. NULL: out of memory.
 */
SPF_dns_rr_t *spf_rr_parse(SPF_dns_server_t *, const char *domain, ns_type type,
			   const unsigned char *msg, int len);
/* spf_result_name - "pass", "fail", ... as in RFC 8601 */
const char *spf_result_name(enum spf_result);
/*
 * spf_auth_results - "AUTHSERV; spf=RESULT smtp.mailfrom=SENDER" (or
 * smtp.helo=HELO for <>); a property value that is not a plain token is
 * quoted; -1 when it does not fit
 */
int	spf_auth_results(char *buf, size_t len, const char *authserv_id, enum spf_result,
			 const char *sender, const char *helo);

#endif
