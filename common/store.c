/*
 * store.c - domains, user lists, sender lists and accounts in Redis.
 *
 * The one place that knows how the model is laid out in Redis (the key
 * schema is in keys.h and doc/keys.md). mhlist writes through it; the
 * daemons read through it, so every program agrees on what a key means.
 *
 * Every call returns STORE_OK, STORE_NOTFOUND or STORE_ERROR; on
 * STORE_ERROR, st->errstr says what failed and where ("127.0.0.1:6379:
 * Connection refused"). A dead backend is never reported as "not found".
 *
 * Writes of one object touch the keys of one hash tag only, so they work
 * unchanged on Redis Cluster; the indexes mh:domains and mh:accounts are
 * written after the object (and removed from before it is deleted), so a
 * crash in between leaves an object that a later add or del repairs.
 *
 * User list imports stream: canonical local parts are sent in SADD
 * batches of STORE_IMPORT_BATCH members to a staging key in the domain's
 * slot (expiring after STORE_IMPORT_TTL, so an interrupted import leaves
 * nothing behind), at most STORE_IMPORT_INFLIGHT batches unanswered, and
 * the staging key is renamed over the list in one MULTI/EXEC: readers see
 * the old list or the new one, never half.
 *
 * Public functions: see store.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "conf.h"
#include "listentry.h"
#include "log.h"
#include "rconn.h"
#include "store.h"

#define STORE_IMPORT_BATCH	1000	/* members per SADD */
#define STORE_IMPORT_INFLIGHT	32	/* SADD batches sent but not yet answered */
#define STORE_IMPORT_TTL	3600	/* seconds a staging key survives a crash */
#define STORE_SCAN_COUNT	1000	/* SSCAN COUNT hint */

/* store_init - bind a store to a connection and a configuration */
void
store_init(struct store *st, struct rconn *rc, const struct conf *conf)
{
	st->rc = rc;
	st->conf = conf;
	st->errstr[0] = 0;
}

/* store_fail - record a failure, return STORE_ERROR */
static enum store_result
store_fail(struct store *st, redisReply *r, const char *what)
{
	if (r == NULL)
		snprintf(st->errstr, sizeof(st->errstr), "%s", rconn_errstr(st->rc));
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(st->errstr, sizeof(st->errstr), "%s: %s: %.200s",
			 rconn_address(st->rc), what, r->str);
	else
		snprintf(st->errstr, sizeof(st->errstr), "%s: %s: unexpected reply type %d",
			 rconn_address(st->rc), what, r->type);
	if (r)
		freeReplyObject(r);
	return STORE_ERROR;
}

/* store_expect - reply of the wanted type, or the failure recorded */
static int
store_expect(struct store *st, redisReply *r, int type, const char *what)
{
	if (r != NULL && r->type == type)
		return 0;
	store_fail(st, r, what);
	return -1;
}

