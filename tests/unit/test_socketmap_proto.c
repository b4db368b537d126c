/*
 * test_socketmap_proto.c - socketmap_proto.c: the socketmap request parser
 * and reply formatter. One table of named cases (bytes in, then the map
 * name and key or the exact error phrase, and how many bytes were taken);
 * every case is fed whole, one byte at a time and, when short, split at
 * every point, and must come out the same each way. Then pipelining,
 * reset and reuse, sticky errors, hostile sizes and the reply formatter,
 * whose replies must read back through the parser.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketmap_proto.h"

#define LEN_AUTO	((size_t) -1)	/* strlen of a buffer filled at start-up */
#define ALL		((size_t) -1)	/* every byte of the input taken */
#define S(s)		s, sizeof(s) - 1	/* literal with its exact length, NULs included */
#define G(buf)		buf, LEN_AUTO

#define MORE		SOCKETMAP_PARSE_MORE
#define DONE		SOCKETMAP_PARSE_DONE
#define ERROR		SOCKETMAP_PARSE_ERROR

/* Inputs at and one past the payload limit, filled by socketmap_test_fill(). */
static char query_max[SOCKETMAP_QUERY_MAX + 32], query_max_key[SOCKETMAP_QUERY_MAX];
static char query_over[SOCKETMAP_QUERY_MAX + 32];

struct socketmap_case {
	const char *name;
	const char *in;
	size_t	len;
	enum socketmap_parse_result want;
	size_t	consumed;		/* bytes taken; ALL for every byte */
	const char *map;		/* DONE: map name */
	const char *key;		/* DONE: key */
	const char *err;		/* ERROR: the exact phrase */
};

static struct socketmap_case socketmap_cases[] = {
	/* requests accepted */
	{"relay_domains", S("25:relay_domains example.com,"), DONE, ALL,
	"relay_domains", "example.com", NULL},
	{"transport_maps address", S("30:transport_maps bob@example.com,"), DONE, ALL,
	"transport_maps", "bob@example.com", NULL},
	{"one byte each", S("3:m k,"), DONE, ALL, "m", "k", NULL},
	{"key with spaces", S("7:m a b c,"), DONE, ALL, "m", "a b c", NULL},
	{"key starting with a space", S("4:m  a,"), DONE, ALL, "m", " a", NULL},
	{"key ending with a space", S("4:m a ,"), DONE, ALL, "m", "a ", NULL},
	{"key with 8-bit and controls", S("8:m j\xc3\xb6\r\n\t,"), DONE, ALL, "m",
	"j\xc3\xb6\r\n\t", NULL},
	{"key with comma and colon", S("7:m 3:a,b,"), DONE, ALL, "m", "3:a,b", NULL},
	{"map name punctuation", S("9:a.b-c:d e,"), DONE, ALL, "a.b-c:d", "e", NULL},
	{"five digit length", G(query_max), DONE, ALL, "m", query_max_key, NULL},
	{"pipelined", S("4:m k1,4:m k2,"), DONE, 7, "m", "k1", NULL},
	{"pipelined garbage left alone", S("3:m k,\0+-"), DONE, 6, "m", "k", NULL},

	/* not complete yet */
	{"nothing", S(""), MORE, ALL, NULL, NULL, NULL},
	{"length only", S("25"), MORE, ALL, NULL, NULL, NULL},
	{"length and colon", S("25:"), MORE, ALL, NULL, NULL, NULL},
	{"half a payload", S("25:relay_domains exa"), MORE, ALL, NULL, NULL, NULL},
	{"name only so far", S("25:relay_domains"), MORE, ALL, NULL, NULL, NULL},
	{"waiting for the comma", S("3:m k"), MORE, ALL, NULL, NULL, NULL},
	{"short payload", S("5:m k,"), MORE, ALL, NULL, NULL, NULL},

