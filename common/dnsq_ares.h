/* dnsq_ares.h - a c-ares channel set up as dnsq's (for code that runs its own loop) */
#ifndef MH_DNSQ_ARES_H
#define MH_DNSQ_ARES_H

#include <stddef.h>

#include <ares.h>

struct conf;

/*
 * dnsq_channel_init - a channel on dns.servers (none = /etc/resolv.conf)
 * with dns.timeout split over DNSQ_TRIES tries, no search domains; cb
 * (may be NULL) is ARES_OPT_SOCK_STATE_CB. 0, or -1 with err set.
 */
int	dnsq_channel_init(ares_channel *, const struct conf *, ares_sock_state_cb cb, void *cb_data,
			  char *err, size_t errlen);

#endif
