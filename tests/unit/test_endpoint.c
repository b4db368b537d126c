/*
 * test_endpoint.c - socket strings, DNS servers and host:port: named cases,
 * input -> parsed fields and the main.cf form back, or the substring the
 * error must contain.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))

/* A path one byte over sun_path, and one that just fits. */
#define P100	"/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
#define PATH_107	P100 "abcdef"
#define PATH_108	P100 "abcdefg"
#define LABEL_63	"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"

static const struct {
	const char *label;
	const char *input;
	enum endpoint_kind kind;	/* expected, when errsub is NULL */
	const char *host;
	unsigned port;
	const char *path;
	const char *format;		/* endpoint_format gives this back */
	const char *errsub;		/* NULL: must parse */
}	ep_cases[] = {
	{"ipv4", "inet:127.0.0.1:10027", ENDPOINT_INET, "127.0.0.1", 10027, "",
	"inet:127.0.0.1:10027", NULL},
	{"ipv6 bracketed", "inet:[::1]:10027", ENDPOINT_INET, "::1", 10027, "",
	"inet:[::1]:10027", NULL},
	{"ipv6 full", "inet:[2001:db8::25]:25", ENDPOINT_INET, "2001:db8::25", 25, "",
	"inet:[2001:db8::25]:25", NULL},
	{"host name", "inet:localhost:10027", ENDPOINT_INET, "localhost", 10027, "",
	"inet:localhost:10027", NULL},
	{"fqdn", "inet:spamd.example.com:783", ENDPOINT_INET, "spamd.example.com", 783, "",
	"inet:spamd.example.com:783", NULL},
	{"any address", "inet:0.0.0.0:9427", ENDPOINT_INET, "0.0.0.0", 9427, "",
	"inet:0.0.0.0:9427", NULL},
	{"port 1", "inet:127.0.0.1:1", ENDPOINT_INET, "127.0.0.1", 1, "", "inet:127.0.0.1:1", NULL},
	{"port 65535", "inet:127.0.0.1:65535", ENDPOINT_INET, "127.0.0.1", 65535, "",
	"inet:127.0.0.1:65535", NULL},
	{"unix", "unix:/run/mhkit/policy.sock", ENDPOINT_UNIX, "", 0, "/run/mhkit/policy.sock",
	"unix:/run/mhkit/policy.sock", NULL},
	{"unix longest", "unix:" PATH_107, ENDPOINT_UNIX, "", 0, PATH_107, "unix:" PATH_107, NULL},
	{"empty is none", "", ENDPOINT_NONE, "", 0, "", "", NULL},

	{"ipv6 unbracketed", "inet:::1:25", 0, 0, 0, 0, 0,
	"bad socket \"inet:::1:25\": an IPv6 address must be in brackets (inet:[::1]:25)"},
	{"missing port", "inet:127.0.0.1", 0, 0, 0, 0, 0, "missing port"},
	{"empty port", "inet:127.0.0.1:", 0, 0, 0, 0, 0, "missing port"},
	{"port only", "inet:10027", 0, 0, 0, 0, 0, "missing port"},
	{"port 0", "inet:127.0.0.1:0", 0, 0, 0, 0, 0, "port must be a number 1..65535"},
	{"port 65536", "inet:127.0.0.1:65536", 0, 0, 0, 0, 0, "port must be a number 1..65535"},
	{"port 20 digits", "inet:127.0.0.1:99999999999999999999", 0, 0, 0, 0, 0,
	"port must be a number"},
	{"port signed", "inet:127.0.0.1:+25", 0, 0, 0, 0, 0, "port must be a number"},
	{"port name", "inet:127.0.0.1:smtp", 0, 0, 0, 0, 0, "port must be a number"},
	{"missing host", "inet::25", 0, 0, 0, 0, 0, "missing host"},
	{"bad host", "inet:mail_host:25", 0, 0, 0, 0, 0, "not an IPv4 address or host name"},
	{"bad ipv4", "inet:999.1.1.1:25", 0, 0, 0, 0, 0, "not an IPv4 address or host name"},
	{"host with space", "inet:a b:25", 0, 0, 0, 0, 0, "not an IPv4 address or host name"},
	{"bad ipv6 in brackets", "inet:[example.com]:25", 0, 0, 0, 0, 0,
	"not an IPv6 address in brackets"},
	{"unclosed bracket", "inet:[::1:25", 0, 0, 0, 0, 0, "missing ]"},
	{"nothing after bracket", "inet:[::1]", 0, 0, 0, 0, 0, "missing port"},
	{"garbage after bracket", "inet:[::1]x25", 0, 0, 0, 0, 0, "expected :PORT after ]"},
	{"unix relative", "unix:private/policy", 0, 0, 0, 0, 0, "path must be absolute"},
	{"unix empty", "unix:", 0, 0, 0, 0, 0, "missing path"},
	{"unix too long", "unix:" PATH_108, 0, 0, 0, 0, 0, "path too long for a unix socket"},
	{"unix control", "unix:/run/a\nb", 0, 0, 0, 0, 0, "path has control characters"},
	{"unknown type", "tcp:127.0.0.1:25", 0, 0, 0, 0, 0, "unknown socket type"},
	{"inet6 is not postfix", "inet6:[::1]:25", 0, 0, 0, 0, 0, "unknown socket type"},
	{"upper case type", "INET:127.0.0.1:25", 0, 0, 0, 0, 0, "unknown socket type"},
	{"no type", "/run/x.sock", 0, 0, 0, 0, 0, "missing inet: or unix:"},
	{"garbage", "garbage", 0, 0, 0, 0, 0, "bad socket \"garbage\""},
	{"sendmail form", "inet:10027@127.0.0.1", 0, 0, 0, 0, 0, "missing port"},
	{"control chars quoted", "x\r\ny", 0, 0, 0, 0, 0, "bad socket \"x??y\""},
};

