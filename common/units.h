/* units.h - sizes and durations in configuration and on the command line (see units.c) */
#ifndef MH_UNITS_H
#define MH_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_TEXT_MAX		64	/* bytes of input text */
#define UNITS_FORMAT_MAX	24	/* buffer for units_format_*: 20 digits, unit, NUL */

/*
 * Sizes: a decimal number of bytes with an optional suffix K, M, G
 * (binary: 1K = 1024), case-insensitive, optional trailing B ("10M",
 * "10MB", "52428800"). Durations: a number with ms, s, m, h, d or w;
 * a bare number is seconds ("500ms", "15m", "7d", "30").
 * Both reject empty text, signs, spaces, overflow and unknown suffixes.
 */
int	units_parse_size(const char *text, uint64_t *bytes, char *err, size_t errlen);
int	units_parse_duration(const char *text, uint64_t *millis, char *err, size_t errlen);
/* units_format_size - "10M" when exact, else bytes */
char   *units_format_size(uint64_t bytes, char *buf, size_t buflen);
/* units_format_duration - "7d", "15m", "500ms": largest exact unit */
char   *units_format_duration(uint64_t millis, char *buf, size_t buflen);
/* units_parse_uint - a plain decimal number within [min, max] */
int	units_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out,
			 char *err, size_t errlen);
/* units_parse_score - a SpamAssassin score: decimal, optional sign, at most one '.', -1000..1000 */
int	units_parse_score(const char *text, double *out, char *err, size_t errlen);

#endif