/* store_strings - copy a reply's array of strings into a sorted char ** */
static int
store_string_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* store_names_free - free what store_*_names and store_*_members return */
void
store_names_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* store_smembers - every member of a set, sorted, by SSCAN (bounded replies) */
static enum store_result
store_smembers(struct store *st, const char *key, char ***out, size_t *count)
{
	char	cursor[32] = "0";
	char  **names = NULL;
	size_t	n = 0, cap = 0;

	do {
		redisReply *r = rconn_command(st->rc, "SSCAN %s %s COUNT %d", key, cursor,
					      STORE_SCAN_COUNT);

		if (store_expect(st, r, REDIS_REPLY_ARRAY, "SSCAN") < 0
		    || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING
		    || r->element[1]->type != REDIS_REPLY_ARRAY) {
			if (r && r->type == REDIS_REPLY_ARRAY)
				store_fail(st, r, "SSCAN");
			store_names_free(names, n);
			return STORE_ERROR;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			redisReply *e = r->element[1]->element[i];

			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((names = realloc(names, cap * sizeof(*names))) == NULL)
					msg_panic("store: out of memory");
			}
			if ((names[n++] = strndup(e->str, e->len)) == NULL)
				msg_panic("store: out of memory");
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	if (n > 1)
		qsort(names, n, sizeof(*names), store_string_cmp);
	*out = names;
	*count = n;
	return STORE_OK;
}

/* store_set_change - SADD or SREM members, in batches */
static enum store_result
store_set_change(struct store *st, const char *key, int add, char *const *members,
		 size_t count, long long *changed)
{
	const char **argv;
	size_t *lens;
	long long total = 0;

	if ((argv = calloc(STORE_IMPORT_BATCH + 2, sizeof(*argv))) == NULL
	    || (lens = calloc(STORE_IMPORT_BATCH + 2, sizeof(*lens))) == NULL)
		msg_panic("store: out of memory");
	for (size_t done = 0; done < count;) {
		size_t	n = count - done > STORE_IMPORT_BATCH ? STORE_IMPORT_BATCH : count - done;
		redisReply *r;

		argv[0] = add ? "SADD" : "SREM";
		argv[1] = key;
		lens[0] = strlen(argv[0]);
		lens[1] = strlen(key);
		for (size_t i = 0; i < n; i++) {
			argv[i + 2] = members[done + i];
			lens[i + 2] = strlen(members[done + i]);
		}
		r = rconn_commandargv(st->rc, (int) n + 2, argv, lens);
		if (store_expect(st, r, REDIS_REPLY_INTEGER, argv[0]) < 0) {
			free(argv);
			free(lens);
			return STORE_ERROR;
		}
		total += r->integer;
		freeReplyObject(r);
		done += n;
	}
	free(argv);
	free(lens);
	if (changed)
		*changed = total;
	return STORE_OK;
}

/* --- domains --------------------------------------------------------------- */

/* store_domain_from_reply - an HGETALL reply of a domain's settings hash */
enum store_result
store_domain_from_reply(const struct conf *conf, const char *name, const redisReply *r,
			struct domain *d)
{
	char	err[300];

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return STORE_ERROR;
	if (r->elements == 0)
		return STORE_NOTFOUND;
	domain_init(d, name, conf);
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const char *field = r->element[i]->str;
		const char *value = r->element[i + 1]->str;
		int	s;

		if (field == NULL || value == NULL)
			continue;
		/* written by a newer mhlist, or by hand: keep going, say so */
		if ((s = domain_setting_lookup(field)) < 0) {
			if (msg_verbose)
				msg_info("%s: ignoring unknown setting \"%.64s\"", name, field);
			continue;
		}
		if (domain_setting_set(d, (enum domain_setting) s, value, err, sizeof(err)) < 0)
			msg_warn("%s: stored %s; using the default", name, err);
	}
	return STORE_OK;
}

/* store_domain_get - a domain with defaults filled in, or NOTFOUND */
enum store_result
store_domain_get(struct store *st, const char *name, struct domain *d)
{
	char	key[KEYS_MAX];
	redisReply *r;
	enum store_result res;

	keys_domain_cfg(key, sizeof(key), name);
	r = rconn_command(st->rc, "HGETALL %s", key);
	if (store_expect(st, r, REDIS_REPLY_ARRAY, "HGETALL") < 0)
		return STORE_ERROR;
	res = store_domain_from_reply(st->conf, name, r, d);
	freeReplyObject(r);
	return res;
}

/* store_domain_exists - EXISTS on the settings hash */
enum store_result
store_domain_exists(struct store *st, const char *name)
{
	char	key[KEYS_MAX];
	redisReply *r;
	int	found;

	keys_domain_cfg(key, sizeof(key), name);
	r = rconn_command(st->rc, "EXISTS %s", key);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "EXISTS") < 0)
		return STORE_ERROR;
	found = r->integer > 0;
	freeReplyObject(r);
	return found ? STORE_OK : STORE_NOTFOUND;
}

