/*
 * mmetrics.c - the metrics of mhmilter (milter.metrics; doc/mhmilter.md
 * "Metrics" lists them).
 *
 * Connections, recipients and messages are counted around filter.c's
 * callbacks, from what they return, so every decision point is counted
 * without filter.c saying so: mmetrics_wrap puts a thin wrapper in front
 * of each callback of milter_desc before smfi_register. A recipient is
 * counted by what envrcpt answered; a message once, by what eom answered,
 * or by the refusal of a header or body callback that ended it early (552
 * while it streams); a message all of whose recipients were refused never
 * reaches the milter as one. A connection counts while it has filter.c's
 * context (from connect until close).
 *
 * The scanners are counted and timed by wrappers of the calls filter.c
 * makes: spamd_check whole; for clamd, whose stream flows while the
 * message arrives, the wait from the end of the stream to the verdict
 * (clamd_finish); a clamd that cannot be reached or fails while the
 * message streams counts as an error at that point. SPF results are
 * counted by filter.c (mmetrics_spf). Redis failures and reconnects are
 * read from common/rconn.c's process-wide totals when Prometheus scrapes.
 *
 * Updates are atomic (any libmilter thread); rendering runs on the
 * metrics thread (common/metrics.c).
 *
 * Public: mmetrics_wrap, mmetrics_spamd_check, mmetrics_clamd_open,
 * mmetrics_clamd_write, mmetrics_clamd_finish, mm_spf_results,
 * mmetrics_set.
 */
#include "config.h"

#include <time.h>

#include "mcache.h"
#include "mmetrics.h"
#include "rconn.h"
#include "spf.h"

_Static_assert(SPF_NONE == 0 && SPF_NEUTRAL == 1 && SPF_PASS == 2 && SPF_FAIL == 3
	       && SPF_SOFTFAIL == 4 && SPF_TEMPERROR == 5 && SPF_PERMERROR == 6, "enum spf_result");

enum mmetrics_reply {
	MM_ACCEPT,
	MM_TEMPFAIL,
	MM_REJECT,
	MM_DISCARD
};

enum mmetrics_scan {
	MM_CLEAN,
	MM_FOUND,			/* spam (spamd's own verdict) or a virus */
	MM_ERROR
};

static const char *const mm_replies[] = {"accept", "tempfail", "reject", "discard"};
static const char *const mm_spam_results[] = {"clean", "spam", "error"};
static const char *const mm_virus_results[] = {"clean", "virus", "error"};
static const char *const mm_spf_names[] = {"none", "neutral", "pass", "fail", "softfail",
"temperror", "permerror"};
static const double mm_seconds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
5, 10, 30, 60};

