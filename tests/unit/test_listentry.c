/*
 * test_listentry.c - listentry.c: entry parsing (canonical text or the
 * error phrase), matching against a sender and client, and above all the
 * promise the Redis lookup rests on: for every entry, sender and client,
 * listentry_match() is 1 exactly when the entry's text is among
 * listentry_candidates(). Checked over fixed tables and over generated
 * domains and networks built to collide often.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "address.h"
#include "listentry.h"

#define S(s)	s, sizeof(s) - 1
#define LEN_AUTO ((size_t) -1)
#define G(buf)	buf, LEN_AUTO

static char e_dom255[300], e_dom255_want[300], e_dom256[300];

struct parse_case {
	const char *name;
	const char *in;
	size_t	len;
	int	kind;			/* enum listentry_kind, or -1 for an error */
	const char *want;		/* canonical text, or a substring of the error */
};

static const struct parse_case parse_cases[] = {
	{"address", S("bob@example.org"), LISTENTRY_ADDRESS, "bob@example.org"},
	{"address folded", S("Bob@Example.ORG"), LISTENTRY_ADDRESS, "bob@example.org"},
	{"address bracketed", S("<bob@example.org>"), LISTENTRY_ADDRESS, "bob@example.org"},
	{"address quoted atom", S("\"bob\"@example.org"), LISTENTRY_ADDRESS, "bob@example.org"},
	{"address quoted space", S("\"John Doe\"@example.org"), LISTENTRY_ADDRESS,
	"\"john doe\"@example.org"},
	{"address literal", S("bob@[192.0.2.1]"), LISTENTRY_ADDRESS, "bob@[192.0.2.1]"},
	{"domain", S("@Example.ORG"), LISTENTRY_DOMAIN, "@example.org"},
	{"domain trailing dot", S("@example.org."), LISTENTRY_DOMAIN, "@example.org"},
	{"domain one label", S("@localhost"), LISTENTRY_DOMAIN, "@localhost"},
	{"subdomains", S(".Example.org"), LISTENTRY_SUBDOMAINS, ".example.org"},
	{"subdomains tld", S(".org"), LISTENTRY_SUBDOMAINS, ".org"},
	{"domain 255 bytes", G(e_dom255), LISTENTRY_SUBDOMAINS, e_dom255_want},
	{"ipv4", S("192.0.2.1"), LISTENTRY_NETWORK, "192.0.2.1"},
	{"ipv4 /32 is bare", S("192.0.2.1/32"), LISTENTRY_NETWORK, "192.0.2.1"},
	{"ipv4 /24", S("192.0.2.0/24"), LISTENTRY_NETWORK, "192.0.2.0/24"},
	{"ipv4 /23", S("192.0.2.0/23"), LISTENTRY_NETWORK, "192.0.2.0/23"},
	{"ipv4 /0", S("0.0.0.0/0"), LISTENTRY_NETWORK, "0.0.0.0/0"},
	{"ipv4 prefix leading zero", S("192.0.2.0/024"), LISTENTRY_NETWORK, "192.0.2.0/24"},
	{"ipv6", S("2001:DB8:0000::1"), LISTENTRY_NETWORK, "2001:db8::1"},
	{"ipv6 /128 is bare", S("2001:db8::1/128"), LISTENTRY_NETWORK, "2001:db8::1"},
	{"ipv6 /32", S("2001:db8::/32"), LISTENTRY_NETWORK, "2001:db8::/32"},
	{"ipv6 loopback", S("::1"), LISTENTRY_NETWORK, "::1"},
	{"ipv6 /0", S("::/0"), LISTENTRY_NETWORK, "::/0"},
	{"ipv6 /127", S("2001:db8::2/127"), LISTENTRY_NETWORK, "2001:db8::2/127"},
	{"mapped becomes ipv4", S("::ffff:192.0.2.1"), LISTENTRY_NETWORK, "192.0.2.1"},
	{"mapped hex becomes ipv4", S("::FFFF:c000:0201"), LISTENTRY_NETWORK, "192.0.2.1"},
	{"mapped network", S("::ffff:192.0.2.0/120"), LISTENTRY_NETWORK, "192.0.2.0/24"},
	{"mapped /96 is all ipv4", S("::ffff:0:0/96"), LISTENTRY_NETWORK, "0.0.0.0/0"},

	{"host bits v4", S("192.0.2.1/24"), -1, "host bits set; did you mean 192.0.2.0/24?"},
	{"host bits v6", S("2001:db8::1/32"), -1, "host bits set; did you mean 2001:db8::/32?"},
	{"host bits mapped", S("::ffff:192.0.2.1/120"), -1, "did you mean 192.0.2.0/24?"},
	{"prefix too long v4", S("192.0.2.0/33"), -1, "prefix length /33 out of range for IPv4 (0-32)"},
	{"prefix too long v6", S("2001:db8::/129"), -1, "out of range for IPv6 (0-128)"},
	{"prefix empty", S("192.0.2.0/"), -1, "invalid prefix length"},
	{"prefix negative", S("192.0.2.0/-1"), -1, "invalid prefix length"},
	{"prefix junk", S("192.0.2.0/2x"), -1, "invalid prefix length"},
	{"prefix four digits", S("192.0.2.0/0024"), -1, "invalid prefix length"},
	{"short ipv4", S("192.0.2"), -1, "not an address, @domain, .domain"},
	{"octet too big", S("192.0.2.256"), -1, "not an address"},
	{"ipv6 zone", S("fe80::1%eth0"), -1, "not an address"},
	{"trailing space", S("192.0.2.1 "), -1, "not an address"},
	{"bare domain", S("Example.org"), -1,
	"a bare domain is not an entry; write @example.org (that domain only) or .example.org"},
	{"empty", S(""), -1, "empty entry"},
	{"at alone", S("@"), -1, "empty domain"},
	{"dot alone", S("."), -1, "empty domain"},
	{"two dots", S("..org"), -1, "empty label in domain"},
	{"domain empty label", S("@a..b"), -1, "empty label in domain"},
	{"domain hyphen", S("@-x.org"), -1, "starts with '-'"},
	{"domain literal", S("@[192.0.2.1]"), -1, "address literal is not a domain entry"},
	{"domain with local", S("@bob@x.org"), -1, "invalid character '@' in domain"},
	{"domain 256 bytes", G(e_dom256), -1, "domain longer than 255 bytes"},
	{"null sender", S("<>"), -1, "the null sender <> cannot be listed"},
	{"address empty domain", S("bob@"), -1, "empty domain"},
	{"address 65 local", S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.org"), -1,
	"local part longer than 64 bytes"},
	{"LF", S("bob@x.org\n"), -1, "control character 0x0a in list entry"},
	{"CR in network", S("192.0.2.1\r"), -1, "control character 0x0d in list entry"},
	{"NUL", S("bob\0@x.org"), -1, "NUL byte in list entry"},
	{"NUL after network", S("192.0.2.1\0/8"), -1, "NUL byte in list entry"},
	{"8-bit", S("\xc3\xa9@x.org"), -1, "8-bit byte 0xc3 in list entry"},
};

