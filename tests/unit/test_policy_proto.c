/*
 * test_policy_proto.c - policy_proto.c: the policy delegation request
 * parser and reply formatter. One table of named cases (bytes in, then the
 * attributes or the exact error phrase, and how many bytes were taken);
 * every case is fed whole, one byte at a time and, when short, split at
 * every point, and must come out the same each way. Then pipelining,
 * reset and reuse, sticky errors, the accessors, hostile sizes (10,000
 * attributes, a 1 MB value) and the reply formatter.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"

#define LEN_AUTO	((size_t) -1)	/* strlen of a buffer filled at start-up */
#define ALL		((size_t) -1)	/* every byte of the input taken */
#define AT_ATTR129	((size_t) -2)	/* the first byte of the 129th attribute */
#define S(s)		s, sizeof(s) - 1	/* literal with its exact length, NULs included */
#define G(buf)		buf, LEN_AUTO

#define MORE		POLICY_PARSE_MORE
#define DONE		POLICY_PARSE_DONE
#define ERROR		POLICY_PARSE_ERROR

/* A request as Postfix 3.7 sends it at RCPT TO (attributes from SMTPD_POLICY_README). */
#define RCPT_REQUEST \
	"request=smtpd_access_policy\n" \
	"protocol_state=RCPT\n" \
	"protocol_name=ESMTP\n" \
	"client_address=192.0.2.10\n" \
	"client_name=mail.example.net\n" \
	"client_port=51234\n" \
	"reverse_client_name=mail.example.net\n" \
	"server_address=198.51.100.25\n" \
	"server_port=25\n" \
	"helo_name=mail.example.net\n" \
	"sender=alice@example.net\n" \
	"recipient=bob@example.com\n" \
	"recipient_count=0\n" \
	"queue_id=\n" \
	"instance=1a2b.5f3c1d2e.8a9b.0\n" \
	"size=12345\n" \
	"etrn_domain=\n" \
	"stress=\n" \
	"sasl_method=\n" \
	"sasl_username=\n" \
	"sasl_sender=\n" \
	"ccert_subject=\n" \
	"ccert_issuer=\n" \
	"ccert_fingerprint=\n" \
	"ccert_pubkey_fingerprint=\n" \
	"encryption_protocol=TLSv1.3\n" \
	"encryption_cipher=TLS_AES_256_GCM_SHA384\n" \
	"encryption_keysize=256\n" \
	"policy_context=\n" \
	"compatibility_level=3.6\n" \
	"mail_version=3.7.11\n"

/* Inputs at and one past each limit, filled by policy_test_fill(); *_want is the dump. */
static char line_max[POLICY_LINE_MAX + 16], line_max_want[POLICY_LINE_MAX + 16];
static char line_max_crlf[POLICY_LINE_MAX + 16];
static char line_over[POLICY_LINE_MAX + 16];
static char name_max[POLICY_NAME_MAX + 16], name_max_want[POLICY_NAME_MAX + 16];
static char name_over[POLICY_NAME_MAX + 16];
static char attrs_max[POLICY_ATTRS_MAX * 8 + 16], attrs_max_want[POLICY_ATTRS_MAX * 8 + 16];
static char attrs_over[POLICY_ATTRS_MAX * 8 + 16];
static size_t attrs_over_at;
static char req_max[POLICY_REQUEST_MAX + 16], req_max_want[POLICY_REQUEST_MAX + 16];
static char req_over[POLICY_REQUEST_MAX + 16], req_over_want[POLICY_REQUEST_MAX + 16];

struct policy_case {
	const char *name;
	const char *in;
	size_t	len;
	enum policy_parse_result want;
	size_t	consumed;		/* bytes taken; ALL for every byte */
	const char *dump;		/* DONE: "name=value\n" per attribute, in order */
	const char *err;		/* ERROR: the exact phrase */
};

