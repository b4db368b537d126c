/*
 * multiplier.c - how many relays one message counts against the daily
 * quota (SPEC, "Outbound relay counting").
 *
 * One relay per recipient, times a multiplier that grows with the
 * message's size in steps of 10 MB (1 MB = 1,048,576 bytes):
 *
 *	size			multiplier
 *	0 .. 10 MB - 1		1
 *	10 MB .. 20 MB - 1	2
 *	20 MB .. 30 MB - 1	3
 *	30 MB .. 40 MB - 1	4
 *	40 MB .. 50 MB - 1	5
 *	exactly 50 MB		6
 *	over 50 MB		not relayed: 552 5.3.4
 *
 * The table stops at 50 MB whatever outbound.max_size says: a larger
 * max_size cannot make a larger message countable.
 *
 * Public functions: quota_multiplier, quota_relays, quota_reply_size.
 * Pure code: no I/O, no logging; the arithmetic cannot overflow.
 */
#include "config.h"

#include "multiplier.h"
#include "reply.h"

/* quota_multiplier - relays per recipient, 0 over 50 MB */
unsigned
quota_multiplier(uint64_t size)
{
	if (size > QUOTA_SIZE_MAX)
		return 0;
	if (size == QUOTA_SIZE_MAX)
		return 6;
	return (unsigned) (size / QUOTA_SIZE_STEP) + 1;
}

/* quota_relays - recipients x multiplier, bounded by QUOTA_COUNT_MAX */
int
quota_relays(uint64_t recipients, unsigned multiplier, uint64_t *relays)
{
	if (multiplier == 0 || recipients > QUOTA_COUNT_MAX / multiplier)
		return -1;
	*relays = recipients * multiplier;
	return 0;
}

/* quota_reply_size - the over-50 MB refusal */
void
quota_reply_size(struct reply *r)
{
	reply_set(r, "552", "5.3.4", "Message size exceeds fixed limit");
}
