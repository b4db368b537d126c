/* keys.h - the Redis key schema (doc/keys.md is the reference) */
#ifndef MH_KEYS_H
#define MH_KEYS_H

#include <stdio.h>
#include <string.h>

/*
 * Every key of one domain carries the hash tag {DOMAIN}, every key of one
 * account {acct:USER}, the global sender lists {@global}; so each domain's
 * or account's keys share one Redis Cluster slot and multi-key commands
 * and scripts on them work unchanged on a cluster. The two indexes
 * (mh:domains, mh:accounts) are single keys, written after the object.
 */
#define KEYS_MAX		600	/* longest key we build, bytes */
#define KEYS_DOMAINS		"mh:domains"	/* SET of domain names */
#define KEYS_ACCOUNTS		"mh:accounts"	/* SET of account names */
#define KEYS_GLOBAL_TAG		"@global"

/*
 * keys_join - the n parts one after another into buf, like
 * snprintf("%s%s...") but without the formatting machinery (keys are
 * built on every request). Returns the full length; the result is cut
 * (and NUL-terminated) when buf is too small, as with snprintf.
 */
static inline int
keys_join(char *buf, size_t len, const char *const *parts, int n)
{
	size_t	used = 0, total = 0;

	for (int i = 0; i < n; i++) {
		size_t	plen = strlen(parts[i]);

		total += plen;
		if (used < len) {
			size_t	room = len - used - 1 < plen ? len - used - 1 : plen;

			memcpy(buf + used, parts[i], room);
			used += room;
		}
	}
	if (len)
		buf[used < len ? used : len - 1] = 0;
	return (int) total;
}

/* keys_build - PREFIX NAME SUFFIX (see keys_join) */
static inline int
keys_build(char *buf, size_t len, const char *prefix, const char *name, const char *suffix)
{
	const char *parts[3] = {prefix, name, suffix};

	return keys_join(buf, len, parts, 3);
}

enum keys_list {
	KEYS_LIST_WHITE,
	KEYS_LIST_BLACK
};

/* keys_domain_cfg - HASH of the settings set on a domain */
static inline int
keys_domain_cfg(char *buf, size_t len, const char *domain)
{
	return keys_build(buf, len, "mh:{", domain, "}:cfg");
}

/* keys_domain_users - SET of the domain's accepted local parts */
static inline int
keys_domain_users(char *buf, size_t len, const char *domain)
{
	return keys_build(buf, len, "mh:{", domain, "}:users");
}

/* keys_domain_users_tmp - import staging SET, same slot, renamed over users */
static inline int
keys_domain_users_tmp(char *buf, size_t len, const char *domain, const char *nonce)
{
	return snprintf(buf, len, "mh:{%s}:users:tmp:%s", domain, nonce);
}

/* keys_list - SET of sender list entries; domain NULL = global list */
static inline int
keys_list(char *buf, size_t len, const char *domain, enum keys_list which)
{
	return keys_build(buf, len, "mh:{", domain ? domain : KEYS_GLOBAL_TAG,
			  which == KEYS_LIST_WHITE ? "}:white" : "}:black");
}

/* keys_domain_mx - STRING: the domain's MX set as DNS gave it (mx_set_format), expiring with its TTL */
static inline int
keys_domain_mx(char *buf, size_t len, const char *domain)
{
	return keys_build(buf, len, "mh:{", domain, "}:mx");
}

/* keys_dnsbl - STRING: one DNSBL answer for one client IP, expiring with its TTL */
static inline int
keys_dnsbl(char *buf, size_t len, const char *zone, const char *ip)
{
	const char *parts[5] = {"mh:{dnsbl:", zone, ":", ip, "}"};

	return keys_join(buf, len, parts, 5);
}

/*
 * Call-ahead (policyd/callahead.c; doc/keys.md). LOCAL is the recipient's
 * local part as the cache keys it (common/cacache.h).
 */
#define KEYS_CA_PREFIX_FMT	"mh:{%s}:ca:"	/* + LOCAL: SCAN pattern base of a domain's verdicts */

/* keys_ca_verdict - STRING: a cached call-ahead verdict (cacache_format), expiring with its TTL */
static inline int
keys_ca_verdict(char *buf, size_t len, const char *domain, const char *local)
{
	const char *parts[4] = {"mh:{", domain, "}:ca:", local};

	return keys_join(buf, len, parts, 4);
}

/* keys_ca_lock - STRING: the probe in flight for one address (single flight across nodes) */
static inline int
keys_ca_lock(char *buf, size_t len, const char *domain, const char *local)
{
	const char *parts[4] = {"mh:{", domain, "}:calock:", local};

	return keys_join(buf, len, parts, 4);
}

/* keys_ca_loop - STRING: a verification loop on this address was logged (once per window) */
static inline int
keys_ca_loop(char *buf, size_t len, const char *domain, const char *local)
{
	const char *parts[4] = {"mh:{", domain, "}:caloop:", local};

	return keys_join(buf, len, parts, 4);
}

/* keys_ca_inflight - ZSET: probes in flight against one destination (member id, score expiry ms) */
static inline int
keys_ca_inflight(char *buf, size_t len, const char *host, unsigned port)
{
	return snprintf(buf, len, "mh:{cadest:%s:%u}:inflight", host, port);
}

/*
 * keys_ca_down - STRING: the destination did not answer a probe (no
 * connection or no banner); while it lives, checks for it are
 * inconclusive at once, without a probe (same hash tag as inflight)
 */
static inline int
keys_ca_down(char *buf, size_t len, const char *host, unsigned port)
{
	return snprintf(buf, len, "mh:{cadest:%s:%u}:down", host, port);
}

/* keys_account_cfg - HASH of an account's settings */
static inline int
keys_account_cfg(char *buf, size_t len, const char *user)
{
	return keys_build(buf, len, "mh:{acct:", user, "}:cfg");
}

#endif
