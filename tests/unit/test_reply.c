/* test_reply.c - replies are checked, sanitised and bounded */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

START_TEST(test_set)
{
	struct reply r;

	reply_set(&r, "550", "5.1.1", "<%s>: Recipient address rejected: User unknown", "a@b.example");
	ck_assert_int_eq(r.kind, REPLY_REJECT);
	ck_assert_str_eq(r.text, "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown");
	reply_set(&r, "451", "4.3.0", "Temporary lookup failure");
	ck_assert_int_eq(r.kind, REPLY_DEFER);
	reply_dunno(&r);
	ck_assert_int_eq(r.kind, REPLY_DUNNO);
	ck_assert_str_eq(r.text, "DUNNO");
}
END_TEST

START_TEST(test_sanitise)
{
	struct reply r;

	reply_set(&r, "554", "5.7.1", "text %s", "with\r\nCRLF\tand \x1b[31m escape \xc3\xa4");
	ck_assert_str_eq(r.text, "554 5.7.1 text with??CRLF?and ?[31m escape ??");
	ck_assert_ptr_null(strpbrk(r.text, "\r\n"));
}
END_TEST

START_TEST(test_bound)
{
	struct reply r;
	char	big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	reply_set(&r, "554", "5.7.1", "%s", big);
	ck_assert_uint_eq(strlen(r.text), REPLY_TEXT_MAX);
	ck_assert_str_eq(r.text + REPLY_TEXT_MAX - 3, "...");
}
END_TEST

START_TEST(test_remote)
{
	char	out[REPLY_REMOTE_MAX + 50];
	char	in[1000];

	memset(in, 'a', sizeof(in));
	reply_remote(out, sizeof(out), in, sizeof(in));
	ck_assert_uint_eq(strlen(out), REPLY_REMOTE_MAX);
	reply_remote(out, sizeof(out), "550 no\0such\r\nuser", 17);
	ck_assert_str_eq(out, "550 no?such??user");
}
END_TEST

START_TEST(test_code_valid)
{
	ck_assert(reply_code_valid("452", "4.7.1"));
	ck_assert(reply_code_valid("550", "5.7.23"));
	ck_assert(!reply_code_valid("452", "5.7.1"));
	ck_assert(!reply_code_valid("250", "2.0.0"));
	ck_assert(!reply_code_valid("45", "4.7.1"));
	ck_assert(!reply_code_valid("4x2", "4.7.1"));
	ck_assert(!reply_code_valid("452", "4.7"));
	ck_assert(!reply_code_valid("452", "4.7.1x"));
	ck_assert(!reply_code_valid("452", "4.7.1.2"));
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("reply");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_sanitise);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_remote);
	tcase_add_test(tc, test_code_valid);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
