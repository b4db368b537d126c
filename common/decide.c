/*
 * decide.c - the recipient decision of the relay and backup roles.
 *
 * One decision, in SPEC order, as a step machine that does no I/O: the
 * caller (mhpolicyd's event loop, or `mhlist explain`) looks up what
 * d->next names and reports it with the matching decide_*() call, until
 * d->next is DECIDE_STEP_DONE and d->reply holds the answer. So the
 * daemon and the CLI run the very same decision code, and a step that
 * waits on the network (DNS, a call-ahead) is just a pause between calls.
 *
 * The steps, first decisive one wins:
 *   1. domain: not ours -> DUNNO (Postfix's reject_unauth_destination);
 *   2. MX: relay domain with a more preferred MX -> DUNNO, forwarded
 *      unprocessed; backup domain where this node is the most preferred
 *      MX -> 550 5.7.1; no MX or DNS failure -> as configured;
 *   3. user list (when on): a missing local part -> DUNNO: mhmilter
 *      refuses it with 550 5.1.1; we only skip the work;
 *   4. sender lists: blacklisted -> DUNNO (mhmilter refuses);
 *      whitelisted -> no DNSBL;
 *   5. DNSBL zones of the domain, in order: listed -> 554 5.7.1;
 *      127.255.255.0/24 answers and lookup failures are ignored;
 *   6. call-ahead (its own module) -> DUNNO when it passes; for a relay
 *      domain with `pin` on: "FILTER smtp:[dest]:port", which Postfix
 *      stores in the queue file, so the route is the one of receipt.
 * A backend failure at any step gives policyd.on_backend_error: defer
 * (451 4.3.0) or DUNNO.
 *
 * Reply texts are what Postfix is handed: it prefixes every policy
 * reject with "<RCPT>: Recipient address rejected: " itself, so the
 * client sees e.g. "550 5.7.1 <bob@example.com>: Recipient address
 * rejected: relay1.example.net is the highest-priority MX for ...".
 *
 * Every step adds one line to d->trace, which explain prints and the
 * daemon logs with -v.
 *
 * Public functions: see decide.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "log.h"

/* decide_trace - remember one step */
static void
decide_trace(struct decide *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
decide_trace(struct decide *d, const char *fmt, ...)
{
	va_list	ap;

	if (d->trace == NULL || d->ntrace == DECIDE_TRACE_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(d->trace[d->ntrace++], DECIDE_TRACE_LEN, fmt, ap);
	va_end(ap);
}

/* decide_done_dunno - final: no opinion */
static void
decide_done_dunno(struct decide *d)
{
	reply_dunno(&d->reply);
	d->next = DECIDE_STEP_DONE;
}

/* decide_backend_error - final: Redis failed, per policyd.on_backend_error */
static void
decide_backend_error(struct decide *d, const char *what)
{
	if (d->conf->policyd_on_backend_error == CONF_BACKEND_DUNNO) {
		decide_trace(d, "%s: backend unavailable: DUNNO (on_backend_error = dunno)", what);
		decide_done_dunno(d);
		return;
	}
	decide_trace(d, "%s: backend unavailable: defer (on_backend_error = defer)", what);
	reply_set(&d->reply, "451", "4.3.0", "Temporary lookup failure");
	d->next = DECIDE_STEP_DONE;
}

/* decide_start - parse what Postfix gave */
void
decide_start(struct decide *d, const struct conf *conf, const char *rcpt,
	     const char *sender, const char *client_ip, int trace)
{
	char	err[200];
	unsigned char ip[16];

	/* no memset of the whole (large) struct: every field is set before use */
	d->conf = conf;
	d->client_ip[0] = 0;
	d->mx.count = 0;
	d->mx_status = MX_STATUS_NONE;
	d->whitelisted = 0;
	d->ntrace = 0;
	d->trace = NULL;
	reply_dunno(&d->reply);
	memset(&d->rcpt_addr, 0, sizeof(d->rcpt_addr));
	memset(&d->sender, 0, sizeof(d->sender));
	d->domain.name[0] = 0;
	d->domain.dnsbl_count = 0;
	if (trace && (d->trace = calloc(DECIDE_TRACE_MAX, sizeof(*d->trace))) == NULL)
		msg_panic("decide: out of memory");
	if (client_ip && strlen(client_ip) < sizeof(d->client_ip)
	    && (inet_pton(AF_INET, client_ip, ip) == 1 || inet_pton(AF_INET6, client_ip, ip) == 1))
		memcpy(d->client_ip, client_ip, strlen(client_ip) + 1);
	if (address_parse(rcpt, strlen(rcpt), &d->rcpt_addr, err, sizeof(err)) < 0
	    || d->rcpt_addr.null || address_domain_is_literal(&d->rcpt_addr)) {
		snprintf(d->rcpt, sizeof(d->rcpt), "%.200s", rcpt);
		decide_trace(d, "recipient: not a domain address (%s): DUNNO",
			     d->rcpt_addr.null ? "empty" : address_domain_is_literal(&d->rcpt_addr) ?
			     "address literal" : err);
		decide_done_dunno(d);
		return;
	}
	address_format(&d->rcpt_addr, d->rcpt, sizeof(d->rcpt));
	if (sender == NULL || address_parse(sender, strlen(sender), &d->sender, err, sizeof(err)) < 0) {
		memset(&d->sender, 0, sizeof(d->sender));
		d->sender.null = 1;
		decide_trace(d, "sender: unparseable (%s): only the client IP is checked against lists",
			     sender ? err : "missing");
	}
	d->next = DECIDE_STEP_DOMAIN;
}

/* decide_end - release the trace */
void
decide_end(struct decide *d)
{
	free(d->trace);
	d->trace = NULL;
}

/* decide_domain - is the recipient domain ours */
void
decide_domain(struct decide *d, enum store_result res, const struct domain *domain)
{
	switch (res) {
	case STORE_ERROR:
		decide_backend_error(d, "domain");
		return;
	case STORE_NOTFOUND:
		decide_trace(d, "domain: %s is not ours: DUNNO (reject_unauth_destination decides)",
			     d->rcpt_addr.domain);
		decide_done_dunno(d);
		return;
	case STORE_OK:
		break;
	}
	if (domain != &d->domain)
		d->domain = *domain;
	if (domain->service == DOMAIN_SERVICE_RELAY)
		decide_trace(d, "domain: %s is a relay domain (dest %s port %u)", domain->name,
			     domain->dest, domain->port);
	else
		decide_trace(d, "domain: %s is a backup domain", domain->name);
	d->next = DECIDE_STEP_MX;
}

/* decide_after_mx - user list when on, else sender lists */
static void
decide_checks(struct decide *d)
{
	d->next = d->domain.userlist ? DECIDE_STEP_USERLIST : DECIDE_STEP_SENDERLIST;
}

/* decide_mx - where this node stands among the domain's MX hosts */
void
decide_mx(struct decide *d, int dns_ok, const struct mx_set *mx)
{
	const char *ours = "";
	const struct mx_host *best;

	if (!dns_ok) {
		d->mx_status = MX_STATUS_NONE;
		decide_trace(d, "mx: lookup for %s failed: processed as configured", d->domain.name);
		decide_checks(d);
		return;
	}
	if (mx != &d->mx)
		d->mx = *mx;
	d->mx_status = mx_status(mx, d->conf->node_hostnames.items, d->conf->node_hostnames.count, &ours);
	best = mx_best_other(mx, d->conf->node_hostnames.items, d->conf->node_hostnames.count);
	switch (d->mx_status) {
	case MX_STATUS_NONE:
		decide_trace(d, "mx: %s has no MX records: processed as configured", d->domain.name);
		break;
	case MX_STATUS_PRIMARY:
		decide_trace(d, "mx: this node (%s) is the most preferred MX of %s", ours, d->domain.name);
		if (d->domain.service == DOMAIN_SERVICE_BACKUP) {
			reply_set(&d->reply, "550", "5.7.1", "%s is the highest-priority MX for %s; "
				  "a backup MX cannot accept its mail", ours, d->domain.name);
			d->next = DECIDE_STEP_DONE;
			return;
		}
		break;
	case MX_STATUS_SECONDARY:
		decide_trace(d, "mx: %s (preference %u) is more preferred than this node%s",
			     best ? best->name : "?", best ? best->pref : 0,
			     *ours ? "" : " (this node is not listed)");
		if (d->domain.service == DOMAIN_SERVICE_RELAY) {
			decide_trace(d, "mx: relay domain with a more preferred MX: accepted and "
				     "forwarded to it unprocessed: DUNNO");
			decide_done_dunno(d);
			return;
		}
		break;
	}
	decide_checks(d);
}

/* decide_userlist - only to skip work: mhmilter enforces the list */
void
decide_userlist(struct decide *d, enum store_result res)
{
	switch (res) {
	case STORE_ERROR:
		decide_backend_error(d, "userlist");
		return;
	case STORE_NOTFOUND:
		decide_trace(d, "userlist: %s is not listed: mhmilter refuses it (550 5.1.1); "
			     "no further checks here: DUNNO", d->rcpt_addr.local);
		decide_done_dunno(d);
		return;
	case STORE_OK:
		decide_trace(d, "userlist: %s is listed", d->rcpt_addr.local);
		d->next = DECIDE_STEP_SENDERLIST;
		return;
	}
}

/* decide_senderlist - black: mhmilter refuses; white: no DNSBL */
void
decide_senderlist(struct decide *d, enum store_result res, const struct senderlist_hits *hits)
{
	const char *why = "";

	if (res == STORE_ERROR) {
		decide_backend_error(d, "senderlist");
		return;
	}
	switch (senderlist_decide(hits, &why)) {
	case SENDERLIST_BLACK:
		decide_trace(d, "senderlist: blacklisted by the %s: mhmilter refuses it (550 5.7.1): DUNNO", why);
		decide_done_dunno(d);
		return;
	case SENDERLIST_WHITE:
		decide_trace(d, "senderlist: whitelisted by the %s: no DNSBL check", why);
		d->whitelisted = 1;
		d->next = DECIDE_STEP_CALLAHEAD;
		return;
	case SENDERLIST_NONE:
		decide_trace(d, "senderlist: no entry matches");
		break;
	}
	if (d->domain.dnsbl_count == 0 || d->client_ip[0] == 0) {
		decide_trace(d, "dnsbl: %s", d->domain.dnsbl_count ? "client IP unknown: skipped"
			     : "no zones configured");
		d->next = DECIDE_STEP_CALLAHEAD;
		return;
	}
	d->next = DECIDE_STEP_DNSBL;
}

/* decide_dnsbl - first listing zone, in configured order, rejects */
void
decide_dnsbl(struct decide *d, const struct decide_dnsbl_result *res, size_t count)
{
	char	txt[REPLY_REMOTE_MAX + 1];

	for (size_t i = 0; i < count && i < d->domain.dnsbl_count; i++) {
		const char *zone = d->domain.dnsbls[i];

		switch (res[i].answer) {
		case DNSBL_ANSWER_LISTED:
			decide_trace(d, "dnsbl: %s lists %s", zone, d->client_ip);
			if (res[i].txt && *res[i].txt) {
				reply_remote(txt, sizeof(txt), res[i].txt, strlen(res[i].txt));
				reply_set(&d->reply, "554", "5.7.1", "Service unavailable; Client host [%s] "
					  "blocked using %s; %s", d->client_ip, zone, txt);
			} else {
				reply_set(&d->reply, "554", "5.7.1", "Service unavailable; Client host [%s] "
					  "blocked using %s", d->client_ip, zone);
			}
			d->next = DECIDE_STEP_DONE;
			return;
		case DNSBL_ANSWER_ERRCODE:
			decide_trace(d, "dnsbl: %s answered with an error code (127.255.255.0/24): ignored", zone);
			break;
		case DNSBL_ANSWER_FAILED:
			decide_trace(d, "dnsbl: %s lookup failed: ignored", zone);
			break;
		case DNSBL_ANSWER_CLEAN:
			decide_trace(d, "dnsbl: %s does not list %s", zone, d->client_ip);
			break;
		}
	}
	d->next = DECIDE_STEP_CALLAHEAD;
}

/* decide_callahead - the seam the call-ahead plugs into; then the route of a pinned domain */
void
decide_callahead(struct decide *d)
{
	char	route[DOMAIN_NAME_MAX + 32];

	if (d->domain.pin && d->domain.service == DOMAIN_SERVICE_RELAY
	    && d->mx_status != MX_STATUS_SECONDARY && d->domain.dest[0]) {
		decide_transport(&d->domain, d->mx_status, route, sizeof(route));
		decide_trace(d, "result: recipient checks passed; pinned domain: route fixed now: FILTER %s", route);
		d->reply.kind = REPLY_DUNNO;
		snprintf(d->reply.text, sizeof(d->reply.text), "FILTER %s", route);
		d->next = DECIDE_STEP_DONE;
		return;
	}
	decide_trace(d, "result: recipient checks passed: DUNNO");
	decide_done_dunno(d);
}

/* decide_callahead_target - see decide.h */
int
decide_callahead_target(const struct decide *d, char *host, size_t hostlen, unsigned *port)
{
	const struct mx_host *best;

	if (!d->domain.callahead)
		return 0;
	if (d->domain.service == DOMAIN_SERVICE_RELAY) {
		size_t	n = strlen(d->domain.dest);

		if (n == 0 || n >= hostlen)
			return 0;
		memcpy(host, d->domain.dest, n + 1);	/* on every cached RCPT: no snprintf */
		*port = d->domain.port;
		return 1;
	}
	if (d->mx_status == MX_STATUS_NONE
	    || (best = mx_best_other(&d->mx, d->conf->node_hostnames.items,
				     d->conf->node_hostnames.count)) == NULL)
		return 0;
	snprintf(host, hostlen, "%s", best->name);
	*port = 25;
	return 1;
}

/* decide_callahead_verdict - see decide.h */
void
decide_callahead_verdict(struct decide *d, int reject, const char *how, const char *where,
			 const char *text)
{
	if (reject) {
		/* Postfix puts "<rcpt>: Recipient address rejected: " in front */
		reply_set(&d->reply, "550", "5.1.1", "User unknown (verified at %s: \"%s\")", where, text);
		decide_trace(d, "callahead: %s at %s: user unknown (\"%s\")", how, where, text);
		d->next = DECIDE_STEP_DONE;
		return;
	}
	decide_trace(d, "callahead: %s at %s%s%s%s", how, where, text[0] ? ": \"" : "", text,
		     text[0] ? "\"" : "");
	decide_callahead(d);
}

const char *
decide_step_name(enum decide_step s)
{
	static const char *const names[] = {"domain", "mx", "userlist", "senderlist", "dnsbl",
	"callahead", "done"};

	return names[s];
}

/* decide_transport - route for transport_maps */
char   *
decide_transport(const struct domain *d, enum mx_status status, char *buf, size_t len)
{
	if (d->service == DOMAIN_SERVICE_RELAY && status != MX_STATUS_SECONDARY && d->dest[0])
		snprintf(buf, len, "smtp:[%s]:%u", d->dest, d->port);
	else
		snprintf(buf, len, "smtp:");
	return buf;
}
