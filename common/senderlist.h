/* senderlist.h - which sender list decides: the precedence rule (see senderlist.c) */
#ifndef MH_SENDERLIST_H
#define MH_SENDERLIST_H

/* Which of the four lists hold an entry matching this sender or client (0 or 1 each). */
struct senderlist_hits {
	int	domain_white;
	int	domain_black;
	int	global_white;
	int	global_black;
};

/* the four lists, in the order every caller keeps them (store_list_keys) */
#define SENDERLIST_LISTS	4	/* domain white, domain black, global white, global black */

/* senderlist_flag - list k's flag in hits (k in SENDERLIST_LISTS's order) */
int    *senderlist_flag(struct senderlist_hits *, int k);

enum senderlist_verdict {
	SENDERLIST_NONE,		/* on no list: carry on */
	SENDERLIST_WHITE,		/* whitelisted: no DNSBL, no spam scan */
	SENDERLIST_BLACK		/* blacklisted: 550 5.7.1 Access denied */
};

/*
 * senderlist_decide - the verdict, and in *reason (when reason is not NULL)
 * a static phrase naming the deciding list: "domain whitelist", "domain
 * blacklist", "global whitelist", "global blacklist" or "not listed".
 */
enum senderlist_verdict senderlist_decide(const struct senderlist_hits *,
					  const char **reason);

/* senderlist_verdict_name - "none", "white", "black" for logs */
const char *senderlist_verdict_name(enum senderlist_verdict);

#endif
