/* spamd.h - a direct client of SpamAssassin's spamd (see spamd.c) */
#ifndef MH_SPAMD_H
#define MH_SPAMD_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define SPAMD_TESTS_MAX		1024	/* bytes of the rule names kept (comma list) */

struct spamd_result {
	double	score;			/* the message's score */
	double	threshold;		/* spamd's own required_score (informational) */
	int	is_spam;		/* spamd's verdict: score >= its threshold */
	char	tests[SPAMD_TESTS_MAX];	/* rules that hit, "A,B,C"; "" when none */
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
 * within timeout_ms. 0 with res, or -1 with err (connect refused, timeout,
 * bad reply...).
 */
int	spamd_check(const struct endpoint *ep, const char *msg, size_t len,
		    uint64_t timeout_ms, struct spamd_result *res, char *err, size_t errlen);

#endif