START_TEST(test_endpoint_parse)
{
	struct endpoint ep;
	char	err[512] = "";
	char	buf[ENDPOINT_FORMAT_MAX];
	int	ret;

	memset(&ep, 0x55, sizeof(ep));
	ret = endpoint_parse(ep_cases[_i].input, &ep, err, sizeof(err));
	if (ep_cases[_i].errsub == NULL) {
		ck_assert_msg(ret == 0, "%s: failed: %s", ep_cases[_i].label, err);
		ck_assert_int_eq(ep.kind, ep_cases[_i].kind);
		ck_assert_str_eq(ep.host, ep_cases[_i].host);
		ck_assert_uint_eq(ep.port, ep_cases[_i].port);
		ck_assert_str_eq(ep.path, ep_cases[_i].path);
		ck_assert_str_eq(endpoint_format(&ep, buf, sizeof(buf)), ep_cases[_i].format);
	} else {
		ck_assert_msg(ret == -1, "%s: accepted", ep_cases[_i].label);
		ck_assert_msg(strstr(err, ep_cases[_i].errsub) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      ep_cases[_i].label, err, ep_cases[_i].errsub);
		ck_assert_msg(strchr(err, '\n') == NULL, "%s: newline in error", ep_cases[_i].label);
	}
}
END_TEST

