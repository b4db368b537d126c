/*
 * fuzz_policy.c - libFuzzer target for policyd/policy_proto.c.
 *
 * FUZZ_SOURCES: policyd/policy_proto.c common/sbuf.c common/log.c
 *
 * The input is a byte stream from a policy client. It is parsed as a
 * server would: feed, and on DONE check the request, answer it, reset and
 * feed what is left; stop at ERROR or when the input runs out. That is
 * done three times: whole, in chunks whose sizes come from a PRNG seeded
 * with the input (as read() might deliver it), and whole again on the
 * first parser after a reset. The three must agree byte for byte (results,
 * offsets, attributes, error phrase), compared by a hash of the transcript.
 * The input as a C string also goes to policy_reply_format(), whose answer
 * must match what the header promises and must read back through the
 * parser. Any broken invariant traps (__builtin_trap), which libFuzzer
 * reports as a crash.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"

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

/* fuzz_reply_acceptable - what policy_reply_format() accepts: 1..MAX bytes, printable ASCII */
static int
fuzz_reply_acceptable(const char *text)
{
	size_t	n = strlen(text);

	if (n == 0 || n > POLICY_ACTION_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) text[i] < 0x20 || (unsigned char) text[i] > 0x7e)
			return 0;
	return 1;
}

/* fuzz_reply - format text as a reply; check the promise and read it back */
static void
fuzz_reply(const char *text)
{
	char	buf[POLICY_REPLY_MAX];
	struct policy_parser *p;
	size_t	n;
	int	ret;

	ret = policy_reply_format(buf, sizeof(buf), text);
	fuzz_assert((ret >= 0) == fuzz_reply_acceptable(text));
	if (ret < 0) {
		fuzz_assert(buf[0] == '\0');
		return;
	}
	fuzz_assert((size_t) ret == strlen(buf));
	fuzz_assert((size_t) ret == strlen(text) + 9);
	fuzz_assert(memcmp(buf, "action=", 7) == 0);
	fuzz_assert(memcmp(buf + 7, text, strlen(text)) == 0);
	fuzz_assert(memcmp(buf + ret - 2, "\n\n", 2) == 0);
	fuzz_assert(memchr(buf, '\n', (size_t) ret - 2) == NULL);
	fuzz_assert(memchr(buf, '\r', (size_t) ret) == NULL);
	/* no room for the NUL: refused, never truncated */
	fuzz_assert(policy_reply_format(buf, (size_t) ret, text) == -1);
	fuzz_assert(policy_reply_format(buf, (size_t) ret + 1, text) == ret);

	p = policy_parser_create();
	fuzz_assert(policy_parser_feed(p, buf, (size_t) ret, &n) == POLICY_PARSE_DONE);
	fuzz_assert(n == (size_t) ret);
	fuzz_assert(policy_request_count(p) == 1);
	fuzz_assert(strcmp(policy_request_get(p, "action"), text) == 0);
	policy_parser_free(p);
}

/* fuzz_check_request - invariants of a DONE request; its hash */
static uint64_t
fuzz_check_request(const struct policy_parser *p, const char *raw, size_t raw_len, uint64_t h)
{
	size_t	count = policy_request_count(p);
	size_t	stored = 0;
	const char *name;
	const char *value;

	fuzz_assert(policy_parser_error(p) == NULL);
	fuzz_assert(count >= 1 && count <= POLICY_ATTRS_MAX);
	fuzz_assert(raw_len >= 4 && raw_len <= POLICY_REQUEST_MAX);
	fuzz_assert(raw[raw_len - 1] == '\n');
	fuzz_assert(memchr(raw, '\0', raw_len) == NULL);
	for (size_t i = 0; i < count; i++) {
		fuzz_assert(policy_request_attr(p, i, &name, &value) == 0);
		fuzz_assert(name[0] != '\0' && strlen(name) <= POLICY_NAME_MAX);
		for (const char *c = name; *c; c++)
			fuzz_assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
		fuzz_assert(strchr(value, '\n') == NULL && strchr(value, '\r') == NULL);
		fuzz_assert(strlen(name) + 1 + strlen(value) <= POLICY_LINE_MAX);
		/* no duplicates: a lookup finds this very attribute */
		fuzz_assert(policy_request_get(p, name) == value);
		stored += strlen(name) + strlen(value) + 2;
		h = fuzz_hash(h, name, strlen(name) + 1);
		h = fuzz_hash(h, value, strlen(value) + 1);
	}
	fuzz_assert(stored < raw_len);
	fuzz_assert(policy_request_attr(p, count, &name, &value) == -1);

	/* answer it as a server might: with what the client sent */
	fuzz_assert(policy_request_attr(p, count - 1, &name, &value) == 0);
	fuzz_reply(value);
	return h;
}

