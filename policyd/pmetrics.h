/* pmetrics.h - what mhpolicyd counts for Prometheus (see pmetrics.c, common/metrics.h) */
#ifndef MH_PMETRICS_H
#define MH_PMETRICS_H

#include "metrics.h"

/* the kinds of policy request (label "kind"); the reply class is enum reply_kind's order */
enum pmetrics_kind {
	PM_RCPT,			/* relay and backup RCPT: the decision of policy.c */
	PM_OUTBOUND_RCPT,		/* policy_context=outbound, RCPT */
	PM_OUTBOUND_EOM,		/* policy_context=outbound, END-OF-MESSAGE */
	PM_OTHER			/* any other request: DUNNO */
};

/* quota refusals (label "reason") */
enum pmetrics_refusal {
	PM_OVER_QUOTA,			/* the day's relays are used up (outbound.quota_reply) */
	PM_NO_SERVICE,			/* no account, unknown or disabled */
	PM_TOO_MANY_RECIPIENTS,		/* outbound.max_recipients */
	PM_TOO_LARGE			/* outbound.max_size */
};

/* connections by kind: enum conn_kind's order (policy, socketmap) */
extern struct metric pm_policy_requests;	/* kind x enum reply_kind */
extern struct metric pm_socketmap_requests;	/* enum socketmap_status */
extern struct metric pm_connections;		/* gauge, enum conn_kind */
extern struct metric pm_connections_refused;	/* enum conn_kind */
extern struct metric pm_callahead_checks;	/* enum callahead_source x enum cacache_verdict */
extern struct metric pm_callahead_probe_seconds;	/* histogram, enum probe_outcome */
extern struct metric pm_quota_refusals;	/* enum pmetrics_refusal */
extern struct metric pm_redis_errors;
extern struct metric pm_redis_unavailable;
extern struct metric pm_redis_reconnects;
extern struct metric pm_redis_up;		/* gauge */

extern const struct metrics_set pmetrics_set;

/* pmetrics_policy - a policy request answered: its kind and enum reply_kind */
static inline void
pmetrics_policy(enum pmetrics_kind kind, int reply_kind)
{
	metrics_inc(&pm_policy_requests, (unsigned) kind * 4 + (unsigned) reply_kind);
}

/* pmetrics_callahead - a call-ahead answered: enum callahead_source, enum cacache_verdict */
static inline void
pmetrics_callahead(int source, int verdict)
{
	metrics_inc(&pm_callahead_checks, (unsigned) source * 3 + (unsigned) verdict);
}

/* pmetrics_probe - a probe ended: enum probe_outcome, its time */
static inline void
pmetrics_probe(int outcome, unsigned long long elapsed_ms)
{
	metrics_observe(&pm_callahead_probe_seconds, (unsigned) outcome, (double) elapsed_ms / 1000.0);
}

#endif
