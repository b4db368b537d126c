/* policyd.h - what the parts of mhpolicyd share (see main.c, server.c) */
#ifndef MH_POLICYD_H
#define MH_POLICYD_H

#include <stddef.h>

#include <event2/event.h>

#include "conf.h"
#include "domain.h"
#include "mx.h"
#include "store.h"

struct aredis;
struct rcache;
struct dnsq;
struct conn;
struct outbound_undo;
struct commitq;

/* the daemon: one event loop, one Redis connection, one resolver */
struct policyd {
	struct event_base *base;
	struct conf *conf;		/* in force; jobs hold their own reference */
	struct aredis *redis;
	struct rcache *cache;		/* local copies of Redis reads (lcache.c) */
	struct dnsq *dns;
	struct evconnlistener *policy_listener;
	struct evconnlistener *socketmap_listener;
	struct conn *conns;		/* open client connections */
	size_t	nconns;
	size_t	jobs;			/* requests being decided */
	int	draining;		/* SIGTERM: finish what is in hand, then exit */
	struct event *drain_timer;
	unsigned long requests;		/* policy requests answered */
	unsigned long lookups;		/* socketmap lookups answered */
	struct outbound_undo *undo;	/* outbound.c: refused messages whose count to take back */
	struct commitq *commitq;	/* commitq.c: END-OF-MESSAGE counts grouped into batches */
};

/*
 * Jobs (a policy or socketmap request being decided) keep the conf they
 * started with across a reload: policyd_job_begin holds it and counts the
 * job, policyd_job_done releases both (and ends a drain when it was the last).
 */
struct conf *policyd_job_begin(struct policyd *);
void	policyd_job_done(struct policyd *, struct conf *);
void	policyd_conf_release(struct conf *);
/* policyd_idle - nothing in hand: draining may exit */
int	policyd_idle(const struct policyd *);

/* server.c: connections */
enum conn_kind {
	CONN_POLICY,
	CONN_SOCKETMAP
};

int	server_listen(struct policyd *, char *err, size_t errlen);
void	server_stop_listening(struct policyd *);
/* conn_reply - write bytes of an answer and read the next request */
void	conn_reply(struct conn *, const char *data, size_t len);
/* conn_close_after_reply - write bytes, then close (protocol errors) */
void	conn_close_after_reply(struct conn *, const char *data, size_t len);
/* conn_peer - "127.0.0.1:12345" or "unix" */
const char *conn_peer(const struct conn *);
/* server_drain - SIGTERM: stop listening, close connections not deciding a request */
void	server_drain(struct policyd *);

/* policy.c, socketmap.c: one complete request on a connection */
struct policy_parser;
struct socketmap_parser;
void	policy_handle(struct policyd *, struct conn *, const struct policy_parser *);
void	socketmap_handle(struct policyd *, struct conn *, const struct socketmap_parser *);
/* the job of a connection that closes while the job runs must forget the connection */
void	policy_conn_gone(void *job);
void	socketmap_conn_gone(void *job);
void	conn_set_job(struct conn *, void *job, void (*gone)(void *));

/*
 * outbound.c: requests with policy_context=outbound (RCPT and
 * END-OF-MESSAGE); 0 when it took the request, -1 when it is not one it
 * decides (the caller answers DUNNO).
 */
int	outbound_handle(struct policyd *, struct conn *, const struct policy_parser *);
void	outbound_conn_gone(void *job);
/* outbound_end - at exit, after aredis_free: log what was not taken back, free */
void	outbound_end(struct policyd *);

/*
 * What a policy connection remembers of the SMTP transaction its requests
 * come from (outbound.c): Postfix's smtpd keeps one connection to a policy
 * service and names each transaction with the `instance` attribute (new
 * at every MAIL FROM). Zero when the connection opens.
 */
#define CONN_INSTANCE_MAX	64	/* bytes of an instance; Postfix's "%x.%lx.%lx.%x" is at most 51 */
struct conn_txn {
	char	instance[CONN_INSTANCE_MAX + 1];
	unsigned accepted;		/* recipients answered DUNNO in it */
};
struct conn_txn *conn_txn(struct conn *);

/* lookup.c: asynchronous lookups shared by the policy and socketmap jobs */
typedef void lookup_domain_cb(enum store_result, const struct domain *, void *arg);
typedef void lookup_mx_cb(int dns_ok, const struct mx_set *, void *arg);
/* lookup_domain - 0: the callback will run; -1: none will, Redis is down */
int	lookup_domain(struct policyd *, const struct conf *, const char *name, lookup_domain_cb *, void *arg);
/*
 * lookup_index - does an index key (KEYS_DOMAINS, KEYS_ACCOUNTS) exist?
 * cb(arg, 1 yes, 0 no, -1 Redis failed), from the local copy when there
 * is one (at once). A missing index means a Redis emptied (restarted
 * without its data): a "not found" then is not the customer's answer;
 * it is logged once a minute. key: one of those constants.
 */
typedef void lookup_index_cb(void *arg, int state);
void	lookup_index(struct policyd *, const char *key, lookup_index_cb *, void *arg);
/* lookup_mx - the domain's MX set from the shared cache, else DNS; always calls back */
void	lookup_mx(struct policyd *, const char *domain, lookup_mx_cb *, void *arg);

#endif
