/* acx_bqueue.h - the blocking queue (queue.Queue) for threads, with a bridge for coroutines (issue 5).
 *
 * Included by acx.h; see it for the conventions.
 *
 * Python's queue.Queue, LifoQueue and PriorityQueue for C threads: any
 * thread may call every function below (unless it says otherwise), and a
 * coroutine awaits a get, put or join through the _async calls without
 * blocking its loop.  Items are void pointers the queue does not own.  A
 * priority queue takes an int priority per item: the lowest comes out
 * first, in arrival order among equal priorities (the other kinds ignore
 * priorities).
 *
 * Waiters are served in arrival order, threads and coroutines in one FIFO
 * per side, and every transfer is completed by the side that makes it
 * possible: a put while getters wait hands its item to the oldest getter,
 * a get from a full queue moves the oldest waiting putter's item in.  A
 * waiter that wakes finds its operation done, so one put wakes exactly one
 * getter (no thundering herd) and nothing is retried.
 *
 * Timeouts are in milliseconds: < 0 waits without limit, 0 does not wait
 * (the _nowait calls), > 0 waits at most that long (CLOCK_MONOTONIC).
 *
 * A thread blocked here blocks its whole loop if it is a loop thread: in a
 * coroutine use the _async calls (or a timeout of 0).
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_BQUEUE_H
#define ACX_BQUEUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct acx_bqueue acx_bqueue;

enum { ACX_BQUEUE_FIFO, ACX_BQUEUE_LIFO, ACX_BQUEUE_PRIORITY };

/* queue.Queue(maxsize) / LifoQueue / PriorityQueue: a new empty queue of
 * KIND (ACX_BQUEUE_*) holding at most MAXSIZE items (0: no limit).  NULL
 * with errno EINVAL (bad KIND) or ENOMEM.  Any thread. */
acx_bqueue *acx_bqueue_new(int kind, size_t maxsize);

/* Free Q.  Items still in it go to the drop function, if one was set.  0
 * (NULL is ignored), or -EBUSY when a thread or coroutine still waits on Q
 * (nothing is freed).  Any thread, once no other thread can reach Q. */
int acx_bqueue_free(acx_bqueue *q);

/* Call DROP(ITEM, ARG) for every item Q discards: those still queued when
 * it is freed or shut down with IMMEDIATE.  DROP runs with Q's lock held:
 * it must not call Q.  Any thread, before Q is shared. */
void acx_bqueue_set_drop(acx_bqueue *q, void (*drop)(void *item, void *arg),
                         void *arg);

/* Queue.put(item, block, timeout): add ITEM, waiting in FIFO order while
 * Q is full, at most TIMEOUT_MS (< 0: no limit, 0: do not wait).  0;
 * -EAGAIN (queue.Full) when TIMEOUT_MS is 0 and Q is full; -ETIMEDOUT when
 * the wait ran out; -ESHUTDOWN when Q is shut down (also for a putter
 * waiting when that happens); -ENOMEM when an unbounded queue cannot
 * grow; -EINVAL.  On any error ITEM was not added.  Any thread. */
int acx_bqueue_put(acx_bqueue *q, void *item, int64_t timeout_ms);
int acx_bqueue_put_prio(acx_bqueue *q, void *item, int prio,
                        int64_t timeout_ms);

/* Queue.put_nowait: acx_bqueue_put with a timeout of 0. */
int acx_bqueue_put_nowait(acx_bqueue *q, void *item);
int acx_bqueue_put_prio_nowait(acx_bqueue *q, void *item, int prio);

/* Queue.get(block, timeout): take the next item into *ITEM (ITEM may be
 * NULL), waiting in FIFO order while Q is empty, at most TIMEOUT_MS.  0;
 * -EAGAIN (queue.Empty) when TIMEOUT_MS is 0 and Q is empty; -ETIMEDOUT;
 * -ESHUTDOWN when Q is shut down and empty (also for a getter waiting when
 * that happens: after a shutdown without IMMEDIATE, gets drain what is
 * left first); -EINVAL.  On any error nothing was taken.  Any thread. */
