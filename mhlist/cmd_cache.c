/*
 * cmd_cache.c - mhlist cache show|purge ADDRESS|@DOMAIN: the call-ahead
 * verdicts mhpolicyd caches in Redis (mh:{DOMAIN}:ca:LOCAL, doc/keys.md;
 * the value's text is common/cacache.c's).
 *
 * show prints each verdict: the address, accept, reject or tempfail, its
 * age (from the probe's time against this host's clock), when it expires
 * (PTTL), the host:port probed, the deciding reply's code and the remote
 * text. A value that does not parse is shown as "unreadable" with its
 * text sanitised, never aborting the listing. purge deletes the verdicts
 * and says how many; every node sees it at once (mhpolicyd's local copies
 * are invalidated by Redis client tracking). An ADDRESS is one key, read
 * or deleted by its exact name; @DOMAIN is every key SCAN finds under
 * MATCH mh:{DOMAIN}:ca:* (glob characters escaped), COUNT CACHE_SCAN_COUNT
 * a call, deleted batch by batch with UNLINK.
 *
 * Public functions: cmd_cache, cache_purge_domain (also used by
 * `domain set` of dest, port or callahead).
 *
 * Limits: show lists at most CACHE_SHOW_MAX verdicts of a domain (sorted
 * by address; past the limit it says so on stderr and in the JSON);
 * purge has none, holding one SCAN batch at a time. A key's local part
 * is shown with bytes outside printable ASCII as '?' and cut, with
 * "...", after CACHE_LOCAL_SHOWN_MAX bytes.
 *
 * Exit: 0 (also when nothing is cached), 64 usage (no argument, one
 * that is neither an address nor @DOMAIN), 65 a malformed address or
 * domain, 69 Redis unavailable or an error reply.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "address.h"
#include "cacache.h"
#include "domain.h"
#include "keys.h"
#include "mhlist.h"
#include "output.h"

#define CACHE_SCAN_COUNT	"1000"	/* SCAN ... COUNT: keys looked at per call */
#define CACHE_CURSOR_MAX	24	/* bytes of a SCAN cursor (a 64-bit number) */
#define CACHE_SHOW_MAX		10000	/* verdicts `show @DOMAIN` lists at most */
#define CACHE_LOCAL_SHOWN_MAX	128	/* bytes of a key's local part shown */
#define CACHE_ADDRESS_SHOWN_MAX	(CACHE_LOCAL_SHOWN_MAX + 3 + 1 + DOMAIN_NAME_MAX)
#define CACHE_DURATION_MAX	32	/* "12345d23h" */

/* what a command works on: one address, or a whole domain (local "") */
struct cache_target {
	char	domain[DOMAIN_NAME_MAX + 1];
	char	local[ADDRESS_LOCAL_MAX + 1];	/* as the cache keys it (cacache_local) */
	char	shown[ADDRESS_TEXT_MAX + 1];	/* "bob@example.com" or "@example.com" */
};

/* one verdict read back */
struct cache_row {
	char	address[CACHE_ADDRESS_SHOWN_MAX + 1];
	size_t	locallen;		/* bytes of the key's local part */
	int	readable;
	struct cacache_entry e;		/* when readable */
	char	raw[SMTPREPLY_TEXT_MAX + 1];	/* the value sanitised, when not */
	long long pttl;			/* ms left; -1: no expiry */
};

/* the verdicts gathered by show */
struct cache_rows {
	struct cache_row *rows;
	size_t	count;
	size_t	cap;
	int	truncated;		/* more than CACHE_SHOW_MAX */
};

/* cache_error - a failed Redis call into m->st.errstr; returns STORE_ERROR */
static enum store_result
cache_error(struct mhlist *m, const char *what, const redisReply *r)
{
	if (r == NULL)
		snprintf(m->st.errstr, sizeof(m->st.errstr), "%s", rconn_errstr(m->rc));
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(m->st.errstr, sizeof(m->st.errstr), "%s: %.300s", what, r->str);
	else
		snprintf(m->st.errstr, sizeof(m->st.errstr), "%s: unexpected reply type %d", what, r->type);
	return STORE_ERROR;
}

