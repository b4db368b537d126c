/* quota.h - exact daily relay counting in Redis (see quota.c, doc/quota.md) */
#ifndef MH_QUOTA_H
#define MH_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "keys.h"
#include "multiplier.h"

struct rconn;
struct reply;

/*
 * Three server-side Lua scripts do the counting; each is one atomic step
 * in Redis, so any number of mhpolicyd processes on any number of nodes
 * agree. They take the day from Redis's own clock (TIME inside the
 * script; Redis >= 5 replicates a script's effects, so a script may call
 * TIME and then write): day = floor(unix seconds / 86400), the UTC day,
 * so every node sees 00:00 UTC at the same instant.
 *
 * Keys, all under the account's hash tag (doc/keys.md):
 *   mh:{acct:USER}:used:DAY     STRING, relays counted on UTC day DAY;
 *                               EXPIRE QUOTA_KEY_TTL after each count
 *   mh:{acct:USER}:msg:QUEUEID  STRING "DAY:RELAYS": the message was
 *                               counted, RELAYS on day DAY; or "undone"
 *                               (QUOTA_RECORD_UNDONE): it was refused
 *                               after all and its count taken back;
 *                               EX QUOTA_KEY_TTL
 * KEYS[1] of every script is "mh:{acct:USER}:used" (the counter's name
 * without the day: it declares the slot, the script appends ":DAY").
 *
 * CHECK (at RCPT; reads only): ARGV limit, relays. relays is what the
 * message would count if this recipient were accepted too:
 * (recipients already accepted in this transaction + 1) x multiplier of
 * the announced size (SIZE=, 0 when none). Nothing is counted before
 * END-OF-MESSAGE, so the earlier recipients of the same message must be
 * in the sum: a recipient that would make the whole message not fit is
 * the one refused (452), and the client sends it in another transaction,
 * instead of the whole message being refused at END-OF-MESSAGE.
 * Status QUOTA_OK when used + relays <= limit, else QUOTA_REFUSED.
 * CHECK with relays 0 is the "show" read (quota_show_sync).
 *
 * COMMIT (at END-OF-MESSAGE): a batch of 1 to QUOTA_BATCH_MAX messages,
 * each run as if alone, in order (mhpolicyd sends the END-OF-MESSAGE
 * requests that arrive together in one call). Message i: KEYS[2i-1] as
 * above, KEYS[2i] its record; ARGV[2i-1] limit, ARGV[2i] relays
 * (recipient_count x multiplier of the real size). Atomically, per
 * message: record "DAY:RELAYS" exists -> QUOTA_ALREADY with the relays
 * recorded, nothing counted again (Postfix repeats END-OF-DATA after a
 * policy timeout); record "undone" -> QUOTA_UNDONE, relays 0, nothing
 * counted (the message was answered 451 and its count taken back: only
 * a COMMIT delayed in a cut connection can come now); used + relays >
 * limit -> QUOTA_REFUSED, nothing counted or recorded (so a refused
 * message is never counted, and the same queue ID may be tried again);
 * else counted, recorded "DAY:RELAYS" -> QUOTA_OK. A message whose
 * counter is not a count, whose record is not one, or whose write Redis
 * refuses is an error of that message alone, with nothing counted for
 * it. Reply: {day, reset_in, then status used relays per message}.
 *
 * UNDO (after END-OF-MESSAGE was answered 451 because COMMIT's reply was
 * lost: Postfix never sends that queue ID again): KEYS[2] = the record;
 * no ARGV. Atomically: record "DAY:RELAYS" -> RELAYS taken off the
 * counter of DAY (never below 0), the record becomes "undone" ->
 * QUOTA_UNDONE with relays = what was taken off, day = DAY, used = that
 * day's counter after; no record (COMMIT never ran) -> the record becomes
 * "undone" too (a late COMMIT then counts nothing) -> QUOTA_NOTHING;
 * "undone" already -> QUOTA_NOTHING. limit is 0.
 *
 * CHECK and UNDO return {status, used, limit, day, reset_in, relays}; quota_parse
 * checks every element (and that the status is one the script returns),
 * and anything else (error reply, wrong type or size, out-of-range
 * number) is -1: "Redis is down or confused" never reads as "allowed".
 *
 * Asynchronous use (mhpolicyd): quota_cmd_check/undo build an EVALSHA
 * argv; send it; in the callback, when quota_is_noscript(reply) (Redis
 * restarted or SCRIPT FLUSH), call quota_cmd_eval and send the same cmd
 * again (EVAL also puts the script back in Redis's cache); otherwise
 * quota_parse. A built quota_cmd points into itself: keep it in place
 * (not copied) until its last reply. COMMIT: quota_batch_reset, then
 * quota_batch_add per message, quota_batch_argv(b, 0) and send; after
 * NOSCRIPT quota_batch_argv(b, 1) and send again; quota_batch_parse per
 * message. Synchronous use (mhlist, tests):
 * quota_*_sync do all of it over an rconn.
 */

