/*
 * quota.c - exact daily relay counting for outbound accounts, in Redis.
 *
 * The counting is three Lua scripts run inside Redis (quota.h gives the
 * protocol, doc/quota.md the reasons): CHECK at RCPT reads today's count,
 * COMMIT at END-OF-MESSAGE counts a whole message or refuses it, once per
 * queue ID, and UNDO takes back the count of a message that was refused
 * after all (its COMMIT's reply was lost and the client was answered
 * 451). Each script is one atomic step and takes the day from Redis's
 * TIME, so no node's clock and no race between nodes matters. This file
 * holds the scripts' text and SHA-1 names, builds their argv (EVALSHA,
 * or EVAL after NOSCRIPT) for the asynchronous client, parses their
 * replies, runs them synchronously over an rconn, and builds the SMTP
 * replies of outbound counting.
 *
 * Public functions: quota_init, quota_script_text, quota_script_sha,
 * quota_cmd_check, quota_cmd_undo, quota_cmd_eval, quota_batch_reset,
 * quota_commit_valid, quota_batch_add, quota_batch_argv,
 * quota_batch_parse, quota_batch_run, quota_is_noscript, quota_parse, quota_check_sync, quota_commit_sync,
 * quota_undo_sync, quota_show_sync,
 * quota_reset_iso, quota_reply_over, quota_reply_no_service,
 * quota_reply_too_many.
 *
 * Limits: user names as account_name_valid allows (at most 255 bytes),
 * queue IDs QUOTA_QUEUEID_MAX bytes of [0-9A-Za-z], counts and limits at
 * most QUOTA_COUNT_MAX (exact in Lua's doubles). Logs nothing: callers
 * log the verdict with their queue ID. Failures are -1 with one line in
 * the caller's err buffer; a reply that is not exactly what the script
 * returns (an error, a nil, a short array, a negative number) is a
 * failure, never a verdict.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "account.h"
#include "keys.h"
#include "log.h"
#include "quota.h"
#include "rconn.h"
#include "reply.h"
#include "sha1.h"

#define QUOTA_STR2(x)		#x
#define QUOTA_STR(x)		QUOTA_STR2(x)
#define QUOTA_REPLY_ELEMENTS	6	/* status used limit day reset_in relays */
#define QUOTA_DEFAULT_REPLY	"452 4.7.1"	/* outbound.quota_reply's default */

/* COMMIT's per-message failures (never a quota_status: quota_batch_parse makes them errors) */
#define QUOTA_LUA_NOT_COUNT	5	/* today's counter is not a count */
#define QUOTA_LUA_NOT_RECORD	6	/* the queue ID's record is not a record */
#define QUOTA_LUA_WRITE_REFUSED	7	/* Redis refused to write the record (an ACL) */
#define QUOTA_BATCH_HEAD	2	/* COMMIT's reply: day reset_in, then per message: */
#define QUOTA_BATCH_ELEMENTS	3	/* status used relays */

/* COMMIT's Lua writes the statuses as numbers */
_Static_assert(QUOTA_REFUSED == 0 && QUOTA_OK == 1 && QUOTA_ALREADY == 2 && QUOTA_UNDONE == 3,
	       "quota_lua_commit's status numbers");

/*
 * Start of every script: the day from TIME and the seconds to 00:00 UTC.
 * (Day and count are formatted with %d: Lua would print 1e+14 for large
 * numbers.)
 */
#define QUOTA_LUA_TIME \
	"local t = redis.call('TIME')\n" \
	"local now = tonumber(t[1])\n" \
	"local day = math.floor(now / " QUOTA_STR(QUOTA_DAY_SECONDS) ")\n" \
	"local reset = (day + 1) * " QUOTA_STR(QUOTA_DAY_SECONDS) " - now\n"

/*
 * Shared start of CHECK and COMMIT: the day, today's counter read and
 * checked to be a plain count, the arguments as numbers.
 */