static struct policy_case policy_cases[] = {
	/* requests accepted */
	{"minimal", S("request=smtpd_access_policy\n\n"), DONE, ALL,
	"request=smtpd_access_policy\n", NULL},
	{"postfix rcpt request", S(RCPT_REQUEST "\n"), DONE, ALL, RCPT_REQUEST, NULL},
	{"empty values", S("sasl_username=\nqueue_id=\n\n"), DONE, ALL,
	"sasl_username=\nqueue_id=\n", NULL},
	{"value keeps later =", S("a=b=c==\n\n"), DONE, ALL, "a=b=c==\n", NULL},
	{"value keeps spaces", S("helo_name= mx example \n\n"), DONE, ALL,
	"helo_name= mx example \n", NULL},
	{"value keeps tab and 8-bit", S("sender=j\xc3\xb6rg@x.example\tz\n\n"), DONE, ALL,
	"sender=j\xc3\xb6rg@x.example\tz\n", NULL},
	{"digits and underscore in name", S("ccert_2_x=1\n\n"), DONE, ALL, "ccert_2_x=1\n", NULL},
	{"crlf line ends", S("a=1\r\nb=2\r\n\r\n"), DONE, ALL, "a=1\nb=2\n", NULL},
	{"crlf only at the end", S("a=1\nb=2\n\r\n"), DONE, ALL, "a=1\nb=2\n", NULL},
	{"pipelined stops at the empty line", S("a=1\n\nb=2\n\n"), DONE, 5, "a=1\n", NULL},
	{"pipelined garbage left alone", S("a=1\n\n\0\r=="), DONE, 5, "a=1\n", NULL},

	/* not complete yet */
	{"nothing", S(""), MORE, ALL, NULL, NULL},
	{"half a line", S("request=smtpd_acc"), MORE, ALL, NULL, NULL},
	{"half a name", S("a=1\nrecip"), MORE, ALL, NULL, NULL},
	{"no empty line yet", S("a=1\nb=2\n"), MORE, ALL, NULL, NULL},
	{"cr waiting for lf", S("a=1\r"), MORE, ALL, NULL, NULL},
	{"final cr waiting for lf", S("a=1\n\r"), MORE, ALL, NULL, NULL},

	/* refused */
	{"empty request", S("\n"), ERROR, 1, NULL, "empty request"},
	{"empty request crlf", S("\r\nrequest=x\n\n"), ERROR, 2, NULL, "empty request"},
	{"no =", S("request\n\n"), ERROR, 8, NULL, "line 1 has no '='"},
	{"no = in line 3", S("a=1\nb=2\nc\n\n"), ERROR, 10, NULL, "line 3 has no '='"},
	{"no = before crlf", S("a=1\nb\r\n"), ERROR, 7, NULL, "line 2 has no '='"},
	{"empty name", S("=x\n\n"), ERROR, 1, NULL, "empty attribute name in line 1"},
	{"uppercase name", S("Recipient=x\n\n"), ERROR, 1, NULL,
	"invalid byte 0x52 in attribute name in line 1"},
	{"dash in name", S("client-address=1\n\n"), ERROR, 7, NULL,
	"invalid byte 0x2d in attribute name in line 1"},
	{"space before =", S("a=1\nb =2\n\n"), ERROR, 6, NULL,
	"invalid byte 0x20 in attribute name in line 2"},
	{"leading space", S(" a=1\n\n"), ERROR, 1, NULL,
	"invalid byte 0x20 in attribute name in line 1"},
	{"8-bit name", S("\xe9=1\n\n"), ERROR, 1, NULL,
	"invalid byte 0xe9 in attribute name in line 1"},
	{"tab in name", S("a\t=1\n\n"), ERROR, 2, NULL,
	"invalid byte 0x09 in attribute name in line 1"},
	{"NUL in value", S("a=b\0c\n\n"), ERROR, 4, NULL, "NUL byte in line 1"},
	{"NUL in name", S("a=1\nb\0=2\n\n"), ERROR, 6, NULL, "NUL byte in line 2"},
	{"NUL as the empty line", S("a=1\n\0\n"), ERROR, 5, NULL, "NUL byte in line 2"},
	{"NUL after cr", S("a=1\r\0"), ERROR, 5, NULL, "bare CR in line 1"},
	{"bare CR in value", S("a=b\rc\n\n"), ERROR, 5, NULL, "bare CR in line 1"},
	{"CR-only line ends", S("a=1\rb=2\r\r"), ERROR, 5, NULL, "bare CR in line 1"},
	{"CR CR LF", S("a=1\r\r\n\n"), ERROR, 5, NULL, "bare CR in line 1"},
	{"CR-only empty line", S("a=1\n\r\r"), ERROR, 6, NULL, "bare CR in line 2"},
	{"CR in name", S("a\rb=1\n\n"), ERROR, 3, NULL, "bare CR in line 1"},
	{"duplicate", S("a=1\nb=2\na=3\n\n"), ERROR, 10, NULL, "duplicate attribute a in line 3"},
	{"duplicate same value", S("recipient=x\nrecipient=x\n\n"), ERROR, 22, NULL,
	"duplicate attribute recipient in line 2"},

