/*
 * outbound.c - outbound relay counting: policy requests that Postfix sends
 * with policy_context=outbound (SPEC "Outbound relay counting"; the
 * counting itself is quota/, see doc/quota.md).
 *
 * The account is the request's sasl_username. Two protocol states are
 * decided; every other one (CONNECT, MAIL, DATA, ...) gets DUNNO from
 * policy.c.
 *
 * RCPT: the recipient is refused when it cannot be relayed today:
 *   - no valid sasl_username, unknown or disabled account ->
 *     554 5.7.1 <USER>: no outbound service;
 *   - more than outbound.max_recipients in this transaction ->
 *     452 4.5.3 Error: too many recipients (each extra one);
 *   - the announced size (size=, from MAIL FROM SIZE=; 0 when none) over
 *     outbound.max_size or 50 MB -> 552 5.3.4;
 *   - the CHECK script (reads only): (recipients accepted so far + 1) x
 *     multiplier(size) does not fit in what is left today -> quota_reply.
 *   Otherwise DUNNO, and the recipient counts as accepted. Postfix sends
 *   recipient_count=0 at RCPT, so the recipients are counted here, per
 *   connection (struct conn_txn): smtpd keeps one connection to a policy
 *   service, and the `instance` attribute names the transaction (it is
 *   new at every MAIL FROM); the count starts again when it changes. A
 *   recipient answered DUNNO may still be refused by a later restriction
 *   in Postfix, so the count may be higher than Postfix's: the forecast
 *   is then only stricter. A policy connection that Postfix reopens in the
 *   middle of a transaction (a timeout, an idle close) starts the count
 *   again; END-OF-MESSAGE is the exact gate in every case.
 * END-OF-MESSAGE: size (the real one), recipient_count (Postfix fills it
 *   here) and queue_id: the same account and size checks, then the COMMIT
 *   script counts recipient_count x multiplier(size) in one atomic step,
 *   or refuses the whole message (quota_reply) and counts nothing. A
 *   queue ID counted before (Postfix repeating the request after a policy
 *   timeout) is "already counted": DUNNO, nothing counted again.
 *   outbound.max_recipients is not applied here: Postfix has accepted the
 *   recipients already, and refusing the message would make the client
 *   retry it unchanged; every recipient is counted.
 *
 * Bad requests: a request Postfix never sends - no instance at RCPT; no
 * queue_id, no recipient_count (or 0), no size at END-OF-MESSAGE; a
 * number that is not plain digits - is a configuration problem (a
 * restriction at the wrong stage, a client that is not Postfix): logged as
 * a warning and answered 451 4.3.5 Server configuration problem (Postfix's
 * wording), so nothing is relayed uncounted and nothing is counted. Only
 * the announced size at RCPT is forgiving: unreadable, it counts as 0 and
 * END-OF-MESSAGE judges the real size. A number of digits too large to
 * hold is a size over any limit (552).
 *
 * Redis: the account's settings (HMGET mh:{acct:USER}:cfg blocks enabled,
 * parsed by store_account_from_reply as mhlist does) come from the local
 * copies (lcache.c) or Redis; then one script: CHECK of its own, COMMIT
 * through commitq.c, which sends the END-OF-MESSAGE requests that arrive
 * together in one call (each message still judged alone, answered and
 * logged on its own). Redis down, a timeout or
 * an unexpected reply -> policyd.on_backend_error (defer: 451 4.3.0
 * Temporary lookup failure; dunno: DUNNO - the message then goes
 * uncounted). COMMIT counts and records the queue ID in one step, so the
 * same END-OF-MESSAGE again (Postfix re-sends a request whose policy
 * connection broke) is never counted twice.
 * A COMMIT sent whose reply is lost (redis.timeout, connection cut) may
 * have counted; answering 451 then would make the client send the
 * message again under a new queue ID, counted a second time. So:
 *   1. WAIT: look every 50 ms, for up to redis.timeout, whether Redis is
 *      reachable again, and send the same COMMIT once more (same queue
 *      ID: QUOTA_ALREADY when the first one ran - accepted, counted
 *      once). At most 3 x redis.timeout in all (first reply, the wait,
 *      the second reply): 6 s with the default 2 s, far under Postfix's
 *      smtpd_policy_service_timeout (100 s).
 *   2. No reply to that either, or Redis not back in time: answer
 *      on_backend_error; when that is a 451 the client was given, keep
 *      (user, queue ID) in a list (at most OUTBOUND_UNDO_MAX, oldest
 *      dropped with a warning) and, once Redis is reachable, run UNDO for
 *      each: the relays the record says were counted are taken off the
 *      counter of the day they were counted on, and the record becomes
 *      "undone" (a late COMMIT of it counts nothing). Postfix never sends
 *      a queue ID's END-OF-MESSAGE again after a 451, so nothing accepted
 *      is taken back. The list is in memory: a restart before Redis comes
 *      back loses it (those relays stay counted until their day ends; the
 *      queue IDs are logged at exit).
 *   A reply that is an error or cannot be parsed is not retried:
 *   on_backend_error at once (a script that fails writes nothing).
 *
 * Logging, in Postfix's style, for every reject (5xx) and defer (4xx):
 *   QUEUEID: defer: RCPT from NAME[ADDR]: 452 4.7.1 ...; from=<S> to=<R> proto=ESMTP helo=<H> sasl_username=U
 * (no to= at END-OF-MESSAGE);
 * warnings for bad requests and odd script replies, an info line for a
 * message already counted, for a COMMIT sent again and for each UNDO
 *   QUEUEID: outbound: undo of N relays for USER: the message was refused while Redis was unreachable
 * and with -v every step.
 *
 * Public functions: outbound_handle, outbound_conn_gone, outbound_end.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "aredis.h"
#include "clock.h"
#include "commitq.h"
#include "keys.h"
#include "lcache.h"
#include "log.h"
#include "policy_proto.h"
#include "pmetrics.h"
#include "policyd.h"
#include "quota.h"
#include "reply.h"
#include "store.h"

#define OUTBOUND_ATTR_LOG_MAX	120	/* bytes of an attribute quoted in a log line */
#define OUTBOUND_ERR_MAX	200	/* bytes of an error phrase */
#define OUTBOUND_WAIT_POLL_MS	50	/* COMMIT's reply lost: how often to look whether Redis is back */
#define OUTBOUND_UNDO_MAX	10000	/* refused messages whose count waits to be taken back */
#define OUTBOUND_UNDO_POLL_MS	100	/* how often the undo list looks whether Redis is back */

