/* clamd.h - a direct client of ClamAV's clamd, INSTREAM (see clamd.c) */
#ifndef MH_CLAMD_H
#define MH_CLAMD_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define CLAMD_NAME_MAX		255	/* bytes of a signature name kept */
#define CLAMD_CHUNK_MAX		65536	/* data bytes in one INSTREAM chunk */
#define CLAMD_REPLY_MAX		4096	/* bytes of a reply, its terminator included */

struct clamd_result {
	int	found;			/* a signature matched */
	char	name[CLAMD_NAME_MAX + 1];	/* its name, printable */
	int	truncated;		/* only the first max_bytes were scanned */
};

/* clamd_parse - a whole INSTREAM reply ("stream: OK", "stream: NAME FOUND", "... ERROR") */
int	clamd_parse(const char *buf, size_t len, struct clamd_result *res,
		    char *err, size_t errlen);

struct clamd;				/* a scan in progress */

/*
 * clamd_open - connect to ep and start INSTREAM; each later step waits at
 * most timeout_ms. Data past max_bytes is not sent (the result says
 * truncated). NULL with err.
 */
struct clamd *clamd_open(const struct endpoint *ep, uint64_t timeout_ms, uint64_t max_bytes,
			 char *err, size_t errlen);
/* clamd_write - stream len bytes (any size; sent in chunks); -1 with err */
int	clamd_write(struct clamd *, const void *data, size_t len, char *err, size_t errlen);
/* clamd_finish - end the stream, read and parse the verdict, close and free; -1 with err */
int	clamd_finish(struct clamd *, struct clamd_result *res, char *err, size_t errlen);
/* clamd_abort - close and free without a verdict */
void	clamd_abort(struct clamd *);

#endif
