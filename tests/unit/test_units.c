/*
 * test_units.c - sizes, durations, plain numbers and scores: named cases,
 * input -> value or the substring the error must contain.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

#define KB	1024ULL
#define MB	(1024ULL * KB)
#define GB	(1024ULL * MB)

/* One case: ok = 1 expects value, ok = 0 expects err to contain errsub. */
struct ucase {
	const char *label;
	const char *input;
	int	ok;
	uint64_t value;
	const char *errsub;
};

static const struct ucase size_cases[] = {
	{"plain bytes", "52428800", 1, 52428800, NULL},
	{"zero", "0", 1, 0, NULL},
	{"K", "1K", 1, KB, NULL},
	{"k lower", "4k", 1, 4 * KB, NULL},
	{"M", "10M", 1, 10 * MB, NULL},
	{"MB", "10MB", 1, 10 * MB, NULL},
	{"mb lower", "10mb", 1, 10 * MB, NULL},
	{"Mb mixed", "10Mb", 1, 10 * MB, NULL},
	{"G", "2G", 1, 2 * GB, NULL},
	{"GB", "1GB", 1, GB, NULL},
	{"B alone", "10B", 1, 10, NULL},
	{"leading zeros", "007M", 1, 7 * MB, NULL},
	{"largest", "18446744073709551615", 1, UINT64_MAX, NULL},
	{"empty", "", 0, 0, "bad size \"\": empty value"},
	{"unknown suffix", "10X", 0, 0, "bad size \"10X\": unknown suffix \"X\" (use K, M or G)"},
	{"terabytes", "1T", 0, 0, "unknown suffix \"T\""},
	{"KiB", "1KiB", 0, 0, "unknown suffix \"KiB\""},
	{"double suffix", "10MM", 0, 0, "unknown suffix \"MM\""},
	{"plus sign", "+10M", 0, 0, "a sign is not allowed"},
	{"minus sign", "-10M", 0, 0, "a sign is not allowed"},
	{"leading space", " 10M", 0, 0, "spaces are not allowed"},
	{"trailing space", "10M ", 0, 0, "spaces are not allowed"},
	{"inner space", "10 M", 0, 0, "spaces are not allowed"},
	{"suffix only", "M", 0, 0, "not a number"},
	{"fraction", "1.5M", 0, 0, "fractions are not allowed"},
	{"20 digits", "99999999999999999999", 0, 0, "number too large"},
	{"overflow by suffix", "17179869184G", 0, 0, "too large"},
	{"too long", "00000000000000000000000000000000000000000000000000000000000000001", 0, 0,
	"too long"},
	{"control char", "10\001", 0, 0, "unknown suffix \"?\""},
};

static const struct ucase duration_cases[] = {
	{"bare seconds", "30", 1, 30000, NULL},
	{"zero", "0", 1, 0, NULL},
	{"ms", "500ms", 1, 500, NULL},
	{"s", "2s", 1, 2000, NULL},
	{"m", "15m", 1, 15 * 60000ULL, NULL},
	{"h", "1h", 1, 3600000ULL, NULL},
	{"d", "7d", 1, 7 * 86400000ULL, NULL},
	{"w", "1w", 1, 7 * 86400000ULL, NULL},
	{"empty", "", 0, 0, "bad duration \"\": empty value"},
	{"unknown suffix", "5y", 0, 0,
	"bad duration \"5y\": unknown suffix \"y\" (use ms, s, m, h, d or w)"},
	{"upper case M is not minutes", "15M", 0, 0, "unknown suffix \"M\""},
	{"compound", "1h30m", 0, 0, "unknown suffix \"h30m\""},
	{"sign", "-5s", 0, 0, "a sign is not allowed"},
	{"space", "5 s", 0, 0, "spaces are not allowed"},
	{"fraction", "1.5h", 0, 0, "fractions are not allowed"},
	{"20 digits", "99999999999999999999", 0, 0, "number too large"},
	{"overflow by unit", "18446744073709551w", 0, 0, "too large"},
	{"no number", "ms", 0, 0, "not a number"},
};

