/*
 * test_spf.c - milter/spf.c's pure parts: the Authentication-Results
 * value (plain and quoted property values, bounds) and the parser that
 * turns a DNS answer message into libspf2's record set (every type it
 * serves, CNAME chains, NXDOMAIN/NODATA/SERVFAIL, TXT strings joined,
 * NUL bytes, truncated and malformed messages). No DNS, no sockets.
 */
#include "config.h"

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "spf.h"

/* --- Authentication-Results -------------------------------------------------------- */

START_TEST(test_result_names)
{
	ck_assert_str_eq(spf_result_name(SPF_PASS), "pass");
	ck_assert_str_eq(spf_result_name(SPF_FAIL), "fail");
	ck_assert_str_eq(spf_result_name(SPF_SOFTFAIL), "softfail");
	ck_assert_str_eq(spf_result_name(SPF_NEUTRAL), "neutral");
	ck_assert_str_eq(spf_result_name(SPF_NONE), "none");
	ck_assert_str_eq(spf_result_name(SPF_TEMPERROR), "temperror");
	ck_assert_str_eq(spf_result_name(SPF_PERMERROR), "permerror");
	ck_assert_str_eq(spf_result_name((enum spf_result) 99), "permerror");
}
END_TEST

static const struct {
	const char *sender, *helo, *want;
} ar_cases[] = {
	{"alice@example.org", "mail.example.org", "mx.test; spf=pass smtp.mailfrom=alice@example.org"},
	{"", "mail.example.org", "mx.test; spf=pass smtp.helo=mail.example.org"},
	{"", "", "mx.test; spf=pass"},
	{"a.b+c@example.org", "h", "mx.test; spf=pass smtp.mailfrom=a.b+c@example.org"},
	{"\"a b\"@example.org", "h", "mx.test; spf=pass smtp.mailfrom=\"\\\"a b\\\"@example.org\""},
	{"a;b@example.org", "h", "mx.test; spf=pass smtp.mailfrom=\"a;b@example.org\""},
	{"a\\b@example.org", "h", "mx.test; spf=pass smtp.mailfrom=\"a\\\\b@example.org\""},
	{"a@b@example.org", "h", "mx.test; spf=pass smtp.mailfrom=\"a@b@example.org\""},
	{"a\x01\x7f" "b@example.org", "h", "mx.test; spf=pass smtp.mailfrom=\"ab@example.org\""},
	{"", "[192.0.2.1]", "mx.test; spf=pass smtp.helo=\"[192.0.2.1]\""},
};

START_TEST(test_auth_results)
{
	char	buf[SPF_HEADER_MAX + 1];

	ck_assert_int_eq(spf_auth_results(buf, sizeof(buf), "mx.test", SPF_PASS, ar_cases[_i].sender,
					  ar_cases[_i].helo), 0);
	ck_assert_str_eq(buf, ar_cases[_i].want);
}
END_TEST