/*
 * fuzz_parse - parse data as a server would, read() chunks drawn from seed
 * (0: all at once); the transcript's hash.
 */
static uint64_t
fuzz_parse(struct policy_parser *p, const char *data, size_t size, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint64_t rng = seed;
	size_t	max_chunk = (size_t) 1 << (seed % 13);
	size_t	off = 0;		/* bytes taken */
	size_t	avail = seed ? 0 : size;	/* bytes "read" so far */
	size_t	start = 0;		/* where this request began */
	size_t	n;
	enum policy_parse_result r;

	for (;;) {
		if (off == avail && avail < size) {
			avail += 1 + (size_t) (fuzz_rand(&rng) % max_chunk);
			if (avail > size)
				avail = size;
		}
		r = policy_parser_feed(p, data + off, avail - off, &n);
		fuzz_assert(n <= avail - off);
		off += n;
		if (r == POLICY_PARSE_MORE) {
			fuzz_assert(off == avail);
			fuzz_assert(policy_parser_error(p) == NULL);
			fuzz_assert(policy_request_count(p) == 0);
			fuzz_assert(off - start <= POLICY_REQUEST_MAX);
			if (off < size)
				continue;
			return fuzz_hash_size(fuzz_hash_size(h, off), 'M');
		}
		if (r == POLICY_PARSE_ERROR) {
			const char *err = policy_parser_error(p);

			fuzz_assert(n >= 1 && off - start <= POLICY_REQUEST_MAX + 1);
			fuzz_assert(err != NULL && err[0] != '\0' && strlen(err) < 128);
			fuzz_assert(policy_request_count(p) == 0);
			fuzz_assert(policy_request_get(p, "request") == NULL);
			/* sticky, through a reset too */
			fuzz_assert(policy_parser_feed(p, "a=1\n\n", 5, &n) == POLICY_PARSE_ERROR);
			fuzz_assert(n == 0);
			h = fuzz_hash(fuzz_hash_size(h, off), err, strlen(err));
			return fuzz_hash_size(h, 'E');
		}
		/* DONE: the request ends at an LF; nothing after it was taken */
		fuzz_assert(n >= 1);
		h = fuzz_check_request(p, data + start, off - start, fuzz_hash_size(h, off));
		fuzz_assert(policy_parser_feed(p, "a=1\n\n", 5, &n) == POLICY_PARSE_DONE);
		fuzz_assert(n == 0);
		policy_parser_reset(p);
		fuzz_assert(policy_request_count(p) == 0);
		start = off;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	struct policy_parser *p = policy_parser_create();
	struct policy_parser *q = policy_parser_create();
	uint64_t seed = fuzz_hash(0x9e3779b97f4a7c15ULL, data, size) | 1;
	uint64_t whole;
	char   *text;

	whole = fuzz_parse(p, in, size, 0);
	fuzz_assert(fuzz_parse(q, in, size, seed) == whole);

	/* reset and feed again: the same, unless the error is sticky */
	policy_parser_reset(p);
	if (policy_parser_error(p) == NULL)
		fuzz_assert(fuzz_parse(p, in, size, 0) == whole);
	else
		fuzz_assert(policy_parser_feed(p, in, size, NULL) == POLICY_PARSE_ERROR);
	policy_parser_free(p);
	policy_parser_free(q);

	/* the input as reply text */
	if ((text = malloc(size + 1)) != NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
		fuzz_reply(text);
		free(text);
	}
	return 0;
}
