/* mhlist.h - what the mhlist commands share (see mhlist.c) */
#ifndef MH_MHLIST_H
#define MH_MHLIST_H

#include <sysexits.h>

#include "conf.h"
#include "rconn.h"
#include "store.h"

struct mhlist {
	const char *progname;
	struct conf *conf;
	struct rconn *rc;		/* connected on first use */
	struct store st;
	int	json;			/* --json */
};

/* a command: argv[0] is the command word ("domain") */
typedef int (*mhlist_cmd_fn)(struct mhlist *, int argc, char **argv);

int	cmd_domain(struct mhlist *, int, char **);
int	cmd_users(struct mhlist *, int, char **);
int	cmd_whitelist(struct mhlist *, int, char **);
int	cmd_blacklist(struct mhlist *, int, char **);
int	cmd_account(struct mhlist *, int, char **);
int	cmd_explain(struct mhlist *, int, char **);
int	cmd_check(struct mhlist *, int, char **);
int	cmd_cache(struct mhlist *, int, char **);

/* cache_purge_domain - drop a domain's cached call-ahead verdicts (cmd_cache.c); errors in m->st.errstr */
enum store_result cache_purge_domain(struct mhlist *, const char *domain, long long *purged);
/* cache_print_purged - "purged N cached call-ahead verdicts for WHAT" on stdout */
void	cache_print_purged(const char *what, long long purged);

/* mhlist_store - the store, connecting to Redis now; exits 69 when it cannot */
struct store *mhlist_store(struct mhlist *);
/* mhlist_usage - print the usage of one command (or all) to stderr, return EX_USAGE */
int	mhlist_usage(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* mhlist_help - full usage of a command on stdout, return 0 */
int	mhlist_help(const char *command);
/* mhlist_fail - "mhlist: text" on stderr, return status */
int	mhlist_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* mhlist_backend - report STORE_ERROR: 69 when Redis is unavailable, 65 otherwise */
int	mhlist_backend(struct mhlist *);
/* mhlist_wants_help - argv has -h or --help */
int	mhlist_wants_help(int argc, char **argv);
/* mhlist_domain_arg - canonical domain name of an argument, or exit-worthy error (65) */
int	mhlist_domain_arg(const char *arg, char *out, size_t outlen);
/* mhlist_found - 0 for STORE_OK, else the exit status having said "WHAT NAME not found" or why */
int	mhlist_found(struct mhlist *, enum store_result, const char *what, const char *name);
/* mhlist_need_domain - 0 if the domain exists, else the exit status having said why */
int	mhlist_need_domain(struct mhlist *, const char *domain);

#endif
