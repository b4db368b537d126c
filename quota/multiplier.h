/* multiplier.h - how many relays a message counts (see multiplier.c) */
#ifndef MH_MULTIPLIER_H
#define MH_MULTIPLIER_H

#include <stdint.h>

struct reply;

#define QUOTA_MB		UINT64_C(1048576)	/* 1 MB, as SPEC counts it */
#define QUOTA_SIZE_STEP		(10 * QUOTA_MB)	/* each 10 MB adds one to the multiplier */
#define QUOTA_SIZE_MAX		(50 * QUOTA_MB)	/* largest message that may be relayed (x6) */

/*
 * The largest relay count, limit or counter value the quota scripts take:
 * Lua numbers are doubles, and every sum of two such values (used +
 * relays) stays below 2^53, where doubles are exact integers.
 */
#define QUOTA_COUNT_MAX		((UINT64_C(1) << 52) - 1)

/*
 * quota_multiplier - relays per recipient for a message of size bytes:
 * under 10 MB 1, 10 MB to under 20 MB 2, ... 40 MB to under 50 MB 5,
 * exactly 50 MB 6; 0 when it is over 50 MB, which may not be relayed at
 * all (reply with quota_reply_size).
 */
unsigned quota_multiplier(uint64_t size);

/*
 * quota_relays - recipients x multiplier into *relays; -1 when the
 * multiplier is 0 (too big) or the product passes QUOTA_COUNT_MAX.
 */
int	quota_relays(uint64_t recipients, unsigned multiplier, uint64_t *relays);

/* quota_reply_size - "552 5.3.4 Message size exceeds fixed limit" */
void	quota_reply_size(struct reply *);

#endif