/* the SMTP stage a request comes from */
enum outbound_stage {
	OUTBOUND_RCPT,
	OUTBOUND_EOM			/* END-OF-MESSAGE */
};

static const char *const outbound_stage_names[] = {"RCPT", "END-OF-MESSAGE"};

enum outbound_state {
	OUTBOUND_REQUEST,		/* checking what Postfix sent */
	OUTBOUND_ACCOUNT,		/* the account: local copy, else HMGET */
	OUTBOUND_QUOTA,			/* CHECK (RCPT) or COMMIT (END-OF-MESSAGE) */
	OUTBOUND_WAIT,			/* COMMIT's reply lost: wait for Redis, then COMMIT again */
	OUTBOUND_DONE			/* the reply is made: answer, free */
};

static const char *const outbound_state_names[] = {"request", "account", "quota", "wait", "done"};

/* what outbound_number made of an attribute */
enum outbound_num {
	OUTBOUND_NUM_OK,
	OUTBOUND_NUM_BAD,		/* absent, empty, or not plain digits */
	OUTBOUND_NUM_HUGE		/* digits, past UINT64_MAX */
};

struct outbound_job {
	struct policyd *pd;
	struct conn *conn;		/* NULL once the client went away */
	struct conf *conf;		/* held for the job's life */
	const struct policy_parser *pp;	/* the request, while its connection lives */
	enum outbound_stage stage;
	enum outbound_state state;
	char	user[ACCOUNT_NAME_MAX + 1];	/* valid (account_name_valid) from ACCOUNT on */
	char	queue_id[QUOTA_QUEUEID_MAX + 1];	/* END-OF-MESSAGE */
	uint64_t size;			/* bytes; UINT64_MAX: too large to hold */
	uint64_t recipients;		/* RCPT: accepted before + 1; EOM: recipient_count */
	uint64_t limit;			/* relays allowed today */
	uint64_t relays;		/* what the script is asked */
	struct account account;
	char	key[KEYS_MAX];		/* mh:{acct:USER}:cfg */
	struct rcache_ticket ticket;	/* its read, kept locally (lcache) */
	struct quota_cmd cmd;		/* RCPT's CHECK; points into itself: kept until its last reply */
	struct commitq_item commit;	/* END-OF-MESSAGE's COMMIT, from commitq_add to its callback */
	int	evaled;			/* NOSCRIPT answered: sent again as EVAL */
	int	retried;		/* COMMIT's reply was lost: it is sent once more */
	int	uncertain;		/* ...and that one's too: whether it counted is unknown */
	struct event *wait;		/* WAIT: looks every OUTBOUND_WAIT_POLL_MS whether Redis is up */
	uint64_t wait_end;		/* WAIT: monotonic ms when it gives up */
	struct reply reply;
	/* for the log, copied when needed (outbound_job_attrs) */
	int	have_attrs;
	char	log_queue_id[QUOTA_QUEUEID_MAX + 1];
	char	client_name[OUTBOUND_ATTR_LOG_MAX + 1];
	char	client_addr[OUTBOUND_ATTR_LOG_MAX + 1];
	char	helo[OUTBOUND_ATTR_LOG_MAX + 1];
	char	sender[OUTBOUND_ATTR_LOG_MAX + 1];
	char	recipient[OUTBOUND_ATTR_LOG_MAX + 1];
	char	proto[OUTBOUND_ATTR_LOG_MAX + 1];
	char	user_log[OUTBOUND_ATTR_LOG_MAX + 1];
};

static void outbound_enter_state(struct outbound_job *, enum outbound_state);
static void outbound_undo_add(struct policyd *, const char *user, const char *queue_id);

/* outbound_attr - an attribute for logging: bounded, printable */
static void
outbound_attr(const struct policy_parser *p, const char *name, char *out, size_t outlen,
	      const char *dflt)
{
	const char *v = policy_request_get(p, name);

	if (v == NULL || *v == 0)
		v = dflt;
	log_printable(out, outlen, v, strlen(v));
}

/* outbound_job_attrs - copy what the log needs, once (the request goes with its connection) */
static void
outbound_job_attrs(struct outbound_job *job)
{
	const struct policy_parser *p = job->pp;

	if (job->have_attrs)
		return;
	job->have_attrs = 1;
	if (p == NULL) {
		snprintf(job->log_queue_id, sizeof(job->log_queue_id), "NOQUEUE");
		snprintf(job->client_name, sizeof(job->client_name), "unknown");
		snprintf(job->client_addr, sizeof(job->client_addr), "unknown");
		snprintf(job->proto, sizeof(job->proto), "ESMTP");
		job->helo[0] = job->sender[0] = job->recipient[0] = job->user_log[0] = 0;
		return;
	}
	outbound_attr(p, "queue_id", job->log_queue_id, sizeof(job->log_queue_id), "NOQUEUE");
	outbound_attr(p, "client_name", job->client_name, sizeof(job->client_name), "unknown");
	outbound_attr(p, "client_address", job->client_addr, sizeof(job->client_addr), "unknown");
	outbound_attr(p, "helo_name", job->helo, sizeof(job->helo), "");
	outbound_attr(p, "sender", job->sender, sizeof(job->sender), "");
	outbound_attr(p, "recipient", job->recipient, sizeof(job->recipient), "");
	outbound_attr(p, "protocol_name", job->proto, sizeof(job->proto), "ESMTP");
	outbound_attr(p, "sasl_username", job->user_log, sizeof(job->user_log), "");
}