	/* refused: the length */
	{"plus sign", S("+3:m k,"), ERROR, 1, NULL, NULL, "netstring length has a sign"},
	{"minus sign", S("-3:m k,"), ERROR, 1, NULL, NULL, "netstring length has a sign"},
	{"space before length", S(" 3:m k,"), ERROR, 1, NULL, NULL,
	"non-digit 0x20 in netstring length"},
	{"letter for length", S("x:m k,"), ERROR, 1, NULL, NULL,
	"non-digit 0x78 in netstring length"},
	{"NUL for length", S("\0"), ERROR, 1, NULL, NULL, "non-digit 0x00 in netstring length"},
	{"line instead of netstring", S("relay_domains example.com\n"), ERROR, 1, NULL, NULL,
	"non-digit 0x72 in netstring length"},
	{"empty length", S(":m k,"), ERROR, 1, NULL, NULL, "netstring length is empty"},
	{"leading zero", S("03:m k,"), ERROR, 2, NULL, NULL, "netstring length has a leading zero"},
	{"double zero", S("00:,"), ERROR, 2, NULL, NULL, "netstring length has a leading zero"},
	{"six digits", S("100000:"), ERROR, 6, NULL, NULL,
	"netstring length has more than 5 digits"},
	{"length over the limit", S("10001:"), ERROR, 5, NULL, NULL, "netstring length over 10000"},
	{"length far over", S("99999:"), ERROR, 5, NULL, NULL, "netstring length over 10000"},
	{"payload one past", G(query_over), ERROR, 5, NULL, NULL, "netstring length over 10000"},
	{"letter after digits", S("3x:m k,"), ERROR, 2, NULL, NULL,
	"missing ':' after netstring length"},
	{"sign after digits", S("3-"), ERROR, 2, NULL, NULL, "missing ':' after netstring length"},
	{"space before colon", S("3 :m k,"), ERROR, 2, NULL, NULL,
	"missing ':' after netstring length"},

	/* refused: the payload */
	{"zero length", S("0:,"), ERROR, 2, NULL, NULL, "empty map name"},
	{"empty map name", S("3: mk,"), ERROR, 3, NULL, NULL, "empty map name"},
	{"no space", S("3:mkk,"), ERROR, 5, NULL, NULL, "no space between map name and key"},
	{"empty key", S("2:m ,"), ERROR, 4, NULL, NULL, "empty key"},
	{"NUL in key", S("4:m \0k,"), ERROR, 5, NULL, NULL, "NUL byte in netstring payload"},
	{"NUL in map name", S("4:\0m k,"), ERROR, 3, NULL, NULL, "NUL byte in netstring payload"},
	{"tab in map name", S("5:m\tx k,"), ERROR, 4, NULL, NULL,
	"non-printable byte 0x09 in map name"},
	{"8-bit in map name", S("3:\xe9 k,"), ERROR, 3, NULL, NULL,
	"non-printable byte 0xe9 in map name"},
	{"missing comma", S("3:m k;"), ERROR, 6, NULL, NULL, "missing ',' after netstring payload"},
	{"LF for comma", S("3:m k\n"), ERROR, 6, NULL, NULL, "missing ',' after netstring payload"},
	{"long payload", S("3:m kk,"), ERROR, 6, NULL, NULL, "missing ',' after netstring payload"},
};

#define NCASES	(sizeof(socketmap_cases) / sizeof(socketmap_cases[0]))

/* socketmap_test_fill - the long inputs of the table */
static void
socketmap_test_fill(void)
{
	/* "10000:m kkk...k," : a payload of exactly SOCKETMAP_QUERY_MAX */
	memset(query_max_key, 'k', SOCKETMAP_QUERY_MAX - 2);
	query_max_key[SOCKETMAP_QUERY_MAX - 2] = '\0';
	snprintf(query_max, sizeof(query_max), "%d:m %s,", SOCKETMAP_QUERY_MAX, query_max_key);
	snprintf(query_over, sizeof(query_over), "%d:m %sk,", SOCKETMAP_QUERY_MAX + 1,
		 query_max_key);

	for (size_t i = 0; i < NCASES; i++) {
		if (socketmap_cases[i].len == LEN_AUTO)
			socketmap_cases[i].len = strlen(socketmap_cases[i].in);
		if (socketmap_cases[i].consumed == ALL)
			socketmap_cases[i].consumed = socketmap_cases[i].len;
	}
}

/* What one run of the parser over one input produced. */
struct socketmap_outcome {
	enum socketmap_parse_result result;
	size_t	consumed;
	char   *dump;			/* "map\nkey", or the error */
};

/* socketmap_test_dump - the request or the error as one malloc'd string */
static char *
socketmap_test_dump(const struct socketmap_parser *p, enum socketmap_parse_result r)
{
	const char *map = socketmap_request_name(p);
	const char *key = socketmap_request_key(p);
	char   *out;

	if (r == ERROR)
		return strdup(socketmap_parser_error(p));
	if (r == MORE) {
		ck_assert_ptr_null(map);
		ck_assert_ptr_null(key);
		return NULL;
	}
	ck_assert_ptr_nonnull(map);
	ck_assert_ptr_nonnull(key);
	out = malloc(strlen(map) + strlen(key) + 2);
	ck_assert_ptr_nonnull(out);
	sprintf(out, "%s\n%s", map, key);
	return out;
}