#define QUOTA_LUA_PRELUDE \
	QUOTA_LUA_TIME \
	"local key = KEYS[1] .. ':' .. string.format('%d', day)\n" \
	"local v = redis.call('GET', key)\n" \
	"if v and not string.match(v, '^%d+$') then\n" \
	"  return redis.error_reply('ERR mhkit quota: ' .. key .. ' is not a count')\n" \
	"end\n" \
	"local used = tonumber(v or '0')\n" \
	"local limit = tonumber(ARGV[1])\n" \
	"local relays = tonumber(ARGV[2])\n"

static const char quota_lua_check[] =
	"-- mhkit quota CHECK: KEYS[1] mh:{acct:USER}:used; ARGV limit relays\n"
	QUOTA_LUA_PRELUDE
	"local status = 0\n"
	"if used + relays <= limit then status = 1 end\n"
	"return {status, used, limit, day, reset, relays}\n";

/*
 * COMMIT counts any number of messages (at most QUOTA_BATCH_MAX) in one
 * call, each as if it ran alone, in order: mhpolicyd groups the
 * END-OF-MESSAGE requests that arrive together, so that Redis runs one
 * script for them (doc/quota.md, "Batches"). Per message: the record is
 * made first (SET NX: an existing one means the queue ID was seen
 * before), then the counter is raised and compared with the limit; a
 * message that does not fit is taken back (DECRBY, or the new counter
 * deleted) and so is its record. Two writes for an accepted message,
 * the common case. Every write of a message goes through redis.pcall,
 * so one message's failure (a counter that is not a count, a write an
 * ACL refuses) is that message's status and never stops the script
 * after other messages were counted: a script that fails keeps what it
 * wrote. Only a refusal of the very first write, before anything was
 * written (OOM, READONLY, NOPERM), fails the whole call.
 */
static const char quota_lua_commit[] =
	"-- mhkit quota COMMIT: message i is KEYS[2i-1] mh:{acct:USER}:used,"
	" KEYS[2i] mh:{acct:USER}:msg:QUEUEID, ARGV[2i-1] limit, ARGV[2i] relays\n"
	QUOTA_LUA_TIME
	"local sday = string.format('%d', day)\n"
	"local out = {day, reset}\n"
	"local function count(key)\n"
	"  local v = redis.pcall('GET', key)\n"
	"  if type(v) == 'string' and string.match(v, '^%d+$') then return tonumber(v) end\n"
	"  return 0\n"
	"end\n"
	"for i = 1, #KEYS - 1, 2 do\n"
	"  local key = KEYS[i] .. ':' .. sday\n"
	"  local relays = ARGV[i + 1]\n"
	"  local n = tonumber(relays)\n"
	"  local status, used = 1, 0\n"
	"  local set = redis.pcall('SET', KEYS[i + 1], sday .. ':' .. relays, 'NX', 'EX', "
	QUOTA_STR(QUOTA_KEY_TTL) ")\n"
	"  if type(set) == 'table' and set.err then\n"
	"    if i == 1 then return redis.error_reply(set.err) end\n"
	"    status, n = " QUOTA_STR(QUOTA_LUA_WRITE_REFUSED) ", 0\n"
	"  elseif not set then\n"
	"    local rec = redis.pcall('GET', KEYS[i + 1])\n"
	"    used = count(key)\n"
	"    if rec == '" QUOTA_RECORD_UNDONE "' then\n"
	"      status, n = 3, 0\n"
	"    elseif type(rec) == 'string' and string.match(rec, '^%d+:%d+$') then\n"
	"      status, n = 2, tonumber(string.match(rec, ':(%d+)$'))\n"
	"    else\n"
	"      status, n = " QUOTA_STR(QUOTA_LUA_NOT_RECORD) ", 0\n"
	"    end\n"
	"  else\n"
	"    used = redis.pcall('INCRBY', key, relays)\n"
	"    if type(used) ~= 'number' then\n"
	"      redis.pcall('DEL', KEYS[i + 1])\n"
	"      status, used, n = " QUOTA_STR(QUOTA_LUA_NOT_COUNT) ", 0, 0\n"
	"    else\n"
	"      if used > tonumber(ARGV[i]) then\n"
	"        if used == n then\n"
	"          redis.pcall('DEL', key)\n"
	"        else\n"
	"          redis.pcall('DECRBY', key, relays)\n"
	"        end\n"
	"        redis.pcall('DEL', KEYS[i + 1])\n"
	"        status, used = 0, used - n\n"
	"      elseif used == n then\n"
	"        redis.pcall('EXPIRE', key, " QUOTA_STR(QUOTA_KEY_TTL) ")\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  out[#out + 1] = status\n"
	"  out[#out + 1] = used\n"
	"  out[#out + 1] = n\n"
	"end\n"
	"return out\n";

