/* account.h - an outbound (SASL) account (see account.c) */
#ifndef MH_ACCOUNT_H
#define MH_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#define ACCOUNT_NAME_MAX	255	/* bytes of a SASL user name */
#define ACCOUNT_BLOCKS_MAX	1000000	/* blocks one account may buy */

struct account {
	char	name[ACCOUNT_NAME_MAX + 1];	/* as the SASL layer gives it: case kept */
	unsigned blocks;		/* relays per day = blocks x outbound.relays_per_block */
	int	enabled;		/* disabled: 554 5.7.1 no outbound service */
};

/* account_name_valid - printable ASCII, no space, no braces; 0 or -1 with err */
int	account_name_valid(const char *name, size_t len, char *err, size_t errlen);
/* account_parse_blocks - 0..ACCOUNT_BLOCKS_MAX */
int	account_parse_blocks(const char *text, unsigned *out, char *err, size_t errlen);
/* account_limit - relays allowed per UTC day */
static inline uint64_t
account_limit(const struct account *a, unsigned relays_per_block)
{
	return a->enabled ? (uint64_t) a->blocks * relays_per_block : 0;
}

#endif
