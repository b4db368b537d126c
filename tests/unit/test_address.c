/*
 * test_address.c - address.c: mailbox, local part, domain and host name
 * parsing, canonical forms and every rejection, from one table of named
 * cases. Each accepted case is also re-parsed from its canonical text,
 * which must come back unchanged; each rejected case is also run with no
 * error buffer and with a tiny one.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

enum address_which {
	PARSE_ADDRESS,			/* address_parse + address_format */
	PARSE_LOCAL,			/* address_parse_local */
	PARSE_DOMAIN,			/* address_parse_domain */
	PARSE_HOST			/* address_parse_hostname */
};

#define LEN_AUTO	((size_t) -1)	/* strlen of a buffer filled at start-up */
#define S(s)		s, sizeof(s) - 1	/* literal with its exact length, NULs included */
#define G(buf)		buf, LEN_AUTO

/* Long inputs at and one past each limit, filled by address_test_fill(). */
static char a_local64[128], a_local65[128];
static char a_quoted64[128], a_quoted65[128];
static char a_dots62[128], a_dots62_want[128], a_dots63[128];
static char a_dom255[300], a_dom255dot[300], a_dom256[300];
static char a_label63[128], a_label64[128];
static char l_local64[128], l_local65[128];
static char d_dom255[300], d_dom255dot[300], d_dom256[300];
static char d_label63[128], d_label64[128];

struct address_case {
	const char *name;
	enum address_which which;
	const char *in;
	size_t	len;
	const char *want;		/* canonical text; NULL when an error is expected */
	const char *err;		/* substring of the error */
};

