/*
 * policy.c - Postfix policy requests: the relay/backup recipient check.
 *
 * A request at RCPT (protocol_state=RCPT, not policy_context=outbound)
 * becomes a job that walks the decision of common/decide.c, doing each
 * lookup it asks for on the event loop. Everything Redis holds about the
 * recipient (the domain's settings, its cached MX set, the user-list
 * entry, the four sender lists) is taken from the local copies (lcache.c)
 * or, for what is not there, fetched in one pipelined round trip
 * (policy_prefetch); then, as the decision asks: the MX set from DNS on a
 * cache miss (lookup.c), and the domain's DNSBL zones (Redis cache, else
 * DNS, all zones at once). Requests with policy_context=outbound go to
 * outbound.c (relay counting); other requests (other protocol states)
 * get DUNNO at once. A job whose connection goes away keeps
 * running to its end (its callbacks still point at it) and drops its
 * answer.
 *
 * DNSBL answers are cached in Redis under mh:{dnsbl:ZONE:IP}: "listed
 * TXT", "clean" or "error", for the TTL DNS gave (listed/clean) or
 * POLICY_DNSBL_ERR_TTL; lookups that failed are not cached.
 *
 * Logging, in Postfix's style, for every reject or defer:
 *   QUEUEID: reject: RCPT from NAME[ADDR]: 554 5.7.1 ...; from=<S> to=<R> proto=ESMTP helo=<H>
 * and with -v every step of the decision.
 *
 * Public functions: policy_handle, policy_conn_gone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aredis.h"
#include "callahead.h"
#include "decide.h"
#include "dnsq.h"
#include "keys.h"
#include "lcache.h"
#include "log.h"
#include "policy_proto.h"
#include "pmetrics.h"
#include "policyd.h"

#define POLICY_DNSBL_TTL_MIN	60	/* seconds a DNSBL answer is cached at least */
#define POLICY_DNSBL_TTL_MAX	86400
#define POLICY_DNSBL_ERR_TTL	300	/* an error-code answer */
#define POLICY_ATTR_LOG_MAX	120	/* bytes of an attribute quoted in a log line */

/* what policy_prefetch asks, in one pipelined round trip */
enum policy_pf_kind {
	POLICY_PF_DOMAIN,		/* HGETALL mh:{D}:cfg */
	POLICY_PF_USER,			/* SISMEMBER mh:{D}:users LOCAL */
	POLICY_PF_LIST0,		/* SMISMEMBER of the four sender lists */
	POLICY_PF_COUNT = POLICY_PF_LIST0 + 4
};

struct policy_job {
	struct policyd *pd;
	struct conn *conn;		/* NULL once the client went away */
	struct conf *conf;		/* held for the job's life */
	struct decide d;
	int	in_run;			/* policy_run is on the stack */
	int	step_done;		/* the step finished while in_run */
	unsigned pending;		/* lookups of the current step still out */
	const struct policy_parser *pp;	/* the request, while its connection lives */
	int	have_attrs;		/* the fields below are filled (policy_job_attrs) */
	char	queue_id[32];
	char	client_name[POLICY_ATTR_LOG_MAX + 1];
	char	helo[POLICY_ATTR_LOG_MAX + 1];
	char	sender[POLICY_ATTR_LOG_MAX + 1];
	char	recipient[POLICY_ATTR_LOG_MAX + 1];
	/* the domain step fetches everything Redis knows at once (see policy_prefetch) */
	struct policy_pf {
		struct policy_job *job;
		int	kind;
		struct rcache_ticket ticket;	/* keep the answer locally (lcache) */
	}	pf_args[POLICY_PF_COUNT];
	enum store_result pf_domain;	/* the settings go straight into d.domain */
	enum store_result pf_user;
	int	pf_mx_hit;		/* the MX cache had a valid set, now in d.mx */
	struct lcache_string_read pf_mx_read;	/* the MX cache (lcache_string_read) */
	char	pf_mx_text[MX_TEXT_MAX];
	char	lkeys[SENDERLIST_LISTS][KEYS_MAX];	/* the sender lists (store_list_keys) */
	char	lfield[STORE_LIST_FIELD_MAX];	/* SENDER \0 CLIENT: their local copies */
	size_t	lfield_len;
	unsigned lmiss;			/* bit k: list k asked of Redis */
	struct store_slq slq;
	struct senderlist_hits hits;
	int	slq_failed;
	/* dnsbl step */
	struct decide_dnsbl_result dnsbl[DOMAIN_DNSBL_MAX];
	char	(*dnsbl_txt)[DNSQ_TXT_MAX + 1];	/* DOMAIN_DNSBL_MAX; made at the first DNSBL step */
};