#define NPARSE	(sizeof(parse_cases) / sizeof(parse_cases[0]))

struct match_case {
	const char *name;
	const char *entry;
	const char *sender;		/* NULL: no sender */
	const char *client;		/* NULL: no client address */
	int	want;
};

static const struct match_case match_cases[] = {
	{"address exact", "bob@example.org", "Bob@Example.org", NULL, 1},
	{"address quoted sender", "bob@example.org", "<\"bob\"@example.org>", NULL, 1},
	{"address other local", "bob@example.org", "alice@example.org", NULL, 0},
	{"address other domain", "bob@example.org", "bob@mail.example.org", NULL, 0},
	{"address null sender", "bob@example.org", "<>", "192.0.2.1", 0},
	{"address literal", "bob@[192.0.2.1]", "bob@[192.0.2.1]", NULL, 1},
	{"domain exact", "@example.org", "x@EXAMPLE.org", NULL, 1},
	{"domain not subdomain", "@example.org", "x@a.example.org", NULL, 0},
	{"domain not parent", "@a.example.org", "x@example.org", NULL, 0},
	{"domain null sender", "@example.org", "<>", NULL, 0},
	{"domain no sender", "@example.org", NULL, "192.0.2.1", 0},
	{"subdomains itself", ".example.org", "x@example.org", NULL, 1},
	{"subdomains child", ".example.org", "x@a.example.org", NULL, 1},
	{"subdomains grandchild", ".example.org", "x@a.b.example.org", NULL, 1},
	{"subdomains not suffix text", ".example.org", "x@badexample.org", NULL, 0},
	{"subdomains not parent", ".a.example.org", "x@example.org", NULL, 0},
	{"subdomains tld", ".org", "x@example.org", NULL, 1},
	{"subdomains literal sender", ".1", "x@[192.0.2.1]", NULL, 0},
	{"ipv4 exact", "192.0.2.1", NULL, "192.0.2.1", 1},
	{"ipv4 other", "192.0.2.1", NULL, "192.0.2.2", 0},
	{"ipv4 with sender", "192.0.2.1", "bob@example.org", "192.0.2.1", 1},
	{"ipv4 null sender", "192.0.2.1", "<>", "192.0.2.1", 1},
	{"cidr in", "192.0.2.0/24", NULL, "192.0.2.200", 1},
	{"cidr out", "192.0.2.0/24", NULL, "192.0.3.1", 0},
	{"cidr /23 upper half", "192.0.2.0/23", NULL, "192.0.3.255", 1},
	{"cidr /25 lower only", "192.0.2.128/25", NULL, "192.0.2.127", 0},
	{"cidr /0", "0.0.0.0/0", NULL, "203.0.113.9", 1},
	{"ipv4 entry ipv6 client", "0.0.0.0/0", NULL, "2001:db8::1", 0},
	{"ipv6 entry ipv4 client", "::/0", NULL, "192.0.2.1", 0},
	{"mapped client", "192.0.2.0/24", NULL, "::ffff:192.0.2.7", 1},
	{"mapped entry", "::ffff:192.0.2.7", NULL, "192.0.2.7", 1},
	{"mapped client ipv6 entry", "::/0", NULL, "::ffff:192.0.2.7", 0},
	{"ipv6 exact", "2001:db8::1", NULL, "2001:DB8:0:0::1", 1},
	{"ipv6 cidr in", "2001:db8::/32", NULL, "2001:db8:1::5", 1},
	{"ipv6 cidr out", "2001:db8::/32", NULL, "2001:db9::1", 0},
	{"ipv6 /127", "2001:db8::2/127", NULL, "2001:db8::3", 1},
	{"ipv6 /127 out", "2001:db8::2/127", NULL, "2001:db8::4", 0},
	{"no client", "192.0.2.1", "bob@example.org", NULL, 0},
	{"unparseable client", "192.0.2.1", NULL, "unknown", 0},
	{"bracketed client", "192.0.2.1", NULL, "[192.0.2.1]", 0},
};