static const struct ucase uint_cases[] = {
	{"in range", "6379", 1, 6379, NULL},
	{"low bound", "1", 1, 1, NULL},
	{"high bound", "65535", 1, 65535, NULL},
	{"above", "65536", 0, 0, "65536 is out of range 1..65535"},
	{"below", "0", 0, 0, "0 is out of range 1..65535"},
	{"sign", "+5", 0, 0, "bad number \"+5\": a sign is not allowed"},
	{"suffix", "5k", 0, 0, "bad number \"5k\": not a number"},
	{"empty", "", 0, 0, "empty value"},
	{"20 digits", "99999999999999999999", 0, 0, "number too large"},
	{"space", "5 ", 0, 0, "spaces are not allowed"},
};

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))

/* check_case - one parse result against its case */
static void
check_case(const struct ucase *c, int ret, uint64_t got, const char *err)
{
	if (c->ok) {
		ck_assert_msg(ret == 0, "%s: \"%s\" failed: %s", c->label, c->input, err);
		ck_assert_msg(got == c->value, "%s: \"%s\" gave %llu, want %llu", c->label, c->input,
			      (unsigned long long) got, (unsigned long long) c->value);
	} else {
		ck_assert_msg(ret == -1, "%s: \"%s\" was accepted", c->label, c->input);
		ck_assert_msg(strstr(err, c->errsub) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      c->label, err, c->errsub);
		ck_assert_msg(strchr(err, '\n') == NULL, "%s: error has a newline", c->label);
	}
}

START_TEST(test_size)
{
	const struct ucase *c = size_cases + _i;
	char	err[256] = "";
	uint64_t v = 12345;
	int	ret = units_parse_size(c->input, &v, err, sizeof(err));

	check_case(c, ret, v, err);
	if (!c->ok)
		ck_assert_msg(v == 12345, "%s: output changed on error", c->label);
}
END_TEST

START_TEST(test_duration)
{
	const struct ucase *c = duration_cases + _i;
	char	err[256] = "";
	uint64_t v = 0;
	int	ret = units_parse_duration(c->input, &v, err, sizeof(err));

	check_case(c, ret, v, err);
}
END_TEST

START_TEST(test_uint)
{
	const struct ucase *c = uint_cases + _i;
	char	err[256] = "";
	uint64_t v = 0;
	int	ret = units_parse_uint(c->input, 1, 65535, &v, err, sizeof(err));

	check_case(c, ret, v, err);
}
END_TEST

static const struct {
	const char *label;
	const char *input;
	int	ok;
	double	value;
	const char *errsub;
}	score_cases[] = {
	{"integer", "5", 1, 5.0, NULL},
	{"decimal", "5.0", 1, 5.0, NULL},
	{"negative", "-0.5", 1, -0.5, NULL},
	{"plus", "+2.25", 1, 2.25, NULL},
	{"no integer part", ".5", 1, 0.5, NULL},
	{"trailing point", "7.", 1, 7.0, NULL},
	{"upper bound", "1000", 1, 1000.0, NULL},
	{"lower bound", "-1000", 1, -1000.0, NULL},
	{"above", "1000.5", 0, 0, "bad score \"1000.5\": out of range -1000..1000"},
	{"far above", "99999999999999999999", 0, 0, "out of range"},
	{"two points", "1.2.3", 0, 0, "bad score \"1.2.3\": not a number"},
	{"comma", "5,0", 0, 0, "not a number"},
	{"exponent", "1e3", 0, 0, "not a number"},
	{"empty", "", 0, 0, "empty value"},
	{"sign only", "-", 0, 0, "not a number"},
	{"point only", ".", 0, 0, "not a number"},
	{"space", " 5", 0, 0, "not a number"},
	{"word", "high", 0, 0, "bad score \"high\""},
};

