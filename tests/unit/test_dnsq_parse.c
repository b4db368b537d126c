/*
 * test_dnsq_parse.c - policyd/dnsq.c's answer parsers on hand-built DNS
 * messages: MX with compression and CNAMEs, A with several TTLs, TXT in
 * several strings, NXDOMAIN/NODATA negative TTLs, and malformed messages
 * (every truncation, compression loops, rdlength past the end, random
 * corruption) that must be DNSQ_TEMPFAIL and never a crash.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsq.h"
#include "mx.h"

#define T_A		1
#define T_CNAME		5
#define T_SOA		6
#define T_MX		15
#define T_TXT		16
#define PKT_MAX		4096

/* a message under construction */
struct pkt {
	unsigned char b[PKT_MAX];
	int	len;
};

/* put8, put16, put32 - append network-order values */
static void
put8(struct pkt *p, unsigned v)
{
	ck_assert_int_lt(p->len, PKT_MAX);
	p->b[p->len++] = (unsigned char) v;
}

static void
put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8 & 0xff);
	put8(p, v & 0xff);
}

static void
put32(struct pkt *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

/* labels - append "a.b.c" as labels, no terminator */
static void
labels(struct pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t	n = dot ? (size_t) (dot - name) : strlen(name);

		put8(p, (unsigned) n);
		for (size_t i = 0; i < n; i++)
			put8(p, (unsigned char) name[i]);
		name += n + (dot != NULL);
	}
}

/* name - append a whole name ("" is the root); returns its offset */
static int
name(struct pkt *p, const char *text)
{
	int	off = p->len;

	labels(p, text);
	put8(p, 0);
	return off;
}

/* ptr - append a compression pointer to off */
static void
ptr(struct pkt *p, int off)
{
	put16(p, 0xc000 | (unsigned) off);
}

/* header - a reply header with the counts; the question follows at 12 */
static void
header(struct pkt *p, unsigned rcode, unsigned qd, unsigned an, unsigned ns)
{
	p->len = 0;
	put16(p, 0x1234);
	put8(p, 0x81);			/* QR, RD */
	put8(p, 0x80 | rcode);		/* RA */
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, 0);
}

/* question - name, type, class IN; the name is at offset 12 */
static void
question(struct pkt *p, const char *qname, unsigned type)
{
	name(p, qname);
	put16(p, type);
	put16(p, 1);
}

/* rr - type, class IN, TTL and a placeholder rdlength after an owner; returns the rdata start */
static int
rr(struct pkt *p, unsigned type, uint32_t ttl)
{
	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	put16(p, 0);
	return p->len;
}

/* rr_end - patch the rdlength of the record whose rdata started at rd */
static void
rr_end(struct pkt *p, int rd)
{
	int	n = p->len - rd;

	p->b[rd - 2] = (unsigned char) (n >> 8);
	p->b[rd - 1] = (unsigned char) n;
}

/* mx_rr - an MX record owned by a pointer to owner, exchange "LABEL.<ptr dom>" or full */
static void
mx_rr(struct pkt *p, int owner, uint32_t ttl, unsigned pref, const char *label, int dom)
{
	int	rd;

	ptr(p, owner);
	rd = rr(p, T_MX, ttl);
	put16(p, pref);
	if (dom >= 0) {
		labels(p, label);
		ptr(p, dom);
	} else {
		name(p, label);
	}
	rr_end(p, rd);
}

/* a_rr - an A record owned by a pointer */
static void
a_rr(struct pkt *p, int owner, uint32_t ttl, unsigned a, unsigned b, unsigned c, unsigned d)
{
	int	rd;

	ptr(p, owner);
	rd = rr(p, T_A, ttl);
	put8(p, a);
	put8(p, b);
	put8(p, c);
	put8(p, d);
	rr_end(p, rd);
}

/* soa_rr - an SOA in the authority section owned by a pointer */
static void
soa_rr(struct pkt *p, int owner, uint32_t ttl, uint32_t minimum)
{
	int	rd;

	ptr(p, owner);
	rd = rr(p, T_SOA, ttl);
	labels(p, "ns");
	ptr(p, owner);
	labels(p, "hostmaster");
	ptr(p, owner);
	put32(p, 2026112401);
	put32(p, 3600);
	put32(p, 600);
	put32(p, 86400);
	put32(p, minimum);
	rr_end(p, rd);
}