int acx_bqueue_get(acx_bqueue *q, void **item, int64_t timeout_ms);

/* Queue.get_nowait: acx_bqueue_get with a timeout of 0. */
int acx_bqueue_get_nowait(acx_bqueue *q, void **item);

/* Queue.task_done: one item taken from Q has been processed; when every
 * item put has been, every join returns.  0, or -EINVAL when called more
 * often than items were put (or Q is NULL).  Any thread. */
int acx_bqueue_task_done(acx_bqueue *q);

/* Queue.join: block until every item ever put has been marked done (0 at
 * once if none is pending), at most TIMEOUT_MS: -ETIMEDOUT when the time
 * ran out (at once for 0), -EINVAL.  A shutdown does not end a join (as in
 * Python) unless IMMEDIATE discards the last unfinished items.  Any
 * thread. */
int acx_bqueue_join(acx_bqueue *q, int64_t timeout_ms);

/* Queue.shutdown (Python 3.13): from now on puts return -ESHUTDOWN, and
 * gets do once Q is empty; every waiting putter and getter, thread or
 * coroutine, is woken with -ESHUTDOWN.  IMMEDIATE also discards the queued
 * items (to the drop function), counting each as done, which may end the
 * joins.  Calling it again is harmless (IMMEDIATE then still discards).
 * 0 or -EINVAL.  Any thread. */
int acx_bqueue_shutdown(acx_bqueue *q, int immediate);

/* How many wait now, threads and coroutines alike: in get (*GETTERS),
 * in put (*PUTTERS), in join (*JOINERS); any pointer may be NULL.
 * Returns 0 or -EINVAL.  A snapshot, for tests and dumps.  Any thread. */
int acx_bqueue_waiters(acx_bqueue *q, size_t *getters, size_t *putters,
                       size_t *joiners);

/* qsize, empty, full (never with MAXSIZE 0), maxsize, whether shut down.
 * Snapshots, as Python's: another thread may change them at once.  Any
 * thread. */
size_t acx_bqueue_qsize(acx_bqueue *q);
int acx_bqueue_empty(acx_bqueue *q);
int acx_bqueue_full(acx_bqueue *q);
size_t acx_bqueue_maxsize(const acx_bqueue *q);
int acx_bqueue_is_shutdown(acx_bqueue *q);

/* ---- the bridge: a coroutine waits without blocking its loop -------------
 *
 * The same operations as awaits, in the same FIFO as the threads.  They
 * follow the interrupt model: a cancel or an expired timeout scope while
 * waiting returns -ECANCELED / -ETIMEDOUT with nothing transferred, unless
 * the transfer happened first (then it is kept, 0 is returned, and the
 * interrupt comes at the next suspension: an item is never lost).  A
 * granter on another thread wakes the coroutine through its loop's inbox;
 * while it waits, the loop counts it as an outside wait (no stall report).
 * Loop thread, inside a task.
 */

/* await acx_bqueue_get_async(q, &item): as acx_bqueue_get without a time
 * limit (use a timeout scope or acx_wait_for for one).  0, -ESHUTDOWN,
 * -ECANCELED, -ETIMEDOUT, -EINVAL. */
ACX_ASYNC_DECL(int, acx_bqueue_get_async, (acx_bqueue * q, void **item));

/* await acx_bqueue_put_async(q, item): as acx_bqueue_put without a time
 * limit.  0, -ESHUTDOWN, -ECANCELED, -ETIMEDOUT, -ENOMEM, -EINVAL. */
ACX_ASYNC_DECL(int, acx_bqueue_put_async, (acx_bqueue * q, void *item));
ACX_ASYNC_DECL(int, acx_bqueue_put_prio_async,
               (acx_bqueue * q, void *item, int prio));

/* await acx_bqueue_join_async(q): as acx_bqueue_join without a time limit.
 * 0, -ECANCELED, -ETIMEDOUT, -EINVAL. */
ACX_ASYNC_DECL(int, acx_bqueue_join_async, (acx_bqueue * q));

#ifdef __cplusplus
}
#endif
#endif
