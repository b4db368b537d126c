/* test_mx.c - MX sets and this node's standing in them */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"

static char *node_names[] = {"relay1.mhkit.example", "Relay2.MHKIT.example."};

static const struct mx_case {
	const char *name;
	const char *set;		/* mx_set_parse text */
	enum mx_status status;
	const char *ours;		/* matching node name */
	const char *best_other;		/* NULL = none */
} mx_cases[] = {
	{"no MX", "", MX_STATUS_NONE, "", NULL},
	{"we alone", "10 relay1.mhkit.example", MX_STATUS_PRIMARY, "relay1.mhkit.example", NULL},
	{"we first", "10 relay1.mhkit.example,20 mx.customer.example", MX_STATUS_PRIMARY,
	"relay1.mhkit.example", "mx.customer.example"},
	{"we second", "10 mx.customer.example,20 relay1.mhkit.example", MX_STATUS_SECONDARY,
	"relay1.mhkit.example", "mx.customer.example"},
	{"tie counts as primary", "10 mx.customer.example,10 relay1.mhkit.example", MX_STATUS_PRIMARY,
	"relay1.mhkit.example", "mx.customer.example"},
	{"second node name, case and dot", "5 relay2.mhkit.example,10 mx.customer.example",
		MX_STATUS_PRIMARY, "Relay2.MHKIT.example.", "mx.customer.example"},
	{"not listed at all", "10 mx1.customer.example,20 mx2.customer.example", MX_STATUS_SECONDARY,
	"", "mx1.customer.example"},
	{"both nodes, lower wins", "30 relay2.mhkit.example,20 relay1.mhkit.example,40 x.example",
		MX_STATUS_PRIMARY, "relay1.mhkit.example", "x.example"},
	{"unsorted input", "50 relay1.mhkit.example,0 mx.customer.example", MX_STATUS_SECONDARY,
	"relay1.mhkit.example", "mx.customer.example"},
};

START_TEST(test_mx_cases)
{
	const struct mx_case *c = &mx_cases[_i];
	struct mx_set set = {0};
	const char *ours = NULL;
	const struct mx_host *best;

	ck_assert_msg(mx_set_parse(c->set, &set) == 0, "%s: parse", c->name);
	ck_assert_msg(mx_status(&set, node_names, 2, &ours) == c->status, "%s: status %s", c->name,
		      mx_status_name(mx_status(&set, node_names, 2, &ours)));
	ck_assert_str_eq(ours, c->ours);
	best = mx_best_other(&set, node_names, 2);
	if (c->best_other)
		ck_assert_str_eq(best->name, c->best_other);
	else
		ck_assert_ptr_null(best);
}
END_TEST

START_TEST(test_format_roundtrip)
{
	struct mx_set set = {0}, again = {0};
	char	buf[MX_TEXT_MAX];

	ck_assert_int_eq(mx_set_add(&set, 20, "MX2.Example.COM.", 16), 0);
	ck_assert_int_eq(mx_set_add(&set, 10, "mx1.example.com", 15), 0);
	ck_assert_int_eq(mx_set_add(&set, 10, "mx1.example.com", 15), 0);	/* duplicate */
	ck_assert_str_eq(mx_set_format(&set, buf, sizeof(buf)), "10 mx1.example.com,20 mx2.example.com");
	ck_assert_int_eq(mx_set_parse(buf, &again), 0);
	ck_assert_uint_eq(again.count, 2);
	ck_assert_str_eq(mx_set_format(&again, buf, sizeof(buf)), "10 mx1.example.com,20 mx2.example.com");
	ck_assert_ptr_null(mx_set_format(&set, buf, 10));
}
END_TEST

START_TEST(test_bounds)
{
	struct mx_set set = {0};
	char	name[32];

	/* only the MX_HOSTS_MAX most preferred are kept */
	for (unsigned i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "mx%u.example.com", i);
		ck_assert_int_eq(mx_set_add(&set, 100 - i, name, strlen(name)), 0);
	}
	ck_assert_uint_eq(set.count, MX_HOSTS_MAX);
	ck_assert_uint_eq(set.hosts[0].pref, 61);
	ck_assert_uint_eq(set.hosts[MX_HOSTS_MAX - 1].pref, 61 + MX_HOSTS_MAX - 1);
	ck_assert_int_eq(mx_set_add(&set, 65536, "a.example", 9), -1);
	ck_assert_int_eq(mx_set_add(&set, 1, "bad..name", 9), -1);
	ck_assert_int_eq(mx_set_add(&set, 1, "a\0b.example", 11), -1);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *const bad[] = {"10", "10 ", "x mx.example", "10 mx.example,", "10,mx.example",
	"-1 mx.example", "70000 mx.example", "10 mx..example", " 10 mx.example"};
	struct mx_set set;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mx_set_parse(bad[i], &set) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("mx");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_loop_test(tc, test_mx_cases, 0, (int) (sizeof(mx_cases) / sizeof(mx_cases[0])));
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_parse_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