/* cache_target_parse - ADDRESS or @DOMAIN; 0, or the exit status having said why */
static int
cache_target_parse(const char *sub, const char *arg, struct cache_target *t)
{
	struct address a;
	char	err[256];
	int	status;

	memset(t, 0, sizeof(*t));
	if (arg[0] == '@') {
		if ((status = mhlist_domain_arg(arg + 1, t->domain, sizeof(t->domain))) != 0)
			return status;
		snprintf(t->shown, sizeof(t->shown), "@%s", t->domain);
		return 0;
	}
	if (strchr(arg, '@') == NULL)
		return mhlist_usage("cache", "cache %s: \"%.255s\" is neither an ADDRESS (local@domain) "
				    "nor @DOMAIN", sub, arg);
	if (address_parse(arg, strlen(arg), &a, err, sizeof(err)) < 0)
		return mhlist_fail(EX_DATAERR, "bad address \"%.255s\": %s", arg, err);
	if (a.null || a.local[0] == 0)
		return mhlist_fail(EX_DATAERR, "bad address \"%.255s\": no local part", arg);
	if ((status = mhlist_domain_arg(a.domain, t->domain, sizeof(t->domain))) != 0)
		return status;
	if (cacache_local(t->local, sizeof(t->local), a.local) < 0)
		return mhlist_fail(EX_DATAERR, "bad address \"%.255s\": local part too long", arg);
	snprintf(t->shown, sizeof(t->shown), "%s@%s", t->local, t->domain);
	return 0;
}

/* cache_pattern - MATCH pattern of a domain's verdicts: mh:{DOMAIN}:ca:* with *?[]\ escaped; -1 if too long */
static int
cache_pattern(char *buf, size_t len, const char *domain)
{
	const char *tail = "}:ca:*";
	size_t	n = 0;

	if (len < sizeof("mh:{") + strlen(tail))
		return -1;
	memcpy(buf, "mh:{", 4);
	n = 4;
	for (const char *p = domain; *p; p++) {
		if (strchr("*?[]\\", *p) != NULL) {
			if (n + 1 >= len)
				return -1;
			buf[n++] = '\\';
		}
		if (n + 1 >= len)
			return -1;
		buf[n++] = *p;
	}
	if (n + strlen(tail) >= len)
		return -1;
	memcpy(buf + n, tail, strlen(tail) + 1);
	return 0;
}

/*
 * cache_scan - one SCAN step from *cursor (updated; "0" when done). The
 * reply is the caller's to free; *keys and *nkeys point into it.
 */
static enum store_result
cache_scan(struct mhlist *m, const char *pattern, char *cursor, redisReply **reply,
	   redisReply ***keys, size_t *nkeys)
{
	const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", CACHE_SCAN_COUNT};
	redisReply *r = rconn_commandargv(m->rc, 6, argv, NULL);
	redisReply *c;

	*reply = NULL;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
	    || (c = r->element[0])->type != REDIS_REPLY_STRING || c->len == 0
	    || c->len >= CACHE_CURSOR_MAX || strspn(c->str, "0123456789") != c->len
	    || r->element[1]->type != REDIS_REPLY_ARRAY) {
		cache_error(m, "SCAN", r);
		if (r)
			freeReplyObject(r);
		return STORE_ERROR;
	}
	memcpy(cursor, c->str, c->len + 1);
	for (size_t i = 0; i < r->element[1]->elements; i++)
		if (r->element[1]->element[i]->type != REDIS_REPLY_STRING) {
			snprintf(m->st.errstr, sizeof(m->st.errstr), "SCAN: a key that is not a string");
			freeReplyObject(r);
			return STORE_ERROR;
		}
	*reply = r;
	*keys = r->element[1]->element;
	*nkeys = r->element[1]->elements;
	return STORE_OK;
}

/* cache_unlink - delete n keys in one UNLINK (they share one hash tag); adds to *purged */
static enum store_result
cache_unlink(struct mhlist *m, redisReply **keys, size_t n, long long *purged)
{
	const char **argv = calloc(n + 1, sizeof(*argv));
	size_t *lens = calloc(n + 1, sizeof(*lens));
	enum store_result res = STORE_OK;
	redisReply *r = NULL;

	if (argv == NULL || lens == NULL) {
		snprintf(m->st.errstr, sizeof(m->st.errstr), "out of memory");
		res = STORE_ERROR;
		goto done;
	}
	argv[0] = "UNLINK", lens[0] = 6;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = keys[i]->str, lens[i + 1] = keys[i]->len;
	r = rconn_commandargv(m->rc, (int) n + 1, argv, lens);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		res = cache_error(m, "UNLINK", r);
	else
		*purged += r->integer;
done:
	if (r)
		freeReplyObject(r);
	free(argv);
	free(lens);
	return res;
}