	/* limits: at the bound and one past, filled by policy_test_fill() */
	{"line at 4096", G(line_max), DONE, ALL, line_max_want, NULL},
	{"line at 4096 with crlf", G(line_max_crlf), DONE, ALL, line_max_want, NULL},
	{"line at 4097", G(line_over), ERROR, POLICY_LINE_MAX + 1, NULL,
	"line 1 longer than 4096 bytes"},
	{"name at 64", G(name_max), DONE, ALL, name_max_want, NULL},
	{"name at 65", G(name_over), ERROR, POLICY_NAME_MAX + 1, NULL,
	"attribute name longer than 64 bytes in line 1"},
	{"128 attributes", G(attrs_max), DONE, ALL, attrs_max_want, NULL},
	{"129 attributes", G(attrs_over), ERROR, AT_ATTR129, NULL,
	"more than 128 attributes"},
	{"request at 32768", G(req_max), DONE, ALL, req_max_want, NULL},
	{"request at 32769", G(req_over), ERROR, POLICY_REQUEST_MAX + 1, NULL,
	"request longer than 32768 bytes"},
};

#define NCASES	(sizeof(policy_cases) / sizeof(policy_cases[0]))

/* policy_test_request - a request of exactly total bytes: lines "nNN=vvv\n", then "\n" */
static void
policy_test_request(char *out, char *want, size_t total)
{
	size_t	left = total - 1;	/* the final LF */
	size_t	n = 0;
	size_t	line;

	for (int i = 0; left > 0; i++) {
		/* "nNN=" is 4 bytes, the LF 1; keep the last line at least 5 bytes long */
		line = left > 4001 ? 4000 : left - 1;
		if (left > 4001 && left - 4001 < 6)
			line = 3990;
		n += (size_t) sprintf(out + n, "n%02d=", i);
		memset(out + n, 'v', line - 4);
		n += line - 4;
		out[n++] = '\n';
		left -= line + 1;
	}
	out[n++] = '\n';
	out[n] = '\0';
	memcpy(want, out, n - 1);
	want[n - 1] = '\0';
}

/* policy_test_fill - the long inputs of the table */
static void
policy_test_fill(void)
{
	size_t	n;

	/* "a=" and 4094 bytes make a line of exactly POLICY_LINE_MAX */
	memcpy(line_max, "a=", 2);
	memset(line_max + 2, 'v', POLICY_LINE_MAX - 2);
	memcpy(line_max_want, line_max, POLICY_LINE_MAX);
	strcpy(line_max_want + POLICY_LINE_MAX, "\n");
	strcpy(line_max_crlf, line_max);
	strcpy(line_max_crlf + POLICY_LINE_MAX, "\r\n\r\n");
	strcpy(line_max + POLICY_LINE_MAX, "\n\n");
	memcpy(line_over, line_max, POLICY_LINE_MAX);
	strcpy(line_over + POLICY_LINE_MAX, "v\n\n");

	memset(name_max, 'n', POLICY_NAME_MAX);
	strcpy(name_max + POLICY_NAME_MAX, "=1\n\n");
	memset(name_max_want, 'n', POLICY_NAME_MAX);
	strcpy(name_max_want + POLICY_NAME_MAX, "=1\n");
	memset(name_over, 'n', POLICY_NAME_MAX + 1);
	strcpy(name_over + POLICY_NAME_MAX + 1, "=1\n\n");

	n = 0;
	for (int i = 0; i < POLICY_ATTRS_MAX; i++)
		n += (size_t) sprintf(attrs_max + n, "a%d=%d\n", i, i);
	memcpy(attrs_max_want, attrs_max, n + 1);
	memcpy(attrs_over, attrs_max, n);
	attrs_over_at = n + 1;
	strcpy(attrs_over + n, "z=1\n\n");
	strcpy(attrs_max + n, "\n");

	policy_test_request(req_max, req_max_want, POLICY_REQUEST_MAX);
	policy_test_request(req_over, req_over_want, POLICY_REQUEST_MAX + 1);

	for (size_t i = 0; i < NCASES; i++) {
		if (policy_cases[i].len == LEN_AUTO)
			policy_cases[i].len = strlen(policy_cases[i].in);
		if (policy_cases[i].consumed == AT_ATTR129)
			policy_cases[i].consumed = attrs_over_at;
		if (policy_cases[i].consumed == ALL)
			policy_cases[i].consumed = policy_cases[i].len;
	}
}