/*
 * UNDO: the message's record says which day's counter its relays went
 * to; they are taken off that counter (never below 0), and the record
 * becomes the "undone" mark (a COMMIT of that queue ID arriving late,
 * from a connection that was cut, then counts nothing). Everything is
 * checked before the first write.
 */
static const char quota_lua_undo[] =
	"-- mhkit quota UNDO: KEYS[1] mh:{acct:USER}:used, KEYS[2] mh:{acct:USER}:msg:QUEUEID\n"
	QUOTA_LUA_TIME
	"local rec = redis.call('GET', KEYS[2])\n"
	"if rec == '" QUOTA_RECORD_UNDONE "' then\n"
	"  return {4, 0, 0, day, reset, 0}\n"
	"end\n"
	"if not rec then\n"
	"  redis.call('SET', KEYS[2], '" QUOTA_RECORD_UNDONE "', 'EX', " QUOTA_STR(QUOTA_KEY_TTL) ")\n"
	"  return {4, 0, 0, day, reset, 0}\n"
	"end\n"
	"local d, n = string.match(rec, '^(%d+):(%d+)$')\n"
	"if not d then\n"
	"  return redis.error_reply('ERR mhkit quota: ' .. KEYS[2] .. ' is not a record')\n"
	"end\n"
	"local key = KEYS[1] .. ':' .. d\n"
	"local v = redis.call('GET', key)\n"
	"if v and not string.match(v, '^%d+$') then\n"
	"  return redis.error_reply('ERR mhkit quota: ' .. key .. ' is not a count')\n"
	"end\n"
	"local used = tonumber(v or '0')\n"
	"local relays = tonumber(n)\n"
	"if relays > used then relays = used end\n"
	"if relays > 0 then used = redis.call('DECRBY', key, string.format('%d', relays)) end\n"
	"redis.call('SET', KEYS[2], '" QUOTA_RECORD_UNDONE "', 'EX', " QUOTA_STR(QUOTA_KEY_TTL) ")\n"
	"return {3, used, 0, tonumber(d), reset, relays}\n";

static const struct {
	const char *text;
	size_t	len;
	const char *name;
} quota_scripts[] = {
	[QUOTA_SCRIPT_CHECK] = {quota_lua_check, sizeof(quota_lua_check) - 1, "check"},
	[QUOTA_SCRIPT_COMMIT] = {quota_lua_commit, sizeof(quota_lua_commit) - 1, "commit"},
	[QUOTA_SCRIPT_UNDO] = {quota_lua_undo, sizeof(quota_lua_undo) - 1, "undo"},
};

#define QUOTA_NSCRIPTS	(sizeof(quota_scripts) / sizeof(quota_scripts[0]))

static char quota_shas[QUOTA_NSCRIPTS][SHA1_HEX_LEN + 1];
static int quota_ready;

/* quota_init - SHA-1 of each script, once */
void
quota_init(void)
{
	if (quota_ready)
		return;
	for (size_t i = 0; i < QUOTA_NSCRIPTS; i++)
		sha1_hex(quota_scripts[i].text, quota_scripts[i].len, quota_shas[i]);
	quota_ready = 1;
}

/* quota_script_text - the Lua text, as sent by EVAL */
const char *
quota_script_text(enum quota_script s)
{
	return quota_scripts[s].text;
}

/* quota_script_sha - its SHA-1, as EVALSHA names it */
const char *
quota_script_sha(enum quota_script s)
{
	quota_init();
	return quota_shas[s];
}