#define NMATCH	(sizeof(match_cases) / sizeof(match_cases[0]))

/* Fixed material for the agreement check: every pair is tried with every entry. */
static const char *const agree_entries[] = {
	"bob@example.org", "alice@example.org", "bob@a.example.org", "\"john doe\"@example.org",
	"bob@localhost", "bob@[192.0.2.1]", "bob@[ipv6:2001:db8::1]",
	"@example.org", "@a.example.org", "@b.a.example.org", "@org", "@localhost", "@example.com",
	".example.org", ".a.example.org", ".b.a.example.org", ".org", ".localhost", ".com",
	".xample.org", ".ample.org",
	"192.0.2.1", "192.0.2.0/24", "192.0.2.0/23", "192.0.0.0/16", "192.0.2.128/25",
	"0.0.0.0/0", "128.0.0.0/1", "10.0.0.0/8", "127.0.0.1",
	"2001:db8::1", "2001:db8::/32", "2001:db8::/64", "::/0", "::1", "::/127",
	"::ffff:192.0.2.1", "::ffff:192.0.2.0/120", "::ffff:0:0/96", "::192.0.2.1",
	"fe80::/10", "2001:db8:0:1::/64",
};

static const char *const agree_senders[] = {
	NULL, "<>", "bob@example.org", "BOB@EXAMPLE.ORG", "alice@example.org",
	"bob@a.example.org", "x@b.a.example.org", "x@c.b.a.example.org",
	"\"john doe\"@example.org", "\"bob\"@example.org", "bob@localhost",
	"bob@[192.0.2.1]", "bob@[IPv6:2001:db8::1]", "x@example.com", "x@xample.org",
	"x@badexample.org", "<@relay.example:bob@example.org>",
};

