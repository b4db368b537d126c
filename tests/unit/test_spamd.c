/*
 * test_spamd.c - milter/spamd.c: the SYMBOLS reply parser, table-driven
 * (good replies and bad ones, each bad one with its exact error), and
 * spamd_check against small fake spamd servers forked by the test on
 * 127.0.0.1 (port 0, read back) or a unix socket: a good one (the request
 * it got is checked byte for byte), garbage, a hang (bounded by the
 * timeout), a close in mid-reply, a status error sent while the message
 * is still going out, a byte-at-a-time reply, a reply without a close,
 * nothing listening, and several threads at once. Every server is killed
 * and reaped at the end of its test.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "spamd.h"

#define ERRLEN		512
#define REQUEST_MAX	(16 * 1024 * 1024)	/* what a fake server reads at most */
#define BIG_MESSAGE	(3 * 1024 * 1024)	/* larger than the socket buffers: partial writes */
#define HUGE_MESSAGE	(64 * 1024 * 1024)	/* more than a stopped reader's buffers ever take */
#define TIMEOUT_MS	500			/* for the servers that hang */
#define MARGIN_MS	1500			/* what a timed-out call may take past it (valgrind, a loaded CI machine) */

/* --- the parser: a table of named cases ------------------------------------ */

#define CRLF "\r\n"
#define OK_HEAD "SPAMD/1.1 0 EX_OK" CRLF

struct parse_case {
	const char *name;
	const char *reply;
	size_t	len;			/* 0: strlen(reply) */
	const char *err;		/* NULL: must parse */
	double	score;
	double	threshold;
	int	is_spam;
	const char *tests;
};

/* BAD - a case that must fail with exactly err (len 0: strlen(reply)) */
#define BAD(name, reply, len, err)	{name, reply, len, err, 0, 0, 0, NULL}

