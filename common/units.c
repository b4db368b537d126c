/*
 * units.c - sizes, durations, plain numbers and scores as people write them.
 *
 * Sizes are a decimal number of bytes with an optional binary suffix K, M
 * or G (1K = 1024), case-insensitive, optionally followed by B: "10M",
 * "10mb", "52428800".  Durations are a decimal number with a suffix ms, s,
 * m, h, d or w, lower case as in Postfix ("15M" would read as months to
 * some); a bare number is seconds: "500ms", "15m", "7d", "30".  Results
 * are bytes and milliseconds in a uint64_t.
 *
 * units_parse_uint reads a plain decimal number within a range;
 * units_parse_score reads a SpamAssassin score ("5", "-0.5", "10.25")
 * without strtod, so the locale never changes what a score means.
 *
 * units_format_size and units_format_duration write the shortest exact
 * form back ("10M", "7d", "500ms"); durations are never written in weeks,
 * so a week reads "7d".  The buffer must hold UNITS_FORMAT_MAX bytes; a
 * smaller one is our own bug (panic).
 *
 * Limits: input text of at most UNITS_TEXT_MAX bytes; no signs (except
 * in scores), no spaces, no fractions (except in scores).  Every failure
 * returns -1 with one line in err that quotes the input, made printable
 * and capped: bad size "10X": unknown suffix "X" (use K, M or G).
 * Nothing is logged.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "units.h"

#define UNITS_QUOTE_MAX	64		/* input bytes quoted in an error */

struct units_suffix {
	const char *name;
	uint64_t factor;
};

static const struct units_suffix units_size_suffixes[] = {
	{"", 1}, {"b", 1},
	{"k", 1024ULL}, {"kb", 1024ULL},
	{"m", 1024ULL * 1024}, {"mb", 1024ULL * 1024},
	{"g", 1024ULL * 1024 * 1024}, {"gb", 1024ULL * 1024 * 1024},
};

/* Largest first: units_format_duration takes the first exact one. */
static const struct units_suffix units_duration_suffixes[] = {
	{"w", 7ULL * 86400000}, {"d", 86400000ULL}, {"h", 3600000ULL},
	{"m", 60000ULL}, {"s", 1000ULL}, {"ms", 1ULL}, {"", 1000ULL},
};

#define UNITS_COUNT(a)	(sizeof(a) / sizeof((a)[0]))

/* units_quote - the input, printable and capped, for an error message */
static const char *
units_quote(char *buf, size_t buflen, const char *text)
{
	return log_printable(buf, buflen, text, strlen(text));
}

/*
 * units_digits - read the leading decimal digits of text into *value.
 * Returns the number of digits, 0 when there is none, -1 on overflow.
 */