/* store_domain_write - HSET the settings set on d, then index it */
static enum store_result
store_domain_write(struct store *st, const struct domain *d)
{
	const char *argv[2 + 2 * DOMAIN_SET_COUNT];
	size_t	lens[2 + 2 * DOMAIN_SET_COUNT];
	char	values[DOMAIN_SET_COUNT][DOMAIN_VALUE_MAX];
	char	key[KEYS_MAX];
	int	argc = 2;
	redisReply *r;

	keys_domain_cfg(key, sizeof(key), d->name);
	argv[0] = "HSET";
	argv[1] = key;
	for (int s = 0; s < DOMAIN_SET_COUNT; s++) {
		if (!domain_is_set(d, (enum domain_setting) s))
			continue;
		argv[argc] = domain_setting_name((enum domain_setting) s);
		argv[argc + 1] = domain_setting_format(d, (enum domain_setting) s,
						       values[s], sizeof(values[s]));
		argc += 2;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (argc > 2) {
		r = rconn_commandargv(st->rc, argc, argv, lens);
		if (store_expect(st, r, REDIS_REPLY_INTEGER, "HSET") < 0)
			return STORE_ERROR;
		freeReplyObject(r);
	}
	r = rconn_command(st->rc, "SADD %s %s", KEYS_DOMAINS, d->name);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "SADD") < 0)
		return STORE_ERROR;
	freeReplyObject(r);
	return STORE_OK;
}

/* store_domain_create - claim the name with HSETNX service, then write the rest */
enum store_result
store_domain_create(struct store *st, const struct domain *d, int *exists)
{
	char	key[KEYS_MAX];
	char	service[16];
	redisReply *r;

	*exists = 0;
	keys_domain_cfg(key, sizeof(key), d->name);
	domain_setting_format(d, DOMAIN_SET_SERVICE, service, sizeof(service));
	r = rconn_command(st->rc, "HSETNX %s service %s", key, service);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "HSETNX") < 0)
		return STORE_ERROR;
	if (r->integer == 0) {
		freeReplyObject(r);
		*exists = 1;
		snprintf(st->errstr, sizeof(st->errstr), "domain %s already exists", d->name);
		return STORE_ERROR;
	}
	freeReplyObject(r);
	return store_domain_write(st, d);
}

/* store_domain_update - write changed settings of an existing domain */
enum store_result
store_domain_update(struct store *st, const struct domain *d)
{
	return store_domain_write(st, d);
}

/* store_domain_delete - unindex, then drop every key of the domain (one slot) */
enum store_result
store_domain_delete(struct store *st, const char *name)
{
	char	cfg[KEYS_MAX], users[KEYS_MAX], white[KEYS_MAX], black[KEYS_MAX];
	redisReply *r;
	int	found;

	keys_domain_cfg(cfg, sizeof(cfg), name);
	keys_domain_users(users, sizeof(users), name);
	keys_list(white, sizeof(white), name, KEYS_LIST_WHITE);
	keys_list(black, sizeof(black), name, KEYS_LIST_BLACK);
	r = rconn_command(st->rc, "SREM %s %s", KEYS_DOMAINS, name);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "SREM") < 0)
		return STORE_ERROR;
	found = r->integer > 0;
	freeReplyObject(r);
	r = rconn_command(st->rc, "DEL %s %s %s %s", cfg, users, white, black);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "DEL") < 0)
		return STORE_ERROR;
	found |= r->integer > 0;
	freeReplyObject(r);
	return found ? STORE_OK : STORE_NOTFOUND;
}

/* store_domain_names - every configured domain, sorted */
enum store_result
store_domain_names(struct store *st, char ***names, size_t *count)
{
	return store_smembers(st, KEYS_DOMAINS, names, count);
}

/* --- user lists -------------------------------------------------------------- */

/* store_users_change - add or remove canonical local parts */
enum store_result
store_users_change(struct store *st, const char *domain, int add, char *const *locals,
		   size_t count, long long *changed)
{
	char	key[KEYS_MAX];

	keys_domain_users(key, sizeof(key), domain);
	return store_set_change(st, key, add, locals, count, changed);
}

/* store_users_members - the whole list, sorted */
enum store_result
store_users_members(struct store *st, const char *domain, char ***locals, size_t *count)
{
	char	key[KEYS_MAX];

	keys_domain_users(key, sizeof(key), domain);
	return store_smembers(st, key, locals, count);
}

/* store_user_exists - SISMEMBER */
enum store_result
store_user_exists(struct store *st, const char *domain, const char *local)
{
	char	key[KEYS_MAX];
	redisReply *r;
	int	found;

	keys_domain_users(key, sizeof(key), domain);
	r = rconn_command(st->rc, "SISMEMBER %s %s", key, local);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "SISMEMBER") < 0)
		return STORE_ERROR;
	found = r->integer == 1;
	freeReplyObject(r);
	return found ? STORE_OK : STORE_NOTFOUND;
}