static const char *const agree_clients[] = {
	NULL, "", "unknown", "192.0.2.1", "192.0.2.200", "192.0.3.1", "192.0.2.130",
	"10.1.2.3", "127.0.0.1", "255.255.255.255", "0.0.0.0", "::ffff:192.0.2.1",
	"::ffff:10.0.0.1", "2001:db8::1", "2001:db8:0:1::9", "::1", "::", "fe80::1",
	"::192.0.2.1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* listentry_test_labels - mark, then uppercase labels of these lengths joined by dots */
static void
listentry_test_labels(char *buf, char mark, const size_t *labels, size_t count)
{
	char   *p = buf;

	*p++ = mark;
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			*p++ = '.';
		memset(p, (int) ('A' + i), labels[i]);
		p += labels[i];
	}
	*p = '\0';
}

/* listentry_test_fill - a 255-byte domain entry and a 256-byte one */
static void
listentry_test_fill(void)
{
	static const size_t l255[] = {63, 63, 63, 63};
	static const size_t l256[] = {63, 63, 63, 62, 1};

	listentry_test_labels(e_dom255, '.', l255, 4);
	listentry_test_labels(e_dom256, '.', l256, 5);
	for (size_t i = 0; e_dom255[i]; i++)
		e_dom255_want[i] = (char) (e_dom255[i] == '.' ? '.' : e_dom255[i] - 'A' + 'a');
}

/* listentry_test_sender - parse a sender or fail the test; NULL stays NULL */
static const struct address *
listentry_test_sender(const char *text, struct address *a)
{
	char	err[256];

	if (text == NULL)
		return NULL;
	ck_assert_msg(address_parse(text, strlen(text), a, err, sizeof(err)) == 0,
		      "sender %s: %s", text, err);
	return a;
}

/*
 * listentry_test_agree - match and candidates agree for every entry on this
 * sender and client. Hot loop: ck_assert_* records a checkpoint each call,
 * so failures are reported with ck_abort_msg only.
 */
static void
listentry_test_agree(const struct listentry *entries, size_t nentries,
		     const struct address *sender, const char *client, const char *label)
{
	static char cand[LISTENTRY_CANDIDATES_MAX][LISTENTRY_TEXT_MAX];
	struct listentry e;
	char	err[256];
	size_t	n;

	n = listentry_candidates(sender, client, cand, LISTENTRY_CANDIDATES_MAX);
	if (n > LISTENTRY_CANDIDATES_MAX)
		ck_abort_msg("%s: %zu candidates", label, n);
	/* every candidate is canonical, distinct, and matches */
	for (size_t i = 0; i < n; i++) {
		if (listentry_parse(cand[i], strlen(cand[i]), &e, err, sizeof(err)) < 0)
			ck_abort_msg("%s: candidate \"%s\" does not parse: %s", label, cand[i], err);
		if (strcmp(e.text, cand[i]) != 0)
			ck_abort_msg("%s: candidate \"%s\" is not canonical (\"%s\")",
				     label, cand[i], e.text);
		if (listentry_match(&e, sender, client) != 1)
			ck_abort_msg("%s: candidate \"%s\" does not match", label, cand[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cand[i], cand[j]) == 0)
				ck_abort_msg("%s: candidate \"%s\" twice", label, cand[i]);
	}
	for (size_t k = 0; k < nentries; k++) {
		int	member = 0;
		int	match = listentry_match(&entries[k], sender, client);

		for (size_t i = 0; i < n && !member; i++)
			member = strcmp(cand[i], entries[k].text) == 0;
		if (match != member)
			ck_abort_msg("%s: entry \"%s\": match %d but candidate %d",
				     label, entries[k].text, match, member);
	}
}