/* quota_u64 - v in decimal into buf (QUOTA_NUM_MAX bytes); its length */
static size_t
quota_u64(char *buf, uint64_t v)
{
	char	tmp[QUOTA_NUM_MAX];
	size_t	n = 0;

	do {
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = 0;
	return n;
}

/* quota_args_valid - a user name, a limit and a relay count a script takes */
static int
quota_args_valid(const char *user, uint64_t limit, uint64_t relays, char *err, size_t errlen)
{
	if (user == NULL) {
		snprintf(err, errlen, "no account name");
		return -1;
	}
	if (account_name_valid(user, strnlen(user, ACCOUNT_NAME_MAX + 1), err, errlen) < 0)
		return -1;
	if (limit > QUOTA_COUNT_MAX) {
		snprintf(err, errlen, "limit %llu is larger than %llu",
			 (unsigned long long) limit, (unsigned long long) QUOTA_COUNT_MAX);
		return -1;
	}
	if (relays > QUOTA_COUNT_MAX) {
		snprintf(err, errlen, "relay count %llu is larger than %llu",
			 (unsigned long long) relays, (unsigned long long) QUOTA_COUNT_MAX);
		return -1;
	}
	return 0;
}

/* quota_cmd_start - EVALSHA sha NUMKEYS used_key, checking user, limit and relays */
static int
quota_cmd_start(struct quota_cmd *cmd, enum quota_script s, const char *user,
		uint64_t limit, uint64_t relays, char *err, size_t errlen)
{
	quota_init();
	cmd->script = s;
	cmd->argc = 0;
	if (quota_args_valid(user, limit, relays, err, errlen) < 0)
		return -1;
	cmd->argv[0] = "EVALSHA";
	cmd->argvlen[0] = 7;
	cmd->argv[1] = quota_shas[s];
	cmd->argvlen[1] = SHA1_HEX_LEN;
	cmd->argv[2] = s == QUOTA_SCRIPT_CHECK ? "1" : "2";
	cmd->argvlen[2] = 1;
	cmd->argv[3] = cmd->used_key;
	cmd->argvlen[3] = (size_t) keys_build(cmd->used_key, sizeof(cmd->used_key),
					      "mh:{acct:", user, "}:used");
	cmd->argc = 4;
	return 0;
}

/* quota_cmd_args - append ARGV limit relays */
static void
quota_cmd_args(struct quota_cmd *cmd, uint64_t limit, uint64_t relays)
{
	cmd->argv[cmd->argc] = cmd->limit;
	cmd->argvlen[cmd->argc++] = quota_u64(cmd->limit, limit);
	cmd->argv[cmd->argc] = cmd->relays;
	cmd->argvlen[cmd->argc++] = quota_u64(cmd->relays, relays);
}

/* quota_cmd_check - EVALSHA of CHECK */
int
quota_cmd_check(struct quota_cmd *cmd, const char *user, uint64_t limit,
		uint64_t relays, char *err, size_t errlen)
{
	if (quota_cmd_start(cmd, QUOTA_SCRIPT_CHECK, user, limit, relays, err, errlen) < 0)
		return -1;
	quota_cmd_args(cmd, limit, relays);
	return 0;
}

/* quota_queue_id_valid - 1..QUOTA_QUEUEID_MAX letters and digits, as Postfix makes them */
static int
quota_queue_id_valid(const char *queue_id, char *err, size_t errlen)
{
	size_t	len = queue_id ? strnlen(queue_id, QUOTA_QUEUEID_MAX + 1) : 0;

	if (len == 0) {
		snprintf(err, errlen, "no queue ID");
		return -1;
	}
	if (len > QUOTA_QUEUEID_MAX) {
		snprintf(err, errlen, "queue ID longer than %d bytes", QUOTA_QUEUEID_MAX);
		return -1;
	}
	if (strspn(queue_id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	    != len) {
		snprintf(err, errlen, "queue ID has a character other than a letter or digit");
		return -1;
	}
	return 0;
}

/* quota_cmd_msg - start COMMIT or UNDO, with the message's record as KEYS[2] */
static int
quota_cmd_msg(struct quota_cmd *cmd, enum quota_script s, const char *user, uint64_t limit,
	      uint64_t relays, const char *queue_id, char *err, size_t errlen)
{
	const char *parts[4] = {"mh:{acct:", user, "}:msg:", queue_id};

	cmd->argc = 0;
	if (quota_queue_id_valid(queue_id, err, errlen) < 0
	    || quota_cmd_start(cmd, s, user, limit, relays, err, errlen) < 0)
		return -1;
	cmd->argv[cmd->argc] = cmd->msg_key;
	cmd->argvlen[cmd->argc++] = (size_t) keys_join(cmd->msg_key, sizeof(cmd->msg_key),
						       parts, 4);
	return 0;
}

/* --- COMMIT: a batch of messages in one script call ------------------------- */

/* quota_batch_reset - empty, ready for quota_batch_add */
void
quota_batch_reset(struct quota_batch *b)
{
	quota_init();
	b->n = 0;
	b->argc = 0;
}

/* quota_commit_valid - what quota_batch_add takes */
int
quota_commit_valid(const char *user, uint64_t limit, uint64_t relays, const char *queue_id,
		   char *err, size_t errlen)
{
	if (quota_queue_id_valid(queue_id, err, errlen) < 0)
		return -1;
	return quota_args_valid(user, limit, relays, err, errlen);
}

/* quota_batch_add - one more message; -1 with err when invalid or the batch is full */
int
quota_batch_add(struct quota_batch *b, const char *user, uint64_t limit, uint64_t relays,
		const char *queue_id, char *err, size_t errlen)
{
	struct quota_batch_msg *m;
	const char *parts[4] = {"mh:{acct:", user, "}:msg:", queue_id};

	if (b->n >= QUOTA_BATCH_MAX) {
		snprintf(err, errlen, "more than %d messages in one COMMIT", QUOTA_BATCH_MAX);
		return -1;
	}
	if (quota_commit_valid(user, limit, relays, queue_id, err, errlen) < 0)
		return -1;
	m = &b->msg[b->n++];
	m->used_len = (size_t) keys_build(m->used_key, sizeof(m->used_key), "mh:{acct:", user,
					  "}:used");
	m->msg_len = (size_t) keys_join(m->msg_key, sizeof(m->msg_key), parts, 4);
	m->limit = limit;
	m->limit_len = quota_u64(m->limit_text, limit);
	m->relays = relays;
	m->relays_len = quota_u64(m->relays_text, relays);
	b->argc = 0;
	return 0;
}

/*
 * quota_batch_argv - the command: EVALSHA (or, eval set, EVAL with the
 * text) NUMKEYS, every message's two keys, then every message's limit
 * and relays. Built again after each add; argv points into b.
 */
void
quota_batch_argv(struct quota_batch *b, int eval)
{
	int	k = 3;

	b->argv[0] = eval ? "EVAL" : "EVALSHA";
	b->argvlen[0] = eval ? 4 : 7;
	b->argv[1] = eval ? quota_scripts[QUOTA_SCRIPT_COMMIT].text : quota_shas[QUOTA_SCRIPT_COMMIT];
	b->argvlen[1] = eval ? quota_scripts[QUOTA_SCRIPT_COMMIT].len : SHA1_HEX_LEN;
	b->argv[2] = b->numkeys;
	b->argvlen[2] = quota_u64(b->numkeys, 2 * (uint64_t) b->n);
	for (size_t i = 0; i < b->n; i++) {
		b->argv[k] = b->msg[i].used_key;
		b->argvlen[k++] = b->msg[i].used_len;
		b->argv[k] = b->msg[i].msg_key;
		b->argvlen[k++] = b->msg[i].msg_len;
	}
	for (size_t i = 0; i < b->n; i++) {
		b->argv[k] = b->msg[i].limit_text;
		b->argvlen[k++] = b->msg[i].limit_len;
		b->argv[k] = b->msg[i].relays_text;
		b->argvlen[k++] = b->msg[i].relays_len;
	}
	b->argc = k;
}

/* quota_int - element i of array r, a non-negative integer; -1 when it is not */
static int
quota_int(const redisReply *r, size_t i, uint64_t *v)
{
	const redisReply *e = r->element[i];

	if (e == NULL || e->type != REDIS_REPLY_INTEGER || e->integer < 0)
		return -1;
	*v = (uint64_t) e->integer;
	return 0;
}

/* quota_reply_error - what an error reply or a reply of the wrong shape says */
static int
quota_reply_error(const char *name, const redisReply *r, size_t want, char *err, size_t errlen)
{
	char	text[REPLY_REMOTE_MAX + 1];

	if (r == NULL) {
		snprintf(err, errlen, "quota %s: no reply", name);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "quota %s: Redis: %s", name,
			 reply_remote(text, sizeof(text), r->str, r->len));
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != want) {
		snprintf(err, errlen, "quota %s: unexpected reply (type %d, %zu elements)",
			 name, r->type, r->type == REDIS_REPLY_ARRAY ? r->elements : (size_t) 0);
		return -1;
	}
	return 0;
}

/*
 * quota_batch_parse - message i's result from COMMIT's reply {day,
 * reset_in, then status used relays per message}; -1 with err when the
 * reply is not that (every message gets the same error) or message i
 * failed in Redis (its own error: nothing was counted for it).
 */
int
quota_batch_parse(const struct quota_batch *b, const redisReply *r, size_t i,
		  struct quota_result *res, char *err, size_t errlen)
{
	const struct quota_batch_msg *m = &b->msg[i];
	size_t	at = QUOTA_BATCH_HEAD + i * QUOTA_BATCH_ELEMENTS;
	uint64_t day, reset, status, used, relays;

	if (quota_reply_error("commit", r, QUOTA_BATCH_HEAD + b->n * QUOTA_BATCH_ELEMENTS,
			      err, errlen) < 0)
		return -1;
	if (quota_int(r, 0, &day) < 0 || quota_int(r, 1, &reset) < 0
	    || reset < 1 || reset > QUOTA_DAY_SECONDS) {
		snprintf(err, errlen, "quota commit: unexpected day or reset_in in reply");
		return -1;
	}
	if (quota_int(r, at, &status) < 0 || quota_int(r, at + 1, &used) < 0
	    || quota_int(r, at + 2, &relays) < 0) {
		snprintf(err, errlen, "quota commit: unexpected element in reply for message %zu", i + 1);
		return -1;
	}
	switch (status) {
	case QUOTA_REFUSED:
	case QUOTA_OK:
	case QUOTA_ALREADY:
	case QUOTA_UNDONE:
		break;
	case QUOTA_LUA_NOT_COUNT:
		snprintf(err, errlen, "quota commit: %.*s:%llu is not a count", (int) m->used_len,
			 m->used_key, (unsigned long long) day);
		return -1;
	case QUOTA_LUA_NOT_RECORD:
		snprintf(err, errlen, "quota commit: %.*s is not a record", (int) m->msg_len, m->msg_key);
		return -1;
	case QUOTA_LUA_WRITE_REFUSED:
		snprintf(err, errlen, "quota commit: Redis refused to write %.*s", (int) m->msg_len,
			 m->msg_key);
		return -1;
	default:
		snprintf(err, errlen, "quota commit: unexpected status %llu in reply",
			 (unsigned long long) status);
		return -1;
	}
	res->status = (enum quota_status) status;
	res->used = used;
	res->limit = m->limit;
	res->day = day;
	res->reset_in = reset;
	res->relays = relays;
	return 0;
}

/* quota_cmd_undo - EVALSHA of UNDO (no ARGV) */
int
quota_cmd_undo(struct quota_cmd *cmd, const char *user, const char *queue_id,
	       char *err, size_t errlen)
{
	return quota_cmd_msg(cmd, QUOTA_SCRIPT_UNDO, user, 0, 0, queue_id, err, errlen);
}

/* quota_cmd_eval - EVAL TEXT instead of EVALSHA SHA; the rest unchanged */
void
quota_cmd_eval(struct quota_cmd *cmd)
{
	cmd->argv[0] = "EVAL";
	cmd->argvlen[0] = 4;
	cmd->argv[1] = quota_scripts[cmd->script].text;
	cmd->argvlen[1] = quota_scripts[cmd->script].len;
}

/* quota_is_noscript - Redis does not have the script cached */
int
quota_is_noscript(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= 8
	    && memcmp(r->str, "NOSCRIPT", 8) == 0;
}

/* quota_status_valid - a status the script returns */
static int
quota_status_valid(enum quota_script s, uint64_t status)
{
	switch (s) {
	case QUOTA_SCRIPT_CHECK:
		return status == QUOTA_REFUSED || status == QUOTA_OK;
	case QUOTA_SCRIPT_COMMIT:	/* a batch: quota_batch_parse */
		return 0;
	case QUOTA_SCRIPT_UNDO:
		return status == QUOTA_UNDONE || status == QUOTA_NOTHING;
	}
	return 0;
}

/* quota_parse - {status, used, limit, day, reset_in, relays}, each checked */
int
quota_parse(enum quota_script s, const redisReply *r, struct quota_result *res,
	    char *err, size_t errlen)
{
	uint64_t v[QUOTA_REPLY_ELEMENTS];
	static const char *const names[QUOTA_REPLY_ELEMENTS] = {
		"status", "used", "limit", "day", "reset_in", "relays"
	};

	if (quota_reply_error(quota_scripts[s].name, r, QUOTA_REPLY_ELEMENTS, err, errlen) < 0)
		return -1;
	for (int i = 0; i < QUOTA_REPLY_ELEMENTS; i++) {
		if (quota_int(r, (size_t) i, &v[i]) < 0) {
			snprintf(err, errlen, "quota %s: unexpected %s in reply",
				 quota_scripts[s].name, names[i]);
			return -1;
		}
	}
	if (!quota_status_valid(s, v[0])) {
		snprintf(err, errlen, "quota %s: unexpected status %llu in reply",
			 quota_scripts[s].name, (unsigned long long) v[0]);
		return -1;
	}
	if (v[4] < 1 || v[4] > QUOTA_DAY_SECONDS) {
		snprintf(err, errlen, "quota %s: unexpected reset_in %llu in reply",
			 quota_scripts[s].name, (unsigned long long) v[4]);
		return -1;
	}
	res->status = (enum quota_status) v[0];
	res->used = v[1];
	res->limit = v[2];
	res->day = v[3];
	res->reset_in = v[4];
	res->relays = v[5];
	return 0;
}

/* quota_run - send cmd, once more as EVAL after NOSCRIPT, and parse */
static int
quota_run(struct rconn *rc, struct quota_cmd *cmd, struct quota_result *res,
	  char *err, size_t errlen)
{
	redisReply *r;
	int	ret;

	r = rconn_commandargv(rc, cmd->argc, cmd->argv, cmd->argvlen);
	if (quota_is_noscript(r)) {
		freeReplyObject(r);
		quota_cmd_eval(cmd);
		r = rconn_commandargv(rc, cmd->argc, cmd->argv, cmd->argvlen);
	}
	if (r == NULL) {
		snprintf(err, errlen, "%s", rconn_errstr(rc));
		return -1;
	}
	ret = quota_parse(cmd->script, r, res, err, errlen);
	freeReplyObject(r);
	return ret;
}

/* quota_check_sync - CHECK over rconn */
int
quota_check_sync(struct rconn *rc, const char *user, uint64_t limit, uint64_t relays,
		 struct quota_result *res, char *err, size_t errlen)
{
	struct quota_cmd cmd;

	if (quota_cmd_check(&cmd, user, limit, relays, err, errlen) < 0)
		return -1;
	return quota_run(rc, &cmd, res, err, errlen);
}

/* quota_batch_run - COMMIT of batch b over rc (EVAL after NOSCRIPT); the reply, NULL when none */
redisReply *
quota_batch_run(struct rconn *rc, struct quota_batch *b)
{
	redisReply *r;

	quota_batch_argv(b, 0);
	r = rconn_commandargv(rc, b->argc, b->argv, b->argvlen);
	if (quota_is_noscript(r)) {
		freeReplyObject(r);
		quota_batch_argv(b, 1);
		r = rconn_commandargv(rc, b->argc, b->argv, b->argvlen);
	}
	return r;
}

/* quota_commit_sync - COMMIT over rconn */
int
quota_commit_sync(struct rconn *rc, const char *user, uint64_t limit, uint64_t relays,
		  const char *queue_id, struct quota_result *res, char *err, size_t errlen)
{
	struct quota_batch *b;
	redisReply *r;
	int	ret = -1;

	if ((b = malloc(sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	quota_batch_reset(b);
	if (quota_batch_add(b, user, limit, relays, queue_id, err, errlen) < 0)
		goto out;
	if ((r = quota_batch_run(rc, b)) == NULL) {
		snprintf(err, errlen, "%s", rconn_errstr(rc));
		goto out;
	}
	ret = quota_batch_parse(b, r, 0, res, err, errlen);
	freeReplyObject(r);
out:
	free(b);
	return ret;
}

/* quota_undo_sync - UNDO over rconn */
int
quota_undo_sync(struct rconn *rc, const char *user, const char *queue_id,
		struct quota_result *res, char *err, size_t errlen)
{
	struct quota_cmd cmd;

	if (quota_cmd_undo(&cmd, user, queue_id, err, errlen) < 0)
		return -1;
	return quota_run(rc, &cmd, res, err, errlen);
}

/* quota_show_sync - CHECK with 0 relays: today's use */
int
quota_show_sync(struct rconn *rc, const char *user, uint64_t limit,
		struct quota_result *res, char *err, size_t errlen)
{
	return quota_check_sync(rc, user, limit, 0, res, err, errlen);
}

/* quota_reset_iso - the next 00:00 UTC after day, in ISO 8601 */
int
quota_reset_iso(const struct quota_result *res, char *buf, size_t len)
{
	struct tm tm;
	time_t	t;

	if (res->day > UINT64_C(1) << 32)	/* far past any real clock: time_t safe */
		return -1;
	t = (time_t) ((res->day + 1) * QUOTA_DAY_SECONDS);
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* quota_user_show - user made printable, at most QUOTA_USER_SHOW_MAX bytes, "..." when cut */
static const char *
quota_user_show(char *dst, size_t dstlen, const char *user)
{
	size_t	len = user ? strnlen(user, QUOTA_USER_SHOW_MAX + 1) : 0;

	if (len <= QUOTA_USER_SHOW_MAX)
		return log_printable(dst, dstlen, user ? user : "", len);
	log_printable(dst, QUOTA_USER_SHOW_MAX - 3 + 1, user, len);
	memcpy(dst + QUOTA_USER_SHOW_MAX - 3, "...", 4);
	return dst;
}

/* quota_reply_over - over the daily limit, with the configured code */
void
quota_reply_over(struct reply *r, const char *quota_reply, uint64_t limit, const char *user)
{
	char	code[4], dsn[16], shown[QUOTA_USER_SHOW_MAX + 1];
	const char *sp = quota_reply ? strchr(quota_reply, ' ') : NULL;

	if (sp == NULL || sp - quota_reply != 3 || strlen(sp + 1) >= sizeof(dsn)) {
		sp = QUOTA_DEFAULT_REPLY + 3;
		quota_reply = QUOTA_DEFAULT_REPLY;
	}
	memcpy(code, quota_reply, 3);
	code[3] = 0;
	strcpy(dsn, sp + 1);
	if (!reply_code_valid(code, dsn)) {
		memcpy(code, QUOTA_DEFAULT_REPLY, 3);
		strcpy(dsn, QUOTA_DEFAULT_REPLY + 4);
	}
	reply_set(r, code, dsn, "Daily relay limit of %llu reached for %s; resets at 00:00 UTC",
		  (unsigned long long) limit, quota_user_show(shown, sizeof(shown), user));
}

/* quota_reply_no_service - unknown or disabled account */
void
quota_reply_no_service(struct reply *r, const char *user)
{
	char	shown[QUOTA_USER_SHOW_MAX + 1];

	reply_set(r, "554", "5.7.1", "<%s>: no outbound service",
		  quota_user_show(shown, sizeof(shown), user));
}

/* quota_reply_too_many - past outbound.max_recipients */
void
quota_reply_too_many(struct reply *r)
{
	reply_set(r, "452", "4.5.3", "Error: too many recipients");
}