/* cache_unlink_one - UNLINK one key; *gone 0 or 1 */
static enum store_result
cache_unlink_one(struct mhlist *m, const char *key, long long *gone)
{
	redisReply *r = rconn_command(mhlist_store(m)->rc, "UNLINK %s", key);

	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		cache_error(m, "UNLINK", r);
		if (r)
			freeReplyObject(r);
		return STORE_ERROR;
	}
	*gone = r->integer;
	freeReplyObject(r);
	return STORE_OK;
}

/*
 * cache_forget_down - drop the "destination down" mark of a relay
 * domain's destination (mh:{cadest:DEST:PORT}:down), so its next
 * recipient is probed again; a domain that is not configured, or has no
 * dest, has none of its own
 */
static enum store_result
cache_forget_down(struct mhlist *m, const char *domain)
{
	struct domain d;
	char	key[KEYS_MAX];
	long long gone;
	enum store_result res = store_domain_get(mhlist_store(m), domain, &d);

	if (res != STORE_OK)
		return res == STORE_NOTFOUND ? STORE_OK : res;
	if (d.service != DOMAIN_SERVICE_RELAY || d.dest[0] == 0)
		return STORE_OK;
	keys_ca_down(key, sizeof(key), d.dest, d.port);
	return cache_unlink_one(m, key, &gone);
}

/*
 * cache_purge_domain - delete every cached verdict of a domain, and its
 * destination's down mark; STORE_OK or STORE_ERROR (m->st.errstr)
 */
enum store_result
cache_purge_domain(struct mhlist *m, const char *domain, long long *purged)
{
	char	pattern[KEYS_MAX], cursor[CACHE_CURSOR_MAX] = "0";
	enum store_result res = STORE_OK;

	*purged = 0;
	mhlist_store(m);
	if (cache_pattern(pattern, sizeof(pattern), domain) < 0) {
		snprintf(m->st.errstr, sizeof(m->st.errstr), "domain name too long for a key");
		return STORE_ERROR;
	}
	if ((res = cache_forget_down(m, domain)) != STORE_OK)
		return res;
	do {
		redisReply *r, **keys;
		size_t	n;

		if ((res = cache_scan(m, pattern, cursor, &r, &keys, &n)) != STORE_OK)
			return res;
		if (n > 0)
			res = cache_unlink(m, keys, n, purged);
		freeReplyObject(r);
	} while (res == STORE_OK && strcmp(cursor, "0") != 0);
	return res;
}

/* cache_purge_one - delete one address's verdict; *purged 0 or 1 */
static enum store_result
cache_purge_one(struct mhlist *m, const struct cache_target *t, long long *purged)
{
	char	key[KEYS_MAX];

	*purged = 0;
	if ((size_t) keys_ca_verdict(key, sizeof(key), t->domain, t->local) >= sizeof(key)) {
		snprintf(m->st.errstr, sizeof(m->st.errstr), "address too long for a key");
		return STORE_ERROR;
	}
	return cache_unlink_one(m, key, purged);
}

/* cache_print_purged - "purged N cached call-ahead verdicts for TARGET" (also for domain set) */
void
cache_print_purged(const char *shown, long long purged)
{
	printf("purged %lld cached call-ahead verdict%s for %s\n", purged, purged == 1 ? "" : "s", shown);
}

/* cache_purge - mhlist cache purge ADDRESS|@DOMAIN */
static int
cache_purge(struct mhlist *m, int argc, char **argv)
{
	struct cache_target t;
	long long purged;
	enum store_result res;
	int	status;

	if (argc != 2)
		return mhlist_usage("cache", "cache purge needs exactly one ADDRESS or @DOMAIN");
	if ((status = cache_target_parse("purge", argv[1], &t)) != 0)
		return status;
	res = t.local[0] ? cache_purge_one(m, &t, &purged) : cache_purge_domain(m, t.domain, &purged);
	if (res != STORE_OK)
		return mhlist_backend(m);
	if (m->json) {
		json_t *o = json_object();

		if (t.local[0])
			json_object_set_new(o, "address", json_string(t.shown));
		else
			json_object_set_new(o, "domain", json_string(t.domain));
		json_object_set_new(o, "purged", json_integer(purged));
		output_json(o);
	} else {
		cache_print_purged(t.shown, purged);
	}
	return 0;
}

