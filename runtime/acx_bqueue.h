/* acx_bqueue.h - the blocking queue (queue.Queue) for threads, with a bridge for coroutines (issue 5).
 *
 * Included by acx.h; see it for the conventions.
 */
#ifndef ACX_BQUEUE_H
#define ACX_BQUEUE_H

#endif
