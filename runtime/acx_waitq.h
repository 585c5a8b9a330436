/* acx_waitq.h - the FIFO of parked tasks every primitive of acx_sync.h
 * keeps (internal to sync.c and aqueue.c).
 *
 * A node lives in the parked await's frame; the list is doubly linked so
 * that a cancel takes a node out of the middle in O(1).  A node is linked
 * exactly when it is the head or has a predecessor, which is what a
 * cancel method asks to learn whether the grant got there first.
 */
#ifndef ACX_WAITQ_H
#define ACX_WAITQ_H

#include "acx_internal.h"

/* (push, unlink, pop and wake are in acx_sync.h: the inline lock uses
 * them.) */
static inline int acx__waitq_linked(const acx__waitq *q, const acx__wnode *n)
{
    return n->prev != NULL || q->head == n;
}

/* The frame of type T whose member M is node N. */
#define ACX__WNODE_FRAME(n, T, m) ((T *)(void *)((char *)(n) - offsetof(T, m)))

/* Park the running task in leaf frame C, queued as node N on Q.  The
 * caller has checked acx__intr_check() and stored the result a grant
 * leaves in place (cancel overwrites it). */
static inline int acx__waitq_park(acx__waitq *q, acx__wnode *n, acx_coro *c)
{
    acx__waitq_push(q, n, acx__cur_task);
    ACX__STATE(c) = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

/* The info acx__info_FN of a sync leaf of frame TYPE (acx_internal.h). */
#define ACX__SYNC_LEAF_INFO(fn, type, body_fn, cancel_fn, describe_fn)     \
    ACX__LEAF_INFO_AS(, acx__info_##fn, type, #fn, body_fn, cancel_fn,     \
                      describe_fn)

#endif
