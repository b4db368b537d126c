/*
 * metrics.c - what mhpolicyd and mhmilter count, served to Prometheus
 * (SPEC "Operations": policyd.metrics, milter.metrics).
 *
 * A program defines its metrics statically (policyd/pmetrics.c,
 * milter/mmetrics.c): counters, gauges and histograms with fixed bucket
 * bounds, each with up to two labels whose values are a fixed list, so
 * that every series exists from the start (a dashboard sees 0, not
 * nothing) and memory is fixed. Updates are C11 atomic additions,
 * relaxed: cheap from mhmilter's threads and mhpolicyd's event loop
 * alike. A reader sees each value whole, and a histogram's _count is the
 * sum of the buckets it rendered, so +Inf and _count always agree.
 *
 * metrics_render writes Prometheus text exposition format 0.0.4: for each
 * metric its # HELP and # TYPE lines, then one line a series; a
 * histogram as NAME_bucket{le="B"} (cumulative, "+Inf" last), NAME_sum,
 * NAME_count.
 *
 * The server: metrics_listen binds the endpoint (inet host:port or a
 * unix socket, mode 0666) while the daemon is still root, beside its
 * other listeners; metrics_start, after detaching, runs libevent's evhttp
 * on a thread of its own with its own event_base (nothing of it is shared
 * with the program's loop, so libevent needs no locking), with every
 * signal blocked so that the program's signal handling is unchanged.
 * GET (or HEAD) /metrics -> 200, Content-Type: text/plain;
 * version=0.0.4; any other path -> 404; other methods -> evhttp's 405.
 * Limits: request headers METRICS_HEADERS_MAX bytes, body
 * METRICS_BODY_MAX, METRICS_TIMEOUT_S for a request to arrive and its
 * answer to leave (evhttp closes the connection otherwise), the page
 * METRICS_PAGE_MAX (past it: 500 and a warning, our bug). evhttp in
 * libevent 2.1 has no cap on connections: bind it to loopback or a
 * socket only the scraper reaches. metrics_stop wakes the thread through
 * a pipe, joins it and frees everything.
 *
 * Failures: binding is a startup error for the caller (err names the
 * endpoint); once running nothing here exits; a scrape that cannot be
 * answered is logged as a warning.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "endpoint.h"
#include "log.h"
#include "metrics.h"
#include "sbuf.h"

#define METRICS_HEADERS_MAX	8192	/* bytes of a request's line and headers */
#define METRICS_BODY_MAX	1024	/* bytes of a request body (a scrape has none) */
#define METRICS_TIMEOUT_S	10	/* a request's arrival, its answer's departure */
#define METRICS_PAGE_MAX	(1024 * 1024)	/* bytes of one rendering */
#define METRICS_BACKLOG		16
#define METRICS_PATH		"/metrics"
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* --- values ------------------------------------------------------------------------ */

/* metrics_cells - cells a metric uses */
static unsigned
metrics_cells(const struct metric *m)
{
	return metrics_series(m) * (m->type == METRIC_HISTOGRAM ? m->nbounds + 2 : 1);
}

/* metrics_observe - the first bucket whose bound is >= v, and the sum (a CAS loop on its bits) */
void
metrics_observe(struct metric *m, unsigned i, double v)
{
	_Atomic uint64_t *cell;
	uint64_t old, new;
	double	sum;
	unsigned b;

	if (m->type != METRIC_HISTOGRAM || i >= metrics_series(m))
		return;
	cell = &m->cells[i * (m->nbounds + 2)];
	for (b = 0; b < m->nbounds && v > m->bounds[b]; b++)
		continue;
	atomic_fetch_add_explicit(&cell[b], 1, memory_order_relaxed);
	old = atomic_load_explicit(&cell[m->nbounds + 1], memory_order_relaxed);
	do {
		memcpy(&sum, &old, sizeof(sum));
		sum += v;
		memcpy(&new, &sum, sizeof(new));
	} while (!atomic_compare_exchange_weak_explicit(&cell[m->nbounds + 1], &old, new,
							memory_order_relaxed, memory_order_relaxed));
}

/* metrics_value - a counter's or a gauge's series */
int64_t
metrics_value(const struct metric *m, unsigned i)
{
	if (m->type == METRIC_HISTOGRAM || i >= metrics_series(m))
		return 0;
	return (int64_t) atomic_load_explicit(&m->cells[i], memory_order_relaxed);
}

