/* milter.h - what the parts of mhmilter share (see main.c, filter.c) */
#ifndef MH_MILTER_H
#define MH_MILTER_H

#include <stddef.h>

#include <libmilter/mfapi.h>

#include "endpoint.h"

struct conf;
struct rconn;

/*
 * The settings in force (main.c): loaded at start, replaced by a reload
 * (SIGHUP). A connection holds the ones of its connect until its close;
 * a struct conf is read-only and freed when the last holder lets go.
 */
const struct conf *milter_conf_hold(void);
void	milter_conf_release(const struct conf *);

/* filter.c: the callbacks, for smfi_register */
extern struct smfiDesc milter_desc;
/*
 * milter_rconn - this thread's Redis connection, made at its first use;
 * *track: its state for the local cache (mcache.c), which goes with it
 */
struct mcache_conn;
struct rconn *milter_rconn(struct mcache_conn **track);
/* milter_threads_init - once, before smfi_main */
void	milter_threads_init(void);
/* milter_threads_end - once, after smfi_main: close the pooled Redis connections */
void	milter_threads_end(void);
/* milter_threads_redis_changed - a reload changed redis.*: every connection is made again */
void	milter_threads_redis_changed(void);

/*
 * milter_connstr - milter.listen as libmilter writes it: inet:127.0.0.1:10028
 * -> "inet:10028@127.0.0.1", inet:[::1]:10028 -> "inet6:10028@::1",
 * unix:/path -> "unix:/path"; -1 when it does not fit in out
 */
int	milter_connstr(const struct endpoint *, char *out, size_t outlen);

#endif
