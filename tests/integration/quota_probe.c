/*
 * quota_probe.c - drive quota/quota.c against a real Redis from a shell test.
 *
 *   quota_probe [-c FILE] [--count N] [--start-when FILE] COMMAND ARG...
 *     check USER LIMIT RELAYS          CHECK script (RCPT)
 *     commit USER LIMIT RELAYS QUEUEID COMMIT script (END-OF-MESSAGE); with
 *                                      --count N, N messages QUEUEID1..QUEUEIDN
 *     batch USER:LIMIT:RELAYS:QUEUEID...  one COMMIT of all these messages (at most
 *                                      QUOTA_BATCH_MAX: more is refused before Redis), a line each
 *     undo USER QUEUEID                UNDO script (take back a refused message's count)
 *     show USER LIMIT                  today's use (mhlist account show)
 *     script check|commit|undo         the Lua text (no Redis)
 *     sha check|commit|undo            its SHA-1 as quota computes it (no Redis)
 *
 * Redis settings come from -c FILE (conf_load) or the built-in defaults.
 * --start-when FILE connects, then waits (at most 10 s) until FILE exists:
 * a start line for racing probes.
 * One line per result, flushed at once:
 *   VERDICT used=N limit=N left=N relays=N day=N reset_in=N reset=ISO [qid=Q]
 * VERDICT is fits or full (check), counted, refused, already or undone
 * (commit), undone or nothing (undo; day= is the day taken back from,
 * used= that day's counter after), show (show); a failure is "error: TEXT". Exit 0 when every step
 * succeeded, 1 when one failed, 64 on usage errors, 78 when the config
 * is bad.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "quota.h"
#include "rconn.h"

#define PROBE_COUNT_MAX	1000000	/* --count */
#define PROBE_START_WAIT_MS 10000	/* --start-when: the longest wait */

/* probe_usage - print usage and exit 64 */
static void probe_usage(const char *why) __attribute__((noreturn));

static void
probe_usage(const char *why)
{
	fprintf(stderr, "quota_probe: %s\n"
		"usage: quota_probe [-c FILE] [--count N] [--start-when FILE] check USER LIMIT RELAYS\n"
		"       quota_probe [-c FILE] [--count N] [--start-when FILE] commit USER LIMIT RELAYS QUEUEID\n"
		"       quota_probe [-c FILE] batch USER:LIMIT:RELAYS:QUEUEID...\n"
		"       quota_probe [-c FILE] undo USER QUEUEID\n"
		"       quota_probe [-c FILE] show USER LIMIT\n"
		"       quota_probe script|sha check|commit|undo\n", why);
	exit(64);
}

/* probe_u64 - a decimal argument */
static uint64_t
probe_u64(const char *what, const char *text)
{
	char   *end;
	unsigned long long v = strtoull(text, &end, 10);

	if (*text < '0' || *text > '9' || *end != 0)
		probe_usage(what);
	return v;
}

/* probe_script - "check", "commit" or "undo" */
static enum quota_script
probe_script(const char *name)
{
	if (strcmp(name, "check") == 0)
		return QUOTA_SCRIPT_CHECK;
	if (strcmp(name, "commit") == 0)
		return QUOTA_SCRIPT_COMMIT;
	if (strcmp(name, "undo") == 0)
		return QUOTA_SCRIPT_UNDO;
	probe_usage("script is check, commit or undo");
}

/* probe_start_when - connect, then wait for the start file; 0 or -1 after the longest wait */
static int
probe_start_when(struct rconn *rc, const char *file)
{
	struct timespec tick = {0, 5 * 1000000};

	if (rconn_connect(rc) < 0)
		return -1;
	for (int waited = 0; waited < PROBE_START_WAIT_MS; waited += 5) {
		if (access(file, F_OK) == 0)
			return 0;
		nanosleep(&tick, NULL);
	}
	return -1;
}

/* probe_print - one result line */
static void
probe_print(const char *verdict, const struct quota_result *res, const char *qid)
{
	char	iso[QUOTA_ISO_MAX];

	if (quota_reset_iso(res, iso, sizeof(iso)) < 0)
		strcpy(iso, "?");
	printf("%s used=%llu limit=%llu left=%llu relays=%llu day=%llu reset_in=%llu reset=%s%s%s\n",
	       verdict, (unsigned long long) res->used, (unsigned long long) res->limit,
	       (unsigned long long) quota_left(res), (unsigned long long) res->relays,
	       (unsigned long long) res->day, (unsigned long long) res->reset_in, iso,
	       qid ? " qid=" : "", qid ? qid : "");
}

/* probe_commit_verdict - the word for a COMMIT result */
static const char *
probe_commit_verdict(const struct quota_result *res)
{
	switch (res->status) {
	case QUOTA_UNDONE:
		return "undone";
	case QUOTA_ALREADY:
		return "already";
	case QUOTA_OK:
		return "counted";
	default:
		return "refused";
	}
}

/*
 * probe_batch - one COMMIT of every USER:LIMIT:RELAYS:QUEUEID argument,
 * sent as EVALSHA (EVAL after NOSCRIPT); a result line each; the number
 * of messages that failed, or -1 when the batch could not be built or sent
 */