/* socketmap_test_chunked - feed in chunks of at most step bytes (0: whole), split at split */
static void
socketmap_test_chunked(const char *in, size_t len, size_t step, size_t split,
		       struct socketmap_outcome *out)
{
	struct socketmap_parser *p = socketmap_parser_create();
	enum socketmap_parse_result r = MORE;
	size_t	off = 0;
	size_t	n;
	size_t	chunk;

	ck_assert_ptr_null(socketmap_parser_error(p));
	do {
		chunk = len - off;
		if (step > 0 && chunk > step)
			chunk = step;
		if (split > 0 && off < split && off + chunk > split)
			chunk = split - off;
		r = socketmap_parser_feed(p, in + off, chunk, &n);
		ck_assert_uint_le(n, chunk);
		if (r == MORE)
			ck_assert_uint_eq(n, chunk);
		off += n;
	} while (r == MORE && off < len);
	/* DONE and ERROR hold until reset: more bytes are not taken */
	if (r != MORE) {
		ck_assert_int_eq(socketmap_parser_feed(p, "3:m k,", 6, &n), r);
		ck_assert_uint_eq(n, 0);
	}
	if (r == ERROR)
		ck_assert_ptr_nonnull(socketmap_parser_error(p));
	else
		ck_assert_ptr_null(socketmap_parser_error(p));
	out->result = r;
	out->consumed = off;
	out->dump = socketmap_test_dump(p, r);
	socketmap_parser_free(p);
}

/* socketmap_test_same - two runs over one input agree */
static void
socketmap_test_same(const char *name, const char *how, const struct socketmap_outcome *a,
		    const struct socketmap_outcome *b)
{
	ck_assert_msg(a->result == b->result, "%s: %s: result %d, whole %d",
		      name, how, b->result, a->result);
	ck_assert_msg(a->consumed == b->consumed, "%s: %s: took %zu, whole %zu",
		      name, how, b->consumed, a->consumed);
	if (a->dump != NULL)
		ck_assert_msg(strcmp(a->dump, b->dump) == 0, "%s: %s: \"%s\", whole \"%s\"",
			      name, how, b->dump, a->dump);
}

START_TEST(test_socketmap_case)
{
	const struct socketmap_case *c = &socketmap_cases[_i];
	struct socketmap_outcome whole;
	struct socketmap_outcome other;
	char   *want;

	socketmap_test_chunked(c->in, c->len, 0, 0, &whole);
	ck_assert_msg(whole.result == c->want, "%s: result %d, want %d (%s)", c->name,
		      whole.result, c->want, whole.dump ? whole.dump : "");
	ck_assert_msg(whole.consumed == c->consumed, "%s: took %zu bytes, want %zu",
		      c->name, whole.consumed, c->consumed);
	if (c->want == DONE) {
		want = malloc(strlen(c->map) + strlen(c->key) + 2);
		ck_assert_ptr_nonnull(want);
		sprintf(want, "%s\n%s", c->map, c->key);
		ck_assert_msg(strcmp(whole.dump, want) == 0, "%s: got \"%s\", want \"%s\"",
			      c->name, whole.dump, want);
		free(want);
	}
	if (c->want == ERROR)
		ck_assert_msg(strcmp(whole.dump, c->err) == 0, "%s: error \"%s\", want \"%s\"",
			      c->name, whole.dump, c->err);

	/* one byte at a time */
	socketmap_test_chunked(c->in, c->len, 1, 0, &other);
	socketmap_test_same(c->name, "byte by byte", &whole, &other);
	free(other.dump);

	/* two pieces, split at every point */
	for (size_t split = 1; c->len <= 1024 && split < c->len; split++) {
		socketmap_test_chunked(c->in, c->len, 0, split, &other);
		socketmap_test_same(c->name, "split", &whole, &other);
		free(other.dump);
	}
	free(whole.dump);
}
END_TEST