START_TEST(test_score)
{
	char	err[256] = "";
	double	v = 0;
	int	ret = units_parse_score(score_cases[_i].input, &v, err, sizeof(err));

	if (score_cases[_i].ok) {
		ck_assert_msg(ret == 0, "%s: failed: %s", score_cases[_i].label, err);
		ck_assert_msg(v > score_cases[_i].value - 1e-9 && v < score_cases[_i].value + 1e-9,
			      "%s: gave %g", score_cases[_i].label, v);
	} else {
		ck_assert_msg(ret == -1, "%s: accepted", score_cases[_i].label);
		ck_assert_msg(strstr(err, score_cases[_i].errsub) != NULL, "%s: error \"%s\"",
			      score_cases[_i].label, err);
	}
}
END_TEST

static const struct {
	const char *label;
	uint64_t value;
	const char *size;
	const char *duration;
}	format_cases[] = {
	{"zero", 0, "0", "0s"},
	{"odd", 1500, "1500", "1500ms"},
	{"kilo / seconds", 2048, "2K", "2048ms"},
	{"mega", 10 * MB, "10M", "10485760ms"},
	{"giga", 4 * GB, "4G", "4294967296ms"},
	{"not exact mega", 10 * MB + KB, "10241K", "10486784ms"},
	{"two seconds", 2000, "2000", "2s"},
	{"fifteen minutes", 15 * 60000ULL, "900000", "15m"},
	{"an hour", 3600000, "3600000", "1h"},
	{"a week is days", 7 * 86400000ULL, "590625K", "7d"},
	{"90 seconds", 90000, "90000", "90s"},
	{"largest", UINT64_MAX, "18446744073709551615", "18446744073709551615ms"},
};

START_TEST(test_format)
{
	char	buf[UNITS_FORMAT_MAX];

	ck_assert_str_eq(units_format_size(format_cases[_i].value, buf, sizeof(buf)),
			 format_cases[_i].size);
	ck_assert_str_eq(units_format_duration(format_cases[_i].value, buf, sizeof(buf)),
			 format_cases[_i].duration);
}
END_TEST

/* test_roundtrip - whatever format writes, parse reads back to the same value */
START_TEST(test_roundtrip)
{
	static const uint64_t values[] = {0, 1, 999, 1024, 1025, 60000, 86400000, 7 * MB, 3 * GB};
	char	buf[UNITS_FORMAT_MAX];
	char	err[256];
	uint64_t v;

	for (size_t i = 0; i < COUNT(values); i++) {
		ck_assert_int_eq(units_parse_size(units_format_size(values[i], buf, sizeof(buf)),
						  &v, err, sizeof(err)), 0);
		ck_assert_uint_eq(v, values[i]);
		ck_assert_int_eq(units_parse_duration(units_format_duration(values[i], buf, sizeof(buf)),
						      &v, err, sizeof(err)), 0);
		ck_assert_uint_eq(v, values[i]);
	}
}
END_TEST

/* test_small_err - a short or empty error buffer is never overrun */
START_TEST(test_small_err)
{
	char	err[8];
	uint64_t v;

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(units_parse_size("10X", &v, err, 5), -1);
	ck_assert_str_eq(err, "bad ");
	ck_assert_int_eq(err[5], 'x');
	ck_assert_int_eq(units_parse_size("10X", &v, NULL, 0), -1);
}
END_TEST

static Suite *
units_suite(void)
{
	Suite  *s = suite_create("units");
	TCase  *tc = tcase_create("units");

	tcase_add_loop_test(tc, test_size, 0, COUNT(size_cases));
	tcase_add_loop_test(tc, test_duration, 0, COUNT(duration_cases));
	tcase_add_loop_test(tc, test_uint, 0, COUNT(uint_cases));
	tcase_add_loop_test(tc, test_score, 0, COUNT(score_cases));
	tcase_add_loop_test(tc, test_format, 0, COUNT(format_cases));
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_small_err);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(units_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