/* What one run of the parser over one input produced. */
struct policy_outcome {
	enum policy_parse_result result;
	size_t	consumed;
	char   *dump;			/* attributes as "name=value\n", or the error */
};

/* policy_test_dump - the parsed request, or the error, as one malloc'd string */
static char *
policy_test_dump(const struct policy_parser *p, enum policy_parse_result r)
{
	const char *name;
	const char *value;
	size_t	size = 1;
	char   *out;

	if (r == ERROR)
		return strdup(policy_parser_error(p));
	for (size_t i = 0; policy_request_attr(p, i, &name, &value) == 0; i++)
		size += strlen(name) + strlen(value) + 2;
	out = malloc(size);
	ck_assert_ptr_nonnull(out);
	out[0] = '\0';
	for (size_t i = 0; policy_request_attr(p, i, &name, &value) == 0; i++) {
		strcat(out, name);
		strcat(out, "=");
		strcat(out, value);
		strcat(out, "\n");
		ck_assert_ptr_eq(policy_request_get(p, name), value);
	}
	return out;
}

/* policy_test_chunked - feed in chunks of at most step bytes (0: whole, else split at split) */
static void
policy_test_chunked(const char *in, size_t len, size_t step, size_t split,
		    struct policy_outcome *out)
{
	struct policy_parser *p = policy_parser_create();
	enum policy_parse_result r = MORE;
	size_t	off = 0;
	size_t	n;
	size_t	chunk;

	ck_assert_ptr_null(policy_parser_error(p));
	do {
		chunk = len - off;
		if (step > 0 && chunk > step)
			chunk = step;
		if (split > 0 && off < split && off + chunk > split)
			chunk = split - off;
		r = policy_parser_feed(p, in + off, chunk, &n);
		ck_assert_uint_le(n, chunk);
		if (r == MORE)
			ck_assert_uint_eq(n, chunk);
		off += n;
	} while (r == MORE && off < len);
	/* DONE and ERROR hold until reset: more bytes are not taken */
	if (r != MORE) {
		ck_assert_int_eq(policy_parser_feed(p, "x=1\n\n", 5, &n), r);
		ck_assert_uint_eq(n, 0);
	}
	if (r == ERROR) {
		ck_assert_ptr_nonnull(policy_parser_error(p));
		ck_assert_uint_eq(policy_request_count(p), 0);
	} else {
		ck_assert_ptr_null(policy_parser_error(p));
	}
	out->result = r;
	out->consumed = off;
	out->dump = r == MORE ? NULL : policy_test_dump(p, r);
	if (r == MORE)
		ck_assert_uint_eq(policy_request_count(p), 0);
	policy_parser_free(p);
}

/* policy_test_same - two runs over one input agree */
static void
policy_test_same(const char *name, const char *how, const struct policy_outcome *a,
		 const struct policy_outcome *b)
{
	ck_assert_msg(a->result == b->result, "%s: %s: result %d, whole %d",
		      name, how, b->result, a->result);
	ck_assert_msg(a->consumed == b->consumed, "%s: %s: took %zu, whole %zu",
		      name, how, b->consumed, a->consumed);
	if (a->dump != NULL)
		ck_assert_msg(strcmp(a->dump, b->dump) == 0, "%s: %s: \"%s\", whole \"%s\"",
			      name, how, b->dump, a->dump);
}