static int
units_digits(const char *text, uint64_t *value)
{
	uint64_t v = 0;
	int	n = 0;

	for (; isdigit((unsigned char) text[n]); n++) {
		unsigned d = (unsigned) (text[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value = v;
	return n;
}

/*
 * units_parse_number - the checks common to sizes, durations and plain
 * numbers: not empty, not too long, no sign or space, digits first.
 * On success *rest points just past the digits.
 */
static int
units_parse_number(const char *what, const char *text, uint64_t *value,
		   const char **rest, char *err, size_t errlen)
{
	char	q[UNITS_QUOTE_MAX + 1];
	const char *why;
	int	n;

	units_quote(q, sizeof(q), text);
	if (*text == 0) {
		why = "empty value";
		goto fail;
	}
	if (strlen(text) > UNITS_TEXT_MAX) {
		why = "too long";
		goto fail;
	}
	if (strpbrk(text, " \t\r\n\f\v") != NULL) {
		why = "spaces are not allowed";
		goto fail;
	}
	if (*text == '+' || *text == '-') {
		why = "a sign is not allowed";
		goto fail;
	}
	if ((n = units_digits(text, value)) < 0) {
		why = "number too large";
		goto fail;
	}
	if (n == 0) {
		why = "not a number";
		goto fail;
	}
	if (text[n] == '.' || text[n] == ',') {
		why = "fractions are not allowed";
		goto fail;
	}
	*rest = text + n;
	return 0;

fail:
	snprintf(err, errlen, "bad %s \"%s\": %s", what, q, why);
	return -1;
}

/* units_scale - number times the factor of its suffix, from a table */
static int
units_scale(const char *what, const char *text, const struct units_suffix *tab,
	    size_t count, int nocase, const char *hint, uint64_t *out,
	    char *err, size_t errlen)
{
	char	q[UNITS_QUOTE_MAX + 1];
	char	sq[UNITS_QUOTE_MAX + 1];
	const char *rest;
	uint64_t v;
	size_t	i;

	if (units_parse_number(what, text, &v, &rest, err, errlen) < 0)
		return -1;
	for (i = 0; i < count; i++)
		if ((nocase ? strcasecmp(rest, tab[i].name) : strcmp(rest, tab[i].name)) == 0)
			break;
	if (i == count) {
		snprintf(err, errlen, "bad %s \"%s\": unknown suffix \"%s\" (use %s)", what,
			 units_quote(q, sizeof(q), text), units_quote(sq, sizeof(sq), rest), hint);
		return -1;
	}
	if (v > UINT64_MAX / tab[i].factor) {
		snprintf(err, errlen, "bad %s \"%s\": too large", what,
			 units_quote(q, sizeof(q), text));
		return -1;
	}
	*out = v * tab[i].factor;
	return 0;
}

/* units_parse_size - "10M", "10MB", "52428800" to bytes */
int
units_parse_size(const char *text, uint64_t *bytes, char *err, size_t errlen)
{
	return units_scale("size", text, units_size_suffixes, UNITS_COUNT(units_size_suffixes),
			   1, "K, M or G", bytes, err, errlen);
}

/* units_parse_duration - "500ms", "15m", "7d", "1w", "30" (seconds) to milliseconds */
int
units_parse_duration(const char *text, uint64_t *millis, char *err, size_t errlen)
{
	return units_scale("duration", text, units_duration_suffixes,
			   UNITS_COUNT(units_duration_suffixes), 0, "ms, s, m, h, d or w",
			   millis, err, errlen);
}

/* units_parse_uint - a plain decimal number within [min, max] */
int
units_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out,
		 char *err, size_t errlen)
{
	char	q[UNITS_QUOTE_MAX + 1];
	const char *rest;
	uint64_t v;

	if (units_parse_number("number", text, &v, &rest, err, errlen) < 0)
		return -1;
	if (*rest != 0) {
		snprintf(err, errlen, "bad number \"%s\": not a number",
			 units_quote(q, sizeof(q), text));
		return -1;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64,
			 v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* units_parse_score - "5", "5.0", "-0.5": at most one '.', -1000..1000 */
int
units_parse_score(const char *text, double *out, char *err, size_t errlen)
{
	char	q[UNITS_QUOTE_MAX + 1];
	const char *p = text;
	const char *why = "not a number";
	double	v = 0;
	double	scale = 1;
	int	neg = 0;
	int	digits = 0;

	if (*p == 0) {
		why = "empty value";
		goto fail;
	}
	if (strlen(text) > UNITS_TEXT_MAX) {
		why = "too long";
		goto fail;
	}
	if (*p == '+' || *p == '-')
		neg = (*p++ == '-');
	for (; isdigit((unsigned char) *p); p++, digits++)
		if (v <= 1e6)			/* beyond that it is out of range anyway */
			v = v * 10 + (*p - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++, digits++)
			v += (*p - '0') * (scale /= 10);
	if (digits == 0 || *p != 0)
		goto fail;
	if (v > 1000) {
		why = "out of range -1000..1000";
		goto fail;
	}
	*out = neg ? -v : v;
	return 0;

fail:
	snprintf(err, errlen, "bad score \"%s\": %s", units_quote(q, sizeof(q), text), why);
	return -1;
}

/* units_format - value in the largest unit of tab that divides it exactly */
static char *
units_format(uint64_t value, const struct units_suffix *tab, size_t count,
	     const char *zero, char *buf, size_t buflen)
{
	size_t	i;
	int	n;

	if (value == 0) {
		n = snprintf(buf, buflen, "%s", zero);
	} else {
		for (i = 0; i < count; i++)
			if (tab[i].factor > 1 && value % tab[i].factor == 0)
				break;
		if (i == count)
			n = snprintf(buf, buflen, "%" PRIu64, value);
		else
			n = snprintf(buf, buflen, "%" PRIu64 "%s", value / tab[i].factor, tab[i].name);
	}
	if (n < 0 || (size_t) n >= buflen)
		msg_panic("units_format: buffer of %zu bytes is too small", buflen);
	return buf;
}

/* units_format_size - "10M" when exact, else bytes */
char   *
units_format_size(uint64_t bytes, char *buf, size_t buflen)
{
	static const struct units_suffix sizes[] = {
		{"G", 1024ULL * 1024 * 1024}, {"M", 1024ULL * 1024}, {"K", 1024ULL},
	};

	return units_format(bytes, sizes, UNITS_COUNT(sizes), "0", buf, buflen);
}

/* units_format_duration - "7d", "15m", "500ms": largest exact unit, days at most */
char   *
units_format_duration(uint64_t millis, char *buf, size_t buflen)
{
	/* "ms" has factor 1, so every value has an exact unit; skip "w" */
	static const struct units_suffix durations[] = {
		{"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL},
	};
	int	n;

	if (millis != 0 && millis % 1000 != 0) {
		n = snprintf(buf, buflen, "%" PRIu64 "ms", millis);
		if (n < 0 || (size_t) n >= buflen)
			msg_panic("units_format_duration: buffer of %zu bytes is too small", buflen);
		return buf;
	}
	return units_format(millis, durations, UNITS_COUNT(durations), "0s", buf, buflen);
}