/* one DNSBL zone being checked */
struct policy_dnsbl {
	struct policy_job *job;
	size_t	index;
	char	name[DNSBL_NAME_MAX + 1];
	char	key[KEYS_MAX];
	uint32_t ttl;
	struct lcache_string_read read;	/* the cached answer (lcache) */
	char	text[DNSQ_TXT_MAX + 8];
};

static void policy_run(struct policy_job *);

/*
 * Jobs are large (the decision carries a domain and an MX set) and come
 * and go at every request: keep a few for reuse rather than have the heap
 * grow and shrink under load.
 */
#define POLICY_JOBS_KEPT	256
static struct policy_job *policy_free_jobs[POLICY_JOBS_KEPT];
static size_t policy_nfree_jobs;

/* policy_job_alloc - a job with its bookkeeping fields cleared */
static struct policy_job *
policy_job_alloc(void)
{
	struct policy_job *job;

	if (policy_nfree_jobs > 0) {
		job = policy_free_jobs[--policy_nfree_jobs];
	} else {
		if ((job = malloc(sizeof(*job))) == NULL)
			msg_panic("policy: out of memory");
		memset(&job->slq, 0, sizeof(job->slq));	/* its arrays stay with the job */
		job->dnsbl_txt = NULL;
	}
	job->conn = NULL;
	job->conf = NULL;
	job->in_run = 0;
	job->step_done = 0;
	job->pending = 0;
	return job;
}

/* policy_job_free - back to the pool, or to the heap */
static void
policy_job_free(struct policy_job *job)
{
	if (policy_nfree_jobs < POLICY_JOBS_KEPT) {
		policy_free_jobs[policy_nfree_jobs++] = job;
		return;
	}
	store_slq_free(&job->slq);
	free(job->dnsbl_txt);
	free(job);
}

/* policy_step_done - a lookup finished: go on (now, or when policy_run unwinds) */
static void
policy_step_done(struct policy_job *job)
{
	if (job->in_run)
		job->step_done = 1;
	else
		policy_run(job);
}

/* policy_attr - an attribute for logging: bounded, printable */
static void
policy_attr(const struct policy_parser *p, const char *name, char *out, size_t outlen, const char *dflt)
{
	const char *v = policy_request_get(p, name);

	if (v == NULL || *v == 0)
		v = dflt;
	log_printable(out, outlen, v, strlen(v));
}

/*
 * policy_job_attrs - copy the request's attributes that logging needs,
 * once: only rejects, defers and -v log them, so most requests never
 * pay for it; a job whose connection goes away copies them first.
 */
static void
policy_job_attrs(struct policy_job *job)
{
	const struct policy_parser *p = job->pp;

	if (job->have_attrs)
		return;
	job->have_attrs = 1;
	if (p == NULL) {
		snprintf(job->queue_id, sizeof(job->queue_id), "NOQUEUE");
		snprintf(job->client_name, sizeof(job->client_name), "unknown");
		job->helo[0] = job->sender[0] = job->recipient[0] = 0;
		return;
	}
	policy_attr(p, "queue_id", job->queue_id, sizeof(job->queue_id), "NOQUEUE");
	policy_attr(p, "client_name", job->client_name, sizeof(job->client_name), "unknown");
	policy_attr(p, "helo_name", job->helo, sizeof(job->helo), "");
	policy_attr(p, "sender", job->sender, sizeof(job->sender), "");
	policy_attr(p, "recipient", job->recipient, sizeof(job->recipient), "");
}

