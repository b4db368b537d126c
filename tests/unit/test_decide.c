/* test_decide.c - the recipient decision, every rule, driven with scripted lookups */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "decide.h"

static struct conf *conf;
static char *node_names[] = {"relay1.mhkit.example"};

struct scripted {
	const char *name;
	const char *rcpt;
	const char *sender;
	const char *client;
	enum store_result domain_res;	/* STORE_OK: domain below */
	const char *service;		/* "relay" / "backup" */
	int	userlist;
	const char *dnsbls;		/* "" = none */
	int	dns_ok;
	const char *mx;			/* mx_set_parse text */
	enum store_result user_res;
	enum store_result list_res;
	struct senderlist_hits hits;
	enum dnsbl_answer dnsbl[3];
	const char *dnsbl_txt;
	enum conf_backend_error on_error;
	const char *reply;		/* expected final reply text */
	const char *trace;		/* a substring some trace line has */
	const char *skipped;		/* a step that must not have been asked, or NULL */
};

#define OK	STORE_OK
#define NF	STORE_NOTFOUND
#define ERR	STORE_ERROR
#define CLEAN	DNSBL_ANSWER_CLEAN
#define LISTED	DNSBL_ANSWER_LISTED
#define ERRC	DNSBL_ANSWER_ERRCODE
#define FAILED	DNSBL_ANSWER_FAILED
#define PRIMARY_MX	"10 relay1.mhkit.example,20 mx.customer.example"
#define SECOND_MX	"10 mx.customer.example,20 relay1.mhkit.example"

