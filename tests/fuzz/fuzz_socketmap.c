/*
 * fuzz_socketmap.c - libFuzzer target for policyd/socketmap_proto.c.
 *
 * FUZZ_SOURCES: policyd/socketmap_proto.c common/sbuf.c common/log.c
 *
 * The input is a byte stream from Postfix's socketmap client. It is
 * parsed as a server would: feed, and on DONE check the request against
 * the raw bytes it came from, answer it, reset and feed what is left; stop
 * at ERROR or when the input runs out. That is done three times: whole,
 * in chunks whose sizes come from a PRNG seeded with the input, and whole
 * again on the first parser after a reset; the three must agree (results,
 * offsets, map names, keys, error phrase), compared by a hash of the
 * transcript. Every reply formatted must read back through the parser.
 * Any broken invariant traps (__builtin_trap), which libFuzzer reports as
 * a crash.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketmap_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_assert - a broken invariant is a crash */
static inline void
fuzz_assert(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* fuzz_hash - FNV-1a over bytes, chained */
static uint64_t
fuzz_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t
fuzz_hash_size(uint64_t h, size_t v)
{
	return fuzz_hash(h, &v, sizeof(v));
}

/* fuzz_rand - xorshift64; the chunk sizes of one input are always the same */
static uint64_t
fuzz_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* fuzz_reply_acceptable - what socketmap_reply_format() accepts */
static int
fuzz_reply_acceptable(int status, const char *text)
{
	size_t	n = strlen(text);

	if (status < 0 || status > SOCKETMAP_PERM || n > SOCKETMAP_TEXT_MAX)
		return 0;
	if (status == SOCKETMAP_NOTFOUND && n > 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) text[i] < 0x20 || (unsigned char) text[i] > 0x7e)
			return 0;
	return 1;
}

/* fuzz_reply - format a reply; check the promise and read it back */
static void
fuzz_reply(int status, const char *text)
{
	static const char *const words[] = {"OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM"};
	char	buf[SOCKETMAP_REPLY_MAX];
	char	want[SOCKETMAP_REPLY_MAX + 32];
	struct socketmap_parser *p;
	size_t	n;
	int	ret;

	ret = socketmap_reply_format(buf, sizeof(buf), (enum socketmap_status) status, text);
	fuzz_assert((ret >= 0) == fuzz_reply_acceptable(status, text));
	if (ret < 0) {
		fuzz_assert(buf[0] == '\0');
		return;
	}
	snprintf(want, sizeof(want), "%zu:%s %s,", strlen(words[status]) + 1 + strlen(text),
		 words[status], text);
	fuzz_assert(strcmp(buf, want) == 0);
	fuzz_assert((size_t) ret == strlen(buf));
	/* no room for the NUL: refused, never truncated */
	fuzz_assert(socketmap_reply_format(buf, (size_t) ret, (enum socketmap_status) status,
					   text) == -1);
	fuzz_assert(socketmap_reply_format(buf, (size_t) ret + 1, (enum socketmap_status) status,
					   text) == ret);
	if (text[0] == '\0')
		return;
	p = socketmap_parser_create();
	fuzz_assert(socketmap_parser_feed(p, buf, (size_t) ret, &n) == SOCKETMAP_PARSE_DONE);
	fuzz_assert(n == (size_t) ret);
	fuzz_assert(strcmp(socketmap_request_name(p), words[status]) == 0);
	fuzz_assert(strcmp(socketmap_request_key(p), text) == 0);
	socketmap_parser_free(p);
}

/* fuzz_check_request - a DONE request matches the netstring it came from; its hash */
static uint64_t
fuzz_check_request(const struct socketmap_parser *p, const char *raw, size_t raw_len,
		   uint64_t h)
{
	const char *name = socketmap_request_name(p);
	const char *key = socketmap_request_key(p);
	size_t	name_len;
	size_t	key_len;
	size_t	len = 0;
	size_t	digits = 0;

	fuzz_assert(socketmap_parser_error(p) == NULL);
	fuzz_assert(name != NULL && key != NULL);
	name_len = strlen(name);
	key_len = strlen(key);
	fuzz_assert(name_len > 0 && key_len > 0);
	for (const char *c = name; *c; c++)
		fuzz_assert(*c > ' ' && *c < 0x7f);
	while (digits < raw_len && raw[digits] >= '0' && raw[digits] <= '9')
		len = len * 10 + (size_t) (raw[digits++] - '0');
	fuzz_assert(digits >= 1 && digits <= SOCKETMAP_LEN_DIGITS);
	fuzz_assert(raw[0] != '0');
	fuzz_assert(len <= SOCKETMAP_QUERY_MAX && len == name_len + 1 + key_len);
	fuzz_assert(raw_len == digits + 1 + len + 1);
	fuzz_assert(raw[digits] == ':' && raw[raw_len - 1] == ',');
	fuzz_assert(memcmp(raw + digits + 1, name, name_len) == 0);
	fuzz_assert(raw[digits + 1 + name_len] == ' ');
	fuzz_assert(memcmp(raw + digits + 2 + name_len, key, key_len) == 0);
	h = fuzz_hash(h, name, name_len + 1);
	h = fuzz_hash(h, key, key_len + 1);

	/* answer it as a server might, with the key as the result */
	fuzz_reply((unsigned char) key[0] % 7, key);
	fuzz_reply(SOCKETMAP_NOTFOUND, "");
	return h;
}