struct store_import {
	struct store *st;
	char	key[KEYS_MAX];		/* the list */
	char	tmp[KEYS_MAX];		/* staging key, same hash tag */
	const char **argv;		/* SADD tmp m1 m2 ... */
	size_t *lens;
	char   *pool;			/* member bytes of the batch being built */
	size_t	pool_used;
	int	argc;
	unsigned inflight;		/* batches sent, replies not yet read */
	unsigned long sent;		/* batches sent in all */
	int	failed;
};

#define STORE_POOL_SIZE	(STORE_IMPORT_BATCH * (ADDRESS_LOCAL_MAX + 3))

/* store_import_begin - staging key named by host, pid and time */
struct store_import *
store_import_begin(struct store *st, const char *domain)
{
	struct store_import *imp;
	char	nonce[96];
	char	host[64] = "";

	if ((imp = calloc(1, sizeof(*imp))) == NULL
	    || (imp->argv = calloc(STORE_IMPORT_BATCH + 2, sizeof(*imp->argv))) == NULL
	    || (imp->lens = calloc(STORE_IMPORT_BATCH + 2, sizeof(*imp->lens))) == NULL
	    || (imp->pool = malloc(STORE_POOL_SIZE)) == NULL)
		msg_panic("store: out of memory");
	gethostname(host, sizeof(host) - 1);
	snprintf(nonce, sizeof(nonce), "%.60s.%ld.%lld", host, (long) getpid(),
		 (long long) time(NULL));
	imp->st = st;
	keys_domain_users(imp->key, sizeof(imp->key), domain);
	keys_domain_users_tmp(imp->tmp, sizeof(imp->tmp), domain, nonce);
	imp->argc = 2;
	return imp;
}

/* store_import_drain - read replies until at most keep batches are unanswered */
static enum store_result
store_import_drain(struct store_import *imp, unsigned keep)
{
	while (imp->inflight > keep) {
		redisReply *r = rconn_get_reply(imp->st->rc);

		imp->inflight--;
		if (store_expect(imp->st, r, REDIS_REPLY_INTEGER, "SADD") < 0) {
			imp->failed = 1;
			imp->inflight = 0;
			return STORE_ERROR;
		}
		freeReplyObject(r);
	}
	return STORE_OK;
}

/* store_import_flush - send the batch being built; the first one also sets the staging TTL */
static enum store_result
store_import_flush(struct store_import *imp)
{
	redisReply *r;

	if (imp->argc == 2)
		return STORE_OK;
	imp->argv[0] = "SADD";
	imp->lens[0] = 4;
	imp->argv[1] = imp->tmp;
	imp->lens[1] = strlen(imp->tmp);
	/* hiredis formats the command into its own buffer: the pool can be reused at once */
	if (rconn_appendargv(imp->st->rc, imp->argc, imp->argv, imp->lens) < 0)
		goto io;
	imp->inflight++;
	imp->argc = 2;
	imp->pool_used = 0;
	if (imp->sent++ > 0)
		return store_import_drain(imp, STORE_IMPORT_INFLIGHT);

	/* first batch: the key has its TTL before anything else is sent */
	if (store_import_drain(imp, 0) < 0)
		return STORE_ERROR;
	r = rconn_command(imp->st->rc, "EXPIRE %s %d", imp->tmp, STORE_IMPORT_TTL);
	if (store_expect(imp->st, r, REDIS_REPLY_INTEGER, "EXPIRE") < 0)
		goto failed;
	freeReplyObject(r);
	return STORE_OK;
io:
	store_fail(imp->st, NULL, "SADD");
failed:
	imp->failed = 1;
	return STORE_ERROR;
}

/* store_import_add - queue one member */
enum store_result
store_import_add(struct store_import *imp, const char *local, size_t len)
{
	if (imp->failed)
		return STORE_ERROR;
	if (len > ADDRESS_LOCAL_MAX + 2) {
		snprintf(imp->st->errstr, sizeof(imp->st->errstr), "local part too long");
		return STORE_ERROR;
	}
	if (imp->pool_used + len > STORE_POOL_SIZE || imp->argc == STORE_IMPORT_BATCH + 2)
		if (store_import_flush(imp) < 0)
			return STORE_ERROR;
	memcpy(imp->pool + imp->pool_used, local, len);
	imp->argv[imp->argc] = imp->pool + imp->pool_used;
	imp->lens[imp->argc] = len;
	imp->argc++;
	imp->pool_used += len;
	return STORE_OK;
}