static const struct scripted cases[] = {
	{"unknown domain", "bob@other.example", "a@b.example", "192.0.2.1", NF, "relay", 0, "", 1, PRIMARY_MX,
		OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO", "is not ours", "mx"},
	{"domain lookup fails: defer", "bob@example.com", "a@b.example", "192.0.2.1", ERR, "relay", 0, "", 1,
		PRIMARY_MX, OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER,
	"451 4.3.0 Temporary lookup failure", "backend unavailable", "mx"},
	{"domain lookup fails: dunno", "bob@example.com", "a@b.example", "192.0.2.1", ERR, "relay", 0, "", 1,
		PRIMARY_MX, OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DUNNO, "DUNNO", "on_backend_error = dunno", "mx"},
	{"relay, primary, nothing else", "Bob@Example.COM", "a@b.example", "192.0.2.1", OK, "relay", 0, "", 1,
		PRIMARY_MX, OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO", "checks passed", "userlist"},
	{"relay, more preferred MX: forward unprocessed", "bob@example.com", "a@b.example", "192.0.2.1", OK,
		"relay", 1, "bl.example", 1, SECOND_MX, OK, OK, {0}, {LISTED}, NULL, CONF_BACKEND_DEFER,
	"DUNNO", "forwarded to it unprocessed", "userlist"},
	{"relay, not listed in MX: forward unprocessed", "bob@example.com", "a@b.example", "192.0.2.1", OK,
		"relay", 0, "bl.example", 1, "10 mx.customer.example", OK, OK, {0}, {LISTED}, NULL,
		CONF_BACKEND_DEFER, "DUNNO", "this node is not listed", "dnsbl"},
	{"backup, we are top MX: 550", "bob@example.com", "a@b.example", "192.0.2.1", OK, "backup", 0, "", 1,
		PRIMARY_MX, OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER,
		"550 5.7.1 relay1.mhkit.example is the highest-priority MX for example.com; "
	"a backup MX cannot accept its mail", NULL, "userlist"},
	{"backup, secondary: checks go on", "bob@example.com", "a@b.example", "192.0.2.1", OK, "backup", 0,
		"bl.example", 1, SECOND_MX, OK, OK, {0}, {LISTED}, "see http://bl.example/192.0.2.1",
		CONF_BACKEND_DEFER, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
	"bl.example; see http://bl.example/192.0.2.1", "more preferred", NULL},
	{"no MX: processed as configured", "bob@example.com", "a@b.example", "192.0.2.1", OK, "backup", 0, "",
		1, "", OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO", "no MX records", NULL},
	{"DNS failure: processed as configured", "bob@example.com", "a@b.example", "192.0.2.1", OK, "relay",
		0, "bl.example", 0, "", OK, OK, {0}, {LISTED}, NULL, CONF_BACKEND_DEFER,
	"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.example", "failed", NULL},
	{"userlist miss: no further work", "nobody@example.com", "a@b.example", "192.0.2.1", OK, "relay", 1,
		"bl.example", 1, PRIMARY_MX, NF, OK, {0}, {LISTED}, NULL, CONF_BACKEND_DEFER, "DUNNO",
	"mhmilter refuses it (550 5.1.1)", "senderlist"},
	{"userlist backend error", "bob@example.com", "a@b.example", "192.0.2.1", OK, "relay", 1, "", 1,
		PRIMARY_MX, ERR, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER,
	"451 4.3.0 Temporary lookup failure", "userlist: backend", "senderlist"},
	{"userlist hit, then DNSBL", "bob@example.com", "a@b.example", "192.0.2.1", OK, "relay", 1,
		"bl.example", 1, PRIMARY_MX, OK, OK, {0}, {LISTED}, NULL, CONF_BACKEND_DEFER,
	"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.example", "is listed", NULL},
	{"blacklisted sender: milter refuses", "bob@example.com", "spam@bad.example", "192.0.2.1", OK, "relay",
		0, "bl.example", 1, PRIMARY_MX, OK, OK, {0, 1, 0, 0}, {LISTED}, NULL, CONF_BACKEND_DEFER,
	"DUNNO", "blacklisted by the domain blacklist", "dnsbl"},
	{"whitelisted skips DNSBL", "bob@example.com", "friend@good.example", "192.0.2.1", OK, "relay", 0,
		"bl.example", 1, PRIMARY_MX, OK, OK, {0, 0, 1, 1}, {LISTED}, NULL, CONF_BACKEND_DEFER,
	"DUNNO", "whitelisted by the global whitelist", "dnsbl"},
	{"domain blacklist beats global whitelist", "bob@example.com", "x@y.example", "192.0.2.1", OK,
		"relay", 0, "", 1, PRIMARY_MX, OK, OK, {0, 1, 1, 0}, {CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO",
	"blacklisted by the domain blacklist", "callahead"},
	{"senderlist backend error", "bob@example.com", "x@y.example", "192.0.2.1", OK, "relay", 0, "", 1,
		PRIMARY_MX, OK, ERR, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER,
	"451 4.3.0 Temporary lookup failure", "senderlist: backend", "dnsbl"},
	{"DNSBL error code ignored", "bob@example.com", "x@y.example", "192.0.2.1", OK, "relay", 0,
		"bl.example", 1, PRIMARY_MX, OK, OK, {0}, {ERRC}, NULL, CONF_BACKEND_DEFER, "DUNNO",
	"error code (127.255.255.0/24): ignored", NULL},
	{"DNSBL failure ignored, second zone lists", "bob@example.com", "x@y.example", "192.0.2.1", OK,
		"relay", 0, "a.example,b.example", 1, PRIMARY_MX, OK, OK, {0}, {FAILED, LISTED}, "listed!",
		CONF_BACKEND_DEFER, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
	"b.example; listed!", "a.example lookup failed", NULL},
	{"DNSBL TXT sanitised", "bob@example.com", "x@y.example", "2001:db8::5", OK, "relay", 0,
		"bl.example", 1, PRIMARY_MX, OK, OK, {0}, {LISTED}, "evil\r\nQUIT", CONF_BACKEND_DEFER,
	"554 5.7.1 Service unavailable; Client host [2001:db8::5] blocked using bl.example; evil??QUIT", NULL,
	NULL},
	{"unknown client: DNSBL skipped", "bob@example.com", "x@y.example", "unknown", OK, "relay", 0,
		"bl.example", 1, PRIMARY_MX, OK, OK, {0}, {LISTED}, NULL, CONF_BACKEND_DEFER, "DUNNO",
	"client IP unknown", "dnsbl"},
	{"unparseable sender: lists by IP only", "bob@example.com", "bad sender@", "192.0.2.1", OK, "relay",
		0, "", 1, PRIMARY_MX, OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO", "unparseable", NULL},
	{"empty recipient", "", "a@b.example", "192.0.2.1", OK, "relay", 0, "", 1, PRIMARY_MX, OK, OK, {0},
		{CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO", "not a domain address", "domain"},
	{"address literal recipient", "bob@[192.0.2.1]", "a@b.example", "192.0.2.1", OK, "relay", 0, "", 1,
		PRIMARY_MX, OK, OK, {0}, {CLEAN}, NULL, CONF_BACKEND_DEFER, "DUNNO", "address literal", "domain"},
};

START_TEST(test_scripted)
{
	const struct scripted *c = &cases[_i];
	struct decide *d = calloc(1, sizeof(*d));
	struct domain dom;
	struct mx_set mx = {0};
	struct decide_dnsbl_result res[3];
	char	err[300];
	int	asked[DECIDE_STEP_DONE + 1] = {0};
	int	guard = 0;

	conf->policyd_on_backend_error = c->on_error;
	domain_init(&dom, "example.com", conf);
	ck_assert_int_eq(domain_setting_set(&dom, DOMAIN_SET_SERVICE, c->service, err, sizeof(err)), 0);
	ck_assert_int_eq(domain_setting_set(&dom, DOMAIN_SET_DEST, "mx.customer.example", err, sizeof(err)), 0);
	dom.userlist = c->userlist;
	ck_assert_int_eq(domain_setting_set(&dom, DOMAIN_SET_DNSBLS, c->dnsbls, err, sizeof(err)), 0);
	ck_assert_int_eq(mx_set_parse(c->mx, &mx), 0);
	for (size_t i = 0; i < 3; i++) {
		res[i].answer = c->dnsbl[i];
		res[i].txt = c->dnsbl_txt;
	}

	decide_start(d, conf, c->rcpt, c->sender, c->client, 1);
	while (d->next != DECIDE_STEP_DONE && guard++ < 10) {
		asked[d->next] = 1;
		switch (d->next) {
		case DECIDE_STEP_DOMAIN:
			decide_domain(d, c->domain_res, &dom);
			break;
		case DECIDE_STEP_MX:
			decide_mx(d, c->dns_ok, &mx);
			break;
		case DECIDE_STEP_USERLIST:
			decide_userlist(d, c->user_res);
			break;
		case DECIDE_STEP_SENDERLIST:
			decide_senderlist(d, c->list_res, &c->hits);
			break;
		case DECIDE_STEP_DNSBL:
			decide_dnsbl(d, res, dom.dnsbl_count);
			break;
		case DECIDE_STEP_CALLAHEAD:
			decide_callahead(d);
			break;
		case DECIDE_STEP_DONE:
			break;
		}
	}
	ck_assert_msg(d->next == DECIDE_STEP_DONE, "%s: never done", c->name);
	ck_assert_msg(strcmp(d->reply.text, c->reply) == 0, "%s: reply \"%s\", want \"%s\"", c->name,
		      d->reply.text, c->reply);
	if (c->trace) {
		int	found = 0;

		for (size_t i = 0; i < d->ntrace; i++)
			found |= strstr(d->trace[i], c->trace) != NULL;
		ck_assert_msg(found, "%s: no trace line has \"%s\" (first: %s)", c->name, c->trace,
			      d->ntrace ? d->trace[0] : "");
	}
	if (c->skipped) {
		for (int s = 0; s <= DECIDE_STEP_DONE; s++)
			if (strcmp(decide_step_name((enum decide_step) s), c->skipped) == 0)
				ck_assert_msg(!asked[s], "%s: step %s was asked", c->name, c->skipped);
	}
	decide_end(d);
	free(d);
}
END_TEST

START_TEST(test_pinned)
{
	struct decide *d = calloc(1, sizeof(*d));
	struct domain dom;
	struct mx_set mx = {0};
	struct senderlist_hits none = {0};
	char	err[300];

	domain_init(&dom, "example.com", conf);
	ck_assert_int_eq(domain_setting_set(&dom, DOMAIN_SET_DEST, "mx.customer.example", err, sizeof(err)), 0);
	ck_assert_int_eq(domain_setting_set(&dom, DOMAIN_SET_PORT, "2525", err, sizeof(err)), 0);
	ck_assert_int_eq(domain_setting_set(&dom, DOMAIN_SET_PIN, "on", err, sizeof(err)), 0);
	ck_assert_int_eq(mx_set_parse("10 relay1.mhkit.example", &mx), 0);
	/* primary: the route goes into the queue file */
	decide_start(d, conf, "bob@example.com", "a@b.example", "192.0.2.1", 0);
	decide_domain(d, STORE_OK, &dom);
	decide_mx(d, 1, &mx);
	decide_senderlist(d, STORE_OK, &none);
	decide_callahead(d);
	ck_assert_int_eq(d->next, DECIDE_STEP_DONE);
	ck_assert_int_eq(d->reply.kind, REPLY_DUNNO);
	ck_assert_str_eq(d->reply.text, "FILTER smtp:[mx.customer.example]:2525");
	decide_end(d);
	/* a more preferred MX: forwarded by MX, nothing pinned */
	ck_assert_int_eq(mx_set_parse("5 mx.customer.example,10 relay1.mhkit.example", &mx), 0);
	decide_start(d, conf, "bob@example.com", "a@b.example", "192.0.2.1", 0);
	decide_domain(d, STORE_OK, &dom);
	decide_mx(d, 1, &mx);
	ck_assert_int_eq(d->next, DECIDE_STEP_DONE);
	ck_assert_str_eq(d->reply.text, "DUNNO");
	decide_end(d);
	free(d);
}
END_TEST

START_TEST(test_transport)
{
	struct domain d;
	char	err[300], buf[300];

	domain_init(&d, "example.com", conf);
	domain_setting_set(&d, DOMAIN_SET_DEST, "mx.customer.example", err, sizeof(err));
	domain_setting_set(&d, DOMAIN_SET_PORT, "2525", err, sizeof(err));
	ck_assert_str_eq(decide_transport(&d, MX_STATUS_PRIMARY, buf, sizeof(buf)), "smtp:[mx.customer.example]:2525");
	ck_assert_str_eq(decide_transport(&d, MX_STATUS_NONE, buf, sizeof(buf)), "smtp:[mx.customer.example]:2525");
	ck_assert_str_eq(decide_transport(&d, MX_STATUS_SECONDARY, buf, sizeof(buf)), "smtp:");
	domain_setting_set(&d, DOMAIN_SET_DEST, "2001:db8::25", err, sizeof(err));
	ck_assert_str_eq(decide_transport(&d, MX_STATUS_PRIMARY, buf, sizeof(buf)), "smtp:[2001:db8::25]:2525");
	domain_setting_set(&d, DOMAIN_SET_SERVICE, "backup", err, sizeof(err));
	ck_assert_str_eq(decide_transport(&d, MX_STATUS_PRIMARY, buf, sizeof(buf)), "smtp:");
	ck_assert_str_eq(decide_transport(&d, MX_STATUS_SECONDARY, buf, sizeof(buf)), "smtp:");
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("decide");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	conf = conf_defaults();
	conf->node_hostnames.count = 1;
	conf->node_hostnames.items[0] = node_names[0];
	tcase_add_loop_test(tc, test_scripted, 0, (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_transport);
	tcase_add_test(tc, test_pinned);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	conf->node_hostnames.count = 0;
	conf->node_hostnames.items[0] = NULL;
	conf_free(conf);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