static const struct address_case address_cases[] = {
	/* mailboxes accepted */
	{"plain", PARSE_ADDRESS, S("bob@example.org"), "bob@example.org", NULL},
	{"angle brackets", PARSE_ADDRESS, S("<bob@example.org>"), "bob@example.org", NULL},
	{"case folded", PARSE_ADDRESS, S("Bob@Example.ORG"), "bob@example.org", NULL},
	{"trailing dot dropped", PARSE_ADDRESS, S("bob@example.org."), "bob@example.org", NULL},
	{"plus tag kept", PARSE_ADDRESS, S("bob+tag@x.org"), "bob+tag@x.org", NULL},
	{"dotted local", PARSE_ADDRESS, S("bob.smith@x.org"), "bob.smith@x.org", NULL},
	{"atext specials", PARSE_ADDRESS, S("a!#$%&'*+-/=?^_`{|}~b@x.org"),
	"a!#$%&'*+-/=?^_`{|}~b@x.org", NULL},
	{"quoted with space", PARSE_ADDRESS, S("\"john doe\"@example.org"),
	"\"john doe\"@example.org", NULL},
	{"quoted case folded", PARSE_ADDRESS, S("\"John Doe\"@Example.org"),
	"\"john doe\"@example.org", NULL},
	{"quoted dot-atom unquoted", PARSE_ADDRESS, S("\"bob\"@x.org"), "bob@x.org", NULL},
	{"quoted dotted unquoted", PARSE_ADDRESS, S("\"Bob.Smith\"@x.org"), "bob.smith@x.org", NULL},
	{"escaped quote kept", PARSE_ADDRESS, S("\"a\\\"b\"@x.org"), "\"a\\\"b\"@x.org", NULL},
	{"escaped backslash kept", PARSE_ADDRESS, S("\"a\\\\b\"@x.org"), "\"a\\\\b\"@x.org", NULL},
	{"needless escape dropped", PARSE_ADDRESS, S("\"a\\b\"@x.org"), "ab@x.org", NULL},
	{"escaped space unescaped", PARSE_ADDRESS, S("\"a\\ b\"@x.org"), "\"a b\"@x.org", NULL},
	{"quoted at sign", PARSE_ADDRESS, S("\"a@b\"@x.org"), "\"a@b\"@x.org", NULL},
	{"quoted > in brackets", PARSE_ADDRESS, S("<\"a>b\"@x.org>"), "\"a>b\"@x.org", NULL},
	{"leading dot quoted", PARSE_ADDRESS, S(".bob@x.org"), "\".bob\"@x.org", NULL},
	{"trailing dot quoted", PARSE_ADDRESS, S("foo.@docomo.ne.jp"), "\"foo.\"@docomo.ne.jp", NULL},
	{"double dot quoted", PARSE_ADDRESS, S("foo..bar@x.org"), "\"foo..bar\"@x.org", NULL},
	{"quoted odd dots same", PARSE_ADDRESS, S("\"foo.\"@x.org"), "\"foo.\"@x.org", NULL},
	{"ipv4 literal", PARSE_ADDRESS, S("bob@[192.0.2.1]"), "bob@[192.0.2.1]", NULL},
	{"ipv6 literal", PARSE_ADDRESS, S("bob@[IPv6:2001:DB8::1]"), "bob@[ipv6:2001:db8::1]", NULL},
	{"ipv6 literal long form", PARSE_ADDRESS, S("bob@[ipv6:2001:db8:0:0:0:0:0:1]"),
	"bob@[ipv6:2001:db8::1]", NULL},
	{"source route", PARSE_ADDRESS, S("<@a.example,@b.example:bob@x.org>"), "bob@x.org", NULL},
	{"source route one hop", PARSE_ADDRESS, S("<@relay.example:Bob@X.org>"), "bob@x.org", NULL},
	{"null sender", PARSE_ADDRESS, S("<>"), "", NULL},
	{"empty is null sender", PARSE_ADDRESS, S(""), "", NULL},
	{"single label domain", PARSE_ADDRESS, S("bob@localhost"), "bob@localhost", NULL},
	{"hyphen in label", PARSE_ADDRESS, S("bob@a-b.example.org"), "bob@a-b.example.org", NULL},
	{"punycode label", PARSE_ADDRESS, S("bob@xn--bcher-kva.example"),
	"bob@xn--bcher-kva.example", NULL},
	{"digits not last", PARSE_ADDRESS, S("bob@123.example.org"), "bob@123.example.org", NULL},
	{"local 64 bytes", PARSE_ADDRESS, G(a_local64), a_local64, NULL},
	{"quoted local 64 bytes", PARSE_ADDRESS, G(a_quoted64), a_quoted64, NULL},
	{"odd dots 62 quoted to 64", PARSE_ADDRESS, G(a_dots62), a_dots62_want, NULL},
	{"domain 255 bytes", PARSE_ADDRESS, G(a_dom255), a_dom255, NULL},
	{"domain 255 bytes and dot", PARSE_ADDRESS, G(a_dom255dot), a_dom255, NULL},
	{"label 63 bytes", PARSE_ADDRESS, G(a_label63), a_label63, NULL},

	/* mailboxes refused */
	{"no at", PARSE_ADDRESS, S("bob"), NULL, "no '@' in address"},
	{"no at quoted", PARSE_ADDRESS, S("\"john doe\""), NULL, "no '@' in address"},
	{"empty local", PARSE_ADDRESS, S("@x.org"), NULL, "empty local part"},
	{"empty quoted local", PARSE_ADDRESS, S("\"\"@x.org"), NULL, "empty local part"},
	{"bracketed no local", PARSE_ADDRESS, S("<@x.org>"), NULL, "empty local part"},
	{"empty domain", PARSE_ADDRESS, S("bob@"), NULL, "empty domain"},
	{"domain just a dot", PARSE_ADDRESS, S("bob@."), NULL, "empty domain"},
	{"empty label", PARSE_ADDRESS, S("bob@a..b"), NULL, "empty label in domain"},
	{"leading dot domain", PARSE_ADDRESS, S("bob@.x.org"), NULL, "empty label in domain"},
	{"two trailing dots", PARSE_ADDRESS, S("bob@x.org.."), NULL, "empty label in domain"},
	{"label starts with hyphen", PARSE_ADDRESS, S("bob@-x.org"), NULL,
	"domain label starts with '-'"},
	{"label ends with hyphen", PARSE_ADDRESS, S("bob@x-.org"), NULL,
	"domain label ends with '-'"},
	{"underscore in domain", PARSE_ADDRESS, S("bob@a_b.org"), NULL,
	"invalid character '_' in domain"},
	{"two at signs", PARSE_ADDRESS, S("a@b@c.org"), NULL, "invalid character '@' in domain"},
	{"space in local", PARSE_ADDRESS, S("bob smith@x.org"), NULL,
	"invalid character ' ' in local part"},
	{"comment", PARSE_ADDRESS, S("bob(home)@x.org"), NULL, "invalid character '(' in local part"},
	{"leading space", PARSE_ADDRESS, S(" bob@x.org"), NULL, "invalid character ' ' in local part"},
	{"trailing garbage", PARSE_ADDRESS, S("bob@x.org foo"), NULL, "invalid character ' ' in domain"},
	{"garbage after >", PARSE_ADDRESS, S("<bob@x.org> foo"), NULL, "text after closing '>'"},
	{"missing >", PARSE_ADDRESS, S("<bob@x.org"), NULL, "missing closing '>'"},
	{"stray >", PARSE_ADDRESS, S("bob@x.org>"), NULL, "invalid character '>' in domain"},
	{"unbalanced quote", PARSE_ADDRESS, S("\"bob@x.org"), NULL, "unbalanced quotes"},
	{"unbalanced quote bracketed", PARSE_ADDRESS, S("<\"bob@x.org>"), NULL, "unbalanced quotes"},
	{"escape at end", PARSE_ADDRESS, S("\"bob\\"), NULL, "unbalanced quotes"},
	{"text after quote", PARSE_ADDRESS, S("\"bob\"x@x.org"), NULL,
	"text after the closing quote"},
	{"all-digit top label", PARSE_ADDRESS, S("bob@192.0.2.1"), NULL, "all digits"},
	{"literal unclosed", PARSE_ADDRESS, S("bob@[192.0.2.1"), NULL, "without closing ']'"},
	{"literal bad ipv4", PARSE_ADDRESS, S("bob@[192.0.2.256]"), NULL,
	"invalid IPv4 address literal"},
	{"literal empty", PARSE_ADDRESS, S("bob@[]"), NULL, "invalid IPv4 address literal"},
	{"literal ipv6 untagged", PARSE_ADDRESS, S("bob@[2001:db8::1]"), NULL, "IPv6: tag"},
	{"literal bad ipv6", PARSE_ADDRESS, S("bob@[IPv6:2001:db8::g]"), NULL,
	"invalid IPv6 address literal"},
	{"literal general tag", PARSE_ADDRESS, S("bob@[x400:c=us]"), NULL,
	"unsupported address literal"},
	{"literal trailing text", PARSE_ADDRESS, S("bob@[192.0.2.1]x"), NULL, "without closing ']'"},
	{"route outside brackets", PARSE_ADDRESS, S("@a.example:bob@x.org"), NULL,
	"source route outside angle brackets"},
	{"route bad hop", PARSE_ADDRESS, S("<@-a.example:bob@x.org>"), NULL,
	"malformed domain in source route"},
	{"route hop without at", PARSE_ADDRESS, S("<@a.example,b.example:bob@x.org>"), NULL,
	"malformed source route"},
	{"route only", PARSE_ADDRESS, S("<@a.example:>"), NULL, "source route without a mailbox"},
	{"NUL in local", PARSE_ADDRESS, S("bob\0@x.org"), NULL, "NUL byte in address"},
	{"NUL at end", PARSE_ADDRESS, S("bob@x.org\0"), NULL, "NUL byte in address"},
	{"CR at end", PARSE_ADDRESS, S("bob@x.org\r"), NULL, "control character 0x0d in address"},
	{"LF in local", PARSE_ADDRESS, S("bob\n@x.org"), NULL, "control character 0x0a in address"},
	{"CRLF injection", PARSE_ADDRESS, S("bob@x.org\r\nRCPT TO:<a@b>"), NULL,
	"control character 0x0d"},
	{"TAB in quotes", PARSE_ADDRESS, S("\"a\tb\"@x.org"), NULL, "control character 0x09"},
	{"DEL", PARSE_ADDRESS, S("bob\x7f@x.org"), NULL, "control character 0x7f"},
	{"8-bit local", PARSE_ADDRESS, S("b\xc3\xb6" "b@x.org"), NULL,
	"8-bit byte 0xc3 in address (SMTPUTF8 is not supported)"},
	{"8-bit domain", PARSE_ADDRESS, S("bob@b\xc3\xbc" "cher.de"), NULL, "8-bit byte 0xc3"},
	{"local 65 bytes", PARSE_ADDRESS, G(a_local65), NULL, "local part longer than 64 bytes"},
	{"quoted local 65 bytes", PARSE_ADDRESS, G(a_quoted65), NULL,
	"local part longer than 64 bytes"},
	{"odd dots 63 quoted to 65", PARSE_ADDRESS, G(a_dots63), NULL,
	"local part longer than 64 bytes"},
	{"domain 256 bytes", PARSE_ADDRESS, G(a_dom256), NULL, "domain longer than 255 bytes"},
	{"label 64 bytes", PARSE_ADDRESS, G(a_label64), NULL, "domain label longer than 63 bytes"},

	/* local parts alone (user lists) */
	{"local plain", PARSE_LOCAL, S("bob"), "bob", NULL},
	{"local case folded", PARSE_LOCAL, S("Bob.Smith"), "bob.smith", NULL},
	{"local quoted space", PARSE_LOCAL, S("\"John Doe\""), "\"john doe\"", NULL},
	{"local quoted dot-atom", PARSE_LOCAL, S("\"bob\""), "bob", NULL},
	{"local odd dot", PARSE_LOCAL, S("foo."), "\"foo.\"", NULL},
	{"local 64 bytes", PARSE_LOCAL, G(l_local64), l_local64, NULL},
	{"local 65 bytes", PARSE_LOCAL, G(l_local65), NULL, "local part longer than 64 bytes"},
	{"local empty", PARSE_LOCAL, S(""), NULL, "empty local part"},
	{"local empty quotes", PARSE_LOCAL, S("\"\""), NULL, "empty local part"},
	{"local with domain", PARSE_LOCAL, S("bob@x.org"), NULL, "invalid character '@' in local part"},
	{"local trailing space", PARSE_LOCAL, S("bob "), NULL, "invalid character ' ' in local part"},
	{"local text after quote", PARSE_LOCAL, S("\"bob\"x"), NULL, "text after the closing quote"},
	{"local unbalanced quote", PARSE_LOCAL, S("\"bob"), NULL, "unbalanced quotes"},
	{"local NUL", PARSE_LOCAL, S("bo\0b"), NULL, "NUL byte in local part"},
	{"local CR", PARSE_LOCAL, S("bob\r"), NULL, "control character 0x0d in local part"},
	{"local 8-bit", PARSE_LOCAL, S("j\xfcrgen"), NULL, "8-bit byte 0xfc in local part"},

	/* customer domains: two labels at least */
	{"domain plain", PARSE_DOMAIN, S("example.org"), "example.org", NULL},
	{"domain folded, dot", PARSE_DOMAIN, S("Example.ORG."), "example.org", NULL},
	{"domain deep", PARSE_DOMAIN, S("a.b-c.d.example.org"), "a.b-c.d.example.org", NULL},
	{"domain 255 bytes", PARSE_DOMAIN, G(d_dom255), d_dom255, NULL},
	{"domain 255 bytes and dot", PARSE_DOMAIN, G(d_dom255dot), d_dom255, NULL},
	{"domain label 63", PARSE_DOMAIN, G(d_label63), d_label63, NULL},
	{"domain one label", PARSE_DOMAIN, S("localhost"), NULL, "at least 2 labels"},
	{"domain empty", PARSE_DOMAIN, S(""), NULL, "empty domain"},
	{"domain dot", PARSE_DOMAIN, S("."), NULL, "empty domain"},
	{"domain empty label", PARSE_DOMAIN, S("a..example.org"), NULL, "empty label in domain"},
	{"domain leading dot", PARSE_DOMAIN, S(".example.org"), NULL, "empty label in domain"},
	{"domain hyphen start", PARSE_DOMAIN, S("-a.example.org"), NULL, "starts with '-'"},
	{"domain hyphen end", PARSE_DOMAIN, S("a.example-.org"), NULL, "ends with '-'"},
	{"domain 256 bytes", PARSE_DOMAIN, G(d_dom256), NULL, "domain longer than 255 bytes"},
	{"domain label 64", PARSE_DOMAIN, G(d_label64), NULL, "domain label longer than 63 bytes"},
	{"domain space", PARSE_DOMAIN, S("ex ample.org"), NULL, "invalid character ' ' in domain"},
	{"domain literal", PARSE_DOMAIN, S("[192.0.2.1]"), NULL, "invalid character '[' in domain"},
	{"domain address", PARSE_DOMAIN, S("bob@example.org"), NULL, "invalid character '@'"},
	{"domain dotted quad", PARSE_DOMAIN, S("192.0.2.1"), NULL, "all digits"},
	{"domain NUL", PARSE_DOMAIN, S("example.org\0.evil"), NULL, "NUL byte in domain"},
	{"domain LF", PARSE_DOMAIN, S("example.org\n"), NULL, "control character 0x0a in domain"},
	{"domain 8-bit", PARSE_DOMAIN, S("b\xfc" "cher.de"), NULL, "8-bit byte 0xfc in domain"},

	/* host names: one label is fine */
	{"host one label", PARSE_HOST, S("localhost"), "localhost", NULL},
	{"host tld", PARSE_HOST, S("ORG"), "org", NULL},
	{"host fqdn", PARSE_HOST, S("MX1.Example.org."), "mx1.example.org", NULL},
	{"host digits", PARSE_HOST, S("1"), NULL, "all digits"},
	{"host hyphen", PARSE_HOST, S("-mx"), NULL, "starts with '-'"},
	{"host empty", PARSE_HOST, S(""), NULL, "empty domain"},
	{"host NUL", PARSE_HOST, S("mx\0"), NULL, "NUL byte in host name"},
};