/* txt_rr - a TXT record of n strings owned by a pointer */
static void
txt_rr(struct pkt *p, int owner, uint32_t ttl, const char *const *strings, size_t n)
{
	int	rd;

	ptr(p, owner);
	rd = rr(p, T_TXT, ttl);
	for (size_t i = 0; i < n; i++) {
		size_t	len = strlen(strings[i]);

		put8(p, (unsigned) len);
		for (size_t j = 0; j < len; j++)
			put8(p, (unsigned char) strings[i][j]);
	}
	rr_end(p, rd);
}

/* --- the messages -------------------------------------------------------------- */

static void
build_mx_compressed(struct pkt *p)
{
	header(p, 0, 1, 2, 0);
	question(p, "example.com", T_MX);
	mx_rr(p, 12, 3600, 20, "mx2", 12);
	mx_rr(p, 12, 600, 10, "MX1", 12);
}

static void
build_mx_cname(struct pkt *p)
{
	int	target, rd;

	header(p, 0, 1, 2, 0);
	question(p, "mail.example.org", T_MX);
	/* the MX comes first: the owner is the CNAME's target, written in full */
	target = p->len;
	name(p, "target.example.net");
	rd = rr(p, T_MX, 3600);
	put16(p, 5);
	labels(p, "mx");
	ptr(p, target + 7);		/* "example.net" inside the target name */
	rr_end(p, rd);
	ptr(p, 12);
	rd = rr(p, T_CNAME, 120);
	ptr(p, target);
	rr_end(p, rd);
}

static void
build_mx_null(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "nomail.example", T_MX);
	mx_rr(p, 12, 3600, 0, "", -1);
}

static void
build_mx_bad_exchange(struct pkt *p)
{
	header(p, 0, 1, 2, 0);
	question(p, "example.com", T_MX);
	mx_rr(p, 12, 300, 5, "bad_name", 12);
	mx_rr(p, 12, 300, 10, "ok", 12);
}

static void
build_mx_many(struct pkt *p)
{
	char	label[8];

	header(p, 0, 1, MX_HOSTS_MAX + 4, 0);
	question(p, "big.example", T_MX);
	for (unsigned i = 0; i < MX_HOSTS_MAX + 4; i++) {
		snprintf(label, sizeof(label), "mx%02u", i);
		mx_rr(p, 12, 300, 100 - i, label, 12);
	}
}

static void
build_mx_other_owner(struct pkt *p)
{
	int	rd;

	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_MX);
	name(p, "other.example.com");
	rd = rr(p, T_MX, 300);
	put16(p, 10);
	name(p, "mx.other.example.com");
	rr_end(p, rd);
}

static void
build_a_ttls(struct pkt *p)
{
	header(p, 0, 1, 3, 0);
	question(p, "2.0.0.127.bl.example", T_A);
	a_rr(p, 12, 300, 127, 0, 0, 2);
	a_rr(p, 12, 60, 127, 0, 0, 10);
	a_rr(p, 12, 900, 127, 0, 0, 4);
}

static void
build_a_case(struct pkt *p)
{
	int	rd;

	header(p, 0, 1, 1, 0);
	question(p, "host.example", T_A);
	name(p, "HoSt.EXAMPLE");
	rd = rr(p, T_A, 77);
	put32(p, 0xc0000201);
	rr_end(p, rd);
}

static void
build_a_ttl_highbit(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "host.example", T_A);
	a_rr(p, 12, 0x80000010u, 192, 0, 2, 1);
}

static void
build_a_ttl_cap(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "host.example", T_A);
	a_rr(p, 12, 2000000, 192, 0, 2, 1);
}

static void
build_a_wrong_rdlen(struct pkt *p)
{
	int	rd;

	header(p, 0, 1, 1, 0);
	question(p, "host.example", T_A);
	ptr(p, 12);
	rd = rr(p, T_A, 60);
	put32(p, 0x7f000002);
	put8(p, 0);
	rr_end(p, rd);
}

static void
build_txt_split(struct pkt *p)
{
	static const char *const s[] = {"v=spf1 ", "ip4:192.0.2.0/24 ", "-all"};
	static const char *const other[] = {"second record"};

	header(p, 0, 1, 2, 0);
	question(p, "example.com", T_TXT);
	txt_rr(p, 12, 900, s, 3);
	txt_rr(p, 12, 100, other, 1);
}