/* metrics_check - sizes and label values of every metric */
void
metrics_check(const struct metrics_set *set)
{
	for (size_t k = 0; k < set->count; k++) {
		const struct metric *m = set->list[k];

		if ((m->label1 && (m->values1 == NULL || m->nvalues1 == 0))
		    || (m->label2 && (m->values2 == NULL || m->nvalues2 == 0 || m->label1 == NULL))
		    || (m->type == METRIC_HISTOGRAM && (m->bounds == NULL || m->nbounds == 0))
		    || metrics_cells(m) > METRICS_CELLS_MAX)
			msg_panic("metrics: %s: bad definition", m->name);
		for (unsigned b = 1; m->type == METRIC_HISTOGRAM && b < m->nbounds; b++)
			if (m->bounds[b] <= m->bounds[b - 1])
				msg_panic("metrics: %s: bucket bounds not ascending", m->name);
	}
}

/* --- the text format ----------------------------------------------------------------- */

/* metrics_line - NAME[SUFFIX]{labels of series s[,le="LE"]} VALUE\n */
static int
metrics_line(struct sbuf *out, const struct metric *m, const char *suffix, unsigned s,
	     const char *le, const char *value)
{
	unsigned n2 = m->label2 ? m->nvalues2 : 1;
	const char *sep = "{";
	int	rc = sbuf_printf(out, "%s%s", m->name, suffix);

	if (m->label1) {
		rc |= sbuf_printf(out, "%s%s=\"%s\"", sep, m->label1, m->values1[s / n2]);
		sep = ",";
	}
	if (m->label2) {
		rc |= sbuf_printf(out, "%s%s=\"%s\"", sep, m->label2, m->values2[s % n2]);
		sep = ",";
	}
	if (le) {
		rc |= sbuf_printf(out, "%sle=\"%s\"", sep, le);
		sep = ",";
	}
	rc |= sbuf_printf(out, "%s %s\n", *sep == ',' ? "}" : "", value);
	return rc < 0 ? -1 : 0;
}

/* metrics_histogram - one series: cumulative buckets, +Inf, sum, count */
static int
metrics_histogram(struct sbuf *out, const struct metric *m, unsigned s)
{
	const _Atomic uint64_t *cell = &m->cells[s * (m->nbounds + 2)];
	uint64_t total = 0, bits;
	double	sum;
	char	le[32], value[32];
	int	rc = 0;

	for (unsigned b = 0; b <= m->nbounds; b++) {
		total += atomic_load_explicit(&cell[b], memory_order_relaxed);
		if (b < m->nbounds)
			snprintf(le, sizeof(le), "%g", m->bounds[b]);
		snprintf(value, sizeof(value), "%llu", (unsigned long long) total);
		rc |= metrics_line(out, m, "_bucket", s, b < m->nbounds ? le : "+Inf", value);
	}
	bits = atomic_load_explicit(&cell[m->nbounds + 1], memory_order_relaxed);
	memcpy(&sum, &bits, sizeof(sum));
	snprintf(value, sizeof(value), "%.9g", sum);
	rc |= metrics_line(out, m, "_sum", s, NULL, value);
	snprintf(value, sizeof(value), "%llu", (unsigned long long) total);
	rc |= metrics_line(out, m, "_count", s, NULL, value);
	return rc;
}

/* metrics_render - every metric of the set */
int
metrics_render(struct sbuf *out, const struct metrics_set *set)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	char	value[32];
	int	rc = 0;

	for (size_t k = 0; k < set->count && rc == 0; k++) {
		const struct metric *m = set->list[k];

		rc |= sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
				  types[m->type]);
		for (unsigned s = 0; s < metrics_series(m) && rc == 0; s++) {
			if (m->type == METRIC_HISTOGRAM) {
				rc |= metrics_histogram(out, m, s);
				continue;
			}
			if (m->type == METRIC_GAUGE)
				snprintf(value, sizeof(value), "%lld", (long long) metrics_value(m, s));
			else
				snprintf(value, sizeof(value), "%llu", (unsigned long long) metrics_value(m, s));
			rc |= metrics_line(out, m, "", s, NULL, value);
		}
	}
	return rc < 0 ? -1 : 0;
}

/* --- the server ---------------------------------------------------------------------- */

struct metrics_server {
	const struct metrics_set *set;
	char	text[ENDPOINT_FORMAT_MAX + ENDPOINT_PATH_MAX];	/* the endpoint, for logs */
	evutil_socket_t fd;		/* listening; evhttp owns it once started */
	int	wake[2];		/* metrics_stop -> the thread */
	struct event_base *base;
	struct evhttp *http;
	struct event *stop;
	pthread_t thread;
	int	started;
};

