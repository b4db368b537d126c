/* decide.h - the recipient decision of the relay and backup roles (see decide.c) */
#ifndef MH_DECIDE_H
#define MH_DECIDE_H

#include <stddef.h>

#include "address.h"
#include "conf.h"
#include "dnsbl.h"
#include "domain.h"
#include "mx.h"
#include "reply.h"
#include "senderlist.h"
#include "store.h"

#define DECIDE_TRACE_MAX	16	/* steps remembered for explain and -v logging */
#define DECIDE_TRACE_LEN	320

/* the lookup the caller must do next, then report with the matching decide_*() */
enum decide_step {
	DECIDE_STEP_DOMAIN,		/* store_domain_get -> decide_domain */
	DECIDE_STEP_MX,			/* MX set of the recipient domain -> decide_mx */
	DECIDE_STEP_USERLIST,		/* store_user_exists -> decide_userlist */
	DECIDE_STEP_SENDERLIST,		/* store_senderlist_hits -> decide_senderlist */
	DECIDE_STEP_DNSBL,		/* every zone of domain.dnsbls -> decide_dnsbl */
	DECIDE_STEP_CALLAHEAD,		/* the call-ahead seam -> decide_callahead */
	DECIDE_STEP_DONE		/* reply is final */
};

struct decide {
	const struct conf *conf;
	char	rcpt[ADDRESS_TEXT_MAX];	/* canonical recipient, as quoted in replies */
	struct address rcpt_addr;
	struct address sender;
	char	client_ip[64];		/* "" when unknown */
	struct domain domain;
	struct mx_set mx;
	enum mx_status mx_status;
	int	whitelisted;		/* sender or client on a whitelist that applies */
	enum decide_step next;
	struct reply reply;		/* valid when next == DECIDE_STEP_DONE */
	size_t	ntrace;
	char	(*trace)[DECIDE_TRACE_LEN];	/* DECIDE_TRACE_MAX lines; NULL: not traced */
};

struct decide_dnsbl_result {
	enum dnsbl_answer answer;
	const char *txt;		/* TXT of a listed entry, may be NULL */
};

/*
 * decide_start - a RCPT of sender (text as Postfix gives it) from client_ip;
 * with trace, every step is also written down (explain, -v), which
 * decide_end frees.
 */
void	decide_start(struct decide *, const struct conf *, const char *rcpt,
		     const char *sender, const char *client_ip, int trace);
void	decide_end(struct decide *);
void	decide_domain(struct decide *, enum store_result, const struct domain *);
/* decide_mx - dns_ok 0 = DNS failure (process as configured, warn) */
void	decide_mx(struct decide *, int dns_ok, const struct mx_set *);
void	decide_userlist(struct decide *, enum store_result);
void	decide_senderlist(struct decide *, enum store_result, const struct senderlist_hits *);
/* decide_dnsbl - one result per zone of domain.dnsbls, in their order */
void	decide_dnsbl(struct decide *, const struct decide_dnsbl_result *, size_t count);
/*
 * decide_callahead_target - where this recipient's call-ahead goes: 1 with
 * host and port (relay: dest:port; backup: the most preferred MX that is
 * not this node, port 25); 0 when none (callahead off, no dest, no MX)
 */
int	decide_callahead_target(const struct decide *, char *host, size_t hostlen, unsigned *port);
/*
 * decide_callahead_verdict - the call-ahead's answer: reject gives "550
 * 5.1.1 User unknown (verified at WHERE: "TEXT")" (Postfix shows it as
 * "550 5.1.1 <rcpt>: Recipient address rejected: User unknown ..."); anything else goes
 * on as decide_callahead. how says where it came from (for the trace).
 */
void	decide_callahead_verdict(struct decide *, int reject, const char *how, const char *where,
				 const char *text);
/* decide_callahead - no call-ahead: the route of a pinned domain, or DUNNO */
void	decide_callahead(struct decide *);
const char *decide_step_name(enum decide_step);

/* decide_transport - the transport_maps answer for a domain: "smtp:[dest]:port" or "smtp:" */
char   *decide_transport(const struct domain *, enum mx_status, char *buf, size_t len);

#endif