static void
build_txt_long(struct pkt *p)
{
	char	chunk[201];
	const char *s[3] = {chunk, chunk, chunk};

	memset(chunk, 'x', 200);
	chunk[200] = 0;
	header(p, 0, 1, 1, 0);
	question(p, "long.example", T_TXT);
	txt_rr(p, 12, 60, s, 3);	/* 600 bytes */
}

static void
build_txt_string_past_record(struct pkt *p)
{
	int	rd;

	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_TXT);
	ptr(p, 12);
	rd = rr(p, T_TXT, 60);
	put8(p, 10);			/* says 10 bytes, has 3 */
	put8(p, 'a');
	put8(p, 'b');
	put8(p, 'c');
	rr_end(p, rd);
}

static void
build_nxdomain_soa(struct pkt *p)
{
	header(p, 3, 1, 0, 1);
	question(p, "nosuch.example.com", T_MX);
	soa_rr(p, 12 + 7, 3600, 900);	/* owner example.com inside the question */
}

static void
build_nxdomain_soa_ttl_smaller(struct pkt *p)
{
	header(p, 3, 1, 0, 1);
	question(p, "nosuch.example.com", T_A);
	soa_rr(p, 12 + 7, 45, 900);
}

static void
build_nxdomain_no_soa(struct pkt *p)
{
	header(p, 3, 1, 0, 0);
	question(p, "nosuch.example.com", T_A);
}

static void
build_nxdomain_cname(struct pkt *p)
{
	int	rd, target;

	header(p, 3, 1, 1, 1);
	question(p, "alias.example.com", T_A);
	ptr(p, 12);
	rd = rr(p, T_CNAME, 30);
	target = p->len;
	labels(p, "gone");
	ptr(p, 12 + 6);
	rr_end(p, rd);
	soa_rr(p, 12 + 6, 3600, 600);
	(void) target;
}

static void
build_nodata_soa(struct pkt *p)
{
	header(p, 0, 1, 0, 1);
	question(p, "example.com", T_MX);
	soa_rr(p, 12, 3600, 120);
}

static void
build_nodata_no_soa(struct pkt *p)
{
	header(p, 0, 1, 0, 0);
	question(p, "example.com", T_TXT);
}

static void
build_nodata_other_type(struct pkt *p)
{
	header(p, 0, 1, 1, 1);
	question(p, "example.com", T_MX);
	a_rr(p, 12, 300, 192, 0, 2, 1);
	soa_rr(p, 12, 3600, 50);
}

static void
build_servfail(struct pkt *p)
{
	header(p, 2, 1, 0, 0);
	question(p, "broken.example", T_A);
}

static void
build_refused(struct pkt *p)
{
	header(p, 5, 1, 0, 0);
	question(p, "closed.example", T_A);
}

static void
build_compression_loop(struct pkt *p)
{
	int	at;

	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_A);
	at = p->len;
	ptr(p, at);			/* owner points at itself */
	put16(p, T_A);
	put16(p, 1);
	put32(p, 60);
	put16(p, 4);
	put32(p, 0x7f000002);
}

static void
build_compression_loop_mx(struct pkt *p)
{
	int	rd, at;

	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_MX);
	ptr(p, 12);
	rd = rr(p, T_MX, 60);
	put16(p, 10);
	at = p->len;
	labels(p, "a");
	ptr(p, at);			/* a.a.a.a... */
	rr_end(p, rd);
}

static void
build_pointer_forward(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_A);
	ptr(p, 4000);			/* past the end */
	put16(p, T_A);
	put16(p, 1);
	put32(p, 60);
	put16(p, 4);
	put32(p, 0x7f000002);
}

static void
build_rdlength_past_end(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_A);
	ptr(p, 12);
	put16(p, T_A);
	put16(p, 1);
	put32(p, 60);
	put16(p, 200);			/* only 4 follow */
	put32(p, 0x7f000002);
}

static void
build_cname_loop(struct pkt *p)
{
	int	rd, b;

	header(p, 0, 1, 2, 0);
	question(p, "a.example", T_A);
	ptr(p, 12);
	rd = rr(p, T_CNAME, 60);
	b = p->len;
	name(p, "b.example");
	rr_end(p, rd);
	ptr(p, b);
	rd = rr(p, T_CNAME, 60);
	ptr(p, 12);
	rr_end(p, rd);
}