/* outbound_conn_gone - the client closed while we decided (its request is still readable) */
void
outbound_conn_gone(void *arg)
{
	struct outbound_job *job = arg;

	outbound_job_attrs(job);
	job->conn = NULL;
	job->pp = NULL;
}

/* outbound_trace - one step, with -v */
static void __attribute__((format(printf, 2, 3)))
outbound_trace(struct outbound_job *job, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	if (!msg_verbose)
		return;
	outbound_job_attrs(job);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg_info("%s: outbound: %s sasl_username=%s: %s", job->log_queue_id,
		 outbound_stage_names[job->stage], job->user_log, buf);
}

/* outbound_warn - something Postfix would not send, or Redis should not answer */
static void
outbound_warn(struct outbound_job *job, const char *why)
{
	outbound_job_attrs(job);
	msg_warn("%s: outbound: %s from %s[%s]: %s; sasl_username=%s", job->log_queue_id,
		 outbound_stage_names[job->stage], job->client_name, job->client_addr, why,
		 job->user_log);
}

/* outbound_log - Postfix-style line for rejects and defers */
static void
outbound_log(struct outbound_job *job)
{
	const struct reply *r = &job->reply;

	if (r->kind != REPLY_REJECT && r->kind != REPLY_DEFER)
		return;
	outbound_job_attrs(job);
	msg_info("%s: %s: %s from %s[%s]: %s; from=<%s>%s%s%s proto=%s helo=<%s> sasl_username=%s",
		 job->log_queue_id, r->kind == REPLY_REJECT ? "reject" : "defer",
		 outbound_stage_names[job->stage], job->client_name, job->client_addr, r->text,
		 job->sender, job->recipient[0] ? " to=<" : "", job->recipient,
		 job->recipient[0] ? ">" : "", job->proto, job->helo, job->user_log);
}

/*
 * outbound_finish_uncertain - COMMIT was sent twice and no reply came:
 * it may have counted. When Postfix got our 451 it refuses the message
 * and never sends that queue ID again, so a count is taken back (UNDO)
 * once Redis is reachable. Otherwise the count must stay: with
 * on_backend_error = dunno the message was accepted; with the client
 * gone Postfix sends the same END-OF-MESSAGE again (same queue ID:
 * "already counted" or counted then).
 */
static void
outbound_finish_uncertain(struct outbound_job *job)
{
	outbound_job_attrs(job);
	if (job->conn && job->reply.kind == REPLY_DEFER) {
		msg_info("%s: outbound: sasl_username=%s: answered %s; its count, if COMMIT ran, will be taken back once Redis is reachable",
			 job->log_queue_id, job->user_log, job->reply.text);
		outbound_undo_add(job->pd, job->user, job->queue_id);
	} else if (job->conn) {
		msg_warn("%s: outbound: sasl_username=%s: accepted (on_backend_error = dunno) with COMMIT's outcome unknown: counted once or not at all",
			 job->log_queue_id, job->user_log);
	} else {
		msg_info("%s: outbound: sasl_username=%s: the policy client went away before the answer; Postfix sends the same queue ID again, which is counted once",
			 job->log_queue_id, job->user_log);
	}
}

/* outbound_finish - answer the client (if still there), count an accepted recipient, free */
static void
outbound_finish(struct outbound_job *job)
{
	char	buf[POLICY_REPLY_MAX];
	int	n;

	outbound_log(job);
	job->pd->requests++;
	pmetrics_policy(job->stage == OUTBOUND_RCPT ? PM_OUTBOUND_RCPT : PM_OUTBOUND_EOM, job->reply.kind);
	if (job->conn) {
		/* requests of one connection are decided one at a time: the transaction is ours */
		if (job->stage == OUTBOUND_RCPT && job->reply.kind == REPLY_DUNNO)
			conn_txn(job->conn)->accepted++;
		if ((n = policy_reply_format(buf, sizeof(buf), job->reply.text)) < 0)
			msg_panic("outbound: unformattable action \"%s\"", job->reply.text);
		conn_reply(job->conn, buf, (size_t) n);
	}
	if (job->uncertain)
		outbound_finish_uncertain(job);
	if (job->wait)
		event_free(job->wait);
	policyd_job_done(job->pd, job->conf);
	free(job);
}

/* outbound_done_backend_error - Redis failed: policyd.on_backend_error */
static void
outbound_done_backend_error(struct outbound_job *job, const char *what)
{
	if (job->conf->policyd_on_backend_error == CONF_BACKEND_DUNNO) {
		outbound_trace(job, "%s: backend unavailable: DUNNO (on_backend_error = dunno)", what);
		reply_dunno(&job->reply);
	} else {
		outbound_trace(job, "%s: backend unavailable: defer (on_backend_error = defer)", what);
		reply_set(&job->reply, "451", "4.3.0", "Temporary lookup failure");
	}
	outbound_enter_state(job, OUTBOUND_DONE);
}

