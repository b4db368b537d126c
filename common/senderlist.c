/*
 * senderlist.c - the sender list precedence rule (SPEC "Sender lists").
 *
 * A domain's lists beat the global lists; within one scope a whitelist
 * entry beats a blacklist entry. So the first of these that holds a
 * matching entry decides: domain whitelist, domain blacklist, global
 * whitelist, global blacklist; none of them: no verdict.
 *
 * Which lists match is found elsewhere (listentry_candidates and one
 * SMISMEMBER per list); this module only decides, so mhmilter and
 * mhpolicyd cannot disagree. Pure: no I/O, no logging, cannot fail.
 *
 * Public functions: senderlist_flag, senderlist_decide, senderlist_verdict_name.
 */
#include "config.h"

#include <stddef.h>

#include "senderlist.h"

/* senderlist_flag - list k's flag in hits */
int    *
senderlist_flag(struct senderlist_hits *hits, int k)
{
	int    *flags[SENDERLIST_LISTS] = {&hits->domain_white, &hits->domain_black,
	&hits->global_white, &hits->global_black};

	return flags[k];
}

/* senderlist_decide - first list in precedence order that matched */
enum senderlist_verdict
senderlist_decide(const struct senderlist_hits *hits, const char **reason)
{
	enum senderlist_verdict verdict;
	const char *why;

	if (hits->domain_white) {
		verdict = SENDERLIST_WHITE;
		why = "domain whitelist";
	} else if (hits->domain_black) {
		verdict = SENDERLIST_BLACK;
		why = "domain blacklist";
	} else if (hits->global_white) {
		verdict = SENDERLIST_WHITE;
		why = "global whitelist";
	} else if (hits->global_black) {
		verdict = SENDERLIST_BLACK;
		why = "global blacklist";
	} else {
		verdict = SENDERLIST_NONE;
		why = "not listed";
	}
	if (reason != NULL)
		*reason = why;
	return verdict;
}

/* senderlist_verdict_name - short name of a verdict for logs */
const char *
senderlist_verdict_name(enum senderlist_verdict verdict)
{
	switch (verdict) {
	case SENDERLIST_NONE:
		return "none";
	case SENDERLIST_WHITE:
		return "white";
	case SENDERLIST_BLACK:
		return "black";
	}
	return "unknown";
}
