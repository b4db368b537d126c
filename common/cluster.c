/*
 * cluster.c - the pure parts of Redis Cluster's slot routing.
 *
 * A cluster splits the keyspace into 16384 hash slots; a key's slot is
 * CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key modulo
 * 16384, or of its hash tag: the bytes between the first '{' and the
 * first '}' after it, when there is at least one byte between them. Every
 * key of one domain or account carries the same tag (keys.h), so each of
 * their commands and scripts goes to one primary.
 *
 * A client keeps a map of which primary serves each slot (from CLUSTER
 * SLOTS) and sends each command to the primary of its key. A primary that
 * no longer serves the slot answers "-MOVED slot host:port" (the map is
 * stale: read it again) or, while the slot migrates, "-ASK slot host:port"
 * (send ASKING and then this one command there; the map stays).
 *
 * Nothing here does I/O: rconn.c and aredis.c do, with these.
 *
 * Public functions: cluster_keyslot, cluster_command_key,
 * cluster_resp_args, cluster_redirect_parse, cluster_map_parse,
 * cluster_map_node, cluster_seeds_format.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster.h"

/* cluster_crc16 - CRC16/XMODEM of buf */
static unsigned
cluster_crc16(const unsigned char *buf, size_t len)
{
	unsigned crc = 0;

	while (len-- > 0) {
		crc ^= (unsigned) *buf++ << 8;
		for (int i = 0; i < 8; i++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc;
}

/* cluster_keyslot - the slot of a key: CRC16 of its hash tag ({...}), or of the whole key */
unsigned
cluster_keyslot(const char *key, size_t len)
{
	const char *open, *close;

	if ((open = memchr(key, '{', len)) != NULL) {
		size_t	rest = len - (size_t) (open - key) - 1;

		close = memchr(open + 1, '}', rest);
		if (close != NULL && close > open + 1)
			return cluster_crc16((const unsigned char *) open + 1,
					     (size_t) (close - open - 1)) & (CLUSTER_SLOTS - 1);
	}
	return cluster_crc16((const unsigned char *) key, len) & (CLUSTER_SLOTS - 1);
}

/* cluster_is - argv word w (length n) is name, in any case */
static int
cluster_is(const char *w, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(w, name, n) == 0;
}

/*
 * cluster_command_key - the key a command is routed by. The commands
 * mhkit sends name their key first (GET, HGETALL, SISMEMBER, SET, ...),
 * except the scripts (EVAL, EVALSHA, FCALL and their _RO forms: the key
 * after numkeys), SCAN with a MATCH pattern whose hash tag is fixed
 * ("mh:{example.com}:ca:*": every key it can match lives in that tag's
 * slot, so the scan runs on that primary), and those without a key,
 * which any primary may take.
 */
int
cluster_command_key(int argc, const char *const *argv, const size_t *lens,
		    const char **key, size_t *keylen)
{
	static const char *const keyless[] = {
		"PING", "TIME", "SCRIPT", "FUNCTION", "INFO", "CLIENT", "ROLE", "AUTH", "SELECT",
		"HELLO", "CLUSTER", "ASKING", "READONLY", "MULTI", "EXEC", "DISCARD", "SUBSCRIBE",
		"ECHO", "DBSIZE", "CONFIG", "COMMAND", "SCAN", "FLUSHALL", "FLUSHDB", "KEYS",
	};
	size_t	n0;

	if (argc < 1)
		return -1;
	n0 = lens ? lens[0] : strlen(argv[0]);
	if (cluster_is(argv[0], n0, "SCAN")) {	/* SCAN c MATCH pattern: the pattern's tag, if fixed */
		for (int i = 2; i + 1 < argc; i += 2) {
			size_t	ml = lens ? lens[i] : strlen(argv[i]);
			size_t	pl = lens ? lens[i + 1] : strlen(argv[i + 1]);
			const char *p = argv[i + 1], *open, *close;

			if (!cluster_is(argv[i], ml, "MATCH"))
				continue;
			if ((open = memchr(p, '{', pl)) == NULL
			    || (close = memchr(open + 1, '}', pl - (size_t) (open - p) - 1)) == NULL
			    || close == open + 1)
				return -1;
			for (const char *t = p; t < close; t++)
				if (*t == '*' || *t == '?' || *t == '[' || *t == '\\')
					return -1;	/* a glob before the tag ends: any slot */
			*key = p;
			*keylen = pl;
			return 0;
		}
		return -1;
	}
	for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
		if (cluster_is(argv[0], n0, keyless[i]))
			return -1;
	if (cluster_is(argv[0], n0, "EVAL") || cluster_is(argv[0], n0, "EVALSHA")
	    || cluster_is(argv[0], n0, "EVAL_RO") || cluster_is(argv[0], n0, "EVALSHA_RO")
	    || cluster_is(argv[0], n0, "FCALL") || cluster_is(argv[0], n0, "FCALL_RO")) {
		char	num[24];
		size_t	nlen;

		if (argc < 4)
			return -1;
		nlen = lens ? lens[2] : strlen(argv[2]);
		if (nlen == 0 || nlen >= sizeof(num))
			return -1;
		memcpy(num, argv[2], nlen);
		num[nlen] = 0;
		if (strspn(num, "0123456789") != nlen || strtoul(num, NULL, 10) == 0)
			return -1;
		*key = argv[3];
		*keylen = lens ? lens[3] : strlen(argv[3]);
		return 0;
	}
	if (argc < 2)
		return -1;
	*key = argv[1];
	*keylen = lens ? lens[1] : strlen(argv[1]);
	return 0;
}

/* cluster_resp_num - "<c>digits\r\n" at *p (before end): the number, -1 when malformed */
static long long
cluster_resp_num(const char **p, const char *end, char c)
{
	long long v = 0;
	const char *q = *p;

	if (q >= end || *q++ != c || q >= end || *q < '0' || *q > '9')
		return -1;
	while (q < end && *q >= '0' && *q <= '9') {
		if (v > 100000000000LL)
			return -1;
		v = v * 10 + (*q++ - '0');
	}
	if (end - q < 2 || q[0] != '\r' || q[1] != '\n')
		return -1;
	*p = q + 2;
	return v;
}

/*
 * cluster_resp_args - the first max arguments of one RESP command
 * ("*N\r\n" then N times "$L\r\n" L bytes "\r\n"); the whole buffer
 * must be that one command
 */
int
cluster_resp_args(const char *buf, size_t len, const char **argv, size_t *lens, int max)
{
	const char *p = buf, *end = buf + len;
	long long n, l;
	int	got = 0;

	if ((n = cluster_resp_num(&p, end, '*')) < 1)
		return -1;
	for (long long i = 0; i < n; i++) {
		if ((l = cluster_resp_num(&p, end, '$')) < 0 || end - p < l + 2
		    || p[l] != '\r' || p[l + 1] != '\n')
			return -1;
		if (got < max) {
			argv[got] = p;
			lens[got++] = (size_t) l;
		}
		p += l + 2;
	}
	return p == end ? got : -1;
}

/*
 * cluster_endpoint - "host:port", "[v6]:port" or "v6:port" (Redis writes
 * IPv6 without brackets: the port follows the last ':'); host may be ""
 */
static int
cluster_endpoint(const char *p, size_t len, struct hostport *out)
{
	const char *colon = NULL;
	size_t	hlen;
	unsigned long port = 0;

	for (size_t i = 0; i < len; i++)
		if (p[i] == ':')
			colon = p + i;
	if (colon == NULL || colon + 1 == p + len || (size_t) (p + len - colon - 1) > 5)
		return -1;
	for (const char *d = colon + 1; d < p + len; d++) {
		if (*d < '0' || *d > '9')
			return -1;
		port = port * 10 + (unsigned long) (*d - '0');
	}
	if (port == 0 || port > 65535)
		return -1;
	hlen = (size_t) (colon - p);
	if (hlen >= 2 && p[0] == '[' && p[hlen - 1] == ']') {
		p++;
		hlen -= 2;
	}
	if (hlen > ENDPOINT_HOST_MAX || memchr(p, 0, hlen) || memchr(p, ' ', hlen))
		return -1;
	memcpy(out->host, p, hlen);
	out->host[hlen] = 0;
	out->port = (unsigned) port;
	return 0;
}

/*
 * cluster_redirect_parse - an error reply's text: "MOVED 3999 10.0.0.2:6379"
 * or "ASK 3999 [::1]:7000". An empty host (a node that does not know its
 * address) comes back as "": the caller uses the address it asked.
 */
enum cluster_redirect
cluster_redirect_parse(const char *err, size_t len, unsigned *slot, struct hostport *node)
{
	enum cluster_redirect kind;
	const char *p, *end = err + len, *sp;
	unsigned long s = 0;

	if (len > 6 && memcmp(err, "MOVED ", 6) == 0) {
		kind = CLUSTER_REDIRECT_MOVED;
		p = err + 6;
	} else if (len > 4 && memcmp(err, "ASK ", 4) == 0) {
		kind = CLUSTER_REDIRECT_ASK;
		p = err + 4;
	} else {
		return CLUSTER_REDIRECT_NONE;
	}
	if ((sp = memchr(p, ' ', (size_t) (end - p))) == NULL || sp == p || sp - p > 5)
		return CLUSTER_REDIRECT_NONE;
	for (; p < sp; p++) {
		if (*p < '0' || *p > '9')
			return CLUSTER_REDIRECT_NONE;
		s = s * 10 + (unsigned long) (*p - '0');
	}
	if (s >= CLUSTER_SLOTS || cluster_endpoint(sp + 1, (size_t) (end - sp - 1), node) < 0)
		return CLUSTER_REDIRECT_NONE;
	*slot = (unsigned) s;
	return kind;
}

/* cluster_map_add - index of node in map (added when new), -1 when the map is full */
static int
cluster_map_add(struct cluster_map *map, const struct hostport *node)
{
	for (size_t i = 0; i < map->nnodes; i++)
		if (hostport_same(&map->nodes[i], node))
			return (int) i;
	if (map->nnodes == CLUSTER_NODES_MAX)
		return -1;
	map->nodes[map->nnodes] = *node;
	return (int) map->nnodes++;
}

/*
 * cluster_map_parse - a CLUSTER SLOTS reply: an array of ranges, each
 * [start, end, [host, port, id, ...], replica, ...]. Only the primary is
 * kept. A host "?" (its endpoint unknown) leaves its slots unserved; a
 * host "" is asked_host.
 */
int
cluster_map_parse(struct cluster_map *map, const redisReply *r, const char *asked_host,
		  char *err, size_t errlen)
{
	memset(map, 0, sizeof(*map));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "CLUSTER SLOTS: not an array");
		return -1;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i], *pri;
		struct hostport node;
		long long start, end;
		int	idx;

		if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 3
		    || e->element[0]->type != REDIS_REPLY_INTEGER
		    || e->element[1]->type != REDIS_REPLY_INTEGER
		    || (pri = e->element[2])->type != REDIS_REPLY_ARRAY || pri->elements < 2
		    || pri->element[0]->type != REDIS_REPLY_STRING
		    || pri->element[1]->type != REDIS_REPLY_INTEGER) {
			snprintf(err, errlen, "CLUSTER SLOTS: range %zu is malformed", i + 1);
			return -1;
		}
		start = e->element[0]->integer;
		end = e->element[1]->integer;
		if (start < 0 || end < start || end >= CLUSTER_SLOTS) {
			snprintf(err, errlen, "CLUSTER SLOTS: range %lld-%lld is out of bounds", start, end);
			return -1;
		}
		if (pri->element[1]->integer < 1 || pri->element[1]->integer > 65535
		    || pri->element[0]->len > ENDPOINT_HOST_MAX
		    || memchr(pri->element[0]->str, 0, pri->element[0]->len)) {
			snprintf(err, errlen, "CLUSTER SLOTS: range %lld-%lld: bad primary address", start, end);
			return -1;
		}
		if (pri->element[0]->len == 1 && pri->element[0]->str[0] == '?')
			continue;		/* endpoint unknown: unserved */
		snprintf(node.host, sizeof(node.host), "%s",
			 pri->element[0]->len ? pri->element[0]->str : asked_host);
		node.port = (unsigned) pri->element[1]->integer;
		if ((idx = cluster_map_add(map, &node)) < 0) {
			snprintf(err, errlen, "CLUSTER SLOTS: more than %d primaries", CLUSTER_NODES_MAX);
			return -1;
		}
		memset(map->slot_node + start, idx + 1, (size_t) (end - start + 1));
	}
	return 0;
}

/* cluster_map_node - the primary serving slot, NULL when none does */
const struct hostport *
cluster_map_node(const struct cluster_map *map, unsigned slot)
{
	if (slot >= CLUSTER_SLOTS || map->slot_node[slot] == 0)
		return NULL;
	return &map->nodes[map->slot_node[slot] - 1];
}

/* cluster_seeds_format - "cluster host:port,host:port,..." (cut to fit): a client's address */
char   *
cluster_seeds_format(char *buf, size_t len, const struct hostport *seeds, size_t n)
{
	char	hp[ENDPOINT_FORMAT_MAX];
	int	w = snprintf(buf, len, "cluster ");
	size_t	used = w < 0 ? len : (size_t) w;

	for (size_t i = 0; i < n && used < len; i++) {
		hostport_format(&seeds[i], hp, sizeof(hp));	/* fits: ENDPOINT_FORMAT_MAX */
		w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", hp);
		used += w < 0 ? len : (size_t) w;
	}
	return buf;
}
