/*
 * test_quota.c - quota/: the size multiplier at every boundary, relays
 * without overflow, SHA-1 of the scripts, EVALSHA/EVAL argv (COMMIT's
 * of a batch of messages), parsing of script replies (RESP bytes through
 * hiredis's reader, no server; COMMIT's per message of its batch) and
 * the SMTP replies with hostile user names. Named cases in tables. The
 * scripts' behaviour is tests/integration/test_quota.sh (real Redis).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "multiplier.h"
#include "quota.h"
#include "reply.h"
#include "sha1.h"

#define MB	QUOTA_MB

/* --- multiplier -------------------------------------------------------------- */

static const struct {
	const char *label;
	uint64_t size;
	unsigned mult;
} mult_cases[] = {
	{"empty", 0, 1},
	{"one byte", 1, 1},
	{"10 MB - 1", 10 * MB - 1, 1},
	{"10 MB", 10 * MB, 2},
	{"10 MB + 1", 10 * MB + 1, 2},
	{"20 MB - 1", 20 * MB - 1, 2},
	{"20 MB", 20 * MB, 3},
	{"30 MB - 1", 30 * MB - 1, 3},
	{"30 MB", 30 * MB, 4},
	{"40 MB - 1", 40 * MB - 1, 4},
	{"40 MB", 40 * MB, 5},
	{"50 MB - 1", 50 * MB - 1, 5},
	{"50 MB exactly", 50 * MB, 6},
	{"50 MB + 1", 50 * MB + 1, 0},
	{"60 MB", 60 * MB, 0},
	{"decimal 50 MB is under 50 MiB", 50000000, 5},
	{"decimal 10 MB is under 10 MiB", 10000000, 1},
	{"UINT64_MAX", UINT64_MAX, 0},
};

START_TEST(test_multiplier)
{
	ck_assert_msg(quota_multiplier(mult_cases[_i].size) == mult_cases[_i].mult,
		      "%s: got %u, want %u", mult_cases[_i].label,
		      quota_multiplier(mult_cases[_i].size), mult_cases[_i].mult);
}
END_TEST

static const struct {
	const char *label;
	uint64_t recipients;
	unsigned mult;
	int	ok;
	uint64_t relays;
} relay_cases[] = {
	{"no recipients", 0, 1, 1, 0},
	{"one", 1, 1, 1, 1},
	{"100 at x6", 100, 6, 1, 600},
	{"3 at 12 MB", 3, 2, 1, 6},
	{"too big", 1, 0, 0, 0},
	{"none, too big", 0, 0, 0, 0},
	{"largest count", QUOTA_COUNT_MAX, 1, 1, QUOTA_COUNT_MAX},
	{"largest at x6", QUOTA_COUNT_MAX / 6, 6, 1, QUOTA_COUNT_MAX / 6 * 6},
	{"one past at x6", QUOTA_COUNT_MAX / 6 + 1, 6, 0, 0},
	{"past the count", QUOTA_COUNT_MAX + 1, 1, 0, 0},
	{"uint64 overflow", UINT64_MAX, 2, 0, 0},
	{"uint64 max x1", UINT64_MAX, 1, 0, 0},
	{"wraps to small", (UINT64_C(1) << 63) + 1, 2, 0, 0},
};

START_TEST(test_relays)
{
	uint64_t got = 12345;
	int	rc = quota_relays(relay_cases[_i].recipients, relay_cases[_i].mult, &got);

	ck_assert_msg(rc == (relay_cases[_i].ok ? 0 : -1), "%s: rc %d", relay_cases[_i].label, rc);
	if (relay_cases[_i].ok)
		ck_assert_msg(got == relay_cases[_i].relays, "%s: got %llu", relay_cases[_i].label,
			      (unsigned long long) got);
	else
		ck_assert_msg(got == 12345, "%s: result written on failure", relay_cases[_i].label);
}
END_TEST

/* --- SHA-1 ------------------------------------------------------------------ */

