/*
 * dnsq_probe.c - drive policyd/dnsq.c from a shell test.
 *
 *   dnsq_probe [-c FILE] [-v] [--free-after MS] [--free-in-callback] TYPE NAME... [TYPE NAME...]...
 *
 * Reads dns.servers and dns.timeout from -c FILE (conf_load; built-in
 * defaults without it), starts every query at once on one event loop
 * (TYPE is mx, a or txt and applies to the names after it) and prints
 * one line per answer, in the order the answers come, flushed at once:
 *
 *   NAME TYPE STATUS TTL DATA ms=ELAPSED
 *
 * STATUS is dnsq_status_name(); DATA is "10 mx1.example.com,20 mx2.example.com"
 * for MX, "127.0.0.2,127.0.0.4" for A, the text for TXT, "-" when there
 * is none; ELAPSED is milliseconds since the queries were started. Then
 * "elapsed ms=N answers=N". --free-after MS calls dnsq_free after MS
 * milliseconds (the rest answer "cancelled"); --free-in-callback calls it
 * from inside the first callback. dnsq's warnings go to stderr.
 * Exit 0 when every query got its one callback, 1 otherwise, 64 on usage
 * errors, 78 when the config is bad.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conf.h"
#include "dnsq.h"
#include "log.h"
#include "mx.h"

#define PROBE_QUERIES_MAX	1000	/* names on one command line */

/* one query and what came back */
struct probe_query {
	const char *name;
	const char *type;
	int	calls;			/* callbacks seen: must end at 1 */
};

static struct event_base *probe_base;
static struct dnsq *probe_dnsq;
static struct timespec probe_start;
static size_t probe_outstanding;
static size_t probe_answers;
static int probe_free_in_callback;

/* probe_usage - print usage and exit 64 */
static void
probe_usage(const char *why)
{
	fprintf(stderr, "dnsq_probe: %s\n"
		"usage: dnsq_probe [-c FILE] [-v] [--free-after MS] [--free-in-callback]"
		" mx|a|txt NAME... [mx|a|txt NAME...]...\n", why);
	exit(64);
}

/* probe_elapsed_ms - milliseconds since the queries started */
static long
probe_elapsed_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long) ((now.tv_sec - probe_start.tv_sec) * 1000
		       + (now.tv_nsec - probe_start.tv_nsec) / 1000000);
}

/* probe_answer - print one answer line; stop the loop after the last */
static void
probe_answer(struct probe_query *pq, enum dnsq_status s, uint32_t ttl, const char *data)
{
	pq->calls++;
	probe_answers++;
	printf("%s %s %s %u %s ms=%ld\n", pq->name, pq->type, dnsq_status_name(s), ttl,
	       *data ? data : "-", probe_elapsed_ms());
	fflush(stdout);
	if (--probe_outstanding == 0)
		event_base_loopbreak(probe_base);
	if (probe_free_in_callback && probe_dnsq) {
		struct dnsq *q = probe_dnsq;

		probe_dnsq = NULL;
		dnsq_free(q);
	}
}

/* probe_mx_done - dnsq_mx_cb */
static void
probe_mx_done(enum dnsq_status s, const struct mx_set *set, uint32_t ttl, void *arg)
{
	char	text[MX_TEXT_MAX];

	probe_answer(arg, s, ttl, mx_set_format(set, text, sizeof(text)) ? text : "?");
}

/* probe_a_done - dnsq_a_cb */
static void
probe_a_done(enum dnsq_status s, const unsigned char (*addrs)[4], size_t count, uint32_t ttl,
	     void *arg)
{
	char	text[DNSQ_A_MAX * 16 + 1];
	size_t	used = 0;

	text[0] = 0;
	for (size_t i = 0; i < count; i++)
		used += (size_t) snprintf(text + used, sizeof(text) - used, "%s%u.%u.%u.%u",
					  i ? "," : "", addrs[i][0], addrs[i][1], addrs[i][2],
					  addrs[i][3]);
	probe_answer(arg, s, ttl, text);
}

