/*
 * cmd_explain.c - mhlist explain SENDER RCPT [--client IP] [--size N]:
 * what would happen to this mail at RCPT, and why.
 *
 * Runs the very decision mhpolicyd runs (common/decide.c), step by step,
 * doing each lookup it asks for synchronously: Redis through the store,
 * the MX set and DNSBL answers from the shared Redis caches, else from
 * DNS (dns.servers, with the daemon's own resolver code on a private event
 * loop). It only reads: nothing is cached or changed. Then it adds what
 * mhmilter will check on the same mail that the policy step leaves to it
 * (the user list, the sender lists, --size against max_size).
 *
 * The call-ahead step answers from the verdict cached in Redis, saying
 * how old it is; with none cached it says that mhpolicyd would probe now
 * (and whether a probe of the address is in flight), and goes on as if
 * the destination accepted: explain never probes (mhlist check does).
 *
 * Output: each step, the action mhpolicyd hands Postfix, and the reply the
 * SMTP client would see. Exit 0 with an explanation, 64 usage, 65 bad
 * address, 69 Redis unavailable.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cacache.h"
#include "log.h"
#include "decide.h"
#include "dnsq.h"
#include "dnswait.h"
#include "keys.h"
#include "mhlist.h"
#include "output.h"
#include "rconn.h"
#include "units.h"

struct explain {
	struct mhlist *m;
	struct event_base *base;
	struct dnsq *dns;
	char	err[300];
};

/* explain_resolver - the resolver, made on first use */
static int
explain_resolver(struct explain *x)
{
	if (x->dns)
		return 0;
	if ((x->base = event_base_new()) == NULL
	    || (x->dns = dnsq_new(x->base, x->m->conf, x->err, sizeof(x->err))) == NULL)
		return -1;
	return 0;
}

/* explain_mx - cached MX set, else DNS; 1 known, 0 failed */
static int
explain_mx(struct explain *x, const char *domain, struct mx_set *out, const char **source)
{
	char	key[KEYS_MAX];
	struct dnswait r = {0};
	redisReply *rep;

	keys_domain_mx(key, sizeof(key), domain);
	rep = rconn_command(x->m->rc, "GET %s", key);
	if (rep && rep->type == REDIS_REPLY_STRING && mx_set_parse(rep->str, out) == 0) {
		freeReplyObject(rep);
		*source = "cache";
		return 1;
	}
	if (rep)
		freeReplyObject(rep);
	*source = "DNS";
	if (explain_resolver(x) < 0 || dnsq_mx(x->dns, domain, dnswait_mx, &r) < 0)
		return 0;
	dnswait_for(x->base, &r);
	if (r.status == DNSQ_OK) {
		*out = r.mx;
		return 1;
	}
	memset(out, 0, sizeof(*out));
	return r.status == DNSQ_NXDOMAIN || r.status == DNSQ_NODATA;
}

/* explain_dnsbl - one zone, from the cache or DNS */
static void
explain_dnsbl(struct explain *x, const char *zone, const char *ip, struct decide_dnsbl_result *res,
	      char *txt, size_t txtlen)
{
	char	key[KEYS_MAX], name[DNSBL_NAME_MAX + 1];
	struct dnswait r = {0};
	redisReply *rep;

	res->answer = DNSBL_ANSWER_FAILED;
	res->txt = txt;
	txt[0] = 0;
	keys_dnsbl(key, sizeof(key), zone, ip);
	rep = rconn_command(x->m->rc, "GET %s", key);
	if (rep && rep->type == REDIS_REPLY_STRING) {
		if (strncmp(rep->str, "listed ", 7) == 0) {
			res->answer = DNSBL_ANSWER_LISTED;
			snprintf(txt, txtlen, "%s", rep->str + 7);
		} else if (strcmp(rep->str, "clean") == 0) {
			res->answer = DNSBL_ANSWER_CLEAN;
		} else if (strcmp(rep->str, "error") == 0) {
			res->answer = DNSBL_ANSWER_ERRCODE;
		}
	}
	if (rep)
		freeReplyObject(rep);
	if (res->answer != DNSBL_ANSWER_FAILED)
		return;
	if (dnsbl_query_name(ip, zone, name, sizeof(name)) < 0 || explain_resolver(x) < 0
	    || dnsq_a(x->dns, name, dnswait_a, &r) < 0)
		return;
	dnswait_for(x->base, &r);
	if (r.status == DNSQ_NXDOMAIN || r.status == DNSQ_NODATA)
		res->answer = DNSBL_ANSWER_CLEAN;
	else if (r.status == DNSQ_OK)
		res->answer = dnsbl_classify((const unsigned char (*)[4]) r.a, r.na);
	if (res->answer == DNSBL_ANSWER_LISTED) {
		memset(&r, 0, sizeof(r));
		if (dnsq_txt(x->dns, name, dnswait_txt, &r) == 0) {
			dnswait_for(x->base, &r);
			snprintf(txt, txtlen, "%s", r.txt);
		}
	}
}