/* store_import_free - release an import */
static void
store_import_free(struct store_import *imp)
{
	free(imp->argv);
	free(imp->lens);
	free(imp->pool);
	free(imp);
}

/* store_import_commit - atomically replace (or merge into) the list */
enum store_result
store_import_commit(struct store_import *imp, int merge, long long *total)
{
	struct store *st = imp->st;
	redisReply *r;

	if (store_import_flush(imp) < 0 || store_import_drain(imp, 0) < 0)
		goto fail;

	/*
	 * One transaction: replace = RENAME staging over the list and PERSIST
	 * it (RENAME keeps the staging TTL); merge = SUNIONSTORE into the list.
	 * An empty import has no staging key: replace empties the list, merge
	 * changes nothing. Four commands are queued in each case.
	 */
	if (rconn_append(st->rc, "MULTI") < 0)
		goto io;
	if (merge && imp->sent) {
		if (rconn_append(st->rc, "SUNIONSTORE %s %s %s", imp->key, imp->key, imp->tmp) < 0
		    || rconn_append(st->rc, "DEL %s", imp->tmp) < 0)
			goto io;
	} else if (imp->sent) {
		if (rconn_append(st->rc, "RENAME %s %s", imp->tmp, imp->key) < 0
		    || rconn_append(st->rc, "PERSIST %s", imp->key) < 0)
			goto io;
	} else {
		if (rconn_append(st->rc, merge ? "EXISTS %s" : "DEL %s", imp->key) < 0
		    || rconn_append(st->rc, "EXISTS %s", imp->key) < 0)
			goto io;
	}
	if (rconn_append(st->rc, "SCARD %s", imp->key) < 0 || rconn_append(st->rc, "EXEC") < 0)
		goto io;
	for (int i = 0; i < 4; i++) {	/* OK, QUEUED, QUEUED, QUEUED */
		r = rconn_get_reply(st->rc);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			store_fail(st, r, i == 0 ? "MULTI" : "queueing");
			goto fail;
		}
		freeReplyObject(r);
	}
	r = rconn_get_reply(st->rc);
	if (store_expect(st, r, REDIS_REPLY_ARRAY, "EXEC") < 0)
		goto fail;
	if (r->elements != 3 || r->element[0]->type == REDIS_REPLY_ERROR
	    || r->element[2]->type != REDIS_REPLY_INTEGER) {
		store_fail(st, r, "EXEC");
		goto fail;
	}
	if (total)
		*total = r->element[2]->integer;
	freeReplyObject(r);
	store_import_free(imp);
	return STORE_OK;

io:
	store_fail(st, NULL, "MULTI");
fail:
	store_import_abort(imp);
	return STORE_ERROR;
}

/* store_import_abort - drop the staging key; the list is as it was */
void
store_import_abort(struct store_import *imp)
{
	redisReply *r;

	(void) store_import_drain(imp, 0);
	r = rconn_command(imp->st->rc, "DEL %s", imp->tmp);
	if (r)
		freeReplyObject(r);
	store_import_free(imp);
}

/* --- sender lists -------------------------------------------------------------- */

/* store_list_change - add or remove canonical entries */
enum store_result
store_list_change(struct store *st, const char *domain, enum keys_list which, int add,
		  char *const *entries, size_t count, long long *changed)
{
	char	key[KEYS_MAX];

	keys_list(key, sizeof(key), domain, which);
	return store_set_change(st, key, add, entries, count, changed);
}

/* store_list_members - the whole list, sorted */
enum store_result
store_list_members(struct store *st, const char *domain, enum keys_list which,
		   char ***entries, size_t *count)
{
	char	key[KEYS_MAX];

	keys_list(key, sizeof(key), domain, which);
	return store_smembers(st, key, entries, count);
}

/* store_list_keys - domain white, domain black, global white, global black */
void
store_list_keys(char (*keys)[KEYS_MAX], const char *domain)
{
	keys_list(keys[0], KEYS_MAX, domain, KEYS_LIST_WHITE);
	keys_list(keys[1], KEYS_MAX, domain, KEYS_LIST_BLACK);
	keys_list(keys[2], KEYS_MAX, NULL, KEYS_LIST_WHITE);
	keys_list(keys[3], KEYS_MAX, NULL, KEYS_LIST_BLACK);
}