/* policy_conn_gone - the client closed while we decided (its request is still readable) */
void
policy_conn_gone(void *arg)
{
	struct policy_job *job = arg;

	policy_job_attrs(job);
	job->conn = NULL;
	job->pp = NULL;
}

/* policy_log - Postfix-style line for rejects and defers; the trace with -v */
static void
policy_log(struct policy_job *job)
{
	const struct reply *r = &job->d.reply;

	if (!msg_verbose && r->kind != REPLY_REJECT && r->kind != REPLY_DEFER)
		return;
	policy_job_attrs(job);
	if (msg_verbose)
		for (size_t i = 0; i < job->d.ntrace; i++)
			msg_info("%s: policy: to=<%s>: %s", job->queue_id, job->recipient, job->d.trace[i]);
	if (r->kind == REPLY_REJECT || r->kind == REPLY_DEFER)
		msg_info("%s: %s: RCPT from %s[%s]: %s; from=<%s> to=<%s> proto=ESMTP helo=<%s>",
			 job->queue_id, r->kind == REPLY_REJECT ? "reject" : "defer",
			 job->client_name, job->d.client_ip[0] ? job->d.client_ip : "unknown", r->text,
			 job->sender, job->recipient, job->helo);
}

/* policy_finish - answer the client (if still there) and free the job */
static void
policy_finish(struct policy_job *job)
{
	char	buf[POLICY_REPLY_MAX];
	int	n;

	policy_log(job);
	job->pd->requests++;
	pmetrics_policy(PM_RCPT, job->d.reply.kind);
	if (job->conn) {
		if ((n = policy_reply_format(buf, sizeof(buf), job->d.reply.text)) < 0)
			msg_panic("policy: unformattable action \"%s\"", job->d.reply.text);
		conn_reply(job->conn, buf, (size_t) n);
	}
	decide_end(&job->d);
	policyd_job_done(job->pd, job->conf);
	policy_job_free(job);
}

/* --- the steps ------------------------------------------------------------------ */

static void
policy_mx_done(int dns_ok, const struct mx_set *set, void *arg)
{
	struct policy_job *job = arg;

	decide_mx(&job->d, dns_ok, set);
	policy_step_done(job);
}

/* policy_prefetch_done - one reply (or the sender's hold) less; the last one decides the domain step */
static void
policy_prefetch_done(struct policy_job *job)
{
	if (--job->pending > 0)
		return;
	decide_domain(&job->d, job->pf_domain, job->pf_domain == STORE_OK ? &job->d.domain : NULL);
	policy_step_done(job);
}

/* policy_prefetch_reply - one of the prefetch replies; its answer kept locally */
static void
policy_prefetch_reply(redisReply *r, void *arg)
{
	struct policy_pf *a = arg;
	struct policy_job *job = a->job;
	struct policyd *pd = job->pd;

	switch (a->kind) {
	case POLICY_PF_DOMAIN:
		job->pf_domain = store_domain_from_reply(job->conf, job->d.rcpt_addr.domain, r, &job->d.domain);
		/*
		 * "not found" is kept only by lookup_domain, which checks it
		 * against the index (an emptied Redis is not "no such domain":
		 * the socketmap must not answer NOTFOUND from this copy)
		 */
		if (job->pf_domain == STORE_OK)
			lcache_domain_put(pd, &a->ticket, job->pf_domain, &job->d.domain);
		break;
	case POLICY_PF_USER:
		job->pf_user = (r == NULL || r->type != REDIS_REPLY_INTEGER) ? STORE_ERROR
		    : r->integer == 1 ? STORE_OK : STORE_NOTFOUND;
		if (job->pf_user != STORE_ERROR)
			lcache_flag_put(pd, &a->ticket, job->d.rcpt_addr.local, strlen(job->d.rcpt_addr.local),
					job->pf_user == STORE_OK);
		break;
	default:{
			int	k = a->kind - POLICY_PF_LIST0;
			struct senderlist_hits one = {0};

			if (store_slq_reply(&job->slq, k, r, &one) < 0) {
				job->slq_failed = 1;
				break;
			}
			if (*senderlist_flag(&one, k))
				*senderlist_flag(&job->hits, k) = 1;
			lcache_flag_put(pd, &a->ticket, job->lfield, job->lfield_len, *senderlist_flag(&one, k));
			break;
		}
	}
	lcache_release(pd, &a->ticket);
	policy_prefetch_done(job);
}