/* cache_shown_local - a key's local part fit to print: printable ASCII, bounded */
static void
cache_shown_local(char *out, size_t outlen, const char *local, size_t len)
{
	size_t	n = 0, max = outlen - 1 < CACHE_LOCAL_SHOWN_MAX ? outlen - 1 : CACHE_LOCAL_SHOWN_MAX;

	for (; n < len && n < max; n++)
		out[n] = (unsigned char) local[n] >= 0x20 && (unsigned char) local[n] < 0x7f ? local[n] : '?';
	out[n] = 0;
	if (n < len && outlen >= n + 4)
		memcpy(out + n, "...", 4);
}

/* cache_printable - 1 when s is printable ASCII (no control or 8-bit bytes) */
static int
cache_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
			return 0;
	return 1;
}

/* cache_row_fill - one row from a key's GET and PTTL replies; 0, or -1 when the key is gone */
static int
cache_row_fill(struct cache_row *row, const char *domain, const char *local, size_t locallen,
	       const redisReply *get, const redisReply *pttl)
{
	char	shown[CACHE_LOCAL_SHOWN_MAX + 4];

	if (get->type == REDIS_REPLY_NIL || pttl->type != REDIS_REPLY_INTEGER || pttl->integer == -2)
		return -1;
	memset(row, 0, sizeof(*row));
	cache_shown_local(shown, sizeof(shown), local, locallen);
	snprintf(row->address, sizeof(row->address), "%s@%s", shown, domain);
	row->locallen = locallen;
	row->pttl = pttl->integer;
	if (get->type != REDIS_REPLY_STRING) {
		snprintf(row->raw, sizeof(row->raw), "(not a string)");
		return 0;
	}
	row->readable = get->len <= CACACHE_VALUE_MAX && memchr(get->str, 0, get->len) == NULL
		&& cacache_parse(get->str, &row->e) == 0 && cache_printable(row->e.where);
	if (!row->readable)
		smtpreply_sanitise(row->raw, sizeof(row->raw), get->str, get->len);
	return 0;
}

/* cache_rows_add - room for one more row: 1 (*row set), 0 full (truncated), -1 out of memory */
static int
cache_rows_add(struct cache_rows *rs, struct cache_row **row)
{
	if (rs->count == CACHE_SHOW_MAX) {
		rs->truncated = 1;
		return 0;
	}
	if (rs->count == rs->cap) {
		size_t	cap = rs->cap ? rs->cap * 2 : 16;
		struct cache_row *p;

		if (cap > CACHE_SHOW_MAX)
			cap = CACHE_SHOW_MAX;
		if ((p = realloc(rs->rows, cap * sizeof(*p))) == NULL)
			return -1;
		rs->rows = p;
		rs->cap = cap;
	}
	*row = &rs->rows[rs->count];
	return 1;
}

/* cache_fetch_one - one key's GET and PTTL replies into rs */
static enum store_result
cache_fetch_one(struct mhlist *m, struct cache_rows *rs, const char *domain, const char *key,
		size_t keylen, size_t prefix, const redisReply *get, const redisReply *pttl)
{
	struct cache_row *row;

	/* WRONGTYPE: something else under a verdict's name, shown as unreadable */
	if (get->type == REDIS_REPLY_ERROR && strncmp(get->str, "WRONGTYPE", 9) != 0)
		return cache_error(m, "GET", get);
	if (pttl->type != REDIS_REPLY_INTEGER)
		return cache_error(m, "PTTL", pttl);
	if (keylen <= prefix)
		return STORE_OK;
	switch (cache_rows_add(rs, &row)) {
	case -1:
		snprintf(m->st.errstr, sizeof(m->st.errstr), "out of memory");
		return STORE_ERROR;
	case 0:
		return STORE_OK;
	}
	if (cache_row_fill(row, domain, key + prefix, keylen - prefix, get, pttl) == 0)
		rs->count++;
	return STORE_OK;
}

/*
 * cache_fetch - GET and PTTL of n keys, pipelined; a row for each that
 * still exists. prefix is the length of "mh:{DOMAIN}:ca:" in each key.
 */
