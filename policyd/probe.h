/* probe.h - one call-ahead SMTP dialogue on the event loop (see probe.c) */
#ifndef MH_PROBE_H
#define MH_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "smtpreply.h"
#include "sbuf.h"

struct event_base;
struct dnsq;

#define PROBE_HOST_MAX		255	/* a destination host name */
#define PROBE_ADDR_MAX		256	/* a MAIL FROM / RCPT TO address, without <> */
#define PROBE_WHY_MAX		300	/* the reason, for logs */
#define PROBE_WHERE_MAX		(PROBE_HOST_MAX + 8)	/* "host:port" */
#define PROBE_TRANSCRIPT_MAX	8192	/* bytes of a transcript kept */

enum probe_outcome {
	PROBE_ACCEPT,			/* 2xx to RCPT */
	PROBE_REJECT,			/* 5xx to RCPT */
	PROBE_INCONCLUSIVE		/* anything else: 4xx, 5xx before RCPT, timeout, refused, garbage */
};

struct probe_spec {
	const char *host;		/* a host name (A record) or an IPv4/IPv6 address */
	unsigned port;
	const char *helo;
	const char *sender;		/* "" = <> */
	const char *rcpt;
	uint64_t connect_timeout_ms;	/* the name's lookup and the TCP connect */
	uint64_t reply_timeout_ms;	/* each reply, from our command (or the connect) to its last line */
	int	transcript;		/* keep the dialogue (mhlist check) */
	/*
	 * closed(arg), optional: runs once after the callback, when the
	 * connection is gone - the server closed it after our QUIT, or
	 * reply_timeout passed, or it was closed at once (see probe.c)
	 */
	void	(*closed)(void *arg);
};

struct probe_result {
	enum probe_outcome outcome;
	int	code;			/* the deciding reply's code; 0 when there was none */
	char	text[SMTPREPLY_TEXT_MAX + 1];	/* its text, sanitised */
	char	where[PROBE_WHERE_MAX + 1];	/* "host:port", as spec said it */
	char	why[PROBE_WHY_MAX + 1];	/* what happened, printable, for logs */
	uint64_t elapsed_ms;
	int	reached;		/* the server sent at least one whole reply (its banner) */
	const char *transcript;		/* "" unless spec asked; valid during the callback */
};

typedef void probe_cb(const struct probe_result *, void *arg);

struct probe;

/*
 * probe_start - start the dialogue; cb runs exactly once, from the event
 * loop (never inside probe_start), unless probe_cancel runs first; then
 * spec->closed, if set. NULL: out of memory (logged), no callback.
 * probe_cancel may be called until the last callback runs, not inside one.
 */
struct probe *probe_start(struct event_base *, struct dnsq *, const struct probe_spec *,
			  probe_cb *cb, void *arg);
/* probe_cancel - stop now; the callback will not run */
void	probe_cancel(struct probe *);
const char *probe_outcome_name(enum probe_outcome);

#endif