/* store_list_field - SENDER \0 CLIENT; its length, -1 when it does not fit */
int
store_list_field(char *buf, size_t len, const struct address *sender, const char *client_ip)
{
	const char *parts[4] = {sender->local, sender->domain[0] ? "@" : "", sender->domain, ""};
	size_t	ip_len = client_ip ? strlen(client_ip) : 0;
	int	n = keys_join(buf, len, parts, 4);

	if (n < 0 || (size_t) n + 1 + ip_len >= len)
		return -1;
	memcpy(buf + n + 1, client_ip ? client_ip : "", ip_len);
	return n + 1 + (int) ip_len;
}

/*
 * The per-thread scratch array of store_slq_init: a thread-specific key
 * whose destructor frees it when the thread ends (libmilter's worker
 * pool ends idle workers; a _Thread_local pointer would leak 85 KB each).
 */
static pthread_key_t store_scratch_key;
static pthread_once_t store_scratch_once = PTHREAD_ONCE_INIT;

static void
store_scratch_key_init(void)
{
	if (pthread_key_create(&store_scratch_key, free) != 0)
		msg_panic("store: pthread_key_create failed");
}

/*
 * store_slq_init - the candidates and the four list keys of one check.
 * Candidates are generated into a per-thread scratch array (85 KB: too
 * much for a milter thread's stack, too much to keep per request) and
 * packed into q, whose buffers grow as needed and are reused when q is
 * initialised again; store_slq_free releases them.
 */
void
store_slq_init(struct store_slq *q, const char *domain, const struct address *sender,
	       const char *client_ip)
{
	char	(*scratch)[LISTENTRY_TEXT_MAX];
	size_t	total = 0, used = 0;

	pthread_once(&store_scratch_once, store_scratch_key_init);
	if ((scratch = pthread_getspecific(store_scratch_key)) == NULL) {
		if ((scratch = malloc(LISTENTRY_CANDIDATES_MAX * sizeof(*scratch))) == NULL)
			msg_panic("store: out of memory");
		if (pthread_setspecific(store_scratch_key, scratch) != 0)
			msg_panic("store: pthread_setspecific failed");
	}
	q->n = listentry_candidates(sender, client_ip, scratch, LISTENTRY_CANDIDATES_MAX);
	if (q->n > LISTENTRY_CANDIDATES_MAX)
		msg_panic("store_slq_init: %zu candidates", q->n);
	for (size_t i = 0; i < q->n; i++)
		total += strlen(scratch[i]) + 1;
	if (total > q->candcap) {
		free(q->cand);
		q->candcap = total < 1024 ? 1024 : total;
		if ((q->cand = malloc(q->candcap)) == NULL)
			msg_panic("store: out of memory");
	}
	if (q->n + 2 > q->argcap) {
		free(q->argv);
		free(q->lens);
		q->argcap = q->n + 2 < 64 ? 64 : q->n + 2;
		if ((q->argv = malloc(q->argcap * sizeof(*q->argv))) == NULL
		    || (q->lens = malloc(q->argcap * sizeof(*q->lens))) == NULL)
			msg_panic("store: out of memory");
	}
	store_list_keys(q->keys, domain);
	q->argv[0] = "SMISMEMBER";
	q->lens[0] = strlen(q->argv[0]);
	for (size_t i = 0; i < q->n; i++) {
		size_t	len = strlen(scratch[i]);

		memcpy(q->cand + used, scratch[i], len + 1);
		q->argv[i + 2] = q->cand + used;
		q->lens[i + 2] = len;
		used += len + 1;
	}
}

/* store_slq_command - SMISMEMBER of list k (0 domain white, 1 domain black, 2, 3 global) */
int
store_slq_command(struct store_slq *q, int k, const char ***argv, const size_t **lens)
{
	q->argv[1] = q->keys[k];
	q->lens[1] = strlen(q->keys[k]);
	*argv = q->argv;
	*lens = q->lens;
	return (int) q->n + 2;
}