/* build_cname_chain - hops CNAMEs c0 -> c1 -> ... -> cN, then an A for cN */
static void
build_cname_chain(struct pkt *p, unsigned hops)
{
	char	buf[32];
	int	rd, owner = 12;

	header(p, 0, 1, hops + 1, 0);
	question(p, "c0.example", T_A);
	for (unsigned i = 1; i <= hops; i++) {
		int	next;

		ptr(p, owner);
		rd = rr(p, T_CNAME, 1000 - i);
		next = p->len;
		snprintf(buf, sizeof(buf), "c%u", i);
		labels(p, buf);
		ptr(p, 12 + 3);		/* "example" */
		rr_end(p, rd);
		owner = next;
	}
	a_rr(p, owner, 5000, 192, 0, 2, 7);
}

static void
build_cname_max(struct pkt *p)
{
	build_cname_chain(p, DNSQ_CNAME_MAX);
}

static void
build_cname_too_long(struct pkt *p)
{
	build_cname_chain(p, DNSQ_CNAME_MAX + 1);
}

static void
build_wrong_qtype(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_TXT);
	a_rr(p, 12, 60, 127, 0, 0, 2);
}

static void
build_truncated_tc(struct pkt *p)
{
	build_a_ttls(p);
	p->b[2] |= 0x02;
}

static void
build_two_questions(struct pkt *p)
{
	header(p, 0, 2, 0, 0);
	question(p, "example.com", T_A);
	question(p, "example.net", T_A);
}

static void
build_not_a_reply(struct pkt *p)
{
	build_a_ttls(p);
	p->b[2] &= 0x7f;
}

static void
build_bad_label_type(struct pkt *p)
{
	header(p, 0, 1, 1, 0);
	question(p, "example.com", T_A);
	put8(p, 0x41);			/* 01xxxxxx: extended label type */
	put8(p, 0);
	put16(p, T_A);
	put16(p, 1);
	put32(p, 60);
	put16(p, 4);
	put32(p, 0x7f000002);
}

static void
build_bad_soa(struct pkt *p)
{
	int	rd;

	header(p, 3, 1, 0, 1);
	question(p, "nosuch.example.com", T_A);
	ptr(p, 12 + 7);
	rd = rr(p, T_SOA, 60);
	ptr(p, 12);
	ptr(p, 12);
	put32(p, 1);			/* 4 of the 20 fixed bytes */
	rr_end(p, rd);
}

enum kind { K_MX, K_A, K_TXT };

