/* test_domain.c - the domain settings table: parse, format, defaults, validation */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "domain.h"

static struct conf *conf;

static const struct domain_case {
	const char *name;		/* case name */
	const char *setting;		/* as typed: "tag-limit" or "tag_limit" */
	const char *value;
	const char *stored;		/* canonical text, NULL = must be refused */
	const char *error;		/* substring of the error when refused */
} domain_cases[] = {
	{"service relay", "service", "relay", "relay", NULL},
	{"service backup", "service", "backup", "backup", NULL},
	{"service bad", "service", "primary", NULL, "must be relay or backup"},
	{"service case", "service", "Relay", NULL, "must be relay or backup"},
	{"dest host lowercased", "dest", "MX.Customer.Example.", "mx.customer.example", NULL},
	{"dest ipv4", "dest", "192.0.2.1", "192.0.2.1", NULL},
	{"dest ipv6 canonical", "dest", "2001:DB8:0:0::1", "2001:db8::1", NULL},
	{"dest bad", "dest", "mx..example", NULL, "dest: bad value"},
	{"dest underscore", "dest", "mx_1.example.com", NULL, "dest: bad value"},
	{"port 2525", "port", "2525", "2525", NULL},
	{"port 1", "port", "1", "1", NULL},
	{"port 65535", "port", "65535", "65535", NULL},
	{"port 0", "port", "0", NULL, "port: bad value \"0\""},
	{"port 65536", "port", "65536", NULL, "port"},
	{"port negative", "port", "-25", NULL, "port"},
	{"port text", "port", "smtp", NULL, "port"},
	{"userlist on", "userlist", "on", "on", NULL},
	{"userlist yes", "userlist", "yes", "on", NULL},
	{"callahead off", "callahead", "off", "off", NULL},
	{"spam false", "spam", "false", "off", NULL},
	{"virus bad", "virus", "maybe", NULL, "must be on or off"},
	{"tag limit dash name", "tag-limit", "6.5", "6.5", NULL},
	{"tag limit integer", "tag_limit", "6", "6.0", NULL},
	{"tag limit negative", "tag_limit", "-2.5", "-2.5", NULL},
	{"tag limit two decimals", "tag_limit", "5.25", "5.25", NULL},
	{"tag limit text", "tag_limit", "high", NULL, "tag_limit: bad value"},
	/* found by tests/fuzz/fuzz_config.c: "%g" stored 1e-05, which did not read back */
	{"tag limit tiny, no exponent", "tag_limit", "0.00001", "0.00001", NULL},
	{"tag limit six decimals", "tag_limit", "5.1234567", "5.123457", NULL},
	{"tag limit at the bound", "tag_limit", "-1000", "-1000.0", NULL},
	/* found by tests/fuzz/fuzz_config.c: the value was quoted raw, newline and all */
	{"tag limit quoted printable", "tag_limit", "5\nwarning: forged", NULL,
		"tag_limit: bad value \"5?warning: forged\""},
	{"discard limit", "discard_limit", "15", "15.0", NULL},
	{"discard action reject", "discard_action", "reject", "reject", NULL},
	{"discard action bounce", "discard_action", "bounce", NULL, "must be discard or reject"},
	{"subject tag", "subject_tag", "[SPAM?]", "[SPAM?]", NULL},
	{"subject tag empty", "subject_tag", "", "", NULL},
	{"subject tag control", "subject_tag", "[SP\tAM]", NULL, "printable ASCII"},
	{"subject tag 8-bit", "subject_tag", "[SP\xc3\xa4M]", NULL, "printable ASCII"},
	{"subject tag too long", "subject_tag",
		"12345678901234567890123456789012345678901234567890123456789012345", NULL, "longer than 64"},
	{"dnsbls list", "dnsbls", "zen.example.net, BL.Example.ORG", "zen.example.net,bl.example.org", NULL},
	{"dnsbls dup dropped", "dnsbls", "a.example,a.example", "a.example", NULL},
	{"dnsbls empty", "dnsbls", "", "", NULL},
	{"dnsbls bad zone", "dnsbls", "zen.example.net,bad..zone", NULL, "bad DNSBL zone \"bad..zone\""},
	{"dnsbls bad zone quoted printable", "dnsbls", "zen.example.net,bad\r\nzone", NULL,
		"bad DNSBL zone \"bad??zone\""},
	{"dnsbls too many", "dnsbls", "a.x,b.x,c.x,d.x,e.x,f.x,g.x,h.x,i.x", NULL, "more than 8"},
	{"spf reject", "spf", "reject", "reject", NULL},
	{"spf bad", "spf", "strict", NULL, "must be off, tag or reject"},
	{"max size 10M", "max_size", "10M", "10M", NULL},
	{"max size bytes", "max_size", "52428800", "50M", NULL},
	{"max size odd bytes", "max_size", "1000000", "1000000", NULL},
	{"max size too small", "max_size", "100", NULL, "out of range"},
	{"max size too big", "max_size", "3G", NULL, "out of range"},
	{"max size bad suffix", "max_size", "10X", NULL, "max_size: bad value"},
	{"pin on", "pin", "on", "on", NULL},
	{"pin bad", "pin", "sometimes", NULL, "must be on or off"},
};

