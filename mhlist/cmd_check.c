/*
 * cmd_check.c - mhlist check DOMAIN: is a customer domain set up right?
 *
 *   mx     the domain's MX records (asked of DNS now, dns.servers), in
 *          order, with this node's names (node.hostnames) marked, and what
 *          that means for the domain's service (the SPEC's MX cases);
 *   spf    the domain's SPF record, if any;
 *   dest   where its mail goes (relay: dest:port; backup: the most
 *          preferred other MX on port 25), connected to with
 *          callahead.connect_timeout, its banner read with
 *          callahead.reply_timeout (at most CHECK_BANNER_MAX bytes, made
 *          printable): reachable or not, and why.
 * The call-ahead probe itself comes with the call-ahead.
 *
 * Exit: 0 every check passed, 1 a check found a problem (each printed as
 * "problem: ..."), 64 usage, 65 unknown domain, 69 Redis unavailable.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "dnsq.h"
#include "dnswait.h"
#include "log.h"
#include "mhlist.h"
#include "mx.h"
#include "output.h"
#include "reply.h"

#define CHECK_BANNER_MAX	512	/* bytes of a banner we read */
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

/* check_elapsed_ms - milliseconds since t0 */
static long
check_elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * check_connect - TCP connect with a timeout and read the banner's first
 * line; 0 with the banner in out, -1 with why in out.
 */
static int
check_connect(const char *host, unsigned port, uint64_t connect_ms, uint64_t reply_ms,
	      char *out, size_t outlen)
{
	struct addrinfo hints = {0}, *ai = NULL, *a;
	char	service[8], buf[CHECK_BANNER_MAX + 1];
	int	fd = -1, rc;
	size_t	got = 0;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &ai)) != 0) {
		snprintf(out, outlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	snprintf(out, outlen, "no address");
	for (a = ai; a && fd < 0; a = a->ai_next) {
		struct pollfd p;
		int	err = 0;
		socklen_t elen = sizeof(err);

		if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			snprintf(out, outlen, "connect: %s", strerror(errno));
			goto next;
		}
		p.fd = fd;
		p.events = POLLOUT;
		if ((rc = poll(&p, 1, (int) connect_ms)) <= 0) {
			snprintf(out, outlen, "connect: %s", rc == 0 ? "timed out" : strerror(errno));
			goto next;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
			snprintf(out, outlen, "connect: %s", strerror(err ? err : errno));
			goto next;
		}
		break;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return -1;

	/* the banner's first line, within reply_ms */
	{
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (got < CHECK_BANNER_MAX && memchr(buf, '\n', got) == NULL) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			long	left = (long) reply_ms - check_elapsed_ms(&t0);
			ssize_t	n;

			if (left <= 0 || poll(&p, 1, (int) left) <= 0) {
				snprintf(out, outlen, "connected, but no banner within %llu ms",
					 (unsigned long long) reply_ms);
				close(fd);
				return -1;
			}
			if ((n = read(fd, buf + got, CHECK_BANNER_MAX - got)) <= 0) {
				snprintf(out, outlen, "connected, but closed before a banner");
				close(fd);
				return -1;
			}
			got += (size_t) n;
		}
	}
	if (write(fd, "QUIT\r\n", 6) < 0 && msg_verbose)
		msg_info("%s:%u: QUIT: %s", host, port, strerror(errno));
	close(fd);
	buf[got] = 0;
	{
		size_t	line = strcspn(buf, "\r\n");

		if (line > got)
			line = got;
		reply_remote(out, outlen, buf, line);
	}
	if (out[0] != '2') {
		char	tmp[REPLY_REMOTE_MAX + 40];

		snprintf(tmp, sizeof(tmp), "banner is not 2xx: %.200s", out);
		snprintf(out, outlen, "%s", tmp);
		return -1;
	}
	return 0;
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

	if (argc != 2)
		return mhlist_usage("check", "check needs exactly one DOMAIN");
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
		reachable = check_connect(target, target_port, m->conf->callahead_connect_timeout_ms,
					  m->conf->callahead_reply_timeout_ms, dest_result,
					  sizeof(dest_result)) == 0;
		if (!reachable)
			check_problem(problems, &nproblems, "dest: %s:%u: %s", target, target_port, dest_result);
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