/* policy_prefetch_mx - the MX cache's text (state 1) or none */
static void
policy_prefetch_mx(void *arg, int state, const char *text)
{
	struct policy_job *job = arg;

	job->pf_mx_hit = state == 1 && mx_set_parse(text, &job->d.mx) == 0;
	policy_prefetch_done(job);
}

/*
 * policy_prefetch_send - queue one command; a failure to queue counts as
 * its error reply. key: the Redis key whose answer may be kept locally.
 */
static void
policy_prefetch_send(struct policy_job *job, int kind, const char *key, int argc,
		     const char **argv, const size_t *lens)
{
	struct policy_pf *a = &job->pf_args[kind];

	a->job = job;
	a->kind = kind;
	lcache_want(job->pd, key, &a->ticket);
	job->pending++;
	if (aredis_commandargv(job->pd->redis, policy_prefetch_reply, a, argc, argv, lens) < 0)
		policy_prefetch_reply(NULL, a);
}

/* policy_prefetch_lists - the four sender lists: local copies, else SMISMEMBER */
static void
policy_prefetch_lists(struct policy_job *job)
{
	int	n, flag;

	/* SENDER NUL CLIENT: both bounded, the field has room for both */
	if ((n = store_list_field(job->lfield, sizeof(job->lfield), &job->d.sender, job->d.client_ip)) < 0)
		msg_panic("policy: sender/client field too long");
	job->lfield_len = (size_t) n;
	store_list_keys(job->lkeys, job->d.rcpt_addr.domain);
	job->lmiss = 0;
	for (int k = 0; k < SENDERLIST_LISTS; k++) {
		if (lcache_flag_get(job->pd, job->lkeys[k], job->lfield, job->lfield_len, &flag))
			*senderlist_flag(&job->hits, k) = flag;
		else
			job->lmiss |= 1u << k;
	}
	if (job->lmiss == 0)
		return;
	store_slq_init(&job->slq, job->d.rcpt_addr.domain, &job->d.sender, job->d.client_ip);
	for (int k = 0; k < SENDERLIST_LISTS && job->slq.n > 0; k++) {
		const char **largv;
		const size_t *llens;
		int	argc;

		if (!(job->lmiss & (1u << k)))
			continue;
		argc = store_slq_command(&job->slq, k, &largv, &llens);
		policy_prefetch_send(job, POLICY_PF_LIST0 + k, job->lkeys[k], argc, largv, llens);
	}
}

/*
 * policy_prefetch - everything Redis knows about this recipient: from the
 * local copies (lcache.c) where they are, and the rest in one pipelined
 * round trip: the domain's settings, its cached MX set, the user-list
 * entry and the four sender lists. The decision then takes them step by
 * step without waiting again (a lookup it turns out not to need costs
 * Redis a little; a round trip per step would cost every request). The
 * domain's keys share one hash slot; the global lists are in another.
 */
