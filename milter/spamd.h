/* spamd.h - a direct client of SpamAssassin's spamd (see spamd.c) */
#ifndef MH_SPAMD_H
#define MH_SPAMD_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define SPAMD_TESTS_MAX		1024	/* bytes of the rule names kept (comma list) */
#define SPAMD_REPLY_MAX		65536	/* bytes of a whole reply: status, headers, body */
#define SPAMD_LINE_MAX		1024	/* bytes of a status or header line, without CR LF */
#define SPAMD_HEADERS_MAX	32	/* header lines after the status line */
#define SPAMD_RULE_MAX		128	/* bytes of one rule name (SpamAssassin allows 100) */
#define SPAMD_TIMEOUT_DEFAULT_MS 30000	/* spamd_check with a timeout of 0 */

struct spamd_result {
	double	score;			/* the message's score */
	double	threshold;		/* spamd's own required_score (informational) */
	int	is_spam;		/* spamd's verdict: score >= its threshold */
	char	tests[SPAMD_TESTS_MAX];	/* rules that hit, "A,B,C"; "" when none */
	int	tests_cut;		/* 1: more rules hit than tests holds (cut after a whole name) */
};

/*
 * spamd_parse - a whole reply to SYMBOLS (status line, headers, body) into
 * res; 0, or -1 with err (never a partial result).
 */
int	spamd_parse(const char *buf, size_t len, struct spamd_result *res,
		    char *err, size_t errlen);

/*
 * spamd_check - connect to ep, send SYMBOLS with msg (the whole message as
 * the client would see it: headers, empty line, body), read the reply; all
 * within timeout_ms (0: SPAMD_TIMEOUT_DEFAULT_MS). 0 with res, or -1 with
 * err (connect refused, timeout, bad reply...). Thread-safe.
 */
int	spamd_check(const struct endpoint *ep, const char *msg, size_t len,
		    uint64_t timeout_ms, struct spamd_result *res, char *err, size_t errlen);

#endif