#define NCASES	(sizeof(address_cases) / sizeof(address_cases[0]))

/* address_test_rep - n copies of c at p; returns the end */
static char *
address_test_rep(char *p, char c, size_t n)
{
	memset(p, c, n);
	return p + n;
}

/* address_test_str - copy s to p; returns the end */
static char *
address_test_str(char *p, const char *s)
{
	size_t	n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* address_test_domain - labels of the given lengths joined by dots, then tail */
static void
address_test_domain(char *buf, const char *head, const size_t *labels, size_t count,
		    const char *tail)
{
	char   *p = address_test_str(buf, head);

	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			*p++ = '.';
		p = address_test_rep(p, (char) ('a' + i), labels[i]);
	}
	p = address_test_str(p, tail);
	*p = '\0';
}

/* address_test_fill - build the inputs at and just past each limit */
static void
address_test_fill(void)
{
	static const size_t l255[] = {63, 63, 63, 63};
	static const size_t l256[] = {63, 63, 63, 62, 1};
	char   *p;

	*address_test_str(address_test_rep(a_local64, 'a', 64), "@x.org") = '\0';
	*address_test_str(address_test_rep(a_local65, 'a', 65), "@x.org") = '\0';
	/* "a b...b" quoted: 62 bytes inside the quotes + 2 = 64 */
	p = address_test_str(a_quoted64, "\"a ");
	*address_test_str(address_test_rep(p, 'b', 60), "\"@x.org") = '\0';
	p = address_test_str(a_quoted65, "\"a ");
	*address_test_str(address_test_rep(p, 'b', 61), "\"@x.org") = '\0';
	/* a trailing dot forces quotes: 62 bytes become 64, 63 become 65 */
	*address_test_str(address_test_rep(a_dots62, 'a', 61), ".@x.org") = '\0';
	p = address_test_str(a_dots62_want, "\"");
	*address_test_str(address_test_rep(p, 'a', 61), ".\"@x.org") = '\0';
	*address_test_str(address_test_rep(a_dots63, 'a', 62), ".@x.org") = '\0';
	address_test_domain(a_dom255, "b@", l255, 4, "");
	address_test_domain(a_dom255dot, "b@", l255, 4, ".");
	address_test_domain(a_dom256, "b@", l256, 5, "");
	*address_test_str(address_test_rep(address_test_str(a_label63, "b@"), 'a', 63), ".org") = '\0';
	*address_test_str(address_test_rep(address_test_str(a_label64, "b@"), 'a', 64), ".org") = '\0';
	*address_test_rep(l_local64, 'a', 64) = '\0';
	*address_test_rep(l_local65, 'a', 65) = '\0';
	address_test_domain(d_dom255, "", l255, 4, "");
	address_test_domain(d_dom255dot, "", l255, 4, ".");
	address_test_domain(d_dom256, "", l256, 5, "");
	*address_test_str(address_test_rep(d_label63, 'a', 63), ".org") = '\0';
	*address_test_str(address_test_rep(d_label64, 'a', 64), ".org") = '\0';
}