static void
policy_prefetch(struct policy_job *job)
{
	struct policyd *pd = job->pd;
	char	cfg[KEYS_MAX], mx[KEYS_MAX], users[KEYS_MAX];
	const char *domain = job->d.rcpt_addr.domain;
	const char *local = job->d.rcpt_addr.local;
	const char *argv[3];
	size_t	lens[3];
	int	flag;

	job->pf_domain = STORE_ERROR;
	job->pf_user = STORE_ERROR;
	job->pf_mx_hit = 0;
	job->slq_failed = 0;
	memset(&job->hits, 0, sizeof(job->hits));
	keys_domain_cfg(cfg, sizeof(cfg), domain);
	keys_domain_mx(mx, sizeof(mx), domain);
	keys_domain_users(users, sizeof(users), domain);

	job->pending = 1;		/* held until every command is queued */
	if (!lcache_domain_get(pd, cfg, &job->pf_domain, &job->d.domain)) {
		argv[0] = "HGETALL", argv[1] = cfg;
		lens[0] = 7, lens[1] = strlen(cfg);
		policy_prefetch_send(job, POLICY_PF_DOMAIN, cfg, 2, argv, lens);
	}
	job->pending++;
	lcache_string_read(pd, &job->pf_mx_read, mx, job->pf_mx_text, sizeof(job->pf_mx_text),
			   policy_prefetch_mx, job);
	if (lcache_flag_get(pd, users, local, strlen(local), &flag)) {
		job->pf_user = flag ? STORE_OK : STORE_NOTFOUND;
	} else {
		argv[0] = "SISMEMBER", argv[1] = users, argv[2] = local;
		lens[0] = 9, lens[1] = strlen(users), lens[2] = strlen(local);
		policy_prefetch_send(job, POLICY_PF_USER, users, 3, argv, lens);
	}
	policy_prefetch_lists(job);
	policy_prefetch_done(job);	/* releases the hold */
}

/* policy_dnsbl_finish_one - one zone known */
static void
policy_dnsbl_finish_one(struct policy_dnsbl *z, enum dnsbl_answer answer, const char *txt)
{
	struct policy_job *job = z->job;

	job->dnsbl[z->index].answer = answer;
	job->dnsbl[z->index].txt = NULL;
	if (txt != NULL && *txt) {
		size_t	n = strnlen(txt, sizeof(job->dnsbl_txt[z->index]) - 1);

		memcpy(job->dnsbl_txt[z->index], txt, n);
		job->dnsbl_txt[z->index][n] = 0;
		job->dnsbl[z->index].txt = job->dnsbl_txt[z->index];
	}
	free(z);
	if (--job->pending > 0)
		return;
	decide_dnsbl(&job->d, job->dnsbl, job->d.domain.dnsbl_count);
	policy_step_done(job);
}

static void
policy_ignore_reply(redisReply *r, void *arg)
{
	(void) r;
	(void) arg;
}

/* policy_dnsbl_store - cache an answer (not waited for) */
static void
policy_dnsbl_store(struct policy_dnsbl *z, const char *value, uint32_t ttl)
{
	if (ttl < POLICY_DNSBL_TTL_MIN)
		ttl = POLICY_DNSBL_TTL_MIN;
	if (ttl > POLICY_DNSBL_TTL_MAX)
		ttl = POLICY_DNSBL_TTL_MAX;
	(void) aredis_command(z->job->pd->redis, policy_ignore_reply, NULL, "SET %s %s EX %u",
			      z->key, value, (unsigned) ttl);
}

static void
policy_dnsbl_txt(enum dnsq_status status, const char *txt, uint32_t ttl, void *arg)
{
	struct policy_dnsbl *z = arg;
	char	value[DNSQ_TXT_MAX + 8];

	(void) ttl;
	if (status != DNSQ_OK)
		txt = "";
	/* listed either way (the A record said so); the reason text is optional */
	snprintf(value, sizeof(value), "listed %s", txt);
	if (status != DNSQ_CANCELLED)
		policy_dnsbl_store(z, value, z->ttl);
	policy_dnsbl_finish_one(z, DNSBL_ANSWER_LISTED, txt);
}