/* store_slq_reply - fold the reply for list k into the hits; -1 on a bad reply */
int
store_slq_reply(const struct store_slq *q, int k, const redisReply *r, struct senderlist_hits *hits)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != q->n)
		return -1;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 1)
			*senderlist_flag(hits, k) = 1;
	return 0;
}

void
store_slq_free(struct store_slq *q)
{
	free(q->cand);
	free(q->argv);
	free(q->lens);
	q->cand = NULL;
	q->argv = NULL;
	q->lens = NULL;
	q->candcap = q->argcap = 0;
}

/* store_slq_append - queue q's four SMISMEMBERs; how many were queued (fewer: the connection failed) */
static int
store_slq_append(struct store *st, struct store_slq *q)
{
	int	sent = 0;

	for (int k = 0; k < SENDERLIST_LISTS; k++) {
		const char **argv;
		const size_t *lens;
		int	argc = store_slq_command(q, k, &argv, &lens);

		if (rconn_appendargv(st->rc, argc, argv, lens) < 0)
			break;
		sent++;
	}
	return sent;
}

/* store_senderlist_hits - SMISMEMBER every candidate entry against the four lists */
enum store_result
store_senderlist_hits(struct store *st, const char *domain, const struct address *sender,
		      const char *client_ip, struct senderlist_hits *hits)
{
	struct store_slq q = {0};
	enum store_result res = STORE_OK;
	int	sent = 0;

	memset(hits, 0, sizeof(*hits));
	store_slq_init(&q, domain, sender, client_ip);
	if (q.n == 0)
		goto done;
	if ((sent = store_slq_append(st, &q)) < SENDERLIST_LISTS)
		res = store_fail(st, NULL, "SMISMEMBER");
	/* read every reply that was sent, so the pipeline stays in step */
	for (int k = 0; k < sent; k++) {
		redisReply *r = rconn_get_reply(st->rc);

		if (r == NULL) {
			res = store_fail(st, NULL, "SMISMEMBER");
			break;
		}
		if (res == STORE_OK && store_slq_reply(&q, k, r, hits) < 0) {
			res = store_fail(st, r, "SMISMEMBER");
			continue;
		}
		freeReplyObject(r);
	}
done:
	store_slq_free(&q);
	return res;
}

/*
 * store_rcpt_get - one pipeline: HGETALL, SISMEMBER, then the sender
 * lists' SMISMEMBERs; every reply that was sent is read, so the
 * connection stays in step whatever fails.
 */
enum store_result
store_rcpt_get(struct store *st, const char *domain, const char *local,
	       const struct address *sender, const char *client_ip,
	       struct domain *d, enum store_result *user, struct senderlist_hits *hits)
{
	static const char *const what[] = {"HGETALL", "SISMEMBER", "SMISMEMBER"};
	char	cfgkey[KEYS_MAX], ukey[KEYS_MAX];
	struct store_slq q = {0};
	enum store_result res = STORE_OK, dres = STORE_ERROR;
	int	sent = 0, want;

	memset(hits, 0, sizeof(*hits));
	*user = STORE_NOTFOUND;
	keys_domain_cfg(cfgkey, sizeof(cfgkey), domain);
	keys_domain_users(ukey, sizeof(ukey), domain);
	store_slq_init(&q, domain, sender, client_ip);
	want = q.n ? 6 : 2;
	if (rconn_append(st->rc, "HGETALL %s", cfgkey) == 0)
		sent++;
	if (sent == 1 && rconn_append(st->rc, "SISMEMBER %s %s", ukey, local) == 0)
		sent++;
	if (sent == 2 && q.n)
		sent += store_slq_append(st, &q);
	if (sent < want)
		res = store_fail(st, NULL, what[sent < 2 ? sent : 2]);
	for (int i = 0; i < sent; i++) {
		redisReply *r = rconn_get_reply(st->rc);
		const char *w = what[i < 2 ? i : 2];

		if (r == NULL) {
			res = store_fail(st, NULL, w);
			break;
		}
		if (res != STORE_OK) {
			freeReplyObject(r);
			continue;
		}
		if (i == 0 && r->type == REDIS_REPLY_ARRAY)
			dres = store_domain_from_reply(st->conf, domain, r, d);
		else if (i == 1 && r->type == REDIS_REPLY_INTEGER)
			*user = r->integer == 1 ? STORE_OK : STORE_NOTFOUND;
		else if (i < 2 || store_slq_reply(&q, i - 2, r, hits) < 0) {
			res = store_fail(st, r, w);
			continue;
		}
		freeReplyObject(r);
	}
	store_slq_free(&q);
	return res == STORE_OK ? dres : STORE_ERROR;
}