/* address_test_run - parse in with the case's function; canonical text into out */
static int
address_test_run(enum address_which which, const char *in, size_t len,
		 char *out, size_t outlen, char *err, size_t errlen)
{
	struct address a;
	int	ret = -1;

	switch (which) {
	case PARSE_ADDRESS:
		memset(&a, 0x5a, sizeof(a));
		ret = address_parse(in, len, &a, err, errlen);
		if (ret == 0) {
			ck_assert_ptr_nonnull(address_format(&a, out, outlen));
			ck_assert_int_eq(a.null, out[0] == '\0');
			ck_assert_uint_le(strlen(a.local), ADDRESS_LOCAL_MAX);
			ck_assert_uint_le(strlen(a.domain), ADDRESS_DOMAIN_MAX);
		} else {
			/* a failed parse leaves an empty, non-null address */
			ck_assert_int_eq(a.null, 0);
			ck_assert_str_eq(a.local, "");
			ck_assert_str_eq(a.domain, "");
		}
		break;
	case PARSE_LOCAL:
		ret = address_parse_local(in, len, out, outlen, err, errlen);
		break;
	case PARSE_DOMAIN:
		ret = address_parse_domain(in, len, out, outlen, err, errlen);
		break;
	case PARSE_HOST:
		ret = address_parse_hostname(in, len, out, outlen, err, errlen);
		break;
	}
	return ret;
}

