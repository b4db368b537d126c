/* metrics.h - counters, gauges and histograms served to Prometheus (see metrics.c) */
#ifndef MH_METRICS_H
#define MH_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct endpoint;
struct sbuf;

#define METRICS_CELLS_MAX	64	/* values of one metric: series x (buckets + 1 for a histogram) */

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM
};

/*
 * One metric, defined statically by the program (name with its prefix,
 * help, type; up to two labels, each with a fixed list of values; a
 * histogram's upper bounds, ascending, +Inf implied). A series is one
 * combination of label values: index = value1 * nvalues2 + value2.
 * Label values and help are constants of ours: they are not escaped.
 */
struct metric {
	const char *name;
	const char *help;
	enum metric_type type;
	const char *label1, *label2;		/* NULL: none */
	const char *const *values1, *const *values2;
	unsigned nvalues1, nvalues2;
	const double *bounds;			/* histograms */
	unsigned nbounds;
	_Atomic uint64_t cells[METRICS_CELLS_MAX];	/* counters; gauges as int64; buckets, then the sum's bits */
};

#define METRICS_COUNT(a)	((unsigned) (sizeof(a) / sizeof((a)[0])))

/* the metrics of a program, and what to refresh before each rendering (NULL: nothing) */
struct metrics_set {
	struct metric *const *list;
	size_t	count;
	void	(*collect)(void);
};

/* metrics_series - how many series m has (1 without labels) */
static inline unsigned
metrics_series(const struct metric *m)
{
	return (m->label1 ? m->nvalues1 : 1) * (m->label2 ? m->nvalues2 : 1);
}

/* metrics_add - counter series i += n (any thread; an index out of range is ignored) */
static inline void
metrics_add(struct metric *m, unsigned i, uint64_t n)
{
	if (i < metrics_series(m))
		atomic_fetch_add_explicit(&m->cells[i], n, memory_order_relaxed);
}

/* metrics_inc - counter series i += 1 */
static inline void
metrics_inc(struct metric *m, unsigned i)
{
	metrics_add(m, i, 1);
}

/* metrics_gauge_add - gauge series i += delta (negative to go down) */
static inline void
metrics_gauge_add(struct metric *m, unsigned i, int64_t delta)
{
	if (i < metrics_series(m))
		atomic_fetch_add_explicit(&m->cells[i], (uint64_t) delta, memory_order_relaxed);
}

/* metrics_set - gauge series i = v (or a counter copied from elsewhere, in a collect function) */
static inline void
metrics_set(struct metric *m, unsigned i, int64_t v)
{
	if (i < metrics_series(m))
		atomic_store_explicit(&m->cells[i], (uint64_t) v, memory_order_relaxed);
}

/* metrics_observe - a histogram's series i sees value v (seconds, bytes...) */
void	metrics_observe(struct metric *, unsigned i, double v);
/* metrics_value - a counter's or gauge's series i, as it stands (for tests and collect functions) */
int64_t	metrics_value(const struct metric *, unsigned i);

/* metrics_check - each metric fits METRICS_CELLS_MAX and has its values: panic otherwise (our bug) */
void	metrics_check(const struct metrics_set *);
/* metrics_render - all of set in Prometheus text format 0.0.4; -1 past out's limit */
int	metrics_render(struct sbuf *out, const struct metrics_set *);

/* The HTTP server: GET /metrics on its own thread and event loop. */
struct metrics_server;

/*
 * metrics_listen - bind ep (inet or unix) now, while privileged; NULL with
 * err ("inet:127.0.0.1:9427: cannot listen: Address already in use")
 */
struct metrics_server *metrics_listen(const struct endpoint *ep, const struct metrics_set *,
				      char *err, size_t errlen);
/* metrics_start - serve from a thread (after any fork: threads do not survive it); -1 with err */
int	metrics_start(struct metrics_server *, char *err, size_t errlen);
/* metrics_stop - stop the thread (if started), close the socket, free; NULL is fine */
void	metrics_stop(struct metrics_server *);

#endif