START_TEST(test_policy_case)
{
	const struct policy_case *c = &policy_cases[_i];
	struct policy_outcome whole;
	struct policy_outcome other;

	policy_test_chunked(c->in, c->len, 0, 0, &whole);
	ck_assert_msg(whole.result == c->want, "%s: result %d, want %d (%s)", c->name,
		      whole.result, c->want, whole.dump ? whole.dump : "");
	ck_assert_msg(whole.consumed == c->consumed, "%s: took %zu bytes, want %zu",
		      c->name, whole.consumed, c->consumed);
	if (c->want == DONE)
		ck_assert_msg(strcmp(whole.dump, c->dump) == 0, "%s: got \"%s\", want \"%s\"",
			      c->name, whole.dump, c->dump);
	if (c->want == ERROR)
		ck_assert_msg(strcmp(whole.dump, c->err) == 0, "%s: error \"%s\", want \"%s\"",
			      c->name, whole.dump, c->err);

	/* one byte at a time */
	policy_test_chunked(c->in, c->len, 1, 0, &other);
	policy_test_same(c->name, "byte by byte", &whole, &other);
	free(other.dump);

	/* two pieces, split at every point */
	for (size_t split = 1; c->len <= 1024 && split < c->len; split++) {
		policy_test_chunked(c->in, c->len, 0, split, &other);
		policy_test_same(c->name, "split", &whole, &other);
		free(other.dump);
	}
	free(whole.dump);
}
END_TEST

START_TEST(test_policy_pipelined)
{
	static const char two[] = RCPT_REQUEST "\n" "request=smtpd_access_policy\n"
		"protocol_state=END-OF-MESSAGE\nsize=999\n\n";
	struct policy_parser *p = policy_parser_create();
	size_t	len = sizeof(two) - 1;
	size_t	n;

	ck_assert_int_eq(policy_parser_feed(p, two, len, &n), DONE);
	ck_assert_uint_eq(n, strlen(RCPT_REQUEST) + 1);
	ck_assert_str_eq(policy_request_get(p, "protocol_state"), "RCPT");
	ck_assert_str_eq(policy_request_get(p, "recipient"), "bob@example.com");
	ck_assert_str_eq(policy_request_get(p, "size"), "12345");
	ck_assert_uint_eq(policy_request_count(p), 31);

	policy_parser_reset(p);
	ck_assert_uint_eq(policy_request_count(p), 0);
	ck_assert_ptr_null(policy_request_get(p, "recipient"));
	ck_assert_int_eq(policy_parser_feed(p, two + n, len - n, &n), DONE);
	ck_assert_uint_eq(n, 68);
	ck_assert_str_eq(policy_request_get(p, "protocol_state"), "END-OF-MESSAGE");
	ck_assert_str_eq(policy_request_get(p, "size"), "999");
	ck_assert_ptr_null(policy_request_get(p, "recipient"));
	ck_assert_uint_eq(policy_request_count(p), 3);

	policy_parser_reset(p);
	ck_assert_int_eq(policy_parser_feed(p, "", 0, &n), MORE);
	ck_assert_uint_eq(n, 0);
	policy_parser_free(p);
}
END_TEST

START_TEST(test_policy_reuse)
{
	struct policy_parser *p = policy_parser_create();
	char	req[128];
	char	want[32];
	size_t	n;
	int	len;

	/* one parser, many requests; nothing leaks from one to the next */
	for (int i = 0; i < 10000; i++) {
		if (i % 2)
			len = snprintf(req, sizeof(req), "recipient=r%d@x.example\nodd=%d\n\n", i, i);
		else
			len = snprintf(req, sizeof(req), "recipient=r%d@x.example\r\n\r\n", i);
		ck_assert_int_eq(policy_parser_feed(p, req, (size_t) len, &n), DONE);
		ck_assert_uint_eq(n, (size_t) len);
		snprintf(want, sizeof(want), "r%d@x.example", i);
		ck_assert_str_eq(policy_request_get(p, "recipient"), want);
		ck_assert_uint_eq(policy_request_count(p), i % 2 ? 2 : 1);
		if (i % 2 == 0)
			ck_assert_ptr_null(policy_request_get(p, "odd"));
		policy_parser_reset(p);
	}
	/* a reset in the middle of a request drops it */
	ck_assert_int_eq(policy_parser_feed(p, "a=1\nb=", 6, &n), MORE);
	policy_parser_reset(p);
	ck_assert_int_eq(policy_parser_feed(p, "b=2\n\n", 5, &n), DONE);
	ck_assert_ptr_null(policy_request_get(p, "a"));
	ck_assert_str_eq(policy_request_get(p, "b"), "2");
	/* line numbers start again at 1 */
	policy_parser_reset(p);
	ck_assert_int_eq(policy_parser_feed(p, "b=2\nX=1\n\n", 9, &n), ERROR);
	ck_assert_str_eq(policy_parser_error(p), "invalid byte 0x58 in attribute name in line 2");
	policy_parser_free(p);
}
END_TEST

