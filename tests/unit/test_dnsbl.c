/* test_dnsbl.c - DNSBL query names (v4, v6 nibbles, mapped) and answer meanings */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dnsbl.h"

static const struct name_case {
	const char *ip;
	const char *zone;
	const char *name;		/* NULL = refused */
} name_cases[] = {
	{"192.0.2.1", "zen.example.net", "1.2.0.192.zen.example.net"},
	{"127.0.0.2", "bl.example", "2.0.0.127.bl.example"},
	{"::ffff:192.0.2.99", "bl.example", "99.2.0.192.bl.example"},
	{"2001:db8::1", "bl.example",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"},
	{"2001:DB8:ABCD:12::FE", "v6.example",
	"e.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.v6.example"},
	{"not-an-ip", "bl.example", NULL},
	{"192.0.2.1/32", "bl.example", NULL},
	{"", "bl.example", NULL},
};

START_TEST(test_names)
{
	const struct name_case *c = &name_cases[_i];
	char	out[DNSBL_NAME_MAX + 1];
	int	ret = dnsbl_query_name(c->ip, c->zone, out, sizeof(out));

	if (c->name) {
		ck_assert_int_eq(ret, 0);
		ck_assert_str_eq(out, c->name);
	} else {
		ck_assert_int_eq(ret, -1);
	}
}
END_TEST

START_TEST(test_name_too_long)
{
	char	zone[250];
	char	out[DNSBL_NAME_MAX + 1];

	memset(zone, 'a', sizeof(zone) - 1);
	zone[sizeof(zone) - 1] = 0;
	ck_assert_int_eq(dnsbl_query_name("192.0.2.1", zone, out, sizeof(out)), -1);
	ck_assert_int_eq(dnsbl_query_name("2001:db8::1", zone, out, sizeof(out)), -1);
	ck_assert_int_eq(dnsbl_query_name("192.0.2.1", "x", out, 8), -1);
}
END_TEST

START_TEST(test_classify)
{
	const unsigned char listed[][4] = {{127, 0, 0, 2}};
	const unsigned char err[][4] = {{127, 255, 255, 254}};
	const unsigned char err_and_listed[][4] = {{127, 255, 255, 252}, {127, 0, 0, 10}};
	const unsigned char outside[][4] = {{10, 0, 0, 2}, {192, 0, 2, 1}};
	const unsigned char edge[][4] = {{127, 255, 254, 1}};

	ck_assert_int_eq(dnsbl_classify(listed, 1), DNSBL_ANSWER_LISTED);
	ck_assert_int_eq(dnsbl_classify(err, 1), DNSBL_ANSWER_ERRCODE);
	ck_assert_int_eq(dnsbl_classify(err_and_listed, 2), DNSBL_ANSWER_LISTED);
	ck_assert_int_eq(dnsbl_classify(outside, 2), DNSBL_ANSWER_CLEAN);
	ck_assert_int_eq(dnsbl_classify(edge, 1), DNSBL_ANSWER_LISTED);
	ck_assert_int_eq(dnsbl_classify(NULL, 0), DNSBL_ANSWER_CLEAN);
	ck_assert_str_eq(dnsbl_answer_name(DNSBL_ANSWER_ERRCODE), "error-code");
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("dnsbl");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_loop_test(tc, test_names, 0, (int) (sizeof(name_cases) / sizeof(name_cases[0])));
	tcase_add_test(tc, test_name_too_long);
	tcase_add_test(tc, test_classify);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
