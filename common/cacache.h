/* cacache.h - a cached call-ahead verdict, as Redis holds it (see cacache.c) */
#ifndef MH_CACACHE_H
#define MH_CACACHE_H

#include <stddef.h>

#include "smtpreply.h"

#define CACACHE_WHERE_MAX	263	/* "host:port" */
#define CACACHE_VALUE_MAX	(16 + 21 + 4 + CACACHE_WHERE_MAX + SMTPREPLY_TEXT_MAX + 8)

enum cacache_verdict {
	CACACHE_ACCEPT,			/* 2xx to RCPT: positive_ttl */
	CACACHE_REJECT,			/* 5xx to RCPT: negative_ttl */
	CACACHE_TEMPFAIL		/* inconclusive: tempfail_ttl */
};

struct cacache_entry {
	enum cacache_verdict verdict;
	long long at;			/* unix seconds when the probe ended */
	int	code;			/* the deciding reply's code, 0 when none */
	char	where[CACACHE_WHERE_MAX + 1];	/* "host:port" probed */
	char	text[SMTPREPLY_TEXT_MAX + 1];	/* the remote text (sanitised), or why */
};

/*
 * cacache_format - "VERDICT AT CODE WHERE TEXT" (verdict accept, reject or
 * tempfail; TEXT last, may be empty or hold spaces); -1 when it does not fit
 */
int	cacache_format(char *buf, size_t len, const struct cacache_entry *);
/* cacache_parse - the reverse; -1 when malformed (text is sanitised again) */
int	cacache_parse(const char *s, struct cacache_entry *);
const char *cacache_verdict_name(enum cacache_verdict);
/*
 * cacache_local - the local part as the cache keys it: lowercased (user
 * lists compare without case too); -1 when it does not fit
 */
int	cacache_local(char *out, size_t outlen, const char *local);

#endif