static const struct {
	const char *label;
	char	fill;			/* 0: text as is; else len copies of fill */
	const char *text;
	size_t	len;
	const char *hex;
} sha_cases[] = {
	{"empty", 0, "", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	{"abc", 0, "abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d"},
	{"FIPS 448 bits", 0, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	"84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
	{"55: one padding block", 'a', NULL, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
	{"56: two padding blocks", 'a', NULL, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
	{"63", 'a', NULL, 63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
	{"64: one whole block", 'a', NULL, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
	{"65", 'a', NULL, 65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
	{"a million a", 'a', NULL, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
};

START_TEST(test_sha1)
{
	char	hex[SHA1_HEX_LEN + 1];
	char   *buf = NULL;
	const char *text = sha_cases[_i].text;

	if (sha_cases[_i].fill) {
		buf = malloc(sha_cases[_i].len);
		ck_assert_ptr_nonnull(buf);
		memset(buf, sha_cases[_i].fill, sha_cases[_i].len);
		text = buf;
	}
	sha1_hex(text, sha_cases[_i].len, hex);
	ck_assert_msg(strcmp(hex, sha_cases[_i].hex) == 0, "%s: %s", sha_cases[_i].label, hex);
	free(buf);
}
END_TEST

/* count - how many times sub occurs in text */
static int
count(const char *text, const char *sub)
{
	int	n = 0;

	for (const char *p = text; (p = strstr(p, sub)) != NULL; p += strlen(sub))
		n++;
	return n;
}

START_TEST(test_scripts)
{
	char	hex[SHA1_HEX_LEN + 1];
	enum quota_script s[3] = {QUOTA_SCRIPT_CHECK, QUOTA_SCRIPT_COMMIT, QUOTA_SCRIPT_UNDO};
	const char *commit = quota_script_text(QUOTA_SCRIPT_COMMIT);
	const char *undo = quota_script_text(QUOTA_SCRIPT_UNDO);

	for (int i = 0; i < 3; i++) {
		const char *text = quota_script_text(s[i]);

		sha1_hex(text, strlen(text), hex);
		ck_assert_str_eq(quota_script_sha(s[i]), hex);
		ck_assert_ptr_nonnull(strstr(text, "redis.call('TIME')"));
		ck_assert_ptr_nonnull(strstr(text, "math.floor(now / 86400)"));
	}
	ck_assert_str_ne(quota_script_sha(QUOTA_SCRIPT_CHECK), quota_script_sha(QUOTA_SCRIPT_COMMIT));
	ck_assert_str_ne(quota_script_sha(QUOTA_SCRIPT_COMMIT), quota_script_sha(QUOTA_SCRIPT_UNDO));
	ck_assert_str_ne(quota_script_sha(QUOTA_SCRIPT_CHECK), quota_script_sha(QUOTA_SCRIPT_UNDO));
	/* the record: "DAY:RELAYS" when counted, "undone" when taken back */
	ck_assert_ptr_nonnull(strstr(commit, "redis.pcall('SET', KEYS[i + 1], sday .. ':' .. relays, "
				     "'NX', 'EX', 172800)"));
	ck_assert_ptr_nonnull(strstr(commit, "string.match(rec, '^%d+:%d+$')"));
	ck_assert_ptr_nonnull(strstr(commit, "status, n = 2, tonumber(string.match(rec, ':(%d+)$'))"));
	ck_assert_ptr_nonnull(strstr(commit, "if rec == 'undone' then\n      status, n = 3, 0\n"));
	ck_assert_ptr_nonnull(strstr(undo, "string.match(rec, '^(%d+):(%d+)$')"));
	ck_assert_ptr_nonnull(strstr(undo, "local key = KEYS[1] .. ':' .. d\n"));
	ck_assert_ptr_nonnull(strstr(undo, "DECRBY"));
	ck_assert_ptr_nonnull(strstr(undo, "'undone', 'EX', 172800"));
	ck_assert_ptr_null(strstr(undo, "INCRBY"));
	ck_assert_ptr_null(strstr(undo, "ARGV"));
	/* COMMIT: a batch, two keys and two arguments a message, in order */
	ck_assert_ptr_nonnull(strstr(commit, "for i = 1, #KEYS - 1, 2 do\n"));
	ck_assert_ptr_nonnull(strstr(commit, "local key = KEYS[i] .. ':' .. sday\n"));
	ck_assert_ptr_nonnull(strstr(commit, "local relays = ARGV[i + 1]\n"));
	ck_assert_ptr_nonnull(strstr(commit, "if used > tonumber(ARGV[i]) then\n"));
	ck_assert_ptr_nonnull(strstr(commit, "return out\n"));
	/* the day's counter lives QUOTA_KEY_TTL from its first count */
	ck_assert_ptr_nonnull(strstr(commit, "redis.pcall('EXPIRE', key, 172800)"));
	/*
	 * Every write through redis.pcall: one message's failure is its own
	 * status and never stops the messages after it; TIME is the only call.
	 */
	ck_assert_int_eq(count(commit, "redis.call("), 1);
	ck_assert_ptr_nonnull(strstr(commit, "redis.pcall('INCRBY', key, relays)"));
	ck_assert_ptr_nonnull(strstr(commit, "redis.pcall('DECRBY', key, relays)"));
	ck_assert_int_eq(count(commit, "redis.pcall('DEL', KEYS[i + 1])"), 2);
	ck_assert_ptr_nonnull(strstr(commit, "if i == 1 then return redis.error_reply(set.err) end"));
	/* the per-message failures quota_batch_parse turns into errors */
	ck_assert_ptr_nonnull(strstr(commit, "status, used, n = 5, 0, 0\n"));
	ck_assert_ptr_nonnull(strstr(commit, "status, n = 6, 0\n"));
	ck_assert_ptr_nonnull(strstr(commit, "status, n = 7, 0\n"));
	ck_assert_ptr_null(strstr(quota_script_text(QUOTA_SCRIPT_CHECK), "INCRBY"));
	ck_assert_ptr_null(strstr(quota_script_text(QUOTA_SCRIPT_CHECK), "SET"));
}
END_TEST

/* --- argv ------------------------------------------------------------------- */

/* words_are - argc words of argv/argvlen are exactly want (NULL-terminated) */
static void
words_are(int argc, const char *const *argv, const size_t *argvlen, const char *const *want)
{
	int	n = 0;

	while (want[n])
		n++;
	ck_assert_int_eq(argc, n);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(argvlen[i], strlen(want[i]));
		ck_assert_msg(memcmp(argv[i], want[i], argvlen[i]) == 0,
			      "word %d: want %s", i, want[i]);
	}
}

/* argv_is - cmd's words are exactly want */
static void
argv_is(const struct quota_cmd *cmd, const char *const *want)
{
	words_are(cmd->argc, cmd->argv, cmd->argvlen, want);
}

/* batch_is - b's words are exactly want */
static void
batch_is(const struct quota_batch *b, const char *const *want)
{
	words_are(b->argc, b->argv, b->argvlen, want);
}

START_TEST(test_argv_check)
{
	struct quota_cmd cmd;
	char	err[256];
	const char *want[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_CHECK), "1",
		"mh:{acct:bob@example.com}:used", "150", "3", NULL};
	const char *want_eval[] = {"EVAL", quota_script_text(QUOTA_SCRIPT_CHECK), "1",
		"mh:{acct:bob@example.com}:used", "150", "3", NULL};

	ck_assert_int_eq(quota_cmd_check(&cmd, "bob@example.com", 150, 3, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd.script, QUOTA_SCRIPT_CHECK);
	argv_is(&cmd, want);
	quota_cmd_eval(&cmd);
	argv_is(&cmd, want_eval);
}
END_TEST

START_TEST(test_argv_commit)
{
	struct quota_batch b;
	char	err[256] = "";
	const char *text = quota_script_text(QUOTA_SCRIPT_COMMIT);
	const char *want[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_COMMIT), "2",
		"mh:{acct:bob@example.com}:used", "mh:{acct:bob@example.com}:msg:4XyZ1abC9",
		"150", "3", NULL};
	const char *want_eval[] = {"EVAL", text, "2",
		"mh:{acct:bob@example.com}:used", "mh:{acct:bob@example.com}:msg:4XyZ1abC9",
		"150", "3", NULL};

	quota_batch_reset(&b);
	ck_assert_uint_eq(b.n, 0);
	ck_assert_int_eq(quota_batch_add(&b, "bob@example.com", 150, 3, "4XyZ1abC9",
					 err, sizeof(err)), 0);
	ck_assert_uint_eq(b.n, 1);
	quota_batch_argv(&b, 0);
	batch_is(&b, want);
	quota_batch_argv(&b, 1);		/* after NOSCRIPT */
	batch_is(&b, want_eval);
	ck_assert_ptr_eq(b.argv[1], text);
	ck_assert_uint_eq(b.argvlen[1], strlen(text));
	quota_batch_argv(&b, 0);		/* and back */
	batch_is(&b, want);
}
END_TEST

START_TEST(test_argv_commit_three)
{
	struct quota_batch b;
	char	err[256] = "";
	/* every message's two keys in order, then every message's limit and relays */
	const char *want[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_COMMIT), "6",
		"mh:{acct:alice}:used", "mh:{acct:alice}:msg:A1",
		"mh:{acct:bob@example.com}:used", "mh:{acct:bob@example.com}:msg:B2",
		"mh:{acct:carol@example.org}:used", "mh:{acct:carol@example.org}:msg:C3",
		"150", "3", "4500", "12", "7", "0", NULL};

	quota_batch_reset(&b);
	ck_assert_int_eq(quota_batch_add(&b, "alice", 150, 3, "A1", err, sizeof(err)), 0);
	ck_assert_int_eq(quota_batch_add(&b, "bob@example.com", 4500, 12, "B2", err, sizeof(err)), 0);
	ck_assert_int_eq(quota_batch_add(&b, "carol@example.org", 7, 0, "C3", err, sizeof(err)), 0);
	ck_assert_uint_eq(b.n, 3);
	quota_batch_argv(&b, 0);
	batch_is(&b, want);
	ck_assert_uint_eq(b.msg[1].limit, 4500);
	ck_assert_uint_eq(b.msg[1].relays, 12);
}
END_TEST

START_TEST(test_argv_commit_max)
{
	struct quota_batch b;
	char	err[256] = "";
	char	big[QUOTA_NUM_MAX];
	/* the same account twice: both in its slot */
	const char *want[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_COMMIT), "4",
		"mh:{acct:Bob}:used", "mh:{acct:Bob}:msg:4XyZ1abC9",
		"mh:{acct:Bob}:used", "mh:{acct:Bob}:msg:A",
		"0", "0", big, big, NULL};

	snprintf(big, sizeof(big), "%llu", (unsigned long long) QUOTA_COUNT_MAX);
	quota_batch_reset(&b);
	ck_assert_int_eq(quota_batch_add(&b, "Bob", 0, 0, "4XyZ1abC9", err, sizeof(err)), 0);
	ck_assert_int_eq(quota_batch_add(&b, "Bob", QUOTA_COUNT_MAX, QUOTA_COUNT_MAX, "A",
					 err, sizeof(err)), 0);
	ck_assert_int_eq(quota_commit_valid("Bob", QUOTA_COUNT_MAX, QUOTA_COUNT_MAX, "A",
					    err, sizeof(err)), 0);
	quota_batch_argv(&b, 0);
	batch_is(&b, want);
}
END_TEST

START_TEST(test_argv_commit_rebuild)
{
	struct quota_batch b;
	char	err[256] = "";
	const char *want1[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_COMMIT), "2",
		"mh:{acct:alice}:used", "mh:{acct:alice}:msg:A1", "150", "3", NULL};
	const char *want2[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_COMMIT), "4",
		"mh:{acct:alice}:used", "mh:{acct:alice}:msg:A1",
		"mh:{acct:bob}:used", "mh:{acct:bob}:msg:B2", "150", "3", "20", "1", NULL};
	const char *want_eval2[] = {"EVAL", quota_script_text(QUOTA_SCRIPT_COMMIT), "4",
		"mh:{acct:alice}:used", "mh:{acct:alice}:msg:A1",
		"mh:{acct:bob}:used", "mh:{acct:bob}:msg:B2", "150", "3", "20", "1", NULL};
	const char *want_after_reset[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_COMMIT), "2",
		"mh:{acct:carol}:used", "mh:{acct:carol}:msg:C3", "9", "2", NULL};

	quota_batch_reset(&b);
	ck_assert_int_eq(quota_batch_add(&b, "alice", 150, 3, "A1", err, sizeof(err)), 0);
	quota_batch_argv(&b, 0);
	batch_is(&b, want1);
	/* an add drops the argv built before: it is never sent short of a message */
	ck_assert_int_eq(quota_batch_add(&b, "bob", 20, 1, "B2", err, sizeof(err)), 0);
	ck_assert_int_eq(b.argc, 0);
	quota_batch_argv(&b, 0);
	batch_is(&b, want2);
	quota_batch_argv(&b, 1);
	batch_is(&b, want_eval2);

	/* reset empties: nothing of the earlier messages is left */
	quota_batch_reset(&b);
	ck_assert_uint_eq(b.n, 0);
	ck_assert_int_eq(b.argc, 0);
	ck_assert_int_eq(quota_batch_add(&b, "carol", 9, 2, "C3", err, sizeof(err)), 0);
	ck_assert_uint_eq(b.n, 1);
	quota_batch_argv(&b, 0);
	batch_is(&b, want_after_reset);
}
END_TEST

START_TEST(test_argv_undo)
{
	struct quota_cmd cmd;
	char	err[256];
	const char *want[] = {"EVALSHA", quota_script_sha(QUOTA_SCRIPT_UNDO), "2",
		"mh:{acct:bob@example.com}:used", "mh:{acct:bob@example.com}:msg:4XyZ1abC9", NULL};
	const char *want_eval[] = {"EVAL", quota_script_text(QUOTA_SCRIPT_UNDO), "2",
		"mh:{acct:bob@example.com}:used", "mh:{acct:bob@example.com}:msg:4XyZ1abC9", NULL};

	ck_assert_int_eq(quota_cmd_undo(&cmd, "bob@example.com", "4XyZ1abC9", err, sizeof(err)), 0);
	ck_assert_int_eq(cmd.script, QUOTA_SCRIPT_UNDO);
	argv_is(&cmd, want);
	quota_cmd_eval(&cmd);
	argv_is(&cmd, want_eval);
}
END_TEST

static char long_user[300];
static char long_qid[40];

static const struct {
	const char *label;
	const char *user;
	uint64_t limit;
	uint64_t relays;
	const char *qid;		/* NULL: CHECK; "-": COMMIT or UNDO without queue ID */
	const char *errsub;
} bad_cases[] = {
	{"no user", NULL, 150, 1, NULL, "no account name"},
	{"empty user", "", 150, 1, NULL, "empty account name"},
	{"space in user", "bob smith", 150, 1, NULL, "space at byte 4"},
	{"brace in user", "bob}x", 150, 1, NULL, "brace"},
	{"CR in user", "bob\r\nQUIT", 150, 1, NULL, "control"},
	{"8-bit user", "b\xc3\xb6" "b", 150, 1, NULL, "8-bit"},
	{"256-byte user", long_user, 150, 1, NULL, "longer than 255"},
	{"limit too big", "bob", QUOTA_COUNT_MAX + 1, 1, NULL, "limit 4503599627370496 is larger"},
	{"limit UINT64_MAX", "bob", UINT64_MAX, 1, NULL, "limit"},
	{"relays too big", "bob", 150, QUOTA_COUNT_MAX + 1, NULL, "relay count"},
	{"commit: no queue ID", "bob", 150, 1, "-", "no queue ID"},
	{"commit: empty queue ID", "bob", 150, 1, "", "no queue ID"},
	{"commit: 33-byte queue ID", "bob", 150, 1, long_qid, "longer than 32"},
	{"commit: dash in queue ID", "bob", 150, 1, "AB-12", "letter or digit"},
	{"commit: colon in queue ID", "bob", 150, 1, "AB:12", "letter or digit"},
	{"commit: space in queue ID", "bob", 150, 1, "AB 12", "letter or digit"},
	{"commit: bad user", "a b", 150, 1, "AB12", "space"},
	{"commit: no user", NULL, 150, 1, "AB12", "no account name"},
	{"commit: brace in user", "bob}x", 150, 1, "AB12", "brace"},
	{"commit: 256-byte user", long_user, 150, 1, "AB12", "longer than 255"},
	{"commit: limit too big", "bob", QUOTA_COUNT_MAX + 1, 1, "AB12",
	"limit 4503599627370496 is larger than 4503599627370495"},
	{"commit: limit UINT64_MAX", "bob", UINT64_MAX, 1, "AB12", "limit"},
	{"commit: relays one past", "bob", 150, QUOTA_COUNT_MAX + 1, "AB12",
	"relay count 4503599627370496 is larger than 4503599627370495"},
	{"commit: relays too big", "bob", 150, UINT64_MAX, "AB12", "relay count"},
	{"undo: no queue ID", "bob", 0, 0, "-", "no queue ID"},
	{"undo: empty queue ID", "bob", 0, 0, "", "no queue ID"},
	{"undo: 33-byte queue ID", "bob", 0, 0, long_qid, "longer than 32"},
	{"undo: colon in queue ID", "bob", 0, 0, "AB:12", "letter or digit"},
	{"undo: no user", NULL, 0, 0, "AB12", "no account name"},
	{"undo: brace in user", "bob}x", 0, 0, "AB12", "brace"},
	{"undo: 256-byte user", long_user, 0, 0, "AB12", "longer than 255"},
};

START_TEST(test_argv_bad)
{
	struct quota_cmd cmd;
	struct quota_batch b;
	char	err[256] = "", err_add[256] = "";
	const char *qid = bad_cases[_i].qid && strcmp(bad_cases[_i].qid, "-") ? bad_cases[_i].qid : NULL;
	int	rc;

	memset(long_user, 'u', sizeof(long_user) - 44);	/* 256 bytes */
	long_user[256] = 0;
	memset(long_qid, 'Q', QUOTA_QUEUEID_MAX + 1);
	long_qid[QUOTA_QUEUEID_MAX + 1] = 0;
	if (strncmp(bad_cases[_i].label, "commit:", 7) == 0) {
		/* quota_batch_add refuses it alike, and the batch keeps what it had */
		rc = quota_commit_valid(bad_cases[_i].user, bad_cases[_i].limit,
					bad_cases[_i].relays, qid, err, sizeof(err));
		quota_batch_reset(&b);
		ck_assert_int_eq(quota_batch_add(&b, "alice", 150, 1, "GOOD1", err_add,
						 sizeof(err_add)), 0);
		ck_assert_int_eq(quota_batch_add(&b, bad_cases[_i].user, bad_cases[_i].limit,
						 bad_cases[_i].relays, qid, err_add, sizeof(err_add)), -1);
		ck_assert_str_eq(err_add, err);
		ck_assert_uint_eq(b.n, 1);
		ck_assert_str_eq(b.msg[0].msg_key, "mh:{acct:alice}:msg:GOOD1");
	} else {
		if (bad_cases[_i].qid == NULL)
			rc = quota_cmd_check(&cmd, bad_cases[_i].user, bad_cases[_i].limit,
					     bad_cases[_i].relays, err, sizeof(err));
		else
			rc = quota_cmd_undo(&cmd, bad_cases[_i].user, qid, err, sizeof(err));
		ck_assert_int_eq(cmd.argc, 0);
	}
	ck_assert_msg(rc == -1, "%s: accepted", bad_cases[_i].label);
	ck_assert_msg(strstr(err, bad_cases[_i].errsub) != NULL, "%s: err \"%s\"",
		      bad_cases[_i].label, err);
}
END_TEST

START_TEST(test_batch_full)
{
	struct quota_batch b;
	char	err[256] = "", qid[16];

	quota_batch_reset(&b);
	for (int i = 0; i < QUOTA_BATCH_MAX; i++) {
		snprintf(qid, sizeof(qid), "Q%d", i);
		ck_assert_int_eq(quota_batch_add(&b, "bob", 100 + (uint64_t) i, 1, qid,
						 err, sizeof(err)), 0);
	}
	ck_assert_uint_eq(b.n, QUOTA_BATCH_MAX);
	/* the 33rd: refused, the 32 kept */
	ck_assert_int_eq(quota_batch_add(&b, "bob", 150, 1, "Q32", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than 32 messages in one COMMIT");
	ck_assert_uint_eq(b.n, QUOTA_BATCH_MAX);
	quota_batch_argv(&b, 0);
	ck_assert_int_eq(b.argc, 3 + 4 * QUOTA_BATCH_MAX);
	ck_assert_str_eq(b.argv[2], "64");
	ck_assert_str_eq(b.argv[3], "mh:{acct:bob}:used");
	ck_assert_str_eq(b.argv[3 + 2 * QUOTA_BATCH_MAX - 1], "mh:{acct:bob}:msg:Q31");
	ck_assert_str_eq(b.argv[3 + 2 * QUOTA_BATCH_MAX], "100");
	ck_assert_str_eq(b.argv[b.argc - 2], "131");
	ck_assert_str_eq(b.argv[b.argc - 1], "1");
	quota_batch_reset(&b);
	ck_assert_int_eq(quota_batch_add(&b, "bob", 150, 1, "Q32", err, sizeof(err)), 0);
}
END_TEST

/* --- reply parsing ---------------------------------------------------------- */

#define ROW(a, b, c, d, e, f)	"*6\r\n:" a "\r\n:" b "\r\n:" c "\r\n:" d "\r\n:" e "\r\n:" f "\r\n"

static const struct {
	const char *label;
	enum quota_script script;
	const char *resp;
	int	ok;
	enum quota_status status;
	uint64_t used;
	const char *errsub;
} parse_cases[] = {
	{"check fits", QUOTA_SCRIPT_CHECK, ROW("1", "10", "150", "19876", "3600", "3"), 1, QUOTA_OK, 10, NULL},
	{"check full", QUOTA_SCRIPT_CHECK, ROW("0", "149", "150", "19876", "3600", "3"), 1, QUOTA_REFUSED, 149, NULL},
	{"check status 2", QUOTA_SCRIPT_CHECK, ROW("2", "10", "150", "19876", "3600", "3"), 0, 0, 0, "unexpected status 2"},
	{"check status 3", QUOTA_SCRIPT_CHECK, ROW("3", "10", "150", "19876", "3600", "3"), 0, 0, 0, "unexpected status 3"},
	/* COMMIT's reply is a batch's (quota_batch_parse): quota_parse takes none */
	{"commit through quota_parse", QUOTA_SCRIPT_COMMIT, ROW("1", "150", "150", "19876", "1", "1"), 0, 0, 0,
	"quota commit: unexpected status 1 in reply"},
	{"commit undone through quota_parse", QUOTA_SCRIPT_COMMIT, ROW("3", "10", "150", "19876", "3600", "0"), 0, 0, 0,
	"quota commit: unexpected status 3 in reply"},
	{"undo undone", QUOTA_SCRIPT_UNDO, ROW("3", "144", "0", "19876", "3600", "6"), 1, QUOTA_UNDONE, 144, NULL},
	{"undo to 0", QUOTA_SCRIPT_UNDO, ROW("3", "0", "0", "19876", "1", "150"), 1, QUOTA_UNDONE, 0, NULL},
	{"undo nothing", QUOTA_SCRIPT_UNDO, ROW("4", "0", "0", "19876", "86400", "0"), 1, QUOTA_NOTHING, 0, NULL},
	{"undo status 0", QUOTA_SCRIPT_UNDO, ROW("0", "0", "0", "19876", "3600", "0"), 0, 0, 0, "quota undo: unexpected status 0"},
	{"undo status 1", QUOTA_SCRIPT_UNDO, ROW("1", "0", "0", "19876", "3600", "0"), 0, 0, 0, "unexpected status 1"},
	{"undo status 2", QUOTA_SCRIPT_UNDO, ROW("2", "0", "0", "19876", "3600", "0"), 0, 0, 0, "unexpected status 2"},
	{"undo status 5", QUOTA_SCRIPT_UNDO, ROW("5", "0", "0", "19876", "3600", "0"), 0, 0, 0, "unexpected status 5"},
	{"undo negative relays", QUOTA_SCRIPT_UNDO, ROW("3", "0", "0", "19876", "3600", "-6"), 0, 0, 0, "unexpected relays"},
	{"undo reset_in 0", QUOTA_SCRIPT_UNDO, ROW("3", "0", "0", "19876", "0", "6"), 0, 0, 0, "reset_in 0"},
	{"undo 4 elements", QUOTA_SCRIPT_UNDO, "*4\r\n:3\r\n:0\r\n:19876\r\n:6\r\n", 0, 0, 0, "quota undo: unexpected reply (type 2, 4 elements)"},
	{"undo: record not a record", QUOTA_SCRIPT_UNDO, "-ERR mhkit quota: mh:{acct:bob}:msg:Q1 is not a record\r\n",
	0, 0, 0, "quota undo: Redis: ERR mhkit quota: mh:{acct:bob}:msg:Q1 is not a record"},
	{"reset_in 0", QUOTA_SCRIPT_CHECK, ROW("1", "10", "150", "19876", "0", "3"), 0, 0, 0, "reset_in 0"},
	{"reset_in 86401", QUOTA_SCRIPT_CHECK, ROW("1", "10", "150", "19876", "86401", "3"), 0, 0, 0, "reset_in 86401"},
	{"negative used", QUOTA_SCRIPT_CHECK, ROW("1", "-1", "150", "19876", "3600", "3"), 0, 0, 0, "unexpected used"},
	{"negative status", QUOTA_SCRIPT_CHECK, ROW("-1", "1", "150", "19876", "3600", "3"), 0, 0, 0, "unexpected status"},
	{"NOSCRIPT", QUOTA_SCRIPT_CHECK, "-NOSCRIPT No matching script. Please use EVAL.\r\n", 0, 0, 0,
	"quota check: Redis: NOSCRIPT No matching script"},
	{"script error", QUOTA_SCRIPT_CHECK, "-ERR mhkit quota: mh:{acct:bob}:used:19876 is not a count\r\n",
	0, 0, 0, "quota check: Redis: ERR mhkit quota"},
	{"WRONGTYPE", QUOTA_SCRIPT_CHECK, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
	0, 0, 0, "quota check: Redis: WRONGTYPE"},
	{"error with a tab inside", QUOTA_SCRIPT_CHECK, "-ERR a\tb\r\n", 0, 0, 0, "ERR a?b"},
	{"nil", QUOTA_SCRIPT_CHECK, "$-1\r\n", 0, 0, 0, "unexpected reply (type 4"},
	{"nil array", QUOTA_SCRIPT_CHECK, "*-1\r\n", 0, 0, 0, "unexpected reply"},
	{"integer", QUOTA_SCRIPT_CHECK, ":1\r\n", 0, 0, 0, "unexpected reply (type 3"},
	{"string", QUOTA_SCRIPT_CHECK, "$2\r\nOK\r\n", 0, 0, 0, "unexpected reply (type 1"},
	{"status OK", QUOTA_SCRIPT_UNDO, "+OK\r\n", 0, 0, 0, "unexpected reply (type 5"},
	{"empty array", QUOTA_SCRIPT_UNDO, "*0\r\n", 0, 0, 0, "0 elements"},
	{"5 elements", QUOTA_SCRIPT_CHECK, "*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0, "5 elements"},
	{"7 elements", QUOTA_SCRIPT_CHECK, "*7\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0,
	"7 elements"},
	{"string element", QUOTA_SCRIPT_CHECK, "*6\r\n:1\r\n$2\r\n10\r\n:150\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0,
	"unexpected used"},
	{"nil element", QUOTA_SCRIPT_CHECK, "*6\r\n:1\r\n:10\r\n$-1\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0,
	"unexpected limit"},
	{"error element", QUOTA_SCRIPT_CHECK, "*6\r\n-ERR x\r\n:10\r\n:1\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0,
	"unexpected status"},
	{"nested array", QUOTA_SCRIPT_UNDO, "*6\r\n:3\r\n:10\r\n:0\r\n*1\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0,
	"unexpected day"},
	{"status as string", QUOTA_SCRIPT_CHECK, "*6\r\n+1\r\n:10\r\n:150\r\n:1\r\n:1\r\n:1\r\n", 0, 0, 0,
	"unexpected status"},
};

/* resp - one reply from RESP bytes, through hiredis's own reader */
static redisReply *
resp(const char *bytes)
{
	redisReader *rd = redisReaderCreate();
	void   *reply = NULL;

	ck_assert_ptr_nonnull(rd);
	ck_assert_int_eq(redisReaderFeed(rd, bytes, strlen(bytes)), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &reply), REDIS_OK);
	ck_assert_ptr_nonnull(reply);
	redisReaderFree(rd);
	return reply;
}

START_TEST(test_parse)
{
	redisReply *r = resp(parse_cases[_i].resp);
	struct quota_result res;
	char	err[256] = "";
	int	rc = quota_parse(parse_cases[_i].script, r, &res, err, sizeof(err));

	if (parse_cases[_i].ok) {
		ck_assert_msg(rc == 0, "%s: %s", parse_cases[_i].label, err);
		ck_assert_int_eq(res.status, parse_cases[_i].status);
		ck_assert_uint_eq(res.used, parse_cases[_i].used);
		ck_assert_uint_eq(res.limit, parse_cases[_i].script == QUOTA_SCRIPT_UNDO ? 0 : 150);
		ck_assert_uint_eq(res.day, 19876);
	} else {
		ck_assert_msg(rc == -1, "%s: parsed", parse_cases[_i].label);
		ck_assert_msg(strstr(err, parse_cases[_i].errsub) != NULL, "%s: err \"%s\"",
			      parse_cases[_i].label, err);
	}
	ck_assert_int_eq(quota_is_noscript(r), strcmp(parse_cases[_i].label, "NOSCRIPT") == 0);
	freeReplyObject(r);
}
END_TEST

START_TEST(test_parse_null)
{
	struct quota_result res;
	char	err[256] = "";

	ck_assert_int_eq(quota_parse(QUOTA_SCRIPT_CHECK, NULL, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "quota check: no reply");
	ck_assert_int_eq(quota_parse(QUOTA_SCRIPT_UNDO, NULL, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "quota undo: no reply");
	ck_assert_int_eq(quota_is_noscript(NULL), 0);
}
END_TEST

/*
 * COMMIT's replies: {day, reset_in, then status used relays per message},
 * parsed against a batch of the first n of batch_msgs (so each message's
 * limit and keys are known). Every message of a case is parsed; a wrong
 * reply fails them all alike, a failure in Redis only its own message.
 */
static const struct {
	const char *user;
	uint64_t limit;
	uint64_t relays;
	const char *qid;
} batch_msgs[] = {
	{"alice", 150, 3, "4XyZ1abC9"},
	{"bob@example.com", 4500, 6, "Q2"},
	{"carol", 20, 1, "ZZ9"},
};

#define NUM(x)			":" x "\r\n"
#define HEAD(n, day, reset)	"*" n "\r\n" NUM(day) NUM(reset)
#define MSG(status, used, relays)	NUM(status) NUM(used) NUM(relays)
#define WOK(status, used, relays)	{1, status, used, relays, NULL}
#define WERR(text)		{0, 0, 0, 0, text}

struct batch_want {
	int	ok;
	enum quota_status status;
	uint64_t used;
	uint64_t relays;
	const char *err;		/* !ok: the whole error */
};

static const struct {
	const char *label;
	size_t	n;			/* messages in the batch */
	const char *resp;		/* NULL: no reply */
	uint64_t day;			/* of the messages that parse */
	uint64_t reset_in;
	struct batch_want want[3];
} batch_cases[] = {
	{"counted", 1, HEAD("5", "19876", "1") MSG("1", "150", "3"), 19876, 1,
	{WOK(QUOTA_OK, 150, 3)}},
	{"already", 1, HEAD("5", "19876", "86400") MSG("2", "7", "6"), 19876, 86400,
	{WOK(QUOTA_ALREADY, 7, 6)}},
	{"refused", 1, HEAD("5", "19876", "5") MSG("0", "150", "3"), 19876, 5,
	{WOK(QUOTA_REFUSED, 150, 3)}},
	{"undone before", 1, HEAD("5", "19876", "3600") MSG("3", "10", "0"), 19876, 3600,
	{WOK(QUOTA_UNDONE, 10, 0)}},
	{"largest numbers", 1, HEAD("5", "19876", "3600") MSG("1", "4503599627370495", "4503599627370495"),
	19876, 3600, {WOK(QUOTA_OK, QUOTA_COUNT_MAX, QUOTA_COUNT_MAX)}},
	{"status 4", 1, HEAD("5", "19876", "3600") MSG("4", "10", "3"), 0, 0,
	{WERR("quota commit: unexpected status 4 in reply")}},
	{"status 8", 1, HEAD("5", "19876", "3600") MSG("8", "10", "3"), 0, 0,
	{WERR("quota commit: unexpected status 8 in reply")}},
	{"three: counted, refused, already", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") MSG("0", "4498", "6") MSG("2", "7", "1"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3), WOK(QUOTA_REFUSED, 4498, 6), WOK(QUOTA_ALREADY, 7, 1)}},
	{"three: 2nd not a count", 3,
	HEAD("11", "20000", "3600") MSG("1", "13", "3") MSG("5", "0", "0") MSG("1", "1", "1"),
	20000, 3600, {WOK(QUOTA_OK, 13, 3),
	WERR("quota commit: mh:{acct:bob@example.com}:used:20000 is not a count"),
	WOK(QUOTA_OK, 1, 1)}},
	{"three: 2nd not a record", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") MSG("6", "4", "0") MSG("3", "0", "0"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3),
	WERR("quota commit: mh:{acct:bob@example.com}:msg:Q2 is not a record"),
	WOK(QUOTA_UNDONE, 0, 0)}},
	{"three: 2nd write refused", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") MSG("7", "0", "0") MSG("0", "20", "1"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3),
	WERR("quota commit: Redis refused to write mh:{acct:bob@example.com}:msg:Q2"),
	WOK(QUOTA_REFUSED, 20, 1)}},
	{"three: 2nd status 4", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") MSG("4", "0", "0") MSG("1", "1", "1"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3), WERR("quota commit: unexpected status 4 in reply"),
	WOK(QUOTA_OK, 1, 1)}},
	{"three: 2nd status 8", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") MSG("8", "0", "0") MSG("1", "1", "1"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3), WERR("quota commit: unexpected status 8 in reply"),
	WOK(QUOTA_OK, 1, 1)}},
	{"three: 3rd used a string", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") MSG("1", "10", "6") NUM("1") "$2\r\n10\r\n" NUM("1"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3), WOK(QUOTA_OK, 10, 6),
	WERR("quota commit: unexpected element in reply for message 3")}},
	{"three: 2nd relays nil", 3,
	HEAD("11", "19876", "3600") MSG("1", "13", "3") NUM("1") NUM("10") "$-1\r\n" MSG("1", "1", "1"),
	19876, 3600, {WOK(QUOTA_OK, 13, 3),
	WERR("quota commit: unexpected element in reply for message 2"), WOK(QUOTA_OK, 1, 1)}},
	{"three: 10 elements", 3,
	HEAD("10", "19876", "3600") MSG("1", "13", "3") MSG("1", "10", "6") NUM("1") NUM("1"), 0, 0,
	{WERR("quota commit: unexpected reply (type 2, 10 elements)"),
	WERR("quota commit: unexpected reply (type 2, 10 elements)"),
	WERR("quota commit: unexpected reply (type 2, 10 elements)")}},
	{"three: 12 elements", 3,
	HEAD("12", "19876", "3600") MSG("1", "13", "3") MSG("1", "10", "6") MSG("1", "1", "1") NUM("1"),
	0, 0, {WERR("quota commit: unexpected reply (type 2, 12 elements)"),
	WERR("quota commit: unexpected reply (type 2, 12 elements)"),
	WERR("quota commit: unexpected reply (type 2, 12 elements)")}},
	{"one: 4 elements", 1, HEAD("4", "19876", "3600") NUM("1") NUM("13"), 0, 0,
	{WERR("quota commit: unexpected reply (type 2, 4 elements)")}},
	{"one: 6 elements", 1, HEAD("6", "19876", "3600") MSG("1", "13", "3") NUM("3"), 0, 0,
	{WERR("quota commit: unexpected reply (type 2, 6 elements)")}},
	{"one: CHECK's reply", 1, ROW("1", "150", "150", "19876", "1", "1"), 0, 0,
	{WERR("quota commit: unexpected reply (type 2, 6 elements)")}},
	{"three: reset_in 0", 3,
	HEAD("11", "19876", "0") MSG("1", "13", "3") MSG("1", "10", "6") MSG("1", "1", "1"), 0, 0,
	{WERR("quota commit: unexpected day or reset_in in reply"),
	WERR("quota commit: unexpected day or reset_in in reply"),
	WERR("quota commit: unexpected day or reset_in in reply")}},
	{"three: reset_in 86401", 3,
	HEAD("11", "19876", "86401") MSG("1", "13", "3") MSG("1", "10", "6") MSG("1", "1", "1"), 0, 0,
	{WERR("quota commit: unexpected day or reset_in in reply"),
	WERR("quota commit: unexpected day or reset_in in reply"),
	WERR("quota commit: unexpected day or reset_in in reply")}},
	{"negative day", 1, HEAD("5", "-1", "3600") MSG("1", "13", "3"), 0, 0,
	{WERR("quota commit: unexpected day or reset_in in reply")}},
	{"day a string", 1, "*5\r\n$5\r\n19876\r\n" NUM("3600") MSG("1", "13", "3"), 0, 0,
	{WERR("quota commit: unexpected day or reset_in in reply")}},
	{"nested array", 1, "*5\r\n*1\r\n:19876\r\n" NUM("3600") MSG("1", "13", "3"), 0, 0,
	{WERR("quota commit: unexpected day or reset_in in reply")}},
	{"negative used", 1, HEAD("5", "19876", "3600") MSG("1", "-1", "3"), 0, 0,
	{WERR("quota commit: unexpected element in reply for message 1")}},
	{"negative status", 1, HEAD("5", "19876", "3600") MSG("-1", "1", "3"), 0, 0,
	{WERR("quota commit: unexpected element in reply for message 1")}},
	{"status as string", 1, HEAD("5", "19876", "3600") "+1\r\n" NUM("10") NUM("3"), 0, 0,
	{WERR("quota commit: unexpected element in reply for message 1")}},
	{"NOSCRIPT", 1, "-NOSCRIPT No matching script. Please use EVAL.\r\n", 0, 0,
	{WERR("quota commit: Redis: NOSCRIPT No matching script. Please use EVAL.")}},
	{"three: OOM before the first write", 3,
	"-OOM command not allowed when used memory > 'maxmemory'.\r\n", 0, 0,
	{WERR("quota commit: Redis: OOM command not allowed when used memory > 'maxmemory'."),
	WERR("quota commit: Redis: OOM command not allowed when used memory > 'maxmemory'."),
	WERR("quota commit: Redis: OOM command not allowed when used memory > 'maxmemory'.")}},
	{"error with a tab inside", 1, "-ERR a\tb\r\n", 0, 0, {WERR("quota commit: Redis: ERR a?b")}},
	{"status OK", 1, "+OK\r\n", 0, 0, {WERR("quota commit: unexpected reply (type 5, 0 elements)")}},
	{"empty array", 1, "*0\r\n", 0, 0, {WERR("quota commit: unexpected reply (type 2, 0 elements)")}},
	{"nil", 1, "$-1\r\n", 0, 0, {WERR("quota commit: unexpected reply (type 4, 0 elements)")}},
	{"integer", 1, ":1\r\n", 0, 0, {WERR("quota commit: unexpected reply (type 3, 0 elements)")}},
	{"no reply", 1, NULL, 0, 0, {WERR("quota commit: no reply")}},
	{"three: no reply", 3, NULL, 0, 0,
	{WERR("quota commit: no reply"), WERR("quota commit: no reply"), WERR("quota commit: no reply")}},
};

START_TEST(test_batch_parse)
{
	struct quota_batch b;
	redisReply *r = batch_cases[_i].resp ? resp(batch_cases[_i].resp) : NULL;
	char	err[256];
	const char *label = batch_cases[_i].label;

	quota_batch_reset(&b);
	for (size_t m = 0; m < batch_cases[_i].n; m++)
		ck_assert_int_eq(quota_batch_add(&b, batch_msgs[m].user, batch_msgs[m].limit,
						 batch_msgs[m].relays, batch_msgs[m].qid,
						 err, sizeof(err)), 0);
	for (size_t m = 0; m < batch_cases[_i].n; m++) {
		const struct batch_want *w = &batch_cases[_i].want[m];
		struct quota_result res;
		int	rc;

		err[0] = 0;
		rc = quota_batch_parse(&b, r, m, &res, err, sizeof(err));
		if (w->ok) {
			ck_assert_msg(rc == 0, "%s, message %zu: %s", label, m + 1, err);
			ck_assert_msg(res.status == w->status && res.used == w->used
				      && res.relays == w->relays,
				      "%s, message %zu: status %d used %llu relays %llu", label, m + 1,
				      (int) res.status, (unsigned long long) res.used,
				      (unsigned long long) res.relays);
			ck_assert_uint_eq(res.limit, batch_msgs[m].limit);
			ck_assert_uint_eq(res.day, batch_cases[_i].day);
			ck_assert_uint_eq(res.reset_in, batch_cases[_i].reset_in);
		} else {
			ck_assert_msg(rc == -1, "%s, message %zu: parsed", label, m + 1);
			ck_assert_msg(strcmp(err, w->err) == 0, "%s, message %zu: err \"%s\"",
				      label, m + 1, err);
		}
	}
	ck_assert_int_eq(quota_is_noscript(r), strcmp(label, "NOSCRIPT") == 0);
	freeReplyObject(r);
}
END_TEST

/* a full batch's reply: every message finds its own three elements */
START_TEST(test_batch_parse_full)
{
	struct quota_batch b;
	char	err[256] = "", qid[16], bytes[4096];
	size_t	len;
	redisReply *r;

	quota_batch_reset(&b);
	for (int i = 0; i < QUOTA_BATCH_MAX; i++) {
		snprintf(qid, sizeof(qid), "Q%d", i);
		ck_assert_int_eq(quota_batch_add(&b, "bob", 1000 + (uint64_t) i, 1, qid,
						 err, sizeof(err)), 0);
	}
	len = (size_t) snprintf(bytes, sizeof(bytes), "*%d\r\n:19876\r\n:3600\r\n",
				2 + 3 * QUOTA_BATCH_MAX);
	for (int i = 0; i < QUOTA_BATCH_MAX; i++)
		len += (size_t) snprintf(bytes + len, sizeof(bytes) - len, ":%d\r\n:%d\r\n:%d\r\n",
					 i % 4, 100 + i, i);
	ck_assert_uint_lt(len, sizeof(bytes));
	r = resp(bytes);
	for (size_t m = 0; m < QUOTA_BATCH_MAX; m++) {
		struct quota_result res;

		ck_assert_int_eq(quota_batch_parse(&b, r, m, &res, err, sizeof(err)), 0);
		ck_assert_int_eq(res.status, (int) (m % 4));
		ck_assert_uint_eq(res.used, 100 + m);
		ck_assert_uint_eq(res.relays, m);
		ck_assert_uint_eq(res.limit, 1000 + m);
		ck_assert_uint_eq(res.day, 19876);
		ck_assert_uint_eq(res.reset_in, 3600);
	}
	freeReplyObject(r);
}
END_TEST

START_TEST(test_result)
{
	struct quota_result res = {QUOTA_OK, 40, 150, 19876, 3600, 0};
	char	iso[QUOTA_ISO_MAX];

	ck_assert_uint_eq(quota_left(&res), 110);
	res.used = 150;
	ck_assert_uint_eq(quota_left(&res), 0);
	res.used = 300;			/* limit lowered below today's use */
	ck_assert_uint_eq(quota_left(&res), 0);
	ck_assert_int_eq(quota_reset_iso(&res, iso, sizeof(iso)), 0);
	ck_assert_str_eq(iso, "2024-06-03T00:00:00Z");
	res.day = 0;
	ck_assert_int_eq(quota_reset_iso(&res, iso, sizeof(iso)), 0);
	ck_assert_str_eq(iso, "1970-01-02T00:00:00Z");
	ck_assert_int_eq(quota_reset_iso(&res, iso, 10), -1);
	res.day = UINT64_MAX;
	ck_assert_int_eq(quota_reset_iso(&res, iso, sizeof(iso)), -1);
}
END_TEST

/* --- SMTP replies ----------------------------------------------------------- */

START_TEST(test_replies)
{
	struct reply r;

	quota_reply_over(&r, "452 4.7.1", 150, "bob@example.com");
	ck_assert_int_eq(r.kind, REPLY_DEFER);
	ck_assert_str_eq(r.text, "452 4.7.1 Daily relay limit of 150 reached for bob@example.com; "
			 "resets at 00:00 UTC");
	quota_reply_over(&r, "550 5.7.1", 4500, "alice");
	ck_assert_int_eq(r.kind, REPLY_REJECT);
	ck_assert_str_eq(r.text, "550 5.7.1 Daily relay limit of 4500 reached for alice; resets at 00:00 UTC");
	quota_reply_no_service(&r, "carol");
	ck_assert_int_eq(r.kind, REPLY_REJECT);
	ck_assert_str_eq(r.text, "554 5.7.1 <carol>: no outbound service");
	quota_reply_no_service(&r, NULL);
	ck_assert_str_eq(r.text, "554 5.7.1 <>: no outbound service");
	quota_reply_too_many(&r);
	ck_assert_int_eq(r.kind, REPLY_DEFER);
	ck_assert_str_eq(r.text, "452 4.5.3 Error: too many recipients");
	quota_reply_size(&r);
	ck_assert_int_eq(r.kind, REPLY_REJECT);
	ck_assert_str_eq(r.text, "552 5.3.4 Message size exceeds fixed limit");
}
END_TEST

static const struct {
	const char *label;
	const char *quota_reply;
	const char *prefix;
} code_cases[] = {
	{"default", "452 4.7.1", "452 4.7.1 Daily"},
	{"5xx", "554 5.7.0", "554 5.7.0 Daily"},
	{"3-digit DSN parts", "452 4.123.456", "452 4.123.456 Daily"},
	{"NULL", NULL, "452 4.7.1 Daily"},
	{"empty", "", "452 4.7.1 Daily"},
	{"class mismatch", "452 5.7.1", "452 4.7.1 Daily"},
	{"2xx", "250 2.0.0", "452 4.7.1 Daily"},
	{"short code", "45 4.7.1", "452 4.7.1 Daily"},
	{"no DSN", "452", "452 4.7.1 Daily"},
	{"long DSN", "452 4.7.1111111111111111", "452 4.7.1 Daily"},
	{"CRLF injected", "452 4.7.1\r\n250 ok", "452 4.7.1 Daily"},
};

START_TEST(test_reply_codes)
{
	struct reply r;

	quota_reply_over(&r, code_cases[_i].quota_reply, 150, "bob");
	ck_assert_msg(strncmp(r.text, code_cases[_i].prefix, strlen(code_cases[_i].prefix)) == 0,
		      "%s: %s", code_cases[_i].label, r.text);
}
END_TEST

START_TEST(test_reply_hostile_users)
{
	struct reply r;
	char	big[10240 + 1], want[QUOTA_USER_SHOW_MAX + 1];
	const char *tail = "; resets at 00:00 UTC";

	quota_reply_over(&r, "452 4.7.1", 150, "bob\r\n250 2.0.0 Ok\r\n");
	ck_assert_str_eq(r.text, "452 4.7.1 Daily relay limit of 150 reached for "
			 "bob??250 2.0.0 Ok??; resets at 00:00 UTC");
	quota_reply_no_service(&r, "\x1b[31mred\x7f\xff");
	ck_assert_str_eq(r.text, "554 5.7.1 <?[31mred?" "?>: no outbound service");

	memset(big, 'x', sizeof(big) - 1);	/* 10 KB: cut, marked, the tail kept */
	big[sizeof(big) - 1] = 0;
	quota_reply_over(&r, "452 4.7.1", 150, big);
	ck_assert_uint_le(strlen(r.text), REPLY_TEXT_MAX);
	ck_assert_str_eq(r.text + strlen(r.text) - strlen(tail), tail);
	memset(want, 'x', QUOTA_USER_SHOW_MAX - 3);
	memcpy(want + QUOTA_USER_SHOW_MAX - 3, "...", 4);
	ck_assert_ptr_nonnull(strstr(r.text, want));
	ck_assert_ptr_null(strstr(r.text, "xxxx...x"));
	quota_reply_no_service(&r, big);
	ck_assert_str_eq(r.text + strlen(r.text) - strlen("...>: no outbound service"),
			 "...>: no outbound service");

	memset(big, 'y', QUOTA_USER_SHOW_MAX);	/* exactly the limit: not cut */
	big[QUOTA_USER_SHOW_MAX] = 0;
	quota_reply_no_service(&r, big);
	ck_assert_ptr_null(strstr(r.text, "..."));
	ck_assert_uint_eq(strlen(r.text), strlen("554 5.7.1 <>: no outbound service") + QUOTA_USER_SHOW_MAX);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("quota");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

#define N(a)	((int) (sizeof(a) / sizeof((a)[0])))
	tcase_add_loop_test(tc, test_multiplier, 0, N(mult_cases));
	tcase_add_loop_test(tc, test_relays, 0, N(relay_cases));
	tcase_add_loop_test(tc, test_sha1, 0, N(sha_cases));
	tcase_add_test(tc, test_scripts);
	tcase_add_test(tc, test_argv_check);
	tcase_add_test(tc, test_argv_commit);
	tcase_add_test(tc, test_argv_commit_three);
	tcase_add_test(tc, test_argv_commit_max);
	tcase_add_test(tc, test_argv_commit_rebuild);
	tcase_add_test(tc, test_argv_undo);
	tcase_add_loop_test(tc, test_argv_bad, 0, N(bad_cases));
	tcase_add_test(tc, test_batch_full);
	tcase_add_loop_test(tc, test_parse, 0, N(parse_cases));
	tcase_add_test(tc, test_parse_null);
	tcase_add_loop_test(tc, test_batch_parse, 0, N(batch_cases));
	tcase_add_test(tc, test_batch_parse_full);
	tcase_add_test(tc, test_result);
	tcase_add_test(tc, test_replies);
	tcase_add_loop_test(tc, test_reply_codes, 0, N(code_cases));
	tcase_add_test(tc, test_reply_hostile_users);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
