/*
 * clamd_probe.c - drive milter/clamd.c against a real clamd from a shell test.
 *
 *   clamd_probe [--max BYTES] [--timeout MS] [--sizes N,N,...] ENDPOINT FILE
 *
 * ENDPOINT is written as in mhkit.conf ("inet:127.0.0.1:3310",
 * "unix:/run/clamav/clamd.ctl"). FILE is read and streamed as it is
 * read, the way the milter streams a message: clamd_open, then one
 * clamd_write per piece, the pieces' sizes cycling through --sizes
 * (default 1,7,4093,65537,3,100000,13: odd sizes across chunk
 * boundaries), then clamd_finish. --max is max_bytes (default 25M,
 * clamd's default StreamMaxLength), --timeout each step's bound in ms
 * (default 10000).
 *
 * Output, one line:
 *   ok                      clean
 *   found NAME              a signature matched
 *   truncated ok            only the first --max bytes were scanned: clean
 *   truncated found NAME    ... and a signature matched in them
 *   error: TEXT             the error clamd.c reports
 * Exit 0 for a verdict, 1 for an error, 64 on usage errors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clamd.h"
#include "endpoint.h"

#define PROBE_SIZES_MAX		32	/* entries of --sizes */
#define PROBE_PIECE_MAX		(1024 * 1024)	/* bytes of one write */
#define PROBE_ERR_MAX		1024

/* probe_usage - print usage and exit 64 */
static void __attribute__((noreturn))
probe_usage(const char *why)
{
	fprintf(stderr, "clamd_probe: %s\n"
		"usage: clamd_probe [--max BYTES] [--timeout MS] [--sizes N,N,...] ENDPOINT FILE\n", why);
	exit(64);
}

/* probe_u64 - a decimal option value, at least 1 */
static uint64_t
probe_u64(const char *opt, const char *text)
{
	char   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (*text < '0' || *text > '9' || *end != '\0' || errno != 0 || v == 0)
		probe_usage(opt);
	return v;
}

/* probe_sizes - parse "N,N,..." into sizes; how many */
static size_t
probe_sizes(const char *text, size_t *sizes)
{
	char	copy[512];
	char   *save = NULL;
	size_t	n = 0;

	if (strlen(text) >= sizeof(copy))
		probe_usage("--sizes: too long");
	strcpy(copy, text);
	for (char *w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		if (n == PROBE_SIZES_MAX)
			probe_usage("--sizes: too many");
		sizes[n] = (size_t) probe_u64("--sizes", w);
		if (sizes[n] > PROBE_PIECE_MAX)
			probe_usage("--sizes: at most 1048576");
		n++;
	}
	if (n == 0)
		probe_usage("--sizes: empty");
	return n;
}

/* probe_read - read up to n bytes (fewer only at the end of the file); -1 on error */
static ssize_t
probe_read(int fd, char *buf, size_t n)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t) r;
	}
	return (ssize_t) got;
}

int
main(int argc, char **argv)
{
	static char buf[PROBE_PIECE_MAX];
	static const size_t default_sizes[] = {1, 7, 4093, 65537, 3, 100000, 13};
	size_t	sizes[PROBE_SIZES_MAX];
	size_t	nsizes = sizeof(default_sizes) / sizeof(default_sizes[0]);
	uint64_t max_bytes = 25 * 1024 * 1024;
	uint64_t timeout_ms = 10000;
	char	err[PROBE_ERR_MAX] = "";
	struct clamd_result res;
	struct endpoint ep;
	struct clamd *c;
	ssize_t	n;
	size_t	i;
	int	fd;
	int	argi;

	memcpy(sizes, default_sizes, sizeof(default_sizes));
	for (argi = 1; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi += 2) {
		if (argi + 1 >= argc)
			probe_usage("option without a value");
		if (strcmp(argv[argi], "--max") == 0)
			max_bytes = probe_u64("--max", argv[argi + 1]);
		else if (strcmp(argv[argi], "--timeout") == 0)
			timeout_ms = probe_u64("--timeout", argv[argi + 1]);
		else if (strcmp(argv[argi], "--sizes") == 0)
			nsizes = probe_sizes(argv[argi + 1], sizes);
		else
			probe_usage("unknown option");
	}
	if (argc - argi != 2)
		probe_usage("want ENDPOINT FILE");
	if (endpoint_parse(argv[argi], &ep, err, sizeof(err)) < 0)
		probe_usage(err);
	if ((fd = open(argv[argi + 1], O_RDONLY)) < 0) {
		perror(argv[argi + 1]);
		exit(64);
	}

	if ((c = clamd_open(&ep, timeout_ms, max_bytes, err, sizeof(err))) == NULL)
		goto fail;
	for (i = 0;; i++) {
		n = probe_read(fd, buf, sizes[i % nsizes]);
		if (n < 0) {
			snprintf(err, sizeof(err), "%s: %s", argv[argi + 1], strerror(errno));
			clamd_abort(c);
			goto fail;
		}
		if (n == 0)
			break;
		if (clamd_write(c, buf, (size_t) n, err, sizeof(err)) < 0) {
			clamd_abort(c);
			goto fail;
		}
	}
	close(fd);
	if (clamd_finish(c, &res, err, sizeof(err)) < 0)
		goto fail;
	printf("%s%s%s\n", res.truncated ? "truncated " : "", res.found ? "found " : "ok",
	       res.found ? res.name : "");
	return 0;

fail:
	printf("error: %s\n", err);
	return 1;
}