#define QUOTA_DAY_SECONDS	86400	/* one UTC day */
#define QUOTA_KEY_TTL		172800	/* seconds a counter or record lives after its last write */
#define QUOTA_QUEUEID_MAX	32	/* bytes of a queue ID: [0-9A-Za-z] */
#define QUOTA_USER_SHOW_MAX	255	/* bytes of a user name quoted in a reply (ACCOUNT_NAME_MAX) */
#define QUOTA_ARGC_MAX		7	/* EVALSHA sha 2 used msg limit relays */
#define QUOTA_BATCH_MAX		32	/* messages in one COMMIT */
#define QUOTA_NUM_MAX		24	/* bytes of a decimal uint64 and its NUL */
#define QUOTA_ISO_MAX		32	/* "2024-05-02T00:00:00Z" and room */
#define QUOTA_RECORD_UNDONE	"undone"	/* a message record whose count was taken back */

enum quota_script {
	QUOTA_SCRIPT_CHECK,		/* at RCPT, read only */
	QUOTA_SCRIPT_COMMIT,		/* at END-OF-MESSAGE, counts */
	QUOTA_SCRIPT_UNDO		/* after a 451 whose COMMIT may have counted */
};

enum quota_status {
	QUOTA_REFUSED = 0,		/* does not fit: nothing counted */
	QUOTA_OK = 1,			/* CHECK: fits; COMMIT: counted now */
	QUOTA_ALREADY = 2,		/* COMMIT: this queue ID was counted before */
	QUOTA_UNDONE = 3,		/* COMMIT: this queue ID's count was taken back, nothing
					 * counted; UNDO: its relays were taken back now */
	QUOTA_NOTHING = 4		/* UNDO: nothing counted under this queue ID (any more) */
};

struct quota_result {
	enum quota_status status;
	uint64_t used;			/* relays counted today (UNDO: on day), after this step */
	uint64_t limit;			/* the limit the script compared with */
	uint64_t day;			/* UTC day number (unix seconds / 86400); UNDO: the record's */
	uint64_t reset_in;		/* seconds until 00:00 UTC, 1..86400 */
	uint64_t relays;		/* asked (CHECK, COMMIT), recorded (QUOTA_ALREADY)
					 * or taken back (UNDO) */
};

struct quota_cmd {
	enum quota_script script;
	int	argc;
	const char *argv[QUOTA_ARGC_MAX];
	size_t	argvlen[QUOTA_ARGC_MAX];
	/* what argv points into */
	char	used_key[KEYS_MAX];
	char	msg_key[KEYS_MAX];
	char	limit[QUOTA_NUM_MAX];
	char	relays[QUOTA_NUM_MAX];
};

/* one message of a COMMIT batch, as its argv needs it */
struct quota_batch_msg {
	uint64_t limit;
	uint64_t relays;
	size_t	used_len, msg_len, limit_len, relays_len;
	char	used_key[KEYS_MAX];
	char	msg_key[KEYS_MAX];
	char	limit_text[QUOTA_NUM_MAX];
	char	relays_text[QUOTA_NUM_MAX];
};

struct quota_batch {
	size_t	n;			/* messages */
	int	argc;
	const char *argv[3 + 4 * QUOTA_BATCH_MAX];
	size_t	argvlen[3 + 4 * QUOTA_BATCH_MAX];
	char	numkeys[QUOTA_NUM_MAX];
	struct quota_batch_msg msg[QUOTA_BATCH_MAX];
};

/*
 * quota_init - compute the scripts' SHA-1 names; the builders call it
 * themselves, but a threaded program must call it once before threads.
 */
void	quota_init(void);
/* quota_script_text, quota_script_sha - the Lua text and its SHA-1 hex */
const char *quota_script_text(enum quota_script);
const char *quota_script_sha(enum quota_script);