/* outbound_done_bad_request - Postfix would have sent it: a configuration problem; nothing counted */
static void
outbound_done_bad_request(struct outbound_job *job, const char *why)
{
	outbound_warn(job, why);
	reply_set(&job->reply, "451", "4.3.5", "Server configuration problem");
	outbound_enter_state(job, OUTBOUND_DONE);
}

/* outbound_number - an unsigned decimal attribute; *out UINT64_MAX when HUGE */
static enum outbound_num
outbound_number(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	*out = 0;
	if (v == NULL || *v == 0)
		return OUTBOUND_NUM_BAD;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return OUTBOUND_NUM_BAD;
		if (n > (UINT64_MAX - (uint64_t) (*v - '0')) / 10) {
			/* all digits? then it is a number, just a very large one */
			while (*v >= '0' && *v <= '9')
				v++;
			if (*v)
				return OUTBOUND_NUM_BAD;
			*out = UINT64_MAX;
			return OUTBOUND_NUM_HUGE;
		}
		n = n * 10 + (uint64_t) (*v - '0');
	}
	*out = n;
	return OUTBOUND_NUM_OK;
}

/* outbound_queue_id_valid - what Postfix makes (and quota_cmd_commit takes): 1..32 letters and digits */
static int
outbound_queue_id_valid(const char *v)
{
	size_t	len = v ? strnlen(v, QUOTA_QUEUEID_MAX + 1) : 0;

	return len > 0 && len <= QUOTA_QUEUEID_MAX
	    && strspn(v, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == len;
}

/* --- the quota script -------------------------------------------------------- */

static void outbound_quota_send(struct outbound_job *);
static void outbound_quota_result(struct outbound_job *, const struct quota_result *);
static void outbound_commit_lost(struct outbound_job *, const char *);
static void outbound_commit_unknown(struct outbound_job *, const char *why);

/*
 * outbound_quota_reply - the script's answer. The scripts run on the
 * connection whose reads Redis tracks for the local copies, so Redis may
 * also send invalidations for the counters they read; lcache ignores keys
 * it holds no copy of (it never copies a counter), so that is harmless.
 */
static void
outbound_quota_reply(redisReply *r, void *arg)
{
	struct outbound_job *job = arg;
	struct quota_result res;
	char	err[OUTBOUND_ERR_MAX], why[OUTBOUND_ERR_MAX + 32];

	if (r == NULL) {
		/* CHECK only reads (COMMIT goes through commitq) */
		outbound_done_backend_error(job, "quota");
		return;
	}
	if (quota_is_noscript(r) && !job->evaled) {
		/* Redis restarted or SCRIPT FLUSH: send the text, which caches it again */
		outbound_trace(job, "quota: NOSCRIPT: sending the script as EVAL");
		job->evaled = 1;
		quota_cmd_eval(&job->cmd);
		outbound_quota_send(job);
		return;
	}
	if (quota_parse(job->cmd.script, r, &res, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "quota script: %s", err);
		outbound_warn(job, why);
		outbound_done_backend_error(job, "quota");
		return;
	}
	outbound_quota_result(job, &res);
}

/* outbound_commit_done - COMMIT's outcome for this message (commitq.c) */
static void
outbound_commit_done(struct commitq_item *it, enum commitq_outcome how,
		     const struct quota_result *res, const char *err)
{
	struct outbound_job *job = (struct outbound_job *) ((char *) it
					- offsetof(struct outbound_job, commit));
	char	why[OUTBOUND_ERR_MAX + 32];

	switch (how) {
	case COMMITQ_DONE:
		outbound_quota_result(job, res);
		break;
	case COMMITQ_FAILED:
		snprintf(why, sizeof(why), "quota script: %s", err);
		outbound_warn(job, why);
		outbound_done_backend_error(job, "quota");
		break;
	case COMMITQ_UNSENT:
		if (job->retried)	/* the first COMMIT may have counted */
			outbound_commit_unknown(job, "Redis unreachable when COMMIT was to be sent again");
		else
			outbound_done_backend_error(job, "quota");
		break;
	case COMMITQ_LOST:
		outbound_commit_lost(job, err);
		break;
	}
}

/* outbound_quota_result - what the script said: the answer */
static void
outbound_quota_result(struct outbound_job *job, const struct quota_result *rp)
{
	struct quota_result res = *rp;

	if (job->retried) {
		outbound_job_attrs(job);
		msg_info("%s: outbound: sasl_username=%s: COMMIT sent again after its reply was lost: %s",
			 job->log_queue_id, job->user_log,
			 res.status == QUOTA_OK ? "counted now" : res.status == QUOTA_ALREADY
			 ? "the first one had counted" : res.status == QUOTA_REFUSED ? "refused"
			 : "refused before");
	}
	switch (res.status) {
	case QUOTA_OK:
		outbound_trace(job, "quota: %llu relays %s: used %llu of %llu today",
			       (unsigned long long) job->relays,
			       job->stage == OUTBOUND_RCPT ? "fit" : "counted",
			       (unsigned long long) res.used, (unsigned long long) res.limit);
		reply_dunno(&job->reply);
		break;
	case QUOTA_ALREADY:
		outbound_job_attrs(job);
		msg_info("%s: outbound: sasl_username=%s: already counted (%llu relays): accepted, not counted again",
			 job->log_queue_id, job->user_log, (unsigned long long) res.relays);
		reply_dunno(&job->reply);
		break;
	case QUOTA_REFUSED:
		outbound_trace(job, "quota: %llu relays do not fit: used %llu of %llu today",
			       (unsigned long long) job->relays, (unsigned long long) res.used,
			       (unsigned long long) res.limit);
		quota_reply_over(&job->reply, job->conf->outbound_quota_reply, job->limit, job->user);
		metrics_inc(&pm_quota_refusals, PM_OVER_QUOTA);
		break;
	case QUOTA_UNDONE:
		/*
		 * This queue ID was answered 451 before and its count taken back:
		 * Postfix does not send it again, so this is a stray request; it
		 * gets the same answer, and nothing is counted.
		 */
		outbound_warn(job, "this queue ID was refused before (Redis unreachable) and its count taken back; refused again");
		reply_set(&job->reply, "451", "4.3.0", "Temporary lookup failure");
		break;
	case QUOTA_NOTHING:
		/* an UNDO status: quota_parse never gives it for CHECK or COMMIT */
		outbound_done_backend_error(job, "quota");
		return;
	}
	outbound_enter_state(job, OUTBOUND_DONE);
}

/* outbound_quota_send - send cmd; a failure to queue counts as Redis unavailable */
static void
outbound_quota_send(struct outbound_job *job)
{
	if (aredis_commandargv(job->pd->redis, outbound_quota_reply, job, job->cmd.argc,
			       job->cmd.argv, job->cmd.argvlen) < 0)
		outbound_done_backend_error(job, "quota");
}

/*
 * outbound_commit_unknown - COMMIT went out and no reply came back, even
 * after waiting: answer on_backend_error; outbound_finish_uncertain
 * decides whether the count, if any, is taken back.
 */
static void
outbound_commit_unknown(struct outbound_job *job, const char *why)
{
	char	buf[OUTBOUND_ERR_MAX + 100];

	snprintf(buf, sizeof(buf), "COMMIT: %s; whether it counted is unknown", why);
	outbound_warn(job, buf);
	job->uncertain = 1;
	outbound_done_backend_error(job, "quota");
}

/*
 * outbound_commit_lost - COMMIT's reply did not come (redis.timeout, or
 * the connection was lost): Redis may have run it. Answering 451 now
 * would make the client send the message again under a new queue ID,
 * counted a second time (and a COMMIT that no replica is known to have,
 * redis.wait_replicas, may be lost by a failover); so wait (WAIT) up to redis.timeout more for
 * Redis to be reachable, and send the same COMMIT once more: the same
 * queue ID, so "already counted" when the first one ran. Never from
 * here directly: this may run inside aredis (a timeout, or aredis_free).
 */
static void
outbound_commit_lost(struct outbound_job *job, const char *err)
{
	char	why[OUTBOUND_ERR_MAX];	/* with "COMMIT: ...; whether it counted is unknown", within outbound_commit_unknown's buffer */

	if (job->retried) {
		snprintf(why, sizeof(why), "the second try lost too (%s)", err ? err : "no reply");
		outbound_commit_unknown(job, why);
		return;
	}
	job->retried = 1;
	outbound_enter_state(job, OUTBOUND_WAIT);
}

/* outbound_wait_tick - WAIT: Redis back -> COMMIT again; past the bound -> unknown */
static void
outbound_wait_tick(evutil_socket_t fd, short what, void *arg)
{
	struct outbound_job *job = arg;
	struct timeval tv = {0, OUTBOUND_WAIT_POLL_MS * 1000};

	(void) fd;
	(void) what;
	/* on a cluster: the primary of the account's slot, maybe a replica just promoted */
	if (aredis_up_key(job->pd->redis, job->key, strlen(job->key))) {
		outbound_trace(job, "Redis reachable again: COMMIT sent again");
		outbound_enter_state(job, OUTBOUND_QUOTA);
		return;
	}
	if (clock_mono_ms() >= job->wait_end) {
		outbound_commit_unknown(job, "no reply, and Redis unreachable for redis.timeout more");
		return;
	}
	evtimer_add(job->wait, &tv);
}

/* outbound_wait - WAIT state: look whether Redis is up every OUTBOUND_WAIT_POLL_MS, for redis.timeout */
static void
outbound_wait(struct outbound_job *job)
{
	struct timeval tv = {0, OUTBOUND_WAIT_POLL_MS * 1000};

	job->wait_end = clock_mono_ms() + job->conf->redis_timeout_ms;
	if (job->wait == NULL && (job->wait = evtimer_new(job->pd->base, outbound_wait_tick, job)) == NULL)
		msg_panic("outbound: evtimer_new failed");
	outbound_trace(job, "no reply to COMMIT: waiting up to %llu ms for Redis to send it again",
		       (unsigned long long) job->conf->redis_timeout_ms);
	evtimer_add(job->wait, &tv);
}

/* outbound_quota - QUOTA state: build the script's command and send it */
static void
outbound_quota(struct outbound_job *job)
{
	char	err[OUTBOUND_ERR_MAX];
	int	rc;

	job->evaled = 0;
	if (job->stage == OUTBOUND_EOM) {
		/* counted together with the END-OF-MESSAGE requests that come with it */
		job->commit.done = outbound_commit_done;
		job->commit.user = job->user;
		job->commit.queue_id = job->queue_id;
		job->commit.limit = job->limit;
		job->commit.relays = job->relays;
		if (commitq_add(job->pd, &job->commit, err, sizeof(err)) < 0)
			outbound_done_bad_request(job, err);
		return;
	}
	rc = quota_cmd_check(&job->cmd, job->user, job->limit, job->relays, err, sizeof(err));
	if (rc < 0) {
		outbound_done_bad_request(job, err);
		return;
	}
	outbound_quota_send(job);
}

/* --- taking back the count of a refused message ------------------------------ */

/*
 * A message answered 451 while its COMMIT's outcome was unknown: user and
 * queue ID are kept, in order, until UNDO has run for them. Postfix never
 * sends END-OF-MESSAGE again for a queue ID it was told 451 about, so
 * UNDO can only meet the first COMMIT (already run, or arriving late from
 * a cut connection: the "undone" record then makes it count nothing).
 * One UNDO in flight at a time, held as a job (a drain waits for the list
 * while Redis answers). The list lives in memory only: a restart before
 * Redis is back loses it, and those relays stay counted (logged at exit).
 */
struct outbound_undo_item {
	struct outbound_undo_item *next;
	char	queue_id[QUOTA_QUEUEID_MAX + 1];
	char	user[];			/* valid (account_name_valid) */
};

struct outbound_undo {
	struct policyd *pd;
	struct event *timer;		/* looks whether Redis is up, while items wait */
	struct outbound_undo_item *head, *tail;	/* oldest first */
	size_t	n;			/* items in the list (the one in flight is not) */
	struct outbound_undo_item *inflight;
	struct conf *conf;		/* held while an UNDO is in flight */
	struct quota_cmd cmd;		/* the one in flight; points into itself */
	int	evaled;			/* it was sent again as EVAL after NOSCRIPT */
};

/* outbound_undo_arm - look again in OUTBOUND_UNDO_POLL_MS (items wait, none in flight) */
static void
outbound_undo_arm(struct outbound_undo *u)
{
	struct timeval tv = {0, OUTBOUND_UNDO_POLL_MS * 1000};

	if (u->head && u->inflight == NULL && !evtimer_pending(u->timer, NULL))
		evtimer_add(u->timer, &tv);
}

/* outbound_undo_push_front - an item whose UNDO did not go through: first again */
static void
outbound_undo_push_front(struct outbound_undo *u, struct outbound_undo_item *it)
{
	it->next = u->head;
	u->head = it;
	if (u->tail == NULL)
		u->tail = it;
	u->n++;
}

/* outbound_undo_pop - the oldest item, out of the list */
static struct outbound_undo_item *
outbound_undo_pop(struct outbound_undo *u)
{
	struct outbound_undo_item *it = u->head;

	if (it) {
		u->head = it->next;
		if (u->head == NULL)
			u->tail = NULL;
		u->n--;
		it->next = NULL;
	}
	return it;
}

static void outbound_undo_reply(redisReply *, void *);

/* outbound_undo_send - send the UNDO in flight; -1 when Redis is unavailable (item back in the list) */
static int
outbound_undo_send(struct outbound_undo *u)
{
	if (aredis_commandargv(u->pd->redis, outbound_undo_reply, u, u->cmd.argc, u->cmd.argv,
			       u->cmd.argvlen) == 0)
		return 0;
	outbound_undo_push_front(u, u->inflight);
	u->inflight = NULL;
	policyd_job_done(u->pd, u->conf);
	outbound_undo_arm(u);
	return -1;
}

/* outbound_undo_next - Redis is up: send the UNDO of the oldest item */
static void
outbound_undo_next(struct outbound_undo *u)
{
	struct outbound_undo_item *it;
	char	err[OUTBOUND_ERR_MAX];

	while (u->inflight == NULL && (it = outbound_undo_pop(u)) != NULL) {
		if (quota_cmd_undo(&u->cmd, it->user, it->queue_id, err, sizeof(err)) < 0) {
			/* checked when the request came: cannot happen */
			msg_warn("%s: outbound: undo for %s: %s; its relays stay counted",
				 it->queue_id, it->user, err);
			free(it);
			continue;
		}
		u->evaled = 0;
		u->inflight = it;
		u->conf = policyd_job_begin(u->pd);
		outbound_undo_send(u);
		return;
	}
}

/* outbound_undo_reply - UNDO's answer: log it, and go on with the next */
static void
outbound_undo_reply(redisReply *r, void *arg)
{
	struct outbound_undo *u = arg;
	struct outbound_undo_item *it = u->inflight;
	struct conf *conf = u->conf;
	struct quota_result res;
	char	err[OUTBOUND_ERR_MAX];

	if (r == NULL) {
		/* lost again (maybe inside aredis_free): keep it, try when Redis is up */
		outbound_undo_push_front(u, it);
		u->inflight = NULL;
		policyd_job_done(u->pd, conf);
		outbound_undo_arm(u);
		return;
	}
	if (quota_is_noscript(r) && !u->evaled) {
		u->evaled = 1;
		quota_cmd_eval(&u->cmd);
		outbound_undo_send(u);
		return;
	}
	if (quota_parse(QUOTA_SCRIPT_UNDO, r, &res, err, sizeof(err)) < 0)
		msg_warn("%s: outbound: undo for %s failed: %s; its relays stay counted",
			 it->queue_id, it->user, err);
	else if (res.status == QUOTA_UNDONE)
		msg_info("%s: outbound: undo of %llu relays for %s: the message was refused while Redis was unreachable",
			 it->queue_id, (unsigned long long) res.relays, it->user);
	else
		msg_info("%s: outbound: nothing to undo for %s: the message was refused while Redis was unreachable, and its COMMIT had not counted",
			 it->queue_id, it->user);
	free(it);
	u->inflight = NULL;
	/* the next one is begun before this one is done, so a drain waits for the list */
	outbound_undo_next(u);
	policyd_job_done(u->pd, conf);
}

/* outbound_undo_tick - items wait: send when Redis is up, else look again later */
static void
outbound_undo_tick(evutil_socket_t fd, short what, void *arg)
{
	struct outbound_undo *u = arg;
	char	key[KEYS_MAX];
	int	n;

	(void) fd;
	(void) what;
	if (u->inflight)
		return;
	/* the oldest goes first: its account's primary must be up (on a cluster) */
	n = u->head ? keys_account_cfg(key, sizeof(key), u->head->user) : 0;
	if (n > 0 && (size_t) n < sizeof(key) && aredis_up_key(u->pd->redis, key, (size_t) n))
		outbound_undo_next(u);
	outbound_undo_arm(u);
}

/*
 * outbound_undo_add - remember a message to take back; at most
 * OUTBOUND_UNDO_MAX wait (the oldest is dropped, with a warning). Never
 * sends from here (this may run inside aredis): the timer does.
 */
static void
outbound_undo_add(struct policyd *pd, const char *user, const char *queue_id)
{
	struct outbound_undo *u = pd->undo;
	struct outbound_undo_item *it;
	size_t	len = strlen(user);

	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL
		    || (u->timer = evtimer_new(pd->base, outbound_undo_tick, u)) == NULL)
			msg_panic("outbound: out of memory");
		u->pd = pd;
		pd->undo = u;
	}
	if (u->n + (u->inflight != NULL) >= OUTBOUND_UNDO_MAX && (it = outbound_undo_pop(u)) != NULL) {
		msg_warn("%s: outbound: more than %d refused messages wait for Redis to take back their counts: this one's relays for %s stay counted",
			 it->queue_id, OUTBOUND_UNDO_MAX, it->user);
		free(it);
	}
	if ((it = calloc(1, sizeof(*it) + len + 1)) == NULL)
		msg_panic("outbound: out of memory");
	memcpy(it->user, user, len + 1);
	snprintf(it->queue_id, sizeof(it->queue_id), "%s", queue_id);
	if (u->tail)
		u->tail->next = it;
	else
		u->head = it;
	u->tail = it;
	u->n++;
	outbound_undo_arm(u);
}

