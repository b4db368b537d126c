/* conf.h - mhkit.conf: every setting of the SPEC, with defaults (see conf.c) */
#ifndef MH_CONF_H
#define MH_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define CONF_EXIT		78	/* EX_CONFIG */
#define CONF_LIST_MAX		32	/* entries in a list setting */
#define CONF_STR_MAX		1024	/* bytes in a string setting */

enum conf_on_error {
	CONF_ON_ERROR_ACCEPT,		/* milter.on_scanner_error = accept */
	CONF_ON_ERROR_TEMPFAIL,		/* milter.on_scanner_error = tempfail */
};

enum conf_backend_error {
	CONF_BACKEND_DEFER,		/* policyd.on_backend_error = defer */
	CONF_BACKEND_DUNNO,		/* policyd.on_backend_error = dunno */
};

enum conf_discard_action {
	CONF_DISCARD_DISCARD,		/* accept and drop */
	CONF_DISCARD_REJECT,		/* 550 at end of DATA */
};

struct conf_list {
	size_t	count;
	char   *items[CONF_LIST_MAX];
};

struct conf {
	char   *path;			/* file it was read from, "" for built-in defaults */

	/* redis */
	char   *redis_host;		/* "127.0.0.1" */
	unsigned redis_port;		/* 6379 */
	char   *redis_unix;		/* "" = TCP; a path = unix socket, host/port ignored */
	unsigned redis_db;		/* 0 */
	char   *redis_user;		/* "" = no ACL user (AUTH password only) */
	char   *redis_password;		/* "" = no AUTH */
	uint64_t redis_timeout_ms;	/* 2s: connect and command timeout */
	unsigned redis_wait_replicas;	/* 0: a COMMIT is done once the primary has it; N: once N replicas have it too (WAIT) */
	char   *redis_sentinel_master;	/* redis.sentinel.master: "" = no Sentinel */
	struct hostport redis_sentinels[CONF_LIST_MAX];	/* redis.sentinel.servers, port default 26379 */
	size_t	redis_sentinel_count;
	char   *redis_sentinel_password;	/* redis.sentinel.password */
	struct hostport redis_cluster[CONF_LIST_MAX];	/* redis.cluster.servers (seeds), port default 6379 */
	size_t	redis_cluster_count;	/* 0 = not a cluster */

	/* node */
	struct conf_list node_hostnames;	/* empty = this host's name */

	/* dns */
	struct hostport dns_servers[CONF_LIST_MAX];	/* empty = system resolver; port 0 = 53 */
	size_t	dns_server_count;
	uint64_t dns_timeout_ms;	/* 5s */

	/* milter */
	struct endpoint milter_listen;	/* inet:127.0.0.1:10028 */
	struct endpoint milter_spamd;	/* inet:127.0.0.1:783 */
	struct endpoint milter_clamd;	/* unix:/run/clamav/clamd.ctl */
	enum conf_on_error milter_on_scanner_error;	/* accept */
	uint64_t milter_spam_max_size;	/* 512K: larger messages are not sent to spamd */
	struct endpoint milter_metrics;	/* "" = off */
	char   *milter_authserv_id;	/* "" = first of node.hostnames, else this host's name */
	uint64_t milter_cache_size;	/* 16M: mhmilter's local copy of what Redis holds (0 = none) */

	/* policyd */
	struct endpoint policyd_listen;	/* inet:127.0.0.1:10027 */
	struct endpoint policyd_socketmap;	/* inet:127.0.0.1:10029 */
	enum conf_backend_error policyd_on_backend_error;	/* defer */
	struct endpoint policyd_metrics;	/* "" = off */
	unsigned policyd_max_connections;	/* 10000 */
	uint64_t policyd_idle_timeout_ms;	/* 10m: a client silent this long is closed */
	uint64_t policyd_cache_size;	/* 16M: local copy of what Redis holds (0 = none) */

	/* callahead */
	char   *callahead_helo;		/* "" = first of node.hostnames */
	char   *callahead_probe_sender;	/* "" = null sender <> */
	uint64_t callahead_connect_timeout_ms;	/* 10s */
	uint64_t callahead_reply_timeout_ms;	/* 30s */
	uint64_t callahead_positive_ttl_ms;	/* 7d */
	uint64_t callahead_negative_ttl_ms;	/* 1h */
	uint64_t callahead_tempfail_ttl_ms;	/* 5m */
	unsigned callahead_max_per_destination;	/* 4 */

	/* outbound */
	unsigned outbound_relays_per_block;	/* 150 */
	unsigned outbound_max_recipients;	/* 100 */
	uint64_t outbound_max_size;	/* 50M */
	char   *outbound_quota_reply;	/* "452 4.7.1" */

	/* defaults (per-domain settings not set on the domain) */
	uint64_t defaults_max_size;	/* 10M */
	double	defaults_tag_limit;	/* 5.0 */
	double	defaults_discard_limit;	/* 10.0 */
	enum conf_discard_action defaults_discard_action;	/* discard */
	char   *defaults_subject_tag;	/* "[SPAM]" */

	/* process */
	char   *user;			/* "" = do not change user */
	char   *pidfile;		/* "" = none */
	char   *syslog_facility;	/* "mail" */
};

/* conf_default_path - $(sysconfdir)/mhkit/mhkit.conf */
const char *conf_default_path(void);

/*
 * conf_load - read a file; NULL path = conf_default_path(), where a missing
 * default file means built-in defaults. On error returns NULL and writes
 * one line "FILE:LINE: SETTING: what is wrong" into err.
 */
struct conf *conf_load(const char *path, char *err, size_t errlen);
/* conf_defaults - every setting at its default */
struct conf *conf_defaults(void);
void	conf_free(struct conf *);
/* conf_same_redis, conf_same_dns - whether redis.* (dns.*) are the same in both (for a reload) */
int	conf_same_redis(const struct conf *, const struct conf *);
int	conf_same_dns(const struct conf *, const struct conf *);
/* conf_dump - every setting and its value, in mhkit.conf syntax (for docs and -n) */
void	conf_dump(const struct conf *, void (*out)(const char *line, void *ctx), void *ctx);

#endif
