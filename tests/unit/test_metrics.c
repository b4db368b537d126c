/*
 * test_metrics.c - common/metrics.c: the Prometheus text of a counter, a
 * labelled counter (one label and two), a gauge that went down, and a
 * histogram with observations in known buckets (on a bound, between
 * bounds, past the last one); updates out of range ignored; a page past
 * its limit refused; bad definitions found by metrics_check. No I/O.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "metrics.h"
#include "sbuf.h"

static const char *const classes[] = {"dunno", "4xx", "5xx"};
static const char *const kinds[] = {"rcpt", "other"};
static const double bounds[] = {0.01, 0.1, 1};

/* render - the page of the given metrics, as a string the caller frees */
static char *
render(struct metric **list, size_t n)
{
	struct metrics_set set = {list, n, NULL};
	struct sbuf sb;
	char   *s;

	metrics_check(&set);
	sbuf_init(&sb, 65536);
	ck_assert_int_eq(metrics_render(&sb, &set), 0);
	s = strdup(sbuf_str(&sb));
	sbuf_free(&sb);
	return s;
}

START_TEST(test_untouched)
{
	static struct metric c = {.name = "t_plain_total", .help = "Nothing yet.",
	.type = METRIC_COUNTER};
	struct metric *list[] = {&c};
	char   *s = render(list, 1);

	ck_assert_str_eq(s, "# HELP t_plain_total Nothing yet.\n# TYPE t_plain_total counter\n"
			 "t_plain_total 0\n");
	free(s);
}
END_TEST

START_TEST(test_counter)
{
	static struct metric c = {.name = "t_requests_total", .help = "Requests answered.",
	.type = METRIC_COUNTER};
	struct metric *list[] = {&c};
	char   *s;

	metrics_inc(&c, 0);
	metrics_add(&c, 0, 41);
	metrics_inc(&c, 1);			/* out of range: ignored */
	ck_assert_int_eq(metrics_value(&c, 0), 42);
	s = render(list, 1);
	ck_assert_str_eq(s, "# HELP t_requests_total Requests answered.\n"
			 "# TYPE t_requests_total counter\n"
			 "t_requests_total 42\n");
	free(s);
}
END_TEST

START_TEST(test_labelled)
{
	static struct metric c = {.name = "t_decisions_total", .help = "Decisions by reply class.",
		.type = METRIC_COUNTER, .label1 = "class", .values1 = classes,
	.nvalues1 = METRICS_COUNT(classes)};
	struct metric *list[] = {&c};
	char   *s;

	metrics_inc(&c, 0);
	metrics_inc(&c, 2);
	metrics_inc(&c, 2);
	metrics_inc(&c, 3);			/* out of range: ignored */
	s = render(list, 1);
	ck_assert_str_eq(s, "# HELP t_decisions_total Decisions by reply class.\n"
			 "# TYPE t_decisions_total counter\n"
			 "t_decisions_total{class=\"dunno\"} 1\n"
			 "t_decisions_total{class=\"4xx\"} 0\n"
			 "t_decisions_total{class=\"5xx\"} 2\n");
	free(s);
}
END_TEST

START_TEST(test_two_labels)
{
	static struct metric c = {.name = "t_kc_total", .help = "By kind and class.",
		.type = METRIC_COUNTER, .label1 = "kind", .values1 = kinds,
		.nvalues1 = METRICS_COUNT(kinds), .label2 = "class", .values2 = classes,
	.nvalues2 = METRICS_COUNT(classes)};
	struct metric *list[] = {&c};
	char   *s;

	metrics_inc(&c, 1 * 3 + 2);		/* other, 5xx */
	metrics_add(&c, 0 * 3 + 1, 7);		/* rcpt, 4xx */
	s = render(list, 1);
	ck_assert_str_eq(s, "# HELP t_kc_total By kind and class.\n"
			 "# TYPE t_kc_total counter\n"
			 "t_kc_total{kind=\"rcpt\",class=\"dunno\"} 0\n"
			 "t_kc_total{kind=\"rcpt\",class=\"4xx\"} 7\n"
			 "t_kc_total{kind=\"rcpt\",class=\"5xx\"} 0\n"
			 "t_kc_total{kind=\"other\",class=\"dunno\"} 0\n"
			 "t_kc_total{kind=\"other\",class=\"4xx\"} 0\n"
			 "t_kc_total{kind=\"other\",class=\"5xx\"} 1\n");
	free(s);
}
END_TEST

START_TEST(test_gauge)
{
	static struct metric g = {.name = "t_connections", .help = "Connections open.",
	.type = METRIC_GAUGE};
	static struct metric h = {.name = "t_up", .help = "Up.", .type = METRIC_GAUGE};
	struct metric *list[] = {&g, &h};
	char   *s;

	metrics_gauge_add(&g, 0, 3);
	metrics_gauge_add(&g, 0, -5);
	metrics_set(&h, 0, 1);
	ck_assert_int_eq(metrics_value(&g, 0), -2);
	s = render(list, 2);
	ck_assert_str_eq(s, "# HELP t_connections Connections open.\n"
			 "# TYPE t_connections gauge\n"
			 "t_connections -2\n"
			 "# HELP t_up Up.\n"
			 "# TYPE t_up gauge\n"
			 "t_up 1\n");
	free(s);
}
END_TEST