/* fuzz_check_error - a refused length is refused before any payload is read */
static void
fuzz_check_error(const char *raw, size_t taken)
{
	size_t	digits = 0;
	size_t	len = 0;

	while (digits < taken && digits < 7 && raw[digits] >= '0' && raw[digits] <= '9')
		len = len * 10 + (size_t) (raw[digits++] - '0');
	if (taken <= digits + 1)
		return;			/* the error is in the length or its ':' */
	fuzz_assert(digits >= 1 && digits <= SOCKETMAP_LEN_DIGITS && raw[digits] == ':');
	fuzz_assert(raw[0] != '0' || digits == 1);
	fuzz_assert(len <= SOCKETMAP_QUERY_MAX);
	fuzz_assert(taken <= digits + 1 + len + 1);
}

/*
 * fuzz_parse - parse data as a server would, read() chunks drawn from seed
 * (0: all at once); the transcript's hash.
 */
static uint64_t
fuzz_parse(struct socketmap_parser *p, const char *data, size_t size, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint64_t rng = seed;
	size_t	max_chunk = (size_t) 1 << (seed % 13);
	size_t	off = 0;		/* bytes taken */
	size_t	avail = seed ? 0 : size;	/* bytes "read" so far */
	size_t	start = 0;		/* where this request began */
	size_t	n;
	enum socketmap_parse_result r;

	for (;;) {
		if (off == avail && avail < size) {
			avail += 1 + (size_t) (fuzz_rand(&rng) % max_chunk);
			if (avail > size)
				avail = size;
		}
		r = socketmap_parser_feed(p, data + off, avail - off, &n);
		fuzz_assert(n <= avail - off);
		off += n;
		if (r == SOCKETMAP_PARSE_MORE) {
			fuzz_assert(off == avail);
			fuzz_assert(socketmap_parser_error(p) == NULL);
			fuzz_assert(socketmap_request_name(p) == NULL);
			fuzz_assert(off - start <= SOCKETMAP_LEN_DIGITS + 1 + SOCKETMAP_QUERY_MAX);
			if (off < size)
				continue;
			return fuzz_hash_size(fuzz_hash_size(h, off), 'M');
		}
		if (r == SOCKETMAP_PARSE_ERROR) {
			const char *err = socketmap_parser_error(p);

			fuzz_assert(n >= 1);
			fuzz_assert(off - start <= SOCKETMAP_LEN_DIGITS + 2 + SOCKETMAP_QUERY_MAX);
			fuzz_check_error(data + start, off - start);
			fuzz_assert(err != NULL && err[0] != '\0' && strlen(err) < 128);
			fuzz_assert(socketmap_request_name(p) == NULL);
			fuzz_assert(socketmap_request_key(p) == NULL);
			/* sticky */
			fuzz_assert(socketmap_parser_feed(p, "3:m k,", 6, &n) == SOCKETMAP_PARSE_ERROR);
			fuzz_assert(n == 0);
			h = fuzz_hash(fuzz_hash_size(h, off), err, strlen(err));
			return fuzz_hash_size(h, 'E');
		}
		fuzz_assert(n >= 1);
		h = fuzz_check_request(p, data + start, off - start, fuzz_hash_size(h, off));
		fuzz_assert(socketmap_parser_feed(p, "3:m k,", 6, &n) == SOCKETMAP_PARSE_DONE);
		fuzz_assert(n == 0);
		socketmap_parser_reset(p);
		fuzz_assert(socketmap_request_key(p) == NULL);
		start = off;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	struct socketmap_parser *p = socketmap_parser_create();
	struct socketmap_parser *q = socketmap_parser_create();
	uint64_t seed = fuzz_hash(0x9e3779b97f4a7c15ULL, data, size) | 1;
	uint64_t whole;
	char   *text;

	whole = fuzz_parse(p, in, size, 0);
	fuzz_assert(fuzz_parse(q, in, size, seed) == whole);

	/* reset and feed again: the same, unless the error is sticky */
	socketmap_parser_reset(p);
	if (socketmap_parser_error(p) == NULL)
		fuzz_assert(fuzz_parse(p, in, size, 0) == whole);
	else
		fuzz_assert(socketmap_parser_feed(p, in, size, NULL) == SOCKETMAP_PARSE_ERROR);
	socketmap_parser_free(p);
	socketmap_parser_free(q);

	/* the input as reply text, with a status (some invalid) from its first byte */
	if (size > 0 && (text = malloc(size)) != NULL) {
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		fuzz_reply(data[0] % 7, text);
		free(text);
	}
	return 0;
}