START_TEST(test_address_case)
{
	const struct address_case *c = &address_cases[_i];
	size_t	len = c->len == LEN_AUTO ? strlen(c->in) : c->len;
	char	out[ADDRESS_TEXT_MAX];
	char	again[ADDRESS_TEXT_MAX];
	char	err[256] = "";
	char	tiny[4];
	int	ret;

	ret = address_test_run(c->which, c->in, len, out, sizeof(out), err, sizeof(err));
	if (c->want != NULL) {
		ck_assert_msg(ret == 0, "%s: refused: %s", c->name, err);
		ck_assert_msg(strcmp(out, c->want) == 0, "%s: got \"%s\", want \"%s\"",
			      c->name, out, c->want);
		/* canonical text is a fixed point */
		ck_assert_msg(address_test_run(c->which, out, strlen(out), again, sizeof(again),
					       err, sizeof(err)) == 0,
			      "%s: canonical \"%s\" refused: %s", c->name, out, err);
		ck_assert_msg(strcmp(again, out) == 0, "%s: canonical \"%s\" became \"%s\"",
			      c->name, out, again);
	} else {
		ck_assert_msg(ret == -1, "%s: accepted as \"%s\"", c->name, out);
		ck_assert_msg(strstr(err, c->err) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      c->name, err, c->err);
		ck_assert_int_eq(address_test_run(c->which, c->in, len, out, sizeof(out),
						  NULL, 0), -1);
		ck_assert_int_eq(address_test_run(c->which, c->in, len, out, sizeof(out),
						  tiny, sizeof(tiny)), -1);
		ck_assert_uint_lt(strlen(tiny), sizeof(tiny));
	}
}
END_TEST