START_TEST(test_domain_cases)
{
	const struct domain_case *c = &domain_cases[_i];
	struct domain d;
	char	err[600] = "";
	char	buf[DOMAIN_VALUE_MAX];
	int	s = domain_setting_lookup(c->setting);
	int	ret;

	ck_assert_msg(s >= 0, "%s: setting %s unknown", c->name, c->setting);
	domain_init(&d, "example.com", conf);
	ret = domain_setting_set(&d, (enum domain_setting) s, c->value, err, sizeof(err));
	if (c->stored) {
		ck_assert_msg(ret == 0, "%s: refused: %s", c->name, err);
		ck_assert_str_eq(domain_setting_format(&d, (enum domain_setting) s, buf, sizeof(buf)), c->stored);
		ck_assert_msg(domain_is_set(&d, (enum domain_setting) s), "%s: not marked set", c->name);
		/* the stored text parses back to the same value */
		{
			struct domain again;
			char	buf2[DOMAIN_VALUE_MAX];

			domain_init(&again, "example.com", conf);
			ck_assert_int_eq(domain_setting_set(&again, (enum domain_setting) s, buf, err, sizeof(err)), 0);
			ck_assert_str_eq(domain_setting_format(&again, (enum domain_setting) s, buf2, sizeof(buf2)), buf);
		}
	} else {
		ck_assert_msg(ret == -1, "%s: accepted", c->name);
		ck_assert_msg(strstr(err, c->error) != NULL, "%s: error \"%s\" lacks \"%s\"", c->name, err, c->error);
		ck_assert_msg(!domain_is_set(&d, (enum domain_setting) s), "%s: marked set after refusal", c->name);
	}
}
END_TEST

START_TEST(test_defaults)
{
	struct domain d;
	char	buf[DOMAIN_VALUE_MAX];

	domain_init(&d, "example.com", conf);
	ck_assert_uint_eq(d.set_mask, 0);
	ck_assert_int_eq(d.service, DOMAIN_SERVICE_RELAY);
	ck_assert_uint_eq(d.port, 25);
	ck_assert_int_eq(d.userlist, 0);
	ck_assert_int_eq(d.callahead, 1);
	ck_assert_int_eq(d.spam, 1);
	ck_assert_int_eq(d.virus, 1);
	ck_assert_int_eq(d.spf, DOMAIN_SPF_TAG);
	ck_assert_uint_eq(d.max_size, 10485760);
	ck_assert_str_eq(domain_setting_format(&d, DOMAIN_SET_TAG_LIMIT, buf, sizeof(buf)), "5.0");
	ck_assert_str_eq(domain_setting_format(&d, DOMAIN_SET_DISCARD_LIMIT, buf, sizeof(buf)), "10.0");
	ck_assert_str_eq(domain_setting_format(&d, DOMAIN_SET_DISCARD_ACTION, buf, sizeof(buf)), "discard");
	ck_assert_str_eq(d.subject_tag, "[SPAM]");
}
END_TEST

START_TEST(test_lookup)
{
	ck_assert_int_eq(domain_setting_lookup("discard-action"), DOMAIN_SET_DISCARD_ACTION);
	ck_assert_int_eq(domain_setting_lookup("discard_action"), DOMAIN_SET_DISCARD_ACTION);
	ck_assert_int_eq(domain_setting_lookup("discard"), -1);
	ck_assert_int_eq(domain_setting_lookup("discard_action_x"), -1);
	ck_assert_int_eq(domain_setting_lookup(""), -1);
	for (int s = 0; s < DOMAIN_SET_COUNT; s++)
		ck_assert_int_eq(domain_setting_lookup(domain_setting_name((enum domain_setting) s)), s);
}
END_TEST

START_TEST(test_validate)
{
	struct domain d;
	char	err[600], warn[600];

	domain_init(&d, "example.com", conf);
	ck_assert_int_eq(domain_validate(&d, err, sizeof(err), warn, sizeof(warn)), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs --dest"));
	ck_assert_int_eq(domain_setting_set(&d, DOMAIN_SET_DEST, "mx.example.net", err, sizeof(err)), 0);
	ck_assert_int_eq(domain_validate(&d, err, sizeof(err), warn, sizeof(warn)), 0);
	ck_assert_str_eq(warn, "");
	ck_assert_int_eq(domain_setting_set(&d, DOMAIN_SET_DEST, "192.0.2.1", err, sizeof(err)), 0);
	ck_assert_int_eq(domain_validate(&d, err, sizeof(err), warn, sizeof(warn)), 0);
	ck_assert_ptr_nonnull(strstr(warn, "is an IP address"));
	ck_assert_int_eq(domain_setting_set(&d, DOMAIN_SET_SERVICE, "backup", err, sizeof(err)), 0);
	ck_assert_int_eq(domain_validate(&d, err, sizeof(err), warn, sizeof(warn)), 0);
	ck_assert_ptr_nonnull(strstr(warn, "not used for a backup domain"));
	ck_assert_int_eq(domain_setting_set(&d, DOMAIN_SET_DEST, "", err, sizeof(err)), 0);
	ck_assert_int_eq(domain_validate(&d, err, sizeof(err), warn, sizeof(warn)), 0);
	ck_assert_str_eq(warn, "");
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("domain");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	conf = conf_defaults();
	tcase_add_loop_test(tc, test_domain_cases, 0,
			    (int) (sizeof(domain_cases) / sizeof(domain_cases[0])));
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_validate);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	conf_free(conf);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