static struct metric mm_connections = {
	.name = "mhmilter_connections",
	.help = "SMTP connections Postfix has open with the milter.",
	.type = METRIC_GAUGE,
};
static struct metric mm_connections_total = {
	.name = "mhmilter_connections_total",
	.help = "SMTP connections Postfix opened with the milter.",
	.type = METRIC_COUNTER,
};
static struct metric mm_recipients = {
	.name = "mhmilter_recipients_total",
	.help = "Recipients (RCPT TO), by the milter's answer.",
	.type = METRIC_COUNTER,
	.label1 = "reply", .values1 = mm_replies, .nvalues1 = METRICS_COUNT(mm_replies),
};
static struct metric mm_messages = {
	.name = "mhmilter_messages_total",
	.help = "Messages (DATA), by the milter's answer.",
	.type = METRIC_COUNTER,
	.label1 = "reply", .values1 = mm_replies, .nvalues1 = METRICS_COUNT(mm_replies),
};
static struct metric mm_spamd_results = {
	.name = "mhmilter_spamd_results_total",
	.help = "spamd scans, by result (spam: spamd's own required_score).",
	.type = METRIC_COUNTER,
	.label1 = "result", .values1 = mm_spam_results, .nvalues1 = METRICS_COUNT(mm_spam_results),
};
static struct metric mm_spamd_seconds = {
	.name = "mhmilter_spamd_seconds",
	.help = "spamd scans: connect, send, verdict.",
	.type = METRIC_HISTOGRAM,
	.bounds = mm_seconds, .nbounds = METRICS_COUNT(mm_seconds),
};
static struct metric mm_clamd_results = {
	.name = "mhmilter_clamd_results_total",
	.help = "clamd scans, by result.",
	.type = METRIC_COUNTER,
	.label1 = "result", .values1 = mm_virus_results, .nvalues1 = METRICS_COUNT(mm_virus_results),
};
static struct metric mm_clamd_seconds = {
	.name = "mhmilter_clamd_seconds",
	.help = "clamd scans: from the end of the stream to the verdict.",
	.type = METRIC_HISTOGRAM,
	.bounds = mm_seconds, .nbounds = METRICS_COUNT(mm_seconds),
};
struct metric mm_spf_results = {
	.name = "mhmilter_spf_results_total",
	.help = "SPF checks, by result.",
	.type = METRIC_COUNTER,
	.label1 = "result", .values1 = mm_spf_names, .nvalues1 = METRICS_COUNT(mm_spf_names),
};
static const char *const mm_cache_names[] = {"hit", "miss"};
static struct metric mm_cache_lookups = {
	.name = "mhmilter_cache_lookups_total",
	.help = "Recipient lookups answered from the local copy (hit) or read from Redis (miss).",
	.type = METRIC_COUNTER,
	.label1 = "result", .values1 = mm_cache_names, .nvalues1 = METRICS_COUNT(mm_cache_names),
};
static struct metric mm_redis_errors = {
	.name = "mhmilter_redis_errors_total",
	.help = "Redis calls that failed: cannot connect (or backing off), I/O error, timeout, unready server.",
	.type = METRIC_COUNTER,
};
static struct metric mm_redis_reconnects = {
	.name = "mhmilter_redis_reconnects_total",
	.help = "Redis connections made again after one was lost or failed.",
	.type = METRIC_COUNTER,
};

static struct metric *const mm_list[] = {
	&mm_connections, &mm_connections_total, &mm_recipients, &mm_messages,
	&mm_spamd_results, &mm_spamd_seconds, &mm_clamd_results, &mm_clamd_seconds,
	&mm_spf_results, &mm_cache_lookups, &mm_redis_errors, &mm_redis_reconnects,
};

/* mmetrics_collect - before each scrape: what rconn.c and mcache.c count */
static void
mmetrics_collect(void)
{
	unsigned long failures, reconnects, hits, misses;

	rconn_totals(&failures, &reconnects);
	mcache_counts(&hits, &misses);
	metrics_set(&mm_cache_lookups, 0, (int64_t) hits);
	metrics_set(&mm_cache_lookups, 1, (int64_t) misses);
	metrics_set(&mm_redis_errors, 0, (int64_t) failures);
	metrics_set(&mm_redis_reconnects, 0, (int64_t) reconnects);
}

const struct metrics_set mmetrics_set = {mm_list, METRICS_COUNT(mm_list), mmetrics_collect};

/* --- around the callbacks -------------------------------------------------------------- */

static struct smfiDesc mm_orig;		/* filter.c's callbacks */

/* mmetrics_reply - a callback's status as the answer Postfix gets */
static unsigned
mmetrics_reply(sfsistat rc)
{
	switch (rc) {
	case SMFIS_TEMPFAIL:
		return MM_TEMPFAIL;
	case SMFIS_REJECT:
		return MM_REJECT;
	case SMFIS_DISCARD:
		return MM_DISCARD;
	default:
		return MM_ACCEPT;
	}
}

/* mmetrics_ended - a header or body callback ended the message: count it */
static sfsistat
mmetrics_ended(sfsistat rc)
{
	if (rc == SMFIS_TEMPFAIL || rc == SMFIS_REJECT || rc == SMFIS_DISCARD)
		metrics_inc(&mm_messages, mmetrics_reply(rc));
	return rc;
}

static sfsistat
mmetrics_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	sfsistat rc = mm_orig.xxfi_connect(ctx, hostname, sa);

	if (smfi_getpriv(ctx) != NULL) {
		metrics_gauge_add(&mm_connections, 0, 1);
		metrics_inc(&mm_connections_total, 0);
	}
	return rc;
}

