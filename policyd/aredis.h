/* aredis.h - asynchronous Redis on the event loop (see aredis.c) */
#ifndef MH_AREDIS_H
#define MH_AREDIS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

struct conf;
struct aredis;

/*
 * The callback of one command. reply is NULL when the command failed:
 * connection lost, timeout (redis.timeout), or the client shut down;
 * hiredis frees the reply after the callback returns. Exactly one call
 * per command that aredis_command accepted.
 */
typedef void aredis_cb(redisReply *reply, void *arg);

struct aredis *aredis_new(struct event_base *, const struct conf *);
/* aredis_free - every command in flight gets its callback with NULL first */
void	aredis_free(struct aredis *);
/* aredis_command - 0 when queued; -1 (callback NOT called) while Redis is unavailable */
int	aredis_command(struct aredis *, aredis_cb *, void *arg, const char *fmt, ...);
int	aredis_commandargv(struct aredis *, aredis_cb *, void *arg, int argc,
			   const char **argv, const size_t *argvlen);
/*
 * aredis_up_key - whether a command for key would be sent now: aredis_up,
 * or on a cluster whether the primary of key's slot (as the slot map
 * says; read again after a failover) is connected. The front of a
 * cluster is "up" as soon as it has a map, whichever primary is down.
 */
int	aredis_up_key(struct aredis *, const char *key, size_t keylen);
/*
 * aredis_wait - WAIT replicas timeout_ms on the connection that wrote key
 * (on a cluster, the one to the primary of key's slot; otherwise the only
 * one): its reply is how many replicas have every write sent on that
 * connection so far. 0 when queued; -1 (callback NOT called) when that
 * connection is unavailable.
 */
int	aredis_wait(struct aredis *, const char *key, size_t keylen, unsigned replicas,
		    uint64_t timeout_ms, aredis_cb *, void *arg);
/*
 * Client-side caching (Redis >= 6, CLIENT TRACKING in RESP2 redirect
 * mode): once aredis_track is called, every time the connection comes up
 * aredis opens a second connection subscribed to the invalidation channel
 * and has Redis track the keys this connection reads. on(arg, 1) when
 * reads are tracked from now on; inval(arg, key, len) for each key Redis
 * says changed (key NULL: all of them, e.g. FLUSHALL); on(arg, 0) when
 * either connection is lost or tracking cannot be had - the caller must
 * then forget what it cached and cache nothing until on(arg, 1) again.
 */
typedef void aredis_inval_cb(void *arg, const char *key, size_t len);
typedef void aredis_track_cb(void *arg, int on);
void	aredis_track(struct aredis *, aredis_inval_cb *, aredis_track_cb *, void *arg);
/* aredis_tracking - 1 while reads are tracked */
int	aredis_tracking(const struct aredis *);

/* aredis_up - 1 while connected and logged in */
int	aredis_up(const struct aredis *);
const char *aredis_address(const struct aredis *);
/* aredis_cluster - 1 on a Redis Cluster: a command (a script) may name keys of one hash slot only */
int	aredis_cluster(const struct aredis *);
unsigned long aredis_reconnects(const struct aredis *);
unsigned long aredis_errors(const struct aredis *);

#endif
