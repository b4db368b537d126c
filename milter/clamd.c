/* clamd.c - a direct client of clamd: being written (see clamd.h) */
#include "config.h"

#include <stdio.h>

#include "clamd.h"

int
clamd_parse(const char *buf, size_t len, struct clamd_result *res, char *err, size_t errlen)
{
	(void) buf;
	(void) len;
	(void) res;
	snprintf(err, errlen, "clamd: not implemented");
	return -1;
}

struct clamd *
clamd_open(const struct endpoint *ep, uint64_t timeout_ms, uint64_t max_bytes, char *err,
	   size_t errlen)
{
	(void) ep;
	(void) timeout_ms;
	(void) max_bytes;
	snprintf(err, errlen, "clamd: not implemented");
	return NULL;
}

int
clamd_write(struct clamd *c, const void *data, size_t len, char *err, size_t errlen)
{
	(void) c;
	(void) data;
	(void) len;
	snprintf(err, errlen, "clamd: not implemented");
	return -1;
}

int
clamd_finish(struct clamd *c, struct clamd_result *res, char *err, size_t errlen)
{
	(void) c;
	(void) res;
	snprintf(err, errlen, "clamd: not implemented");
	return -1;
}

void
clamd_abort(struct clamd *c)
{
	(void) c;
}
