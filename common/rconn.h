/* rconn.h - the one synchronous Redis connection layer of all programs (see rconn.c) */
#ifndef MH_RCONN_H
#define MH_RCONN_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct conf;
struct rconn;

/*
 * One rconn is one logical connection: not thread-safe, one per thread.
 * It connects lazily on first use (TCP, unix socket, or the primary that
 * redis.sentinel names), authenticates (AUTH [user] password), selects
 * redis.db, and applies redis.timeout to connect and to every command.
 *
 * When a command fails because the connection broke (I/O error, EOF,
 * timeout, a READONLY/LOADING/MASTERDOWN reply), the connection is
 * dropped and the call returns NULL with rconn_errstr() set; the next
 * call reconnects by itself, no sooner than a backoff that doubles from
 * 100 ms up to 5 s after each failed connect and resets on success
 * (until then calls fail at once: "backend unavailable").
 * Error replies (REDIS_REPLY_ERROR) other than those above are returned
 * to the caller as replies.
 */
struct rconn *rconn_new(const struct conf *);
void	rconn_free(struct rconn *);

/* rconn_connect - connect now (normally implicit); 0 or -1 */
int	rconn_connect(struct rconn *);
/* rconn_errstr - last error, naming the address tried ("127.0.0.1:6379: Connection refused") */
const char *rconn_errstr(const struct rconn *);
/* rconn_address - where it connects or would: "127.0.0.1:6379", "unix:/path", "sentinel mymaster -> 10.0.0.1:6379" */
const char *rconn_address(const struct rconn *);
/* rconn_primary - under Sentinel: the primary found by the last connect; -1 without Sentinel */
int	rconn_primary(const struct rconn *, const char **host, unsigned *port);
/* rconn_reconnects - how many times a broken connection was re-established */
unsigned long rconn_reconnects(const struct rconn *);
/*
 * rconn_totals - over every rconn of the process (any thread): calls that
 * failed (connect refused or backing off, I/O error, timeout, unready
 * server) and connections re-established
 */
void	rconn_totals(unsigned long *failures, unsigned long *reconnects);

/* rconn_command - one command, one reply (caller frees with freeReplyObject), NULL on failure */
redisReply *rconn_command(struct rconn *, const char *fmt, ...);
redisReply *rconn_commandargv(struct rconn *, int argc, const char **argv, const size_t *argvlen);

/*
 * Pipelining: rconn_append* queue commands, rconn_get_reply reads one reply
 * per queued command in order. After a failure the rest of the pipeline is
 * lost: rconn_get_reply returns NULL and the connection is dropped.
 */
int	rconn_append(struct rconn *, const char *fmt, ...);
int	rconn_appendargv(struct rconn *, int argc, const char **argv, const size_t *argvlen);
redisReply *rconn_get_reply(struct rconn *);
/*
 * rconn_wait_reply - a message sent unasked (after SUBSCRIBE): NULL with
 * *timed_out when none came within wait_ms (the connection stays), NULL
 * without it when the connection failed. Not on a cluster.
 */
redisReply *rconn_wait_reply(struct rconn *, unsigned wait_ms, int *timed_out);
/*
 * rconn_serial - the connection's number: raised by every connect (the
 * first included), so a caller can tell that per-connection state it set
 * up (CLIENT TRACKING) went with a connection that was made again
 */
unsigned long rconn_serial(const struct rconn *);

#endif
