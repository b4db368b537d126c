/*
 * pmetrics.c - the metrics of mhpolicyd (policyd.metrics; doc/mhpolicyd.md
 * "Metrics" lists them). The definitions live here; the modules that see
 * each event count it with one call (policy.c, outbound.c, socketmap.c,
 * server.c, callahead.c, aredis.c), on the event loop; common/metrics.c
 * renders them on its own thread. Label values follow the order of the
 * enums they index, checked below at compile time.
 *
 * Public: the pm_* metrics, pmetrics_set.
 */
#include "config.h"

#include "cacache.h"
#include "callahead.h"
#include "pmetrics.h"
#include "policyd.h"
#include "probe.h"
#include "reply.h"
#include "socketmap_proto.h"

_Static_assert(REPLY_DUNNO == 0 && REPLY_OK == 1 && REPLY_DEFER == 2 && REPLY_REJECT == 3,
	       "reply classes follow enum reply_kind");
_Static_assert(SOCKETMAP_OK == 0 && SOCKETMAP_NOTFOUND == 1 && SOCKETMAP_TEMP == 2
	       && SOCKETMAP_TIMEOUT == 3 && SOCKETMAP_PERM == 4, "enum socketmap_status");
_Static_assert(CONN_POLICY == 0 && CONN_SOCKETMAP == 1, "enum conn_kind");
_Static_assert(CALLAHEAD_CACHE == 0 && CALLAHEAD_PROBE == 1 && CALLAHEAD_WAITED == 2
	       && CALLAHEAD_LOOP == 3 && CALLAHEAD_BUSY == 4 && CALLAHEAD_ERROR == 5
	       && CALLAHEAD_DOWN == 6, "enum callahead_source");
_Static_assert(CACACHE_ACCEPT == 0 && CACACHE_REJECT == 1 && CACACHE_TEMPFAIL == 2,
	       "enum cacache_verdict");
_Static_assert(PROBE_ACCEPT == 0 && PROBE_REJECT == 1 && PROBE_INCONCLUSIVE == 2, "enum probe_outcome");

static const char *const pm_kinds[] = {"rcpt", "outbound_rcpt", "outbound_eom", "other"};
static const char *const pm_replies[] = {"dunno", "ok", "4xx", "5xx"};
static const char *const pm_sm_replies[] = {"ok", "notfound", "temp", "timeout", "perm"};
static const char *const pm_conn_kinds[] = {"policy", "socketmap"};
static const char *const pm_sources[] = {"cache", "probe", "waited", "loop", "busy", "redis_error",
"down"};
static const char *const pm_verdicts[] = {"accept", "reject", "tempfail"};
static const char *const pm_outcomes[] = {"accept", "reject", "inconclusive"};
static const char *const pm_reasons[] = {"over_quota", "no_service", "too_many_recipients",
"too_large"};
static const double pm_seconds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
5, 10, 30, 60};

struct metric pm_policy_requests = {
	.name = "mhpolicyd_policy_requests_total",
	.help = "Policy requests answered, by kind and reply class.",
	.type = METRIC_COUNTER,
	.label1 = "kind", .values1 = pm_kinds, .nvalues1 = METRICS_COUNT(pm_kinds),
	.label2 = "reply", .values2 = pm_replies, .nvalues2 = METRICS_COUNT(pm_replies),
};
struct metric pm_socketmap_requests = {
	.name = "mhpolicyd_socketmap_requests_total",
	.help = "Socketmap lookups answered, by reply.",
	.type = METRIC_COUNTER,
	.label1 = "reply", .values1 = pm_sm_replies, .nvalues1 = METRICS_COUNT(pm_sm_replies),
};
struct metric pm_connections = {
	.name = "mhpolicyd_connections",
	.help = "Client connections open, by protocol.",
	.type = METRIC_GAUGE,
	.label1 = "kind", .values1 = pm_conn_kinds, .nvalues1 = METRICS_COUNT(pm_conn_kinds),
};
struct metric pm_connections_refused = {
	.name = "mhpolicyd_connections_refused_total",
	.help = "Client connections refused: policyd.max_connections reached, or stopping.",
	.type = METRIC_COUNTER,
	.label1 = "kind", .values1 = pm_conn_kinds, .nvalues1 = METRICS_COUNT(pm_conn_kinds),
};
struct metric pm_callahead_checks = {
	.name = "mhpolicyd_callahead_checks_total",
	.help = "Call-ahead verdicts, by where they came from and verdict.",
	.type = METRIC_COUNTER,
	.label1 = "source", .values1 = pm_sources, .nvalues1 = METRICS_COUNT(pm_sources),
	.label2 = "verdict", .values2 = pm_verdicts, .nvalues2 = METRICS_COUNT(pm_verdicts),
};
struct metric pm_callahead_probe_seconds = {
	.name = "mhpolicyd_callahead_probe_seconds",
	.help = "Call-ahead probes made by this process, by outcome: their duration.",
	.type = METRIC_HISTOGRAM,
	.label1 = "outcome", .values1 = pm_outcomes, .nvalues1 = METRICS_COUNT(pm_outcomes),
	.bounds = pm_seconds, .nbounds = METRICS_COUNT(pm_seconds),
};
struct metric pm_quota_refusals = {
	.name = "mhpolicyd_quota_refusals_total",
	.help = "Outbound requests refused, by reason.",
	.type = METRIC_COUNTER,
	.label1 = "reason", .values1 = pm_reasons, .nvalues1 = METRICS_COUNT(pm_reasons),
};
struct metric pm_redis_errors = {
	.name = "mhpolicyd_redis_errors_total",
	.help = "Redis commands that failed: no reply within redis.timeout, or the connection lost.",
	.type = METRIC_COUNTER,
};
struct metric pm_redis_unavailable = {
	.name = "mhpolicyd_redis_unavailable_total",
	.help = "Redis commands not sent: no connection to Redis at the time.",
	.type = METRIC_COUNTER,
};
struct metric pm_redis_reconnects = {
	.name = "mhpolicyd_redis_reconnects_total",
	.help = "Redis connections made again after one was lost.",
	.type = METRIC_COUNTER,
};
struct metric pm_redis_up = {
	.name = "mhpolicyd_redis_up",
	.help = "1 while the Redis connection is up, else 0.",
	.type = METRIC_GAUGE,
};

static struct metric *const pm_list[] = {
	&pm_policy_requests, &pm_socketmap_requests, &pm_connections, &pm_connections_refused,
	&pm_callahead_checks, &pm_callahead_probe_seconds, &pm_quota_refusals,
	&pm_redis_errors, &pm_redis_unavailable, &pm_redis_reconnects, &pm_redis_up,
};

const struct metrics_set pmetrics_set = {pm_list, METRICS_COUNT(pm_list), NULL};