/*
 * explain_callahead - the call-ahead step from the cached verdict (read
 * only); -1 when Redis failed
 */
static int
explain_callahead(struct store *st, struct decide *d)
{
	char	host[DOMAIN_NAME_MAX + 1], key[KEYS_MAX], lkey[KEYS_MAX], dkey[KEYS_MAX], how[1024];
	unsigned port;
	redisReply *rep;
	struct cacache_entry e;
	long long age;

	if (!decide_callahead_target(d, host, sizeof(host), &port)) {
		decide_callahead(d);
		return 0;
	}
	keys_ca_verdict(key, sizeof(key), d->rcpt_addr.domain, d->rcpt_addr.local);
	keys_ca_lock(lkey, sizeof(lkey), d->rcpt_addr.domain, d->rcpt_addr.local);
	keys_ca_down(dkey, sizeof(dkey), host, port);
	if ((rep = rconn_command(st->rc, "MGET %s %s %s", key, lkey, dkey)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
		freeReplyObject(rep);
		return -1;
	}
	if (rep->element[0]->type == REDIS_REPLY_STRING && cacache_parse(rep->element[0]->str, &e) == 0) {
		age = (long long) time(NULL) - e.at;
		snprintf(how, sizeof(how), "cached verdict (%s, %llds old)", cacache_verdict_name(e.verdict),
			 age > 0 ? age : 0);
		freeReplyObject(rep);
		decide_callahead_verdict(d, e.verdict == CACACHE_REJECT, how, e.where, e.text);
		return 0;
	}
	if (rep->element[2]->type == REDIS_REPLY_STRING) {
		char	why[200];

		log_printable(why, sizeof(why), rep->element[2]->str, rep->element[2]->len);
		snprintf(how, sizeof(how), "nothing cached, and %s:%u did not answer a probe lately (%s): "
			 "mhpolicyd accepts without a probe until that mark expires (mhlist cache purge "
			 "@%s drops it)", host, port, why, d->rcpt_addr.domain);
	} else {
		snprintf(how, sizeof(how), "nothing cached: mhpolicyd would probe now%s; explain does not "
			 "(mhlist check %s %s does); as if accepted", rep->element[1]->type == REDIS_REPLY_STRING
			 ? " (a probe of this address is in flight)" : "", d->rcpt_addr.domain, d->rcpt_addr.local);
	}
	freeReplyObject(rep);
	snprintf(key, sizeof(key), "%s:%u", host, port);
	decide_callahead_verdict(d, 0, how, key, "");
	return 0;
}

/* cmd_explain - the whole decision, printed */
int
cmd_explain(struct mhlist *m, int argc, char **argv)
{
	struct explain x = {.m = m};
	struct decide *d;
	struct store *st;
	struct decide_dnsbl_result res[DOMAIN_DNSBL_MAX];
	char	txts[DOMAIN_DNSBL_MAX][DNSQ_TXT_MAX + 1];
	const char *client = "", *sender, *rcpt, *mx_source = "";
	struct senderlist_hits hits;
	struct mx_set mx;
	uint64_t size = 0;
	int	have_size = 0, status = 0, userlisted = -1;
	enum senderlist_verdict verdict = SENDERLIST_NONE;
	const char *why = "";
	char	err[256], sees[2 * REPLY_TEXT_MAX + ADDRESS_TEXT_MAX + 64];
	enum store_result r;

	if (argc < 3)
		return mhlist_usage("explain", "explain needs a SENDER and a RCPT (use \"\" or <> for the null sender)");
	sender = argv[1];
	rcpt = argv[2];
	for (int i = 3; i < argc; i++) {
		unsigned char ip[16];

		if (i + 1 == argc)
			return mhlist_usage("explain", "%.40s needs a value", argv[i]);
		if (strcmp(argv[i], "--client") == 0) {
			client = argv[++i];
			if (inet_pton(AF_INET, client, ip) != 1 && inet_pton(AF_INET6, client, ip) != 1)
				return mhlist_fail(EX_DATAERR, "--client: \"%.60s\" is not an IP address", client);
		} else if (strcmp(argv[i], "--size") == 0) {
			if (units_parse_size(argv[++i], &size, err, sizeof(err)) < 0)
				return mhlist_fail(EX_DATAERR, "--size: %s", err);
			have_size = 1;
		} else {
			return mhlist_usage("explain", "unknown option \"%.40s\"", argv[i]);
		}
	}
	if ((d = malloc(sizeof(*d))) == NULL)
		return mhlist_fail(EX_OSERR, "out of memory");
	st = mhlist_store(m);
	decide_start(d, m->conf, rcpt, sender, client, 1);
	while (d->next != DECIDE_STEP_DONE) {
		switch (d->next) {
		case DECIDE_STEP_DOMAIN:
			r = store_domain_get(st, d->rcpt_addr.domain, &d->domain);
			if (r == STORE_ERROR)
				goto backend;
			decide_domain(d, r, &d->domain);
			break;
		case DECIDE_STEP_MX:
			decide_mx(d, explain_mx(&x, d->domain.name, &mx, &mx_source), &mx);
			break;
		case DECIDE_STEP_USERLIST:
			if ((r = store_user_exists(st, d->domain.name, d->rcpt_addr.local)) == STORE_ERROR)
				goto backend;
			userlisted = r == STORE_OK;
			decide_userlist(d, r);
			break;
		case DECIDE_STEP_SENDERLIST:
			if (store_senderlist_hits(st, d->domain.name, &d->sender, d->client_ip, &hits) == STORE_ERROR)
				goto backend;
			verdict = senderlist_decide(&hits, &why);
			decide_senderlist(d, STORE_OK, &hits);
			break;
		case DECIDE_STEP_DNSBL:
			for (size_t i = 0; i < d->domain.dnsbl_count; i++)
				explain_dnsbl(&x, d->domain.dnsbls[i], d->client_ip, &res[i], txts[i], sizeof(txts[i]));
			decide_dnsbl(d, res, d->domain.dnsbl_count);
			break;
		case DECIDE_STEP_CALLAHEAD:
			if (explain_callahead(st, d) < 0)
				goto backend;
			break;
		case DECIDE_STEP_DONE:
			break;
		}
	}

	/* what the client sees: Postfix prefixes policy rejects itself */
	if (d->reply.kind == REPLY_DUNNO) {
		snprintf(sees, sizeof(sees), "no refusal from mhpolicyd");
	} else {
		/* "CODE X.Y.Z text": Postfix puts its prefix after the code and DSN */
		const char *text = strchr(d->reply.text, ' ');

		text = text ? strchr(text + 1, ' ') : NULL;
		text = text ? text + 1 : d->reply.text;
		snprintf(sees, sizeof(sees), "%.*s <%s>: Recipient address rejected: %s",
			 (int) (text - d->reply.text - 1), d->reply.text, d->rcpt, text);
	}

	if (m->json) {
		json_t *o = json_object();
		json_t *steps = json_array();
		json_t *milter = json_array();

		for (size_t i = 0; i < d->ntrace; i++)
			json_array_append_new(steps, json_string(d->trace[i]));
		json_object_set_new(o, "sender", json_string(sender));
		json_object_set_new(o, "recipient", json_string(d->rcpt));
		json_object_set_new(o, "client", json_string(d->client_ip));
		json_object_set_new(o, "steps", steps);
		json_object_set_new(o, "mx_source", json_string(mx_source));
		json_object_set_new(o, "action", json_string(d->reply.text));
		json_object_set_new(o, "client_sees", json_string(sees));
		if (userlisted == 0)
			json_array_append_new(milter, json_string("550 5.1.1 User unknown (user list)"));
		if (verdict == SENDERLIST_BLACK)
			json_array_append_new(milter, json_string("550 5.7.1 Sender address rejected: Access denied"));
		if (have_size && d->domain.name[0] && size > d->domain.max_size)
			json_array_append_new(milter, json_string("552 5.3.4 Message size exceeds fixed limit"));
		json_object_set_new(o, "mhmilter", milter);
		output_json(o);
	} else {
		char	limit[32];

		printf("explain: from=<%s> to=<%s> client=[%s]\n", sender, d->rcpt,
		       d->client_ip[0] ? d->client_ip : "unknown");
		for (size_t i = 0; i < d->ntrace; i++)
			printf("  %s\n", d->trace[i]);
		if (*mx_source)
			printf("  (MX set from the %s)\n", mx_source);
		printf("mhpolicyd answers Postfix: %s\n", d->reply.text);
		printf("the client sees: %s\n", sees);
		if (userlisted == 0)
			printf("then mhmilter: 550 5.1.1 <%s>: Recipient address rejected: User unknown\n", d->rcpt);
		if (verdict == SENDERLIST_BLACK)
			printf("then mhmilter: 550 5.7.1 <%s>: Sender address rejected: Access denied (%s)\n",
			       sender, why);
		if (have_size && d->domain.name[0] && size > d->domain.max_size)
			printf("then mhmilter: 552 5.3.4 Message size exceeds fixed limit (%llu > max_size %s)\n",
			       (unsigned long long) size, units_format_size(d->domain.max_size, limit, sizeof(limit)));
	}
	goto done;

backend:
	status = mhlist_backend(m);
done:
	decide_end(d);
	free(d);
	if (x.dns)
		dnsq_free(x.dns);
	if (x.base)
		event_base_free(x.base);
	return status;
}