/* outbound_end - at exit (after aredis_free): what could not be taken back is logged, all freed */
void
outbound_end(struct policyd *pd)
{
	struct outbound_undo *u = pd->undo;
	struct outbound_undo_item *it;

	if (u == NULL)
		return;
	if (u->inflight) {		/* not after aredis_free; kept for safety */
		outbound_undo_push_front(u, u->inflight);
		u->inflight = NULL;
	}
	while ((it = outbound_undo_pop(u)) != NULL) {
		msg_warn("%s: outbound: undo for %s not done (Redis unreachable until exit): its relays, if COMMIT ran, stay counted until their day ends",
			 it->queue_id, it->user);
		free(it);
	}
	event_free(u->timer);
	free(u);
	pd->undo = NULL;
}

/* --- the account ------------------------------------------------------------- */

/* outbound_account_known - the account's answer: decide what needs no counter, or go on */
static void
outbound_account_known(struct outbound_job *job, enum store_result res)
{
	const struct conf *conf = job->conf;
	unsigned mult;

	if (res == STORE_ERROR) {
		outbound_done_backend_error(job, "account");
		return;
	}
	if (res == STORE_NOTFOUND || !job->account.enabled) {
		outbound_trace(job, "account %s", res == STORE_NOTFOUND ? "unknown" : "disabled");
		quota_reply_no_service(&job->reply, job->user);
		metrics_inc(&pm_quota_refusals, PM_NO_SERVICE);
		outbound_enter_state(job, OUTBOUND_DONE);
		return;
	}
	job->limit = account_limit(&job->account, conf->outbound_relays_per_block);
	if (job->stage == OUTBOUND_RCPT && job->recipients > conf->outbound_max_recipients) {
		outbound_trace(job, "recipient %llu of the transaction: over max_recipients %u",
			       (unsigned long long) job->recipients, conf->outbound_max_recipients);
		quota_reply_too_many(&job->reply);
		metrics_inc(&pm_quota_refusals, PM_TOO_MANY_RECIPIENTS);
		outbound_enter_state(job, OUTBOUND_DONE);
		return;
	}
	mult = quota_multiplier(job->size);
	if (mult == 0 || job->size > conf->outbound_max_size) {
		outbound_trace(job, "size %llu: over the limit", (unsigned long long) job->size);
		quota_reply_size(&job->reply);
		metrics_inc(&pm_quota_refusals, PM_TOO_LARGE);
		outbound_enter_state(job, OUTBOUND_DONE);
		return;
	}
	if (quota_relays(job->recipients, mult, &job->relays) < 0) {
		outbound_done_bad_request(job, "recipient_count too large to count");
		return;
	}
	outbound_trace(job, "%llu recipient(s) x %u = %llu relays, limit %llu",
		       (unsigned long long) job->recipients, mult,
		       (unsigned long long) job->relays, (unsigned long long) job->limit);
	outbound_enter_state(job, OUTBOUND_QUOTA);
}

