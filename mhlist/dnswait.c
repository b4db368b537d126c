/*
 * dnswait.c - the resolver of the daemons (common/dnsq.c), used by mhlist
 * commands that ask DNS once and wait: start the query with one of the
 * dnswait_* callbacks and a zeroed struct dnswait, then dnswait_for().
 * Several queries may be started before waiting; each wait is bounded by
 * dns.timeout because dnsq answers every query by then.
 *
 * Public functions: dnswait_mx, dnswait_a, dnswait_txt, dnswait_for.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dnswait.h"

void
dnswait_mx(enum dnsq_status st, const struct mx_set *set, uint32_t ttl, void *arg)
{
	struct dnswait *w = arg;

	(void) ttl;
	w->status = st;
	if (st == DNSQ_OK)
		w->mx = *set;
	w->done = 1;
}

void
dnswait_a(enum dnsq_status st, const unsigned char (*addrs)[4], size_t count, uint32_t ttl, void *arg)
{
	struct dnswait *w = arg;

	(void) ttl;
	w->status = st;
	w->na = count > DNSQ_A_MAX ? DNSQ_A_MAX : count;
	if (w->na)
		memcpy(w->a, addrs, w->na * sizeof(w->a[0]));
	w->done = 1;
}

void
dnswait_txt(enum dnsq_status st, const char *txt, uint32_t ttl, void *arg)
{
	struct dnswait *w = arg;

	(void) ttl;
	w->status = st;
	snprintf(w->txt, sizeof(w->txt), "%s", st == DNSQ_OK ? txt : "");
	w->done = 1;
}

/* dnswait_for - one turn of the loop at a time until the answer is in */
void
dnswait_for(struct event_base *base, struct dnswait *w)
{
	while (!w->done)
		event_base_loop(base, EVLOOP_ONCE);
}
