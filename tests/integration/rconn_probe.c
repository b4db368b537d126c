/*
 * rconn_probe.c - drive common/rconn.c from a shell test.
 *
 *   rconn_probe [-c FILE] [settings] [--count N] [--interval MS] [--pipeline] CMD [ARG...]
 *
 * Reads the redis settings from -c FILE (conf_load) or the built-in
 * defaults; the settings options override them: --host H, --port N,
 * --unix PATH, --db N, --user U, --password P, --timeout-ms N,
 * --sentinel-master NAME, --sentinel HOST:PORT (repeat), --sentinel-password P,
 * --cluster HOST:PORT (repeat: redis.cluster.servers).
 * Then runs CMD N times (default 1), sleeping MS (default 100) between
 * runs.  With --pipeline the words form several commands separated by a
 * lone ";" that are sent together with rconn_append and read back with
 * rconn_get_reply.  --connect only calls rconn_connect.
 *
 * Output, one line per result, flushed at once:
 *   #I t=EPOCH_MS ok REPLY          (REPLY as redis-cli prints it, on one line)
 *   #I t=EPOCH_MS error: ERRSTR     (rconn_errstr)
 *   address: ADDR                   (at start and whenever rconn_address changes)
 *   summary: ok=N failed=N reconnects=N address=ADDR
 * rconn's own warnings go to stderr.  Exit 0 when every run succeeded,
 * 1 when some failed, 64 on usage errors, 78 when the config is bad.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "conf.h"
#include "endpoint.h"
#include "log.h"
#include "rconn.h"

#define PROBE_ARGS_MAX	64	/* words in one command */
#define PROBE_CMDS_MAX	32	/* commands in one pipeline */

struct probe_cmd {
	int	argc;
	const char *argv[PROBE_ARGS_MAX];
};

/* probe_usage - print usage and exit 64 */
static void
probe_usage(const char *why)
{
	fprintf(stderr, "rconn_probe: %s\n"
		"usage: rconn_probe [-c FILE] [--host H] [--port N] [--unix PATH] [--db N]\n"
		"  [--user U] [--password P] [--timeout-ms N] [--sentinel-master NAME]\n"
		"  [--sentinel HOST:PORT]... [--sentinel-password P] [--cluster HOST:PORT]...\n"
		"  [--count N]\n"
		"  [--interval MS] [--pipeline | --connect] CMD [ARG...]\n", why);
	exit(64);
}

/* probe_uint - a decimal option value */
static unsigned long
probe_uint(const char *opt, const char *text)
{
	char   *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text == 0 || *end != 0 || *text == '-')
		probe_usage(opt);
	return v;
}

/* probe_epoch_ms - wall-clock milliseconds, to compare with the test's clock */
static unsigned long long
probe_epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long) ts.tv_sec * 1000 + (unsigned long long) ts.tv_nsec / 1000000;
}

