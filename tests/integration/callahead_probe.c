/*
 * callahead_probe.c - drive policyd/probe.c (one call-ahead dialogue) from
 * a shell test.
 *
 *   callahead_probe [-c CONF] [-C CONNECT_MS] [-R REPLY_MS] [-H HELO]
 *                   [-S SENDER] [-n COUNT] [-t] HOST PORT RCPT
 *
 * Reads dns.servers and dns.timeout from -c CONF (defaults without).
 * Starts COUNT probes at once (default 1; RCPT gets "N." in front of its
 * local part for each N > 1) on one event loop and prints a line each as
 * it ends:
 *
 *   outcome=accept|reject|inconclusive code=N ms=ELAPSED where=HOST:PORT why="..." text="..."
 *
 * and with -t the transcript of the first after its line, each line
 * prefixed "| ". A last line "all=MS" gives the time until every probe
 * ended. Exit 0, 64 on usage errors, 70 when the loop failed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "dnsq.h"
#include "log.h"
#include "probe.h"

#define CLI_COUNT_MAX	1000

static int pending;
static int show_transcript;
static struct event_base *base;

static void
cli_usage(const char *why)
{
	fprintf(stderr, "callahead_probe: %s\nusage: callahead_probe [-c CONF] [-C CONNECT_MS] "
		"[-R REPLY_MS] [-H HELO] [-S SENDER] [-n COUNT] [-t] HOST PORT RCPT\n", why);
	exit(64);
}

static void
cli_done(const struct probe_result *r, void *arg)
{
	(void) arg;
	printf("outcome=%s code=%d ms=%llu where=%s why=\"%s\" text=\"%s\"\n",
	       probe_outcome_name(r->outcome), r->code, (unsigned long long) r->elapsed_ms, r->where,
	       r->why, r->text);
	if (show_transcript && r->transcript[0]) {
		const char *p = r->transcript, *nl;

		while ((nl = strchr(p, '\n')) != NULL) {
			printf("| %.*s\n", (int) (nl - p), p);
			p = nl + 1;
		}
		show_transcript = 0;
	}
	fflush(stdout);
	if (--pending == 0)
		event_base_loopbreak(base);
}

static unsigned long long
cli_num(const char *s, const char *what)
{
	char   *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == 0 || *end)
		cli_usage(what);
	return v;
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL;
	struct probe_spec spec = {.helo = "callahead.test", .sender = "", .connect_timeout_ms = 10000,
	.reply_timeout_ms = 30000};
	struct conf *conf;
	struct dnsq *dns;
	char	err[512], rcpt[PROBE_ADDR_MAX + 1];
	struct timespec t0, t1;
	int	count = 1, ch;

	while ((ch = getopt(argc, argv, "c:C:R:H:S:n:t")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'C':
			spec.connect_timeout_ms = cli_num(optarg, "-C: a number of ms");
			break;
		case 'R':
			spec.reply_timeout_ms = cli_num(optarg, "-R: a number of ms");
			break;
		case 'H':
			spec.helo = optarg;
			break;
		case 'S':
			spec.sender = optarg;
			break;
		case 'n':
			count = (int) cli_num(optarg, "-n: a count");
			if (count < 1 || count > CLI_COUNT_MAX)
				cli_usage("-n: 1..1000");
			break;
		case 't':
			show_transcript = spec.transcript = 1;
			break;
		default:
			cli_usage("unknown option");
		}
	}
	if (argc - optind != 3)
		cli_usage("HOST PORT RCPT expected");
	spec.host = argv[optind];
	spec.port = (unsigned) cli_num(argv[optind + 1], "PORT: a number");
	if (strlen(spec.host) > PROBE_HOST_MAX || strlen(argv[optind + 2]) > PROBE_ADDR_MAX - 8
	    || strlen(spec.helo) > PROBE_HOST_MAX || strlen(spec.sender) > PROBE_ADDR_MAX)
		cli_usage("an argument is too long");
	log_open("callahead_probe", 1, NULL);
	if ((conf = conf_path ? conf_load(conf_path, err, sizeof(err)) : conf_defaults()) == NULL) {
		fprintf(stderr, "callahead_probe: %s\n", err);
		return 78;
	}
	if ((base = event_base_new()) == NULL || (dns = dnsq_new(base, conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "callahead_probe: cannot start the loop\n");
		return 70;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < count; i++) {
		if (count == 1)
			snprintf(rcpt, sizeof(rcpt), "%s", argv[optind + 2]);
		else
			snprintf(rcpt, sizeof(rcpt), "%d.%s", i + 1, argv[optind + 2]);
		spec.rcpt = rcpt;
		if (probe_start(base, dns, &spec, cli_done, NULL) == NULL)
			return 70;
		pending++;
	}
	if (event_base_dispatch(base) < 0)
		return 70;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("all=%lld\n", (long long) (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	dnsq_free(dns);
	event_base_free(base);
	conf_free(conf);
	return 0;
}