START_TEST(test_histogram)
{
	static struct metric h = {.name = "t_seconds", .help = "Latency.", .type = METRIC_HISTOGRAM,
	.bounds = bounds, .nbounds = METRICS_COUNT(bounds)};
	struct metric *list[] = {&h};
	char   *s;

	metrics_observe(&h, 0, 0.005);		/* le 0.01 */
	metrics_observe(&h, 0, 0.01);		/* on the bound: le 0.01 */
	metrics_observe(&h, 0, 0.5);		/* le 1 */
	metrics_observe(&h, 0, 2.5);		/* +Inf */
	metrics_observe(&h, 1, 2.5);		/* out of range: ignored */
	s = render(list, 1);
	ck_assert_str_eq(s, "# HELP t_seconds Latency.\n"
			 "# TYPE t_seconds histogram\n"
			 "t_seconds_bucket{le=\"0.01\"} 2\n"
			 "t_seconds_bucket{le=\"0.1\"} 2\n"
			 "t_seconds_bucket{le=\"1\"} 3\n"
			 "t_seconds_bucket{le=\"+Inf\"} 4\n"
			 "t_seconds_sum 3.015\n"
			 "t_seconds_count 4\n");
	free(s);
}
END_TEST

START_TEST(test_histogram_labelled)
{
	static struct metric h = {.name = "t_probe_seconds", .help = "Probe time.",
		.type = METRIC_HISTOGRAM, .label1 = "outcome", .values1 = kinds,
	.nvalues1 = METRICS_COUNT(kinds), .bounds = bounds, .nbounds = METRICS_COUNT(bounds)};
	struct metric *list[] = {&h};
	char   *s;

	metrics_observe(&h, 1, 0.25);
	s = render(list, 1);
	ck_assert_str_eq(s, "# HELP t_probe_seconds Probe time.\n"
			 "# TYPE t_probe_seconds histogram\n"
			 "t_probe_seconds_bucket{outcome=\"rcpt\",le=\"0.01\"} 0\n"
			 "t_probe_seconds_bucket{outcome=\"rcpt\",le=\"0.1\"} 0\n"
			 "t_probe_seconds_bucket{outcome=\"rcpt\",le=\"1\"} 0\n"
			 "t_probe_seconds_bucket{outcome=\"rcpt\",le=\"+Inf\"} 0\n"
			 "t_probe_seconds_sum{outcome=\"rcpt\"} 0\n"
			 "t_probe_seconds_count{outcome=\"rcpt\"} 0\n"
			 "t_probe_seconds_bucket{outcome=\"other\",le=\"0.01\"} 0\n"
			 "t_probe_seconds_bucket{outcome=\"other\",le=\"0.1\"} 0\n"
			 "t_probe_seconds_bucket{outcome=\"other\",le=\"1\"} 1\n"
			 "t_probe_seconds_bucket{outcome=\"other\",le=\"+Inf\"} 1\n"
			 "t_probe_seconds_sum{outcome=\"other\"} 0.25\n"
			 "t_probe_seconds_count{outcome=\"other\"} 1\n");
	free(s);
}
END_TEST

START_TEST(test_limit)
{
	static struct metric c = {.name = "t_limited_total", .help = "A page too big.",
	.type = METRIC_COUNTER};
	struct metric *list[] = {&c};
	struct metrics_set set = {list, 1, NULL};
	struct sbuf sb;

	sbuf_init(&sb, 40);
	ck_assert_int_eq(metrics_render(&sb, &set), -1);
	sbuf_free(&sb);
}
END_TEST

/* bad definitions: metrics_check panics (msg_panic aborts) */
START_TEST(test_check_too_many_cells)
{
	static const char *const many[40] = {"x"};
	static struct metric h = {.name = "t_big", .help = "Too big.", .type = METRIC_HISTOGRAM,
		.label1 = "l", .values1 = many, .nvalues1 = 40, .bounds = bounds,
	.nbounds = METRICS_COUNT(bounds)};
	struct metric *list[] = {&h};
	struct metrics_set set = {list, 1, NULL};

	metrics_check(&set);
}
END_TEST

START_TEST(test_check_bounds_order)
{
	static const double down[] = {1, 0.1};
	static struct metric h = {.name = "t_down", .help = "Bounds down.", .type = METRIC_HISTOGRAM,
	.bounds = down, .nbounds = 2};
	struct metric *list[] = {&h};
	struct metrics_set set = {list, 1, NULL};

	metrics_check(&set);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite  *s = suite_create("metrics");
	TCase  *tc = tcase_create("render");

	tcase_add_test(tc, test_untouched);
	tcase_add_test(tc, test_counter);
	tcase_add_test(tc, test_labelled);
	tcase_add_test(tc, test_two_labels);
	tcase_add_test(tc, test_gauge);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_histogram_labelled);
	tcase_add_test(tc, test_limit);
	/* a test that aborts needs a process of its own: not with CK_FORK=no (the valgrind runs) */
	if (getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no") != 0) {
		tcase_add_test_raise_signal(tc, test_check_too_many_cells, SIGABRT);
		tcase_add_test_raise_signal(tc, test_check_bounds_order, SIGABRT);
	}
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
