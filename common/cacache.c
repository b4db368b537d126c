/*
 * cacache.c - the text of a cached call-ahead verdict, shared by
 * mhpolicyd (which writes and reads it) and mhlist (cache show/purge).
 * Pure: no I/O. See doc/keys.md for the keys.
 *
 * Public functions: cacache_format, cacache_parse, cacache_verdict_name,
 * cacache_local.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cacache.h"

static const char *const cacache_names[] = {"accept", "reject", "tempfail"};

const char *
cacache_verdict_name(enum cacache_verdict v)
{
	return (unsigned) v <= CACACHE_TEMPFAIL ? cacache_names[v] : "tempfail";
}

int
cacache_format(char *buf, size_t len, const struct cacache_entry *e)
{
	int	n;

	if (strchr(e->where, ' ') != NULL || e->where[0] == 0)
		return -1;
	n = snprintf(buf, len, "%s %lld %d %s %s", cacache_verdict_name(e->verdict), e->at, e->code,
		     e->where, e->text);
	return n < 0 || (size_t) n >= len ? -1 : 0;
}

/* cacache_word - the next space-separated word of *s into out; -1 when none or too long */
static int
cacache_word(const char **s, char *out, size_t outlen)
{
	const char *p = *s, *sp = strchr(p, ' ');
	size_t	n = sp ? (size_t) (sp - p) : strlen(p);

	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	*s = sp ? sp + 1 : p + n;
	return 0;
}

/* cacache_number - a word of digits only, at most max; -1 otherwise */
static int
cacache_number(const char *word, long long max, long long *out)
{
	long long v = 0;

	if (word[0] == 0 || strspn(word, "0123456789") != strlen(word))
		return -1;
	for (const char *p = word; *p; p++) {
		if (v > (max - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

int
cacache_parse(const char *s, struct cacache_entry *e)
{
	char	word[CACACHE_WHERE_MAX + 1];
	const char *colon;
	long long v;
	int	i;

	memset(e, 0, sizeof(*e));
	if (cacache_word(&s, word, sizeof(word)) < 0)
		return -1;
	for (i = 0; i <= CACACHE_TEMPFAIL && strcmp(word, cacache_names[i]) != 0; i++)
		;
	if (i > CACACHE_TEMPFAIL)
		return -1;
	e->verdict = (enum cacache_verdict) i;
	if (cacache_word(&s, word, sizeof(word)) < 0 || cacache_number(word, LLONG_MAX, &v) < 0)
		return -1;
	e->at = v;
	if (cacache_word(&s, word, sizeof(word)) < 0 || cacache_number(word, 599, &v) < 0
	    || (v != 0 && v < 200))
		return -1;
	e->code = (int) v;
	if (cacache_word(&s, e->where, sizeof(e->where)) < 0)
		return -1;
	/* host:port, printable */
	for (const char *p = e->where; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return -1;
	if ((colon = strrchr(e->where, ':')) == NULL || colon == e->where
	    || cacache_number(colon + 1, 65535, &v) < 0)
		return -1;
	smtpreply_sanitise(e->text, sizeof(e->text), s, strlen(s));
	return 0;
}

int
cacache_local(char *out, size_t outlen, const char *local)
{
	size_t	n = strlen(local);

	if (n >= outlen)
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char) tolower((unsigned char) local[i]);
	return 0;
}