static enum store_result
cache_fetch(struct mhlist *m, struct cache_rows *rs, const char *domain, const char *const *keys,
	    const size_t *lens, size_t n, size_t prefix)
{
	enum store_result res = STORE_OK;
	size_t	queued = 0;		/* commands queued: GET, PTTL, GET, ... */

	while (queued < 2 * n) {
		const char *argv[2] = {queued % 2 ? "PTTL" : "GET", keys[queued / 2]};
		size_t	argvlen[2] = {queued % 2 ? 4 : 3, lens[queued / 2]};

		if (rconn_appendargv(m->rc, 2, argv, argvlen) < 0) {
			res = cache_error(m, argv[0], NULL);
			break;
		}
		queued++;
	}
	/* read every reply queued, also after a failure, so none is left for the next command */
	for (size_t i = 0; i < queued; i += 2) {
		redisReply *get = rconn_get_reply(m->rc);
		redisReply *pttl = get && i + 1 < queued ? rconn_get_reply(m->rc) : NULL;

		if (get == NULL || (pttl == NULL && i + 1 < queued)) {
			if (get)
				freeReplyObject(get);
			return res == STORE_OK ? cache_error(m, "GET", NULL) : res;
		}
		if (res == STORE_OK)	/* then all 2n were queued: pttl is there */
			res = cache_fetch_one(m, rs, domain, keys[i / 2], lens[i / 2], prefix, get, pttl);
		freeReplyObject(get);
		if (pttl)
			freeReplyObject(pttl);
	}
	return res;
}

/* cache_gather - every verdict of the target into rs */
static enum store_result
cache_gather(struct mhlist *m, const struct cache_target *t, struct cache_rows *rs)
{
	char	key[KEYS_MAX], pattern[KEYS_MAX], cursor[CACHE_CURSOR_MAX] = "0";
	size_t	prefix = (size_t) keys_ca_verdict(key, sizeof(key), t->domain, "");
	enum store_result res = STORE_OK;

	mhlist_store(m);
	if (t->local[0]) {
		const char *k = key;
		size_t	len = (size_t) keys_ca_verdict(key, sizeof(key), t->domain, t->local);

		if (len >= sizeof(key)) {
			snprintf(m->st.errstr, sizeof(m->st.errstr), "address too long for a key");
			return STORE_ERROR;
		}
		return cache_fetch(m, rs, t->domain, &k, &len, 1, prefix);
	}
	if (cache_pattern(pattern, sizeof(pattern), t->domain) < 0) {
		snprintf(m->st.errstr, sizeof(m->st.errstr), "domain name too long for a key");
		return STORE_ERROR;
	}
	do {
		redisReply *r, **keys;
		const char **names;
		size_t *lens, n;

		if ((res = cache_scan(m, pattern, cursor, &r, &keys, &n)) != STORE_OK)
			return res;
		names = calloc(n + 1, sizeof(*names));
		lens = calloc(n + 1, sizeof(*lens));
		if (names == NULL || lens == NULL) {
			snprintf(m->st.errstr, sizeof(m->st.errstr), "out of memory");
			res = STORE_ERROR;
		} else {
			for (size_t i = 0; i < n; i++)
				names[i] = keys[i]->str, lens[i] = keys[i]->len;
			res = cache_fetch(m, rs, t->domain, names, lens, n, prefix);
		}
		free(names);
		free(lens);
		freeReplyObject(r);
	} while (res == STORE_OK && !rs->truncated && strcmp(cursor, "0") != 0);
	return res;
}

/* cache_row_cmp - qsort: by address, then by the key's length */
static int
cache_row_cmp(const void *a, const void *b)
{
	const struct cache_row *x = a, *y = b;
	int	c = strcmp(x->address, y->address);

	return c ? c : (x->locallen > y->locallen) - (x->locallen < y->locallen);
}

/* cache_rows_sort - sort, and drop the keys SCAN returned twice (it may, while Redis rehashes) */
static void
cache_rows_sort(struct cache_rows *rs)
{
	size_t	kept = 0;

	if (rs->count < 2)
		return;
	qsort(rs->rows, rs->count, sizeof(*rs->rows), cache_row_cmp);
	for (size_t i = 0; i < rs->count; i++)
		if (kept == 0 || cache_row_cmp(&rs->rows[kept - 1], &rs->rows[i]) != 0)
			rs->rows[kept++] = rs->rows[i];
	rs->count = kept;
}