static void
policy_dnsbl_a(enum dnsq_status status, const unsigned char (*addrs)[4], size_t count,
	       uint32_t ttl, void *arg)
{
	struct policy_dnsbl *z = arg;
	enum dnsbl_answer answer;

	switch (status) {
	case DNSQ_OK:
		answer = dnsbl_classify(addrs, count);
		break;
	case DNSQ_NXDOMAIN:
	case DNSQ_NODATA:
		answer = DNSBL_ANSWER_CLEAN;
		break;
	default:
		msg_warn("DNSBL lookup %s failed (%s): ignored", z->name, dnsq_status_name(status));
		policy_dnsbl_finish_one(z, DNSBL_ANSWER_FAILED, NULL);
		return;
	}
	if (answer == DNSBL_ANSWER_LISTED) {
		z->ttl = ttl;
		if (dnsq_txt(z->job->pd->dns, z->name, policy_dnsbl_txt, z) == 0)
			return;
		policy_dnsbl_store(z, "listed ", ttl);
		policy_dnsbl_finish_one(z, answer, NULL);
		return;
	}
	if (answer == DNSBL_ANSWER_ERRCODE)
		msg_warn("DNSBL %s answered with an error code (127.255.255.0/24): ignored", z->name);
	policy_dnsbl_store(z, answer == DNSBL_ANSWER_CLEAN ? "clean" : "error",
			   answer == DNSBL_ANSWER_CLEAN ? ttl : POLICY_DNSBL_ERR_TTL);
	policy_dnsbl_finish_one(z, answer, NULL);
}

/* policy_dnsbl_ask - cache miss: ask DNS */
static void
policy_dnsbl_ask(struct policy_dnsbl *z)
{
	struct policy_job *job = z->job;

	if (dnsbl_query_name(job->d.client_ip, job->d.domain.dnsbls[z->index], z->name, sizeof(z->name)) < 0
	    || dnsq_a(job->pd->dns, z->name, policy_dnsbl_a, z) < 0)
		policy_dnsbl_finish_one(z, DNSBL_ANSWER_FAILED, NULL);
}

/* policy_dnsbl_value - what the DNSBL cache held (NULL: nothing usable) */
static void
policy_dnsbl_value(struct policy_dnsbl *z, const char *v)
{
	if (v != NULL) {
		if (strncmp(v, "listed ", 7) == 0) {
			policy_dnsbl_finish_one(z, DNSBL_ANSWER_LISTED, v + 7);
			return;
		}
		if (strcmp(v, "clean") == 0) {
			policy_dnsbl_finish_one(z, DNSBL_ANSWER_CLEAN, NULL);
			return;
		}
		if (strcmp(v, "error") == 0) {
			policy_dnsbl_finish_one(z, DNSBL_ANSWER_ERRCODE, NULL);
			return;
		}
	}
	policy_dnsbl_ask(z);
}

/* policy_dnsbl_cached - the cached answer (state 1), or none: ask DNS */
static void
policy_dnsbl_cached(void *arg, int state, const char *text)
{
	policy_dnsbl_value(arg, state == 1 ? text : NULL);
}

/* policy_dnsbl - every zone at once */
static void
policy_dnsbl(struct policy_job *job)
{
	size_t	count = job->d.domain.dnsbl_count;

	if (job->dnsbl_txt == NULL
	    && (job->dnsbl_txt = malloc(DOMAIN_DNSBL_MAX * sizeof(*job->dnsbl_txt))) == NULL)
		msg_panic("policy: out of memory");
	job->pending = 1;
	for (size_t i = 0; i < count; i++) {
		struct policy_dnsbl *z = calloc(1, sizeof(*z));

		if (z == NULL)
			msg_panic("policy: out of memory");
		z->job = job;
		z->index = i;
		job->pending++;
		keys_dnsbl(z->key, sizeof(z->key), job->d.domain.dnsbls[i], job->d.client_ip);
		lcache_string_read(job->pd, &z->read, z->key, z->text, sizeof(z->text), policy_dnsbl_cached, z);
	}
	if (--job->pending == 0) {
		decide_dnsbl(&job->d, job->dnsbl, count);
		policy_step_done(job);
	}
}

