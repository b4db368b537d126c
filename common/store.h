/* store.h - domains, user lists, sender lists and accounts in Redis (see store.c) */
#ifndef MH_STORE_H
#define MH_STORE_H

#include <stddef.h>

#include "account.h"
#include "domain.h"
#include <hiredis/hiredis.h>

#include "keys.h"
#include "listentry.h"
#include "senderlist.h"

struct conf;
struct rconn;
struct address;

/* every lookup has three outcomes: Redis being down never reads as "not found" */
enum store_result {
	STORE_ERROR = -1,		/* backend unavailable or bad reply: try again later */
	STORE_OK = 0,			/* done / found */
	STORE_NOTFOUND = 1		/* no such object */
};

struct store {
	struct rconn *rc;
	const struct conf *conf;
	char	errstr[512];		/* set when a call returns STORE_ERROR */
};

void	store_init(struct store *, struct rconn *, const struct conf *);

/* domains */
/* store_domain_from_reply - parse an HGETALL reply of the settings hash (async callers) */
enum store_result store_domain_from_reply(const struct conf *, const char *name,
					  const redisReply *, struct domain *);
enum store_result store_domain_get(struct store *, const char *name, struct domain *);
enum store_result store_domain_exists(struct store *, const char *name);
/* store_domain_create - NOTFOUND is not used; an existing domain is STORE_ERROR "exists" with *exists=1 */
enum store_result store_domain_create(struct store *, const struct domain *, int *exists);
/* store_domain_update - write the settings set on d (set_mask) */
enum store_result store_domain_update(struct store *, const struct domain *);
enum store_result store_domain_delete(struct store *, const char *name);
/* store_domain_names - sorted names; caller frees with store_names_free */
enum store_result store_domain_names(struct store *, char ***names, size_t *count);
void	store_names_free(char **names, size_t count);

/* user lists (canonical local parts) */
enum store_result store_users_change(struct store *, const char *domain, int add,
				     char *const *locals, size_t count, long long *changed);
enum store_result store_users_members(struct store *, const char *domain, char ***locals, size_t *count);
enum store_result store_user_exists(struct store *, const char *domain, const char *local);

/* streaming replace/merge of a user list, atomic for readers */
struct store_import;
struct store_import *store_import_begin(struct store *, const char *domain);
/* store_import_add - queue one canonical local part; pipelined in batches */
enum store_result store_import_add(struct store_import *, const char *local, size_t len);
/* store_import_commit - rename over the list (merge: union into it); frees imp */
enum store_result store_import_commit(struct store_import *, int merge, long long *total);
/* store_import_abort - drop the staging key; frees imp */
void	store_import_abort(struct store_import *);

/* sender lists: domain NULL = global */
enum store_result store_list_change(struct store *, const char *domain, enum keys_list,
				    int add, char *const *entries, size_t count, long long *changed);
enum store_result store_list_members(struct store *, const char *domain, enum keys_list,
				     char ***entries, size_t *count);
/* store_list_keys - the four sender lists' keys of a recipient domain, in SENDERLIST_LISTS's order */
void	store_list_keys(char (*keys)[KEYS_MAX], const char *domain);
/*
 * store_list_field - SENDER "\0" CLIENT into buf, the field under which a
 * sender/client pair's list answers are kept locally (client_ip NULL: "");
 * its length, or -1 when it does not fit
 */
int	store_list_field(char *buf, size_t len, const struct address *sender, const char *client_ip);
#define STORE_LIST_FIELD_MAX	(ADDRESS_TEXT_MAX + 72)	/* room for any sender and client IP */

/*
 * A sender-list check as four commands, for callers with their own
 * connection (the async policy server): init, then for k = 0..3 send
 * store_slq_command(k) and fold its reply with store_slq_reply(k);
 * n == 0 means nothing can match (no command needed). Zero the struct
 * before its first init; init again reuses its arrays; free releases them.
 */
struct store_slq {
	char   *cand;			/* the candidates, packed, NUL-separated */
	size_t	candcap;
	size_t	n;
	char	keys[SENDERLIST_LISTS][KEYS_MAX];
	const char **argv;		/* SMISMEMBER KEY cand... */
	size_t *lens;
	size_t	argcap;
};
void	store_slq_init(struct store_slq *, const char *domain, const struct address *sender,
		       const char *client_ip);
int	store_slq_command(struct store_slq *, int k, const char ***argv, const size_t **lens);
int	store_slq_reply(const struct store_slq *, int k, const redisReply *, struct senderlist_hits *);
void	store_slq_free(struct store_slq *);

/* store_senderlist_hits - which of the four lists match this sender/client */
enum store_result store_senderlist_hits(struct store *, const char *domain,
					const struct address *sender, const char *client_ip,
					struct senderlist_hits *);

/*
 * store_rcpt_get - what a recipient check needs, in one round trip: the
 * domain's settings (HGETALL), whether local is on its user list
 * (SISMEMBER, sent whether the list is on or not) and the four sender
 * lists (SMISMEMBER). Returns the domain's result: OK (d filled, *user
 * OK or NOTFOUND, hits filled), NOTFOUND or ERROR (st->errstr).
 */
enum store_result store_rcpt_get(struct store *, const char *domain, const char *local,
				 const struct address *sender, const char *client_ip,
				 struct domain *d, enum store_result *user,
				 struct senderlist_hits *hits);

/* accounts */
/* store_account_from_reply - parse the reply of HMGET mh:{acct:NAME}:cfg blocks enabled (async callers) */
enum store_result store_account_from_reply(const char *name, const redisReply *, struct account *);
enum store_result store_account_get(struct store *, const char *name, struct account *);
enum store_result store_account_put(struct store *, const struct account *, int create, int *exists);
enum store_result store_account_delete(struct store *, const char *name);
enum store_result store_account_names(struct store *, char ***names, size_t *count);

#endif