START_TEST(test_policy_error_sticky)
{
	struct policy_parser *p = policy_parser_create();
	size_t	n = 99;

	ck_assert_int_eq(policy_parser_feed(p, "a=1\nb\0", 6, &n), ERROR);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(policy_parser_error(p), "NUL byte in line 2");
	ck_assert_int_eq(policy_parser_feed(p, "c=1\n\n", 5, &n), ERROR);
	ck_assert_uint_eq(n, 0);
	policy_parser_reset(p);
	ck_assert_int_eq(policy_parser_feed(p, "c=1\n\n", 5, NULL), ERROR);
	ck_assert_str_eq(policy_parser_error(p), "NUL byte in line 2");
	ck_assert_ptr_null(policy_request_get(p, "a"));
	ck_assert_uint_eq(policy_request_count(p), 0);
	policy_parser_free(p);
	policy_parser_free(NULL);
}
END_TEST

START_TEST(test_policy_accessors)
{
	struct policy_parser *p = policy_parser_create();
	const char *name = "unset";
	const char *value = "unset";

	/* nothing is visible before DONE */
	ck_assert_int_eq(policy_parser_feed(p, "a=1\nb=2\n", 8, NULL), MORE);
	ck_assert_ptr_null(policy_request_get(p, "a"));
	ck_assert_uint_eq(policy_request_count(p), 0);
	ck_assert_int_eq(policy_request_attr(p, 0, &name, &value), -1);
	ck_assert_int_eq(policy_parser_feed(p, "c=\n\n", 4, NULL), DONE);

	ck_assert_uint_eq(policy_request_count(p), 3);
	ck_assert_int_eq(policy_request_attr(p, 0, &name, &value), 0);
	ck_assert_str_eq(name, "a");
	ck_assert_str_eq(value, "1");
	ck_assert_int_eq(policy_request_attr(p, 2, &name, &value), 0);
	ck_assert_str_eq(name, "c");
	ck_assert_str_eq(value, "");
	ck_assert_int_eq(policy_request_attr(p, 1, NULL, NULL), 0);
	ck_assert_int_eq(policy_request_attr(p, 3, &name, &value), -1);
	ck_assert_int_eq(policy_request_attr(p, (size_t) -1, &name, &value), -1);
	ck_assert_str_eq(policy_request_get(p, "c"), "");
	ck_assert_ptr_null(policy_request_get(p, "d"));
	ck_assert_ptr_null(policy_request_get(p, "A"));
	ck_assert_ptr_null(policy_request_get(p, ""));
	ck_assert_ptr_null(policy_request_get(p, NULL));
	policy_parser_free(p);
}
END_TEST

/* policy_test_huge - feed len bytes whole and in 4 KB chunks: ERROR at byte at, with err */
static void
policy_test_huge(const char *in, size_t len, size_t at, const char *err)
{
	struct policy_outcome whole;
	struct policy_outcome chunked;

	policy_test_chunked(in, len, 0, 0, &whole);
	ck_assert_int_eq(whole.result, ERROR);
	ck_assert_uint_eq(whole.consumed, at);
	ck_assert_str_eq(whole.dump, err);
	policy_test_chunked(in, len, 4096, 0, &chunked);
	policy_test_same(err, "4 KB chunks", &whole, &chunked);
	free(whole.dump);
	free(chunked.dump);
}

START_TEST(test_policy_10000_attributes)
{
	size_t	size = 10000 * 16 + 2;
	char   *in = malloc(size);
	size_t	n = 0;
	size_t	at = 0;

	ck_assert_ptr_nonnull(in);
	for (int i = 0; i < 10000; i++) {
		if (i == POLICY_ATTRS_MAX)
			at = n + 1;
		n += (size_t) sprintf(in + n, "attr%d=%d\n", i, i);
	}
	in[n++] = '\n';
	policy_test_huge(in, n, at, "more than 128 attributes");
	free(in);
}
END_TEST

