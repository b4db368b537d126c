/*
 * test_cacache.c - common/cacache.c: the text of a cached call-ahead
 * verdict. A table of named values parsed (well-formed, sanitised,
 * malformed), round trips through cacache_format, the format's refusals
 * and bounds, the verdict names and cacache_local.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cacache.h"

#define BAD	-1			/* cacache_parse refuses the value */

static const struct {
	const char *name, *in;
	int	want;			/* 0 or BAD */
	enum cacache_verdict verdict;
	long long at;
	int	code;
	const char *where, *text;
} cases[] = {
	{"accept", "accept 1700000000 250 mx.example.com:25 2.1.5 Ok",
	0, CACACHE_ACCEPT, 1700000000, 250, "mx.example.com:25", "2.1.5 Ok"},
	{"reject, text with spaces and <>",
		"reject 1700000001 550 mx.example.com:2525 5.1.1 <bob@example.com>: User unknown",
	0, CACACHE_REJECT, 1700000001, 550, "mx.example.com:2525", "5.1.1 <bob@example.com>: User unknown"},
	{"tempfail without a code", "tempfail 1700000002 0 mx.example.com:25 connect: Connection refused",
	0, CACACHE_TEMPFAIL, 1700000002, 0, "mx.example.com:25", "connect: Connection refused"},
	{"tempfail 4xx", "tempfail 5 451 192.0.2.1:25 4.3.0 try later",
	0, CACACHE_TEMPFAIL, 5, 451, "192.0.2.1:25", "4.3.0 try later"},
	{"IPv6 where", "accept 1 250 [2001:db8::1]:25 ok",
	0, CACACHE_ACCEPT, 1, 250, "[2001:db8::1]:25", "ok"},
	{"time 0", "accept 0 250 h:25 ok", 0, CACACHE_ACCEPT, 0, 250, "h:25", "ok"},
	{"code past int", "accept 1 4294967546 h:25 x", BAD, 0, 0, 0, "", ""},
	{"time past long long", "accept 99999999999999999999 250 h:25 x", BAD, 0, 0, 0, "", ""},
	{"time with +", "accept +5 250 h:25 x", BAD, 0, 0, 0, "", ""},
	{"code with +", "accept 1 +250 h:25 x", BAD, 0, 0, 0, "", ""},
	{"code -0", "accept 1 -0 h:25 x", BAD, 0, 0, 0, "", ""},
	{"where with ESC", "accept 1 250 h\033:25 x", BAD, 0, 0, 0, "", ""},
	{"where without port", "accept 1 250 mx.example.com x", BAD, 0, 0, 0, "", ""},
	{"where port too big", "accept 1 250 h:65536 x", BAD, 0, 0, 0, "", ""},
	{"code 200", "accept 1 200 h:25 x", 0, CACACHE_ACCEPT, 1, 200, "h:25", "x"},
	{"code 599", "reject 1 599 h:25 x", 0, CACACHE_REJECT, 1, 599, "h:25", "x"},
	{"no text", "accept 1 250 h:25", 0, CACACHE_ACCEPT, 1, 250, "h:25", ""},
	{"empty text", "accept 1 250 h:25 ", 0, CACACHE_ACCEPT, 1, 250, "h:25", ""},
	{"text with control characters", "reject 1 550 h:25 5.1.1 \x1b[31mno\x1b[0m\r\nbell\x07",
	0, CACACHE_REJECT, 1, 550, "h:25", "5.1.1 [31mno[0mbell"},
	{"text with tabs and runs of spaces", "reject 1 550 h:25  a\t\t b  ",
	0, CACACHE_REJECT, 1, 550, "h:25", "a b"},
	{"text with double quotes", "reject 1 550 h:25 say \"no\"",
	0, CACACHE_REJECT, 1, 550, "h:25", "say 'no'"},
	{"text with 8-bit bytes", "reject 1 550 h:25 caf\xc3\xa9",
	0, CACACHE_REJECT, 1, 550, "h:25", "caf"},

	{.name = "empty value", .in = "", .want = BAD},
	{.name = "bad verdict word", .in = "maybe 1700000000 250 h:25 x", .want = BAD},
	{.name = "verdict in capitals", .in = "Accept 1700000000 250 h:25 x", .want = BAD},
	{.name = "verdict with a suffix", .in = "accepted 1700000000 250 h:25 x", .want = BAD},
	{.name = "verdict alone", .in = "accept", .want = BAD},
	{.name = "no code", .in = "accept 1700000000", .want = BAD},
	{.name = "missing where", .in = "accept 1700000000 250", .want = BAD},
	{.name = "empty where", .in = "accept 1700000000 250 ", .want = BAD},
	{.name = "negative time", .in = "accept -5 250 h:25 x", .want = BAD},
	{.name = "time not a number", .in = "accept 17e8 250 h:25 x", .want = BAD},
	{.name = "empty time (two spaces)", .in = "accept  250 h:25 x", .want = BAD},
	{.name = "leading space", .in = " accept 1 250 h:25 x", .want = BAD},
	{.name = "code 999", .in = "reject 1 999 h:25 x", .want = BAD},
	{.name = "code 199", .in = "reject 1 199 h:25 x", .want = BAD},
	{.name = "code 600", .in = "reject 1 600 h:25 x", .want = BAD},
	{.name = "negative code", .in = "reject 1 -550 h:25 x", .want = BAD},
	{.name = "code not a number", .in = "reject 1 55O h:25 x", .want = BAD},
	{.name = "code and where swapped", .in = "reject 1 h:25 550 x", .want = BAD},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* entry_eq - field by field (the struct has padding) */
static int
entry_eq(const struct cacache_entry *a, const struct cacache_entry *b)
{
	return a->verdict == b->verdict && a->at == b->at && a->code == b->code
		&& strcmp(a->where, b->where) == 0 && strcmp(a->text, b->text) == 0;
}

/* entry_set - an entry with these fields */
static void
entry_set(struct cacache_entry *e, enum cacache_verdict v, long long at, int code, const char *where,
	  const char *text)
{
	memset(e, 0, sizeof(*e));
	e->verdict = v;
	e->at = at;
	e->code = code;
	snprintf(e->where, sizeof(e->where), "%s", where);
	snprintf(e->text, sizeof(e->text), "%s", text);
}

START_TEST(test_parse)
{
	struct cacache_entry e;
	int	ret = cacache_parse(cases[_i].in, &e);

	ck_assert_msg(ret == cases[_i].want, "%s: cacache_parse returned %d", cases[_i].name, ret);
	if (ret != 0)
		return;
	ck_assert_msg(e.verdict == cases[_i].verdict, "%s: verdict %d", cases[_i].name, (int) e.verdict);
	ck_assert_msg(e.at == cases[_i].at, "%s: at %lld", cases[_i].name, e.at);
	ck_assert_msg(e.code == cases[_i].code, "%s: code %d", cases[_i].name, e.code);
	ck_assert_msg(strcmp(e.where, cases[_i].where) == 0, "%s: where \"%s\"", cases[_i].name, e.where);
	ck_assert_msg(strcmp(e.text, cases[_i].text) == 0, "%s: text \"%s\"", cases[_i].name, e.text);
}
END_TEST

/* every value that parses gives the same entry after format and parse again */
START_TEST(test_parse_round_trip)
{
	struct cacache_entry a, b;
	char	buf[CACACHE_VALUE_MAX + 1];

	if (cases[_i].want != 0)
		return;
	ck_assert_int_eq(cacache_parse(cases[_i].in, &a), 0);
	ck_assert_msg(cacache_format(buf, sizeof(buf), &a) == 0, "%s: format", cases[_i].name);
	ck_assert_msg(cacache_parse(buf, &b) == 0, "%s: parse of \"%s\"", cases[_i].name, buf);
	ck_assert_msg(entry_eq(&a, &b), "%s: \"%s\" differs after a round trip",
		      cases[_i].name, buf);
}
END_TEST

START_TEST(test_format)
{
	struct cacache_entry e, back;
	char	buf[CACACHE_VALUE_MAX + 1];
	const char *want = "reject 1700000000 550 mx.example.com:2525 5.1.1 <bob@example.com>: User unknown";

	entry_set(&e, CACACHE_REJECT, 1700000000, 550, "mx.example.com:2525",
		  "5.1.1 <bob@example.com>: User unknown");
	ck_assert_int_eq(cacache_format(buf, sizeof(buf), &e), 0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(cacache_parse(buf, &back), 0);
	ck_assert(entry_eq(&back, &e));

	/* the buffer: exactly big enough, then one byte short */
	ck_assert_int_eq(cacache_format(buf, strlen(want) + 1, &e), 0);
	ck_assert_int_eq(cacache_format(buf, strlen(want), &e), -1);

	/* no text */
	e.text[0] = 0;
	ck_assert_int_eq(cacache_format(buf, sizeof(buf), &e), 0);
	ck_assert_str_eq(buf, "reject 1700000000 550 mx.example.com:2525 ");
	ck_assert_int_eq(cacache_parse(buf, &back), 0);
	ck_assert_str_eq(back.text, "");
}
END_TEST

START_TEST(test_format_refuses)
{
	struct cacache_entry e;
	char	buf[CACACHE_VALUE_MAX + 1];

	entry_set(&e, CACACHE_ACCEPT, 1, 250, "", "ok");

	ck_assert_int_eq(cacache_format(buf, sizeof(buf), &e), -1);	/* no where */
	strcpy(e.where, "mx.example.com 25");
	ck_assert_int_eq(cacache_format(buf, sizeof(buf), &e), -1);	/* a space would shift the text */
}
END_TEST

/* the largest entry fits CACACHE_VALUE_MAX; a longer where or text does not get through whole */
START_TEST(test_bounds)
{
	struct cacache_entry e, back;
	char	buf[CACACHE_VALUE_MAX + 1], in[2 * CACACHE_VALUE_MAX];

	memset(&e, 0, sizeof(e));
	e.verdict = CACACHE_TEMPFAIL;
	e.at = 9223372036854775807LL;
	e.code = 599;
	memset(e.where, 'w', CACACHE_WHERE_MAX - 6);
	memcpy(e.where + CACACHE_WHERE_MAX - 6, ":65535", 6);
	memset(e.text, 't', SMTPREPLY_TEXT_MAX);
	ck_assert_int_eq(cacache_format(buf, sizeof(buf), &e), 0);
	ck_assert_int_eq(cacache_parse(buf, &back), 0);
	ck_assert(entry_eq(&back, &e));

	/* where one byte too long: malformed */
	snprintf(in, sizeof(in), "accept 1 250 %0*d ok", CACACHE_WHERE_MAX + 1, 0);
	ck_assert_int_eq(cacache_parse(in, &back), -1);
	/* time longer than any word we keep: malformed */
	snprintf(in, sizeof(in), "accept %0*d 250 h:25 ok", CACACHE_WHERE_MAX + 1, 1);
	ck_assert_int_eq(cacache_parse(in, &back), -1);

	/* text too long: kept to SMTPREPLY_TEXT_MAX bytes, as every remote text */
	snprintf(in, sizeof(in), "reject 1 550 h:25 %0*d", SMTPREPLY_TEXT_MAX + 100, 7);
	ck_assert_int_eq(cacache_parse(in, &back), 0);
	ck_assert_uint_eq(strlen(back.text), SMTPREPLY_TEXT_MAX);
	ck_assert_int_eq(back.text[SMTPREPLY_TEXT_MAX - 1], '0');
}
END_TEST

START_TEST(test_verdict_names)
{
	ck_assert_str_eq(cacache_verdict_name(CACACHE_ACCEPT), "accept");
	ck_assert_str_eq(cacache_verdict_name(CACACHE_REJECT), "reject");
	ck_assert_str_eq(cacache_verdict_name(CACACHE_TEMPFAIL), "tempfail");
	ck_assert_str_eq(cacache_verdict_name((enum cacache_verdict) 7), "tempfail");
}
END_TEST

START_TEST(test_local)
{
	char	out[16];

	ck_assert_int_eq(cacache_local(out, sizeof(out), "Bob.Smith"), 0);
	ck_assert_str_eq(out, "bob.smith");
	ck_assert_int_eq(cacache_local(out, sizeof(out), "\"John Doe\""), 0);
	ck_assert_str_eq(out, "\"john doe\"");
	ck_assert_int_eq(cacache_local(out, sizeof(out), ""), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(cacache_local(out, sizeof(out), "already-lower+x"), 0);
	ck_assert_str_eq(out, "already-lower+x");
	/* 15 bytes fit 16, 16 do not */
	ck_assert_int_eq(cacache_local(out, sizeof(out), "ABCDEFGHIJKLMNO"), 0);
	ck_assert_str_eq(out, "abcdefghijklmno");
	ck_assert_int_eq(cacache_local(out, sizeof(out), "ABCDEFGHIJKLMNOP"), -1);
}
END_TEST

static Suite *
cacache_suite(void)
{
	Suite  *s = suite_create("cacache");
	TCase  *t = tcase_create("verdict");

	tcase_add_loop_test(t, test_parse, 0, (int) NCASES);
	tcase_add_loop_test(t, test_parse_round_trip, 0, (int) NCASES);
	tcase_add_test(t, test_format);
	tcase_add_test(t, test_format_refuses);
	tcase_add_test(t, test_bounds);
	tcase_add_test(t, test_verdict_names);
	tcase_add_test(t, test_local);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cacache_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