START_TEST(test_listentry_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	size_t	len = c->len == LEN_AUTO ? strlen(c->in) : c->len;
	struct listentry e;
	struct listentry again;
	char	err[256] = "";
	int	ret;

	memset(&e, 0x5a, sizeof(e));
	ret = listentry_parse(c->in, len, &e, err, sizeof(err));
	if (c->kind >= 0) {
		ck_assert_msg(ret == 0, "%s: refused: %s", c->name, err);
		ck_assert_msg(strcmp(e.text, c->want) == 0, "%s: got \"%s\", want \"%s\"",
			      c->name, e.text, c->want);
		ck_assert_msg((int) e.kind == c->kind, "%s: kind %d, want %d", c->name,
			      (int) e.kind, c->kind);
		ck_assert_int_eq(listentry_parse(e.text, strlen(e.text), &again, err, sizeof(err)), 0);
		ck_assert_msg(memcmp(&e, &again, sizeof(e)) == 0, "%s: canonical text re-parses "
			      "differently", c->name);
	} else {
		ck_assert_msg(ret == -1, "%s: accepted as \"%s\"", c->name, e.text);
		ck_assert_msg(strstr(err, c->want) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      c->name, err, c->want);
		ck_assert_str_eq(e.text, "");
		ck_assert_int_eq(listentry_parse(c->in, len, &e, NULL, 0), -1);
	}
}
END_TEST

START_TEST(test_listentry_match)
{
	const struct match_case *c = &match_cases[_i];
	struct listentry e;
	struct address a;
	const struct address *sender;
	char	err[256];

	if (listentry_parse(c->entry, strlen(c->entry), &e, err, sizeof(err)) < 0) {
		/* an entry that cannot be written matches nothing by construction */
		ck_assert_msg(c->want == 0, "%s: entry refused: %s", c->name, err);
		return;
	}
	sender = listentry_test_sender(c->sender, &a);
	ck_assert_msg(listentry_match(&e, sender, c->client) == c->want,
		      "%s: match is not %d", c->name, c->want);
	listentry_test_agree(&e, 1, sender, c->client, c->name);
}
END_TEST

START_TEST(test_listentry_agree_fixed)
{
	struct listentry entries[NELEM(agree_entries)];
	struct address a;
	char	err[256];
	char	label[128];

	for (size_t k = 0; k < NELEM(agree_entries); k++)
		ck_assert_msg(listentry_parse(agree_entries[k], strlen(agree_entries[k]),
					      &entries[k], err, sizeof(err)) == 0,
			      "entry %s: %s", agree_entries[k], err);
	for (size_t s = 0; s < NELEM(agree_senders); s++) {
		for (size_t c = 0; c < NELEM(agree_clients); c++) {
			const struct address *sender = listentry_test_sender(agree_senders[s], &a);

			snprintf(label, sizeof(label), "%s / %s",
				 agree_senders[s] ? agree_senders[s] : "(none)",
				 agree_clients[c] ? agree_clients[c] : "(none)");
			listentry_test_agree(entries, NELEM(agree_entries), sender,
					     agree_clients[c], label);
		}
	}
}
END_TEST

/* listentry_test_rand - xorshift64: fixed seed, same run every time */
static uint64_t
listentry_test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* listentry_test_domain - 1 to 4 labels from a small set, so that they collide */
static void
listentry_test_domain(uint64_t *rs, char *buf, size_t len)
{
	static const char *const labels[] = {"a", "b", "ab", "example", "org"};
	size_t	n = 1 + listentry_test_rand(rs) % 4;
	size_t	used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t) snprintf(buf + used, len - used, "%s%s", i ? "." : "",
					  labels[listentry_test_rand(rs) % NELEM(labels)]);
}

/* listentry_test_ip - an address near 192.0.2.0 or 2001:db8:: so that networks collide */
static void
listentry_test_ip(uint64_t *rs, int family, char *buf, size_t len)
{
	unsigned char addr[16] = {0};
	uint64_t r = listentry_test_rand(rs);

	if (family == AF_INET) {
		addr[0] = 192;
		addr[1] = (unsigned char) (r & 1);
		addr[2] = (unsigned char) ((r >> 1) & 3);
		addr[3] = (unsigned char) (r >> 8);
	} else {
		addr[0] = 0x20;
		addr[1] = 0x01;
		addr[2] = 0x0d;
		addr[3] = 0xb8;
		addr[4] = (unsigned char) ((r >> 16) & 1);
		addr[15] = (unsigned char) (r >> 24);
		addr[14] = (unsigned char) ((r >> 32) & 3);
	}
	ck_assert_ptr_nonnull(inet_ntop(family, addr, buf, (socklen_t) len));
}