START_TEST(test_policy_1mb_attribute)
{
	size_t	size = 1024 * 1024 + 16;
	char   *in = malloc(size);

	ck_assert_ptr_nonnull(in);
	/* a 1 MB value stops at the line limit */
	memcpy(in, "recipient=", 10);
	memset(in + 10, 'x', size - 12);
	memcpy(in + size - 2, "\n\n", 2);
	policy_test_huge(in, size, POLICY_LINE_MAX + 1, "line 1 longer than 4096 bytes");
	/* a 1 MB name stops at the name limit */
	memset(in, 'n', size - 4);
	memcpy(in + size - 4, "=\n\n", 3);
	policy_test_huge(in, size - 1, POLICY_NAME_MAX + 1,
			 "attribute name longer than 64 bytes in line 1");
	/* 1 MB of NULs stops at the first */
	memset(in, 0, size);
	policy_test_huge(in, size, 1, "NUL byte in line 1");
	/* 1 MB of CRs stops at the second */
	memset(in, '\r', size);
	policy_test_huge(in, size, 2, "bare CR in line 1");
	/* 1 MB of short lines with CR-only ends stops at the first */
	for (size_t i = 0; i + 4 <= size; i += 4)
		memcpy(in + i, "a=1\r", 4);
	policy_test_huge(in, size, 5, "bare CR in line 1");
	free(in);
}
END_TEST

START_TEST(test_policy_reply_format)
{
	char	buf[POLICY_REPLY_MAX];
	char	text[POLICY_ACTION_MAX + 2];
	char	small[16];
	struct policy_parser *p;
	size_t	n;

	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "DUNNO"), 14);
	ck_assert_str_eq(buf, "action=DUNNO\n\n");
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf),
					     "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown"),
			 78);
	ck_assert_str_eq(buf, "action=550 5.1.1 <bob@example.com>: Recipient address rejected: "
			 "User unknown\n\n");
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "DEFER_IF_PERMIT 4.3.0 x=y"), 34);

	/* refused: the buffer is left empty */
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "DUNNO\nX"), -1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "REJECT a\r"), -1);
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "REJECT\ttab"), -1);
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "REJECT \x7f"), -1);
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "REJECT j\xc3\xb6rg"), -1);
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), ""), -1);
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), NULL), -1);
	ck_assert_int_eq(policy_reply_format(NULL, 0, "DUNNO"), -1);

	/* the bound, and the buffer size */
	memset(text, 'x', POLICY_ACTION_MAX);
	text[POLICY_ACTION_MAX] = '\0';
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), text), POLICY_ACTION_MAX + 9);
	ck_assert_int_eq(policy_reply_format(buf, POLICY_ACTION_MAX + 10, text),
			 POLICY_ACTION_MAX + 9);
	ck_assert_int_eq(policy_reply_format(buf, POLICY_ACTION_MAX + 9, text), -1);
	ck_assert_str_eq(buf, "");
	text[POLICY_ACTION_MAX] = 'x';
	text[POLICY_ACTION_MAX + 1] = '\0';
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), text), -1);
	ck_assert_int_eq(policy_reply_format(small, sizeof(small), "OK"), 11);
	ck_assert_int_eq(policy_reply_format(small, sizeof(small), "REJECT"), 15);
	ck_assert_int_eq(policy_reply_format(small, sizeof(small), "REJECT1"), -1);
	ck_assert_str_eq(small, "");

	/* a reply reads back as one action attribute */
	p = policy_parser_create();
	ck_assert_int_eq(policy_reply_format(buf, sizeof(buf), "PREPEND X-Test: a=b"), 28);
	ck_assert_int_eq(policy_parser_feed(p, buf, strlen(buf), &n), DONE);
	ck_assert_uint_eq(n, 28);
	ck_assert_str_eq(policy_request_get(p, "action"), "PREPEND X-Test: a=b");
	policy_parser_free(p);
}
END_TEST

/* policy_suite - the table plus the stream and reply checks */
static Suite *
policy_suite(void)
{
	Suite  *s = suite_create("policy_proto");
	TCase  *tc = tcase_create("parse");
	TCase  *tr = tcase_create("reply");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_policy_case, 0, (int) NCASES);
	tcase_add_test(tc, test_policy_pipelined);
	tcase_add_test(tc, test_policy_reuse);
	tcase_add_test(tc, test_policy_error_sticky);
	tcase_add_test(tc, test_policy_accessors);
	tcase_add_test(tc, test_policy_10000_attributes);
	tcase_add_test(tc, test_policy_1mb_attribute);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, test_policy_reply_format);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int	failed;

	policy_test_fill();
	sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
