/* cluster.h - Redis Cluster's slot routing: key slots, redirects, slot maps (see cluster.c) */
#ifndef MH_CLUSTER_H
#define MH_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "endpoint.h"

#define CLUSTER_SLOTS		16384	/* hash slots of a Redis Cluster */
#define CLUSTER_NODES_MAX	128	/* primaries one map holds */
#define CLUSTER_ERR_MAX		200	/* an error phrase */

/* cluster_keyslot - the slot of a key: CRC16 of its hash tag ({...}), or of the whole key */
unsigned cluster_keyslot(const char *key, size_t len);

/* cluster_command_key - the key a command is routed by; 0 with *key set, -1 for a keyless command */
int	cluster_command_key(int argc, const char *const *argv, const size_t *lens,
			    const char **key, size_t *keylen);

/*
 * cluster_resp_args - the first max arguments of one command in RESP (as
 * redisFormatCommand writes it): pointers into buf; the count found, or
 * -1 when buf is not one well-formed command
 */
int	cluster_resp_args(const char *buf, size_t len, const char **argv, size_t *lens, int max);

enum cluster_redirect {
	CLUSTER_REDIRECT_NONE,		/* not a redirect */
	CLUSTER_REDIRECT_MOVED,		/* the slot lives elsewhere now: refresh the map */
	CLUSTER_REDIRECT_ASK		/* this one command: ASKING, then the command, there */
};

/* cluster_redirect_parse - an error reply's text: "MOVED 3999 10.0.0.2:6379", "ASK 3999 [::1]:7000" */
enum cluster_redirect cluster_redirect_parse(const char *err, size_t len, unsigned *slot,
					     struct hostport *node);

struct cluster_map {
	struct hostport nodes[CLUSTER_NODES_MAX];	/* the primaries, in the order first seen */
	size_t	nnodes;
	uint8_t	slot_node[CLUSTER_SLOTS];	/* 1 + index into nodes; 0: no primary serves it */
};

/*
 * cluster_map_parse - a CLUSTER SLOTS reply into map; asked_host is the
 * address the reply came from (a node that does not know its own address
 * says ""). -1 with err on a malformed reply.
 */
int	cluster_map_parse(struct cluster_map *, const redisReply *, const char *asked_host,
			  char *err, size_t errlen);

/* cluster_seeds_format - "cluster host:port,host:port,..." (cut to fit): a client's address */
char   *cluster_seeds_format(char *buf, size_t len, const struct hostport *seeds, size_t n);

/* cluster_map_node - the primary serving slot, NULL when none does */
const struct hostport *cluster_map_node(const struct cluster_map *, unsigned slot);

#endif