START_TEST(test_socketmap_pipelined)
{
	static const char two[] = "25:relay_domains example.com,30:transport_maps bob@example.com,";
	struct socketmap_parser *p = socketmap_parser_create();
	size_t	len = sizeof(two) - 1;
	size_t	n;
	size_t	m;

	ck_assert_int_eq(socketmap_parser_feed(p, two, len, &n), DONE);
	ck_assert_uint_eq(n, 29);
	ck_assert_str_eq(socketmap_request_name(p), "relay_domains");
	ck_assert_str_eq(socketmap_request_key(p), "example.com");
	socketmap_parser_reset(p);
	ck_assert_ptr_null(socketmap_request_name(p));
	ck_assert_ptr_null(socketmap_request_key(p));
	ck_assert_int_eq(socketmap_parser_feed(p, two + n, len - n, &m), DONE);
	ck_assert_uint_eq(n + m, len);
	ck_assert_str_eq(socketmap_request_name(p), "transport_maps");
	ck_assert_str_eq(socketmap_request_key(p), "bob@example.com");
	socketmap_parser_reset(p);
	ck_assert_int_eq(socketmap_parser_feed(p, "", 0, &n), MORE);
	ck_assert_uint_eq(n, 0);
	socketmap_parser_free(p);
}
END_TEST

START_TEST(test_socketmap_reuse)
{
	struct socketmap_parser *p = socketmap_parser_create();
	char	req[64];
	char	key[32];
	size_t	n;
	int	len;

	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "d%d.example", i);
		len = snprintf(req, sizeof(req), "%zu:%s %s,", strlen(i % 2 ? "m" : "relay_domains")
			       + 1 + strlen(key), i % 2 ? "m" : "relay_domains", key);
		ck_assert_int_eq(socketmap_parser_feed(p, req, (size_t) len, &n), DONE);
		ck_assert_uint_eq(n, (size_t) len);
		ck_assert_str_eq(socketmap_request_name(p), i % 2 ? "m" : "relay_domains");
		ck_assert_str_eq(socketmap_request_key(p), key);
		socketmap_parser_reset(p);
	}
	/* a reset in the middle of a request drops it */
	ck_assert_int_eq(socketmap_parser_feed(p, "9:relay", 7, &n), MORE);
	socketmap_parser_reset(p);
	ck_assert_int_eq(socketmap_parser_feed(p, "3:a b,", 6, &n), DONE);
	ck_assert_str_eq(socketmap_request_name(p), "a");
	ck_assert_str_eq(socketmap_request_key(p), "b");
	socketmap_parser_free(p);
}
END_TEST

START_TEST(test_socketmap_error_sticky)
{
	struct socketmap_parser *p = socketmap_parser_create();
	size_t	n = 99;

	ck_assert_int_eq(socketmap_parser_feed(p, "3:m k;3:m k,", 12, &n), ERROR);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(socketmap_parser_error(p), "missing ',' after netstring payload");
	ck_assert_int_eq(socketmap_parser_feed(p, "3:m k,", 6, &n), ERROR);
	ck_assert_uint_eq(n, 0);
	socketmap_parser_reset(p);
	ck_assert_int_eq(socketmap_parser_feed(p, "3:m k,", 6, NULL), ERROR);
	ck_assert_str_eq(socketmap_parser_error(p), "missing ',' after netstring payload");
	ck_assert_ptr_null(socketmap_request_name(p));
	ck_assert_ptr_null(socketmap_request_key(p));
	socketmap_parser_free(p);
	socketmap_parser_free(NULL);
}
END_TEST

START_TEST(test_socketmap_huge)
{
	size_t	size = 1024 * 1024;
	char   *in = malloc(size);
	struct socketmap_outcome whole;

	ck_assert_ptr_nonnull(in);
	/* 1 MB of digits stops at the limit */
	memset(in, '9', size);
	socketmap_test_chunked(in, size, 0, 0, &whole);
	ck_assert_int_eq(whole.result, ERROR);
	ck_assert_uint_eq(whole.consumed, 5);
	ck_assert_str_eq(whole.dump, "netstring length over 10000");
	free(whole.dump);
	/* a 1 MB key announced as 10000 bytes stops right after them */
	memcpy(in, "10000:m ", 8);
	memset(in + 8, 'k', size - 8);
	socketmap_test_chunked(in, size, 4096, 0, &whole);
	ck_assert_int_eq(whole.result, ERROR);
	ck_assert_uint_eq(whole.consumed, 6 + SOCKETMAP_QUERY_MAX + 1);
	ck_assert_str_eq(whole.dump, "missing ',' after netstring payload");
	free(whole.dump);
	/* 1 MB of NULs stops at the first */
	memset(in, 0, size);
	socketmap_test_chunked(in, size, 0, 0, &whole);
	ck_assert_uint_eq(whole.consumed, 1);
	free(whole.dump);
	free(in);
}
END_TEST

