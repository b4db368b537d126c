/*
 * cmd_check.c - mhlist check DOMAIN: is a customer domain set up right?
 *
 *   mx     the domain's MX records (asked of DNS now, dns.servers), in
 *          order, with this node's names (node.hostnames) marked, and what
 *          that means for the domain's service (the SPEC's MX cases);
 *   spf    the domain's SPF record, if any;
 *   dest   where its mail goes (relay: dest:port; backup: the most
 *          preferred other MX on port 25): reachable (its banner, from the
 *          test call-ahead below) or not, and why.
 *   callahead  a test call-ahead, as mhpolicyd makes it (policyd/probe.c,
 *          the callahead.* settings), for LOCAL@DOMAIN, by default a
 *          local part that should not exist (mhkit-check-RANDOM): the
 *          verdict and the whole transcript. A server that accepts an
 *          address that cannot exist makes the call-ahead useless: with
 *          callahead on, that is a problem.
 *
 *   mhlist check DOMAIN [LOCAL]
 *
 * Exit: 0 every check passed, 1 a check found a problem (each printed as
 * "problem: ..."), 64 usage, 65 unknown domain, 69 Redis unavailable.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "dnsq.h"
#include "dnswait.h"
#include "log.h"
#include "mhlist.h"
#include "mx.h"
#include "output.h"
#include "probe.h"
#include "reply.h"

#define CHECK_PROBLEMS_MAX	8

/* check_problem - note one problem (at most CHECK_PROBLEMS_MAX) */
static void
check_problem(char (*list)[400], size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
check_problem(char (*list)[400], size_t *n, const char *fmt, ...)
{
	va_list	ap;

	if (*n == CHECK_PROBLEMS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(list[(*n)++], 400, fmt, ap);
	va_end(ap);
}

/* the test call-ahead's result, kept from the callback */
struct check_probe {
	int	done;
	struct probe_result res;
	char	transcript[PROBE_TRANSCRIPT_MAX + 1];
};

static void
check_probed(const struct probe_result *r, void *arg)
{
	struct check_probe *cp = arg;

	cp->res = *r;
	snprintf(cp->transcript, sizeof(cp->transcript), "%s", r->transcript);
	cp->res.transcript = cp->transcript;
	cp->done = 1;
}

/* check_callahead - the test call-ahead to host:port for rcpt; 0, or -1 when it could not start */
static int
check_callahead(struct mhlist *m, struct event_base *base, struct dnsq *dns, const char *host,
		unsigned port, const char *rcpt, struct check_probe *cp)
{
	struct probe_spec spec;
	char	helo[256];

	if (m->conf->callahead_helo[0])
		snprintf(helo, sizeof(helo), "%s", m->conf->callahead_helo);
	else if (m->conf->node_hostnames.count)
		snprintf(helo, sizeof(helo), "%s", m->conf->node_hostnames.items[0]);
	else if (gethostname(helo, sizeof(helo) - 1) < 0 || helo[0] == 0)
		snprintf(helo, sizeof(helo), "localhost");
	memset(&spec, 0, sizeof(spec));
	spec.host = host;
	spec.port = port;
	spec.helo = helo;
	spec.sender = m->conf->callahead_probe_sender;
	spec.rcpt = rcpt;
	spec.connect_timeout_ms = m->conf->callahead_connect_timeout_ms;
	spec.reply_timeout_ms = m->conf->callahead_reply_timeout_ms;
	spec.transcript = 1;
	if (probe_start(base, dns, &spec, check_probed, cp) == NULL)
		return -1;
	while (!cp->done && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	return cp->done ? 0 : -1;
}

/* cmd_check - every check of one domain */
int
cmd_check(struct mhlist *m, int argc, char **argv)
{
	char	name[DOMAIN_NAME_MAX + 1], err[300], mxtext[MX_TEXT_MAX];
	char	problems[CHECK_PROBLEMS_MAX][400], dest_result[REPLY_REMOTE_MAX + 200];
	const char *ours = "", *spf = NULL, *target = NULL;
	size_t	nproblems = 0;
	unsigned target_port = 25;
	struct dnswait mxr = {0}, txtr = {0};
	struct event_base *base = NULL;
	struct dnsq *dns = NULL;
	struct domain d;
	enum mx_status status = MX_STATUS_NONE;
	const struct mx_host *best;
	int	reachable = 0, statuscode;

	struct check_probe cp = {0};
	char	rcpt[ADDRESS_TEXT_MAX + 1], local[ADDRESS_LOCAL_MAX + 1];
	int	probed = 0;

	if (argc != 2 && argc != 3)
		return mhlist_usage("check", "check needs a DOMAIN and at most one LOCAL part");
	if (argc == 3) {
		if (argv[2][0] == 0 || strlen(argv[2]) > ADDRESS_LOCAL_MAX || strpbrk(argv[2], "@<> \t\r\n"))
			return mhlist_usage("check", "check: \"%s\" is not a local part", argv[2]);
		snprintf(local, sizeof(local), "%s", argv[2]);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(local, sizeof(local), "mhkit-check-%lx%04lx", (unsigned long) ts.tv_sec,
			 (unsigned long) (ts.tv_nsec / 1000) & 0xffff);
	}
	if ((statuscode = mhlist_domain_arg(argv[1], name, sizeof(name))) != 0)
		return statuscode;
	statuscode = mhlist_found(m, store_domain_get(mhlist_store(m), name, &d), "domain", name);
	if (statuscode != 0)
		return statuscode;

	/* DNS: MX and TXT at once */
	if ((base = event_base_new()) == NULL || (dns = dnsq_new(base, m->conf, err, sizeof(err))) == NULL) {
		statuscode = mhlist_fail(EX_CONFIG, "dns: %s", dns ? "" : err);
		goto done;
	}
	if (dnsq_mx(dns, name, dnswait_mx, &mxr) < 0 || dnsq_txt(dns, name, dnswait_txt, &txtr) < 0) {
		statuscode = mhlist_fail(EX_OSERR, "dns: cannot start a query");
		goto done;
	}
	dnswait_for(base, &mxr);
	dnswait_for(base, &txtr);

	if (mxr.status == DNSQ_OK || mxr.status == DNSQ_NXDOMAIN || mxr.status == DNSQ_NODATA) {
		status = mx_status(&mxr.mx, m->conf->node_hostnames.items, m->conf->node_hostnames.count, &ours);
		mx_set_format(&mxr.mx, mxtext, sizeof(mxtext));
		if (mxr.status == DNSQ_NXDOMAIN)
			check_problem(problems, &nproblems, "mx: %s does not exist in DNS", name);
		else if (mxr.mx.count == 0)
			check_problem(problems, &nproblems, "mx: %s has no MX records: the world cannot find its mail servers", name);
		else if (d.service == DOMAIN_SERVICE_RELAY && status == MX_STATUS_SECONDARY)
			check_problem(problems, &nproblems, "mx: a relay domain, but %s: its mail is forwarded unprocessed",
				*ours ? "a more preferred MX than this node exists" : "this node is not in its MX records");
		else if (d.service == DOMAIN_SERVICE_BACKUP && status == MX_STATUS_PRIMARY)
			check_problem(problems, &nproblems, "mx: a backup domain, but this node (%s) is its most preferred MX: its mail is refused", ours);
		else if (d.service == DOMAIN_SERVICE_BACKUP && *ours == 0)
			check_problem(problems, &nproblems, "mx: a backup domain, but this node is not in its MX records");
	} else {
		snprintf(mxtext, sizeof(mxtext), "lookup failed: %s", dnsq_status_name(mxr.status));
		check_problem(problems, &nproblems, "mx: lookup failed (%s)", dnsq_status_name(mxr.status));
	}
	if (txtr.status == DNSQ_OK && strncasecmp(txtr.txt, "v=spf1", 6) == 0)
		spf = txtr.txt;

	/* where the mail goes */
	if (d.service == DOMAIN_SERVICE_RELAY) {
		target = d.dest;
		target_port = d.port;
	} else if ((best = mx_best_other(&mxr.mx, m->conf->node_hostnames.items,
					 m->conf->node_hostnames.count)) != NULL) {
		target = best->name;
	}
	if (target) {
		snprintf(rcpt, sizeof(rcpt), "%s@%s", local, name);
		if (check_callahead(m, base, dns, target, target_port, rcpt, &cp) < 0) {
			statuscode = mhlist_fail(EX_OSERR, "callahead: cannot start the probe");
			goto done;
		}
		probed = 1;
		/* reachable: the banner came, and was 2xx (the transcript's first reply) */
		{
			const char *b = strstr(cp.transcript, "<<< "), *nl;

			reachable = b != NULL && b[4] == '2';
			if (b && (nl = strchr(b, '\n')) != NULL)
				snprintf(dest_result, sizeof(dest_result), "%.*s", (int) (nl - b - 4), b + 4);
			else
				snprintf(dest_result, sizeof(dest_result), "%s", cp.res.why);
			if (b && !reachable)
				snprintf(dest_result, sizeof(dest_result), "banner is not 2xx: %.*s",
					 nl ? (int) (nl - b - 4) : 0, b + 4);
		}
		if (!reachable)
			check_problem(problems, &nproblems, "dest: %s:%u: %s", target, target_port, dest_result);
		else if (cp.res.outcome == PROBE_INCONCLUSIVE)
			check_problem(problems, &nproblems, "callahead: %s: inconclusive: %s", rcpt, cp.res.why);
		else if (cp.res.outcome == PROBE_ACCEPT && argc == 2 && d.callahead)
			check_problem(problems, &nproblems, "callahead: %s accepts %s, an address that "
				      "cannot exist: the call-ahead cannot refuse unknown users "
				      "(have the server reject them, or set callahead off)",
				      cp.res.where, rcpt);
		else if (cp.res.outcome == PROBE_REJECT && argc == 3)
			check_problem(problems, &nproblems, "callahead: %s refuses %s: %d %s",
				      cp.res.where, rcpt, cp.res.code, cp.res.text);
	} else {
		snprintf(dest_result, sizeof(dest_result), "no destination (no other MX)");
		check_problem(problems, &nproblems, "dest: nowhere to forward to");
	}

	if (m->json) {
		json_t *o = json_object(), *arr = json_array();

		json_object_set_new(o, "domain", json_string(name));
		json_object_set_new(o, "service", json_string(d.service == DOMAIN_SERVICE_RELAY ? "relay" : "backup"));
		json_object_set_new(o, "mx", json_string(mxtext));
		json_object_set_new(o, "mx_standing", json_string(mx_status_name(status)));
		json_object_set_new(o, "this_node", json_string(ours));
		json_object_set_new(o, "spf", spf ? json_string(spf) : json_null());
		json_object_set_new(o, "dest", target ? json_string(target) : json_null());
		json_object_set_new(o, "port", json_integer(target_port));
		json_object_set_new(o, "reachable", json_boolean(reachable));
		json_object_set_new(o, "dest_result", json_string(dest_result));
		if (probed) {
			json_t *ca = json_object();

			json_object_set_new(ca, "address", json_string(rcpt));
			json_object_set_new(ca, "outcome", json_string(probe_outcome_name(cp.res.outcome)));
			json_object_set_new(ca, "code", json_integer(cp.res.code));
			json_object_set_new(ca, "text", json_string(cp.res.text));
			json_object_set_new(ca, "why", json_string(cp.res.why));
			json_object_set_new(ca, "ms", json_integer((json_int_t) cp.res.elapsed_ms));
			json_object_set_new(ca, "transcript", json_string(cp.transcript));
			json_object_set_new(o, "callahead", ca);
		}
		for (size_t i = 0; i < nproblems; i++)
			json_array_append_new(arr, json_string(problems[i]));
		json_object_set_new(o, "problems", arr);
		output_json(o);
	} else {
		printf("domain  %s (%s)\n", name, d.service == DOMAIN_SERVICE_RELAY ? "relay" : "backup");
		printf("mx      %s\n", mxtext[0] ? mxtext : "(none)");
		printf("        this node: %s; standing: %s\n", *ours ? ours : "not listed", mx_status_name(status));
		printf("spf     %s\n", spf ? spf : "(no SPF record)");
		if (target)
			printf("dest    %s:%u: %s%s\n", target, target_port, reachable ? "reachable: " : "", dest_result);
		if (probed) {
			const char *p = cp.transcript, *nl;

			printf("callahead %s: %s (%s, %llu ms)%s\n", rcpt, probe_outcome_name(cp.res.outcome),
			       cp.res.why, (unsigned long long) cp.res.elapsed_ms, d.callahead ? "" :
			       " [callahead is off for this domain]");
			while ((nl = strchr(p, '\n')) != NULL) {
				printf("        | %.*s\n", (int) (nl - p), p);
				p = nl + 1;
			}
		}
		for (size_t i = 0; i < nproblems; i++)
			printf("problem: %s\n", problems[i]);
	}
	statuscode = nproblems ? 1 : 0;
done:
	if (dns)
		dnsq_free(dns);
	if (base)
		event_base_free(base);
	return statuscode;
}
