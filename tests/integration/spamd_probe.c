/*
 * spamd_probe.c - drive milter/spamd.c from a shell test.
 *
 *   spamd_probe [-t TIMEOUT_MS] SOCKET FILE
 *
 * SOCKET is written as in mhkit.conf (inet:127.0.0.1:783, unix:/path);
 * FILE is the message ("-": standard input), at most PROBE_MESSAGE_MAX
 * bytes. Sends it with spamd_check (timeout 10000 ms unless -t) and
 * prints one line:
 *
 *   score=S threshold=T spam=0|1 tests=A,B,C cut=0|1 ms=ELAPSED
 *   error: TEXT ms=ELAPSED
 *
 * Exit 0 with a result, 1 with an error, 64 on usage errors.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "endpoint.h"
#include "spamd.h"

#define PROBE_MESSAGE_MAX	(64 * 1024 * 1024)	/* bytes of FILE */
#define PROBE_ERR_MAX		512
#define PROBE_TIMEOUT_MS	10000

/* probe_usage - print usage and exit 64 */
static void
probe_usage(const char *why)
{
	fprintf(stderr, "spamd_probe: %s\nusage: spamd_probe [-t TIMEOUT_MS] SOCKET FILE\n", why);
	exit(64);
}

/* probe_now_ms - monotonic milliseconds */
static long long
probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* probe_read - the whole file into a malloc'ed buffer; NULL when unreadable or too big */
static char *
probe_read(const char *path, size_t *len)
{
	FILE   *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char   *buf;
	size_t	n;

	if (fp == NULL)
		return NULL;
	if ((buf = malloc(PROBE_MESSAGE_MAX + 1)) == NULL) {
		if (fp != stdin)
			fclose(fp);
		return NULL;
	}
	n = fread(buf, 1, PROBE_MESSAGE_MAX + 1, fp);
	if (ferror(fp) || n > PROBE_MESSAGE_MAX) {
		free(buf);
		buf = NULL;
	}
	if (fp != stdin)
		fclose(fp);
	*len = n;
	return buf;
}

int
main(int argc, char **argv)
{
	struct endpoint ep;
	struct spamd_result res;
	char	err[PROBE_ERR_MAX];
	unsigned long long timeout = PROBE_TIMEOUT_MS;
	char   *msg;
	char   *end;
	size_t	len = 0;
	long long t0;
	int	i = 1;
	int	rc;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		timeout = strtoull(argv[2], &end, 10);
		if (*argv[2] == '\0' || *end != '\0')
			probe_usage("bad timeout");
		i = 3;
	}
	if (argc - i != 2)
		probe_usage("SOCKET and FILE expected");
	if (endpoint_parse(argv[i], &ep, err, sizeof(err)) < 0)
		probe_usage(err);
	if ((msg = probe_read(argv[i + 1], &len)) == NULL) {
		fprintf(stderr, "spamd_probe: cannot read %s (or it is over %d bytes)\n", argv[i + 1],
			PROBE_MESSAGE_MAX);
		return 64;
	}
	t0 = probe_now_ms();
	rc = spamd_check(&ep, msg, len, timeout, &res, err, sizeof(err));
	if (rc == 0)
		printf("score=%.10g threshold=%.10g spam=%d tests=%s cut=%d ms=%lld\n", res.score,
		       res.threshold, res.is_spam, res.tests, res.tests_cut, probe_now_ms() - t0);
	else
		printf("error: %s ms=%lld\n", err, probe_now_ms() - t0);
	free(msg);
	return rc == 0 ? 0 : 1;
}