/* outbound_account_reply - HMGET's answer, kept locally */
/*
 * outbound_account_indexed - an account not found: real only while the
 * index of accounts exists (an emptied Redis has none: that is Redis's
 * failure, answered as one, not "no outbound service")
 */
static void
outbound_account_indexed(void *arg, int state)
{
	struct outbound_job *job = arg;
	enum store_result res = state == 1 ? STORE_NOTFOUND : STORE_ERROR;

	lcache_account_put(job->pd, &job->ticket, res, &job->account);
	lcache_release(job->pd, &job->ticket);
	outbound_account_known(job, res);
}

static void
outbound_account_reply(redisReply *r, void *arg)
{
	struct outbound_job *job = arg;
	enum store_result res = store_account_from_reply(job->user, r, &job->account);

	if (res == STORE_NOTFOUND) {
		lookup_index(job->pd, KEYS_ACCOUNTS, outbound_account_indexed, job);
		return;
	}
	lcache_account_put(job->pd, &job->ticket, res, &job->account);
	lcache_release(job->pd, &job->ticket);
	outbound_account_known(job, res);
}

/* outbound_account - ACCOUNT state: the local copy, else ask Redis */
static void
outbound_account(struct outbound_job *job)
{
	const char *argv[4] = {"HMGET", job->key, "blocks", "enabled"};
	size_t	lens[4] = {5, 0, 6, 7};
	enum store_result res;

	keys_account_cfg(job->key, sizeof(job->key), job->user);
	if (lcache_account_get(job->pd, job->key, &res, &job->account)) {
		outbound_account_known(job, res);
		return;
	}
	/* the same command as store_account_get, parsed by the same function */
	lens[1] = strlen(job->key);
	lcache_want(job->pd, job->key, &job->ticket);
	if (aredis_commandargv(job->pd->redis, outbound_account_reply, job, 4, argv, lens) < 0)
		outbound_account_reply(NULL, job);
}

