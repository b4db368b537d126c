/*
 * fuzz_clamd.c - libFuzzer target for clamd_parse (milter/clamd.c).
 *
 * FUZZ_SOURCES: milter/clamd.c
 *
 * The input is one reply from clamd, in a heap buffer of exactly its
 * size (so a read past the end is caught). It is parsed and the result
 * checked against what clamd.h promises: a verdict only from
 * "stream: OK" or "stream: NAME FOUND" (with one optional NUL or newline
 * after it), a found name that is non-empty, printable, without spaces
 * at its ends and at most CLAMD_NAME_MAX bytes, kept whole when it fits;
 * an error otherwise, with one printable line starting "clamd: " and the
 * result cleared. The same reply with a NUL or a newline added must
 * parse the same (when there was no terminator yet and it still fits),
 * parsing is deterministic, and a small err buffer gets a cut copy of the
 * same text, never an overrun. Any broken invariant traps
 * (__builtin_trap), which libFuzzer reports as a crash.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clamd.h"

#define FUZZ_ERR_MAX	512

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_assert - a broken invariant is a crash */
static inline void
fuzz_assert(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* fuzz_printable - every byte of the string is 0x20-0x7e */
static int
fuzz_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
			return 0;
	return 1;
}

/* fuzz_parse - parse a copy of exactly len bytes; check the result; its return */
static int
fuzz_parse(const uint8_t *data, size_t len, struct clamd_result *res, char *err)
{
	char   *copy = malloc(len ? len : 1);
	int	ret;

	fuzz_assert(copy != NULL);
	if (len)
		memcpy(copy, data, len);
	memset(res, 0x5a, sizeof(*res));
	memset(err, 0x5a, FUZZ_ERR_MAX);
	err[0] = '\0';
	ret = clamd_parse(copy, len, res, err, FUZZ_ERR_MAX);
	free(copy);

	fuzz_assert(ret == 0 || ret == -1);
	fuzz_assert(res->truncated == 0);
	fuzz_assert(memchr(res->name, '\0', sizeof(res->name)) != NULL);
	if (ret == 0) {
		fuzz_assert(res->found == 0 || res->found == 1);
		if (res->found) {
			size_t	n = strlen(res->name);

			fuzz_assert(n >= 1 && n <= CLAMD_NAME_MAX);
			fuzz_assert(fuzz_printable(res->name));
			fuzz_assert(res->name[0] != ' ' && res->name[n - 1] != ' ');
		} else {
			fuzz_assert(res->name[0] == '\0');
		}
	} else {
		fuzz_assert(res->found == 0 && res->name[0] == '\0');
		fuzz_assert(memchr(err, '\0', FUZZ_ERR_MAX) != NULL);
		fuzz_assert(strncmp(err, "clamd: ", 7) == 0 && strlen(err) > 7);
		fuzz_assert(fuzz_printable(err));
	}
	return ret;
}

/* fuzz_model - what the reply must give: -1, 0 clean, 1 found (name is the trimmed middle) */
static int
fuzz_model(const uint8_t *data, size_t size, const uint8_t **name, size_t *namelen)
{
	const char *s = (const char *) data;
	size_t	len = size;

	if (size > CLAMD_REPLY_MAX)
		return -1;
	if (len > 0 && (s[len - 1] == '\0' || s[len - 1] == '\n'))
		len--;
	if (len == 0 || memchr(s, '\0', len) != NULL)
		return -1;
	if (len == 10 && memcmp(s, "stream: OK", 10) == 0)
		return 0;
	if (len >= 6 && memcmp(s + len - 6, " ERROR", 6) == 0)
		return -1;
	if (len < 14 || memcmp(s, "stream: ", 8) != 0 || memcmp(s + len - 6, " FOUND", 6) != 0)
		return -1;
	*name = data + 8;
	*namelen = len - 14;
	while (*namelen > 0 && (*name)[0] == ' ') {
		(*name)++;
		(*namelen)--;
	}
	while (*namelen > 0 && (*name)[*namelen - 1] == ' ')
		(*namelen)--;
	return *namelen > 0 ? 1 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clamd_result res;
	struct clamd_result again;
	char	err[FUZZ_ERR_MAX];
	char	err2[FUZZ_ERR_MAX];
	char	small[16];
	const uint8_t *name = NULL;
	size_t	namelen = 0;
	uint8_t *more;
	int	ret;
	int	want;

	ret = fuzz_parse(data, size, &res, err);

	/* the model */
	want = fuzz_model(data, size, &name, &namelen);
	if (want < 0) {
		fuzz_assert(ret == -1);
	} else {
		fuzz_assert(ret == 0 && res.found == want);
		if (want == 1 && namelen <= CLAMD_NAME_MAX) {
			fuzz_assert(strlen(res.name) == namelen);
			for (size_t i = 0; i < namelen; i++)
				fuzz_assert(res.name[i] == ((name[i] >= 0x20 && name[i] <= 0x7e) ? (char) name[i] : '?'));
		} else if (want == 1) {
			fuzz_assert(strlen(res.name) == CLAMD_NAME_MAX);
			fuzz_assert(memcmp(res.name + CLAMD_NAME_MAX - 3, "...", 3) == 0);
		}
	}

	/* deterministic */
	fuzz_assert(fuzz_parse(data, size, &again, err2) == ret);
	fuzz_assert(memcmp(&res, &again, sizeof(res)) == 0);
	if (ret < 0)
		fuzz_assert(strcmp(err, err2) == 0);

	/* a small err buffer: the same text, cut */
	for (size_t n = 1; n <= sizeof(small); n++) {
		memset(small, 0x5a, sizeof(small));
		fuzz_assert(clamd_parse((const char *) data, size, &again, small, n) == ret);
		if (ret < 0) {
			fuzz_assert(strlen(small) == (strlen(err) < n - 1 ? strlen(err) : n - 1));
			fuzz_assert(strncmp(small, err, strlen(small)) == 0);
		}
	}
	fuzz_assert(clamd_parse((const char *) data, size, &again, NULL, 0) == ret);

	/* a terminator added to a reply that had none: the same answer */
	if ((size == 0 || (data[size - 1] != '\0' && data[size - 1] != '\n')) && size < CLAMD_REPLY_MAX) {
		more = malloc(size + 1);
		fuzz_assert(more != NULL);
		if (size)
			memcpy(more, data, size);
		for (int t = 0; t < 2; t++) {
			more[size] = t ? '\n' : '\0';
			fuzz_assert(fuzz_parse(more, size + 1, &again, err2) == ret);
			fuzz_assert(memcmp(&res, &again, sizeof(res)) == 0);
			if (ret < 0)
				fuzz_assert(strcmp(err, err2) == 0);
		}
		free(more);
	}
	return 0;
}
