/* listentry.h - sender white/blacklist entries: parse, match, lookup candidates (see listentry.c) */
#ifndef MH_LISTENTRY_H
#define MH_LISTENTRY_H

#include <stddef.h>

#include "address.h"

#define LISTENTRY_TEXT_MAX	330	/* canonical entry text + NUL */

/*
 * Most candidates one sender and client can produce: the address, @domain,
 * one .suffix per domain label (at most 128 in 255 bytes), and the client
 * IP at every prefix length (129 for IPv6).
 */
#define LISTENTRY_CANDIDATES_MAX	(2 + 128 + 129)

enum listentry_kind {
	LISTENTRY_ADDRESS,		/* bob@example.org: that mailbox */
	LISTENTRY_DOMAIN,		/* @example.org: that domain only */
	LISTENTRY_SUBDOMAINS,		/* .example.org: the domain and every subdomain */
	LISTENTRY_NETWORK		/* 192.0.2.1, 192.0.2.0/24, 2001:db8::/32: client IP */
};

struct listentry {
	enum listentry_kind kind;
	char	text[LISTENTRY_TEXT_MAX];	/* canonical, the Redis set member */
	int	family;			/* NETWORK: AF_INET or AF_INET6 */
	unsigned char addr[16];		/* NETWORK: network order, host bits zero */
	unsigned prefix;		/* NETWORK: 0..32 or 0..128 */
};

/*
 * listentry_parse - one entry in canonical form. 0 or -1 with one phrase in
 * err that does not repeat the input ("host bits set; did you mean
 * 192.0.2.0/24?"), so the caller writes "ENTRY: phrase", made printable.
 */
int	listentry_parse(const char *text, size_t len, struct listentry *out,
			char *err, size_t errlen);

/*
 * listentry_match - 1 when the entry matches this sender or client.
 * sender may be NULL or the null sender (no address entry matches then);
 * client_ip may be NULL or unparseable (no network entry matches then).
 */
int	listentry_match(const struct listentry *, const struct address *sender,
			const char *client_ip);

/*
 * listentry_candidates - every canonical entry text that matches this
 * sender or client, for one SMISMEMBER per list: exactly the texts t for
 * which listentry_match(parse(t), sender, client_ip) is 1. Writes at most
 * max of them and returns how many there are (like snprintf: a result
 * above max means some were not written). LISTENTRY_CANDIDATES_MAX always
 * suffices.
 */
size_t	listentry_candidates(const struct address *sender, const char *client_ip,
			     char (*out)[LISTENTRY_TEXT_MAX], size_t max);

#endif
