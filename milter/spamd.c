/* spamd.c - a direct client of spamd: being written (see spamd.h) */
#include "config.h"

#include <stdio.h>

#include "spamd.h"

int
spamd_parse(const char *buf, size_t len, struct spamd_result *res, char *err, size_t errlen)
{
	(void) buf;
	(void) len;
	(void) res;
	snprintf(err, errlen, "spamd: not implemented");
	return -1;
}

int
spamd_check(const struct endpoint *ep, const char *msg, size_t len, uint64_t timeout_ms,
	    struct spamd_result *res, char *err, size_t errlen)
{
	(void) ep;
	(void) msg;
	(void) len;
	(void) timeout_ms;
	(void) res;
	snprintf(err, errlen, "spamd: not implemented");
	return -1;
}