/* probe_sleep_ms - sleep, resuming after signals */
static void
probe_sleep_ms(unsigned long ms)
{
	struct timespec ts = {(time_t) (ms / 1000), (long) (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* probe_print_reply - a reply on one line, roughly as redis-cli shows it */
static void
probe_print_reply(const redisReply *r)
{
	char	buf[512];

	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		fputs(log_printable(buf, sizeof(buf), r->str, r->len), stdout);
		break;
	case REDIS_REPLY_ERROR:
		printf("(error) %s", log_printable(buf, sizeof(buf), r->str, r->len));
		break;
	case REDIS_REPLY_INTEGER:
		printf("(integer) %lld", r->integer);
		break;
	case REDIS_REPLY_NIL:
		fputs("(nil)", stdout);
		break;
	case REDIS_REPLY_ARRAY:
		putchar('[');
		for (size_t i = 0; i < r->elements; i++) {
			if (i)
				fputs(", ", stdout);
			probe_print_reply(r->element[i]);
		}
		putchar(']');
		break;
	default:
		printf("(type %d)", r->type);
	}
}

/* probe_result - one output line; 0 for ok, 1 for an error */
static int
probe_result(const char *tag, struct rconn *rc, redisReply *r)
{
	printf("#%s t=%llu ", tag, probe_epoch_ms());
	if (r == NULL) {
		printf("error: %s\n", rconn_errstr(rc));
		return 1;
	}
	fputs("ok ", stdout);
	probe_print_reply(r);
	putchar('\n');
	freeReplyObject(r);
	return 0;
}

/* probe_split - words into commands at each lone ";" */
static size_t
probe_split(int argc, char **argv, struct probe_cmd *cmds, int pipeline)
{
	size_t	n = 0;

	cmds[0].argc = 0;
	for (int i = 0; i < argc; i++) {
		if (pipeline && strcmp(argv[i], ";") == 0) {
			if (cmds[n].argc == 0 || n + 1 >= PROBE_CMDS_MAX)
				probe_usage("empty command or too many commands in pipeline");
			cmds[++n].argc = 0;
			continue;
		}
		if (cmds[n].argc >= PROBE_ARGS_MAX)
			probe_usage("too many words in one command");
		cmds[n].argv[cmds[n].argc++] = argv[i];
	}
	if (cmds[n].argc == 0)
		probe_usage("no command");
	return n + 1;
}

enum {
	OPT_HOST = 256, OPT_PORT, OPT_UNIX, OPT_DB, OPT_USER, OPT_PASSWORD, OPT_TIMEOUT,
	OPT_MASTER, OPT_SENTINEL, OPT_SENTINEL_PASSWORD, OPT_CLUSTER, OPT_COUNT, OPT_INTERVAL,
	OPT_PIPELINE, OPT_CONNECT
};

/* main - parse, connect lazily, run the command COUNT times, report */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, OPT_HOST},
		{"port", required_argument, NULL, OPT_PORT},
		{"unix", required_argument, NULL, OPT_UNIX},
		{"db", required_argument, NULL, OPT_DB},
		{"user", required_argument, NULL, OPT_USER},
		{"password", required_argument, NULL, OPT_PASSWORD},
		{"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
		{"sentinel-master", required_argument, NULL, OPT_MASTER},
		{"sentinel", required_argument, NULL, OPT_SENTINEL},
		{"sentinel-password", required_argument, NULL, OPT_SENTINEL_PASSWORD},
		{"cluster", required_argument, NULL, OPT_CLUSTER},
		{"count", required_argument, NULL, OPT_COUNT},
		{"interval", required_argument, NULL, OPT_INTERVAL},
		{"pipeline", no_argument, NULL, OPT_PIPELINE},
		{"connect", no_argument, NULL, OPT_CONNECT},
		{NULL, 0, NULL, 0}
	};
	static struct probe_cmd cmds[PROBE_CMDS_MAX];
	static struct hostport sentinels[CONF_LIST_MAX], seeds[CONF_LIST_MAX];
	size_t	nsentinels = 0, nseeds = 0, ncmds = 0;
	const char *path = NULL;
	char	err[512], tag[64], lastaddr[1400];
	struct conf *loaded, c;
	struct rconn *rc;
	unsigned long count = 1, interval = 100, ok = 0, failed = 0;
	int	ch, pipeline = 0, connect_only = 0;

	/* first pass: only -c, so the other options override the file */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:", opts, NULL)) != -1)
		if (ch == 'c')
			path = optarg;
	if (path) {
		if ((loaded = conf_load(path, err, sizeof(err))) == NULL) {
			fprintf(stderr, "rconn_probe: %s\n", err);
			return CONF_EXIT;
		}
	} else if ((loaded = conf_defaults()) == NULL) {
		fprintf(stderr, "rconn_probe: cannot build default config\n");
		return CONF_EXIT;
	}
	c = *loaded;

	opterr = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			break;
		case OPT_HOST:
			c.redis_host = optarg;
			break;
		case OPT_PORT:
			c.redis_port = (unsigned) probe_uint("--port", optarg);
			break;
		case OPT_UNIX:
			c.redis_unix = optarg;
			break;
		case OPT_DB:
			c.redis_db = (unsigned) probe_uint("--db", optarg);
			break;
		case OPT_USER:
			c.redis_user = optarg;
			break;
		case OPT_PASSWORD:
			c.redis_password = optarg;
			break;
		case OPT_TIMEOUT:
			c.redis_timeout_ms = probe_uint("--timeout-ms", optarg);
			break;
		case OPT_MASTER:
			c.redis_sentinel_master = optarg;
			break;
		case OPT_SENTINEL:
			if (nsentinels >= CONF_LIST_MAX
			    || hostport_parse(optarg, 26379, &sentinels[nsentinels], err, sizeof(err)) < 0)
				probe_usage("bad or too many --sentinel");
			nsentinels++;
			break;
		case OPT_CLUSTER:
			if (nseeds >= CONF_LIST_MAX
			    || hostport_parse(optarg, 6379, &seeds[nseeds], err, sizeof(err)) < 0)
				probe_usage("bad or too many --cluster");
			nseeds++;
			break;
		case OPT_SENTINEL_PASSWORD:
			c.redis_sentinel_password = optarg;
			break;
		case OPT_COUNT:
			count = probe_uint("--count", optarg);
			break;
		case OPT_INTERVAL:
			interval = probe_uint("--interval", optarg);
			break;
		case OPT_PIPELINE:
			pipeline = 1;
			break;
		case OPT_CONNECT:
			connect_only = 1;
			break;
		default:
			probe_usage("bad option");
		}
	}
	if (nsentinels) {
		memcpy(c.redis_sentinels, sentinels, sizeof(sentinels));
		c.redis_sentinel_count = nsentinels;
	}
	if (nseeds) {
		memcpy(c.redis_cluster, seeds, sizeof(seeds));
		c.redis_cluster_count = nseeds;
	}
	if (!connect_only)
		ncmds = probe_split(argc - optind, argv + optind, cmds, pipeline);

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_open("rconn_probe", 1, NULL);
	rc = rconn_new(&c);
	conf_free(loaded);

	snprintf(lastaddr, sizeof(lastaddr), "%s", rconn_address(rc));
	printf("address: %s\n", lastaddr);
	for (unsigned long i = 1; i <= count; i++) {
		int	bad = 0;

		if (connect_only) {
			printf("#%lu t=%llu ", i, probe_epoch_ms());
			if (rconn_connect(rc) == 0)
				printf("ok connected\n");
			else {
				printf("error: %s\n", rconn_errstr(rc));
				bad = 1;
			}
		} else if (!pipeline) {
			snprintf(tag, sizeof(tag), "%lu", i);
			bad = probe_result(tag, rc, rconn_commandargv(rc, cmds[0].argc, cmds[0].argv, NULL));
		} else {
			size_t	queued = 0;

			for (; queued < ncmds; queued++)
				if (rconn_appendargv(rc, cmds[queued].argc, cmds[queued].argv, NULL) < 0)
					break;
			if (queued < ncmds) {
				snprintf(tag, sizeof(tag), "%lu", i);
				bad = probe_result(tag, rc, NULL);
			}
			for (size_t k = 0; k < queued; k++) {
				snprintf(tag, sizeof(tag), "%lu.%zu", i, k + 1);
				bad |= probe_result(tag, rc, rconn_get_reply(rc));
			}
		}
		if (bad)
			failed++;
		else
			ok++;
		if (strcmp(lastaddr, rconn_address(rc)) != 0) {
			snprintf(lastaddr, sizeof(lastaddr), "%s", rconn_address(rc));
			printf("address: %s\n", lastaddr);
		}
		if (i < count)
			probe_sleep_ms(interval);
	}
	printf("summary: ok=%lu failed=%lu reconnects=%lu address=%s\n",
	       ok, failed, rconn_reconnects(rc), rconn_address(rc));
	rconn_free(rc);
	return failed ? 1 : 0;
}