START_TEST(test_socketmap_reply_format)
{
	char	buf[SOCKETMAP_REPLY_MAX];
	char	text[SOCKETMAP_TEXT_MAX + 2];
	char	small[9];
	struct socketmap_parser *p;
	size_t	n;

	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK,
						"smtp:[mx.example.com]:2525"), 33);
	ck_assert_str_eq(buf, "29:OK smtp:[mx.example.com]:2525,");
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_NOTFOUND, ""), 12);
	ck_assert_str_eq(buf, "9:NOTFOUND ,");
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_NOTFOUND, NULL), 12);
	ck_assert_str_eq(buf, "9:NOTFOUND ,");
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_TEMP,
						"Redis unavailable"), 26);
	ck_assert_str_eq(buf, "22:TEMP Redis unavailable,");
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_TIMEOUT, "slow"), 16);
	ck_assert_str_eq(buf, "12:TIMEOUT slow,");
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_PERM, "no such map"), 20);
	ck_assert_str_eq(buf, "16:PERM no such map,");
	/* an empty result keeps its space: Postfix reads a bare "OK" as not found */
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK, ""), 6);
	ck_assert_str_eq(buf, "3:OK ,");

	/* refused: the buffer is left empty */
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_NOTFOUND, "x"), -1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK, "a\rb"), -1);
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK, "a\nb"), -1);
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_TEMP, "a\tb"), -1);
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK, "\xc3\xa9"), -1);
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), (enum socketmap_status) 5, "x"),
			 -1);
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), (enum socketmap_status) -1, "x"),
			 -1);
	ck_assert_int_eq(socketmap_reply_format(NULL, 0, SOCKETMAP_OK, "x"), -1);

	/* the bound, and the buffer size */
	memset(text, 'x', SOCKETMAP_TEXT_MAX);
	text[SOCKETMAP_TEXT_MAX] = '\0';
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_TIMEOUT, text),
			 5 + 8 + SOCKETMAP_TEXT_MAX + 1);
	ck_assert_int_eq(socketmap_reply_format(buf, 5 + 8 + SOCKETMAP_TEXT_MAX + 2,
						SOCKETMAP_TIMEOUT, text),
			 5 + 8 + SOCKETMAP_TEXT_MAX + 1);
	ck_assert_int_eq(socketmap_reply_format(buf, 5 + 8 + SOCKETMAP_TEXT_MAX + 1,
						SOCKETMAP_TIMEOUT, text), -1);
	ck_assert_str_eq(buf, "");
	text[SOCKETMAP_TEXT_MAX] = 'x';
	text[SOCKETMAP_TEXT_MAX + 1] = '\0';
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK, text), -1);
	ck_assert_int_eq(socketmap_reply_format(small, sizeof(small), SOCKETMAP_OK, "ab"), 8);
	ck_assert_str_eq(small, "5:OK ab,");
	ck_assert_int_eq(socketmap_reply_format(small, sizeof(small), SOCKETMAP_OK, "abc"), -1);
	ck_assert_str_eq(small, "");

	/* an OK reply reads back as map name "OK" and the text as key */
	p = socketmap_parser_create();
	ck_assert_int_eq(socketmap_reply_format(buf, sizeof(buf), SOCKETMAP_OK, "smtp: x"), 14);
	ck_assert_int_eq(socketmap_parser_feed(p, buf, strlen(buf), &n), DONE);
	ck_assert_uint_eq(n, 14);
	ck_assert_str_eq(socketmap_request_name(p), "OK");
	ck_assert_str_eq(socketmap_request_key(p), "smtp: x");
	socketmap_parser_free(p);
}
END_TEST

/* socketmap_suite - the table plus the stream and reply checks */
static Suite *
socketmap_suite(void)
{
	Suite  *s = suite_create("socketmap_proto");
	TCase  *tc = tcase_create("parse");
	TCase  *tr = tcase_create("reply");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_socketmap_case, 0, (int) NCASES);
	tcase_add_test(tc, test_socketmap_pipelined);
	tcase_add_test(tc, test_socketmap_reuse);
	tcase_add_test(tc, test_socketmap_error_sticky);
	tcase_add_test(tc, test_socketmap_huge);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, test_socketmap_reply_format);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int	failed;

	socketmap_test_fill();
	sr = srunner_create(socketmap_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