/* metrics_request - GET /metrics: the page; anything else: 404 */
static void
metrics_request(struct evhttp_request *req, void *arg)
{
	struct metrics_server *ms = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct sbuf page;

	if (path == NULL || strcmp(path, METRICS_PATH) != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	sbuf_init(&page, METRICS_PAGE_MAX);
	if (ms->set->collect)
		ms->set->collect();
	if (metrics_render(&page, ms->set) < 0) {
		msg_warn("metrics %s: the page passes %d bytes: not served", ms->text, METRICS_PAGE_MAX);
		sbuf_free(&page);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", METRICS_CONTENT_TYPE);
	if (evbuffer_add(evhttp_request_get_output_buffer(req), sbuf_str(&page), page.len) < 0)
		msg_warn("metrics %s: out of memory answering a scrape", ms->text);
	sbuf_free(&page);
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

/* metrics_wake - metrics_stop asked: leave the loop */
static void
metrics_wake(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_server *ms = arg;

	(void) fd;
	(void) what;
	event_base_loopbreak(ms->base);
}

/* metrics_run - the thread */
static void *
metrics_run(void *arg)
{
	struct metrics_server *ms = arg;

	event_base_dispatch(ms->base);
	return NULL;
}

/* metrics_bind - a listening socket for ep; -1 with err */
static int
metrics_bind(const struct endpoint *ep, const char *text, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_un sun;
	struct stat st;
	char	port[8];
	int	fd, rc, on = 1;

	if (ep->kind == ENDPOINT_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ep->path);
		/* a stale socket of a previous run; never remove anything else */
		if (lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(ep->path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0
		    || bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0
		    || listen(fd, METRICS_BACKLOG) < 0 || chmod(ep->path, 0666) < 0)
			goto fail;
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", ep->port);
	if ((rc = getaddrinfo(ep->host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", text, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0
	    || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, METRICS_BACKLOG) < 0) {
		rc = errno;
		freeaddrinfo(ai);
		errno = rc;
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;

fail:
	rc = errno;
	snprintf(err, errlen, "%s: cannot listen: %s", text, strerror(rc));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* metrics_listen - bind now, serve later */
struct metrics_server *
metrics_listen(const struct endpoint *ep, const struct metrics_set *set, char *err, size_t errlen)
{
	struct metrics_server *ms;

	metrics_check(set);
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		msg_panic("metrics: out of memory");
	ms->set = set;
	ms->wake[0] = ms->wake[1] = -1;
	endpoint_format(ep, ms->text, sizeof(ms->text));
	if ((ms->fd = metrics_bind(ep, ms->text, err, errlen)) < 0) {
		free(ms);
		return NULL;
	}
	return ms;
}

/* metrics_start - the loop, evhttp on the bound socket, the thread (every signal blocked in it) */
int
metrics_start(struct metrics_server *ms, char *err, size_t errlen)
{
	sigset_t all, old;
	int	rc;

	if (pipe2(ms->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "metrics %s: pipe: %s", ms->text, strerror(errno));
		return -1;
	}
	if ((ms->base = event_base_new()) == NULL || (ms->http = evhttp_new(ms->base)) == NULL
	    || (ms->stop = event_new(ms->base, ms->wake[0], EV_READ, metrics_wake, ms)) == NULL
	    || event_add(ms->stop, NULL) < 0) {
		snprintf(err, errlen, "metrics %s: cannot set up the HTTP server", ms->text);
		return -1;
	}
	evhttp_set_max_headers_size(ms->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(ms->http, METRICS_BODY_MAX);
	evhttp_set_timeout(ms->http, METRICS_TIMEOUT_S);
	evhttp_set_allowed_methods(ms->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(ms->http, metrics_request, ms);
	if (evhttp_accept_socket(ms->http, ms->fd) < 0) {
		snprintf(err, errlen, "metrics %s: evhttp refused the socket", ms->text);
		return -1;
	}
	ms->fd = -1;			/* evhttp closes it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ms->thread, NULL, metrics_run, ms);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "metrics %s: cannot start its thread: %s", ms->text, strerror(rc));
		return -1;
	}
	ms->started = 1;
	msg_info("metrics: serving GET %s on %s", METRICS_PATH, ms->text);
	return 0;
}

/* metrics_stop - wake the thread, join it, free */
void
metrics_stop(struct metrics_server *ms)
{
	if (ms == NULL)
		return;
	if (ms->started) {
		while (write(ms->wake[1], "x", 1) < 0 && errno == EINTR)
			continue;
		pthread_join(ms->thread, NULL);
	}
	if (ms->http)
		evhttp_free(ms->http);
	if (ms->stop)
		event_free(ms->stop);
	if (ms->base)
		event_base_free(ms->base);
	if (ms->fd >= 0)
		close(ms->fd);
	for (int i = 0; i < 2; i++)
		if (ms->wake[i] >= 0)
			close(ms->wake[i]);
	free(ms);
}