static const struct parse_case parse_cases[] = {
	/* good */
	{"spam (GTUBE, as spamd 4 writes it)",
	 OK_HEAD "Content-length: 28" CRLF "Spam: True ; 1000.0 / 5.0" CRLF CRLF
	 "GTUBE,MISSING_DATE,NO_RELAYS", 0, NULL, 1000.0, 5.0, 1, "GTUBE,MISSING_DATE,NO_RELAYS"},
	{"ham, negative score",
	 OK_HEAD "Content-length: 20" CRLF "Spam: False ; -1.2 / 5.0" CRLF CRLF
	 "ALL_TRUSTED,BAYES_00", 0, NULL, -1.2, 5.0, 0, "ALL_TRUSTED,BAYES_00"},
	{"no symbols",
	 OK_HEAD "Content-length: 0" CRLF "Spam: False ; 0.0 / 5.0" CRLF CRLF, 0, NULL, 0.0, 5.0, 0, ""},
	{"LF-only line ends",
	 "SPAMD/1.1 0 EX_OK\nContent-length: 5\nSpam: True ; 15.0 / 5.0\n\nRULE1", 0, NULL,
	 15.0, 5.0, 1, "RULE1"},
	{"Spam before Content-length, other headers ignored",
	 OK_HEAD "Spam: True ; 6.5 / 5.0" CRLF "X-Future: whatever: it says" CRLF
	 "Content-length: 3" CRLF CRLF "A_B", 0, NULL, 6.5, 5.0, 1, "A_B"},
	{"header names in any case",
	 OK_HEAD "CONTENT-LENGTH: 1" CRLF "spam: true ; 5.0 / 5.0" CRLF CRLF "X", 0, NULL, 5.0, 5.0, 1, "X"},
	{"protocol before 1.3: symbols end in CR LF (counted in Content-length)",
	 OK_HEAD "Content-length: 5" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF "A,B" CRLF, 0, NULL,
	 15.0, 5.0, 1, "A,B"},
	{"integer scores, as PROTOCOL's example",
	 OK_HEAD "Content-length: 0" CRLF "Spam: True ; 15 / 5" CRLF CRLF, 0, NULL, 15.0, 5.0, 1, ""},
	{"Yes/No verdict, tabs and extra spaces",
	 OK_HEAD "Content-length: 0" CRLF "Spam:\tNo;-0.5/\t5.0   " CRLF CRLF, 0, NULL, -0.5, 5.0, 0, ""},
	{"below the threshold but flagged spam: spamd's verdict is kept",
	 OK_HEAD "Content-length: 0" CRLF "Spam: True ; 4.9 / 5.0" CRLF CRLF, 0, NULL, 4.9, 5.0, 1, ""},
	{"minus zero, as spamd writes a tiny negative score, is zero",
	 OK_HEAD "Content-length: 0" CRLF "Spam: False ; -0.0 / 5.0" CRLF CRLF, 0, NULL, 0.0, 5.0, 0, ""},
	{"six digits each side",
	 OK_HEAD "Content-length: 0" CRLF "Spam: True ; +999999.999999 / -0.000001" CRLF CRLF, 0, NULL,
	 999999.999999, -0.000001, 1, ""},
	{"another protocol version, status without text",
	 "SPAMD/1.5 0" CRLF "Content-length: 0" CRLF "Spam: False ; 1.0 / 5.0" CRLF CRLF, 0, NULL,
	 1.0, 5.0, 0, ""},

	/* bad status */
	BAD("status 76 (spamd's protocol error)",
	 "SPAMD/1.0 76 Bad header line: (Content-Length mismatch: Expected 10 bytes, got 9 bytes)" CRLF, 0,
	 "spamd: status 76: Bad header line: (Content-Length mismatch: Expected 10 bytes, got 9 bytes)"),
	BAD("status 69 (service unavailable)",
	 "SPAMD/1.0 69 Service Unavailable: Error fetching user preferences via SQL" CRLF, 0,
	 "spamd: status 69: Service Unavailable: Error fetching user preferences via SQL"),
	BAD("status 79 (timeout), LF only",
	 "SPAMD/1.0 79 Timeout: (300 second timeout while trying to SYMBOLS)\n", 0,
	 "spamd: status 79: Timeout: (300 second timeout while trying to SYMBOLS)"),
	BAD("status with control bytes in its text",
	 "SPAMD/1.0 74 I/O\x1b[31m error\t!" CRLF, 0, "spamd: status 74: I/O?[31m error?!"),
	BAD("not SPAMD", "HTTP/1.1 200 OK" CRLF "Content-length: 0" CRLF CRLF, 0,
	 "spamd: not a spamd reply: \"HTTP/1.1 200 OK\""),
	BAD("SPAMC instead of SPAMD", "SPAMC/1.1 0 EX_OK" CRLF, 0, "spamd: not a spamd reply: \"SPAMC/1.1 0 EX_OK\""),
	BAD("wrong word, no line end yet", "220 smtp.example ESMTP", 0,
	 "spamd: not a spamd reply: \"220 smtp.example ESMTP\""),
	BAD("no code", "SPAMD/1.1 EX_OK" CRLF, 0, "spamd: bad status line \"SPAMD/1.1 EX_OK\""),
	BAD("no version", "SPAMD/ 0 EX_OK" CRLF, 0, "spamd: bad status line \"SPAMD/ 0 EX_OK\""),
	BAD("version without minor", "SPAMD/1 0 EX_OK" CRLF, 0, "spamd: bad status line \"SPAMD/1 0 EX_OK\""),
	BAD("code of four digits", "SPAMD/1.1 0000 EX_OK" CRLF, 0, "spamd: bad status line \"SPAMD/1.1 0000 EX_OK\""),
	BAD("code and text run together", "SPAMD/1.1 0EX_OK" CRLF, 0, "spamd: bad status line \"SPAMD/1.1 0EX_OK\""),

	/* bad headers */
	BAD("missing Spam header", OK_HEAD "Content-length: 1" CRLF CRLF "A", 0, "spamd: no Spam header"),
	BAD("missing Content-length",
	 OK_HEAD "Spam: True ; 15.0 / 5.0" CRLF CRLF "GTUBE", 0, "spamd: no Content-length header"),
	BAD("bad Content-length",
	 OK_HEAD "Content-length: 5x" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF "GTUBE", 0,
	 "spamd: bad Content-length \"5x\""),
	BAD("negative Content-length",
	 OK_HEAD "Content-length: -1" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF, 0, "spamd: bad Content-length \"-1\""),
	BAD("empty Content-length",
	 OK_HEAD "Content-length:" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF, 0, "spamd: bad Content-length \"\""),
	BAD("Content-length over the limit",
	 OK_HEAD "Content-length: 99999999" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF, 0,
	 "spamd: Content-length 99999999 over the limit of 65536 bytes"),
	BAD("Content-length of ten digits",
	 OK_HEAD "Content-length: 0000000001" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF "A", 0,
	 "spamd: bad Content-length \"0000000001\""),
	BAD("Content-length smaller than the body",
	 OK_HEAD "Content-length: 5" CRLF "Spam: True ; 15.0 / 5.0" CRLF CRLF "GTUBE,X", 0,
	 "spamd: 7 bytes of body, Content-length says 5"),
	BAD("Content-length larger than the body (truncated)",
	 OK_HEAD "Content-length: 28" CRLF "Spam: True ; 1000.0 / 5.0" CRLF CRLF "GTUBE,MISS", 0,
	 "spamd: reply truncated: 10 of 28 bytes of body"),
	BAD("two Content-length headers",
	 OK_HEAD "Content-length: 1" CRLF "Content-length: 1" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A", 0,
	 "spamd: two Content-length headers"),
	BAD("two Spam headers",
	 OK_HEAD "Content-length: 1" CRLF "Spam: True ; 1.0 / 5.0" CRLF "Spam: False ; 1.0 / 5.0" CRLF CRLF "A", 0,
	 "spamd: two Spam headers"),
	BAD("header line without a colon",
	 OK_HEAD "Content-length 1" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A", 0,
	 "spamd: bad header line \"Content-length 1\""),
	BAD("header line without a name",
	 OK_HEAD ": x" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A", 0, "spamd: bad header line \": x\""),

	/* bad Spam header */
	BAD("bad verdict", OK_HEAD "Content-length: 0" CRLF "Spam: Maybe ; 1.0 / 5.0" CRLF CRLF, 0,
	 "spamd: bad Spam header \"Maybe ; 1.0 / 5.0\""),
	BAD("no semicolon", OK_HEAD "Content-length: 0" CRLF "Spam: True 1.0 / 5.0" CRLF CRLF, 0,
	 "spamd: bad Spam header \"True 1.0 / 5.0\""),
	BAD("no slash", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1.0 5.0" CRLF CRLF, 0,
	 "spamd: bad Spam header \"True ; 1.0 5.0\""),
	BAD("no threshold", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1.0 /" CRLF CRLF, 0,
	 "spamd: bad Spam header \"True ; 1.0 /\""),
	BAD("empty Spam header", OK_HEAD "Content-length: 0" CRLF "Spam:" CRLF CRLF, 0, "spamd: bad Spam header \"\""),
	BAD("trailing words", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1.0 / 5.0 extra" CRLF CRLF, 0,
	 "spamd: bad Spam header \"True ; 1.0 / 5.0 extra\""),
	BAD("bad score: letters", OK_HEAD "Content-length: 0" CRLF "Spam: True ; abc / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"abc\" in Spam header"),
	BAD("bad score: exponent", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1e3 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"1e3\" in Spam header"),
	BAD("bad score: nan", OK_HEAD "Content-length: 0" CRLF "Spam: True ; nan / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"nan\" in Spam header"),
	BAD("bad score: inf", OK_HEAD "Content-length: 0" CRLF "Spam: True ; -inf / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"-inf\" in Spam header"),
	BAD("bad score: hex", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 0x10 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"0x10\" in Spam header"),
	BAD("bad score: trailing garbage", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 15.0x / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"15.0x\" in Spam header"),
	BAD("bad score: decimal comma", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 15,0 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"15,0\" in Spam header"),
	BAD("bad score: no digits after the point", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 15. / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"15.\" in Spam header"),
	BAD("bad score: no digits before the point", OK_HEAD "Content-length: 0" CRLF "Spam: True ; .5 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \".5\" in Spam header"),
	BAD("bad score: two signs", OK_HEAD "Content-length: 0" CRLF "Spam: True ; --1 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"--1\" in Spam header"),
	BAD("bad score: out of range (seven digits)", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1000000.0 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"1000000.0\" in Spam header"),
	BAD("bad score: seven decimals", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1.0000001 / 5.0" CRLF CRLF, 0,
	 "spamd: bad score \"1.0000001\" in Spam header"),
	BAD("bad threshold", OK_HEAD "Content-length: 0" CRLF "Spam: True ; 1.0 / 5.0.0" CRLF CRLF, 0,
	 "spamd: bad threshold \"5.0.0\" in Spam header"),

	/* bad body */
	BAD("empty rule name", OK_HEAD "Content-length: 4" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A,,B", 0,
	 "spamd: bad rule list \"A,,B\""),
	BAD("trailing comma", OK_HEAD "Content-length: 2" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A,", 0,
	 "spamd: bad rule list \"A,\""),
	BAD("space in the list", OK_HEAD "Content-length: 4" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A, B", 0,
	 "spamd: bad rule list \"A, B\""),
	BAD("control byte in a name", OK_HEAD "Content-length: 3" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A\rB", 0,
	 "spamd: bad rule list \"A?B\""),
	BAD("8-bit byte in a name", OK_HEAD "Content-length: 3" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A\xc3\xa4", 0,
	 "spamd: bad rule list \"A??\""),

	/* truncated, garbage */
	BAD("empty", "", 0, "spamd: empty reply"),
	BAD("truncated in the status line", "SPAMD/1.1 0 EX", 0, "spamd: reply truncated in the status line"),
	BAD("truncated after the status line", OK_HEAD, 0, "spamd: reply truncated in the headers"),
	BAD("truncated in the headers", OK_HEAD "Content-length: 5" CRLF "Spam: Tr", 0,
	 "spamd: reply truncated in the headers"),
	BAD("truncated before the empty line", OK_HEAD "Content-length: 5" CRLF "Spam: True ; 1.0 / 5.0" CRLF, 0,
	 "spamd: reply truncated in the headers"),
	BAD("NUL byte in the body",
	 OK_HEAD "Content-length: 3" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A\0B",
	 sizeof(OK_HEAD "Content-length: 3" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A\0B") - 1,
	 "spamd: NUL byte in reply"),
	BAD("NUL byte in the status line", "SPAMD/1.1\0 0 EX_OK" CRLF, 20, "spamd: NUL byte in reply"),
	BAD("binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, "spamd: NUL byte in reply"),
	BAD("text garbage", "GET / HTTP/1.0" CRLF CRLF, 0, "spamd: not a spamd reply: \"GET / HTTP/1.0\""),
};

/* check_parse_case - one table row */
static void
check_parse_case(const struct parse_case *c)
{
	struct spamd_result res;
	char	err[ERRLEN];
	size_t	len = c->len ? c->len : strlen(c->reply);
	int	rc;

	memset(&res, 0x5a, sizeof(res));
	err[0] = '\0';
	rc = spamd_parse(c->reply, len, &res, err, sizeof(err));
	if (c->err == NULL) {
		ck_assert_msg(rc == 0, "%s: failed: %s", c->name, err);
		ck_assert_msg(res.score == c->score, "%s: score %g, want %g", c->name, res.score, c->score);
		ck_assert_msg(!signbit(res.score) == !signbit(c->score), "%s: sign of %g", c->name, res.score);
		ck_assert_msg(res.threshold == c->threshold, "%s: threshold %g, want %g", c->name,
			      res.threshold, c->threshold);
		ck_assert_msg(res.is_spam == c->is_spam, "%s: is_spam %d", c->name, res.is_spam);
		ck_assert_msg(strcmp(res.tests, c->tests) == 0, "%s: tests \"%s\", want \"%s\"", c->name,
			      res.tests, c->tests);
		ck_assert_msg(res.tests_cut == 0, "%s: tests_cut", c->name);
	} else {
		ck_assert_msg(rc == -1, "%s: parsed, expected: %s", c->name, c->err);
		ck_assert_msg(strcmp(err, c->err) == 0, "%s:\n got  [%s]\n want [%s]", c->name, err, c->err);
		/* never a partial result */
		for (size_t i = 0; i < sizeof(res); i++)
			ck_assert_msg(((unsigned char *) &res)[i] == 0x5a, "%s: result touched", c->name);
	}
}

START_TEST(test_parse_table)
{
	check_parse_case(&parse_cases[_i]);
}
END_TEST

/* reply_with - a good reply around body (Content-length computed) into buf */
static size_t
reply_with(char *buf, size_t cap, const char *spam, const char *body)
{
	int	n = snprintf(buf, cap, OK_HEAD "Content-length: %zu" CRLF "Spam: %s" CRLF CRLF "%s",
			     strlen(body), spam, body);

	ck_assert(n > 0 && (size_t) n < cap);
	return (size_t) n;
}

START_TEST(test_parse_many_symbols)
{
	struct spamd_result res;
	char	body[2048] = "";
	char	reply[4096];
	char	err[ERRLEN];
	size_t	len;

	/* 60 names, 599 bytes: all kept */
	for (int i = 0; i < 60; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), "%sRULE_%04d", i ? "," : "", i);
	len = reply_with(reply, sizeof(reply), "True ; 33.3 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.tests, body);
	ck_assert_int_eq(res.tests_cut, 0);
	ck_assert(res.score == 33.3);
}
END_TEST

START_TEST(test_parse_symbols_cut_at_a_name)
{
	struct spamd_result res;
	char	body[4096] = "";
	char	want[SPAMD_TESTS_MAX] = "";
	char	reply[8192];
	char	err[ERRLEN];
	size_t	len;

	/* 200 names of 9 bytes: 102 fit in 1023 bytes (1019), the 103rd would not (1029) */
	for (int i = 0; i < 200; i++) {
		snprintf(body + strlen(body), sizeof(body) - strlen(body), "%sRULE_%04d", i ? "," : "", i);
		if (i == 101)
			memcpy(want, body, strlen(body) + 1);
	}
	ck_assert_uint_eq(strlen(want), 1019);
	len = reply_with(reply, sizeof(reply), "True ; 50.0 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.tests, want);
	ck_assert_int_eq(res.tests_cut, 1);
	ck_assert(strlen(res.tests) < SPAMD_TESTS_MAX);
	ck_assert_str_eq(res.tests + strlen(res.tests) - 9, "RULE_0101");	/* a whole name */

	/* exactly 1023 bytes: all kept, not cut */
	body[0] = '\0';
	for (int i = 0; i < 101; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), "%sRULE_%04d", i ? "," : "", i);
	strcat(body, ",THIRTEEN_BYTE");				/* 1009 + 1 + 13 */
	ck_assert_uint_eq(strlen(body), SPAMD_TESTS_MAX - 1);
	len = reply_with(reply, sizeof(reply), "True ; 50.0 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.tests, body);
	ck_assert_int_eq(res.tests_cut, 0);

	/* one byte more: the last name goes, whole */
	strcat(body, "E");
	len = reply_with(reply, sizeof(reply), "True ; 50.0 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(res.tests), 1009);
	ck_assert_str_eq(res.tests + 1000, "RULE_0100");
	ck_assert_int_eq(res.tests_cut, 1);

	/* a name after the cut is still checked */
	strcat(body, ",BAD-NAME");
	len = reply_with(reply, sizeof(reply), "True ; 50.0 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: bad rule list \"RULE_0000,RULE_0001,RULE_0002,RULE_0003,RULE_0004,RULE_0005,RULE_0006,RULE_0007,\"");
}
END_TEST

START_TEST(test_parse_rule_name_limit)
{
	struct spamd_result res;
	char	body[SPAMD_RULE_MAX + 2];
	char	reply[1024];
	char	err[ERRLEN];
	size_t	len;

	memset(body, 'R', SPAMD_RULE_MAX);
	body[SPAMD_RULE_MAX] = '\0';
	len = reply_with(reply, sizeof(reply), "True ; 5.0 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(res.tests), SPAMD_RULE_MAX);
	strcat(body, "R");
	len = reply_with(reply, sizeof(reply), "True ; 5.0 / 5.0", body);
	ck_assert_int_eq(spamd_parse(reply, len, &res, err, sizeof(err)), -1);
	ck_assert_uint_eq(strncmp(err, "spamd: bad rule list \"RRRR", 26), 0);
}
END_TEST

START_TEST(test_parse_huge)
{
	char   *buf = malloc(SPAMD_REPLY_MAX + 100);
	struct spamd_result res;
	char	err[ERRLEN];
	char	want[ERRLEN];
	size_t	head;

	ck_assert_ptr_nonnull(buf);
	head = (size_t) sprintf(buf, OK_HEAD "Content-length: %d" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF,
				SPAMD_REPLY_MAX);
	memset(buf + head, 'A', SPAMD_REPLY_MAX + 100 - head);
	ck_assert_int_eq(spamd_parse(buf, SPAMD_REPLY_MAX + 100, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: reply longer than 65536 bytes");
	/* at the limit exactly: the limit is not what refuses it, the Content-length is */
	ck_assert_int_eq(spamd_parse(buf, SPAMD_REPLY_MAX, &res, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "spamd: reply truncated: %zu of 65536 bytes of body", SPAMD_REPLY_MAX - head);
	ck_assert_str_eq(err, want);
	free(buf);
}
END_TEST

START_TEST(test_parse_line_limit)
{
	char	buf[4096];
	struct spamd_result res;
	char	err[ERRLEN];
	size_t	len;
	size_t	fill;

	/* a header line of SPAMD_LINE_MAX bytes is fine, one more is not */
	len = (size_t) sprintf(buf, OK_HEAD "X-Long: ");
	fill = SPAMD_LINE_MAX - strlen("X-Long: ");
	memset(buf + len, 'a', fill);
	len += fill;
	len += (size_t) sprintf(buf + len, CRLF "Content-length: 1" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A");
	ck_assert_int_eq(spamd_parse(buf, len, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.tests, "A");

	len = (size_t) sprintf(buf, OK_HEAD "X-Long: ");
	memset(buf + len, 'a', fill + 1);
	len += fill + 1;
	len += (size_t) sprintf(buf + len, CRLF "Content-length: 1" CRLF "Spam: True ; 1.0 / 5.0" CRLF CRLF "A");
	ck_assert_int_eq(spamd_parse(buf, len, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: reply line longer than 1024 bytes");

	/* LF only: the same limit */
	len = (size_t) sprintf(buf, "SPAMD/1.1 0 EX_OK\nX-Long: ");
	memset(buf + len, 'a', fill + 1);
	len += fill + 1;
	len += (size_t) sprintf(buf + len, "\nContent-length: 1\nSpam: True ; 1.0 / 5.0\n\nA");
	ck_assert_int_eq(spamd_parse(buf, len, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: reply line longer than 1024 bytes");

	/* a status line that never ends: refused without waiting for its end */
	len = (size_t) sprintf(buf, "SPAMD/1.1 0 ");
	memset(buf + len, 'x', 2000);
	len += 2000;
	ck_assert_int_eq(spamd_parse(buf, len, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: reply line longer than 1024 bytes");
}
END_TEST

START_TEST(test_parse_header_count)
{
	char	buf[4096];
	struct spamd_result res;
	char	err[ERRLEN];
	size_t	len;

	len = (size_t) sprintf(buf, OK_HEAD "Content-length: 1" CRLF "Spam: True ; 1.0 / 5.0" CRLF);
	for (int i = 0; i < SPAMD_HEADERS_MAX - 2; i++)
		len += (size_t) sprintf(buf + len, "X-H%d: v" CRLF, i);
	memcpy(buf + len, CRLF "A", 3);
	ck_assert_int_eq(spamd_parse(buf, len + 3, &res, err, sizeof(err)), 0);
	len += (size_t) sprintf(buf + len, "X-One-Too-Many: v" CRLF CRLF "A");
	ck_assert_int_eq(spamd_parse(buf, len, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: more than 32 header lines");
}
END_TEST

START_TEST(test_parse_every_prefix)
{
	static const char good[] = OK_HEAD "Content-length: 11" CRLF "Spam: True ; 7.5 / 5.0" CRLF CRLF "RULE1,RULE2";
	struct spamd_result res;
	char	err[ERRLEN];

	/* every cut of a good reply is an error, never a result */
	for (size_t n = 0; n < sizeof(good) - 1; n++)
		ck_assert_msg(spamd_parse(good, n, &res, err, sizeof(err)) == -1, "prefix of %zu bytes parsed", n);
	ck_assert_int_eq(spamd_parse(good, sizeof(good) - 1, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.tests, "RULE1,RULE2");
	/* NULL buffer, small error buffer */
	ck_assert_int_eq(spamd_parse(NULL, 5, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: empty reply");
	ck_assert_int_eq(spamd_parse("", 0, &res, err, 8), -1);
	ck_assert_str_eq(err, "spamd: ");
}
END_TEST

/* --- fake spamd servers ----------------------------------------------------- */

enum fake_mode {
	FAKE_GOOD,			/* read the request, answer `reply`, close; request to the pipe */
	FAKE_ECHO,			/* answer with one rule, LEN_<message length>, each connection */
	FAKE_GARBAGE,			/* read the request, answer `reply`, close (no pipe) */
	FAKE_HANG,			/* read the request, never answer */
	FAKE_NOCLOSE,			/* answer `reply`, keep the connection open */
	FAKE_TRICKLE,			/* answer `reply` a byte at a time */
	FAKE_EARLY_STATUS,		/* after the first request line: status 76, then drain */
	FAKE_CLOSE_AT_ONCE		/* close at accept, reading nothing */
};

struct fake {
	pid_t	pid;
	int	pipe_rd;		/* the request the server got (FAKE_GOOD) */
	char	dir[64];		/* unix: a temp dir holding the socket */
	struct endpoint ep;
};

/* fake_read_request - read a request: head, then Content-length bytes (or EOF) */
static size_t
fake_read_request(int fd, char *buf, size_t cap, int first_line_only)
{
	size_t	got = 0;
	size_t	want = 0;			/* 0: head not seen yet */
	ssize_t	n;

	while (got < cap && (want == 0 || got < want)) {
		if ((n = read(fd, buf + got, cap - got)) <= 0)
			break;
		got += (size_t) n;
		if (first_line_only && memchr(buf, '\n', got))
			break;
		if (want == 0) {
			char   *end = memmem(buf, got, "\r\n\r\n", 4);
			char   *cl = memmem(buf, got, "Content-length: ", 16);

			if (end != NULL)
				want = (size_t) (end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
		}
	}
	return got;
}

/* fake_write_all - write it all, or give up */
static void
fake_write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0 && (w = write(fd, p, n)) > 0) {
		p += w;
		n -= (size_t) w;
	}
}

/* fake_serve - the child: `conns` connections, one at a time, then exit */
static void __attribute__((noreturn))
fake_serve(int lfd, int pipe_wr, enum fake_mode mode, const char *reply, int conns)
{
	char   *req = malloc(REQUEST_MAX);
	char	out[256];
	size_t	len;
	int	fd;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < conns && req != NULL; i++) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			break;
		switch (mode) {
		case FAKE_CLOSE_AT_ONCE:
			break;
		case FAKE_EARLY_STATUS:
			fake_read_request(fd, req, REQUEST_MAX, 1);
			fake_write_all(fd, reply, strlen(reply));
			while (read(fd, req, REQUEST_MAX) > 0)
				;
			break;
		case FAKE_HANG:
			fake_read_request(fd, req, REQUEST_MAX, 0);
			sleep(30);
			break;
		case FAKE_ECHO:
			len = fake_read_request(fd, req, REQUEST_MAX, 0);
			{
				char   *end = memmem(req, len, "\r\n\r\n", 4);
				size_t	body = end ? len - (size_t) (end + 4 - req) : 0;
				char	rule[32];

				snprintf(rule, sizeof(rule), "LEN_%zu", body);
				snprintf(out, sizeof(out), OK_HEAD "Content-length: %zu" CRLF
					 "Spam: False ; %zu.5 / 5.0" CRLF CRLF "%s", strlen(rule), body % 1000, rule);
				fake_write_all(fd, out, strlen(out));
			}
			break;
		case FAKE_TRICKLE:
			fake_read_request(fd, req, REQUEST_MAX, 0);
			for (size_t k = 0; reply[k]; k++) {
				fake_write_all(fd, reply + k, 1);
				usleep(2000);
			}
			break;
		case FAKE_NOCLOSE:
			fake_read_request(fd, req, REQUEST_MAX, 0);
			fake_write_all(fd, reply, strlen(reply));
			sleep(30);
			break;
		case FAKE_GOOD:
		case FAKE_GARBAGE:
			len = fake_read_request(fd, req, REQUEST_MAX, 0);
			fake_write_all(fd, reply, strlen(reply));
			close(fd);
			fd = -1;
			if (mode == FAKE_GOOD)
				fake_write_all(pipe_wr, req, len);
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	_exit(0);
}

/* fake_start - listen (127.0.0.1 port 0, or a unix socket), fork the server */
static void
fake_start(struct fake *f, enum fake_mode mode, const char *reply, int use_unix, int conns)
{
	int	lfd;
	int	pfd[2];

	memset(f, 0, sizeof(*f));
	if (use_unix) {
		struct sockaddr_un sa;

		strcpy(f->dir, "/tmp/test_spamd.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(f->dir));
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/spamd.sock", f->dir);
		ck_assert_int_ge(lfd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
		ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		f->ep.kind = ENDPOINT_UNIX;
		snprintf(f->ep.path, sizeof(f->ep.path), "%s", sa.sun_path);
	} else {
		struct sockaddr_in sa;
		socklen_t salen = sizeof(sa);

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = 0;
		ck_assert_int_ge(lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
		ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(lfd, (struct sockaddr *) &sa, &salen), 0);
		f->ep.kind = ENDPOINT_INET;
		strcpy(f->ep.host, "127.0.0.1");
		f->ep.port = ntohs(sa.sin_port);
	}
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_ge(f->pid = fork(), 0);
	if (f->pid == 0) {
		close(pfd[0]);
		fake_serve(lfd, pfd[1], mode, reply, conns);
	}
	close(pfd[1]);
	close(lfd);
	f->pipe_rd = pfd[0];
}

/* fake_request - what the server got (FAKE_GOOD), read from its pipe to EOF */
static size_t
fake_request(struct fake *f, char *buf, size_t cap)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < cap && (n = read(f->pipe_rd, buf + got, cap - got)) > 0)
		got += (size_t) n;
	return got;
}

/* fake_stop - kill and reap the server, remove its files */
static void
fake_stop(struct fake *f)
{
	char	path[sizeof(f->dir) + 16];

	kill(f->pid, SIGKILL);
	ck_assert_int_eq(waitpid(f->pid, NULL, 0), f->pid);
	close(f->pipe_rd);
	if (f->dir[0]) {
		snprintf(path, sizeof(path), "%s/spamd.sock", f->dir);
		unlink(path);
		rmdir(f->dir);
	}
}

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* where - "spamd inet:127.0.0.1:PORT: " or "spamd unix:PATH: " for f */
static const char *
where(const struct fake *f, char *buf, size_t len)
{
	if (f->ep.kind == ENDPOINT_UNIX)
		snprintf(buf, len, "spamd unix:%s: ", f->ep.path);
	else
		snprintf(buf, len, "spamd inet:127.0.0.1:%u: ", f->ep.port);
	return buf;
}

static const char GOOD_REPLY[] =
	OK_HEAD "Content-length: 28" CRLF "Spam: True ; 1000.0 / 5.0" CRLF CRLF "GTUBE,MISSING_DATE,NO_RELAYS";
static const char MESSAGE[] =
	"From: a@example.org\r\nTo: b@example.com\r\nSubject: test\r\n\r\n"
	"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";

/* check_good - a good server over f's socket: the result, and the request it got, byte for byte */
static void
check_good(int use_unix, const char *msg, size_t len)
{
	struct fake f;
	struct spamd_result res;
	char	err[ERRLEN];
	char	head[128];
	char   *req = malloc(REQUEST_MAX);
	size_t	n;
	int	hn;

	ck_assert_ptr_nonnull(req);
	fake_start(&f, FAKE_GOOD, GOOD_REPLY, use_unix, 1);
	ck_assert_msg(spamd_check(&f.ep, msg, len, 10000, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert(res.score == 1000.0 && res.threshold == 5.0 && res.is_spam == 1);
	ck_assert_str_eq(res.tests, "GTUBE,MISSING_DATE,NO_RELAYS");

	n = fake_request(&f, req, REQUEST_MAX);
	hn = snprintf(head, sizeof(head), "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n\r\n", len);
	ck_assert_uint_eq(n, (size_t) hn + len);
	ck_assert_msg(memcmp(req, head, (size_t) hn) == 0, "request head: %.*s", hn, req);
	ck_assert_msg(memcmp(req + hn, msg, len) == 0, "the message bytes differ");
	fake_stop(&f);
	free(req);
}

START_TEST(test_check_good)
{
	check_good(0, MESSAGE, strlen(MESSAGE));
}
END_TEST

START_TEST(test_check_unix)
{
	check_good(1, MESSAGE, strlen(MESSAGE));
}
END_TEST

START_TEST(test_check_big_message)
{
	char   *msg = malloc(BIG_MESSAGE);

	ck_assert_ptr_nonnull(msg);
	for (size_t i = 0; i < BIG_MESSAGE; i++)
		msg[i] = (i % 64 == 63) ? '\n' : (char) ('a' + i % 26);
	msg[100] = '\0';				/* bytes, not a string */
	check_good(0, msg, BIG_MESSAGE);
	free(msg);
}
END_TEST

START_TEST(test_check_empty_message)
{
	check_good(0, "", 0);
}
END_TEST

/* check_fails - a server in mode answers reply; spamd_check fails with WHERE + want */
static void
check_fails(enum fake_mode mode, const char *reply, const char *msg, size_t len, uint64_t timeout,
	    const char *want, long long *elapsed)
{
	struct fake f;
	struct spamd_result res;
	char	err[ERRLEN];
	char	full[ERRLEN];
	char	w[300];
	long long t0;

	fake_start(&f, mode, reply, 0, 1);
	memset(&res, 0x5a, sizeof(res));
	t0 = now_ms();
	ck_assert_int_eq(spamd_check(&f.ep, msg, len, timeout, &res, err, sizeof(err)), -1);
	if (elapsed)
		*elapsed = now_ms() - t0;
	snprintf(full, sizeof(full), "%s%s", where(&f, w, sizeof(w)), want);
	ck_assert_msg(strcmp(err, full) == 0, "\n got  [%s]\n want [%s]", err, full);
	for (size_t i = 0; i < sizeof(res); i++)
		ck_assert_msg(((unsigned char *) &res)[i] == 0x5a, "result touched");
	fake_stop(&f);
}

START_TEST(test_check_garbage)
{
	check_fails(FAKE_GARBAGE, "HTTP/1.0 400 Bad Request\r\n\r\n", MESSAGE, strlen(MESSAGE), 5000,
		    "not a spamd reply: \"HTTP/1.0 400 Bad Request\"", NULL);
	check_fails(FAKE_GARBAGE, "\x16\x03\x01 binary", MESSAGE, strlen(MESSAGE), 5000,
		    "not a spamd reply: \"??? binary\"", NULL);
	check_fails(FAKE_GARBAGE, "", MESSAGE, strlen(MESSAGE), 5000, "empty reply", NULL);
}
END_TEST

START_TEST(test_check_status)
{
	check_fails(FAKE_GARBAGE, "SPAMD/1.0 76 Bad header line: (EOF during headers)\r\n", MESSAGE,
		    strlen(MESSAGE), 5000, "status 76: Bad header line: (EOF during headers)", NULL);
}
END_TEST

START_TEST(test_check_hang)
{
	long long elapsed;

	check_fails(FAKE_HANG, "", MESSAGE, strlen(MESSAGE), TIMEOUT_MS,
		    "timeout after 500 ms waiting for the reply", &elapsed);
	ck_assert_msg(elapsed >= TIMEOUT_MS - 10 && elapsed < TIMEOUT_MS + MARGIN_MS,
		      "returned after %lld ms", elapsed);
}
END_TEST

START_TEST(test_check_hang_mid_reply)
{
	long long elapsed;

	/* a partial reply, then nothing: the same deadline, counted from the start */
	check_fails(FAKE_NOCLOSE, OK_HEAD "Content-length: 28" CRLF, MESSAGE, strlen(MESSAGE), TIMEOUT_MS,
		    "timeout after 500 ms reading the reply", &elapsed);
	ck_assert_msg(elapsed >= TIMEOUT_MS - 10 && elapsed < TIMEOUT_MS + MARGIN_MS,
		      "returned after %lld ms", elapsed);
}
END_TEST

START_TEST(test_check_hang_while_sending)
{
	char   *msg = malloc(HUGE_MESSAGE);
	long long elapsed;

	/* a server that reads the first line only, then stalls: the send must not block */
	ck_assert_ptr_nonnull(msg);
	memset(msg, 'x', HUGE_MESSAGE);
	{
		struct fake f;
		struct spamd_result res;
		char	err[ERRLEN];
		char	w[300];
		char	want[ERRLEN];
		long long t0 = now_ms();

		fake_start(&f, FAKE_EARLY_STATUS, "", 0, 1);	/* sends nothing, then drains... */
		kill(f.pid, SIGSTOP);				/* ...but stopped: drains nothing */
		ck_assert_int_eq(spamd_check(&f.ep, msg, HUGE_MESSAGE, TIMEOUT_MS, &res, err, sizeof(err)), -1);
		elapsed = now_ms() - t0;
		snprintf(want, sizeof(want), "%stimeout after 500 ms sending the message", where(&f, w, sizeof(w)));
		ck_assert_str_eq(err, want);
		ck_assert_msg(elapsed >= TIMEOUT_MS - 10 && elapsed < TIMEOUT_MS + MARGIN_MS,
			      "returned after %lld ms", elapsed);
		kill(f.pid, SIGCONT);
		fake_stop(&f);
	}
	free(msg);
}
END_TEST

START_TEST(test_check_close_mid_reply)
{
	check_fails(FAKE_GARBAGE, OK_HEAD "Content-length: 28" CRLF "Spam: True ; 1000.0 / 5.0" CRLF CRLF "GTUBE,MI",
		    MESSAGE, strlen(MESSAGE), 5000, "reply truncated: 8 of 28 bytes of body", NULL);
	check_fails(FAKE_GARBAGE, OK_HEAD "Content-len", MESSAGE, strlen(MESSAGE), 5000,
		    "reply truncated in the headers", NULL);
	check_fails(FAKE_GARBAGE, "SPAMD/1.1 0", MESSAGE, strlen(MESSAGE), 5000,
		    "reply truncated in the status line", NULL);
}
END_TEST

START_TEST(test_check_early_status)
{
	char   *msg = malloc(BIG_MESSAGE);

	/* spamd refuses after the first line while 3 MB are still going out */
	ck_assert_ptr_nonnull(msg);
	memset(msg, 'x', BIG_MESSAGE);
	check_fails(FAKE_EARLY_STATUS, "SPAMD/1.0 76 Bad header line: (header not in 'Name: value' format)\r\n",
		    msg, BIG_MESSAGE, 10000, "status 76: Bad header line: (header not in 'Name: value' format)", NULL);
	free(msg);
}
END_TEST

START_TEST(test_check_peer_closes_at_once)
{
	struct fake f;
	struct spamd_result res;
	char   *msg = malloc(BIG_MESSAGE);
	char	err[ERRLEN];
	char	w[300];

	/* no SIGPIPE (the test runs with SIGPIPE at its default): an error */
	ck_assert_ptr_nonnull(msg);
	memset(msg, 'x', BIG_MESSAGE);
	ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	fake_start(&f, FAKE_CLOSE_AT_ONCE, "", 0, 1);
	ck_assert_int_eq(spamd_check(&f.ep, msg, BIG_MESSAGE, 5000, &res, err, sizeof(err)), -1);
	where(&f, w, sizeof(w));
	ck_assert_msg(strncmp(err, w, strlen(w)) == 0, "%s", err);
	ck_assert_msg(strcmp(err + strlen(w), "empty reply") == 0
		      || strncmp(err + strlen(w), "sending the message: ", 21) == 0
		      || strncmp(err + strlen(w), "reading the reply: ", 19) == 0, "%s", err);
	fake_stop(&f);
	free(msg);
}
END_TEST

START_TEST(test_check_trickle)
{
	struct fake f;
	struct spamd_result res;
	char	err[ERRLEN];

	fake_start(&f, FAKE_TRICKLE, GOOD_REPLY, 0, 1);
	ck_assert_msg(spamd_check(&f.ep, MESSAGE, strlen(MESSAGE), 10000, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(res.tests, "GTUBE,MISSING_DATE,NO_RELAYS");
	fake_stop(&f);
}
END_TEST

START_TEST(test_check_reply_without_close)
{
	struct fake f;
	struct spamd_result res;
	char	err[ERRLEN];
	long long t0 = now_ms();

	/* a whole reply is enough: no waiting for the close */
	fake_start(&f, FAKE_NOCLOSE, GOOD_REPLY, 0, 1);
	ck_assert_msg(spamd_check(&f.ep, MESSAGE, strlen(MESSAGE), 5000, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(now_ms() - t0 < 1000, "took %lld ms", now_ms() - t0);
	ck_assert_str_eq(res.tests, "GTUBE,MISSING_DATE,NO_RELAYS");
	fake_stop(&f);
}
END_TEST

START_TEST(test_check_refused)
{
	struct endpoint ep;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct spamd_result res;
	char	err[ERRLEN];
	char	want[ERRLEN];
	int	fd;

	/* a port that was just free: bound, read back, closed without listening */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &salen), 0);
	memset(&ep, 0, sizeof(ep));
	ep.kind = ENDPOINT_INET;
	strcpy(ep.host, "127.0.0.1");
	ep.port = ntohs(sa.sin_port);
	ck_assert_int_eq(spamd_check(&ep, MESSAGE, strlen(MESSAGE), 2000, &res, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "spamd inet:127.0.0.1:%u: connect: Connection refused", ep.port);
	ck_assert_str_eq(err, want);
	close(fd);

	/* no socket file */
	memset(&ep, 0, sizeof(ep));
	ep.kind = ENDPOINT_UNIX;
	strcpy(ep.path, "/nonexistent/spamd.sock");
	ck_assert_int_eq(spamd_check(&ep, MESSAGE, strlen(MESSAGE), 2000, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd unix:/nonexistent/spamd.sock: connect: No such file or directory");

	/* no socket configured */
	memset(&ep, 0, sizeof(ep));
	ck_assert_int_eq(spamd_check(&ep, MESSAGE, strlen(MESSAGE), 2000, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "spamd: no socket configured");
}
END_TEST

START_TEST(test_check_name_resolves)
{
	struct fake f;
	struct spamd_result res;
	char	err[ERRLEN];

	/* "localhost" goes through getaddrinfo; each of its addresses is tried */
	fake_start(&f, FAKE_GOOD, GOOD_REPLY, 0, 1);
	strcpy(f.ep.host, "localhost");
	ck_assert_msg(spamd_check(&f.ep, MESSAGE, strlen(MESSAGE), 5000, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(res.tests, "GTUBE,MISSING_DATE,NO_RELAYS");
	fake_stop(&f);
}
END_TEST

#define THREADS		4
#define CALLS_EACH	5

struct thread_arg {
	const struct endpoint *ep;
	int	id;
	int	failures;
	char	err[ERRLEN];
};

/* thread_main - CALLS_EACH checks of messages of a length of its own */
static void *
thread_main(void *p)
{
	struct thread_arg *a = p;
	char	msg[512];
	char	want[32];
	struct spamd_result res;

	for (int k = 0; k < CALLS_EACH; k++) {
		size_t	len = (size_t) (100 + a->id * 50 + k);

		memset(msg, 'm', len);
		snprintf(want, sizeof(want), "LEN_%zu", len);
		if (spamd_check(a->ep, msg, len, 10000, &res, a->err, sizeof(a->err)) != 0
		    || strcmp(res.tests, want) != 0 || res.score != (double) len + 0.5)
			a->failures++;
	}
	return NULL;
}

START_TEST(test_check_threads)
{
	struct fake f;
	struct thread_arg args[THREADS];
	pthread_t th[THREADS];

	/* calls at once from several threads each get their own answer */
	fake_start(&f, FAKE_ECHO, "", 0, THREADS * CALLS_EACH);
	for (int i = 0; i < THREADS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].ep = &f.ep;
		args[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(args[i].failures == 0, "thread %d: %d failures, last: %s", i, args[i].failures,
			      args[i].err);
	}
	fake_stop(&f);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("spamd");
	TCase  *tp = tcase_create("parse");
	TCase  *tc = tcase_create("check");
	SRunner *sr;
	int	failed;

	tcase_add_loop_test(tp, test_parse_table, 0, (int) (sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_test(tp, test_parse_many_symbols);
	tcase_add_test(tp, test_parse_symbols_cut_at_a_name);
	tcase_add_test(tp, test_parse_rule_name_limit);
	tcase_add_test(tp, test_parse_huge);
	tcase_add_test(tp, test_parse_line_limit);
	tcase_add_test(tp, test_parse_header_count);
	tcase_add_test(tp, test_parse_every_prefix);
	suite_add_tcase(s, tp);

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check_good);
	tcase_add_test(tc, test_check_unix);
	tcase_add_test(tc, test_check_big_message);
	tcase_add_test(tc, test_check_empty_message);
	tcase_add_test(tc, test_check_garbage);
	tcase_add_test(tc, test_check_status);
	tcase_add_test(tc, test_check_hang);
	tcase_add_test(tc, test_check_hang_mid_reply);
	tcase_add_test(tc, test_check_hang_while_sending);
	tcase_add_test(tc, test_check_close_mid_reply);
	tcase_add_test(tc, test_check_early_status);
	tcase_add_test(tc, test_check_peer_closes_at_once);
	tcase_add_test(tc, test_check_trickle);
	tcase_add_test(tc, test_check_reply_without_close);
	tcase_add_test(tc, test_check_refused);
	tcase_add_test(tc, test_check_name_resolves);
	tcase_add_test(tc, test_check_threads);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
