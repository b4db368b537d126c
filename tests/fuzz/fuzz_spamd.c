/*
 * fuzz_spamd.c - libFuzzer target for milter/spamd.c's reply parser.
 *
 * FUZZ_SOURCES: milter/spamd.c common/endpoint.c common/log.c
 *
 * The input is what spamd might answer to SYMBOLS. spamd_parse must
 * either fail, with one printable line starting "spamd: " and the result
 * untouched, or give a result that keeps the module's promises: a finite
 * score and threshold within +-10^6, a verdict of 0 or 1, a rule list of
 * whole names ([A-Za-z0-9_], at most SPAMD_RULE_MAX each, comma-separated,
 * shorter than SPAMD_TESTS_MAX, cut only when nearly full). A result read
 * back from a reply formatted from it must be the same (score and
 * threshold with 6 decimals, which are exact). The same input parses the
 * same way twice.
 *
 * spamd_check parses a reply as it arrives and stops at the first error
 * that is not "truncated": so a cut of a good reply must only ever be
 * "truncated" (every cut, for inputs up to PREFIX_ALL bytes; some cuts
 * otherwise), and a cut that is bad in another way must make the whole
 * input bad too. Any broken invariant traps (__builtin_trap), which
 * libFuzzer reports as a crash.
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spamd.h"

#define ERRLEN		512
#define PREFIX_ALL	4096		/* inputs up to this size: every cut checked */
#define PREFIX_SAMPLES	16		/* larger ones: this many cuts */
#define FILL		0x5a		/* what an untouched result is made of */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_assert - a broken invariant is a crash */
static inline void
fuzz_assert(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* fuzz_rand - xorshift64; the cuts of one input are always the same */
static uint64_t
fuzz_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* fuzz_is_more - the errors that more bytes might mend (what spamd_check waits on) */
static int
fuzz_is_more(const char *err)
{
	return strcmp(err, "spamd: empty reply") == 0
	    || strcmp(err, "spamd: reply truncated in the status line") == 0
	    || strcmp(err, "spamd: reply truncated in the headers") == 0
	    || strncmp(err, "spamd: reply truncated: ", 24) == 0;
}

/* fuzz_untouched - the result still holds FILL everywhere */
static int
fuzz_untouched(const struct spamd_result *res)
{
	const unsigned char *p = (const unsigned char *) res;

	for (size_t i = 0; i < sizeof(*res); i++)
		if (p[i] != FILL)
			return 0;
	return 1;
}

/* fuzz_parse - spamd_parse with the failure invariants checked; its return */
static int
fuzz_parse(const char *buf, size_t len, struct spamd_result *res, char *err)
{
	int	rc;

	memset(res, FILL, sizeof(*res));
	err[0] = '\0';
	rc = spamd_parse(buf, len, res, err, ERRLEN);
	fuzz_assert(rc == 0 || rc == -1);
	if (rc == -1) {
		fuzz_assert(fuzz_untouched(res));
		fuzz_assert(strncmp(err, "spamd: ", 7) == 0 && strlen(err) > 7 && strlen(err) < ERRLEN);
		for (const char *c = err; *c; c++)
			fuzz_assert(*c >= 0x20 && *c < 0x7f);
	}
	return rc;
}

/* fuzz_check_result - the promises of a good result */
static void
fuzz_check_result(const struct spamd_result *res, const char *buf, size_t len)
{
	size_t	n = strnlen(res->tests, SPAMD_TESTS_MAX);
	size_t	name = 0;

	fuzz_assert(len >= 6 && len <= SPAMD_REPLY_MAX && memcmp(buf, "SPAMD/", 6) == 0);
	fuzz_assert(memchr(buf, '\0', len) == NULL);
	fuzz_assert(isfinite(res->score) && fabs(res->score) < 1e6);
	fuzz_assert(isfinite(res->threshold) && fabs(res->threshold) < 1e6);
	fuzz_assert(!signbit(res->score) || res->score != 0);		/* no -0 */
	fuzz_assert(res->is_spam == 0 || res->is_spam == 1);
	fuzz_assert(res->tests_cut == 0 || res->tests_cut == 1);
	fuzz_assert(n < SPAMD_TESTS_MAX);
	for (size_t i = 0; i <= n; i++) {
		char	c = res->tests[i];

		if (c == ',' || c == '\0') {
			fuzz_assert(n == 0 || (name >= 1 && name <= SPAMD_RULE_MAX));
			name = 0;
			continue;
		}
		fuzz_assert((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
		name++;
	}
	/* cut only when the next name could not fit */
	if (res->tests_cut)
		fuzz_assert(n >= SPAMD_TESTS_MAX - 1 - SPAMD_RULE_MAX - 1);
}

/* fuzz_round_trip - format res as spamd would, parse it back: the same */
static void
fuzz_round_trip(const struct spamd_result *res)
{
	char	reply[SPAMD_TESTS_MAX + 256];
	struct spamd_result back;
	char	err[ERRLEN];
	int	n;

	n = snprintf(reply, sizeof(reply), "SPAMD/1.1 0 EX_OK\r\nContent-length: %zu\r\n"
		     "Spam: %s ; %.6f / %.6f\r\n\r\n%s", strlen(res->tests),
		     res->is_spam ? "True" : "False", res->score, res->threshold, res->tests);
	fuzz_assert(n > 0 && (size_t) n < sizeof(reply));
	fuzz_assert(fuzz_parse(reply, (size_t) n, &back, err) == 0);
	fuzz_assert(back.score == res->score && back.threshold == res->threshold);
	fuzz_assert(back.is_spam == res->is_spam);
	fuzz_assert(strcmp(back.tests, res->tests) == 0);
	fuzz_assert(back.tests_cut == 0);
}

/* fuzz_cut - the first at bytes of an input whose whole parses with rc */
static void
fuzz_cut(const char *in, size_t at, int rc)
{
	struct spamd_result cut;
	char	err[ERRLEN];

	if (fuzz_parse(in, at, &cut, err) == 0)
		fuzz_assert(rc != 0);		/* a good reply has no good prefix */
	else if (rc == 0)
		fuzz_assert(fuzz_is_more(err));	/* spamd_check would have given up on it */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	struct spamd_result res;
	struct spamd_result again;
	char	err[ERRLEN];
	char	err2[ERRLEN];
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ size;
	int	rc;

	for (size_t i = 0; i < size && i < 64; i++)
		rng = (rng ^ data[i]) * 0x100000001b3ULL;
	rng |= 1;

	rc = fuzz_parse(in, size, &res, err);
	fuzz_assert(fuzz_parse(in, size, &again, err2) == rc);
	if (rc == 0) {
		fuzz_assert(memcmp(&res, &again, sizeof(res)) == 0);
		fuzz_check_result(&res, in, size);
		fuzz_round_trip(&res);
	} else {
		fuzz_assert(strcmp(err, err2) == 0);
	}

	/* cuts: of a good reply only "truncated"; a hard error in a cut stays one */
	if (rc == 0 && size <= PREFIX_ALL) {
		for (size_t at = 0; at < size; at++)
			fuzz_cut(in, at, rc);
	} else {
		for (int t = 0; t < PREFIX_SAMPLES && size > 0; t++)
			fuzz_cut(in, (size_t) (fuzz_rand(&rng) % size), rc);
	}
	return 0;
}
