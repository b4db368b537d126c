/*
 * fuzz_cluster.c - libFuzzer target for common/cluster.c, which reads what
 * cluster nodes send: MOVED/ASK error texts and CLUSTER SLOTS replies, and
 * the RESP of our own commands.
 *
 * FUZZ_SOURCES: common/cluster.c common/endpoint.c common/log.c
 * FUZZ_LIBS: -lhiredis
 *
 * The input is taken four ways: as a redirect's text, as one RESP
 * command, as a key (its slot), and through hiredis's reader as a reply
 * for cluster_map_parse. Promises checked: a redirect has a slot below
 * 16384, a port 1..65535 and a host of at most ENDPOINT_HOST_MAX bytes
 * without space or NUL; the RESP arguments lie inside the input; a slot
 * is below 16384; a map names at most CLUSTER_NODES_MAX primaries, each
 * slot a valid one or none, each port 1..65535. A broken promise traps.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * arrays_plausible - every "*N" anywhere in the input claims no more
 * elements than the input has bytes. hiredis 0.14's reader allocates N
 * pointers as soon as it reads the header (hiredis 1.0 added a cap,
 * maxelements), so "*888888883" asks for 7 GB: a property of the library
 * with a server we trust, not of the code under test. Anywhere, not only
 * at the start of a line: the reader skips the two bytes after a bulk
 * string without looking at them, so a header can follow any two bytes;
 * and it takes a leading '+' on a count.
 */
static int
arrays_plausible(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		unsigned long long n = 0;
		size_t	j = i + 1;

		if (data[i] != '*')
			continue;
		if (j < size && data[j] == '+')
			j++;
		for (; j < size && data[j] >= '0' && data[j] <= '9'; j++)
			if ((n = n * 10 + (data[j] - '0')) > size)
				return 0;
	}
	return 1;
}

static struct cluster_map map;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	struct hostport hp;
	unsigned slot;
	const char *argv[8], *key;
	size_t	lens[8], keylen;
	char	err[CLUSTER_ERR_MAX];
	int	n;

	memset(&hp, 0, sizeof(hp));
	if (cluster_redirect_parse(in, size, &slot, &hp) != CLUSTER_REDIRECT_NONE) {
		size_t	hl = strnlen(hp.host, sizeof(hp.host));

		if (slot >= CLUSTER_SLOTS || hp.port < 1 || hp.port > 65535
		    || hl > ENDPOINT_HOST_MAX || memchr(hp.host, ' ', hl))
			__builtin_trap();
	}

	n = cluster_resp_args(in, size, argv, lens, 8);
	if (n > 8)
		__builtin_trap();
	for (int i = 0; i < n; i++)
		if (argv[i] < in || argv[i] + lens[i] > in + size)
			__builtin_trap();
	if (n > 0 && cluster_command_key(n, argv, lens, &key, &keylen) == 0
	    && (key < in || key + keylen > in + size || cluster_keyslot(key, keylen) >= CLUSTER_SLOTS))
		__builtin_trap();
	if (cluster_keyslot(in, size) >= CLUSTER_SLOTS)
		__builtin_trap();

	if (arrays_plausible(data, size)) {
		redisReader *rd = redisReaderCreate();
		void   *reply = NULL;

		if (rd == NULL)
			return 0;
		if (redisReaderFeed(rd, in, size) == REDIS_OK
		    && redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL) {
			if (cluster_map_parse(&map, reply, "seed.example", err, sizeof(err)) == 0) {
				if (map.nnodes > CLUSTER_NODES_MAX)
					__builtin_trap();
				for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
					const struct hostport *p = cluster_map_node(&map, s);

					if (map.slot_node[s] > map.nnodes
					    || (p && (p->port < 1 || p->port > 65535)))
						__builtin_trap();
				}
			} else if (strncmp(err, "CLUSTER SLOTS: ", 15) != 0) {
				__builtin_trap();
			}
			freeReplyObject(reply);
		}
		redisReaderFree(rd);
	}
	return 0;
}