/* listentry_test_network - "ADDR/P" with the host bits cleared, worked out here, not by the parser */
static void
listentry_test_network(int family, const char *ip, unsigned p, char *out, size_t len)
{
	unsigned char addr[16] = {0};
	char	net[INET6_ADDRSTRLEN];
	unsigned bits = family == AF_INET ? 32 : 128;

	ck_assert_int_eq(inet_pton(family, ip, addr), 1);
	for (unsigned b = p; b < bits; b++)
		addr[b / 8] &= (unsigned char) ~(0x80u >> (b % 8));
	ck_assert_ptr_nonnull(inet_ntop(family, addr, net, sizeof(net)));
	snprintf(out, len, "%s/%u", net, p);
}

START_TEST(test_listentry_agree_random)
{
	enum { ROUNDS = 300, ENTRIES = 40 };
	uint64_t rs = 0x9e3779b97f4a7c15ULL;
	struct listentry entries[ENTRIES];
	struct address a;
	char	text[LISTENTRY_TEXT_MAX];
	char	dom[128];
	char	ip[INET6_ADDRSTRLEN];
	char	err[256];
	char	label[400];

	for (int round = 0; round < ROUNDS; round++) {
		int	family = (listentry_test_rand(&rs) & 1) ? AF_INET : AF_INET6;
		size_t	n = 0;

		/* entries: domains of each kind, and networks made from nearby addresses */
		while (n < ENTRIES) {
			uint64_t kind = listentry_test_rand(&rs) % 4;

			listentry_test_domain(&rs, dom, sizeof(dom));
			if (kind == 0) {
				snprintf(text, sizeof(text), "%s@%s",
					 (listentry_test_rand(&rs) & 1) ? "bob" : "alice", dom);
			} else if (kind == 1 || kind == 2) {
				snprintf(text, sizeof(text), "%c%s", kind == 1 ? '@' : '.', dom);
			} else {
				unsigned bits = family == AF_INET ? 32 : 128;
				unsigned p = (unsigned) (listentry_test_rand(&rs) % (bits + 1));

				listentry_test_ip(&rs, family, ip, sizeof(ip));
				listentry_test_network(family, ip, p, text, sizeof(text));
			}
			ck_assert_msg(listentry_parse(text, strlen(text), &entries[n], err,
						      sizeof(err)) == 0, "entry %s: %s", text, err);
			n++;
		}
		/* a sender and a client near them */
		listentry_test_domain(&rs, dom, sizeof(dom));
		snprintf(text, sizeof(text), "%s@%s",
			 (listentry_test_rand(&rs) & 1) ? "Bob" : "alice", dom);
		listentry_test_ip(&rs, family, ip, sizeof(ip));
		snprintf(label, sizeof(label), "round %d: %s / %s", round, text, ip);
		listentry_test_agree(entries, n, listentry_test_sender(text, &a), ip, label);
	}
}
END_TEST