/* probe_txt_done - dnsq_txt_cb */
static void
probe_txt_done(enum dnsq_status s, const char *txt, uint32_t ttl, void *arg)
{
	char	text[DNSQ_TXT_MAX + 1];

	probe_answer(arg, s, ttl, log_printable(text, sizeof(text), txt, strlen(txt)));
}

/* probe_free_event - --free-after: cancel what is left */
static void
probe_free_event(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq *q = probe_dnsq;

	(void) fd;
	(void) what;
	(void) arg;
	probe_dnsq = NULL;
	dnsq_free(q);
}

int
main(int argc, char **argv)
{
	static struct probe_query queries[PROBE_QUERIES_MAX];
	const char *conf_path = NULL;
	const char *type = NULL;
	long	free_after = -1;
	size_t	nq = 0;
	struct conf *conf;
	struct event *free_ev = NULL;
	char	err[512];
	int	i, bad = 0;

	log_open(argv[0], 1, NULL);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf_path = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0) {
			msg_verbose++;
		} else if (strcmp(argv[i], "--free-after") == 0 && i + 1 < argc) {
			char   *end;

			free_after = strtol(argv[++i], &end, 10);
			if (*end || free_after < 0)
				probe_usage("bad --free-after");
		} else if (strcmp(argv[i], "--free-in-callback") == 0) {
			probe_free_in_callback = 1;
		} else {
			probe_usage("unknown option");
		}
	}
	if ((conf = conf_path ? conf_load(conf_path, err, sizeof(err)) : conf_defaults()) == NULL) {
		fprintf(stderr, "dnsq_probe: %s\n", err);
		return CONF_EXIT;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "mx") == 0 || strcmp(argv[i], "a") == 0
		    || strcmp(argv[i], "txt") == 0) {
			type = argv[i];
			continue;
		}
		if (type == NULL)
			probe_usage("a name before its type");
		if (nq == PROBE_QUERIES_MAX)
			probe_usage("too many names");
		queries[nq].name = argv[i];
		queries[nq].type = strcmp(type, "mx") == 0 ? "MX" : strcmp(type, "a") == 0 ? "A" : "TXT";
		nq++;
	}
	if (nq == 0)
		probe_usage("no names");
	if ((probe_base = event_base_new()) == NULL) {
		fprintf(stderr, "dnsq_probe: event_base_new failed\n");
		return 1;
	}
	if ((probe_dnsq = dnsq_new(probe_base, conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dnsq_probe: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &probe_start);
	for (size_t k = 0; k < nq; k++) {
		struct probe_query *pq = &queries[k];
		int	rc;

		if (strcmp(pq->type, "MX") == 0)
			rc = dnsq_mx(probe_dnsq, pq->name, probe_mx_done, pq);
		else if (strcmp(pq->type, "A") == 0)
			rc = dnsq_a(probe_dnsq, pq->name, probe_a_done, pq);
		else
			rc = dnsq_txt(probe_dnsq, pq->name, probe_txt_done, pq);
		if (rc < 0) {
			printf("%s %s refused ms=%ld\n", pq->name, pq->type, probe_elapsed_ms());
			bad = 1;
			continue;
		}
		probe_outstanding++;
	}
	if (free_after >= 0) {
		struct timeval tv = {free_after / 1000, (suseconds_t) (free_after % 1000 * 1000)};

		free_ev = evtimer_new(probe_base, probe_free_event, NULL);
		evtimer_add(free_ev, &tv);
	}
	if (probe_outstanding)
		event_base_dispatch(probe_base);
	if (probe_dnsq) {
		if (dnsq_pending(probe_dnsq) != 0)
			bad = 1;
		dnsq_free(probe_dnsq);
	}
	printf("elapsed ms=%ld answers=%zu\n", probe_elapsed_ms(), probe_answers);
	for (size_t k = 0; k < nq; k++) {
		if (queries[k].calls > 1 || (queries[k].calls == 0 && !bad)) {
			fprintf(stderr, "dnsq_probe: %s %s: %d callbacks\n", queries[k].name,
				queries[k].type, queries[k].calls);
			bad = 1;
		}
	}
	if (free_ev)
		event_free(free_ev);
	event_base_free(probe_base);
	conf_free(conf);
	return bad;
}
