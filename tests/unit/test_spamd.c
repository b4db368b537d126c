/* test_spamd.c - being written with milter/spamd.c */
#include "config.h"

#include <stdlib.h>

#include <check.h>

#include "spamd.h"

START_TEST(test_placeholder)
{
	char	err[128];

	ck_assert_int_eq(spamd_parse("", 0, NULL, err, sizeof(err)), -1);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("spamd");
	TCase  *tc = tcase_create("parse");
	SRunner *sr;
	int	failed;

	tcase_add_test(tc, test_placeholder);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