START_TEST(test_listentry_candidates_bound)
{
	static char cand[LISTENTRY_CANDIDATES_MAX + 1][LISTENTRY_TEXT_MAX];
	char	text[ADDRESS_TEXT_MAX];
	struct address a;
	char   *p = text;
	size_t	n;

	/* the most candidates there can be: a 128-label domain and an IPv6 client */
	p += sprintf(p, "bob@");
	for (int i = 0; i < 128; i++)
		p += sprintf(p, i ? ".a" : "a");
	ck_assert_uint_eq(strlen(text) - 4, ADDRESS_DOMAIN_MAX);
	ck_assert_int_eq(address_parse(text, strlen(text), &a, NULL, 0), 0);
	n = listentry_candidates(&a, "2001:db8::1", cand, LISTENTRY_CANDIDATES_MAX + 1);
	ck_assert_uint_eq(n, LISTENTRY_CANDIDATES_MAX);
	ck_assert_str_eq(cand[0], text);
	ck_assert_str_eq(cand[1], "@a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
			 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
			 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
			 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a");
	ck_assert_str_eq(cand[129], ".a");
	ck_assert_str_eq(cand[130], "2001:db8::1");
	ck_assert_str_eq(cand[131], "2001:db8::/127");
	ck_assert_str_eq(cand[LISTENTRY_CANDIDATES_MAX - 1], "::/0");

	/* too small an array: the count says so, nothing is written past it */
	memset(cand, 'Z', sizeof(cand));
	n = listentry_candidates(&a, "192.0.2.1", cand, 3);
	ck_assert_uint_eq(n, 2 + 128 + 33);
	ck_assert_str_eq(cand[2], ".a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
			 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
			 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
			 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a");
	ck_assert_int_eq(cand[3][0], 'Z');

	/* nothing to match on: no candidates */
	ck_assert_uint_eq(listentry_candidates(NULL, NULL, cand, LISTENTRY_CANDIDATES_MAX), 0);
	ck_assert_int_eq(address_parse("<>", 2, &a, NULL, 0), 0);
	ck_assert_uint_eq(listentry_candidates(&a, "not an ip", cand, LISTENTRY_CANDIDATES_MAX), 0);
	/* an IPv4 client has 33, an IPv4-mapped one the same 33 */
	ck_assert_uint_eq(listentry_candidates(&a, "192.0.2.1", cand, LISTENTRY_CANDIDATES_MAX), 33);
	ck_assert_str_eq(cand[0], "192.0.2.1");
	ck_assert_str_eq(cand[1], "192.0.2.0/31");
	ck_assert_str_eq(cand[8], "192.0.2.0/24");
	ck_assert_str_eq(cand[32], "0.0.0.0/0");
	ck_assert_uint_eq(listentry_candidates(&a, "::ffff:192.0.2.1", cand,
					       LISTENTRY_CANDIDATES_MAX), 33);
	ck_assert_str_eq(cand[0], "192.0.2.1");
}
END_TEST

START_TEST(test_listentry_candidates_sender)
{
	static char cand[LISTENTRY_CANDIDATES_MAX][LISTENTRY_TEXT_MAX];
	static const char *const want[] = {
		"bob@a.b.example.org", "@a.b.example.org", ".a.b.example.org",
		".b.example.org", ".example.org", ".org",
	};
	struct address a;
	size_t	n;

	ck_assert_int_eq(address_parse("Bob@A.B.Example.org", 19, &a, NULL, 0), 0);
	n = listentry_candidates(&a, NULL, cand, LISTENTRY_CANDIDATES_MAX);
	ck_assert_uint_eq(n, NELEM(want));
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(cand[i], want[i]);

	/* an address-literal domain: the full address only */
	ck_assert_int_eq(address_parse("bob@[192.0.2.1]", 15, &a, NULL, 0), 0);
	ck_assert_uint_eq(listentry_candidates(&a, NULL, cand, LISTENTRY_CANDIDATES_MAX), 1);
	ck_assert_str_eq(cand[0], "bob@[192.0.2.1]");
}
END_TEST

/* listentry_suite - tables, then the agreement checks */
static Suite *
listentry_suite(void)
{
	Suite  *s = suite_create("listentry");
	TCase  *tp = tcase_create("parse");
	TCase  *tm = tcase_create("match");

	tcase_add_loop_test(tp, test_listentry_parse, 0, (int) NPARSE);
	suite_add_tcase(s, tp);
	tcase_add_loop_test(tm, test_listentry_match, 0, (int) NMATCH);
	tcase_add_test(tm, test_listentry_agree_fixed);
	tcase_add_test(tm, test_listentry_agree_random);
	tcase_add_test(tm, test_listentry_candidates_bound);
	tcase_add_test(tm, test_listentry_candidates_sender);
	tcase_set_timeout(tm, 60);
	suite_add_tcase(s, tm);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int	failed;

	listentry_test_fill();
	sr = srunner_create(listentry_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