static const struct parse_case {
	const char *name;
	void	(*build)(struct pkt *);
	enum kind kind;
	enum dnsq_status status;
	uint32_t ttl;
	const char *data;		/* MX: mx_set_format; A: "a.b.c.d,..."; TXT: the text */
} cases[] = {
	{"MX answer with compression", build_mx_compressed, K_MX, DNSQ_OK, 600,
	"10 mx1.example.com,20 mx2.example.com"},
	{"MX through a CNAME (MX written first)", build_mx_cname, K_MX, DNSQ_OK, 120,
	"5 mx.example.net"},
	{"null MX: ok, empty set", build_mx_null, K_MX, DNSQ_OK, 3600, ""},
	{"MX with a bad exchange name skipped", build_mx_bad_exchange, K_MX, DNSQ_OK, 300,
	"10 ok.example.com"},
	{"MX beyond MX_HOSTS_MAX: most preferred kept", build_mx_many, K_MX, DNSQ_OK, 300,
	"81 mx19.big.example,82 mx18.big.example,83 mx17.big.example,84 mx16.big.example,"
	"85 mx15.big.example,86 mx14.big.example,87 mx13.big.example,88 mx12.big.example,"
	"89 mx11.big.example,90 mx10.big.example,91 mx09.big.example,92 mx08.big.example,"
	"93 mx07.big.example,94 mx06.big.example,95 mx05.big.example,96 mx04.big.example"},
	{"MX of another owner ignored: NODATA", build_mx_other_owner, K_MX, DNSQ_NODATA,
	DNSQ_NEG_TTL_DEFAULT, ""},
	{"A: several records, min TTL wins", build_a_ttls, K_A, DNSQ_OK, 60,
	"127.0.0.2,127.0.0.10,127.0.0.4"},
	{"A: owner compared without case", build_a_case, K_A, DNSQ_OK, 77, "192.0.2.1"},
	{"A: TTL with the top bit set is 0", build_a_ttl_highbit, K_A, DNSQ_OK, 0, "192.0.2.1"},
	{"A: TTL capped", build_a_ttl_cap, K_A, DNSQ_OK, DNSQ_TTL_MAX, "192.0.2.1"},
	{"A: rdata of 5 bytes", build_a_wrong_rdlen, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"TXT split into strings, first record", build_txt_split, K_TXT, DNSQ_OK, 100,
	"v=spf1 ip4:192.0.2.0/24 -all"},
	{"TXT string past its record", build_txt_string_past_record, K_TXT, DNSQ_TEMPFAIL, 0, ""},
	{"NXDOMAIN: SOA MINIMUM below its TTL", build_nxdomain_soa, K_MX, DNSQ_NXDOMAIN, 900, ""},
	{"NXDOMAIN: SOA TTL below MINIMUM", build_nxdomain_soa_ttl_smaller, K_A, DNSQ_NXDOMAIN, 45, ""},
	{"NXDOMAIN without SOA: default", build_nxdomain_no_soa, K_A, DNSQ_NXDOMAIN,
	DNSQ_NEG_TTL_DEFAULT, ""},
	{"NXDOMAIN after a CNAME: CNAME TTL", build_nxdomain_cname, K_A, DNSQ_NXDOMAIN, 30, ""},
	{"NODATA with SOA", build_nodata_soa, K_MX, DNSQ_NODATA, 120, ""},
	{"NODATA without SOA: default", build_nodata_no_soa, K_TXT, DNSQ_NODATA,
	DNSQ_NEG_TTL_DEFAULT, ""},
	{"NODATA: only records of another type", build_nodata_other_type, K_MX, DNSQ_NODATA, 50, ""},
	{"SERVFAIL", build_servfail, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"REFUSED", build_refused, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"compression loop in an owner", build_compression_loop, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"compression loop in an exchange", build_compression_loop_mx, K_MX, DNSQ_TEMPFAIL, 0, ""},
	{"compression pointer past the end", build_pointer_forward, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"rdlength past the end", build_rdlength_past_end, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"CNAME loop", build_cname_loop, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"CNAME chain of DNSQ_CNAME_MAX hops", build_cname_max, K_A, DNSQ_OK, 1000 - DNSQ_CNAME_MAX,
	"192.0.2.7"},
	{"CNAME chain one hop too long", build_cname_too_long, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"answer to another question type", build_wrong_qtype, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"TC bit set", build_truncated_tc, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"two questions", build_two_questions, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"QR bit clear", build_not_a_reply, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"unknown label type", build_bad_label_type, K_A, DNSQ_TEMPFAIL, 0, ""},
	{"SOA rdata too short", build_bad_soa, K_A, DNSQ_TEMPFAIL, 0, ""},
};

/* parse - run the parser of kind on abuf; data formatted as in the table */
static enum dnsq_status
parse(enum kind kind, const unsigned char *abuf, int alen, uint32_t *ttl, char *data, size_t len)
{
	enum dnsq_status s = DNSQ_TEMPFAIL;

	data[0] = 0;
	switch (kind) {
	case K_MX: {
		struct mx_set set;

		memset(&set, 0xa5, sizeof(set));
		s = dnsq_parse_mx(abuf, alen, &set, ttl);
		if (s != DNSQ_OK)
			ck_assert_uint_eq(set.count, 0);
		ck_assert_ptr_nonnull(mx_set_format(&set, data, len));
		break;
	}
	case K_A: {
		unsigned char addrs[DNSQ_A_MAX][4];
		size_t	count = 99, used = 0;

		s = dnsq_parse_a(abuf, alen, addrs, DNSQ_A_MAX, &count, ttl);
		if (s != DNSQ_OK)
			ck_assert_uint_eq(count, 0);
		for (size_t i = 0; i < count; i++)
			used += (size_t) snprintf(data + used, len - used, "%s%u.%u.%u.%u", i ? "," : "",
						  addrs[i][0], addrs[i][1], addrs[i][2], addrs[i][3]);
		break;
	}
	case K_TXT:
		s = dnsq_parse_txt(abuf, alen, data, len, ttl);
		if (s != DNSQ_OK)
			ck_assert_str_eq(data, "");
		break;
	}
	return s;
}

