/*
 * test_cluster.c - common/cluster.c: key slots (the values a Redis 7
 * cluster node gives for CLUSTER KEYSLOT), the key a command is routed
 * by, MOVED/ASK redirects, and CLUSTER SLOTS replies, well-formed and not.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cluster.h"

static const struct {
	const char *key;
	unsigned slot;
} slots[] = {
	/* from redis-cli CLUSTER KEYSLOT against redis-server 7.0 */
	{"foo", 12182}, {"bar", 5061}, {"hello", 866}, {"123456789", 12739},
	{"{user1000}.following", 3443}, {"foo{}{bar}", 8363}, {"foo{{bar}}zap", 4015},
	{"foo{bar}{zap}", 5061}, {"{}", 15257}, {"{", 4092}, {"", 0},
	{"mh:{acct:bob}:used:20260101", 562}, {"{example.com}:cfg", 8592},
};

START_TEST(test_keyslot)
{
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		ck_assert_msg(cluster_keyslot(slots[i].key, strlen(slots[i].key)) == slots[i].slot,
			      "%s: %u, want %u", slots[i].key,
			      cluster_keyslot(slots[i].key, strlen(slots[i].key)), slots[i].slot);
}
END_TEST

START_TEST(test_keyslot_tag)
{
	/* every key of one domain: one slot, whatever follows the tag */
	unsigned s = cluster_keyslot("mh:{example.com}:cfg", 20);

	ck_assert_uint_eq(cluster_keyslot("mh:{example.com}:users", 22), s);
	ck_assert_uint_eq(cluster_keyslot("{example.com}", 13), s);
	ck_assert_uint_eq(cluster_keyslot("example.com", 11), s);
	/* the length counts, not a NUL: a key with a NUL inside */
	ck_assert_uint_ne(cluster_keyslot("a\0b", 3), cluster_keyslot("a", 1));
}
END_TEST