/*
 * quota_cmd_check - build EVALSHA into cmd. user must pass
 * account_name_valid, limit and relays be at most QUOTA_COUNT_MAX. 0, or
 * -1 with err set (cmd unusable).
 */
int	quota_cmd_check(struct quota_cmd *, const char *user, uint64_t limit,
			uint64_t relays, char *err, size_t errlen);
/* quota_cmd_undo - EVALSHA of UNDO; the same checks of user and queue_id */
int	quota_cmd_undo(struct quota_cmd *, const char *user, const char *queue_id,
		       char *err, size_t errlen);
/* quota_cmd_eval - the same command as EVAL with the script's text */
void	quota_cmd_eval(struct quota_cmd *);
/*
 * COMMIT batches: quota_batch_reset empties b; quota_commit_valid checks
 * what quota_batch_add takes (user as above, queue_id 1..QUOTA_QUEUEID_MAX
 * of [0-9A-Za-z]); quota_batch_add appends a message (-1 with err when
 * invalid or full); quota_batch_argv builds EVALSHA (eval 0) or EVAL
 * (eval 1) of all of them into b->argc/argv/argvlen; quota_batch_parse
 * gives message i's result, or -1 with err (the whole reply is wrong:
 * every message fails alike; or that message failed in Redis).
 */
void	quota_batch_reset(struct quota_batch *);
int	quota_commit_valid(const char *user, uint64_t limit, uint64_t relays,
			   const char *queue_id, char *err, size_t errlen);
int	quota_batch_add(struct quota_batch *, const char *user, uint64_t limit,
			uint64_t relays, const char *queue_id, char *err, size_t errlen);
void	quota_batch_argv(struct quota_batch *, int eval);
int	quota_batch_parse(const struct quota_batch *, const redisReply *, size_t i,
			  struct quota_result *, char *err, size_t errlen);
/* quota_is_noscript - reply is Redis's NOSCRIPT error: resend with quota_cmd_eval */
int	quota_is_noscript(const redisReply *);
/* quota_parse - CHECK's or UNDO's reply into res; -1 with err for anything unexpected */
int	quota_parse(enum quota_script, const redisReply *, struct quota_result *,
		    char *err, size_t errlen);

/*
 * Synchronous, over an rconn, NOSCRIPT handled: 0 with res filled, or -1
 * with err (bad argument, Redis unavailable, unexpected reply).
 */
int	quota_check_sync(struct rconn *, const char *user, uint64_t limit, uint64_t relays,
			 struct quota_result *, char *err, size_t errlen);
int	quota_commit_sync(struct rconn *, const char *user, uint64_t limit, uint64_t relays,
			  const char *queue_id, struct quota_result *, char *err, size_t errlen);
/* quota_batch_run - a built batch's COMMIT over an rconn: the reply (caller frees), NULL when none */
redisReply *quota_batch_run(struct rconn *, struct quota_batch *);
int	quota_undo_sync(struct rconn *, const char *user, const char *queue_id,
			struct quota_result *, char *err, size_t errlen);
/* quota_show_sync - today's use (CHECK with relays 0), for mhlist account show */
int	quota_show_sync(struct rconn *, const char *user, uint64_t limit,
			struct quota_result *, char *err, size_t errlen);

/* quota_left - relays left today (0 when the limit was lowered below use) */
static inline uint64_t
quota_left(const struct quota_result *res)
{
	return res->limit > res->used ? res->limit - res->used : 0;
}

/* quota_reset_iso - next 00:00 UTC as "YYYY-MM-DDT00:00:00Z"; -1 when buf is too small */
int	quota_reset_iso(const struct quota_result *, char *buf, size_t len);

/*
 * Replies (through reply_set; USER made printable and cut at
 * QUOTA_USER_SHOW_MAX bytes, marked "..."):
 * quota_reply_over - quota_reply ("452 4.7.1", outbound.quota_reply; a
 *   malformed one falls back to that default) + "Daily relay limit of N
 *   reached for USER; resets at 00:00 UTC"
 * quota_reply_no_service - "554 5.7.1 <USER>: no outbound service"
 * quota_reply_too_many - "452 4.5.3 Error: too many recipients"
 */
void	quota_reply_over(struct reply *, const char *quota_reply, uint64_t limit, const char *user);
void	quota_reply_no_service(struct reply *, const char *user);
void	quota_reply_too_many(struct reply *);

#endif
