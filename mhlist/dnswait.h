/* dnswait.h - one DNS answer awaited synchronously, for mhlist (see dnswait.c) */
#ifndef MH_DNSWAIT_H
#define MH_DNSWAIT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "dnsq.h"

/* the answer of one dnsq query; zero it, pass it as the query's arg */
struct dnswait {
	int	done;
	enum dnsq_status status;
	struct mx_set mx;		/* dnsq_mx */
	unsigned char a[DNSQ_A_MAX][4];	/* dnsq_a */
	size_t	na;
	char	txt[DNSQ_TXT_MAX + 1];	/* dnsq_txt */
};

dnsq_mx_cb dnswait_mx;
dnsq_a_cb dnswait_a;
dnsq_txt_cb dnswait_txt;
/* dnswait_for - run base until the answer is in (dnsq bounds every query by dns.timeout) */
void	dnswait_for(struct event_base *, struct dnswait *);

#endif