static long
probe_batch(struct rconn *rc, int argc, char **argv)
{
	struct quota_batch *b = malloc(sizeof(*b));
	char	err[512], *qids[QUOTA_BATCH_MAX];
	struct quota_result res;
	redisReply *r;
	long	failed = 0;

	if (b == NULL)
		return -1;
	quota_batch_reset(b);
	for (int i = 0; i < argc; i++) {
		char   *f[4], *p = argv[i];

		for (int k = 0; k < 4; k++) {
			f[k] = p;
			p = k < 3 ? strchr(p, ':') : NULL;
			if (k < 3 && p == NULL)
				probe_usage("batch: USER:LIMIT:RELAYS:QUEUEID");
			if (p)
				*p++ = 0;
		}
		if (quota_batch_add(b, f[0], probe_u64("LIMIT", f[1]), probe_u64("RELAYS", f[2]), f[3],
				    err, sizeof(err)) < 0) {
			printf("error: message %d: %s\n", i + 1, err);
			free(b);
			return -1;
		}
		qids[b->n - 1] = f[3];
	}
	if ((r = quota_batch_run(rc, b)) == NULL) {
		printf("error: %s\n", rconn_errstr(rc));
		free(b);
		return -1;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (quota_batch_parse(b, r, i, &res, err, sizeof(err)) < 0) {
			printf("error: %s\n", err);
			failed++;
		} else {
			probe_print(probe_commit_verdict(&res), &res, qids[i]);
		}
	}
	freeReplyObject(r);
	free(b);
	return failed;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *cmd, *start_when = NULL;
	char	err[512], qid[QUOTA_QUEUEID_MAX + 16];
	struct conf *conf;
	struct rconn *rc;
	struct quota_result res;
	unsigned long count = 1, failed = 0;
	int	i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			count = (unsigned long) probe_u64("--count", argv[++i]);
			if (count < 1 || count > PROBE_COUNT_MAX)
				probe_usage("--count is 1..1000000");
		} else if (strcmp(argv[i], "--start-when") == 0 && i + 1 < argc)
			start_when = argv[++i];
		else
			probe_usage("bad option");
	}
	if (i >= argc)
		probe_usage("no command");
	cmd = argv[i++];
	argc -= i;
	argv += i;
	if (strcmp(cmd, "script") == 0 || strcmp(cmd, "sha") == 0) {
		if (argc != 1)
			probe_usage("script|sha check|commit|undo");
		fputs(cmd[1] == 'c' ? quota_script_text(probe_script(argv[0]))
		      : quota_script_sha(probe_script(argv[0])), stdout);
		if (cmd[1] != 'c')
			putchar('\n');
		return 0;
	}
	if (!((strcmp(cmd, "check") == 0 && argc == 3) || (strcmp(cmd, "commit") == 0 && argc == 4)
	      || (strcmp(cmd, "batch") == 0 && argc >= 1)
	      || (strcmp(cmd, "undo") == 0 && argc == 2) || (strcmp(cmd, "show") == 0 && argc == 2)))
		probe_usage("bad command or number of arguments");

	conf = path ? conf_load(path, err, sizeof(err)) : conf_defaults();
	if (conf == NULL) {
		fprintf(stderr, "quota_probe: %s\n", path ? err : "cannot build default config");
		return CONF_EXIT;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_open("quota_probe", 1, NULL);
	rc = rconn_new(conf);
	conf_free(conf);
	if (start_when && probe_start_when(rc, start_when) < 0) {
		printf("error: no start within %d ms: %s\n", PROBE_START_WAIT_MS, rconn_errstr(rc));
		rconn_free(rc);
		return 1;
	}

	if (strcmp(cmd, "batch") == 0) {
		long	bad = probe_batch(rc, argc, argv);

		rconn_free(rc);
		return bad != 0 ? 1 : 0;
	}
	for (unsigned long n = 1; n <= count; n++) {
		const char *verdict;
		int	rv;

		qid[0] = 0;
		if (strcmp(cmd, "check") == 0) {
			rv = quota_check_sync(rc, argv[0], probe_u64("LIMIT", argv[1]),
					      probe_u64("RELAYS", argv[2]), &res, err, sizeof(err));
		} else if (strcmp(cmd, "commit") == 0) {
			if (count > 1)
				snprintf(qid, sizeof(qid), "%.32s%lu", argv[3], n);
			else
				snprintf(qid, sizeof(qid), "%.40s", argv[3]);
			rv = quota_commit_sync(rc, argv[0], probe_u64("LIMIT", argv[1]),
					       probe_u64("RELAYS", argv[2]), qid, &res, err, sizeof(err));
		} else if (strcmp(cmd, "undo") == 0) {
			snprintf(qid, sizeof(qid), "%.40s", argv[1]);
			rv = quota_undo_sync(rc, argv[0], qid, &res, err, sizeof(err));
		} else {
			rv = quota_show_sync(rc, argv[0], probe_u64("LIMIT", argv[1]), &res, err,
					     sizeof(err));
		}
		if (rv < 0) {
			printf("error: %s\n", err);
			failed++;
			continue;
		}
		if (strcmp(cmd, "show") == 0)
			verdict = "show";
		else if (res.status == QUOTA_UNDONE)
			verdict = "undone";
		else if (res.status == QUOTA_NOTHING)
			verdict = "nothing";
		else if (*qid)
			verdict = probe_commit_verdict(&res);
		else
			verdict = res.status == QUOTA_OK ? "fits" : "full";
		probe_print(verdict, &res, *qid ? qid : NULL);
	}
	rconn_free(rc);
	return failed ? 1 : 0;
}