static sfsistat
mmetrics_close(SMFICTX *ctx)
{
	if (smfi_getpriv(ctx) != NULL)
		metrics_gauge_add(&mm_connections, 0, -1);
	return mm_orig.xxfi_close(ctx);
}

static sfsistat
mmetrics_envrcpt(SMFICTX *ctx, char **argv)
{
	sfsistat rc = mm_orig.xxfi_envrcpt(ctx, argv);

	metrics_inc(&mm_recipients, mmetrics_reply(rc));
	return rc;
}

static sfsistat
mmetrics_header(SMFICTX *ctx, char *name, char *value)
{
	return mmetrics_ended(mm_orig.xxfi_header(ctx, name, value));
}

static sfsistat
mmetrics_eoh(SMFICTX *ctx)
{
	return mmetrics_ended(mm_orig.xxfi_eoh(ctx));
}

static sfsistat
mmetrics_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	return mmetrics_ended(mm_orig.xxfi_body(ctx, chunk, len));
}

static sfsistat
mmetrics_eom(SMFICTX *ctx)
{
	sfsistat rc = mm_orig.xxfi_eom(ctx);

	metrics_inc(&mm_messages, mmetrics_reply(rc));
	return rc;
}

/* mmetrics_wrap - each callback that counts, when desc has it, goes through its wrapper */
void
mmetrics_wrap(struct smfiDesc *desc)
{
	mm_orig = *desc;
	if (desc->xxfi_connect && desc->xxfi_close) {
		desc->xxfi_connect = mmetrics_connect;
		desc->xxfi_close = mmetrics_close;
	}
	if (desc->xxfi_envrcpt)
		desc->xxfi_envrcpt = mmetrics_envrcpt;
	if (desc->xxfi_header)
		desc->xxfi_header = mmetrics_header;
	if (desc->xxfi_eoh)
		desc->xxfi_eoh = mmetrics_eoh;
	if (desc->xxfi_body)
		desc->xxfi_body = mmetrics_body;
	if (desc->xxfi_eom)
		desc->xxfi_eom = mmetrics_eom;
}

/* --- the scanners --------------------------------------------------------------------- */

/* mmetrics_now - monotonic seconds */
static double
mmetrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* mmetrics_spamd_check - spamd_check, its result and its time */
int
mmetrics_spamd_check(const struct endpoint *ep, const char *msg, size_t len, uint64_t timeout_ms,
		     struct spamd_result *res, char *err, size_t errlen)
{
	double	t0 = mmetrics_now();
	int	rc = spamd_check(ep, msg, len, timeout_ms, res, err, errlen);

	metrics_observe(&mm_spamd_seconds, 0, mmetrics_now() - t0);
	metrics_inc(&mm_spamd_results, rc < 0 ? MM_ERROR : res->is_spam ? MM_FOUND : MM_CLEAN);
	return rc;
}

/* mmetrics_clamd_open - clamd_open; a failure is the scan's result (error) */
struct clamd *
mmetrics_clamd_open(const struct endpoint *ep, uint64_t timeout_ms, uint64_t max_bytes, char *err,
		    size_t errlen)
{
	struct clamd *c = clamd_open(ep, timeout_ms, max_bytes, err, errlen);

	if (c == NULL)
		metrics_inc(&mm_clamd_results, MM_ERROR);
	return c;
}

/* mmetrics_clamd_write - clamd_write; a failure is the scan's result (error) */
int
mmetrics_clamd_write(struct clamd *c, const void *data, size_t len, char *err, size_t errlen)
{
	int	rc = clamd_write(c, data, len, err, errlen);

	if (rc < 0)
		metrics_inc(&mm_clamd_results, MM_ERROR);
	return rc;
}

/* mmetrics_clamd_finish - clamd_finish, its result and its time */
int
mmetrics_clamd_finish(struct clamd *c, struct clamd_result *res, char *err, size_t errlen)
{
	double	t0 = mmetrics_now();
	int	rc = clamd_finish(c, res, err, errlen);

	metrics_observe(&mm_clamd_seconds, 0, mmetrics_now() - t0);
	metrics_inc(&mm_clamd_results, rc < 0 ? MM_ERROR : res->found ? MM_FOUND : MM_CLEAN);
	return rc;
}