START_TEST(test_address_format)
{
	struct address a;
	char	buf[ADDRESS_TEXT_MAX];
	char	small[8];

	ck_assert_int_eq(address_parse("<>", 2, &a, NULL, 0), 0);
	ck_assert_int_eq(a.null, 1);
	ck_assert_str_eq(address_format(&a, buf, sizeof(buf)), "");
	ck_assert_ptr_null(address_format(&a, buf, 0));

	ck_assert_int_eq(address_parse("bob@example.org", 15, &a, NULL, 0), 0);
	ck_assert_int_eq(a.null, 0);
	ck_assert_str_eq(a.local, "bob");
	ck_assert_str_eq(a.domain, "example.org");
	ck_assert_int_eq(address_domain_is_literal(&a), 0);
	/* too small a buffer is an error, never a truncated address */
	ck_assert_ptr_null(address_format(&a, small, sizeof(small)));
	ck_assert_ptr_null(address_format(&a, buf, 15));
	ck_assert_str_eq(address_format(&a, buf, 16), "bob@example.org");

	ck_assert_int_eq(address_parse("bob@[192.0.2.1]", 15, &a, NULL, 0), 0);
	ck_assert_int_eq(address_domain_is_literal(&a), 1);
}
END_TEST

START_TEST(test_address_small_output)
{
	char	out[8];
	char	err[128];

	ck_assert_int_eq(address_parse_domain("example.org", 11, out, sizeof(out),
					      err, sizeof(err)), -1);
	ck_assert_str_eq(out, "");
	ck_assert_ptr_nonnull(strstr(err, "output buffer"));
	ck_assert_int_eq(address_parse_local("abcdefghij", 10, out, sizeof(out),
					     err, sizeof(err)), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(address_parse_local("abcdefg", 7, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "abcdefg");
}
END_TEST

START_TEST(test_address_valid_hostname)
{
	ck_assert_int_eq(address_valid_hostname("mx.example.org", 14), 1);
	ck_assert_int_eq(address_valid_hostname("localhost", 9), 1);
	ck_assert_int_eq(address_valid_hostname("mx_1.example.org", 16), 0);
	ck_assert_int_eq(address_valid_hostname("", 0), 0);
	ck_assert_int_eq(address_valid_hostname("192.0.2.1", 9), 0);
	ck_assert_int_eq(address_valid_hostname("mx\0.org", 7), 0);
}
END_TEST

/* address_suite - the table plus the small API checks */
static Suite *
address_suite(void)
{
	Suite  *s = suite_create("address");
	TCase  *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_address_case, 0, (int) NCASES);
	tcase_add_test(tc, test_address_format);
	tcase_add_test(tc, test_address_small_output);
	tcase_add_test(tc, test_address_valid_hostname);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int	failed;

	address_test_fill();
	sr = srunner_create(address_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
