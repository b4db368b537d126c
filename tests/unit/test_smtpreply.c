/*
 * test_smtpreply.c - common/smtpreply.c: SMTP replies from a server we do
 * not trust, from a table of named cases fed whole and byte by byte, plus
 * the bounds (line length, line count), what is left over after a reply,
 * and the sanitiser.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "smtpreply.h"

static const struct {
	const char *name, *in;
	enum smtpreply_status want;
	int	code;
	const char *text;		/* or the error, for SMTPREPLY_ERROR */
} cases[] = {
	{"one line", "250 ok\r\n", SMTPREPLY_DONE, 250, "ok"},
	{"bare LF", "250 ok\n", SMTPREPLY_DONE, 250, "ok"},
	{"code alone", "250\r\n", SMTPREPLY_DONE, 250, ""},
	{"code and a space", "354 \r\n", SMTPREPLY_DONE, 354, ""},
	{"multi-line", "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", SMTPREPLY_DONE, 250,
	"mx.example PIPELINING SIZE 1000"},
	{"multi-line, empty continuation", "220-\r\n220 hi\r\n", SMTPREPLY_DONE, 220, "hi"},
	{"5xx with enhanced code", "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown\r\n",
	SMTPREPLY_DONE, 550, "5.1.1 <x@example.com>: Recipient address rejected: User unknown"},
	{"tabs and runs of spaces", "450   a\t\tb  \r\n", SMTPREPLY_DONE, 450, "a b"},
	{"CR inside the text", "550 a\rb\r\n", SMTPREPLY_DONE, 550, "ab"},
	{"escape sequence", "550 \x1b[31mred\x1b[0m\r\n", SMTPREPLY_DONE, 550, "[31mred[0m"},
	{"8-bit bytes", "550 caf\xc3\xa9\r\n", SMTPREPLY_DONE, 550, "caf"},
	{"double quotes", "550 say \"no\"\r\n", SMTPREPLY_DONE, 550, "say 'no'"},
	{"incomplete", "250 ok", SMTPREPLY_MORE, 0, ""},
	{"incomplete multi-line", "250-a\r\n250-b\r\n", SMTPREPLY_MORE, 0, ""},
	{"letter in the code", "2x0 ok\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"code 999", "999 ok\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"code 199", "199 ok\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"code 260", "260 ok\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"code 600", "600 ok\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"two digits", "25\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"empty line", "\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"no separator", "250ok\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"binary garbage", "\x89PNG\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
	{"NUL byte", "250 o\0k\r\n", SMTPREPLY_ERROR, 0, "NUL byte in a reply"},
	{"codes differ", "250-a\r\n251 b\r\n", SMTPREPLY_ERROR, 0, "reply lines with different codes"},
	{"text only", "hello\r\n", SMTPREPLY_ERROR, 0, "malformed reply code"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* feed - the case's bytes, in pieces of step (0 = all at once); the status at the end */
static enum smtpreply_status
feed(struct smtpreply *r, const char *in, size_t len, size_t step, size_t *total)
{
	enum smtpreply_status st = SMTPREPLY_MORE;
	size_t	off = 0, used;

	*total = 0;
	while (off < len) {
		size_t	n = step && len - off > step ? step : len - off;

		st = smtpreply_feed(r, in + off, n, &used);
		ck_assert_uint_le(used, n);
		*total += used;
		if (st != SMTPREPLY_MORE)
			break;
		ck_assert_uint_eq(used, n);
		off += n;
	}
	return st;
}

/* the case's input length: strlen, except for the one with a NUL */
static size_t
case_len(size_t i)
{
	return strcmp(cases[i].name, "NUL byte") == 0 ? 9 : strlen(cases[i].in);
}

START_TEST(test_case)
{
	static const size_t steps[] = {0, 1, 2, 7};

	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct smtpreply r;
		size_t	total;
		enum smtpreply_status st;

		smtpreply_init(&r);
		st = feed(&r, cases[_i].in, case_len((size_t) _i), steps[s], &total);
		ck_assert_msg(st == cases[_i].want, "%s (step %zu): status %d, want %d", cases[_i].name,
			      steps[s], (int) st, (int) cases[_i].want);
		if (st == SMTPREPLY_DONE) {
			ck_assert_int_eq(r.code, cases[_i].code);
			ck_assert_str_eq(r.text, cases[_i].text);
			ck_assert_uint_eq(total, case_len((size_t) _i));
		} else if (st == SMTPREPLY_ERROR) {
			ck_assert_str_eq(r.err, cases[_i].text);
		}
	}
}
END_TEST

START_TEST(test_leftover)
{
	const char *in = "250-a\r\n250 b\r\n354 go ahead\r\n";
	struct smtpreply r;
	size_t	used, len = strlen(in);

	smtpreply_init(&r);
	ck_assert_int_eq(smtpreply_feed(&r, in, len, &used), SMTPREPLY_DONE);
	ck_assert_uint_eq(used, strlen("250-a\r\n250 b\r\n"));
	ck_assert_uint_eq(r.lines, 2);
	smtpreply_init(&r);
	ck_assert_int_eq(smtpreply_feed(&r, in + used, len - used, &used), SMTPREPLY_DONE);
	ck_assert_int_eq(r.code, 354);
	ck_assert_str_eq(r.text, "go ahead");
}
END_TEST

START_TEST(test_long_line)
{
	char   *in = malloc(1 << 20);
	struct smtpreply r;
	size_t	used;

	memset(in, 'x', 1 << 20);
	memcpy(in, "250 ", 4);
	smtpreply_init(&r);
	ck_assert_int_eq(smtpreply_feed(&r, in, 1 << 20, &used), SMTPREPLY_ERROR);
	ck_assert_str_eq(r.err, "reply line too long");
	ck_assert_uint_eq(used, SMTPREPLY_LINE_MAX);
	/* after an error nothing more is taken */
	ck_assert_int_eq(smtpreply_feed(&r, "250 ok\r\n", 8, &used), SMTPREPLY_ERROR);
	ck_assert_uint_eq(used, 0);
	/* the longest line that fits */
	smtpreply_init(&r);
	in[SMTPREPLY_LINE_MAX - 2] = '\r';
	in[SMTPREPLY_LINE_MAX - 1] = '\n';
	ck_assert_int_eq(smtpreply_feed(&r, in, SMTPREPLY_LINE_MAX, &used), SMTPREPLY_DONE);
	ck_assert_uint_eq(strlen(r.text), SMTPREPLY_TEXT_MAX);
	free(in);
}
END_TEST

START_TEST(test_endless_continuation)
{
	struct smtpreply r;
	size_t	used;
	unsigned n = 0;
	enum smtpreply_status st;

	smtpreply_init(&r);
	do {
		st = smtpreply_feed(&r, "250-more\r\n", 10, &used);
		n++;
	} while (st == SMTPREPLY_MORE && n < 10000);
	ck_assert_int_eq(st, SMTPREPLY_ERROR);
	ck_assert_str_eq(r.err, "too many reply lines");
	ck_assert_uint_eq(n, SMTPREPLY_LINES_MAX + 1);
	ck_assert_uint_le(strlen(r.text), SMTPREPLY_TEXT_MAX);
}
END_TEST

START_TEST(test_text_bound)
{
	struct smtpreply r;
	size_t	used;

	smtpreply_init(&r);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(smtpreply_feed(&r, "550-0123456789\r\n", 16, &used), SMTPREPLY_MORE);
	ck_assert_int_eq(smtpreply_feed(&r, "550 end\r\n", 9, &used), SMTPREPLY_DONE);
	ck_assert_uint_le(strlen(r.text), SMTPREPLY_TEXT_MAX);
	ck_assert(strncmp(r.text, "0123456789 0123456789", 21) == 0);
}
END_TEST

START_TEST(test_sanitise)
{
	char	out[8];

	smtpreply_sanitise(out, sizeof(out), "  a  b  ", 8);
	ck_assert_str_eq(out, "a b");
	smtpreply_sanitise(out, sizeof(out), "abcdefghij", 10);
	ck_assert_str_eq(out, "abcdefg");
	smtpreply_sanitise(out, sizeof(out), "\x01\x02\x7f\xff", 4);
	ck_assert_str_eq(out, "");
	smtpreply_sanitise(out, 1, "abc", 3);
	ck_assert_str_eq(out, "");
	smtpreply_sanitise(out, sizeof(out), "a\r\nb", 4);
	ck_assert_str_eq(out, "ab");
}
END_TEST

static Suite *
smtpreply_suite(void)
{
	Suite  *s = suite_create("smtpreply");
	TCase  *t = tcase_create("parse");

	tcase_add_loop_test(t, test_case, 0, (int) NCASES);
	tcase_add_test(t, test_leftover);
	tcase_add_test(t, test_long_line);
	tcase_add_test(t, test_endless_continuation);
	tcase_add_test(t, test_text_bound);
	tcase_add_test(t, test_sanitise);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smtpreply_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