/* test_host_length - the host bound is checked, never truncated */
START_TEST(test_host_length)
{
	char	text[600];
	char	err[512];
	struct endpoint ep;

	/* 4 labels of 63 + dots = 255 bytes: over the 253 of a DNS name */
	snprintf(text, sizeof(text), "inet:%s.%s.%s.%s:25", LABEL_63, LABEL_63, LABEL_63, LABEL_63);
	ck_assert_int_eq(endpoint_parse(text, &ep, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not an IPv4 address or host name"));
	/* 256 bytes of host: over ENDPOINT_HOST_MAX */
	snprintf(text, sizeof(text), "inet:%s.%s.%s.%s1:25", LABEL_63, LABEL_63, LABEL_63, LABEL_63);
	ck_assert_int_eq(endpoint_parse(text, &ep, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "host name too long"));
	/* 3 labels of 63: fine */
	snprintf(text, sizeof(text), "inet:%s.%s.%s:25", LABEL_63, LABEL_63, LABEL_63);
	ck_assert_int_eq(endpoint_parse(text, &ep, err, sizeof(err)), 0);
	/* a label of 64 */
	snprintf(text, sizeof(text), "inet:%sd.example:25", LABEL_63);
	ck_assert_int_eq(endpoint_parse(text, &ep, err, sizeof(err)), -1);
	/* the whole string over ENDPOINT_TEXT_MAX */
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	memcpy(text, "inet:", 5);
	ck_assert_int_eq(endpoint_parse(text, &ep, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_uint_le(strlen(err), 200);
}
END_TEST

static const struct {
	const char *label;
	const char *input;
	const char *host;
	unsigned port;
	const char *format;
	const char *errsub;
}	dns_cases[] = {
	{"ipv4", "127.0.0.1", "127.0.0.1", 0, "127.0.0.1", NULL},
	{"ipv4 port", "127.0.0.1@5353", "127.0.0.1", 5353, "127.0.0.1@5353", NULL},
	{"ipv6", "::1", "::1", 0, "::1", NULL},
	{"ipv6 port", "::1@5353", "::1", 5353, "::1@5353", NULL},
	{"ipv6 long", "2001:db8::53@53", "2001:db8::53", 53, "2001:db8::53@53", NULL},
	{"host name", "localhost", 0, 0, 0, "bad DNS server \"localhost\": not an IP address"},
	{"empty", "", 0, 0, 0, "empty value"},
	{"port 0", "127.0.0.1@0", 0, 0, 0, "port after @ must be a number 1..65535"},
	{"port too big", "127.0.0.1@70000", 0, 0, 0, "port after @ must be a number"},
	{"empty port", "127.0.0.1@", 0, 0, 0, "port after @ must be a number"},
	{"no address", "@53", 0, 0, 0, "missing address before @"},
	{"colon port", "127.0.0.1:53", 0, 0, 0, "not an IP address"},
	{"brackets", "[::1]@53", 0, 0, 0, "not an IP address"},
	{"space", "127.0.0.1 ", 0, 0, 0, "not an IP address"},
	{"too long", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa", 0, 0, 0,
	"not an IP address"},
};

START_TEST(test_dnsserver)
{
	struct hostport hp;
	char	err[512] = "";
	char	buf[ENDPOINT_FORMAT_MAX];
	int	ret = dnsserver_parse(dns_cases[_i].input, &hp, err, sizeof(err));

	if (dns_cases[_i].errsub == NULL) {
		ck_assert_msg(ret == 0, "%s: failed: %s", dns_cases[_i].label, err);
		ck_assert_str_eq(hp.host, dns_cases[_i].host);
		ck_assert_uint_eq(hp.port, dns_cases[_i].port);
		ck_assert_str_eq(dnsserver_format(&hp, buf, sizeof(buf)), dns_cases[_i].format);
	} else {
		ck_assert_msg(ret == -1, "%s: accepted", dns_cases[_i].label);
		ck_assert_msg(strstr(err, dns_cases[_i].errsub) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      dns_cases[_i].label, err, dns_cases[_i].errsub);
	}
}
END_TEST

static const struct {
	const char *label;
	const char *input;
	const char *host;
	unsigned port;
	const char *format;
	const char *errsub;
}	hp_cases[] = {
	{"host", "sentinel1.example.com", "sentinel1.example.com", 26379,
	"sentinel1.example.com:26379", NULL},
	{"host port", "10.0.0.1:26380", "10.0.0.1", 26380, "10.0.0.1:26380", NULL},
	{"ipv4 default", "10.0.0.2", "10.0.0.2", 26379, "10.0.0.2:26379", NULL},
	{"ipv6 port", "[::1]:5000", "::1", 5000, "[::1]:5000", NULL},
	{"ipv6 brackets no port", "[2001:db8::1]", "2001:db8::1", 26379, "[2001:db8::1]:26379", NULL},
	{"bare ipv6", "2001:db8::1", "2001:db8::1", 26379, "[2001:db8::1]:26379", NULL},
	{"bare loopback", "::1", "::1", 26379, "[::1]:26379", NULL},
	{"empty", "", 0, 0, 0, "bad host:port \"\": empty value"},
	{"port 0", "10.0.0.1:0", 0, 0, 0, "port must be a number 1..65535"},
	{"port too big", "10.0.0.1:65536", 0, 0, 0, "port must be a number"},
	{"empty port", "10.0.0.1:", 0, 0, 0, "port must be a number"},
	{"missing host", ":26379", 0, 0, 0, "missing host"},
	{"bad host", "bad_host:1", 0, 0, 0, "not an IPv4 address or host name"},
	{"bad bare ipv6", "::1:26379:x", 0, 0, 0, "not an IPv6 address"},
	{"unclosed", "[::1:5000", 0, 0, 0, "missing ]"},
	{"garbage after ]", "[::1]5000", 0, 0, 0, "expected :PORT after ]"},
	{"not v6 in brackets", "[host]:1", 0, 0, 0, "not an IPv6 address in brackets"},
};

START_TEST(test_hostport)
{
	struct hostport hp;
	char	err[512] = "";
	char	buf[ENDPOINT_FORMAT_MAX];
	int	ret = hostport_parse(hp_cases[_i].input, 26379, &hp, err, sizeof(err));

	if (hp_cases[_i].errsub == NULL) {
		ck_assert_msg(ret == 0, "%s: failed: %s", hp_cases[_i].label, err);
		ck_assert_str_eq(hp.host, hp_cases[_i].host);
		ck_assert_uint_eq(hp.port, hp_cases[_i].port);
		ck_assert_str_eq(hostport_format(&hp, buf, sizeof(buf)), hp_cases[_i].format);
	} else {
		ck_assert_msg(ret == -1, "%s: accepted", hp_cases[_i].label);
		ck_assert_msg(strstr(err, hp_cases[_i].errsub) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      hp_cases[_i].label, err, hp_cases[_i].errsub);
	}
}
END_TEST

/* test_hostport_no_default - port 0 means "not given" and formats as the host alone */
START_TEST(test_hostport_no_default)
{
	struct hostport hp;
	char	err[256];
	char	buf[ENDPOINT_FORMAT_MAX];

	ck_assert_int_eq(hostport_parse("mx.example.com", 0, &hp, err, sizeof(err)), 0);
	ck_assert_uint_eq(hp.port, 0);
	ck_assert_str_eq(hostport_format(&hp, buf, sizeof(buf)), "mx.example.com");
}
END_TEST

static const struct {
	const char *name;
	int	valid;
}	name_cases[] = {
	{"localhost", 1}, {"mx1.example.com", 1}, {"a-b.example", 1}, {"xn--bcher-kva.example", 1},
	{"1.example.com", 1}, {"EXAMPLE.COM", 1}, {LABEL_63 ".example", 1},
	{"", 0}, {".", 0}, {"example.com.", 0}, {".example.com", 0}, {"a..b", 0},
	{"-a.example", 0}, {"a-.example", 0}, {"a_b.example", 0}, {"a b", 0},
	{"127.0.0.1", 0}, {"example.123", 0}, {LABEL_63 "d.example", 0}, {"::1", 0},
};

START_TEST(test_hostname_valid)
{
	ck_assert_msg(hostname_valid(name_cases[_i].name) == name_cases[_i].valid,
		      "\"%s\" should be %s", name_cases[_i].name,
		      name_cases[_i].valid ? "valid" : "invalid");
}
END_TEST

static Suite *
endpoint_suite(void)
{
	Suite  *s = suite_create("endpoint");
	TCase  *tc = tcase_create("endpoint");

	tcase_add_loop_test(tc, test_endpoint_parse, 0, COUNT(ep_cases));
	tcase_add_test(tc, test_host_length);
	tcase_add_loop_test(tc, test_dnsserver, 0, COUNT(dns_cases));
	tcase_add_loop_test(tc, test_hostport, 0, COUNT(hp_cases));
	tcase_add_test(tc, test_hostport_no_default);
	tcase_add_loop_test(tc, test_hostname_valid, 0, COUNT(name_cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(endpoint_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