/* --- the request ------------------------------------------------------------- */

/* outbound_rcpt - RCPT: the transaction's recipient count and the announced size */
static int
outbound_rcpt(struct outbound_job *job, struct conn *conn, const struct policy_parser *p,
	      char *why, size_t whylen)
{
	const char *instance = policy_request_get(p, "instance");
	const char *size = policy_request_get(p, "size");
	struct conn_txn *txn = conn_txn(conn);
	size_t	len = instance ? strnlen(instance, CONN_INSTANCE_MAX + 1) : 0;

	if (len == 0 || len > CONN_INSTANCE_MAX) {
		snprintf(why, whylen, len ? "instance longer than %d bytes" : "no instance attribute",
			 CONN_INSTANCE_MAX);
		return -1;
	}
	if (strcmp(txn->instance, instance) != 0) {
		memcpy(txn->instance, instance, len + 1);
		txn->accepted = 0;
	}
	job->recipients = (uint64_t) txn->accepted + 1;
	if (size != NULL && *size != 0 && outbound_number(size, &job->size) == OUTBOUND_NUM_BAD) {
		/* only a forecast: END-OF-MESSAGE judges the real size */
		outbound_warn(job, "size is not a number; taken as 0");
		job->size = 0;
	}
	return 0;
}

/* outbound_eom - END-OF-MESSAGE: queue ID, recipient count, real size */
static int
outbound_eom(struct outbound_job *job, const struct policy_parser *p, char *why, size_t whylen)
{
	const char *queue_id = policy_request_get(p, "queue_id");

	if (!outbound_queue_id_valid(queue_id)) {
		snprintf(why, whylen, queue_id && *queue_id ? "queue_id is not 1 to %d letters and digits"
			 : "no queue_id", QUOTA_QUEUEID_MAX);
		return -1;
	}
	memcpy(job->queue_id, queue_id, strlen(queue_id) + 1);
	if (outbound_number(policy_request_get(p, "recipient_count"), &job->recipients) != OUTBOUND_NUM_OK
	    || job->recipients == 0) {
		snprintf(why, whylen, "no recipient_count (or not a number above 0)");
		return -1;
	}
	if (outbound_number(policy_request_get(p, "size"), &job->size) == OUTBOUND_NUM_BAD) {
		snprintf(why, whylen, "no size (or not a number)");
		return -1;
	}
	return 0;
}

