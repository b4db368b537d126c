/*
 * account.c - an outbound account: the SASL user name customers log in
 * with, the relay blocks they bought, and whether the service is on.
 *
 * User names are kept exactly as the SASL layer reports them (Cyrus and
 * Dovecot both compare them case-sensitively), so no case folding here.
 * They must be printable ASCII without space (what Postfix logs as
 * sasl_username) and without '{' or '}', which would break the Redis
 * hash tag {acct:NAME}.
 *
 * Public functions: account_name_valid, account_parse_blocks.
 * Pure code: no I/O; errors are one phrase in err.
 */
#include "config.h"

#include <stdio.h>

#include "account.h"
#include "units.h"

/* account_name_valid - whether a SASL user name can be an account */
int
account_name_valid(const char *name, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		snprintf(err, errlen, "empty account name");
		return -1;
	}
	if (len > ACCOUNT_NAME_MAX) {
		snprintf(err, errlen, "account name longer than %d bytes", ACCOUNT_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) name[i];

		if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}') {
			snprintf(err, errlen, "account name has a %s at byte %zu",
				 c == ' ' ? "space" : c == '{' || c == '}' ? "brace" :
				 "control or 8-bit character", i + 1);
			return -1;
		}
	}
	return 0;
}

/* account_parse_blocks - number of 150-relay blocks */
int
account_parse_blocks(const char *text, unsigned *out, char *err, size_t errlen)
{
	uint64_t v;

	if (units_parse_uint(text, 0, ACCOUNT_BLOCKS_MAX, &v, err, errlen) < 0)
		return -1;
	*out = (unsigned) v;
	return 0;
}
