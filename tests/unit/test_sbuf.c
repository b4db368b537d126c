/* test_sbuf.c - bounded strings: limits are hard, never a silent truncation */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

START_TEST(test_append_within_limit)
{
	struct sbuf sb;

	sbuf_init(&sb, 8);
	ck_assert_str_eq(sbuf_str(&sb), "");
	ck_assert_int_eq(sbuf_puts(&sb, "abcd"), 0);
	ck_assert_int_eq(sbuf_puts(&sb, "efgh"), 0);
	ck_assert_str_eq(sbuf_str(&sb), "abcdefgh");
	ck_assert_uint_eq(sb.len, 8);
	sbuf_free(&sb);
}
END_TEST

START_TEST(test_limit_refuses_and_keeps)
{
	struct sbuf sb;

	sbuf_init(&sb, 8);
	ck_assert_int_eq(sbuf_puts(&sb, "abcdef"), 0);
	ck_assert_int_eq(sbuf_puts(&sb, "xyz"), -1);
	ck_assert_str_eq(sbuf_str(&sb), "abcdef");
	ck_assert_int_eq(sbuf_putc(&sb, 'g'), 0);
	ck_assert_int_eq(sbuf_putc(&sb, 'h'), 0);
	ck_assert_int_eq(sbuf_putc(&sb, 'i'), -1);
	ck_assert_int_eq(sbuf_printf(&sb, "%d", 1), -1);
	ck_assert_str_eq(sbuf_str(&sb), "abcdefgh");
	sbuf_free(&sb);
}
END_TEST

START_TEST(test_overflow_sizes)
{
	struct sbuf sb;

	sbuf_init(&sb, 16);
	ck_assert_int_eq(sbuf_puts(&sb, "ab"), 0);
	ck_assert_int_eq(sbuf_append(&sb, "x", (size_t) -1), -1);
	ck_assert_int_eq(sbuf_append(&sb, "x", (size_t) -2), -1);
	ck_assert_str_eq(sbuf_str(&sb), "ab");
	sbuf_free(&sb);
}
END_TEST

START_TEST(test_printf_and_consume)
{
	struct sbuf sb;

	sbuf_init(&sb, 1 << 20);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(sbuf_printf(&sb, "%04d,", i), 0);
	ck_assert_uint_eq(sb.len, 5000);
	sbuf_consume(&sb, 4995);
	ck_assert_str_eq(sbuf_str(&sb), "0999,");
	sbuf_consume(&sb, 100);
	ck_assert_str_eq(sbuf_str(&sb), "");
	ck_assert_uint_eq(sb.len, 0);
	sbuf_free(&sb);
}
END_TEST

START_TEST(test_binary_and_nul)
{
	struct sbuf sb;

	sbuf_init(&sb, 16);
	ck_assert_int_eq(sbuf_append(&sb, "a\0b", 3), 0);
	ck_assert_uint_eq(sb.len, 3);
	ck_assert_int_eq(memcmp(sb.data, "a\0b", 4), 0);
	sbuf_reset(&sb);
	ck_assert_uint_eq(sb.len, 0);
	ck_assert_str_eq(sbuf_str(&sb), "");
	sbuf_free(&sb);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("sbuf");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_test(tc, test_append_within_limit);
	tcase_add_test(tc, test_limit_refuses_and_keeps);
	tcase_add_test(tc, test_overflow_sizes);
	tcase_add_test(tc, test_printf_and_consume);
	tcase_add_test(tc, test_binary_and_nul);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