/* outbound_enter_state - log old -> new with -v, and do the new state's work */
static void
outbound_enter_state(struct outbound_job *job, enum outbound_state state)
{
	outbound_trace(job, "%s -> %s", outbound_state_names[job->state], outbound_state_names[state]);
	job->state = state;
	switch (state) {
	case OUTBOUND_REQUEST:
		break;
	case OUTBOUND_ACCOUNT:
		outbound_account(job);
		break;
	case OUTBOUND_QUOTA:
		outbound_quota(job);
		break;
	case OUTBOUND_WAIT:
		outbound_wait(job);
		break;
	case OUTBOUND_DONE:
		outbound_finish(job);
		break;
	}
}

/* outbound_handle - one request with policy_context=outbound */
int
outbound_handle(struct policyd *pd, struct conn *conn, const struct policy_parser *p)
{
	const char *state = policy_request_get(p, "protocol_state");
	const char *user = policy_request_get(p, "sasl_username");
	struct outbound_job *job;
	char	err[OUTBOUND_ERR_MAX];
	int	rc;

	if (state == NULL || (strcmp(state, "RCPT") != 0 && strcmp(state, "END-OF-MESSAGE") != 0))
		return -1;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		msg_panic("outbound: out of memory");
	job->pd = pd;
	job->conn = conn;
	job->conf = policyd_job_begin(pd);
	job->pp = p;
	job->stage = strcmp(state, "RCPT") == 0 ? OUTBOUND_RCPT : OUTBOUND_EOM;
	job->state = OUTBOUND_REQUEST;
	conn_set_job(conn, job, outbound_conn_gone);

	if (user == NULL
	    || account_name_valid(user, strnlen(user, ACCOUNT_NAME_MAX + 1), err, sizeof(err)) < 0) {
		outbound_trace(job, "no account: %s", user ? err : "no sasl_username");
		quota_reply_no_service(&job->reply, user ? user : "");
		metrics_inc(&pm_quota_refusals, PM_NO_SERVICE);
		outbound_enter_state(job, OUTBOUND_DONE);
		return 0;
	}
	memcpy(job->user, user, strlen(user) + 1);
	if (job->stage == OUTBOUND_RCPT)
		rc = outbound_rcpt(job, conn, p, err, sizeof(err));
	else
		rc = outbound_eom(job, p, err, sizeof(err));
	if (rc < 0)
		outbound_done_bad_request(job, err);
	else
		outbound_enter_state(job, OUTBOUND_ACCOUNT);
	return 0;
}