START_TEST(test_cases)
{
	const struct parse_case *c = &cases[_i];
	struct pkt p;
	char	data[MX_TEXT_MAX];
	uint32_t ttl = 12345;
	enum dnsq_status s;

	c->build(&p);
	s = parse(c->kind, p.b, p.len, &ttl, data, sizeof(data));
	ck_assert_msg(s == c->status, "%s: status %s, expected %s", c->name,
		      dnsq_status_name(s), dnsq_status_name(c->status));
	ck_assert_msg(ttl == c->ttl, "%s: ttl %u, expected %u", c->name, ttl, c->ttl);
	ck_assert_msg(strcmp(data, c->data) == 0, "%s: data '%s', expected '%s'", c->name, data, c->data);
}
END_TEST

/* every proper prefix of every message is an error, read from an exact-size copy */
START_TEST(test_truncated)
{
	const struct parse_case *c = &cases[_i];
	struct pkt p;
	char	data[MX_TEXT_MAX];
	uint32_t ttl;

	c->build(&p);
	for (int len = 0; len < p.len; len++) {
		unsigned char *copy = malloc(len ? (size_t) len : 1);
		enum dnsq_status s;

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, p.b, (size_t) len);
		for (int k = K_MX; k <= K_TXT; k++) {
			s = parse((enum kind) k, copy, len, &ttl, data, sizeof(data));
			ck_assert_msg(s == DNSQ_TEMPFAIL, "%s cut at %d: %s", c->name, len,
				      dnsq_status_name(s));
			ck_assert_uint_eq(ttl, 0);
		}
		free(copy);
	}
}
END_TEST

/* random byte flips never crash (ASan/valgrind watch the reads) */
START_TEST(test_corrupted)
{
	struct pkt p;
	char	data[MX_TEXT_MAX];
	uint32_t ttl;
	unsigned seed = 20261124;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].build(&p);
		for (int round = 0; round < 300; round++) {
			unsigned char *copy = malloc((size_t) p.len);

			ck_assert_ptr_nonnull(copy);
			memcpy(copy, p.b, (size_t) p.len);
			for (int flips = 1 + rand_r(&seed) % 4; flips > 0; flips--)
				copy[rand_r(&seed) % p.len] = (unsigned char) rand_r(&seed);
			for (int k = K_MX; k <= K_TXT; k++)
				(void) parse((enum kind) k, copy, p.len, &ttl, data, sizeof(data));
			free(copy);
		}
	}
}
END_TEST

START_TEST(test_a_max)
{
	struct pkt p;
	unsigned char addrs[2][4];
	size_t	count;
	uint32_t ttl;

	build_a_ttls(&p);
	ck_assert_int_eq(dnsq_parse_a(p.b, p.len, addrs, 2, &count, &ttl), DNSQ_OK);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(ttl, 60);		/* the dropped record's TTL still counts */
	ck_assert_uint_eq(addrs[1][3], 10);
}
END_TEST

START_TEST(test_txt_bounded)
{
	struct pkt p;
	char	out[DNSQ_TXT_MAX + 1];
	char	small[8];
	uint32_t ttl;

	build_txt_long(&p);
	ck_assert_int_eq(dnsq_parse_txt(p.b, p.len, out, sizeof(out), &ttl), DNSQ_OK);
	ck_assert_uint_eq(strlen(out), DNSQ_TXT_MAX);
	ck_assert_uint_eq(ttl, 60);
	build_txt_split(&p);
	ck_assert_int_eq(dnsq_parse_txt(p.b, p.len, small, sizeof(small), &ttl), DNSQ_OK);
	ck_assert_str_eq(small, "v=spf1 ");
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(dnsq_status_name(DNSQ_OK), "ok");
	ck_assert_str_eq(dnsq_status_name(DNSQ_NXDOMAIN), "nxdomain");
	ck_assert_str_eq(dnsq_status_name(DNSQ_NODATA), "nodata");
	ck_assert_str_eq(dnsq_status_name(DNSQ_TEMPFAIL), "tempfail");
	ck_assert_str_eq(dnsq_status_name(DNSQ_BADNAME), "badname");
	ck_assert_str_eq(dnsq_status_name(DNSQ_CANCELLED), "cancelled");
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("dnsq_parse");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	n = (int) (sizeof(cases) / sizeof(cases[0]));
	int	failed;

	tcase_add_loop_test(tc, test_cases, 0, n);
	tcase_add_loop_test(tc, test_truncated, 0, n);
	tcase_add_test(tc, test_corrupted);
	tcase_add_test(tc, test_a_max);
	tcase_add_test(tc, test_txt_bounded);
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