START_TEST(test_auth_results_bounds)
{
	char	buf[64], big[2000];

	/* fits exactly, one byte short */
	ck_assert_int_eq(spf_auth_results(buf, sizeof(buf), "mx.test", SPF_FAIL, "a@example.org", ""), 0);
	ck_assert_str_eq(buf, "mx.test; spf=fail smtp.mailfrom=a@example.org");
	ck_assert_int_eq(spf_auth_results(buf, strlen("mx.test; spf=fail smtp.mailfrom=a@example.org") + 1,
					  "mx.test", SPF_FAIL, "a@example.org", ""), 0);
	ck_assert_int_eq(spf_auth_results(buf, strlen("mx.test; spf=fail smtp.mailfrom=a@example.org"),
					  "mx.test", SPF_FAIL, "a@example.org", ""), -1);
	/* quoted, too long */
	memset(big, ';', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(spf_auth_results(buf, sizeof(buf), "mx.test", SPF_FAIL, big, ""), -1);
	ck_assert_int_eq(spf_auth_results(buf, sizeof(buf), "mx.test", SPF_FAIL, "", big), -1);
}
END_TEST

/* --- DNS answers ----------------------------------------------------------------------- */

struct msg {
	unsigned char b[4096];
	size_t	n;
	size_t	ancount;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	ck_assert_uint_le(m->n + n, sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = {(unsigned char) (v >> 8), (unsigned char) v};

	put(m, b, 2);
}

static void
put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* put_name - "a.b.c" as labels (no compression) */
static void
put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t	l = dot ? (size_t) (dot - name) : strlen(name);
		unsigned char c = (unsigned char) l;

		put(m, &c, 1);
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

/* msg_start - header (rcode) and the question */
static void
msg_start(struct msg *m, unsigned rcode, const char *qname, unsigned qtype)
{
	memset(m, 0, sizeof(*m));
	put16(m, 0x1234);
	put16(m, 0x8180 | rcode);	/* response, RD, RA */
	put16(m, 1);
	put16(m, 0);			/* ancount, set by msg_end */
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* msg_rr - an answer record; rdata as given */
static void
msg_rr(struct msg *m, const char *name, unsigned type, uint32_t ttl, const void *rdata, size_t rdlen)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, (unsigned) rdlen);
	put(m, rdata, rdlen);
	m->ancount++;
	m->b[6] = (unsigned char) (m->ancount >> 8);
	m->b[7] = (unsigned char) m->ancount;
}

/* name_rdata - a name in wire form, for MX/PTR/CNAME rdata; returns its length */
static size_t
name_rdata(unsigned char *out, size_t pre, const char *name)
{
	struct msg t;

	memset(&t, 0, sizeof(t));
	put_name(&t, name);
	memcpy(out + pre, t.b, t.n);
	return pre + t.n;
}

static SPF_dns_server_t *srv;

static void
setup(void)
{
	srv = calloc(1, sizeof(*srv));
	ck_assert_ptr_nonnull(srv);
	srv->name = "test";
}

static void
teardown(void)
{
	free(srv);
}

START_TEST(test_parse_a)
{
	struct msg m;
	unsigned char a1[4] = {192, 0, 2, 1}, a2[4] = {192, 0, 2, 2}, cn[300];
	size_t	n = name_rdata(cn, 0, "target.test");
	SPF_dns_rr_t *rr;

	msg_start(&m, 0, "www.test", ns_t_a);
	msg_rr(&m, "www.test", ns_t_cname, 300, cn, n);
	msg_rr(&m, "target.test", ns_t_a, 300, a1, 4);
	msg_rr(&m, "target.test", ns_t_a, 60, a2, 4);
	rr = spf_rr_parse(srv, "www.test", ns_t_a, m.b, (int) m.n);
	ck_assert_ptr_nonnull(rr);
	ck_assert_int_eq(rr->herrno, NETDB_SUCCESS);
	ck_assert_int_eq(rr->num_rr, 2);
	ck_assert_mem_eq(&rr->rr[0]->a, a1, 4);
	ck_assert_mem_eq(&rr->rr[1]->a, a2, 4);
	ck_assert_int_eq(rr->ttl, 60);
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_parse_aaaa_mx_ptr)
{
	struct msg m;
	unsigned char a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, rd[300];
	size_t	n;
	SPF_dns_rr_t *rr;

	msg_start(&m, 0, "v6.test", ns_t_aaaa);
	msg_rr(&m, "v6.test", ns_t_aaaa, 300, a6, 16);
	msg_rr(&m, "v6.test", ns_t_aaaa, 300, a6, 4);	/* wrong length: skipped */
	rr = spf_rr_parse(srv, "v6.test", ns_t_aaaa, m.b, (int) m.n);
	ck_assert_int_eq(rr->num_rr, 1);
	ck_assert_mem_eq(&rr->rr[0]->aaaa, a6, 16);
	SPF_dns_rr_free(rr);

	msg_start(&m, 0, "mx.test", ns_t_mx);
	rd[0] = 0;
	rd[1] = 10;
	n = name_rdata(rd, 2, "mail.mx.test");
	msg_rr(&m, "mx.test", ns_t_mx, 300, rd, n);
	msg_rr(&m, "mx.test", ns_t_mx, 300, rd, 2);	/* no name: skipped */
	rr = spf_rr_parse(srv, "mx.test", ns_t_mx, m.b, (int) m.n);
	ck_assert_int_eq(rr->num_rr, 1);
	ck_assert_str_eq(rr->rr[0]->mx, "mail.mx.test");
	SPF_dns_rr_free(rr);

	msg_start(&m, 0, "1.2.0.192.in-addr.arpa", ns_t_ptr);
	n = name_rdata(rd, 0, "host.test");
	msg_rr(&m, "1.2.0.192.in-addr.arpa", ns_t_ptr, 300, rd, n);
	rr = spf_rr_parse(srv, "1.2.0.192.in-addr.arpa", ns_t_ptr, m.b, (int) m.n);
	ck_assert_int_eq(rr->num_rr, 1);
	ck_assert_str_eq(rr->rr[0]->ptr, "host.test");
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_parse_txt)
{
	struct msg m;
	const unsigned char two[] = "\x0ev=spf1 ip4:1.2\x0c.3.4/32 -all";
	const unsigned char nul[] = "\x05" "ab\0cd";
	const unsigned char bad[] = "\x09" "abc";	/* says 9, has 3 */
	unsigned char big[1 + 255 + 1 + 255];
	SPF_dns_rr_t *rr;

	memset(big, 'x', sizeof(big));
	big[0] = 255;
	big[256] = 255;
	msg_start(&m, 0, "t.test", ns_t_txt);
	msg_rr(&m, "t.test", ns_t_txt, 300, two, sizeof(two) - 1);
	msg_rr(&m, "t.test", ns_t_txt, 300, nul, sizeof(nul) - 1);
	msg_rr(&m, "t.test", ns_t_txt, 300, bad, sizeof(bad) - 1);
	msg_rr(&m, "t.test", ns_t_txt, 300, big, sizeof(big));
	msg_rr(&m, "t.test", ns_t_txt, 300, "", 0);
	rr = spf_rr_parse(srv, "t.test", ns_t_txt, m.b, (int) m.n);
	ck_assert_int_eq(rr->num_rr, 5);
	ck_assert_str_eq(rr->rr[0]->txt, "v=spf1 ip4:1.2.3.4/32 -all");
	ck_assert_str_eq(rr->rr[1]->txt, "ab?cd");
	ck_assert_str_eq(rr->rr[2]->txt, "");		/* the broken string is dropped */
	ck_assert_uint_eq(strlen(rr->rr[3]->txt), 510);
	ck_assert_str_eq(rr->rr[4]->txt, "");
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_parse_status)
{
	struct msg m;
	unsigned char a[4] = {192, 0, 2, 1};
	SPF_dns_rr_t *rr;

	msg_start(&m, ns_r_nxdomain, "no.test", ns_t_txt);
	rr = spf_rr_parse(srv, "no.test", ns_t_txt, m.b, (int) m.n);
	ck_assert_int_eq(rr->herrno, HOST_NOT_FOUND);
	ck_assert_int_eq(rr->num_rr, 0);
	SPF_dns_rr_free(rr);

	msg_start(&m, 0, "a.test", ns_t_txt);
	msg_rr(&m, "a.test", ns_t_a, 300, a, 4);	/* records, none of the type */
	rr = spf_rr_parse(srv, "a.test", ns_t_txt, m.b, (int) m.n);
	ck_assert_int_eq(rr->herrno, NO_DATA);
	ck_assert_int_eq(rr->num_rr, 0);
	SPF_dns_rr_free(rr);

	msg_start(&m, ns_r_servfail, "a.test", ns_t_txt);
	rr = spf_rr_parse(srv, "a.test", ns_t_txt, m.b, (int) m.n);
	ck_assert_int_eq(rr->herrno, TRY_AGAIN);
	SPF_dns_rr_free(rr);

	msg_start(&m, ns_r_refused, "a.test", ns_t_txt);
	rr = spf_rr_parse(srv, "a.test", ns_t_txt, m.b, (int) m.n);
	ck_assert_int_eq(rr->herrno, TRY_AGAIN);
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_parse_malformed)
{
	struct msg m;
	unsigned char a[4] = {192, 0, 2, 1};
	SPF_dns_rr_t *rr;

	msg_start(&m, 0, "a.test", ns_t_a);
	msg_rr(&m, "a.test", ns_t_a, 300, a, 4);
	/* every truncation of a good message: never a crash, never a record read past the end */
	for (size_t len = 0; len < m.n; len++) {
		unsigned char *copy = malloc(len ? len : 1);

		memcpy(copy, m.b, len);
		rr = spf_rr_parse(srv, "a.test", ns_t_a, copy, (int) len);
		ck_assert_ptr_nonnull(rr);
		ck_assert_int_eq(rr->herrno, TRY_AGAIN);
		ck_assert_int_eq(rr->num_rr, 0);
		SPF_dns_rr_free(rr);
		free(copy);
	}
	/* ancount larger than the records present */
	m.b[7] = 5;
	rr = spf_rr_parse(srv, "a.test", ns_t_a, m.b, (int) m.n);
	ck_assert_int_eq(rr->herrno, TRY_AGAIN);
	SPF_dns_rr_free(rr);
}
END_TEST

START_TEST(test_parse_many)
{
	struct msg m;
	unsigned char a[4] = {192, 0, 2, 0};
	SPF_dns_rr_t *rr;

	msg_start(&m, 0, "m.test", ns_t_a);
	for (int i = 0; i < 100; i++) {
		a[3] = (unsigned char) i;
		msg_rr(&m, "m.test", ns_t_a, 300, a, 4);
	}
	rr = spf_rr_parse(srv, "m.test", ns_t_a, m.b, (int) m.n);
	ck_assert_int_eq(rr->num_rr, 64);	/* SPF_RR_MAX */
	ck_assert_int_eq(((unsigned char *) &rr->rr[63]->a)[3], 63);
	SPF_dns_rr_free(rr);
}
END_TEST

static Suite *
spf_suite(void)
{
	Suite  *s = suite_create("spf");
	TCase  *ta = tcase_create("auth_results");
	TCase  *tp = tcase_create("parse");

	tcase_add_test(ta, test_result_names);
	tcase_add_loop_test(ta, test_auth_results, 0, (int) (sizeof(ar_cases) / sizeof(ar_cases[0])));
	tcase_add_test(ta, test_auth_results_bounds);
	suite_add_tcase(s, ta);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, test_parse_a);
	tcase_add_test(tp, test_parse_aaaa_mx_ptr);
	tcase_add_test(tp, test_parse_txt);
	tcase_add_test(tp, test_parse_status);
	tcase_add_test(tp, test_parse_malformed);
	tcase_add_test(tp, test_parse_many);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(spf_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