/* cache_duration - seconds for people: "45s", "12m05s", "3h02m", "6d23h" */
static const char *
cache_duration(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

/* cache_expires_in - seconds left, rounded up; -1 when the key has no expiry */
static long long
cache_expires_in(const struct cache_row *row)
{
	return row->pttl < 0 ? -1 : (row->pttl + 999) / 1000;
}

/* cache_row_json - one verdict as an object */
static json_t *
cache_row_json(const struct cache_row *row, long long now)
{
	json_t *o = json_object();
	long long exp = cache_expires_in(row);

	json_object_set_new(o, "address", json_string(row->address));
	if (!row->readable) {
		json_object_set_new(o, "verdict", json_string("unreadable"));
		json_object_set_new(o, "expires_in", exp < 0 ? json_null() : json_integer(exp));
		json_object_set_new(o, "value", json_string(row->raw));
		return o;
	}
	json_object_set_new(o, "verdict", json_string(cacache_verdict_name(row->e.verdict)));
	json_object_set_new(o, "at", json_integer(row->e.at));
	json_object_set_new(o, "age", json_integer(now > row->e.at ? now - row->e.at : 0));
	json_object_set_new(o, "expires_in", exp < 0 ? json_null() : json_integer(exp));
	json_object_set_new(o, "where", json_string(row->e.where));
	json_object_set_new(o, "code", row->e.code ? json_integer(row->e.code) : json_null());
	json_object_set_new(o, "text", json_string(row->e.text));
	return o;
}

/* cache_show - mhlist cache show ADDRESS|@DOMAIN */
static int
cache_show(struct mhlist *m, int argc, char **argv)
{
	static const char *const headers[] = {"ADDRESS", "VERDICT", "AGE", "EXPIRES", "WHERE", "CODE", "TEXT"};
	struct cache_target t;
	struct cache_rows rs = {0};
	long long now = (long long) time(NULL);
	int	status;

	if (argc != 2)
		return mhlist_usage("cache", "cache show needs exactly one ADDRESS or @DOMAIN");
	if ((status = cache_target_parse("show", argv[1], &t)) != 0)
		return status;
	if (cache_gather(m, &t, &rs) != STORE_OK) {
		free(rs.rows);
		return mhlist_backend(m);
	}
	cache_rows_sort(&rs);
	if (rs.truncated)
		fprintf(stderr, "mhlist: warning: more than %d cached call-ahead verdicts for %s; "
			"showing %d of them\n", CACHE_SHOW_MAX, t.shown, CACHE_SHOW_MAX);
	if (m->json) {
		json_t *o = json_object();
		json_t *arr = json_array();

		if (t.local[0])
			json_object_set_new(o, "address", json_string(t.shown));
		else
			json_object_set_new(o, "domain", json_string(t.domain));
		for (size_t i = 0; i < rs.count; i++)
			json_array_append_new(arr, cache_row_json(&rs.rows[i], now));
		json_object_set_new(o, "verdicts", arr);
		if (!t.local[0])
			json_object_set_new(o, "truncated", json_boolean(rs.truncated));
		output_json(o);
	} else if (rs.count == 0) {
		printf("no cached call-ahead verdict%s for %s\n", t.local[0] ? "" : "s", t.shown);
	} else {
		struct output_table *tab = output_table_new(7, headers);

		for (size_t i = 0; i < rs.count; i++) {
			const struct cache_row *row = &rs.rows[i];
			char	age[CACHE_DURATION_MAX], exp[CACHE_DURATION_MAX], code[8];
			long long left = cache_expires_in(row);
			const char *cells[7] = {row->address, "unreadable", "-",
				left < 0 ? "never" : cache_duration(left, exp, sizeof(exp)), "-", "-",
			row->raw[0] ? row->raw : "-"};

			if (row->readable) {
				cells[1] = cacache_verdict_name(row->e.verdict);
				cells[2] = cache_duration(now - row->e.at, age, sizeof(age));
				cells[4] = row->e.where;
				snprintf(code, sizeof(code), "%d", row->e.code);
				cells[5] = row->e.code ? code : "-";
				cells[6] = row->e.text[0] ? row->e.text : "-";
			}
			output_table_row(tab, cells);
		}
		output_table_print(tab);
	}
	free(rs.rows);
	return 0;
}

/* cmd_cache - dispatch the cache subcommands */
int
cmd_cache(struct mhlist *m, int argc, char **argv)
{
	if (argc < 2)
		return mhlist_usage("cache", "cache needs a subcommand");
	argc--, argv++;
	if (strcmp(argv[0], "show") == 0)
		return cache_show(m, argc, argv);
	if (strcmp(argv[0], "purge") == 0)
		return cache_purge(m, argc, argv);
	return mhlist_usage("cache", "unknown subcommand \"cache %.100s\"", argv[0]);
}
