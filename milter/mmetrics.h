/* mmetrics.h - what mhmilter counts for Prometheus (see mmetrics.c, common/metrics.h) */
#ifndef MH_MMETRICS_H
#define MH_MMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include <libmilter/mfapi.h>

#include "clamd.h"
#include "metrics.h"
#include "spamd.h"

extern struct metric mm_spf_results;		/* enum spf_result */
extern const struct metrics_set mmetrics_set;

/*
 * mmetrics_wrap - before smfi_register: count connections, recipients and
 * messages by what the callbacks of desc answer (the callbacks themselves
 * stay as they are)
 */
void	mmetrics_wrap(struct smfiDesc *desc);

/* the scanners, as spamd.h and clamd.h, counted and timed */
int	mmetrics_spamd_check(const struct endpoint *ep, const char *msg, size_t len,
			     uint64_t timeout_ms, struct spamd_result *res, char *err, size_t errlen);
struct clamd *mmetrics_clamd_open(const struct endpoint *ep, uint64_t timeout_ms, uint64_t max_bytes,
				  char *err, size_t errlen);
int	mmetrics_clamd_write(struct clamd *, const void *data, size_t len, char *err, size_t errlen);
int	mmetrics_clamd_finish(struct clamd *, struct clamd_result *res, char *err, size_t errlen);

/* mmetrics_spf - an SPF check's result (enum spf_result) */
static inline void
mmetrics_spf(int result)
{
	metrics_inc(&mm_spf_results, (unsigned) result);
}

#endif
