/*
 * test_senderlist.c - senderlist.c: the precedence rule over all sixteen
 * combinations of the four list hits, each written out with the verdict
 * and the deciding list it must name (SPEC "Sender lists": a domain's list
 * beats the global list; a whitelist beats a blacklist of the same scope).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "senderlist.h"

struct senderlist_case {
	const char *name;
	struct senderlist_hits hits;	/* domain white, domain black, global white, global black */
	enum senderlist_verdict want;
	const char *reason;
};

static const struct senderlist_case senderlist_cases[] = {
	{"on no list", {0, 0, 0, 0}, SENDERLIST_NONE, "not listed"},
	{"global black", {0, 0, 0, 1}, SENDERLIST_BLACK, "global blacklist"},
	{"global white", {0, 0, 1, 0}, SENDERLIST_WHITE, "global whitelist"},
	{"global white beats global black", {0, 0, 1, 1}, SENDERLIST_WHITE, "global whitelist"},
	{"domain black", {0, 1, 0, 0}, SENDERLIST_BLACK, "domain blacklist"},
	{"domain black, global black", {0, 1, 0, 1}, SENDERLIST_BLACK, "domain blacklist"},
	{"domain black beats global white", {0, 1, 1, 0}, SENDERLIST_BLACK, "domain blacklist"},
	{"domain black beats global both", {0, 1, 1, 1}, SENDERLIST_BLACK, "domain blacklist"},
	{"domain white", {1, 0, 0, 0}, SENDERLIST_WHITE, "domain whitelist"},
	{"domain white beats global black", {1, 0, 0, 1}, SENDERLIST_WHITE, "domain whitelist"},
	{"domain white, global white", {1, 0, 1, 0}, SENDERLIST_WHITE, "domain whitelist"},
	{"domain white beats global both", {1, 0, 1, 1}, SENDERLIST_WHITE, "domain whitelist"},
	{"domain white beats domain black", {1, 1, 0, 0}, SENDERLIST_WHITE, "domain whitelist"},
	{"domain both, global black", {1, 1, 0, 1}, SENDERLIST_WHITE, "domain whitelist"},
	{"domain both, global white", {1, 1, 1, 0}, SENDERLIST_WHITE, "domain whitelist"},
	{"every list", {1, 1, 1, 1}, SENDERLIST_WHITE, "domain whitelist"},
};

#define NCASES	(sizeof(senderlist_cases) / sizeof(senderlist_cases[0]))

START_TEST(test_senderlist_case)
{
	const struct senderlist_case *c = &senderlist_cases[_i];
	const char *reason = NULL;
	enum senderlist_verdict v;

	v = senderlist_decide(&c->hits, &reason);
	ck_assert_msg(v == c->want, "%s: verdict %s, want %s", c->name,
		      senderlist_verdict_name(v), senderlist_verdict_name(c->want));
	ck_assert_ptr_nonnull(reason);
	ck_assert_msg(strcmp(reason, c->reason) == 0, "%s: reason \"%s\", want \"%s\"",
		      c->name, reason, c->reason);
	/* the reason is optional */
	ck_assert_int_eq(senderlist_decide(&c->hits, NULL), c->want);
}
END_TEST

START_TEST(test_senderlist_all_combinations)
{
	/* the table holds each of the 16 combinations exactly once */
	int	seen[16] = {0};

	ck_assert_uint_eq(NCASES, 16);
	for (size_t i = 0; i < NCASES; i++) {
		const struct senderlist_hits *h = &senderlist_cases[i].hits;
		int	bits = h->domain_white << 3 | h->domain_black << 2
			| h->global_white << 1 | h->global_black;

		ck_assert_int_eq(seen[bits], 0);
		seen[bits] = 1;
	}
}
END_TEST

START_TEST(test_senderlist_names)
{
	ck_assert_str_eq(senderlist_verdict_name(SENDERLIST_NONE), "none");
	ck_assert_str_eq(senderlist_verdict_name(SENDERLIST_WHITE), "white");
	ck_assert_str_eq(senderlist_verdict_name(SENDERLIST_BLACK), "black");
}
END_TEST

/* senderlist_suite - the sixteen cases and the names */
static Suite *
senderlist_suite(void)
{
	Suite  *s = suite_create("senderlist");
	TCase  *tc = tcase_create("decide");

	tcase_add_loop_test(tc, test_senderlist_case, 0, (int) NCASES);
	tcase_add_test(tc, test_senderlist_all_combinations);
	tcase_add_test(tc, test_senderlist_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(senderlist_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
