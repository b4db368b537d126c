/* commitq.h - END-OF-MESSAGE counts grouped into COMMIT batches (see commitq.c) */
#ifndef MH_COMMITQ_H
#define MH_COMMITQ_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "quota.h"

struct policyd;
struct commitq;

/* how a message's COMMIT ended */
enum commitq_outcome {
	COMMITQ_DONE,			/* Redis answered for it: res */
	COMMITQ_FAILED,			/* an error for it (err): nothing counted */
	COMMITQ_UNSENT,			/* Redis unavailable: never sent, nothing counted */
	COMMITQ_LOST			/* sent, no reply (timeout, connection lost): may have counted */
};

struct commitq_item;
typedef void commitq_cb(struct commitq_item *, enum commitq_outcome,
			const struct quota_result *res, const char *err);

/*
 * One message to count, kept in place by its owner (an outbound job)
 * from commitq_add until its callback, which is called exactly once,
 * never from inside commitq_add, and may free the item.
 */
struct commitq_item {
	struct commitq_item *next;	/* commitq's */
	commitq_cb *done;
	const char *user;		/* both valid until the callback */
	const char *queue_id;
	uint64_t limit;
	uint64_t relays;
};

/*
 * commitq_add - count item (user, queue_id, limit, relays and done set):
 * sent with the others that come in the same turn of the event loop, or
 * with the next batch while batches are in flight. -1 with err when
 * quota_commit_valid refuses it (no callback then).
 */
int	commitq_add(struct policyd *, struct commitq_item *, char *err, size_t errlen);
/* commitq_end - at exit, after aredis_free (nothing in flight or waiting then): free */
void	commitq_end(struct policyd *);

#endif