/* policy_callahead_done - the call-ahead's verdict */
static void
policy_callahead_done(const struct callahead_result *r, void *arg)
{
	struct policy_job *job = arg;

	pmetrics_callahead(r->source, r->e.verdict);
	decide_callahead_verdict(&job->d, r->e.verdict == CACACHE_REJECT, callahead_source_name(r->source),
				 r->e.where, r->e.text);
	policy_step_done(job);
}

/* policy_callahead - verify the recipient at its destination, if the domain asks for it */
static int
policy_callahead(struct policy_job *job)
{
	struct callahead_request req;
	char	host[DOMAIN_NAME_MAX + 1];
	unsigned port;

	if (!decide_callahead_target(&job->d, host, sizeof(host), &port))
		return 0;
	req.domain = job->d.rcpt_addr.domain;
	req.local = job->d.rcpt_addr.local;
	req.host = host;
	req.port = port;
	req.client_ip = job->d.client_ip;
	req.sender = &job->d.sender;
	callahead_check(job->pd, job->conf, &req, policy_callahead_done, job);
	return 1;
}

/* policy_run - start the lookups the decision asks for, until it waits or is done */
static void
policy_run(struct policy_job *job)
{
	job->in_run = 1;
	for (;;) {
		job->step_done = 0;
		switch (job->d.next) {
		case DECIDE_STEP_DOMAIN:
			policy_prefetch(job);
			break;
		case DECIDE_STEP_MX:
			if (job->pf_mx_hit) {
				decide_mx(&job->d, 1, &job->d.mx);
				continue;
			}
			lookup_mx(job->pd, job->d.domain.name, policy_mx_done, job);
			break;
		case DECIDE_STEP_USERLIST:
			decide_userlist(&job->d, job->pf_user);
			continue;
		case DECIDE_STEP_SENDERLIST:
			decide_senderlist(&job->d, job->slq_failed ? STORE_ERROR : STORE_OK, &job->hits);
			continue;
		case DECIDE_STEP_DNSBL:
			policy_dnsbl(job);
			break;
		case DECIDE_STEP_CALLAHEAD:
			if (policy_callahead(job))
				break;
			decide_callahead(&job->d);
			continue;
		case DECIDE_STEP_DONE:
			job->in_run = 0;
			policy_finish(job);
			return;
		}
		if (!job->step_done)
			break;			/* waiting: a callback calls policy_run */
	}
	job->in_run = 0;
}

/* policy_handle - one complete request */
void
policy_handle(struct policyd *pd, struct conn *conn, const struct policy_parser *p)
{
	const char *request = policy_request_get(p, "request");
	const char *state = policy_request_get(p, "protocol_state");
	const char *context = policy_request_get(p, "policy_context");
	const char *rcpt = policy_request_get(p, "recipient");
	struct policy_job *job;
	char	buf[POLICY_REPLY_MAX];
	int	n;

	if (request == NULL || strcmp(request, "smtpd_access_policy") != 0) {
		msg_warn("policy: request from %s is not smtpd_access_policy (%.40s): DUNNO",
			 conn_peer(conn), request ? request : "none");
		goto dunno;
	}
	/* outbound counting is outbound.c's; other stages have nothing to decide */
	if (context && strcmp(context, "outbound") == 0) {
		if (outbound_handle(pd, conn, p) == 0)
			return;
		goto dunno;
	}
	if (state == NULL || strcmp(state, "RCPT") != 0 || rcpt == NULL)
		goto dunno;

	job = policy_job_alloc();
	job->pd = pd;
	job->conn = conn;
	job->conf = policyd_job_begin(pd);
	job->pp = p;
	job->have_attrs = 0;
	decide_start(&job->d, job->conf, rcpt, policy_request_get(p, "sender"),
		     policy_request_get(p, "client_address"), msg_verbose > 0);
	conn_set_job(conn, job, policy_conn_gone);
	policy_run(job);
	return;

dunno:
	pd->requests++;
	pmetrics_policy(PM_OTHER, REPLY_DUNNO);
	n = policy_reply_format(buf, sizeof(buf), "DUNNO");
	conn_reply(conn, buf, (size_t) n);
}