START_TEST(test_command_key)
{
	const char *key;
	size_t	len;
	const char *get[] = {"GET", "k1"};
	const char *evalsha[] = {"EVALSHA", "abc", "2", "{acct:bob}:used", "{acct:bob}:seen", "7"};
	const char *eval0[] = {"EVAL", "return 1", "0"};
	const char *fcall[] = {"fcall_ro", "f", "1", "kf"};
	const char *badnum[] = {"EVALSHA", "abc", "x", "k"};
	const char *ping[] = {"PING"};
	const char *script[] = {"SCRIPT", "LOAD", "return 1"};
	const char *multi[] = {"multi"};
	const char *lonely[] = {"GET"};
	const char *scan[] = {"SCAN", "0", "MATCH", "mh:{example.com}:ca:*", "COUNT", "100"};
	const char *scan_late[] = {"SCAN", "0", "COUNT", "100", "MATCH", "mh:{a.example}:*"};
	const char *scan_glob[] = {"SCAN", "0", "MATCH", "mh:{*}:ca:*"};
	const char *scan_any[] = {"SCAN", "0", "MATCH", "mh:*"};
	const char *scan_bare[] = {"SCAN", "0"};

	ck_assert_int_eq(cluster_command_key(2, get, NULL, &key, &len), 0);
	ck_assert(len == 2 && memcmp(key, "k1", 2) == 0);
	ck_assert_int_eq(cluster_command_key(6, evalsha, NULL, &key, &len), 0);
	ck_assert_str_eq(key, "{acct:bob}:used");
	ck_assert_int_eq(cluster_command_key(3, eval0, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(4, fcall, NULL, &key, &len), 0);
	ck_assert_str_eq(key, "kf");
	ck_assert_int_eq(cluster_command_key(4, badnum, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(1, ping, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(3, script, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(1, multi, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(1, lonely, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(0, get, NULL, &key, &len), -1);
	/* SCAN runs where its pattern's fixed tag lives */
	ck_assert_int_eq(cluster_command_key(6, scan, NULL, &key, &len), 0);
	ck_assert_uint_eq(cluster_keyslot(key, len), cluster_keyslot("{example.com}", 13));
	ck_assert_int_eq(cluster_command_key(6, scan_late, NULL, &key, &len), 0);
	ck_assert_str_eq(key, "mh:{a.example}:*");
	ck_assert_int_eq(cluster_command_key(4, scan_glob, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(4, scan_any, NULL, &key, &len), -1);
	ck_assert_int_eq(cluster_command_key(2, scan_bare, NULL, &key, &len), -1);
	{
		/* lengths given: binary-safe, "GETX" is not "GET" */
		const char *argv[] = {"GETX", "key"};
		size_t	lens[] = {3, 3};

		ck_assert_int_eq(cluster_command_key(2, argv, lens, &key, &len), 0);
		ck_assert_uint_eq(len, 3);
	}
}
END_TEST

START_TEST(test_resp_args)
{
	const char *argv[4];
	size_t	lens[4];
	char	key[] = "*3\r\n$7\r\nHGETALL\r\n$8\r\nk\r\n{x}\r\n\r\n$0\r\n\r\n";
	static const char *const bad[] = {
		"", "*0\r\n", "*1\r\n", "*1\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*2\r\n$3\r\nGET\r\n",
		"*1\r\n$4\r\nGET\r\n", "*1\r\n$2\r\nGET\r\n", "*1\n$3\r\nGET\r\n", "*x\r\n",
		"*1\r\n$-1\r\n", "*1\r\n$99999999999999999\r\nGET\r\n", "$3\r\nGET\r\n",
		"*1\r\n$3\r\nGETxx",
	};

	ck_assert_int_eq(cluster_resp_args(key, sizeof(key) - 1, argv, lens, 4), 3);
	ck_assert(lens[0] == 7 && memcmp(argv[0], "HGETALL", 7) == 0);
	ck_assert(lens[1] == 8 && memcmp(argv[1], "k\r\n{x}\r\n", 8) == 0);	/* binary-safe */
	ck_assert_uint_eq(lens[2], 0);
	ck_assert_int_eq(cluster_resp_args(key, sizeof(key) - 1, argv, lens, 1), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cluster_resp_args(bad[i], strlen(bad[i]), argv, lens, 4) == -1,
			      "case %zu", i);
	{
		/* what hiredis itself formats */
		char   *cmd;
		int	n = redisFormatCommand(&cmd, "EVALSHA %s %d %s %s", "abc", 1, "{acct:bob}:used", "7");
		const char *k;
		size_t	kl;

		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(cluster_resp_args(cmd, (size_t) n, argv, lens, 4), 4);
		ck_assert_int_eq(cluster_command_key(4, argv, lens, &k, &kl), 0);
		ck_assert(kl == 15 && memcmp(k, "{acct:bob}:used", 15) == 0);
		redisFreeCommand(cmd);
	}
}
END_TEST

static const struct {
	const char *in;
	enum cluster_redirect want;
	unsigned slot;
	const char *host;
	unsigned port;
} redirects[] = {
	{"MOVED 3999 127.0.0.1:6381", CLUSTER_REDIRECT_MOVED, 3999, "127.0.0.1", 6381},
	{"ASK 3999 127.0.0.1:6381", CLUSTER_REDIRECT_ASK, 3999, "127.0.0.1", 6381},
	{"MOVED 0 [::1]:7000", CLUSTER_REDIRECT_MOVED, 0, "::1", 7000},
	{"MOVED 16383 ::1:7000", CLUSTER_REDIRECT_MOVED, 16383, "::1", 7000},
	{"MOVED 12 redis-2.example:6379", CLUSTER_REDIRECT_MOVED, 12, "redis-2.example", 6379},
	{"MOVED 12 :6379", CLUSTER_REDIRECT_MOVED, 12, "", 6379},
	{"MOVED 16384 127.0.0.1:6381", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 99999999999 127.0.0.1:6381", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED -1 127.0.0.1:6381", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 127.0.0.1", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 127.0.0.1:", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 127.0.0.1:0", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 127.0.0.1:65536", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 127.0.0.1:123456", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 127.0.0.1:63x", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED 1 a b:6379", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED  1 127.0.0.1:6379", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"MOVED", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"ERR unknown command", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"CLUSTERDOWN Hash slot not served", CLUSTER_REDIRECT_NONE, 0, "", 0},
	{"moved 1 127.0.0.1:6379", CLUSTER_REDIRECT_NONE, 0, "", 0},
};

START_TEST(test_redirect)
{
	for (size_t i = 0; i < sizeof(redirects) / sizeof(redirects[0]); i++) {
		struct hostport hp = {{0}, 0};
		unsigned slot = 99999;
		enum cluster_redirect got;

		got = cluster_redirect_parse(redirects[i].in, strlen(redirects[i].in), &slot, &hp);
		ck_assert_msg(got == redirects[i].want, "%s: %d", redirects[i].in, (int) got);
		if (got == CLUSTER_REDIRECT_NONE)
			continue;
		ck_assert_msg(slot == redirects[i].slot, "%s: slot %u", redirects[i].in, slot);
		ck_assert_str_eq(hp.host, redirects[i].host);
		ck_assert_uint_eq(hp.port, redirects[i].port);
	}
}
END_TEST

/* --- CLUSTER SLOTS replies, built by hand ------------------------------------------- */

static redisReply *
r_int(long long v)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return r;
}

static redisReply *
r_str(const char *s)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = REDIS_REPLY_STRING;
	r->str = strdup(s);
	r->len = strlen(s);
	return r;
}

/* r_array - an array of n elements, to be filled in */
static redisReply *
r_array(size_t n)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	return r;
}

static redisReply *
r_arr(size_t n, ...)
{
	redisReply *r = r_array(n);
	va_list	ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

/* a range: start, end, the primary (host, port, id, no metadata), one replica */
static redisReply *
r_range(long long start, long long end, const char *host, long long port)
{
	return r_arr(4, r_int(start), r_int(end),
		     r_arr(4, r_str(host), r_int(port), r_str("91b38768e3e3033b"), r_arr(0)),
		     r_arr(3, r_str("10.9.9.9"), r_int(7999), r_str("replica-id")));
}

START_TEST(test_map)
{
	struct cluster_map *map = malloc(sizeof(*map));
	char	err[CLUSTER_ERR_MAX];
	redisReply *r = r_arr(4, r_range(0, 5460, "10.0.0.1", 7000),
			      r_range(5461, 10922, "10.0.0.2", 7000),
			      r_range(10923, 16000, "", 7002),
			      r_range(16001, 16383, "10.0.0.1", 7000));

	ck_assert_int_eq(cluster_map_parse(map, r, "10.0.0.3", err, sizeof(err)), 0);
	ck_assert_uint_eq(map->nnodes, 3);
	ck_assert_str_eq(cluster_map_node(map, 0)->host, "10.0.0.1");
	ck_assert_str_eq(cluster_map_node(map, 5460)->host, "10.0.0.1");
	ck_assert_str_eq(cluster_map_node(map, 5461)->host, "10.0.0.2");
	ck_assert_str_eq(cluster_map_node(map, 10923)->host, "10.0.0.3");	/* "" = the node asked */
	ck_assert_uint_eq(cluster_map_node(map, 10923)->port, 7002);
	ck_assert_str_eq(cluster_map_node(map, 16383)->host, "10.0.0.1");
	ck_assert_ptr_eq(cluster_map_node(map, 16384), NULL);
	ck_assert_ptr_eq(cluster_map_node(map, 16001), cluster_map_node(map, 1));
	freeReplyObject(r);

	/* a gap and an unknown endpoint: unserved */
	r = r_arr(2, r_range(0, 99, "10.0.0.1", 7000), r_range(200, 300, "?", 7000));
	ck_assert_int_eq(cluster_map_parse(map, r, "10.0.0.1", err, sizeof(err)), 0);
	ck_assert_ptr_ne(cluster_map_node(map, 99), NULL);
	ck_assert_ptr_eq(cluster_map_node(map, 100), NULL);
	ck_assert_ptr_eq(cluster_map_node(map, 250), NULL);
	freeReplyObject(r);

	/* no ranges at all (a cluster with no slots assigned) */
	r = r_arr(0);
	ck_assert_int_eq(cluster_map_parse(map, r, "10.0.0.1", err, sizeof(err)), 0);
	ck_assert_uint_eq(map->nnodes, 0);
	ck_assert_ptr_eq(cluster_map_node(map, 0), NULL);
	freeReplyObject(r);
	free(map);
}
END_TEST

START_TEST(test_map_bad)
{
	struct cluster_map *map = malloc(sizeof(*map));
	char	err[CLUSTER_ERR_MAX];
	redisReply *bad[] = {
		r_str("ERR This instance has cluster support disabled"),
		r_arr(1, r_arr(2, r_int(0), r_int(5))),
		r_arr(1, r_arr(3, r_str("0"), r_int(5), r_arr(2, r_str("h"), r_int(1)))),
		r_arr(1, r_range(10, 5, "h", 7000)),
		r_arr(1, r_range(-1, 5, "h", 7000)),
		r_arr(1, r_range(0, 16384, "h", 7000)),
		r_arr(1, r_range(0, 5, "h", 0)),
		r_arr(1, r_range(0, 5, "h", 65536)),
		r_arr(1, r_arr(3, r_int(0), r_int(5), r_arr(1, r_str("h")))),
		r_arr(1, r_arr(3, r_int(0), r_int(5), r_arr(2, r_int(1), r_int(7000)))),
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(cluster_map_parse(map, bad[i], "h", err, sizeof(err)) == -1, "case %zu", i);
		ck_assert_msg(strncmp(err, "CLUSTER SLOTS: ", 15) == 0, "case %zu: %s", i, err);
		freeReplyObject(bad[i]);
	}
	ck_assert_int_eq(cluster_map_parse(map, NULL, "h", err, sizeof(err)), -1);
	{
		/* more primaries than the map holds */
		redisReply *r = r_array(CLUSTER_NODES_MAX + 1);
		char	host[32];

		for (size_t i = 0; i <= CLUSTER_NODES_MAX; i++) {
			snprintf(host, sizeof(host), "10.0.%zu.%zu", i / 256, i % 256);
			r->element[i] = r_range((long long) i, (long long) i, host, 7000);
		}
		ck_assert_int_eq(cluster_map_parse(map, r, "h", err, sizeof(err)), -1);
		ck_assert_str_eq(err, "CLUSTER SLOTS: more than 128 primaries");
		freeReplyObject(r);
	}
	free(map);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("cluster");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_test(tc, test_keyslot);
	tcase_add_test(tc, test_keyslot_tag);
	tcase_add_test(tc, test_command_key);
	tcase_add_test(tc, test_resp_args);
	tcase_add_test(tc, test_redirect);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_map_bad);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
