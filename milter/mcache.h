/* mcache.h - mhmilter's local copies of the recipient lookups (see mcache.c) */
#ifndef MH_MCACHE_H
#define MH_MCACHE_H

#include "store.h"

struct conf;
struct address;
struct senderlist_hits;

#define MCACHE_MAX_AGE_MS	60000	/* a copy is read again at least this often */

/*
 * What a lookup connection has set up for the cache: the connection
 * (rconn_serial) and the tracker's subscription (its generation) its
 * CLIENT TRACKING went with. Zeroed with the connection.
 */
struct mcache_conn {
	unsigned long serial;
	unsigned long tgen;
};

/*
 * mcache_start - milter.cache_size bytes of copies and the tracker thread
 * (nothing on a Redis Cluster or with size 0: every lookup goes to Redis)
 */
void	mcache_start(const struct conf *);
/*
 * mcache_reload - SIGHUP, once the new settings are in force: every copy
 * is forgotten (they hold the old defaults); with new_redis the tracker
 * starts again on the new redis.*. A new milter.cache_size waits for a
 * restart; a cache refused by Redis is tried again.
 */
void	mcache_reload(int new_redis);
void	mcache_stop(void);

/*
 * mcache_rcpt_get - store_rcpt_get through the local copies: with every
 * answer copied, no Redis round trip; otherwise the one pipeline of
 * store_rcpt_get over st's connection (tc: its tracking state), whose
 * answers are kept.
 */
enum store_result mcache_rcpt_get(struct store *st, struct mcache_conn *tc, const char *domain,
				  const char *local, const struct address *sender,
				  const char *client_ip, struct domain *d,
				  enum store_result *user, struct senderlist_hits *hits);

/* mcache_counts - hits (answered with no round trip) and misses so far */
void	mcache_counts(unsigned long *hits, unsigned long *misses);

#endif
