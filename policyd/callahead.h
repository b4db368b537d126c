/* callahead.h - recipient call-ahead: cache, single flight, per-destination cap, loops (see callahead.c) */
#ifndef MH_CALLAHEAD_H
#define MH_CALLAHEAD_H

#include "address.h"
#include "cacache.h"

struct policyd;
struct conf;

#define CALLAHEAD_TOTAL_MAX_MS	80000	/* one check, however the server dawdles (Postfix waits 100 s) */
#define CALLAHEAD_POLL_MS	100	/* waiting for another node's probe or a free slot: poll period */
#define CALLAHEAD_LOOP_WINDOW_S	300	/* a loop on one address is logged once per window */
/* a destination that did not answer a probe is not probed again for this long */
#define CALLAHEAD_DOWN_MAX_MS	60000
#define CALLAHEAD_DOWN_MS(conf)	((conf)->callahead_tempfail_ttl_ms < CALLAHEAD_DOWN_MAX_MS \
				 ? (conf)->callahead_tempfail_ttl_ms : CALLAHEAD_DOWN_MAX_MS)

/* where an answer came from */
enum callahead_source {
	CALLAHEAD_CACHE,		/* a verdict in Redis (or its local copy) */
	CALLAHEAD_PROBE,		/* our own probe */
	CALLAHEAD_WAITED,		/* another probe of the address (this node or another) */
	CALLAHEAD_LOOP,			/* a probe of ours for the address is in flight: a loop */
	CALLAHEAD_BUSY,			/* the destination had max_per_destination probes for too long */
	CALLAHEAD_ERROR,		/* Redis failed: no probe (no single flight, no cap without it) */
	CALLAHEAD_DOWN			/* the destination did not answer a probe lately: no probe */
};

struct callahead_request {
	const char *domain;		/* canonical */
	const char *local;		/* canonical */
	const char *host;		/* the destination */
	unsigned port;
	const char *client_ip;		/* "" when unknown */
	const struct address *sender;	/* formatted only when a probe may be needed */
};

struct callahead_result {
	enum callahead_source source;
	struct cacache_entry e;		/* verdict, where, code, text */
};

typedef void callahead_cb(const struct callahead_result *, void *arg);

/*
 * callahead_check - the verdict for one recipient; cb runs exactly once,
 * possibly before callahead_check returns (a local cache hit). The caller
 * keeps pd alive until then (a policy job does).
 */
void	callahead_check(struct policyd *, const struct conf *, const struct callahead_request *,
			callahead_cb *cb, void *arg);
const char *callahead_source_name(enum callahead_source);

#endif