/* --- accounts ---------------------------------------------------------------- */

/*
 * store_account_from_reply - the reply of HMGET KEY blocks enabled (async
 * callers send that command themselves): NOTFOUND when blocks is not set
 */
enum store_result
store_account_from_reply(const char *name, const redisReply *r, struct account *a)
{
	char	err[200];

	a->blocks = 0;
	a->enabled = 1;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return STORE_ERROR;
	if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING)
		return STORE_NOTFOUND;
	if (a->name != name)
		snprintf(a->name, sizeof(a->name), "%s", name);
	if (account_parse_blocks(r->element[0]->str, &a->blocks, err, sizeof(err)) < 0) {
		msg_warn("account %s: blocks: %s; treating as 0", name, err);
		a->blocks = 0;
	}
	a->enabled = !(r->element[1]->type == REDIS_REPLY_STRING
		       && strcmp(r->element[1]->str, "off") == 0);
	return STORE_OK;
}

/* store_account_get - an account, or NOTFOUND */
enum store_result
store_account_get(struct store *st, const char *name, struct account *a)
{
	char	key[KEYS_MAX];
	redisReply *r;
	enum store_result res;

	keys_account_cfg(key, sizeof(key), name);
	r = rconn_command(st->rc, "HMGET %s blocks enabled", key);
	a->blocks = 0;
	a->enabled = 1;
	if (store_expect(st, r, REDIS_REPLY_ARRAY, "HMGET") < 0)
		return STORE_ERROR;
	res = store_account_from_reply(name, r, a);
	freeReplyObject(r);
	return res;
}

/* store_account_put - create (HSETNX claims the name) or update */
enum store_result
store_account_put(struct store *st, const struct account *a, int create, int *exists)
{
	char	key[KEYS_MAX];
	char	blocks[16];
	redisReply *r;

	*exists = 0;
	keys_account_cfg(key, sizeof(key), a->name);
	snprintf(blocks, sizeof(blocks), "%u", a->blocks);
	if (create) {
		r = rconn_command(st->rc, "HSETNX %s blocks %s", key, blocks);
		if (store_expect(st, r, REDIS_REPLY_INTEGER, "HSETNX") < 0)
			return STORE_ERROR;
		*exists = r->integer == 0;
		freeReplyObject(r);
		if (*exists) {
			snprintf(st->errstr, sizeof(st->errstr), "account %s already exists", a->name);
			return STORE_ERROR;
		}
	}
	r = rconn_command(st->rc, "HSET %s blocks %s enabled %s", key, blocks,
			  a->enabled ? "on" : "off");
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "HSET") < 0)
		return STORE_ERROR;
	freeReplyObject(r);
	r = rconn_command(st->rc, "SADD %s %s", KEYS_ACCOUNTS, a->name);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "SADD") < 0)
		return STORE_ERROR;
	freeReplyObject(r);
	return STORE_OK;
}

/* store_account_delete - unindex, then drop the account's settings */
enum store_result
store_account_delete(struct store *st, const char *name)
{
	char	key[KEYS_MAX];
	redisReply *r;
	int	found;

	keys_account_cfg(key, sizeof(key), name);
	r = rconn_command(st->rc, "SREM %s %s", KEYS_ACCOUNTS, name);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "SREM") < 0)
		return STORE_ERROR;
	found = r->integer > 0;
	freeReplyObject(r);
	r = rconn_command(st->rc, "DEL %s", key);
	if (store_expect(st, r, REDIS_REPLY_INTEGER, "DEL") < 0)
		return STORE_ERROR;
	found |= r->integer > 0;
	freeReplyObject(r);
	return found ? STORE_OK : STORE_NOTFOUND;
}

/* store_account_names - every account, sorted */
enum store_result
store_account_names(struct store *st, char ***names, size_t *count)
{
	return store_smembers(st, KEYS_ACCOUNTS, names, count);
}
